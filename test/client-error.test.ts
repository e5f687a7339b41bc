import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientErrorOf } from '../gateway/client-error.js';
import { startGateway } from './support/gateway.js';
import { startUpstream, waitUntil } from './support/http.js';
import { parseResponse, rawConnect, rawExchange, within } from './support/raw-socket.js';

const yaml = `
routes:
  - name: ok
    path: /ok
    respond: { status: 200, body: { ok: true } }
`;

test('parser-level rejections answer JSON with a stable code, close the connection, and the gateway keeps serving', async () => {
  const g = await startGateway(yaml);
  try {
    const cases: { name: string; send: string; status: number; code: string }[] = [
      { name: 'garbage request line', send: 'NOT HTTP AT ALL\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
      { name: 'space in a header name', send: 'GET /ok HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
      { name: 'Content-Length and Transfer-Encoding together', send: 'POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
      { name: 'non-numeric Content-Length', send: 'POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
      { name: 'headers over 16 KiB', send: `GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'HG_HEADERS_TOO_LARGE' },
    ];
    for (const c of cases) {
      const r = parseResponse(await rawExchange(g.port, c.send));
      assert.equal(r.status, c.status, c.name);
      assert.match(r.headers, /content-type: application\/json/i, c.name);
      assert.equal(r.json?.error?.code, c.code, c.name);
      assert.equal(typeof r.json.error.message, 'string', c.name);
    }
    const ok = await g.request({ path: '/ok' });
    assert.equal(ok.status, 200);
    const logged = g.log.lines.filter((l) => l.msg === 'request refused by the HTTP parser').map((l) => l.code);
    assert.deepEqual(logged, cases.map((c) => c.code));
  } finally {
    await g.stop();
  }
});

test('clientErrorOf maps Node parser and timeout codes to the catalogue', () => {
  const of = (code: string) => clientErrorOf(Object.assign(new Error(code), { code }));
  assert.equal(of('HPE_HEADER_OVERFLOW').status, 431);
  assert.equal(of('HPE_HEADER_OVERFLOW').code, 'HG_HEADERS_TOO_LARGE');
  assert.equal(of('ERR_HTTP_REQUEST_TIMEOUT').status, 408);
  assert.equal(of('ERR_HTTP_REQUEST_TIMEOUT').code, 'HG_REQUEST_TIMEOUT');
  assert.equal(of('HPE_INVALID_METHOD').code, 'HG_BAD_REQUEST');
  assert.match(of('HPE_INVALID_METHOD').message, /HPE_INVALID_METHOD/);
  assert.equal(of('HPE_CHUNK_EXTENSIONS_OVERFLOW').status, 400);
  assert.equal(of('SOMETHING_ELSE').code, 'HG_BAD_REQUEST');
});

test('a parser error while a response is already on the wire writes nothing into it; the connection is closed', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const up = await startUpstream(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first part;');
    await released;
    res.end('second part');
  });
  const g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: slow
    path: /slow
    upstream: up
`);
  try {
    const c = await rawConnect(g.port);
    c.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => c.received().includes('first part;'), 5000, 'the response to start');
    c.write('NOT HTTP AT ALL\r\n\r\n');
    await within(c.closed, 5000, 'the connection to be closed');
    const raw = c.received();
    assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, 'only the response that had started');
    assert.doesNotMatch(raw, /HG_BAD_REQUEST/);
  } finally {
    release();
    await g.stop();
    await up.close();
  }
});
