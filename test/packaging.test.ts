import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../gateway/paths.js';

const run = promisify(execFile);

interface PackageJson {
  bin: Record<string, string>;
  main: string;
  exports: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as PackageJson;

/**
 * The files `npm pack` would put in the tarball. `--ignore-scripts` keeps it fast (no `prepare`
 * build): the list depends on `files` and on what is in dist/, which `pretest` has just built with
 * every option the build config has and more (source maps, the tests), so it is the harder case.
 */
let packed: Promise<Set<string>> | undefined;
function packedFiles(): Promise<Set<string>> {
  return (packed ??= listPacked());
}

async function listPacked(): Promise<Set<string>> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: packageRoot, maxBuffer: 16 * 1024 * 1024 });
  const parsed = JSON.parse(stdout) as { files: { path: string }[] }[];
  assert.equal(parsed.length, 1);
  return new Set(parsed[0]!.files.map((f) => f.path));
}

/** Static `import … from 'x'` / `export … from 'x'`, side-effect `import 'x'` and dynamic `import('x')`. */
const IMPORT = /(?:^\s*(?:import|export)\b[^;'"]*?\bfrom\s*|^\s*import\s*|\bimport\s*\(\s*)['"]([^'"\s]+)['"]/gm;

const strip = (p: string): string => normalize(p.replace(/^\.\//, ''));

test('npm pack ships the licence, the README, the bin, main and exports targets and the config', async () => {
  const files = await packedFiles();
  for (const f of ['LICENSE', 'README.md', 'package.json', 'config/gateway.yaml', 'config/gateway.schema.json', 'config/docker.yaml']) {
    assert.ok(files.has(f), `${f} is packed`);
  }
  for (const target of [...Object.values(pkg.bin), pkg.main, ...Object.values(pkg.exports)]) {
    assert.ok(files.has(strip(target)), `${target} is packed`);
  }
  // The type declarations of the plugin API are what a custom plugin's author imports.
  assert.ok(files.has('dist/gateway/plugin-api.d.ts'));
  assert.match(readFileSync(join(packageRoot, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 hookgate contributors\n/);
});

test('npm pack ships no test, no source and no source map whose sources are missing', async () => {
  const files = await packedFiles();
  const unwanted = [...files].filter((f) => /^(dist\/)?test\//.test(f) || /^(gateway|plugins|bench|deploy|scripts|\.ci)\//.test(f));
  assert.deepEqual(unwanted, []);
  assert.ok(existsSync(join(packageRoot, 'dist', 'test')), 'dist/test exists here, so its absence above means something');
  const dangling: string[] = [];
  for (const f of files) {
    if (!f.endsWith('.map')) continue;
    const map = JSON.parse(readFileSync(join(packageRoot, f), 'utf8')) as { sources: string[] };
    for (const s of map.sources) if (!files.has(normalize(join(dirname(f), s)))) dangling.push(`${f} -> ${s}`);
  }
  assert.deepEqual(dangling, []);
});

test('every relative import of a packed module is packed too', async () => {
  const files = await packedFiles();
  const missing: string[] = [];
  let checked = 0;
  for (const f of files) {
    if (!f.endsWith('.js') || !f.startsWith('dist/')) continue;
    const src = readFileSync(join(packageRoot, f), 'utf8');
    for (const m of src.matchAll(IMPORT)) {
      if (!m[1]!.startsWith('.')) continue;
      checked++;
      const target = normalize(join(dirname(f), m[1]!));
      if (!files.has(target)) missing.push(`${f} -> ${m[1]}`);
    }
  }
  assert.ok(checked > 200, `read the imports (${checked})`);
  assert.deepEqual(missing, []);
});

test('every package a packed module imports is a dependency, and the lockfile keeps it in a production install', async () => {
  const files = await packedFiles();
  const deps = Object.keys(pkg.dependencies);
  const lock = JSON.parse(readFileSync(join(packageRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const imported = new Set<string>();
  for (const f of files) {
    if (!f.endsWith('.js') || !f.startsWith('dist/')) continue;
    const src = readFileSync(join(packageRoot, f), 'utf8');
    for (const m of src.matchAll(IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || spec.startsWith('.')) continue;
      assert.match(spec, /^(@[a-z0-9-~][\w.-]*\/)?[a-z0-9-~][\w.-]*(\/.*)?$/, `${f} imports ${spec}`);
      imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  assert.ok(imported.size > 3, [...imported].join());
  assert.deepEqual([...imported].filter((p) => !deps.includes(p)), [], 'imported but not in dependencies');
  // `npm ci --omit=dev` (the image) drops what the lockfile marks dev, whatever package.json says.
  assert.deepEqual(deps.filter((d) => lock.packages[`node_modules/${d}`]?.dev === true), []);
});

test('the package is built by the build config, which emits no source maps and no tests', async () => {
  assert.match(pkg.scripts.build ?? '', /tsc -p tsconfig\.build\.json/, 'build');
  // prepare and prestart run that build (the gateway, its plugins and the console), nothing more.
  for (const script of ['prepare', 'prestart']) assert.equal(pkg.scripts[script], 'npm run build', script);
  assert.match(pkg.scripts.pretest ?? '', /tsc -p tsconfig\.json/, 'npm test still compiles everything');
  const { stdout } = await run(process.execPath, [join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--showConfig', '-p', 'tsconfig.build.json'], { cwd: packageRoot, maxBuffer: 16 * 1024 * 1024 });
  const shown = JSON.parse(stdout) as { compilerOptions: { sourceMap?: boolean; declarationMap?: boolean; inlineSourceMap?: boolean }; files: string[] };
  assert.notEqual(shown.compilerOptions.sourceMap, true);
  assert.notEqual(shown.compilerOptions.declarationMap, true);
  assert.notEqual(shown.compilerOptions.inlineSourceMap, true);
  assert.ok(shown.files.some((f) => f.startsWith('./gateway/')) && shown.files.some((f) => f.startsWith('./plugins/')));
  assert.deepEqual(shown.files.filter((f) => !/^\.\/(gateway|plugins)\//.test(f)), [], 'only the gateway and its plugins are compiled');
  // Maps that a test build (tsconfig.json) left in dist/ are kept out of the tarball by `files`.
  assert.ok(pkg.files.includes('!dist/**/*.map'));
});
