import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigText } from '../../gateway/config/load.js';
import type { ListenConfig } from '../../gateway/config/types.js';
import { exposedExampleSecrets } from '../../gateway/example-secrets.js';
import { healthzUrl } from '../../gateway/healthcheck.js';
import { packageRoot } from '../../gateway/paths.js';
import { childEnv, startCli } from '../support/cli.js';

const read = (f: string): string => readFileSync(join(packageRoot, f), 'utf8');
const dockerfile = read('Dockerfile');
const dockerYaml = read('config/docker.yaml');
const ownSecrets = { HOOKGATE_ADMIN_TOKEN: 'a-long-admin-token', GITHUB_WEBHOOK_SECRET: 'gh-own', ORDERS_WEBHOOK_SECRET: 'whsec_' + Buffer.alloc(24, 7).toString('base64'), PUBLISHER_API_KEY: 'pk-own-123' };

test('Dockerfile: Node 24 by default, any base by build arg, tini, a numeric non-root USER, the config-following HEALTHCHECK', () => {
  assert.match(dockerfile, /^ARG BASE=node:24-bookworm-slim$/m);
  assert.deepEqual([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]), ['${BASE}', '${BASE}']);
  assert.match(dockerfile, /npm ci /);
  assert.match(dockerfile, /RUN npm run build /, 'the build config, as npm run build');
  const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]!);
  assert.equal(users.length, 1);
  assert.match(users[0]!, /^[1-9]\d*(:\d+)?$/, 'numeric uid, not root');
  assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/app\/dist\/gateway\/cli\.js"\]$/m);
  assert.match(dockerfile, /CMD \["node", "\/app\/dist\/gateway\/healthcheck\.js"\]/);
  assert.match(dockerfile, /^COPY config\/docker\.yaml \/etc\/hookgate\/gateway\.yaml$/m);
  assert.match(dockerfile, /^ENV .*HOOKGATE_CONFIG=\/etc\/hookgate\/gateway\.yaml/m);
  assert.match(dockerfile, /^CMD \["start", "--config", "\/etc\/hookgate\/gateway\.yaml"\]$/m);
});

test('.dockerignore keeps installed and built trees, VCS data and caches out of the context', () => {
  const lines = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', 'dist', '.git', '.ci/.node24', '.ci/.image']) assert.ok(lines.includes(p), p);
});

test('config/docker.yaml listens on 0.0.0.0, needs the admin token from the environment, and refuses example secrets', () => {
  const { config } = loadConfigText(dockerYaml, 'docker.yaml', ownSecrets);
  assert.equal(config.listen.host, '0.0.0.0');
  assert.equal(config.listen.port, 8080);
  assert.equal(config.admin?.host, '0.0.0.0');
  assert.deepEqual(exposedExampleSecrets(config), []);
  assert.equal(loadConfigText(dockerYaml, 'docker.yaml', { ...ownSecrets, HOOKGATE_PORT: '9999' }).config.listen.port, 9999);
  // No default for the token: on 0.0.0.0 it must come from the environment.
  const { HOOKGATE_ADMIN_TOKEN: _t, ...noToken } = ownSecrets;
  assert.throws(() => loadConfigText(dockerYaml, 'docker.yaml', noToken), /HOOKGATE_ADMIN_TOKEN is not set/);
  // The webhook secrets fall back to the published ones, which the example-secrets rule refuses.
  const exposed = exposedExampleSecrets(loadConfigText(dockerYaml, 'docker.yaml', { HOOKGATE_ADMIN_TOKEN: 'a-long-admin-token' }).config);
  assert.equal(exposed.length, 3);
  assert.ok(!exposed.includes('admin.token'));
});

test('healthzUrl asks the main listener on loopback, or the plain-HTTP one beside TLS', () => {
  const base = { trustedProxies: [], forwardedHeader: 'x-forwarded-for' } as unknown as ListenConfig;
  assert.equal(healthzUrl({ ...base, host: '0.0.0.0', port: 8080 }), 'http://127.0.0.1:8080/healthz');
  assert.equal(healthzUrl({ ...base, host: '::', port: 8443, tls: {} as never }), 'https://[::1]:8443/healthz');
  assert.equal(healthzUrl({ ...base, host: '0.0.0.0', port: 8443, tls: {} as never, http: { host: '0.0.0.0', port: 8080 } }), 'http://127.0.0.1:8080/healthz');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function healthcheck(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(packageRoot, 'dist/gateway/healthcheck.js')], { env: childEnv(env), timeout: 15000 }, (err) => {
      resolve(err ? ((err as { code?: number }).code ?? 1) : 0);
    });
  });
}

test('the HEALTHCHECK script follows the port of the config it is given: 0 while it serves, 1 once stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-healthcheck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const file = join(dir, 'gateway.yaml');
  // config/docker.yaml itself, on loopback: the port comes from HOOKGATE_PORT, as in the image.
  writeFileSync(file, dockerYaml.replace(/host: 0\.0\.0\.0/g, 'host: 127.0.0.1'));
  const env = { ...ownSecrets, HOOKGATE_PORT: String(port), HOOKGATE_ADMIN_PORT: '0', HOOKGATE_CONFIG: file };
  assert.equal(await healthcheck(env), 1, 'nothing listens yet');
  const gw = startCli(file, [], env);
  t.after(() => gw.kill());
  const deadline = Date.now() + 30000;
  let code = 1;
  while (code !== 0 && Date.now() < deadline) {
    code = await healthcheck(env);
    if (gw.child.exitCode !== null) break;
  }
  assert.equal(code, 0, `healthy on ${port}; stderr: ${gw.stderr()}`);
  // Another port in the environment: the check asks that one, where nothing answers.
  assert.equal(await healthcheck({ ...env, HOOKGATE_PORT: String(await freePort()) }), 1);
  await gw.kill();
  assert.equal(await healthcheck(env), 1, 'stopped');
});
