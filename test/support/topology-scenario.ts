/**
 * The scenarios the topology tests run on each Redis topology, against `hookgate start` children
 * (so kill -9 is a real process kill): shared rate limits and replay windows, publish on one
 * instance and delivery by the other, a killed instance, and a failover under load.
 * {@link describeTopology} is the suite every failover topology shares.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, type Started } from './cli.js';
import { ADMIN_TOKEN } from './gateway.js';
import { httpRequest, startUpstream, waitUntil, type TestUpstream } from './http.js';

export const SIGNING_SECRET = 'topology-test-signing-secret';

/** A running hookgate child with its ports. */
export interface Instance {
  started: Started;
  port: number;
  adminPort: number;
}

/** The receiver: every delivery's message id, in arrival order (duplicates kept). */
export interface Receiver {
  rx: TestUpstream;
  seen: string[];
  /** Answer delay in ms (a slow receiver keeps deliveries in flight). */
  delayMs: number;
  /** The ordered endpoint (`/ordered`): `data.n` of each delivery it answered 200, in arrival order. */
  ordered: number[];
  /** `data.n` values the ordered endpoint refused once (500) so far. */
  refusedOnce: Set<number>;
}

/** A receiver not started yet (its `rx` is set by {@link startReceiver}), for a suite to hand out before its hooks run. */
export function newReceiver(delayMs = 0): Receiver {
  return { rx: undefined as unknown as TestUpstream, seen: [], delayMs, ordered: [], refusedOnce: new Set() };
}

/** Starts the receiver's server (into `r` when given). */
export async function startReceiver(delayMs = 0, r: Receiver = newReceiver(delayMs)): Promise<Receiver> {
  r.rx = await startUpstream((req, res) => {
    if (req.url === '/ordered') {
      const n = (JSON.parse(req.body.toString()) as { data: { n: number } }).data.n;
      // The first message fails once: its retry goes through the delayed set and the promotion.
      if (n === 0 && !r.refusedOnce.has(n)) {
        r.refusedOnce.add(n);
        res.statusCode = 500;
        return void res.end('try again');
      }
      r.ordered.push(n);
      return void res.end('ok');
    }
    r.seen.push(String(req.headers['webhook-id'] ?? req.headers['hookgate-message-id']));
    setTimeout(() => res.end('ok'), r.delayMs);
  });
  return r;
}

/** A config on `store` (a YAML flow mapping) delivering to the receiver; `concurrency` 0 = queue only. */
export function writeConfig(dir: string, name: string, store: string, rxUrl: string, concurrency: number): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}" }
store: ${store}
upstreams:
  recv: { targets: [ { url: "${rxUrl}" } ], timeoutMs: 10000 }
egress:
  allowCidrs: ["127.0.0.1/32"]
  concurrency: ${concurrency}
  lockDurationMs: 2000
  retry: { schedule: ["0ms", "200ms", "500ms", "1s", "1s", "2s", "2s", "2s"] }
  endpoints:
    - { id: rx, url: "${rxUrl}/hook", events: ["topology.*"], secret: "whsec_dG9wb2xvZ3ktdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==" }
    - { id: ordered, url: "${rxUrl}/ordered", events: ["ordered.*"], ordering: per-key, secret: "whsec_dG9wb2xvZ3ktdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==" }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
  - name: in
    path: /in
    methods: [POST]
    deliver: { upstream: recv, retry: { schedule: ["0ms", "200ms", "500ms", "1s", "1s", "2s", "2s", "2s"] } }
  - name: limited
    path: /limited
    methods: [POST]
    plugins:
      - rate-limit: { by: route, points: 5, durationSec: 300 }
    deliver: { upstream: recv }
  - name: signed
    path: /signed
    methods: [POST]
    plugins:
      - verify-signature: { preset: github, secrets: ["${SIGNING_SECRET}"] }
    deliver: { upstream: recv }
`,
  );
  return file;
}

/** Starts `hookgate start` on a config and waits for its listening line. */
export async function startInstance(file: string): Promise<Instance> {
  const started = startCli(file);
  let done = false;
  void started.exited.then(() => (done = true));
  const re = /listening on http:\/\/[^:]+:(\d+) \(admin on http:\/\/[^:]+:(\d+)\)/;
  await waitUntil(() => re.test(started.stderr()) || done, 30000, 'hookgate to listen');
  const m = re.exec(started.stderr());
  if (!m) {
    await started.kill();
    throw new Error(`hookgate did not start: ${started.stderr()}\n${started.stdout().slice(-4000)}`);
  }
  const port = Number(m[1]);
  // Listening is not ready: on Cluster the queue's and the replica WAIT's connections may still be loading slots.
  await waitUntil(async () => (await httpRequest({ port, method: 'GET', path: '/readyz', timeoutMs: 2000 }).catch(() => undefined))?.status === 200, 30000, 'hookgate /readyz');
  return { started, port, adminPort: Number(m[2]) };
}

/** One request; undefined when the connection failed (an instance killed, a timeout). */
export async function post(i: Instance, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; id?: string; code?: string; headers: Record<string, unknown> } | undefined> {
  try {
    const r = await httpRequest({ port: i.port, method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body, timeoutMs: 10000 });
    const id = r.status === 202 ? (r.json().id as string) : undefined;
    const code = r.status >= 400 ? (JSON.parse(r.text || '{}') as { error?: { code?: string } }).error?.code : undefined;
    return { status: r.status, id, code, headers: r.headers };
  } catch {
    return undefined;
  }
}

export const publish = (i: Instance, n: number, key?: string) => post(i, '/events', JSON.stringify({ type: 'topology.test', data: { n } }), key ? { 'idempotency-key': key } : {});
export const ingress = (i: Instance, n: number) => post(i, '/in', JSON.stringify({ n }));

/** The rate limit and the replay window of two instances are one. */
export async function assertSharedIngressState(a: Instance, b: Instance): Promise<void> {
  // /readyz 200 means an accept succeeds: the first one of each instance is asserted, not retried.
  for (const i of [a, b]) {
    const first = await publish(i, -100);
    assert.equal(first?.status, 202, `the first publish of a fresh instance is accepted: ${first?.status} ${first?.code ?? ''}; ${problems(i)}`);
  }
  const statuses: number[] = [];
  for (let n = 0; n < 6; n++) statuses.push((await post(n % 2 ? b : a, '/limited', JSON.stringify({ n })))!.status);
  assert.deepEqual(statuses.filter((s) => s === 202).length, 5, `5 of 6 pass a shared limit of 5: ${statuses.join(',')}`);
  assert.equal(statuses[5], 429, 'the sixth, on the other instance, is limited');

  const body = JSON.stringify({ replay: Date.now() });
  const sig = `sha256=${createHmac('sha256', SIGNING_SECRET).update(body).digest('hex')}`;
  const first = await post(a, '/signed', body, { 'x-hub-signature-256': sig });
  assert.equal(first?.status, 202, 'the first signed request is queued');
  // The first instance marks the message done just after its 202 (verify-signature's onLog): a
  // replay that overtakes that write is 409 HG_DUPLICATE_IN_FLIGHT, and the provider sends it
  // again, as here. It must never be forwarded (202).
  const replies: Awaited<ReturnType<typeof post>>[] = [];
  await waitUntil(async () => {
    const r = await post(b, '/signed', body, { 'x-hub-signature-256': sig });
    replies.push(r);
    return r?.status !== 409;
  }, 10000, 'the replay to be answered other than 409 in flight');
  const answers = replies.map((r) => `${r?.status} ${r?.code ?? ''}`.trim());
  const again = replies.at(-1);
  assert.equal(again?.status, 200, `its replay on the other instance is a duplicate: ${answers.join(', ')}`);
  assert.equal(again?.headers['hookgate-duplicate'], 'true');
  assert.ok(answers.slice(0, -1).every((a) => a === '409 HG_DUPLICATE_IN_FLIGHT'), `only in-flight refusals before: ${answers.join(', ')}`);
}

/**
 * Ordered delivery and retries on this topology (the scripts that derive keys from the queue's
 * tagged base: ordering lists, the retry lanes): three messages of one key, the first failing
 * once, arrive in publish order.
 */
export async function assertOrderedWithRetry(pub: Instance, rx: Receiver): Promise<void> {
  for (let n = 0; n < 3; n++) {
    const r = await post(pub, '/events', JSON.stringify({ type: 'ordered.step', orderingKey: 'order-1', data: { n } }));
    assert.equal(r?.status, 202);
  }
  await waitUntil(() => rx.ordered.length >= 3, 20000, 'the ordered messages');
  assert.deepEqual(rx.ordered, [0, 1, 2], 'in publish order, the first after its retry');
  assert.ok(rx.refusedOnce.has(0), 'the first was refused once');
}

/** Ids accepted that the receiver never saw. */
export function lost(accepted: Iterable<string>, rx: Receiver): string[] {
  const seen = new Set(rx.seen);
  return [...accepted].filter((id) => !seen.has(id));
}

/**
 * Load: `total` items, half publishes through `pub` (each with its own Idempotency-Key), half
 * ingress through `ing`, `parallel` at a time. A refused item is sent again (as a client would,
 * 100 ms later) until it is acknowledged or `itemDeadlineMs` passes.
 */
export interface LoadResult {
  accepted: Set<string>;
  /** The accepted ids that were publishes (the rest are ingress), to say which kind a loss was. */
  published: Set<string>;
  /** Refused attempts by answer (`503 HG_...`, `no answer`). */
  refused: Map<string, number>;
  /** Items never acknowledged. */
  gaveUp: number;
  sent: number;
}

export async function runLoad(pub: Instance, ing: Instance, total: number, parallel: number, onProgress: (sent: number) => void | Promise<void>, itemDeadlineMs = 20000, loadDeadlineMs = 120_000): Promise<LoadResult> {
  // Past the load's deadline no new item starts: a store that never accepts again ends in a report, not a test timeout.
  const stopAt = Date.now() + loadDeadlineMs;
  const res: LoadResult = { accepted: new Set(), published: new Set(), refused: new Map(), gaveUp: 0, sent: 0 };
  const run = Math.random().toString(36).slice(2, 8);
  let next = 0;
  const worker = async () => {
    while (next < total && Date.now() < stopAt) {
      const n = next++;
      const end = Date.now() + itemDeadlineMs;
      for (;;) {
        const r = n % 2 ? await ingress(ing, n) : await publish(pub, n, `load-${run}-${n}`);
        if (r?.status === 202 && r.id) {
          res.accepted.add(r.id);
          if (n % 2 === 0) res.published.add(r.id);
          break;
        }
        const why = r ? `${r.status} ${r.code ?? ''}`.trim() : 'no answer';
        res.refused.set(why, (res.refused.get(why) ?? 0) + 1);
        if (Date.now() > end) {
          res.gaveUp++;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      res.sent++;
      await onProgress(res.sent);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return res;
}

/** What a failover run came to, for the console and the README. */
export function report(topology: string, durability: string, load: LoadResult, rx: Receiver, ms: number): string {
  const l = lost(load.accepted, rx);
  const refused = [...load.refused].map(([k, v]) => `${v}×${k}`).join(', ') || 'none';
  return `[topology] ${topology}, durability ${durability}: items ${load.sent}, acknowledged ${load.accepted.size}, never acknowledged ${load.gaveUp}, refused attempts ${refused}, delivered ${load.accepted.size - l.length}, lost ${l.length}${l.length ? ` (${l.filter((id) => load.published.has(id)).length} publish: ${l.join(' ')})` : ''}, duplicates ${rx.seen.length - new Set(rx.seen).size}, failover run ${ms} ms`;
}

const LEVELS: Record<string, number> = { warn: 40, error: 50, fatal: 60 };

/** An instance's warnings and errors (log level 40 and up, numeric or named), for a failure message. */
export function problems(i: Instance): string {
  return i.started
    .logLines()
    .filter((l) => (typeof l.level === 'number' ? l.level : LEVELS[String(l.level)] ?? 0) >= 40)
    .slice(-8)
    .map((l) => `${String(l.msg)} ${String(l.err ?? '')}`)
    .join(' | ');
}

/** What a topology's own tests get from {@link describeTopology}. */
export interface TopologySuite {
  /** The suite's receiver (started before the first test). */
  rx: Receiver;
  /** A `hookgate start` on the topology with `prefix`, `concurrency` workers and `durability`; killed after the suite. */
  instance(name: string, prefix: string, concurrency: number, durability?: string): Promise<Instance>;
}

export interface TopologySpec<T extends { stop(): Promise<void> }> {
  /** Starts the Redis topology (once, before the first test). */
  start: () => Promise<T>;
  /** The topology's part of a `store` flow mapping, e.g. `cluster: { nodes: [...] }`. */
  store: (topo: T) => string;
  /** Key prefixes of this file's tests begin with it (`hgc` → `hgc1:`, `hgc2:`). */
  prefix: string;
  timeoutMs: number;
}

/**
 * The suite every failover topology runs, as `describe(name)`: two instances share the rate limit
 * and the replay window and one delivers what the other accepts, and a delivering instance killed
 * -9 loses nothing. `own` registers the file's own tests (its failover) after these, in the same
 * suite, with the same receiver and instances.
 */
export function describeTopology<T extends { stop(): Promise<void> }>(name: string, spec: TopologySpec<T>, own: (suite: TopologySuite) => void): void {
  const tmp = mkdtempSync(join(tmpdir(), `hookgate-${spec.prefix}-test-`));
  let topo: T | undefined;
  const rx = newReceiver();
  const instances = new Set<Instance>();
  const instance = async (iname: string, prefix: string, concurrency: number, durability = 'replicated'): Promise<Instance> => {
    const store = `{ driver: redis, prefix: "${prefix}", ${spec.store(topo!)}, durability: ${durability}, waitTimeoutMs: 2000 }`;
    const i = await startInstance(writeConfig(tmp, `${iname}-${prefix.replace(/\W/g, '')}`, store, rx.rx.url, concurrency));
    instances.add(i);
    return i;
  };

  describe(name, { timeout: spec.timeoutMs }, () => {
    before(async () => {
      topo = await spec.start();
      await startReceiver(0, rx);
    });
    after(async () => {
      for (const i of instances) await i.started.kill();
      await rx.rx?.close();
      await topo?.stop();
      rmSync(tmp, { recursive: true, force: true });
    });

    it('shares the rate limit and the replay window; what one instance accepts the other delivers', async () => {
      const a = await instance('a', `${spec.prefix}1:`, 0);
      const b = await instance('b', `${spec.prefix}1:`, 8);
      await assertSharedIngressState(a, b);
      await assertOrderedWithRetry(a, rx);
      const ids: string[] = [];
      for (let n = 0; n < 20; n++) {
        const r = await (n % 2 ? ingress(a, n) : publish(a, n));
        assert.equal(r?.status, 202);
        ids.push(r!.id!);
      }
      // a is queue-only (egress.concurrency 0): b delivers everything a accepted.
      await waitUntil(() => lost(ids, rx).length === 0, 20000, 'b to deliver what a accepted');
    });

    it('loses nothing when the delivering instance is killed -9 mid-delivery', async () => {
      rx.delayMs = 40;
      const a = await instance('a', `${spec.prefix}2:`, 0);
      const b = await instance('b', `${spec.prefix}2:`, 4);
      const ids: string[] = [];
      for (let n = 0; n < 80; n++) ids.push((await publish(a, n))!.id!);
      const base = rx.seen.length;
      await waitUntil(() => rx.seen.length - base >= 10, 20000, 'some deliveries');
      await b.started.kill();
      assert.ok(lost(ids, rx).length > 0, 'killed mid-delivery');
      const b2 = await instance('b2', `${spec.prefix}2:`, 4);
      await waitUntil(() => lost(ids, rx).length === 0, 30000, 'every accepted message delivered after the kill').catch((err) => {
        throw new Error(`${(err as Error).message}: ${lost(ids, rx).length} lost; ${problems(b2)}`);
      });
      rx.delayMs = 0;
    });

    own({ rx, instance });
  });
}
