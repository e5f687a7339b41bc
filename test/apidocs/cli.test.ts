import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { packageRoot } from '../../gateway/paths.js';

/** Runs the real binary (dist/gateway/cli.js), so the dispatch in cli.ts is covered too. */
function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot, 'dist/gateway/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += String(c)));
    child.stderr.on('data', (c) => (err += String(c)));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

it('hookgate openapi and asyncapi print the documents of a config; --help lists them', async () => {
  const config = join(packageRoot, 'config/gateway.yaml');
  const oa = await run(['openapi', '--config', config]);
  assert.equal(oa.code, 0, oa.err);
  assert.equal(JSON.parse(oa.out).openapi, '3.1.0');
  const aa = await run(['asyncapi', '--config', config, '--yaml']);
  assert.equal(aa.code, 0, aa.err);
  assert.equal((parseYaml(aa.out) as { asyncapi: string }).asyncapi, '3.0.0');
  const help = await run(['--help']);
  assert.match(help.out, /hookgate openapi {2}--config <gateway\.yaml> \[--yaml\]/);
  assert.match(help.out, /hookgate asyncapi --config <gateway\.yaml> \[--yaml\]/);
});
