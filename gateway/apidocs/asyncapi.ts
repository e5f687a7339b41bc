import type { Snapshot } from '../compile.js';
import { embedSchema, envelopeSchema, eventKey, WEBHOOK_HEADERS, type DocumentedEventType } from './event-types.js';

type Json = Record<string, unknown>;

/**
 * The event catalogue as one AsyncAPI 3.0 document: a channel per event type and version (its
 * address is the type name), one `send` operation each (hookgate sends them to the endpoints
 * subscribed to the type), and messages whose headers are the Standard Webhooks ones and whose
 * payload is the envelope `{type, timestamp, data}` with the type's schema as `data`.
 */
export function buildAsyncApi(input: { snapshot: Snapshot; eventTypes: DocumentedEventType[]; version: string }): Json {
  const { snapshot, eventTypes, version } = input;
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  const schemas: Json = {};
  for (const t of eventTypes) {
    const key = eventKey(t);
    if (t.schema) schemas[key] = embedSchema(t.schema, `#/components/schemas/${key}`);
    const data = t.schema ? { $ref: `#/components/schemas/${key}` } : { description: 'Any JSON value (the type has no schema).' };
    const deprecation = t.deprecated ? ` Deprecated${t.deprecated.sunset ? `; sunset ${t.deprecated.sunset}` : ''}.` : '';
    messages[key] = {
      name: t.name,
      title: `${t.name} v${t.version}`,
      ...(t.description ? { summary: t.description } : {}),
      description: `A POST with a JSON body, signed per Standard Webhooks.${deprecation}`,
      contentType: 'application/json',
      headers: {
        type: 'object',
        required: WEBHOOK_HEADERS.map((h) => h.name),
        properties: Object.fromEntries(WEBHOOK_HEADERS.map((h) => [h.name, { ...h.schema, description: h.description }])),
      },
      payload: envelopeSchema(t, data),
      ...(t.examples?.length ? { examples: t.examples.map((e, i) => ({ name: `example${i + 1}`, payload: { type: t.name, timestamp: '2026-01-01T00:00:00.000Z', data: e } })) } : {}),
      bindings: { http: { bindingVersion: '0.3.0' } },
      ...(t.deprecated ? { 'x-deprecated': true, 'x-sunset': t.deprecated.sunset ?? null } : {}),
    };
    channels[key] = {
      address: t.name,
      title: `${t.name} v${t.version}`,
      description: `Deliveries of ${t.name} (version ${t.version}) to each endpoint subscribed to it (\`events\` patterns such as \`${t.name.split('.')[0]}.*\`).${deprecation}`,
      messages: { [key]: { $ref: `#/components/messages/${key}` } },
    };
    operations[`send.${key}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${key}` },
      summary: `hookgate sends ${t.name} v${t.version} to subscribers`,
      messages: [{ $ref: `#/channels/${key}/messages/${key}` }],
      bindings: { http: { method: 'POST', bindingVersion: '0.3.0' } },
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'hookgate events',
      version,
      description: `The event catalogue of the running config (generation ${snapshot.id}): what hookgate delivers to subscribed endpoints. Receivers verify \`webhook-signature\` with any Standard Webhooks library and deduplicate on \`webhook-id\`.`,
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { schemas, messages },
  };
}
