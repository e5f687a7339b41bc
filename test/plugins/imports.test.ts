import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/plugins/; the sources are read from the repository root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PLUGIN_API = 'gateway/plugin-api.ts';

/** Repository-relative paths of the modules `file` imports by a relative specifier (type-only imports too). */
function localImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(root, resolve(root, dirname(file), s)).replace(/\.js$/, '.ts'));
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('plugin imports', () => {
  it('the sources are where the test expects them', () => {
    assert.ok(existsSync(join(root, PLUGIN_API)), `no ${PLUGIN_API} under ${root}`);
  });

  it('built-in plugins import from the gateway only through hookgate/plugin (gateway/plugin-api.ts)', () => {
    const files = tsFiles('plugins');
    assert.ok(files.length > 5);
    for (const file of files) {
      for (const target of localImports(file)) {
        if (target.startsWith('plugins/')) continue;
        assert.equal(target, PLUGIN_API, `${file} imports ${target}`);
      }
    }
  });

  it('the plugin API reaches no runtime module and no plugin', () => {
    const runtime = /^gateway\/(gateway|server|generation|admin|delivery-service|index|cli)\.ts$|^gateway\/delivery\/|^plugins\//;
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      assert.doesNotMatch(file, runtime, `${PLUGIN_API} reaches ${file}`);
      for (const next of localImports(file)) walk(next);
    };
    walk(PLUGIN_API);
  });
});
