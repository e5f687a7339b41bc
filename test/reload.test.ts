import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { httpRequest, startUpstream, waitUntil } from './support/http.js';
import { startGateway, type TestGateway } from './support/gateway.js';

/**
 * A custom plugin (plain ESM) that answers by itself with its code version, so a test can see
 * which code is serving.
 */
function stampPlugin(version: number): string {
  return `
export default {
  name: 'stamp',
  schema: { type: 'object', additionalProperties: false, properties: { tag: { type: 'string', default: 'none' } } },
  create(params) {
    return {
      onRequest() {
        return { status: 200, headers: { 'x-stamp': 'v${version}' }, body: { version: ${version}, tag: params.tag } };
      },
    };
  },
};
`;
}

/** A custom plugin that tags responses and records its close() in a process-wide list. */
const MARKER_PLUGIN = `
export default {
  name: 'marker',
  schema: { type: 'object', additionalProperties: false, required: ['tag'], properties: { tag: { type: 'string' } } },
  create(params) {
    const marks = (globalThis.__hgReloadMarks ??= { created: [], closed: [] });
    marks.created.push(params.tag);
    return {
      onResponse(_ctx, headers) {
        headers['x-tag'] = params.tag;
      },
      close() {
        marks.closed.push(params.tag);
      },
    };
  },
};
`;

function marks(): { created: string[]; closed: string[] } {
  const g = globalThis as unknown as { __hgReloadMarks?: { created: string[]; closed: string[] } };
  return (g.__hgReloadMarks ??= { created: [], closed: [] });
}

const STAMP_CONFIG = (tag: string) => `
customPlugins:
  - ./stamp.js
routes:
  - name: stamped
    path: /s
    plugins:
      - stamp: { tag: ${tag} }
    respond: { status: 500 }
`;

async function stamp(g: TestGateway): Promise<{ version: number; tag: string }> {
  const r = await g.request({ path: '/s' });
  assert.equal(r.status, 200, r.text);
  return r.json();
}

/** 1-based line of the first line of `file` containing `needle`. */
function lineOf(file: string, needle: string, nth = 1): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`"${needle}" not in ${file}`);
}

test('a custom plugin loads; changed code takes effect on POST /admin/reload and on reload("SIGHUP"), with no restart', async () => {
  const g = await startGateway(STAMP_CONFIG('a'), { files: { 'stamp.js': stampPlugin(1) } });
  try {
    assert.deepEqual(await stamp(g), { version: 1, tag: 'a' });
    const server = g.gw.address();

    writeFileSync(join(g.dir, 'stamp.js'), stampPlugin(2));
    // The file changed but nothing reloaded yet (watch is off): still the old code.
    assert.deepEqual(await stamp(g), { version: 1, tag: 'a' });
    const r = await g.admin('POST', '/admin/reload');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().reloaded, true);
    assert.equal(r.json().generation, 2);
    assert.deepEqual(await stamp(g), { version: 2, tag: 'a' });

    writeFileSync(join(g.dir, 'stamp.js'), stampPlugin(3));
    g.write(STAMP_CONFIG('b'));
    const res = await g.gw.reload('SIGHUP');
    assert.equal(res.generation, 3);
    assert.deepEqual(res.restartRequired, []);
    assert.deepEqual(await stamp(g), { version: 3, tag: 'b' });

    // Same listener throughout: no restart happened.
    assert.deepEqual(g.gw.address(), server);
  } finally {
    await g.stop();
  }
});

test('with watch: true, editing the plugin file or gateway.yaml reloads by itself', async () => {
  const g = await startGateway(STAMP_CONFIG('a'), { files: { 'stamp.js': stampPlugin(1) }, watch: true });
  try {
    assert.deepEqual(await stamp(g), { version: 1, tag: 'a' });
    writeFileSync(join(g.dir, 'stamp.js'), stampPlugin(2));
    await waitUntil(async () => (await stamp(g)).version === 2, 10000, 'the watched plugin change to be served');
    assert.equal((await stamp(g)).tag, 'a');

    g.write(STAMP_CONFIG('c'));
    await waitUntil(async () => (await stamp(g)).tag === 'c', 10000, 'the watched config change to be served');
    assert.equal((await stamp(g)).version, 2);

    // A broken edit is rejected: the last good config keeps serving.
    g.write('routes: [ { name: broken');
    await waitUntil(() => g.log.lines.some((l) => l.code === 'HG_CONFIG_INVALID' && l.trigger === 'file change'), 10000, 'the broken edit to be rejected');
    assert.deepEqual(await stamp(g), { version: 2, tag: 'c' });
  } finally {
    await g.stop();
  }
});

const GOOD = `
upstreams:
  up:
    targets: [ { url: "http://127.0.0.1:9" } ]
routes:
  - name: ok
    path: /ok
    respond: { status: 200, body: { answer: old } }
`;

/** Each invalid config, and the text on the line its error must point at. */
const INVALID: { what: string; yaml: string; at: string; nth?: number; message: RegExp }[] = [
  {
    what: 'bad YAML',
    yaml: `
routes:
  - name: ok
    path: /ok
    respond: { status: 200, body: { answer: new }
  - name: other
`,
    at: '  - name: other',
    message: /invalid YAML/,
  },
  {
    what: 'unknown plugin',
    yaml: `
routes:
  - name: ok
    path: /ok
    plugins:
      - request-id: {}
      - no-such-plugin: {}
    respond: { status: 200, body: { answer: new } }
`,
    at: 'no-such-plugin',
    message: /unknown plugin "no-such-plugin"/,
  },
  {
    what: 'bad plugin params',
    yaml: `
routes:
  - name: ok
    path: /ok
    plugins:
      - rate-limit:
          points: many
          durationSec: 1
    respond: { status: 200, body: { answer: new } }
`,
    at: 'points: many',
    message: /plugin "rate-limit".*points|points.*"many"/,
  },
  {
    what: 'missing upstream',
    yaml: `
upstreams:
  up:
    targets: [ { url: "http://127.0.0.1:9" } ]
routes:
  - name: ok
    path: /ok
    upstream: nowhere
`,
    at: 'upstream: nowhere',
    message: /unknown upstream "nowhere"/,
  },
  {
    what: 'duplicate route names',
    yaml: `
routes:
  - name: ok
    path: /ok
    respond: { status: 200, body: { answer: new } }
  - name: ok
    path: /ok2
    respond: { status: 200 }
`,
    at: 'name: ok',
    nth: 2,
    message: /duplicate route name "ok"/,
  },
  {
    what: 'schema violation',
    yaml: `
routes:
  - name: ok
    path: /ok
    respond: { status: 200, body: { answer: new } }
    bogusKey: 1
`,
    at: 'bogusKey',
    message: /unknown key "bogusKey"/,
  },
];

test('an invalid reload is rejected with 400 HG_CONFIG_INVALID at file:line, and the old config keeps serving', async () => {
  const g = await startGateway(GOOD);
  try {
    for (const c of INVALID) {
      g.write(c.yaml);
      const r = await g.admin('POST', '/admin/reload');
      assert.equal(r.status, 400, `${c.what}: ${r.text}`);
      const e = r.json().error;
      assert.equal(e.code, 'HG_CONFIG_INVALID', c.what);
      assert.ok(e.message.includes(`${g.file}:${lineOf(g.file, c.at, c.nth)}`), `${c.what}: expected ${g.file}:${lineOf(g.file, c.at, c.nth)} in "${e.message}"`);
      assert.match(e.message, c.message, c.what);
      const still = await g.request({ path: '/ok' });
      assert.equal(still.status, 200, c.what);
      assert.deepEqual(still.json(), { answer: 'old' }, `${c.what}: the old config must keep serving`);
      await assert.rejects(g.gw.reload('SIGHUP'), /HG_CONFIG_INVALID|gateway\.yaml/);
    }
    assert.equal(g.gw.snapshot!.id, 1, 'no rejected reload was swapped in');
    const metrics = await g.admin('GET', '/metrics');
    assert.match(metrics.text, new RegExp(`hookgate_reloads_total\\{result="rejected"\\} ${INVALID.length * 2}\\b`));

    // A broken custom plugin file is rejected the same way.
    g.write(`${GOOD}\ncustomPlugins: [ ./broken.js ]\n`);
    writeFileSync(join(g.dir, 'broken.js'), 'export default {{ not javascript');
    const b = await g.admin('POST', '/admin/reload');
    assert.equal(b.status, 400);
    assert.equal(b.json().error.code, 'HG_CONFIG_INVALID');
    assert.match(b.json().error.message, /broken\.js/);
    assert.deepEqual((await g.request({ path: '/ok' })).json(), { answer: 'old' });

    // Fixed: the next reload goes through.
    g.write(GOOD.replace('answer: old', 'answer: fixed'));
    const ok = await g.admin('POST', '/admin/reload');
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual((await g.request({ path: '/ok' })).json(), { answer: 'fixed' });
  } finally {
    await g.stop();
  }
});

test('in-flight requests finish on the old generation; its plugins close only after they drain', async () => {
  const held: (() => void)[] = [];
  const up = await startUpstream((req, res) => {
    held.push(() => {
      if (res.headersSent) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ from: 'upstream', url: req.url }));
    });
  });
  const tagOld = `old-${process.pid}-${Date.now()}`;
  const tagNew = `new-${process.pid}-${Date.now()}`;
  const v1 = `
customPlugins: [ ./marker.js ]
upstreams:
  slow:
    targets: [ { url: "${up.url}" } ]
routes:
  - name: r
    path: /r
    plugins:
      - marker: { tag: ${tagOld} }
    upstream: slow
`;
  const v2 = `
customPlugins: [ ./marker.js ]
routes:
  - name: r
    path: /r
    plugins:
      - marker: { tag: ${tagNew} }
    respond: { status: 200, body: { from: new-config } }
`;
  const g = await startGateway(v1, { files: { 'marker.js': MARKER_PLUGIN } });
  try {
    const inflight = g.request({ path: '/r' });
    await waitUntil(() => held.length === 1, 10000, 'the request to reach the slow upstream');
    const oldGen = g.gw.snapshot!;
    assert.equal(oldGen.inflight, 1);

    g.write(v2);
    const r = await g.admin('POST', '/admin/reload');
    assert.equal(r.status, 200, r.text);
    assert.ok(oldGen.retired);

    const fresh = await g.request({ path: '/r' });
    assert.equal(fresh.status, 200);
    assert.deepEqual(fresh.json(), { from: 'new-config' });
    assert.equal(fresh.headers['x-tag'], tagNew);
    assert.equal(up.requests.length, 1, 'new requests do not go to the old upstream');

    // The old generation still has its request: its plugin must not be closed yet.
    assert.equal(oldGen.inflight, 1);
    assert.ok(!marks().closed.includes(tagOld), 'old plugin closed while a request was in flight');

    held[0]!();
    const old = await inflight;
    assert.equal(old.status, 200);
    assert.deepEqual(old.json(), { from: 'upstream', url: '/r' });
    assert.equal(old.headers['x-tag'], tagOld, 'the in-flight request keeps the old plugins to the end');

    await waitUntil(() => marks().closed.includes(tagOld), 10000, 'the drained generation to be closed');
    assert.equal(oldGen.inflight, 0);
    assert.ok(!marks().closed.includes(tagNew), 'the serving generation is not closed');
  } finally {
    for (const h of held) h();
    await g.stop();
    await up.close();
  }
  // Stopping closes the last generation too.
  assert.ok(marks().closed.includes(tagNew));
});

test('under load, ~20 reloads drop no request', async () => {
  const up = await startUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url);
  });
  const config = (gen: string) => `
upstreams:
  app:
    targets: [ { url: "${up.url}" } ]
routes:
  - name: load
    path: /load/*
    plugins:
      - headers: { response: { add: { x-gen: "${gen}" } } }
    upstream: app
`;
  const g = await startGateway(config('a'));
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const TOTAL = 3000;
  const RELOADS = 20;
  const deadline = Date.now() + 20_000;
  let started = 0;
  let completed = 0;
  const failures: string[] = [];
  const gens = new Set<string>();
  try {
    const client = async () => {
      while (started < TOTAL && Date.now() < deadline) {
        const n = started++;
        try {
          const r = await httpRequest({ port: g.port, path: `/load/${n}`, agent });
          if (r.status !== 200 || r.text !== `/load/${n}`) failures.push(`#${n}: ${r.status} ${r.text.slice(0, 200)}`);
          gens.add(String(r.headers['x-gen']));
        } catch (err) {
          failures.push(`#${n}: ${(err as Error).message}`);
        }
        completed++;
      }
    };
    const reloader = async () => {
      for (let i = 1; i <= RELOADS; i++) {
        // Spread the reloads over the run: one every 100 completed requests.
        await waitUntil(() => completed >= i * 100 || started >= TOTAL, 20_000, `request ${i * 100}`);
        g.write(config(i % 2 ? 'b' : 'a'));
        if (i % 2) await g.gw.reload('load');
        else {
          const r = await g.admin('POST', '/admin/reload');
          assert.equal(r.status, 200, r.text);
        }
      }
    };
    await Promise.all([...Array.from({ length: 8 }, client), reloader()]);
    assert.deepEqual(failures, [], `${failures.length} of ${completed} requests failed`);
    assert.ok(completed >= 2000, `only ${completed} requests completed before the deadline`);
    assert.equal(up.requests.length, completed);
    assert.equal(g.gw.snapshot!.id, RELOADS + 1);
    assert.deepEqual([...gens].sort(), ['a', 'b'], 'both configs served during the run');
  } finally {
    agent.destroy();
    await g.stop();
    await up.close();
  }
});
