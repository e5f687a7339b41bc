import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BAD_CONFIGS, BASE, markedLine } from './support/bad-configs.js';
import { answers, refused, ROOT, run, startCli } from './support/cli.js';
import { closedPort, httpRequest, startUpstream, waitUntil } from './support/http.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-cli-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('hookgate CLI: help, version, validate', () => {
  test('--help prints the usage and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage:/);
    assert.match(r.stdout, /hookgate start\s+\[--config\] <gateway\.yaml> \[--allow-example-secrets\]/);
    assert.match(r.stdout, /hookgate validate \[--config\] <gateway\.yaml>/);
    assert.equal(r.stderr, '');
  });

  test('no command prints the usage too', async () => {
    const r = await run([]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage:/);
  });

  test('--version prints the package.json version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  });

  test('an unknown command or option exits non-zero with the usage on stderr', async () => {
    const a = await run(['frobnicate']);
    assert.notEqual(a.code, 0);
    assert.match(a.stderr, /unknown command "frobnicate"/);
    const b = await run(['validate', '--no-such-flag']);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /Usage:/);
  });

  test('validate --config config/gateway.yaml exits 0', async () => {
    const r = await run(['validate', '--config', 'config/gateway.yaml']);
    assert.equal(r.code, 0, r.stderr);
    // Entries of the top-level `routes:` block only (eventTypes entries are `  - name:` too).
    const block = /^routes:\n([\s\S]*?)(?=^\S)/m.exec(readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8'))?.[1] ?? '';
    const routes = (block.match(/^  - name: /gm) ?? []).length;
    assert.ok(routes >= 8);
    assert.match(r.stdout, new RegExp(`config/gateway\\.yaml: valid \\(${routes} routes\\)`));
  });

  for (const bad of BAD_CONFIGS) {
    test(`validate on an invalid config (${bad.name}) exits 1 with a located message`, async () => {
      const file = join(dir, `${bad.name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, bad.yaml);
      const line = markedLine(bad.yaml);
      const located = bad.path ? ` at ${bad.path}` : '';
      const r = await run(['validate', '--config', file]);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.includes(`${file}:${line}${located}: `), `expected ${file}:${line}${located} in: ${r.stderr}`);
      assert.match(r.stderr, bad.message);
    });
  }

  test('validate on a missing file exits 1 naming it', async () => {
    const r = await run(['validate', '--config', join(dir, 'missing.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.yaml: cannot read config/);
  });

  test('start with an invalid config exits 1 with the located message', async () => {
    const file = join(dir, 'start-invalid.yaml');
    writeFileSync(file, `${BASE}  - name: second\n    path: /second\n    upstream: nowhere\n`);
    const r = await run(['start', '--config', file]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${file}:10 at routes[1].upstream`), r.stderr);
  });
});

describe('hookgate start: graceful stop and reload by signal', () => {
  test('SIGTERM: refuses new connections, lets the in-flight request finish with 200, exits 0', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived = false;
    const up = await startUpstream(async (_req, res) => {
      arrived = true;
      await released;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('slow-done');
    });
    const port = await closedPort();
    const adminPort = await closedPort();
    const file = join(dir, 'drain.yaml');
    writeFileSync(
      file,
      `listen: { host: 127.0.0.1, port: ${port} }
admin: { host: 127.0.0.1, port: ${adminPort}, token: "cli-test-token-123" }
upstreams:
  slow: { targets: [ { url: "${up.url}" } ], timeoutMs: 30000 }
routes:
  - name: slow
    path: /slow
    upstream: slow
`,
    );
    const gw = startCli(file);
    try {
      await waitUntil(async () => (await answers(port, '/healthz'))?.status === 200, 15000, `hookgate /healthz on ${port}`);
      const adminUp = await httpRequest({ port: adminPort, path: '/admin/routes', headers: { authorization: 'Bearer cli-test-token-123' } });
      assert.equal(adminUp.status, 200);

      const inflight = httpRequest({ port, path: '/slow', timeoutMs: 30000 });
      await waitUntil(() => arrived, 10000, 'the slow request to reach the upstream');
      assert.ok(gw.child.kill('SIGTERM'));
      await waitUntil(() => refused(port), 10000, 'new connections to be refused after SIGTERM');
      // Still draining: the process has not exited while the request is in flight.
      assert.equal(gw.child.exitCode, null);

      release();
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(r.text, 'slow-done');
      const { code, signal } = await gw.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, gw.stderr());
      assert.ok(gw.logLines().some((l) => l.msg === 'hookgate stopped'), gw.stdout());
    } finally {
      release();
      await gw.kill();
      await up.close();
    }
  });

  test('SIGHUP reloads the config; an invalid one is rejected and the old one keeps serving', async () => {
    const port = await closedPort();
    const adminPort = await closedPort();
    const file = join(dir, 'hup.yaml');
    const config = (body: string, extra = '') => `listen: { host: 127.0.0.1, port: ${port} }
admin: { host: 127.0.0.1, port: ${adminPort}, token: "cli-test-token-123" }
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: "${body}" }
${extra}`;
    writeFileSync(file, config('one'));
    const gw = startCli(file);
    try {
      await waitUntil(async () => (await answers(port, '/hello'))?.text === 'one', 15000, 'the first body');

      writeFileSync(file, config('two'));
      assert.ok(gw.child.kill('SIGHUP'));
      await waitUntil(async () => (await answers(port, '/hello'))?.text === 'two', 10000, 'the reloaded body');
      await waitUntil(() => gw.logLines().some((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP'), 10000, 'a SIGHUP reload in the log');

      writeFileSync(file, config('three', '    upstream: nowhere\n'));
      assert.ok(gw.child.kill('SIGHUP'));
      await waitUntil(() => gw.logLines().some((l) => l.msg?.startsWith('reload rejected') && l.trigger === 'SIGHUP'), 10000, 'a rejected SIGHUP reload in the log');
      const still = await httpRequest({ port, path: '/hello' });
      assert.equal(still.text, 'two');
      assert.equal(gw.child.exitCode, null, 'the process survives a rejected reload');

      assert.ok(gw.child.kill('SIGTERM'));
      assert.deepEqual(await gw.exited, { code: 0, signal: null });
    } finally {
      await gw.kill();
    }
  });
});

describe('hookgate validate: egress', () => {
  test('an endpoint on a blocked literal address fails validation as it would fail start', async () => {
    const file = join(dir, 'egress-blocked.yaml');
    writeFileSync(file, `routes:
  - { name: events, path: /events, publish: {} }
egress:
  endpoints:
    - { id: a, url: "http://10.1.2.3/hook" }
`);
    const r = await run(['validate', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /egress-blocked\.yaml:5 at egress\.endpoints\[0\]\.url: .*blocked by the SSRF guard.*egress\.allowCidrs/);
  });
});
