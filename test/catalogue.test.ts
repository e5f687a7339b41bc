import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { catalogueOf, compileCatalogue, compileEventType } from '../gateway/catalogue/catalogue.js';
import { compilePayloadSchema, failuresOf, formatFailures } from '../gateway/catalogue/payload-schema.js';
import { loadConfigText } from '../gateway/config/load.js';
import { ConfigError } from '../gateway/errors.js';
import { compileText } from './support/snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-catalogue-'));
writeFileSync(join(dir, 'paid-v2.json'), JSON.stringify({ type: 'object', required: ['id', 'amount', 'currency'], properties: { id: { type: 'string' }, amount: { type: 'integer' }, currency: { type: 'string', minLength: 3, maxLength: 3 } } }));
writeFileSync(join(dir, 'bad.yaml'), 'type: integr\n');

/** Loads YAML as if it were `<dir>/gateway.yaml`, so schema files resolve beside it. */
function load(yaml: string) {
  return loadConfigText(yaml, join(dir, 'gateway.yaml'), {});
}

const CATALOGUE = `
eventTypes:
  - name: invoice.paid
    description: An invoice was paid
    schema:
      type: object
      required: [id, amount]
      properties: { id: { type: string }, amount: { type: integer, minimum: 0 }, paidAt: { type: string, format: date-time } }
    examples: [ { id: in_1, amount: 4200 } ]
  - name: invoice.paid
    version: 2
    schemaFile: ./paid-v2.json
    deprecated: { sunset: "2027-06-30" }
    examples: [ { id: in_1, amount: 4200, currency: EUR } ]
  - name: customer.created
`;

/** The located ConfigError a config is refused with. */
function refusal(yaml: string): ConfigError {
  try {
    compileCatalogue(load(yaml));
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

describe('compileCatalogue', () => {
  test('versions live side by side; get() without a version is the latest', () => {
    const c = compileCatalogue(load(CATALOGUE));
    assert.deepEqual(c.list().map((e) => `${e.name}@${e.version}`), ['customer.created@1', 'invoice.paid@1', 'invoice.paid@2']);
    assert.deepEqual(c.versions('invoice.paid'), [1, 2]);
    assert.deepEqual(c.versions('nope.nope'), []);
    assert.equal(c.get('invoice.paid')!.version, 2);
    assert.equal(c.get('invoice.paid', 1)!.description, 'An invoice was paid');
    assert.equal(c.get('invoice.paid', 3), undefined);
    assert.equal(c.get('customer.created')!.validate, undefined, 'a type without a schema has no validator');
    assert.deepEqual(c.get('customer.created')!.examples, []);
    assert.equal(c.get('invoice.paid', 1)!.source, 'config');
  });

  test('schemaFile is read relative to the config file, and its schema is compiled', () => {
    const v2 = compileCatalogue(load(CATALOGUE)).get('invoice.paid', 2)!;
    assert.equal(v2.schemaFile, './paid-v2.json');
    assert.deepEqual((v2.schema as { required: string[] }).required, ['id', 'amount', 'currency']);
    assert.deepEqual(v2.validate!({ id: 'in_1', amount: 1, currency: 'EUR' }), []);
    assert.deepEqual(v2.validate!({ id: 'in_1', amount: 1 }), [{ pointer: '/data/currency', message: 'is required' }]);
    assert.deepEqual(v2.deprecated, { sunset: '2027-06-30' });
  });

  test('every failure is listed with its JSON pointer under /data; formats are checked', () => {
    const v1 = compileCatalogue(load(CATALOGUE)).get('invoice.paid', 1)!;
    const failures = v1.validate!({ amount: 'x', paidAt: 'yesterday' });
    assert.deepEqual(failures, [
      { pointer: '/data/id', message: 'is required' },
      { pointer: '/data/amount', message: 'must be integer' },
      { pointer: '/data/paidAt', message: 'must match format "date-time"' },
    ]);
    assert.equal(formatFailures(failures.slice(1, 2)), '/data/amount: must be integer');
  });

  test('the validator is compiled once per generation: the same function on every lookup', () => {
    const c = compileCatalogue(load(CATALOGUE));
    assert.equal(c.get('invoice.paid', 1)!.validate, c.get('invoice.paid', 1)!.validate);
  });

  test('validation never changes the data (no defaults, no coercion)', () => {
    const v = compilePayloadSchema({ type: 'object', properties: { n: { type: 'integer', default: 5 }, s: { type: 'string' } } });
    const data = { s: 'a' };
    assert.deepEqual(v(data), []);
    assert.deepEqual(data, { s: 'a' });
    assert.deepEqual(v({ s: 1 }), [{ pointer: '/s', message: 'must be string' }]);
  });

  test('an unknown property is pointed at by its own path, with ~ and / escaped', () => {
    const v = compilePayloadSchema({ type: 'object', additionalProperties: false, properties: {} });
    assert.deepEqual(v({ 'a/b~c': 1 }), [{ pointer: '/a~1b~0c', message: 'is not allowed' }]);
    assert.deepEqual(failuresOf(null), []);
  });

  test('the snapshot carries the compiled catalogue', async () => {
    const snap = await compileText(`eventTypes: [ { name: order.created, schema: { type: object } } ]\n`);
    assert.equal(snap.catalogue.get('order.created')!.version, 1);
    const none = await compileText('routes: []\n');
    assert.deepEqual(none.catalogue.list(), []);
  });
});

describe('a bad catalogue is a located config error', () => {
  test('an invalid inline schema names the line and the path', () => {
    const e = refusal(`eventTypes:\n  - name: a.b\n    schema: { type: integr }\n`);
    assert.equal(e.path, 'eventTypes[0].schema');
    assert.equal(e.line, 3);
    assert.match(e.message, /schema of a\.b v1 is not a valid JSON Schema/);
  });

  test('an invalid schema file is located at schemaFile', () => {
    const e = refusal(`eventTypes:\n  - name: a.b\n    schemaFile: ./bad.yaml\n`);
    assert.equal(e.path, 'eventTypes[0].schemaFile');
    assert.equal(e.line, 3);
  });

  test('a missing schema file names the file', () => {
    const e = refusal(`eventTypes:\n  - name: a.b\n    schemaFile: ./missing.json\n`);
    assert.match(e.message, /cannot read the schema file .*missing\.json/);
    assert.equal(e.path, 'eventTypes[0].schemaFile');
  });

  test('an example that breaks its own schema is refused, with the pointer', () => {
    const e = refusal(`eventTypes:\n  - name: a.b\n    schema: { type: object, properties: { n: { type: integer } } }\n    examples:\n      - { n: 1 }\n      - { n: "1" }\n`);
    assert.equal(e.path, 'eventTypes[0].examples[1]');
    assert.equal(e.line, 6);
    assert.match(e.message, /example 1 of a\.b v1 does not fit its schema: \/n: must be integer/);
  });

  test('the same name and version twice, and schema with schemaFile, are refused', () => {
    assert.match(refusal(`eventTypes:\n  - { name: a.b }\n  - { name: a.b, version: 1 }\n`).message, /duplicate event type a\.b version 1 \(first declared at eventTypes\[0\]\)/);
    assert.match(refusal(`eventTypes:\n  - { name: a.b, schema: {}, schemaFile: ./paid-v2.json }\n`).message, /give "schema" or "schemaFile", not both/);
  });

  test('names must be dot-separated lowercase words (the config schema)', () => {
    assert.throws(() => load(`eventTypes:\n  - { name: Invoice }\n`), (err: unknown) => err instanceof ConfigError && err.path === 'eventTypes[0].name');
  });
});

describe('catalogueOf', () => {
  test('the first entry of a name and version wins (config before API)', () => {
    const config = compileEventType({ name: 'a.b', version: 1, examples: [], description: 'config' }, 'config');
    const api = compileEventType({ name: 'a.b', version: 1, examples: [], description: 'api' }, 'api');
    const api2 = compileEventType({ name: 'a.b', version: 2, examples: [] }, 'api');
    const c = catalogueOf([config, api, api2]);
    assert.equal(c.get('a.b', 1)!.description, 'config');
    assert.equal(c.get('a.b')!.version, 2);
  });
});
