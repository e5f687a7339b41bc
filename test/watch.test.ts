import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../gateway/runtime.js';
import { ConfigWatcher, type ConfigWatcherOptions } from '../gateway/watch.js';
import { memoryLogger } from './support/gateway.js';
import { httpRequest, waitUntil } from './support/http.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hookgate-watch-'));
  dirs.push(d);
  return d;
}

const config = (body: string) => `listen: { host: 127.0.0.1, port: 0 }
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: "${body}" }
`;

/** Lays a directory out as a Kubernetes ConfigMap volume does: gateway.yaml -> ..data/gateway.yaml, ..data -> ..<version>. */
function configMapVolume(body: string): { dir: string; file: string; swap(version: string, body: string): void } {
  const dir = tempDir();
  const writeVersion = (version: string, text: string) => {
    mkdirSync(join(dir, version));
    writeFileSync(join(dir, version, 'gateway.yaml'), text);
  };
  writeVersion('..2026_a', config(body));
  symlinkSync('..2026_a', join(dir, '..data'));
  symlinkSync('..data/gateway.yaml', join(dir, 'gateway.yaml'));
  return {
    dir,
    file: join(dir, 'gateway.yaml'),
    // The kubelet's update: a new version directory, a temporary symlink to it, and an atomic
    // rename over ..data. gateway.yaml itself is never touched.
    swap(version, text) {
      writeVersion(version, text);
      symlinkSync(version, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    },
  };
}

async function served(gw: Gateway): Promise<string | undefined> {
  try {
    return (await httpRequest({ port: gw.address().port, path: '/hello', timeoutMs: 2000 })).text;
  } catch {
    return undefined;
  }
}

async function startOn(file: string, watch: ConfigWatcherOptions): Promise<{ gw: Gateway; lines: Record<string, any>[] }> {
  const log = memoryLogger();
  const gw = await Gateway.start({ configFile: file, logger: log.logger, watch });
  return { gw, lines: log.lines };
}

test('a ConfigMap update (the ..data symlink swap) reloads from the directory event alone', async () => {
  const vol = configMapVolume('a');
  // No content poll: only the directory event, which names ..data and never gateway.yaml, can trigger it.
  const { gw, lines } = await startOn(vol.file, { pollMs: 0 });
  try {
    assert.equal(await served(gw), 'a');
    vol.swap('..2026_b', config('b'));
    await waitUntil(async () => (await served(gw)) === 'b', 10000, 'the swapped ConfigMap to be served');
    assert.ok(lines.some((l) => l.msg === 'config reloaded' && l.trigger === 'file change'));
  } finally {
    await gw.stop(2000);
  }
});

test('with file events off (a single-file bind mount raises none), the content poll still reloads', async () => {
  const vol = configMapVolume('a');
  const { gw, lines } = await startOn(vol.file, { fsEvents: false, pollMs: 50 });
  try {
    assert.equal(await served(gw), 'a');
    vol.swap('..2026_b', config('b'));
    await waitUntil(async () => (await served(gw)) === 'b', 10000, 'the polled change to be served');
    // A plain in-place write (what a bind-mounted file sees) is picked up too.
    writeFileSync(join(vol.dir, '..2026_b', 'gateway.yaml'), config('c'));
    await waitUntil(async () => (await served(gw)) === 'c', 10000, 'the in-place write to be served');
    assert.equal(lines.filter((l) => l.msg === 'config reloaded').length, 2);
  } finally {
    await gw.stop(2000);
  }
});

test('the watcher reports a new content once; an edit made after a reload\'s mark is still reported', async () => {
  const dir = tempDir();
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, 'one');
  let changes = 0;
  const log = memoryLogger();
  const w = new ConfigWatcher(() => changes++, log.logger, { pollMs: 20, debounceMs: 10 });
  w.watch([file]);
  try {
    writeFileSync(file, 'two');
    await waitUntil(() => changes === 1, 10000, 'the first change');
    // A reload marks the content before it reads the files; an edit that lands while it compiles
    // is newer than the mark, so re-watching with the mark reports it.
    const mark = w.mark();
    writeFileSync(file, 'three');
    w.watch([file], mark);
    await waitUntil(() => changes === 2, 10000, 'the edit made during the reload');
    assert.equal(changes, 2);
  } finally {
    w.close();
  }
});
