// Properties of the config loader (gateway/config/load.ts): whatever the text, loadConfigText either
// returns a config or throws a ConfigError that names the file and a line (and, for schema errors,
// the YAML path); it never throws anything else, and never echoes a value placed under a secret key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';

import { loadConfigText } from '../../gateway/config/load.js';
import { ConfigError } from '../../gateway/errors.js';

// HG_PROPERTY_RUNS=5000 explores further locally; the suite keeps each file to a few seconds.
const RUNS = { numRuns: Number(process.env.HG_PROPERTY_RUNS) || 300 };
const FILE = '/etc/hookgate/prop.yaml';

/** Loads; on failure checks the error is a located ConfigError and returns it. */
function loadOrLocatedError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError | undefined {
  try {
    loadConfigText(text, FILE, env);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)} for ${JSON.stringify(text)}`);
    assert.equal(err.code, 'HG_CONFIG_INVALID');
    assert.equal(err.file, FILE);
    assert.ok(Number.isInteger(err.line) && err.line! >= 1, `no line in: ${err.message} for ${JSON.stringify(text)}`);
    assert.ok(err.message.startsWith(`${FILE}:${err.line}`), err.message);
    return err;
  }
}

// YAML's syntax characters, env references and a few keys the schema knows, in random order.
const yamlToken = fc.constantFrom(
  ':', ': ', '-', '- ', ' ', '  ', '\n', '\t', '{', '}', '[', ']', ',', '"', "'", '#', '&a', '*a', '!!str', '!x', '|', '>', '%YAML', '---', '...',
  '? ', '@', '`', '${X}', '${Y:-1}', '${', '}', 'routes', 'listen', 'port', 'host', 'name', 'path', 'upstream', 'respond', 'status',
  'store', 'driver', 'redis', 'url', 'admin', 'token', 'egress', 'endpoints', '8080', '-1', '1e9', 'null', 'true', '~', 'é', '\u2028',
);
const yamlText = fc.oneof(
  fc.array(yamlToken, { maxLength: 40 }).map((t) => t.join('')),
  fc.string({ maxLength: 200 }),
);

const TOP_KEYS = ['listen', 'store', 'limits', 'admin', 'upstreams', 'routes', 'egress', 'customPlugins', 'events', 'log', 'extra'];
const json = fc.jsonValue({ maxDepth: 4 });
const route = fc.record(
  {
    name: fc.oneof(fc.string({ maxLength: 8 }), json),
    path: fc.oneof(fc.constantFrom('/a', '/b/*', '*', 'nope'), json),
    respond: fc.oneof(fc.record({ status: fc.integer({ min: -1, max: 700 }) }), json),
    plugins: fc.oneof(fc.array(fc.dictionary(fc.constantFrom('request-id', 'size-limit', 'nope'), json, { maxKeys: 2 }), { maxLength: 2 }), json),
  },
  { requiredKeys: [] },
);
const configObject = fc.oneof(
  fc.dictionary(fc.constantFrom(...TOP_KEYS), json, { maxKeys: 5 }),
  fc.record({ listen: fc.oneof(fc.record({ host: json, port: json }, { requiredKeys: [] }), json), routes: fc.array(route, { maxLength: 3 }) }, { requiredKeys: [] }),
  json,
);

describe('loadConfigText', () => {
  it('random YAML text: a config, or a ConfigError with file and line', () => {
    fc.assert(fc.property(yamlText, fc.dictionary(fc.constantFrom('X', 'Y'), fc.string({ maxLength: 10 })), (text, env) => void loadOrLocatedError(text, env)), RUNS);
  });

  it('random objects written as YAML: a config, or a ConfigError with file, line and, for schema errors, the path', () => {
    fc.assert(
      fc.property(configObject, (obj) => {
        const err = loadOrLocatedError(stringify(obj));
        if (err && !/invalid YAML|the config is empty|expected a mapping at the top level/.test(err.message)) {
          assert.ok(err.path !== undefined, `no path in: ${err.message}`);
        }
      }),
      RUNS,
    );
  });

  it('a wrong value under a secret key is never echoed', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((s) => `S3CR3T${s}`);
    const placement = fc.constantFrom(
      (s: string) => ({ admin: { token: [s] } }),
      (s: string) => ({ admin: { token: { v: s } } }),
      (s: string) => ({ egress: { endpoints: [{ id: 'e', url: 'https://x.test', secret: s }] } }),
      (s: string) => ({ egress: { operationalWebhook: { url: 'https://x.test', secret: s } } }),
      (s: string) => ({ store: { driver: 'redis', url: `redis//:${s}@10.0.0.1:6379` } }),
      (s: string) => ({ upstreams: { u: { targets: [{ url: `ftp://user:${s}@h` }] } } }),
      (s: string) => ({ egress: { endpoints: [{ id: 'e', url: 'https://x.test', headers: { 'X-Api-Key': [s] } }] } }),
    );
    fc.assert(
      fc.property(secret, placement, (s, place) => {
        const err = loadOrLocatedError(stringify({ routes: [], ...place(s) }));
        assert.ok(err, 'expected a config error');
        assert.ok(!err.message.includes(s), err.message);
      }),
      { numRuns: 200 },
    );
  });
});
