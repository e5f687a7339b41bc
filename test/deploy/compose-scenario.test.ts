import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../gateway/paths.js';
import { startCli, type Started } from '../support/cli.js';
import { httpRequest } from '../support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';

// deploy/compose.yaml's scenario without containers: the demo receiver and two hookgate
// processes on deploy/gateway.yaml, with the compose network's names moved to loopback and the
// machine's Redis under a prefix of this test's own.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('compose scenario: ingress into one instance and a publish into the other both reach the receiver through one Redis', async (t) => {
  const prefix = testPrefix('compose');
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-compose-'));
  t.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deleteKeys(prefix);
  });

  const receiver = spawn(process.execPath, [join(packageRoot, 'deploy', 'demo-receiver.mjs')], { env: { ...process.env, HOST: '127.0.0.1', PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (receiver.exitCode === null) receiver.kill('SIGKILL');
  });
  let out = '';
  receiver.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const lines = (): Record<string, any>[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
  const receiverPort = await until('the receiver', () => lines().find((l) => l.msg === 'demo receiver listening')?.port as number | undefined);

  const text = readFileSync(join(packageRoot, 'deploy', 'gateway.yaml'), 'utf8');
  const env = { HOOKGATE_ADMIN_TOKEN: 'a-long-admin-token', PUBLISHER_API_KEY: 'pk-compose-123' };
  const gateways: { port: number; gw: Started }[] = [];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const yaml = text
      .replace('listen: { host: 0.0.0.0, port: 8080 }', `listen: { host: 127.0.0.1, port: ${port} }`)
      .replace('admin:  { host: 0.0.0.0, port: 8081,', 'admin:  { host: 127.0.0.1, port: 0,')
      .replace('url: "redis://redis:6379", prefix: "hookgate:"', `url: "${REDIS_URL}", prefix: "${prefix}"`)
      .replaceAll('http://receiver:9000', `http://127.0.0.1:${receiverPort}`)
      .replace('allowCidrs: ["172.28.0.0/24"]', 'allowCidrs: ["127.0.0.1/32"]');
    assert.ok(!/0\.0\.0\.0|redis:6379|receiver:9000|172\.28/.test(yaml), 'every compose address was moved to loopback');
    const file = join(dir, `gateway-${name}.yaml`);
    writeFileSync(file, yaml);
    const gw = startCli(file, [], env);
    t.after(() => gw.kill());
    gateways.push({ port, gw });
  }
  for (const { port, gw } of gateways) {
    await until(`instance on ${port} ready (${gw.stderr()})`, async () => {
      if (gw.child.exitCode !== null) throw new Error(`exited: ${gw.stderr()}`);
      const r = await httpRequest({ port, path: '/readyz', timeoutMs: 2000 }).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    });
  }
  const a = gateways[0]!;
  const b = gateways[1]!;

  const json = { 'content-type': 'application/json' };
  const ingress = await httpRequest({ port: a.port, method: 'POST', path: '/webhook/v1/inbox', headers: json, body: '{"n":1}' });
  assert.equal(ingress.status, 202, ingress.body.toString());
  const publish = await httpRequest({
    port: b.port,
    method: 'POST',
    path: '/events',
    headers: { ...json, apikey: env.PUBLISHER_API_KEY },
    body: JSON.stringify({ type: 'invoice.paid', data: { id: 'in_1', amount: 4200 } }),
  });
  assert.equal(publish.status, 202, publish.body.toString());

  const got = await until('both deliveries at the receiver', () => {
    const hooks = lines().filter((l) => l.method === 'POST');
    return hooks.length >= 2 ? hooks : undefined;
  });
  const ingressed = got.find((l) => l.body === '{"n":1}');
  const published = got.find((l) => l.url === '/events');
  assert.ok(ingressed, JSON.stringify(got));
  assert.ok(published, JSON.stringify(got));
  assert.equal(published.signed, true, 'egress is signed');
  assert.match(published.body, /in_1/);
});
