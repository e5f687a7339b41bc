import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_SECRETS } from '../gateway/example-secrets.js';
import { answers, ROOT, run, startCli } from './support/cli.js';
import { waitUntil } from './support/http.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-cli-validate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STACK_LINE = /^\s+at /m;

const LOGGING = `plugins:
  - log: { destination: ./access-logs/nested/access.log }
routes:
  - name: hello
    path: /hello
    respond: { status: 200 }
`;

describe('hookgate validate: no side effects, the config as an argument', () => {
  test('a config with a file log destination validates without creating its directory or printing a stack', async () => {
    const file = join(dir, 'logging.yaml');
    writeFileSync(file, LOGGING);
    const r = await run(['validate', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${file}: valid (1 routes)\n`);
    assert.equal(r.stderr, '');
    assert.equal(existsSync(join(dir, 'access-logs')), false, 'validate created the log directory');
  });

  test('the positional config path is the one checked (from a directory with no gateway.yaml)', async () => {
    const bad = join(dir, 'bad-positional.yaml');
    writeFileSync(bad, 'routes:\n  - name: a\n    path: /a\n    upstream: nowhere\n');
    const r = await run(['validate', bad], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `${bad}:4 at routes[0].upstream: unknown upstream "nowhere" (declared: none declared)\n`);
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });

  test('--config and the argument: the same file is fine, two different files are a usage error', async () => {
    const file = join(dir, 'logging.yaml');
    writeFileSync(file, LOGGING);
    const same = await run(['validate', '--config', file, file]);
    assert.equal(same.code, 0, same.stderr);
    const other = join(dir, 'other.yaml');
    writeFileSync(other, LOGGING);
    const both = await run(['validate', '--config', file, other]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /two different config files given: --config .*logging\.yaml and .*other\.yaml/);
    const two = await run(['validate', file, other]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /expected one config file, got 2/);
  });

  test('start takes the config as an argument too; a refused start is one line, even with a log file opening', async () => {
    const bad = join(dir, 'bad-start.yaml');
    writeFileSync(bad, 'listen: { host: 127.0.0.1, port: 0 }\nplugins: [ { log: { destination: ./start-logs/access.log } } ]\nroutes:\n  - name: a\n    path: /a\n    upstream: nowhere\n');
    const r = await run(['start', bad], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `hookgate: ${bad}:6 at routes[0].upstream: unknown upstream "nowhere" (declared: none declared)\n`);
  });
});

/** A copy of the example config (and its custom plugin) listening on 0.0.0.0, as the Docker image's is. */
function exposedExample(): string {
  const d = mkdtempSync(join(dir, 'example-'));
  cpSync(join(ROOT, 'config/my-plugins'), join(d, 'my-plugins'), { recursive: true });
  const text = readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8')
    .replace('listen: { host: 127.0.0.1, port: 8080 }', 'listen: { host: 0.0.0.0, port: 0 }')
    .replace('admin:  { host: 127.0.0.1, port: 8081,', 'admin:  { host: 127.0.0.1, port: 0,');
  assert.match(text, /host: 0\.0\.0\.0, port: 0/);
  const file = join(d, 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

/** The example config's own secrets, set as a user would in the container's environment. */
const OWN_SECRETS = {
  HOOKGATE_ADMIN_TOKEN: 'own-admin-token-5f1c2e',
  GITHUB_WEBHOOK_SECRET: 'own-github-secret',
  STRIPE_WEBHOOK_SECRET: 'whsec_own_stripe_secret',
  ORDERS_WEBHOOK_SECRET: 'whsec_b3duLW9yZGVycy1zZWNyZXQ=',
  PUBLISHER_API_KEY: 'own-publisher-key',
};

function assertNoSecretValue(text: string): void {
  for (const s of EXAMPLE_SECRETS) assert.ok(!text.includes(s), `the output names the secret value ${s}`);
}

describe('example secrets on a non-loopback listener', () => {
  test('every ${VAR:-default} of the example config is a known example secret', () => {
    const defaults = [...readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8').matchAll(/\$\{[A-Z_]+:-([^}]*)\}/g)].map((m) => m[1]!);
    assert.ok(defaults.length >= 5);
    for (const d of defaults) assert.ok(EXAMPLE_SECRETS.includes(d), `${d} is not in EXAMPLE_SECRETS`);
  });

  test('start refuses with HG_EXAMPLE_SECRETS, naming the keys but not the values; validate agrees', async () => {
    const file = exposedExample();
    const r = await run(['start', '--config', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^hookgate: HG_EXAMPLE_SECRETS: refusing to serve the example config's published secrets on a non-loopback listener/);
    assert.match(r.stderr, /routes\[5\]\.plugins\[0\]\.verify-signature\.secrets\[0\]/);
    assert.match(r.stderr, /routes\[8\]\.plugins\[0\]\.key-auth\.keys\[0\]\.key/);
    assert.match(r.stderr, /--allow-example-secrets/);
    // The admin listener stays on loopback, so its token is not listed.
    assert.doesNotMatch(r.stderr, /admin\.token/);
    assertNoSecretValue(r.stderr + r.stdout);
    assert.doesNotMatch(r.stderr, STACK_LINE);

    const v = await run(['validate', file]);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /^HG_EXAMPLE_SECRETS: /);
    assertNoSecretValue(v.stderr);
    assert.equal((await run(['validate', file, '--allow-example-secrets'])).code, 0);
  });

  for (const [name, args, env] of [
    ['--allow-example-secrets', ['--allow-example-secrets'], {}],
    ['its own secrets from the environment', [], OWN_SECRETS],
  ] as const) {
    test(`with ${name} it starts on 0.0.0.0 (traffic only to 127.0.0.1) and stops on SIGTERM`, async () => {
      const gw = startCli(exposedExample(), [...args], env);
      try {
        await waitUntil(() => /listening on http:\/\/0\.0\.0\.0:\d+/.test(gw.stderr()) || gw.child.exitCode !== null, 15000, 'hookgate to listen');
        const port = Number(/listening on http:\/\/0\.0\.0\.0:(\d+)/.exec(gw.stderr())?.[1]);
        assert.ok(port > 0, gw.stderr());
        assert.equal((await answers(port, '/webhook/v1/hello'))?.status, 200);
        assert.ok(gw.child.kill('SIGTERM'));
        assert.deepEqual(await gw.exited, { code: 0, signal: null });
      } finally {
        await gw.kill();
      }
    });
  }
});
