import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { locateJsonError } from '../../plugins/validate-body/json-error.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type TestUpstream } from '../support/http.js';
import { compileText } from '../support/snapshot.js';
import { ConfigError } from '../../gateway/errors.js';

const ORDER_SCHEMA = `{ type: object, required: [id, amount], properties: { id: { type: string }, amount: { type: integer, minimum: 1 } } }`;

const OPENAPI = `openapi: 3.1.0
info: { title: partner, version: "1" }
paths:
  /orders:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Order" }
  /orders/{id}/refunds:
    post:
      requestBody: { $ref: "#/components/requestBodies/Refund" }
  /ping:
    post: {}
components:
  schemas:
    Order:
      type: object
      required: [id, lines]
      properties:
        id: { type: string }
        lines: { type: array, items: { $ref: "#/components/schemas/Line" } }
    Line:
      type: object
      required: [sku]
      properties: { sku: { type: string }, qty: { type: integer } }
  requestBodies:
    Refund:
      content:
        application/json:
          schema: { type: object, required: [amount], properties: { amount: { type: integer } } }
`;

let up: TestUpstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startGateway(
    `
upstreams:
  app: { targets: [ { url: "${up.url}" } ] }
plugins:
  - request-id: {}
routes:
  - name: inline
    path: /inline
    plugins: [ { validate-body: { schema: ${ORDER_SCHEMA} } } ]
    upstream: app
  - name: strict400
    path: /strict400
    plugins: [ { validate-body: { schemaFile: ./order.schema.yaml, onFail: 400, contentTypes: [application/json, application/vnd.partner+json] } } ]
    upstream: app
  - name: partner
    path: /partner/*
    stripPrefix: true
    plugins: [ { validate-body: { openapi: ./specs/partner.yaml } } ]
    upstream: app
`,
    { files: { 'order.schema.yaml': `type: object\nrequired: [id]\nproperties: { id: { type: string } }\n`, 'specs/partner.yaml': OPENAPI } },
  );
});

after(async () => {
  await gw?.stop();
  await up?.close();
});

const post = (path: string, body: string | Buffer, type = 'application/json', headers: Record<string, string> = {}) =>
  gw.request({ method: 'POST', path, headers: { 'content-type': type, ...headers }, body });

describe('validate-body with a schema', () => {
  test('a valid body is forwarded byte for byte (whitespace, key order, escapes, UTF-8 kept)', async () => {
    const raw = Buffer.from('{ "amount":42 ,\n\t"id" : "caf\\u00e9 \u2603", "extra": [1.50, 1e3] }\n', 'utf8');
    const before = up.requests.length;
    const r = await post('/inline', raw);
    assert.equal(r.status, 200, r.text);
    assert.equal(up.requests.length, before + 1);
    assert.ok(up.requests.at(-1)!.body.equals(raw), 'the upstream got exactly the bytes sent');
  });

  test('an invalid body is refused 422 with every failure and its pointer, and not forwarded', async () => {
    const before = up.requests.length;
    const r = await post('/inline', JSON.stringify({ amount: 0.5 }), 'application/json; charset=utf-8', { 'x-request-id': 'req-vb-1' });
    assert.equal(r.status, 422, r.text);
    const err = r.json().error;
    assert.equal(err.code, 'HG_BODY_SCHEMA_MISMATCH');
    assert.deepEqual(err.details, [
      { pointer: '/id', message: 'is required' },
      { pointer: '/amount', message: 'must be integer' },
      { pointer: '/amount', message: 'must be >= 1' },
    ]);
    assert.match(err.message, /\/amount: must be integer/);
    assert.equal(up.requests.length, before, 'nothing reached the upstream');
    const line = gw.log.lines.find((l) => l.plugin === 'validate-body' && l.requestId === 'req-vb-1');
    assert.ok(line, 'the refusal is logged with the request id');
    assert.equal(line.code, 'HG_BODY_SCHEMA_MISMATCH');
    assert.equal(line.details.length, 3);
  });

  test('malformed JSON is 400 HG_BODY_INVALID_JSON with the byte offset (multi-byte text before it)', async () => {
    // "é" and "☃" are 2 and 3 bytes: the offset counts bytes, not characters.
    const raw = '{"id": "é☃", "amount": 1,}';
    const r = await post('/inline', raw);
    assert.equal(r.status, 400, r.text);
    const err = r.json().error;
    assert.equal(err.code, 'HG_BODY_INVALID_JSON');
    const offset = Buffer.byteLength(raw) - 1;
    assert.deepEqual(err.details, [{ offset, message: "unexpected character '}'" }]);
    assert.match(err.message, new RegExp(`at byte ${offset}:`));
  });

  test('an empty body is invalid JSON at offset 0; an unlisted content type is 415', async () => {
    const empty = await post('/inline', '');
    assert.equal(empty.status, 400);
    assert.deepEqual(empty.json().error.details, [{ offset: 0, message: 'the body is empty' }]);
    const form = await post('/inline', 'id=1', 'application/x-www-form-urlencoded');
    assert.equal(form.status, 415, form.text);
    assert.equal(form.json().error.code, 'HG_BODY_UNSUPPORTED_TYPE');
  });

  test('schemaFile, onFail: 400 and an extra content type', async () => {
    const bad = await post('/strict400', '{"id": 7}', 'application/vnd.partner+json');
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json().error.code, 'HG_BODY_SCHEMA_MISMATCH');
    assert.deepEqual(bad.json().error.details, [{ pointer: '/id', message: 'must be string' }]);
    const ok = await post('/strict400', '{"id": "7"}', 'application/vnd.partner+json');
    assert.equal(ok.status, 200, ok.text);
  });
});

describe('validate-body with an OpenAPI document', () => {
  test('the operation is picked by method and path; local $refs are followed', async () => {
    const good = JSON.stringify({ id: 'o1', lines: [{ sku: 'a', qty: 2 }] });
    const ok = await post('/partner/orders', good);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(up.requests.at(-1)!.body.toString(), good);
    assert.equal(up.requests.at(-1)!.url, '/orders');
    const bad = await post('/partner/orders', JSON.stringify({ id: 'o1', lines: [{ qty: 'x' }] }));
    assert.equal(bad.status, 422, bad.text);
    assert.deepEqual(bad.json().error.details, [
      { pointer: '/lines/0/sku', message: 'is required' },
      { pointer: '/lines/0/qty', message: 'must be integer' },
    ]);
  });

  test('a path template and a $ref request body', async () => {
    assert.equal((await post('/partner/orders/o1/refunds', '{"amount": 5}')).status, 200);
    const bad = await post('/partner/orders/o1/refunds', '{"amount": "5"}');
    assert.deepEqual(bad.json().error.details, [{ pointer: '/amount', message: 'must be integer' }]);
  });

  test('a required body may not be empty; an operation without requestBody takes any body', async () => {
    const empty = await post('/partner/orders', '');
    assert.equal(empty.status, 422);
    assert.deepEqual(empty.json().error.details, [{ pointer: '', message: 'a request body is required' }]);
    assert.equal((await post('/partner/ping', 'anything', 'text/plain')).status, 200);
  });

  test('a path or method the document does not describe is refused', async () => {
    const r = await post('/partner/unknown', '{}');
    assert.equal(r.status, 422);
    assert.match(r.json().error.message, /POST \/unknown is not an operation of \.\/specs\/partner\.yaml/);
  });
});

describe('validate-body config errors', () => {
  test('exactly one of schema, schemaFile, openapi', async () => {
    await assert.rejects(
      () => compileText(`routes:\n  - name: a\n    path: /a\n    plugins: [ { validate-body: {} } ]\n    respond: {}\n`),
      (err: unknown) => err instanceof ConfigError && /exactly one of schema, schemaFile, openapi \(found none\)/.test(err.message) && err.path === 'routes[0].plugins[0].validate-body',
    );
  });

  test('an invalid schema is refused when the config is built', async () => {
    await assert.rejects(
      () => compileText(`routes:\n  - name: a\n    path: /a\n    plugins: [ { validate-body: { schema: { type: integr } } } ]\n    respond: {}\n`),
      (err: unknown) => err instanceof ConfigError && /not a valid JSON Schema/.test(err.message),
    );
  });

  test('an OpenAPI document with a non-local $ref is refused', async () => {
    const g = startGateway(
      `routes:\n  - name: a\n    path: /a\n    plugins: [ { validate-body: { openapi: ./x.yaml } } ]\n    respond: {}\n`,
      { files: { 'x.yaml': `openapi: 3.0.3\ninfo: { title: x, version: "1" }\npaths:\n  /a:\n    post:\n      requestBody: { content: { application/json: { schema: { $ref: "other.yaml#/A" } } } }\n` } },
    );
    await assert.rejects(g, (err: unknown) => err instanceof ConfigError && /only local \$refs \(#\/\.\.\.\) are supported; found "other\.yaml#\/A"/.test(err.message));
  });
});

describe('locateJsonError', () => {
  test('agrees with JSON.parse: undefined for JSON, an offset for anything else', () => {
    const valid = ['0', '-0.5e+3', '"a\\u00e9\\n"', '[]', '{}', ' [1, [2, {"a": [null, true, false]}]] ', '{"a":{"b":{"c":[]}}}', '1E5'];
    for (const v of valid) {
      JSON.parse(v);
      assert.equal(locateJsonError(Buffer.from(v)), undefined, v);
    }
    const invalid: [string, number, string][] = [
      ['', 0, 'unexpected end of input'],
      ['{"a":1,}', 7, "unexpected character '}'"],
      ['[1 2]', 3, "unexpected character '2'"],
      ['{"a" 1}', 5, "unexpected character '1'"],
      ['"abc', 4, 'unterminated string'],
      ['"a\tb"', 2, 'control character 0x09 in a string'],
      ['01', 1, "unexpected character '1'"],
      ['tru', 3, 'unexpected end of input'],
      ['{"a":1} x', 8, "unexpected character 'x'"],
      ['[-]', 2, "unexpected character ']'"],
      ['"\\x"', 2, 'bad escape'],
      ['{1:2}', 1, "unexpected character '1'"],
    ];
    for (const [text, offset, reason] of invalid) {
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      assert.deepEqual(locateJsonError(Buffer.from(text)), { offset, reason }, text);
    }
  });

  test('a deeply nested body does not overflow the stack', () => {
    const deep = Buffer.from('['.repeat(200_000) + ']'.repeat(199_999));
    assert.deepEqual(locateJsonError(deep), { offset: 399_999, reason: 'unexpected end of input' });
  });
});
