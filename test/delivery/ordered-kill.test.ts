/**
 * Ordered delivery survives kill -9 with the redis store: a `hookgate start` child delivering
 * 20 keys × 15 messages to an `ordering: per-key` endpoint (attempts failing at random) is
 * killed with SIGKILL mid-delivery and started again. Every message is delivered, and no key
 * ever receives an older message after a newer one: the only duplicate allowed is the message
 * the receiver saw last (its worker died before the done was written), sent again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { QueueKeys } from '../../gateway/delivery/stream-scripts.js';
import { startCli, type Started } from '../support/cli.js';
import { ADMIN_TOKEN } from '../support/gateway.js';
import { httpRequest, startUpstream, waitUntil } from '../support/http.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../support/redis.js';
import { seeded } from '../support/seeded.js';

const tmp = mkdtempSync(join(tmpdir(), 'hookgate-ordered-kill-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts the CLI and waits for its "listening" line; the public port from it. */
async function start(file: string): Promise<Started & { port: number }> {
  const c = startCli(file);
  let exited = false;
  void c.exited.then(() => (exited = true));
  const re = /listening on http:\/\/[^:]+:(\d+) \(admin on http:\/\/[^:]+:(\d+)\)/;
  await waitUntil(() => re.test(c.stderr()) || exited, 20000, 'hookgate to listen');
  const m = re.exec(c.stderr());
  if (!m) throw new Error(`hookgate did not start: ${c.stderr()}\n${c.stdout().slice(-4000)}`);
  return { ...c, port: Number(m[1]) };
}

describe('ordered delivery and kill -9 (redis)', () => {
  it('keeps every key in publish order and loses nothing across a SIGKILL mid-delivery', async () => {
    const prefix = testPrefix('ordered-kill');
    const rand = seeded(99);
    const arrivals = new Map<string, number[]>();
    const delivered = new Set<string>();
    // Each request is held ~15 ms (and until every message is published); 15 % of attempts fail.
    let open = false;
    const gated: (() => void)[] = [];
    const rx = await startUpstream((req, res) => {
      const { data } = JSON.parse(req.body.toString()) as { data: { key: string; n: number } };
      arrivals.set(data.key, [...(arrivals.get(data.key) ?? []), data.n]);
      const fail = rand() < 0.15;
      const answer = () =>
        setTimeout(() => {
          if (!fail) delivered.add(`${data.key}/${data.n}`);
          res.writeHead(fail ? 500 : 200).end();
        }, 15);
      if (open) answer();
      else gated.push(answer);
    });
    const file = join(tmp, 'ordered.yaml');
    writeFileSync(
      file,
      `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}" }
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  lockDurationMs: 2000
  maxInFlightPerEndpoint: 64
  # Random failures are the point here, not the breaker: five in a row would hold the endpoint for 30 s.
  breaker: { enabled: false }
  retry: { schedule: [0, "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms", "20ms"] }
  endpoints:
    - { id: ordered, url: "${rx.url}/hook", ordering: per-key }
`,
    );
    const KEYS = 20;
    const PER_KEY = 15;
    let c1: (Started & { port: number }) | undefined;
    let c2: (Started & { port: number }) | undefined;
    try {
      c1 = await start(file);
      // Each key's messages one after the other (publish order), the keys side by side.
      await Promise.all(
        Array.from({ length: 5 }, async (_, w) => {
          for (let n = 0; n < PER_KEY; n++) {
            for (let k = w; k < KEYS; k += 5) {
              const body = JSON.stringify({ type: 'order.updated', data: { key: `k${k}`, n }, orderingKey: `k${k}` });
              const r = await httpRequest({ port: c1!.port, method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body });
              assert.equal(r.status, 202, r.text);
            }
          }
        }),
      );
      open = true;
      for (const answer of gated.splice(0)) answer();
      await waitUntil(() => delivered.size >= 60, 30000, 'some deliveries');
      c1.child.kill('SIGKILL');
      assert.equal((await c1.exited).signal, 'SIGKILL');
      const atKill = delivered.size;
      assert.ok(atKill < KEYS * PER_KEY, `killed mid-delivery (${atKill} of ${KEYS * PER_KEY} delivered)`);

      c2 = await start(file);
      await waitUntil(() => delivered.size >= KEYS * PER_KEY, 40000, 'every message delivered after the restart');
      for (let k = 0; k < KEYS; k++) {
        const seen = arrivals.get(`k${k}`)!;
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `k${k}: message ${seen[i]} arrived after ${seen[i - 1]} (${seen.join(',')})`);
      }
      // Nothing of the keys is left in Redis once they drained.
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        const lists = Array.from({ length: KEYS }, (_, k) => new QueueKeys(prefix).ordered('ordered', `k${k}`));
        await waitUntil(async () => (await redis.exists(...lists)) === 0, 10000, 'the key lists gone');
      } finally {
        redis.disconnect();
      }
      c2.child.kill('SIGTERM');
      assert.equal((await c2.exited).code, 0);
    } finally {
      await c1?.kill();
      await c2?.kill();
      await rx.close();
      await deleteKeys(prefix);
    }
  });
});
