import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pino } from 'pino';
import { isSecretBearing, loadConfigFile, loadConfigText, maskUserinfo } from '../gateway/config/load.js';
import { ConfigError } from '../gateway/errors.js';
import { closeSnapshot, compile, type Snapshot } from '../gateway/compile.js';
import { packageRoot } from '../gateway/paths.js';
import { MemoryStore } from '../gateway/store/memory.js';
import { builtinPlugins } from '../plugins/index.js';
import { BAD_CONFIGS, BASE, markedLine } from './support/bad-configs.js';

const logger = pino({ level: 'silent' });
const builtins = new Map(builtinPlugins.map((p) => [p.name, p]));
const dir = mkdtempSync(join(tmpdir(), 'hookgate-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Loads a file and compiles it, as `hookgate validate` does; closes everything. */
async function loadAndBuild(file: string, env: NodeJS.ProcessEnv = {}): Promise<Snapshot> {
  const loaded = loadConfigFile(file, env);
  const store = new MemoryStore();
  try {
    const gen = await compile(loaded, { builtins, store, logger, id: 1 });
    await closeSnapshot(gen, logger);
    return gen;
  } finally {
    await store.close();
  }
}

let seq = 0;
function writeConfig(name: string, text: string): string {
  const file = join(dir, `${name}-${++seq}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('the example config/gateway.yaml', () => {
  const file = resolve(packageRoot, 'config/gateway.yaml');

  test('loads and builds with the built-in plugins, its custom plugin and a MemoryStore', async () => {
    const gen = await loadAndBuild(file, {});
    const names = gen.routes.map((r) => r.name);
    for (const n of ['hello', 'echo', 'demo', 'orders-v1', 'orders-v2', 'github', 'stripe', 'tenants']) assert.ok(names.includes(n), `route ${n} is missing`);
    assert.equal(new Set(names).size, names.length);
    assert.equal(gen.routes.length, gen.loaded.config.routes.length);
    // ${VAR:-default} with the variable unset: the default.
    assert.equal(gen.loaded.config.admin?.token, 'change-me');
    assert.equal(gen.loaded.config.store.driver, 'memory');
    assert.deepEqual(gen.loaded.config.upstreams.orders!.targets, [
      { url: 'http://127.0.0.1:9001', weight: 1 },
      { url: 'http://127.0.0.1:9002', weight: 2 },
    ]);
    const byName = new Map(gen.routes.map((r) => [r.name, r]));
    assert.equal(byName.get('hello')!.action.kind, 'respond');
    assert.equal(byName.get('demo')!.action.kind, 'proxy');
    assert.equal(byName.get('demo')!.bodyLimit, 65536);
    assert.deepEqual(byName.get('tenants')!.pluginNames, ['request-id', 'log', 'tenant-tag']);
    assert.deepEqual(byName.get('github')!.pluginNames, ['request-id', 'log', 'verify-signature', 'rate-limit']);
    assert.equal(byName.get('github')!.needsBody, true);
    assert.equal(byName.get('orders-v1')!.extraHeaders?.deprecation, 'true');
    assert.equal(byName.get('orders-v1')!.extraHeaders?.sunset, 'Wed, 30 Jun 2027 00:00:00 GMT');
    assert.equal(gen.pluginFiles.length, 1);
    assert.equal(basename(gen.pluginFiles[0]!), 'tenant-tag.js');
    // The router it compiled routes the header-versioned pair apart.
    const v2 = gen.router.match('POST', '/webhook/v1/orders', undefined, { 'x-webhook-version': '2' });
    assert.equal(v2.route.name, 'orders-v2');
  });

  test('environment variables override the defaults in it', async () => {
    const gen = await loadAndBuild(file, { HOOKGATE_ADMIN_TOKEN: 'from-the-environment' });
    assert.equal(gen.loaded.config.admin?.token, 'from-the-environment');
  });
});

describe('${VAR} substitution', () => {
  test('${VAR} and ${VAR:-default}, a numeric port from env, embedded references', () => {
    const text = [
      'listen:',
      '  host: ${HG_HOST:-127.0.0.1}',
      '  port: ${HG_PORT}',
      'admin:',
      '  port: ${HG_ADMIN_PORT:-9091}',
      '  token: "tok-${HG_TOKEN_PART}-end"',
      'upstreams:',
      '  up: { targets: [ { url: "http://${HG_UP_HOST:-127.0.0.1}:${HG_UP_PORT:-9000}" } ] }',
      'routes: []',
    ].join('\n');
    const { config } = loadConfigText(text, join(dir, 'env.yaml'), { HG_PORT: '7071', HG_TOKEN_PART: 'abcdef', HG_UP_PORT: '9100' });
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 7071, trustedProxies: [], forwardedHeader: 'x-forwarded-for' });
    assert.equal(config.admin!.port, 9091);
    assert.equal(config.admin!.token, 'tok-abcdef-end');
    assert.equal(config.upstreams.up!.targets[0]!.url, 'http://127.0.0.1:9100');
  });

  test('a quoted reference inside a flow mapping takes the type the schema expects', () => {
    const text = 'listen: { host: 127.0.0.1, port: "${HG_PORT:-8090}" }\nadmin: { port: "${HG_ADMIN_PORT}", token: "${HG_TOKEN}" }\n';
    const a = loadConfigText(text, join(dir, 'flow.yaml'), { HG_ADMIN_PORT: '8091', HG_TOKEN: '123456789' });
    assert.equal(a.config.listen.port, 8090);
    assert.equal(a.config.admin!.port, 8091);
    // A token made of digits stays a string.
    assert.equal(a.config.admin!.token, '123456789');
    assert.throws(
      () => loadConfigText(text, join(dir, 'flow.yaml'), { HG_ADMIN_PORT: 'eighty', HG_TOKEN: 'x'.repeat(10) }),
      (err: unknown) => err instanceof ConfigError && /flow\.yaml:2 at admin\.port: found "eighty", expected integer/.test(err.message),
    );
  });

  test('an unquoted reference is never parsed as YAML: secrets keep their exact characters', () => {
    const text = 'admin:\n  token: ${HG_TOKEN}\nlisten:\n  port: ${HG_PORT}\n';
    for (const token of ['abc #not-a-comment', '*alias-like', '[1, 2, 3, 4]', '{ a: 1, b: 2 }', '007007007', 'null-ish: yes', '00000000']) {
      const { config } = loadConfigText(text, join(dir, 'raw.yaml'), { HG_TOKEN: token, HG_PORT: '8088' });
      assert.equal(config.admin!.token, token);
      assert.equal(config.listen.port, 8088);
    }
  });

  test('an empty variable counts as unset, so the default applies', () => {
    const { config } = loadConfigText('listen:\n  port: ${HG_PORT:-8099}\n', join(dir, 'empty.yaml'), { HG_PORT: '' });
    assert.equal(config.listen.port, 8099);
  });

  test('an unset variable without a default is a located error', () => {
    const file = writeConfig('unset', 'listen:\n  host: 127.0.0.1\n  port: ${HG_SURELY_UNSET_PORT}\nroutes: []\n');
    assert.throws(
      () => loadConfigFile(file, {}),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'HG_CONFIG_INVALID');
        assert.ok(err.message.startsWith(`${file}:3 at listen.port: `), err.message);
        assert.match(err.message, /HG_SURELY_UNSET_PORT is not set and has no default/);
        assert.equal(err.line, 3);
        return true;
      },
    );
  });

  test('an unquoted reference inside { } is a YAML error that says to quote it', () => {
    const file = writeConfig('flowenv', 'routes: []\nlisten: { host: 127.0.0.1, port: ${HG_PORT:-8080} }\n');
    assert.throws(
      () => loadConfigFile(file, {}),
      (err: unknown) => err instanceof ConfigError && err.message.includes(`${basename(file)}:2: invalid YAML`) && /quote env references/.test(err.message),
    );
  });
});

describe('invalid configs give a located error', () => {
  for (const bad of BAD_CONFIGS) {
    test(bad.name, async () => {
      const file = writeConfig(bad.name.replace(/\W+/g, '-'), bad.yaml);
      const line = markedLine(bad.yaml);
      await assert.rejects(
        () => loadAndBuild(file, bad.env ?? {}),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
          const m = err.message;
          assert.ok(m.includes(basename(file)), `no file name in: ${m}`);
          assert.ok(m.startsWith(`${file}:${line}`), `expected ${basename(file)}:${line} in: ${m}`);
          assert.equal(err.line, line);
          if (bad.path) assert.ok(m.includes(` at ${bad.path}: `), `expected the path ${bad.path} in: ${m}`);
          assert.equal(err.path, bad.path);
          assert.match(m, bad.message);
          return true;
        },
      );
    });
  }

  test('the offending secret value is never echoed', async () => {
    const file = writeConfig('secret', `${BASE}admin:\n  token: "s3cr3"\n`);
    await assert.rejects(() => loadAndBuild(file), (err: unknown) => err instanceof ConfigError && !err.message.includes('s3cr3'));
  });

  test('a redis URL with a password in the env: the password never appears, the host does', async () => {
    const file = writeConfig('redis-env', `${BASE}store: { driver: redis, url: "\${REDIS_URL}" }  #!\n`);
    const env = { REDIS_URL: 'redis//:hunter2-pa@ss@10.0.0.5:6379' };
    await assert.rejects(() => loadAndBuild(file, env), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(!err.message.includes('hunter2') && !err.message.includes('pa@ss'), err.message);
      assert.ok(err.message.startsWith(`${file}:${markedLine(readFileSync(file, 'utf8'))} at store.url: found "redis//:***@10.0.0.5:6379", expected a string matching ^rediss?://`), err.message);
      return true;
    });
  });
});

describe('config errors never echo a secret value', () => {
  const route = (plugin: string) => `routes:
  - name: a
    path: /a
    plugins:
      - ${plugin}
    respond: { status: 200 }
`;
  // Each case: the config, the secret that must not appear, the path, and what the error must still say.
  const cases: Array<{ name: string; yaml: string; secret: string; path: string; expected: RegExp }> = [
    {
      name: 'a typo\'d egress endpoint secret (pattern)',
      yaml: `${BASE}egress:\n  endpoints:\n    - id: ep1\n      url: "https://partner.example/hook"\n      secret: "my-real-endpoint-secret-typo"  #!\n`,
      secret: 'my-real-endpoint-secret-typo',
      path: 'egress.endpoints[0].secret',
      expected: /found a string of 28 characters \(not shown: it may be a secret\), expected a string matching \^whsec_/,
    },
    {
      name: 'an operational webhook secret',
      yaml: `${BASE}egress:\n  operationalWebhook:\n    url: "https://ops.example/hook"\n    secret: "ops-secret-without-prefix"  #!\n`,
      secret: 'ops-secret-without-prefix',
      path: 'egress.operationalWebhook.secret',
      expected: /expected a string matching \^whsec_/,
    },
    {
      name: 'an admin token of the wrong type',
      yaml: `${BASE}admin:\n  token: [ "admin-token-in-a-list" ]  #!\n`,
      secret: 'admin-token-in-a-list',
      path: 'admin.token',
      expected: /found a list \(not shown: it may be a secret\), expected string/,
    },
    {
      name: 'an upstream URL with credentials (the user stays, the password goes)',
      yaml: `listen: { host: 127.0.0.1, port: 8080 }\nupstreams:\n  up: { targets: [ { url: "ftp://deploy:upstream-pw@files.example" } ] }  #!\nroutes: []\n`,
      secret: 'upstream-pw',
      path: 'upstreams.up.targets[0].url',
      expected: /found "ftp:\/\/deploy:\*\*\*@files\.example", expected a string matching/,
    },
    {
      name: 'an endpoint header named like a credential',
      yaml: `${BASE}egress:\n  endpoints:\n    - id: ep1\n      url: "https://partner.example/hook"\n      headers: { Authorization: 4242424242 }  #!\n`,
      secret: '4242424242',
      path: 'egress.endpoints[0].headers.Authorization',
      expected: /found a number \(not shown: it may be a secret\), expected string/,
    },
    {
      name: 'verify-signature secrets given as a string',
      yaml: route('verify-signature: { preset: github, secrets: "gh-real-secret" }  #!'),
      secret: 'gh-real-secret',
      path: 'routes[0].plugins[0].verify-signature.secrets',
      expected: /plugin "verify-signature": found a string of 14 characters \(not shown: it may be a secret\), expected array/,
    },
    {
      name: 'a jwt-auth secret that is not a string',
      yaml: route('jwt-auth: { algorithms: [HS256], secrets: [ { jwt: "jwt-real-secret" } ] }  #!'),
      secret: 'jwt-real-secret',
      path: 'routes[0].plugins[0].jwt-auth.secrets[0]',
      expected: /found a mapping \(not shown: it may be a secret\), expected string/,
    },
    {
      name: 'a key-auth key that is not a string',
      yaml: route('key-auth: { keys: [ { key: [ "partner-api-key" ], consumer: partner } ] }  #!'),
      secret: 'partner-api-key',
      path: 'routes[0].plugins[0].key-auth.keys[0].key',
      expected: /found a list \(not shown: it may be a secret\), expected string/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const file = writeConfig('secret-echo', c.yaml);
      await assert.rejects(() => loadAndBuild(file), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.ok(!err.message.includes(c.secret), `secret echoed: ${err.message}`);
        assert.ok(err.message.startsWith(`${file}:${markedLine(c.yaml)} at ${c.path}: `), err.message);
        assert.equal(err.path, c.path);
        assert.match(err.message, c.expected);
        return true;
      });
    });
  }

  test('values of other keys are still shown, and an email is not mistaken for a URL', async () => {
    const file = writeConfig('not-secret', 'listen: { host: 127.0.0.1, port: "ops@example.com" }\nroutes: []\n');
    await assert.rejects(() => loadAndBuild(file), /at listen\.port: found "ops@example\.com", expected integer/);
  });

  test('isSecretBearing and maskUserinfo', () => {
    assert.equal(isSecretBearing(['routes', 0, 'plugins', 0, 'x', 'clientSecret']), true);
    assert.equal(isSecretBearing(['headers', 'x-api-key']), true);
    assert.equal(isSecretBearing(['tokens', 'alice']), true, 'a map of credentials hides every value');
    assert.equal(isSecretBearing(['listen', 'port']), false);
    assert.equal(isSecretBearing(['listen', 'port'], { type: 'string', writeOnly: true }), true);
    assert.equal(maskUserinfo('rediss://default:p@ss/w0rd@cache:6380/0'), 'rediss://default:***@cache:6380/0');
    assert.equal(maskUserinfo('https://ghp_tokenvalue@github.example/x'), 'https://***@github.example/x');
    assert.equal(maskUserinfo('redis:pw@host', true), 'redis:***@host');
    assert.equal(maskUserinfo('redis:pw@host'), 'redis:pw@host');
    assert.equal(maskUserinfo('http://host/a@b'), 'http://***@b', 'unparseable text errs on the hidden side');
    assert.equal(maskUserinfo('http://host/path'), 'http://host/path');
  });
});

describe('loader edge cases', () => {
  test('a missing file is a ConfigError naming it', () => {
    const file = join(dir, 'does-not-exist.yaml');
    assert.throws(() => loadConfigFile(file, {}), (err: unknown) => err instanceof ConfigError && err.message.includes(file) && /cannot read config/.test(err.message));
  });

  test('an unknown alias and an alias bomb are located YAML errors, not bare exceptions', () => {
    assert.throws(
      () => loadConfigText('routes: []\nlisten: *nowhere\n', join(dir, 'alias.yaml'), {}),
      (e: unknown) => e instanceof ConfigError && e.line === 2 && /alias\.yaml:2: invalid YAML: Unresolved alias/.test(e.message),
    );
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    assert.throws(
      () => loadConfigText(levels.join('\n') + '\n', join(dir, 'bomb.yaml'), {}),
      (e: unknown) => e instanceof ConfigError && /bomb\.yaml:\d+: invalid YAML: .*alias/i.test(e.message),
    );
  });

  test('the top level must be a mapping', () => {
    assert.throws(() => loadConfigText('- a\n- b\n', join(dir, 'seq.yaml'), {}), (err: unknown) => err instanceof ConfigError && /seq\.yaml:1: expected a mapping/.test(err.message));
  });
});

describe('defaults', () => {
  test('an almost empty config gets listen, store, limits and empty routes', () => {
    const { config } = loadConfigText('routes: []\n', join(dir, 'min.yaml'), {});
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080, trustedProxies: [], forwardedHeader: 'x-forwarded-for' });
    assert.equal(config.store.driver, 'memory');
    assert.equal(config.limits.bodyBytes, 1048576);
    assert.deepEqual(config.routes, []);
    // Nested defaults come from the schema too (parents default to {}): egress without an egress block.
    assert.deepEqual(config.egress, { endpoints: [], allowCidrs: [], attemptTimeoutMs: 15000, retentionDays: 7, disableAfterHours: 120, concurrency: 128, maxInFlightPerEndpoint: 32, lockDurationMs: 30000, validation: 'enforce', strictTypes: false, breaker: { enabled: true, consecutiveFailures: 5, failureRatio: 0.5, ratioWindow: '60s', ratioMinAttempts: 20, openFor: ['30s', '1m', '2m', '4m', '8m', '16m', '30m'], autoRecover: true, probeEvery: '24h', replayMissed: true } });
    assert.deepEqual(config.eventTypes, []);
    assert.deepEqual(config.upstreams, {});
  });

  test('an empty document is refused (a file caught mid-write must not swap in a gateway with no routes)', () => {
    for (const text of ['', '\n', '# only a comment\n']) {
      assert.throws(() => loadConfigText(text, join(dir, 'empty.yaml'), {}), (e: unknown) => e instanceof ConfigError && /the config is empty/.test(e.message), JSON.stringify(text));
    }
  });

  test('upstream targets get weight 1 and the upstream its timeouts', () => {
    const { config } = loadConfigText(BASE, join(dir, 'base.yaml'), {});
    assert.deepEqual(config.upstreams.up, { targets: [{ url: 'http://127.0.0.1:9000', weight: 1 }], timeoutMs: 10000, ejectAfterFailures: 3, ejectMs: 10000, maxSockets: 256 });
    assert.equal(config.routes[0]!.stripPrefix, false);
  });
});

describe('env references in plugin params', () => {
  const yaml = `routes:
  - name: a
    path: /a
    plugins:
      - size-limit: { bytes: "\${MAXB:-1024}" }
    respond: { status: 200 }
`;
  test('a quoted whole reference takes the type the plugin schema expects', async () => {
    const gen = await loadAndBuild(writeConfig('env-plugin', yaml), { MAXB: '2048' });
    assert.equal(gen.routes[0]!.bodyLimit, 2048);
  });
  test('a value that does not fit is a located error', async () => {
    await assert.rejects(loadAndBuild(writeConfig('env-plugin-bad', yaml), { MAXB: 'lots' }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /env-plugin-bad-\d+\.yaml:5 at routes\[0\]\.plugins\[0\]\.size-limit\.bytes: .*expected integer/);
      return true;
    });
  });
});
