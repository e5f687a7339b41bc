import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { UpstreamPool } from '../gateway/upstream.js';
import { closedPort, startUpstream, waitUntil } from './support/http.js';
import { definePlugin } from '../gateway/plugin-api.js';
import { startGateway } from './support/gateway.js';
import { proxyYaml, withGateway } from './support/proxy.js';
import type { Listeners } from '../gateway/listener.js';

/** Upstream health: target choice, ejection and return, timeouts, and upstreams or clients that fail mid-exchange. */

test('UpstreamPool: SWRR order, ejection after consecutive failures, return after ejectMs (injected clock)', async () => {
  let now = 1_000_000;
  const u = new UpstreamPool(
    'u',
    { targets: [{ url: 'http://127.0.0.1:1', weight: 5 }, { url: 'http://127.0.0.1:2', weight: 1 }, { url: 'http://127.0.0.1:3', weight: 1 }], timeoutMs: 1000, ejectAfterFailures: 3, ejectMs: 5000, maxSockets: 4 },
    () => now,
  );
  try {
    const [t1, t2, t3] = u.targets as [typeof u.targets[0], typeof u.targets[0], typeof u.targets[0]];
    // nginx's smooth weighted round-robin for 5,1,1: a a b a c a a.
    const seq = Array.from({ length: 7 }, () => u.pick().url.slice(-1)).join('');
    assert.equal(seq, '1121311');

    // Two failures, then a success: the counter resets, no ejection.
    u.reportConnectFailure(t2);
    u.reportConnectFailure(t2);
    u.reportSuccess(t2);
    u.reportConnectFailure(t2);
    u.reportConnectFailure(t2);
    assert.equal(t2.ejectedUntil, 0);
    u.reportConnectFailure(t2); // third in a row → ejected
    assert.equal(t2.ejectedUntil, now + 5000);
    for (let i = 0; i < 70; i++) assert.notEqual(u.pick(), t2, 'an ejected target is never picked');

    now += 4999;
    for (let i = 0; i < 70; i++) assert.notEqual(u.pick(), t2);
    now += 1;
    const picks = Array.from({ length: 70 }, () => u.pick());
    assert.equal(picks.filter((p) => p === t2).length, 10, 'back after ejectMs with its full share (1/7)');
    assert.equal(picks.filter((p) => p === t1).length, 50);

    // Everything ejected: pick the one that comes back soonest rather than failing.
    for (let i = 0; i < 3; i++) u.reportConnectFailure(t1);
    now += 10;
    for (let i = 0; i < 3; i++) u.reportConnectFailure(t2);
    now += 10;
    for (let i = 0; i < 3; i++) u.reportConnectFailure(t3);
    assert.equal(u.pick(), t1);
  } finally {
    await u.close();
  }
});

/** A server on a chosen port that answers 200 and counts its requests. */
async function listenOn(port: number): Promise<{ server: Server; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    req.resume();
    res.end('revived');
  });
  await new Promise<void>((r, j) => {
    server.once('error', j);
    server.listen(port, '127.0.0.1', () => r());
  });
  return {
    server,
    hits: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

test('a refused target is ejected after consecutive connect failures; the healthy one keeps serving', async () => {
  const healthy = await startUpstream();
  const dead = await closedPort();
  try {
    const extra = '    ejectAfterFailures: 2\n    ejectMs: 600000';
    await withGateway(proxyYaml([{ url: healthy.url }, { url: `http://127.0.0.1:${dead}` }], extra), async (g) => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await g.request({ path: '/api/x' })).status);
      // 1:1 round-robin: healthy, dead, healthy, dead → the dead target has failed twice → ejected.
      assert.deepEqual(statuses, [200, 502, 200, 502]);
      for (let i = 0; i < 20; i++) assert.equal((await g.request({ path: '/api/y' })).status, 200);
      assert.equal(healthy.requests.length, 22);
      const t = g.gw.snapshot!.upstreams.get('main')!.targets[1]!;
      assert.ok(t.ejectedUntil > Date.now());
    });
  } finally {
    await healthy.close();
  }
});

test('an ejected target comes back by itself once ejectMs has passed', async () => {
  const healthy = await startUpstream();
  const dead = await closedPort();
  let revived: Awaited<ReturnType<typeof listenOn>> | undefined;
  try {
    const extra = '    ejectAfterFailures: 1\n    ejectMs: 300';
    await withGateway(proxyYaml([{ url: `http://127.0.0.1:${dead}` }, { url: healthy.url }], extra), async (g) => {
      const first = await g.request({ path: '/api/x' });
      assert.equal(first.status, 502);
      assert.equal(first.json().error.code, 'HG_UPSTREAM_UNAVAILABLE');
      const target = g.gw.snapshot!.upstreams.get('main')!.targets[0]!;
      assert.ok(target.ejectedUntil > 0, 'ejected after one failure');
      revived = await listenOn(dead);
      // Keep sending; once the ejection expires the target is picked again and reaches the new server.
      await waitUntil(async () => {
        const r = await g.request({ path: '/api/z' });
        assert.equal(r.status, 200);
        return revived!.hits() > 0;
      }, 10000, 'the ejected target to be used again');
    });
  } finally {
    await revived?.close();
    await healthy.close();
  }
});

test('an upstream slower than timeoutMs → 504 HG_UPSTREAM_TIMEOUT', async () => {
  const held: (() => void)[] = [];
  const up = await startUpstream((_req, res) => {
    held.push(() => res.end('late'));
  });
  try {
    await withGateway(proxyYaml([{ url: up.url }], '    timeoutMs: 150'), async (g) => {
      const r = await g.request({ path: '/api/slow' });
      assert.equal(r.status, 504);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.json().error.code, 'HG_UPSTREAM_TIMEOUT');
      assert.equal(up.requests.length, 1, 'the request did reach the upstream');
    });
  } finally {
    for (const h of held) h();
    await up.close();
  }
});

test('an upstream that dies mid-response cuts the client connection; nothing stays in flight', async () => {
  const up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write('partial');
    // Flush the head and the first bytes, then die.
    setImmediate(() => res.socket?.destroy());
  });
  try {
    await withGateway(proxyYaml([{ url: up.url }]), async (g) => {
      // The client must see its connection cut (not wait for bytes that will never come).
      const outcome = await g.request({ path: '/api/die', timeoutMs: 8000 }).then(
        (r) => `status ${r.status}, ${r.body.length} bytes`,
        (err: Error) => `error ${err.message}`,
      );
      assert.notEqual(outcome, 'error test request timed out', 'the client was left hanging');
      assert.match(outcome, /^error (aborted|socket hang up)|^status 200, 7 bytes$/);
      await waitUntil(() => g.gw.snapshot!.inflight === 0, 5000, 'the request to leave the in-flight count');
      // The gateway is fine afterwards.
      assert.equal((await g.request({ path: '/healthz' })).status, 200);
    });
  } finally {
    await up.close();
  }
});

test('a client that gives up mid-proxy releases the upstream request and the in-flight count', async () => {
  let upstreamClosed = false;
  const held: (() => void)[] = [];
  const up = await startUpstream((_req, res, raw) => {
    raw.socket.once('close', () => (upstreamClosed = true));
    held.push(() => res.end('late'));
  });
  try {
    await withGateway(proxyYaml([{ url: up.url }]), async (g) => {
      const aborted = g.request({ path: '/api/abandon', timeoutMs: 60000 });
      await waitUntil(() => held.length === 1, 5000, 'the request to reach the upstream');
      assert.equal(g.gw.snapshot!.inflight, 1);
      // Cut the client side: destroy every connection the gateway holds from clients.
      (g.gw as unknown as { listeners: Listeners }).listeners.closeAll();
      await assert.rejects(aborted);
      await waitUntil(() => g.gw.snapshot!.inflight === 0, 5000, 'the in-flight count to drop');
      await waitUntil(() => upstreamClosed, 5000, 'the upstream request to be aborted');
      const target = g.gw.snapshot!.upstreams.get('main')!.targets[0]!;
      assert.equal(target.consecutiveFailures, 0, "a client's hang-up is not the upstream's failure");
      assert.equal(target.ejectedUntil, 0);
    });
  } finally {
    for (const h of held) h();
    await up.close();
  }
});

test('a refused upstream → 502 HG_UPSTREAM_UNAVAILABLE', async () => {
  const dead = await closedPort();
  await withGateway(proxyYaml([{ url: `http://127.0.0.1:${dead}` }]), async (g) => {
    const r = await g.request({ method: 'POST', path: '/api/x', body: 'payload' });
    assert.equal(r.status, 502);
    const e = r.json().error;
    assert.equal(e.code, 'HG_UPSTREAM_UNAVAILABLE');
    assert.match(e.message, /ECONNREFUSED/);
  });
});


test('a request undici refuses (a header a plugin set that HTTP forbids) is a 502 that does not count against the target', async () => {
  const up = await startUpstream();
  const badHeader = definePlugin({
    name: 'bad-header',
    schema: { type: 'object' },
    create: () => ({
      onRequest(ctx) {
        ctx.headers['x-bad'] = 'a\r\nb';
      },
    }),
  });
  const g = await startGateway(`upstreams:\n  main: { targets: [ { url: "${up.url}" } ], ejectAfterFailures: 1 }\nroutes:\n  - name: api\n    path: /api/*\n    plugins: [ { bad-header: {} } ]\n    upstream: main\n`, { plugins: [badHeader] });
  try {
    const r = await g.request({ path: '/api/x' });
    assert.equal(r.status, 502);
    assert.equal(r.json().error.code, 'HG_UPSTREAM_UNAVAILABLE');
    const target = g.gw.snapshot!.upstreams.get('main')!.targets[0]!;
    assert.equal(target.ejectedUntil, 0, 'not ejected');
    assert.equal(target.consecutiveFailures, 0);
    assert.equal(up.requests.length, 0);
  } finally {
    await g.stop();
    await up.close();
  }
});
