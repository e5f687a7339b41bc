import type { DocumentedEventType } from '../../gateway/apidocs/event-types.js';

/**
 * A config with every feature the API documents describe: each verify-signature preset, jwt-auth
 * (header, query and cookie), key-auth (header and query), ip-filter, rate-limit, a prefix route,
 * header versioning with a deprecated version, host matching, respond / proxy / deliver / publish
 * actions, and a websocket route. Upstreams point at a closed loopback port: nothing is called.
 */
export const FULL_CONFIG_YAML = `
admin: { host: 127.0.0.1, port: 0, token: "full-config-admin-token" }
upstreams:
  app: { targets: [ { url: "http://127.0.0.1:9" } ] }
plugins:
  - request-id: {}
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: { ok: true } }
  - name: prefix
    path: /files/*
    methods: [GET, PUT]
    upstream: app
  - name: orders-v1
    path: /orders
    methods: [POST]
    headers: { x-webhook-version: "1" }
    deprecated: { sunset: "2027-06-30", link: "https://docs.example/orders-v2" }
    upstream: app
  - name: orders-v2
    path: /orders
    methods: [POST]
    headers: { x-webhook-version: "2" }
    upstream: app
  - name: legacy
    path: /legacy
    methods: [POST]
    deprecated: { sunset: "2027-01-31" }
    upstream: app
  - name: tenant-host
    path: /by-host
    host: partner.example
    methods: [POST]
    upstream: app
  - name: sw
    path: /in/standard-webhooks
    methods: [POST]
    plugins: [ { verify-signature: { preset: standard-webhooks, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] } } ]
    deliver: { upstream: app }
  - name: svix
    path: /in/svix
    methods: [POST]
    plugins: [ { verify-signature: { preset: svix, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] } } ]
    upstream: app
  - name: stripe
    path: /in/stripe
    methods: [POST]
    plugins: [ { verify-signature: { preset: stripe, secrets: ["whsec_test_stripe_secret"] } } ]
    upstream: app
  - name: github
    path: /in/github
    methods: [POST]
    plugins: [ { verify-signature: { preset: github, secrets: ["github-secret"] } }, { rate-limit: { by: ip, points: 10, durationSec: 1, onStoreError: deny } } ]
    upstream: app
  - name: shopify
    path: /in/shopify
    methods: [POST]
    plugins: [ { verify-signature: { preset: shopify, secrets: ["shopify-secret"] } } ]
    upstream: app
  - name: slack
    path: /in/slack
    methods: [POST]
    plugins: [ { verify-signature: { preset: slack, secrets: ["slack-secret"] } } ]
    upstream: app
  - name: twilio
    path: /in/twilio
    methods: [POST]
    publicUrl: https://hooks.example/in/twilio
    plugins: [ { verify-signature: { preset: twilio, secrets: ["twilio-token"] } } ]
    upstream: app
  - name: partner
    path: /in/partner
    methods: [POST]
    plugins:
      - verify-signature: { preset: hmac, secrets: ["partner-secret"], header: x-partner-signature, algorithm: sha512, encoding: base64, prefix: "sha512=", template: "{timestamp}.{body}", timestampHeader: x-partner-timestamp, idHeader: x-partner-delivery }
    upstream: app
  - name: api-jwt
    path: /api/jwt
    methods: [GET, POST]
    plugins:
      - ip-filter: { allow: ["127.0.0.0/8"] }
      - jwt-auth: { algorithms: [HS256], secrets: ["jwt-secret-0123456789"], issuer: https://issuer.example, audience: hookgate, queryParam: access_token, cookie: session }
    upstream: app
  - name: api-jwt-header
    path: /api/jwt-header
    methods: [GET]
    plugins: [ { jwt-auth: { algorithms: [HS256], secrets: ["jwt-secret-0123456789"], header: x-token } } ]
    upstream: app
  - name: api-key
    path: /api/key
    methods: [POST]
    plugins: [ { key-auth: { keys: [ { key: "k-123", consumer: c } ], queryParam: apikey } } ]
    upstream: app
  - name: signed-and-keyed
    path: /in/both
    methods: [POST]
    plugins: [ { key-auth: { keys: [ { key: "k-123", consumer: c } ], header: x-api-key } }, { verify-signature: { preset: github, secrets: ["github-secret"] } } ]
    upstream: app
  - name: ws
    path: /ws
    websocket: true
    upstream: app
  - name: events
    path: /events
    methods: [POST]
    plugins: [ { key-auth: { keys: [ { key: "publisher-key", consumer: publisher } ] } } ]
    publish: {}
egress:
  endpoints:
    - { id: cfg-ep, url: "https://hooks.example/cfg", events: ["invoice.*"] }
`;

/** Catalogue event types with every feature: versions side by side, internal $refs, a deprecation, examples, a type without schema. */
export const FULL_EVENT_TYPES: DocumentedEventType[] = [
  {
    name: 'invoice.paid',
    version: 1,
    description: 'An invoice was paid.',
    schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', required: ['id', 'amount'], properties: { id: { type: 'string' }, amount: { type: 'integer' } } },
    deprecated: { sunset: '2027-06-30' },
    examples: [{ id: 'in_1', amount: 4200 }],
  },
  {
    name: 'invoice.paid',
    version: 2,
    schema: {
      type: 'object',
      required: ['id', 'amount'],
      properties: { id: { type: 'string' }, amount: { $ref: '#/$defs/money' }, lines: { type: 'array', items: { $ref: '#/$defs/money' } } },
      $defs: { money: { type: 'object', required: ['value', 'currency'], properties: { value: { type: 'integer' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } } } },
    },
    examples: [{ id: 'in_1', amount: { value: 4200, currency: 'EUR' } }],
  },
  { name: 'customer.created', version: 1, description: 'A customer signed up.' },
];
