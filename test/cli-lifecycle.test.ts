import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, startCli, type Started } from './support/cli.js';
import { closedPort, httpRequest, startUpstream, waitUntil, type HttpResult, type TestUpstream } from './support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from './support/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-cli-lifecycle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An upstream that takes requests and never answers them (until closed). */
async function hangingUpstream(): Promise<TestUpstream & { arrived: () => number }> {
  let n = 0;
  const up = await startUpstream(async () => {
    n++;
    await new Promise(() => {});
  });
  return Object.assign(up, { arrived: () => n });
}

async function startConfig(name: string, yaml: (port: number) => string): Promise<{ gw: Started; port: number }> {
  const port = await closedPort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml(port));
  const gw = startCli(file);
  await waitUntil(async () => (await answers(port, '/healthz'))?.status === 200 || gw.child.exitCode !== null, 15000, `hookgate /healthz on ${port}`);
  assert.equal(gw.child.exitCode, null, gw.stderr());
  return { gw, port };
}

const hangingRoutes = (port: number, upstream: string, drainTimeoutMs: number) => `listen: { host: 127.0.0.1, port: ${port} }
limits: { drainTimeoutMs: ${drainTimeoutMs} }
upstreams:
  hang: { targets: [ { url: "${upstream}" } ], timeoutMs: 120000 }
routes:
  - { name: slow, path: /slow, upstream: hang }
  - { name: later, path: /later, methods: [POST], deliver: { upstream: hang, timeoutMs: 120000 } }
`;

describe('hookgate start: one drain deadline, forced exit', () => {
  test('a hanging request and a hanging delivery attempt share one drain deadline, then exit 0', async () => {
    const up = await hangingUpstream();
    const drainMs = 5000;
    const { gw, port } = await startConfig('one-deadline', (p) => hangingRoutes(p, up.url, drainMs));
    try {
      const accepted = await httpRequest({ port, method: 'POST', path: '/later', body: '{}' });
      assert.equal(accepted.status, 202);
      void httpRequest({ port, path: '/slow', timeoutMs: 60000 }).catch(() => {});
      // Both at the upstream: the delivery attempt and the proxied request.
      await waitUntil(() => up.arrived() === 2, 10000, 'both requests to reach the upstream');
      const t0 = Date.now();
      assert.ok(gw.child.kill('SIGTERM'));
      const { code } = await gw.exited;
      const elapsed = Date.now() - t0;
      assert.equal(code, 0, gw.stderr());
      assert.ok(gw.logLines().some((l) => l.msg === 'hookgate stopped'));
      // Waited for the work in flight, but not once per kind: one after the other takes 2 × drainMs.
      assert.ok(elapsed >= drainMs - 100, `exited after ${elapsed} ms, before the drain deadline`);
      assert.ok(elapsed < 2 * drainMs, `exited after ${elapsed} ms: the HTTP and delivery drains were not one deadline`);
    } finally {
      await gw.kill();
      await up.close();
    }
  });

  test('a second signal while draining (SIGTERM, then SIGINT) exits 1 at once, logged', async () => {
    const up = await hangingUpstream();
    const { gw, port } = await startConfig('forced', (p) => hangingRoutes(p, up.url, 120000));
    try {
      void httpRequest({ port, path: '/slow', timeoutMs: 60000 }).catch(() => {});
      await waitUntil(() => up.arrived() === 1, 10000, 'the request to reach the upstream');
      assert.ok(gw.child.kill('SIGTERM'));
      await waitUntil(() => gw.logLines().some((l) => l.msg === 'draining'), 10000, 'the drain to start');
      assert.equal(gw.child.exitCode, null, 'still draining (the deadline is 120 s)');
      assert.ok(gw.child.kill('SIGINT'));
      const exit = await Promise.race([gw.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20000).unref())]);
      assert.deepEqual(exit, { code: 1, signal: null }, 'the second signal did not end the 120 s drain');
      assert.ok(gw.logLines().some((l) => l.code === 'HG_STOP_FORCED' && l.signal === 'SIGINT'), gw.stdout());
    } finally {
      await gw.kill();
      await up.close();
    }
  });
});

/** POSTs a JSON body in two parts; the second is sent when `finish()` is called. */
function postInTwoParts(port: number, path: string): { finish(): void; response: Promise<HttpResult> } {
  let finish!: () => void;
  const response = new Promise<HttpResult>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString(), json: () => JSON.parse(body.toString()) });
      });
    });
    req.on('error', reject);
    req.write('{"part":');
    finish = () => req.end('1}');
  });
  return { finish, response };
}

describe('hookgate start: the drain keeps what it accepts (Redis)', () => {
  test('a message accepted after the delivery workers began stopping is queued, and delivered after a restart', async () => {
    const prefix = testPrefix('ops-drain');
    const seen: string[] = [];
    const rx = await startUpstream((req, res) => {
      seen.push(String(req.headers['hookgate-message-id']));
      res.end('ok');
    });
    const [port, metricsPort] = [await closedPort(), await closedPort()];
    const file = join(dir, 'drain-accept.yaml');
    writeFileSync(
      file,
      `listen: { host: 127.0.0.1, port: ${port} }
metrics: { host: 127.0.0.1, port: ${metricsPort} }
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
limits: { drainTimeoutMs: 20000 }
upstreams:
  recv: { targets: [ { url: "${rx.url}" } ] }
routes:
  - { name: in, path: /in, methods: [POST], deliver: { upstream: recv } }
`,
    );
    let first: Started | undefined;
    let second: Started | undefined;
    try {
      first = startCli(file);
      await waitUntil(async () => (await answers(port, '/healthz'))?.status === 200 || first!.child.exitCode !== null, 15000, 'the first gateway');
      const post = postInTwoParts(port, '/in');
      const inflight = async () => /^hookgate_inflight_requests 1$/m.test((await answers(metricsPort, '/metrics'))?.text ?? '');
      await waitUntil(inflight, 10000, 'the request to be in flight');
      assert.ok(first.child.kill('SIGTERM'));
      // The workers stop while the request is still arriving (one deadline, side by side)...
      await waitUntil(() => first!.stdout().includes('delivery queue stopping'), 10000, 'the delivery workers to stop during the HTTP drain');
      post.finish();
      // ...and the message it carries is still accepted and queued.
      const r = await post.response;
      assert.equal(r.status, 202, r.text);
      const id = r.json().id as string;
      assert.deepEqual(await first.exited, { code: 0, signal: null });
      assert.ok(!seen.includes(id), 'no attempt was started while draining');

      second = startCli(file);
      await waitUntil(() => seen.includes(id), 30000, 'the queued message to be delivered after the restart');
      assert.ok(second.child.kill('SIGTERM'));
      assert.deepEqual(await second.exited, { code: 0, signal: null });
    } finally {
      await first?.kill();
      await second?.kill();
      await rx.close();
      await deleteKeys(prefix);
    }
  });
});

/** A custom plugin that answers, then fails outside any request's promise chain. */
const FAILING_PLUGIN = `
export default {
  name: 'fails-later',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  create() {
    return {
      onRequest(ctx) {
        if (ctx.path === '/throw') setTimeout(() => { throw new Error('boom from a timer'); }, 0);
        if (ctx.path === '/reject') setTimeout(() => { Promise.reject(new Error('nobody handles this')); }, 0);
        return { status: 200, body: { ok: true } };
      },
    };
  },
};
`;

describe('hookgate start: a bug is fatal', () => {
  for (const [path, kind] of [
    ['/throw', 'uncaught exception'],
    ['/reject', 'unhandled rejection'],
  ] as const) {
    test(`an ${kind} is logged with HG_FATAL, drains and exits 1`, async () => {
      writeFileSync(join(dir, 'fails-later.js'), FAILING_PLUGIN);
      const { gw, port } = await startConfig(`fatal-${path.slice(1)}`, (p) => `listen: { host: 127.0.0.1, port: ${p} }
customPlugins: [./fails-later.js]
routes:
  - { name: fail, path: /*, plugins: [ { fails-later: {} } ], respond: { status: 200 } }
`);
      try {
        const r = await httpRequest({ port, path });
        assert.equal(r.status, 200);
        const exit = await Promise.race([gw.exited, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 20000).unref())]);
        assert.deepEqual(exit, { code: 1, signal: null });
        const lines = gw.logLines();
        const fatal = lines.find((l) => l.code === 'HG_FATAL');
        assert.ok(fatal, gw.stdout());
        assert.equal(fatal.msg, kind);
        assert.match(fatal.err, /boom from a timer|nobody handles this/);
        assert.ok(lines.some((l) => l.msg === 'hookgate stopped'), 'it drained before exiting');
      } finally {
        await gw.kill();
      }
    });
  }
});
