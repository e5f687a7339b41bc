import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildAsyncApi } from '../../gateway/apidocs/asyncapi.js';
import { runApiDocsCommand } from '../../gateway/apidocs/cli.js';
import type { Snapshot } from '../../gateway/compile.js';
import { packageRoot } from '../../gateway/paths.js';
import { asyncApiErrors, danglingRefs } from '../support/api-validators.js';
import { FULL_CONFIG_YAML, FULL_EVENT_TYPES } from '../support/full-config.js';
import { compileConfig } from '../support/snapshot.js';

type Json = Record<string, any>;

describe('AsyncAPI document of the example config (hookgate asyncapi)', () => {
  it('is valid AsyncAPI 3.0 (official JSON Schema), one channel per example event type', async () => {
    let out = '';
    const code = await runApiDocsCommand(['asyncapi', '--config', join(packageRoot, 'config/gateway.yaml'), '--yaml'], new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) }));
    assert.equal(code, 0);
    const doc = parseYaml(out) as Json;
    assert.equal(doc.asyncapi, '3.0.0');
    assert.deepEqual(asyncApiErrors(doc), []);
    assert.deepEqual(Object.keys(doc.channels).sort(), ['customer.created.v1', 'invoice.paid.v1']);
  });
});

describe('AsyncAPI document of a catalogue with every feature', () => {
  let snap: Snapshot & { dispose(): Promise<void> };
  let doc: Json;
  before(async () => {
    snap = await compileConfig(parseYaml(FULL_CONFIG_YAML));
    doc = buildAsyncApi({ snapshot: snap, eventTypes: FULL_EVENT_TYPES, version: '1.2.3' });
  });
  after(() => snap.dispose());

  it('is valid against the official AsyncAPI 3.0 JSON Schema and every $ref resolves', () => {
    assert.deepEqual(asyncApiErrors(doc), []);
    assert.deepEqual(danglingRefs(doc), []);
    // The check is not a no-op: an operation with an unknown action fails it.
    const broken = structuredClone(doc);
    broken.operations['send.invoice.paid.v1'].action = 'publish';
    assert.notDeepEqual(asyncApiErrors(broken), []);
  });

  it('one channel per event type and version, each with a send operation and its message', () => {
    assert.deepEqual(Object.keys(doc.channels), ['invoice.paid.v1', 'invoice.paid.v2', 'customer.created.v1']);
    assert.equal(doc.channels['invoice.paid.v2'].address, 'invoice.paid');
    for (const key of Object.keys(doc.channels)) {
      const op = doc.operations[`send.${key}`];
      assert.equal(op.action, 'send', key);
      assert.deepEqual(op.channel, { $ref: `#/channels/${key}` });
      assert.deepEqual(op.messages, [{ $ref: `#/channels/${key}/messages/${key}` }]);
    }
  });

  it('messages carry the Standard Webhooks headers and the envelope with the type schema', () => {
    const m = doc.components.messages['invoice.paid.v2'];
    assert.deepEqual(m.headers.required, ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    assert.deepEqual(m.payload.required, ['type', 'timestamp', 'data']);
    assert.deepEqual(m.payload.properties.type.const, 'invoice.paid');
    assert.deepEqual(m.payload.properties.data, { $ref: '#/components/schemas/invoice.paid.v2' });
    assert.deepEqual(doc.components.schemas['invoice.paid.v2'].properties.lines.items, { $ref: '#/components/schemas/invoice.paid.v2/$defs/money' });
    assert.deepEqual(m.examples[0].payload.data, { id: 'in_1', amount: { value: 4200, currency: 'EUR' } });
    assert.equal(doc.components.messages['invoice.paid.v1']['x-sunset'], '2027-06-30');
    assert.match(doc.channels['invoice.paid.v1'].description, /Deprecated; sunset 2027-06-30/);
    assert.equal(doc.info.version, '1.2.3');
  });
});
