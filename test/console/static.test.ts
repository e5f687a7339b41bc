import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleCsp, DEFAULT_CONSOLE_ROOT } from '../../gateway/console/static.js';
import { packageRoot } from '../../gateway/paths.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { httpRequest } from '../support/http.js';

const INDEX = '<!doctype html><title>hookgate console fixture</title><script type="module" src="/console/assets/index-AbCd1234.js"></script>';
const ASSET = 'console.log("fixture")';
const SECRET = 'outside-the-console-root-3c1f';
const CSP_NONE = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

describe('the console at /console/ on the admin listener', () => {
  let base: string;
  let root: string;
  let g: TestGateway;
  const get = (path: string, method = 'GET') => httpRequest({ port: g.adminPort, method, path });

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'hookgate-console-'));
    root = join(base, 'console');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), INDEX);
    writeFileSync(join(root, 'assets', 'index-AbCd1234.js'), ASSET);
    writeFileSync(join(root, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(base, 'secret.txt'), SECRET);
    symlinkSync(join(base, 'secret.txt'), join(root, 'assets', 'link.txt'));
    g = await startGateway('routes: []\n', { consoleRoot: root });
  });
  after(async () => {
    await g.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('is served without a token, with the CSP and security headers', async () => {
    const r = await get('/console/');
    assert.equal(r.status, 200);
    assert.equal(r.text, INDEX);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['content-security-policy'], CSP_NONE);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
    assert.equal(r.headers['cache-control'], 'no-cache');
    // The admin API itself still needs the token.
    assert.equal((await get('/admin/routes')).status, 401);
  });

  it('/console redirects to /console/; assets get their type and hashed ones a long max-age', async () => {
    const r = await get('/console');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/console/');
    const js = await get('/console/assets/index-AbCd1234.js');
    assert.equal(js.status, 200);
    assert.equal(js.text, ASSET);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.headers['content-security-policy'], CSP_NONE);
    const svg = await get('/console/assets/logo.svg');
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
    assert.equal(svg.headers['cache-control'], 'no-cache');
    const head = await get('/console/assets/index-AbCd1234.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it("the app's own paths get index.html; a missing asset is 404; other methods 405", async () => {
    for (const p of ['/console/endpoints', '/console/messages/msg_1', '/console/assets', '/console/?x=1']) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      assert.equal(r.text, INDEX, p);
    }
    const missing = await get('/console/assets/nope-12345678.js');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().error.code, 'HG_ADMIN_NOT_FOUND');
    const post = await get('/console/', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.json().error.code, 'HG_METHOD_NOT_ALLOWED');
  });

  it('no path leads out of the console root (dot segments, encoded, backslashes, symlinks)', async () => {
    for (const p of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/..%2fsecret.txt',
      '/console/assets/../../secret.txt',
      '/console/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/console/..%5csecret.txt',
      '/console/assets/link.txt',
      '/console/%00',
      '/console/%e0%a4%a',
      `/console/${'../'.repeat(8)}etc/passwd`,
    ]) {
      const r = await get(p);
      assert.ok(!r.text.includes(SECRET) && !r.text.includes('root:'), `${p} leaked a file outside the root`);
      assert.ok([400, 404].includes(r.status), `${p}: ${r.status}`);
    }
  });

  it('frame-ancestors comes from console.portal.frameAncestors (hot reload); without a bundle: 404 HG_CONSOLE_NOT_BUILT; disabled: not served', async () => {
    g.write('console: { portal: { frameAncestors: ["https://app.example.com", "\'self\'"] } }\nroutes: []\n');
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.equal((await get('/console/')).headers['content-security-policy'], consoleCsp(['https://app.example.com', "'self'"]));
    assert.match((await get('/console/')).headers['content-security-policy'] as string, /frame-ancestors https:\/\/app\.example\.com 'self'$/);
    g.write('console: { enabled: false }\nroutes: []\n');
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.equal((await get('/console/')).status, 401, 'a disabled console is just another admin path');
    const bare = await startGateway('routes: []\n', { consoleRoot: join(base, 'not-built') });
    try {
      const r = await httpRequest({ port: bare.adminPort, path: '/console/' });
      assert.equal(r.status, 404);
      assert.equal(r.json().error.code, 'HG_CONSOLE_NOT_BUILT');
      assert.match(r.json().error.message, /npm run build/);
    } finally {
      await bare.stop();
    }
  });

  it('the default root is the package dist/console, not the working directory', () => {
    assert.equal(DEFAULT_CONSOLE_ROOT, join(packageRoot, 'dist', 'console'));
  });
});
