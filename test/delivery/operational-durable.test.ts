/**
 * Durable operational events: an event for the operational webhook is a system message queued
 * and retried by the delivery engine, signed with the webhook's secret. Raised while the
 * receiver is down, it survives a restart (redis store) and arrives once the receiver is back;
 * the system tenant and its target stay out of tenant and endpoint lists. A `hookgate start` child
 * killed with SIGKILL after a refused attempt loses nothing: the next instance delivers it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { SYSTEM_TENANT } from '../../gateway/delivery/system-deliveries.js';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway.js';
import { httpRequest, waitUntil } from '../support/http.js';
import { testStores } from '../support/redis.js';
import { openResources } from './resources.js';

const OPS_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const { onClose, receiver } = openResources();
const stores = testStores('operational-durable');
after(() => stores.cleanUp());

function yamlFor(store: string, opsUrl: string, egressLines = ''): string {
  return `${store}
egress:
  allowCidrs: ["127.0.0.1/32"]${egressLines}
  retry: { schedule: [0, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms, 300ms] }
  operationalWebhook: { url: "${opsUrl}/ops", secret: "${OPS_SECRET}" }
`;
}

// dist/test/delivery/ → the package root is three levels up.
const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'dist/gateway/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'hookgate-opsdurable-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A `hookgate start` child on `file`: its admin port, and a SIGKILL by pid. */
async function startChild(file: string): Promise<{ adminPort: number; kill(): Promise<void> }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOOKGATE_')) env[k] = v;
  const proc = spawn(process.execPath, [CLI, 'start', '--config', file], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  let done = false;
  void exited.then(() => (done = true));
  const kill = async () => {
    if (!done) {
      process.kill(proc.pid!, 'SIGKILL');
      await exited;
    }
  };
  onClose(kill);
  const re = /\(admin on http:\/\/[^:]+:(\d+)\)/;
  await waitUntil(() => re.test(err) || done, 20_000, 'hookgate to listen');
  const m = re.exec(err);
  if (!m) throw new Error(`hookgate did not start: ${err}`);
  return { adminPort: Number(m[1]), kill };
}

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  onClose(() => g.stop());
  return g;
}

describe('durable operational events', () => {
  test('an event raised while the receiver is down survives a restart (redis) and arrives signed once it is back', async () => {
    let up = false;
    const ops = await receiver((_req, res) => {
      res.writeHead(up ? 200 : 503).end();
    });
    const yaml = yamlFor(stores.yaml('redis'), ops.url);
    const g1 = await gatewayWith(yaml);
    const created = await g1.admin('POST', '/admin/endpoints', { id: 'ep-durable', url: 'http://127.0.0.1:9/x' });
    assert.equal(created.status, 201, created.text);
    // The webhook was tried and refused: the event waits in the queue for its retry.
    await waitUntil(() => ops.requests.length >= 1, 10_000, 'a first attempt at the operational webhook');
    await g1.stop();
    const before = ops.requests.length;
    up = true;
    const g2 = await gatewayWith(yaml);
    await waitUntil(() => ops.requests.length > before, 15_000, 'the event delivered by the restarted instance');
    const got = ops.requests.at(-1)!;
    // The official library is the oracle for the signature and its timestamp.
    const ev = new Webhook(OPS_SECRET).verify(got.body.toString('utf8'), got.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    assert.equal(ev.type, 'endpoint.created');
    assert.deepEqual(ev.data, { endpointId: 'ep-durable' });
    // Every attempt carried the same message id: receivers can deduplicate.
    assert.equal(new Set(ops.requests.map((r) => r.headers['webhook-id'])).size, 1);
    const msgs = await g2.admin('GET', '/admin/messages?limit=10');
    const sys = msgs.json().messages.find((m: { id: string }) => m.id === got.headers['webhook-id']);
    assert.ok(sys, 'the system message is listed with its attempts');
    // The attempt is recorded once the answer is in: poll for it.
    const delivery = async () => (await g2.admin('GET', `/admin/messages/${sys.id}`)).json().deliveries['sys:operational'];
    await waitUntil(async () => (await delivery()).status === 'delivered', 10_000, 'the delivery recorded');
    const attempts = (await delivery()).attempts as { status: number }[];
    assert.ok(attempts.length >= 2 && attempts[0]!.status === 503 && attempts.at(-1)!.status === 200, JSON.stringify(attempts));
    // The reserved tenant and target are no tenant and no endpoint of the API.
    const tenants = (await g2.admin('GET', '/admin/tenants')).json().tenants.map((t: { id: string }) => t.id);
    assert.ok(!tenants.includes(SYSTEM_TENANT), tenants.join());
    const endpoints = (await g2.admin('GET', '/admin/endpoints')).json().endpoints.map((e: { id: string }) => e.id);
    assert.deepEqual(endpoints, ['ep-durable']);
    const refused = await g2.admin('POST', '/admin/tenants', { id: SYSTEM_TENANT });
    assert.equal(refused.status, 400);
  });

  test('kill -9 after the first refused attempt: the next instance delivers the event, signed', async () => {
    let up = false;
    const ops = await receiver((_req, res) => void res.writeHead(up ? 200 : 503).end());
    const file = join(tmp, 'gateway.yaml');
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}" }\n${yamlFor(stores.yaml('redis'), ops.url, '\n  lockDurationMs: 1000')}`);
    const first = await startChild(file);
    const created = await httpRequest({ port: first.adminPort, method: 'POST', path: '/admin/endpoints', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'ep-killed', url: 'http://127.0.0.1:9/x' }) });
    assert.equal(created.status, 201, created.text);
    await waitUntil(() => ops.requests.length >= 1, 10_000, 'a first attempt at the operational webhook');
    // Killed perhaps before the attempt's outcome was recorded: the job is taken over once its lock (1 s) lapses.
    await first.kill();
    const before = ops.requests.length;
    up = true;
    await startChild(file);
    await waitUntil(() => ops.requests.length > before, 20_000, 'the event delivered after the kill');
    const got = ops.requests.at(-1)!;
    const ev = new Webhook(OPS_SECRET).verify(got.body.toString('utf8'), got.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    assert.deepEqual([ev.type, ev.data], ['endpoint.created', { endpointId: 'ep-killed' }]);
  });

  test('memory store: events go through the queue too, retried until the receiver answers 2xx', async () => {
    let answers = 0;
    const ops = await receiver((_req, res) => {
      answers++;
      res.writeHead(answers <= 2 ? 500 : 204).end();
    });
    const g = await gatewayWith(yamlFor(stores.yaml('memory'), ops.url));
    await g.admin('POST', '/admin/endpoints', { id: 'ep-mem', url: 'http://127.0.0.1:9/x' });
    await waitUntil(() => answers >= 3, 10_000, 'the third attempt');
    const wh = new Webhook(OPS_SECRET);
    for (const r of ops.requests) assert.equal((wh.verify(r.body.toString('utf8'), r.headers as Record<string, string>) as { type: string }).type, 'endpoint.created');
  });
});
