import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, errorCatalogue, Errors, GatewayError, LOG_CODES } from '../gateway/errors.js';
import { packageRoot } from '../gateway/paths.js';

/** Rows of the markdown table that starts with `header`, as arrays of cell texts. */
function tableRows(md: string, header: string): string[][] {
  const start = md.indexOf(header);
  assert.ok(start >= 0, `README has a table headed ${header}`);
  const rows: string[][] = [];
  for (const line of md.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows;
}

test("the README's error table equals the catalogue: codes, statuses and descriptions, in order", () => {
  const md = readFileSync(join(packageRoot, 'README.md'), 'utf8');
  const readme = tableRows(md, '| Code | Status | When |').map(([code, status, doc]) => ({ code: code!.replace(/`/g, ''), status: Number(status), doc }));
  assert.deepEqual(readme, errorCatalogue());
  const logOnly = tableRows(md, '| Log-only code | When |').map(([code, doc]) => [code!.replace(/`/g, ''), doc]);
  assert.deepEqual(logOnly, Object.entries(LOG_CODES));
});

test('a factory makes a GatewayError with the declared code, status and message; with() adds headers', () => {
  const e = Errors.BODY_TOO_LARGE(10, 20);
  assert.ok(e instanceof GatewayError);
  assert.equal(e.code, 'HG_BODY_TOO_LARGE');
  assert.equal(e.status, 413);
  assert.equal(e.message, 'request body of 20 bytes exceeds 10 bytes');
  const r = Errors.RATE_LIMITED(5, 1).with({ 'retry-after': '1' });
  assert.deepEqual([r.code, r.status, r.headers], ['HG_RATE_LIMITED', 429, { 'retry-after': '1' }]);
});

test('every catalogue code has a factory and a unique code', () => {
  const codes = errorCatalogue().map((e) => e.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const c of codes) assert.equal(typeof (Errors as Record<string, unknown>)[c.slice(3)], 'function', c);
});

test('ConfigError is a GatewayError with HG_CONFIG_INVALID and a located message', () => {
  const e = new ConfigError('bad thing', { file: '/x/gateway.yaml', line: 3, path: 'routes[0]' });
  assert.ok(e instanceof GatewayError);
  assert.equal(e.code, 'HG_CONFIG_INVALID');
  assert.equal(e.status, 400);
  assert.equal(e.message, '/x/gateway.yaml:3 at routes[0]: bad thing');
});
