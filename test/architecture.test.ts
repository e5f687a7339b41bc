import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../gateway/paths.js';

/** Every file below `dir` whose name ends in one of `exts`. */
function filesUnder(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, exts));
    else if (exts.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

test('the import graph of the gateway and its plugins has no cycle (madge)', async () => {
  // madge ships CommonJS without types; the compiled JS is what runs, so that is what is checked.
  const madge = createRequire(import.meta.url)('madge') as (paths: string[], cfg: object) => Promise<{ circular(): string[][]; obj(): Record<string, string[]> }>;
  const dist = join(packageRoot, 'dist');
  const res = await madge([join(dist, 'gateway'), join(dist, 'plugins')], { fileExtensions: ['js'], baseDir: dist });
  assert.ok(Object.keys(res.obj()).length > 40, 'madge read the modules');
  assert.deepEqual(res.circular(), []);
});

test('no source file is over 400 lines (gateway, plugins, tests, bench)', () => {
  const long = ['gateway', 'plugins', 'test']
    .flatMap((d) => filesUnder(join(packageRoot, d), ['.ts']))
    .concat(filesUnder(join(packageRoot, 'bench', 'lib'), ['.mjs']), filesUnder(join(packageRoot, 'bench', 'peers'), ['.mjs']))
    .map((f) => ({ f: relative(packageRoot, f), lines: readFileSync(f, 'utf8').split('\n').length }))
    .filter((x) => x.lines > 400);
  assert.deepEqual(long, []);
});
