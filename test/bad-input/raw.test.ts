import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startCorpusGateway, type CorpusEnv } from './corpus.js';

/**
 * Bytes no well-behaved client library would send: framing, header and request-line errors the
 * HTTP parser rejects before any route runs. Each must still get a JSON error with a stable code.
 */

let env: CorpusEnv;
before(async () => {
  env = await startCorpusGateway();
});
after(() => env.stop());

/** Writes raw bytes to the gateway and resolves with everything it sent back before closing. */
function raw(port: number, bytes: string, deadlineMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close within ${deadlineMs} ms; got ${Buffer.concat(chunks).toString()}`));
    }, deadlineMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    sock.write(bytes);
  });
}

function parsed(text: string): { status: number; code: string | undefined } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const bodyStart = text.indexOf('\r\n\r\n');
  let code: string | undefined;
  try {
    code = JSON.parse(text.slice(bodyStart + 4)).error?.code;
  } catch {
    code = undefined;
  }
  return { status, code };
}

const CASES: Array<{ name: string; bytes: string; status: number; code: string }> = [
  { name: 'Content-Length and Transfer-Encoding together', bytes: 'POST /app/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'two Content-Length values', bytes: 'POST /app/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'an unknown transfer coding', bytes: 'POST /app/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'a bad chunk size', bytes: 'POST /app/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'a space before the header colon', bytes: 'GET /ok HTTP/1.1\r\nHost : a\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'a control character in a header value', bytes: 'GET /ok HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'a garbage request line', bytes: 'HELLO WORLD\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'bare LF line endings with an obs-fold', bytes: 'GET /ok HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
  { name: 'headers over 16 KB', bytes: `GET /ok HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, status: 431, code: 'HG_HEADERS_TOO_LARGE' },
  { name: 'two Host headers', bytes: 'GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n', status: 400, code: 'HG_BAD_REQUEST' },
];

for (const c of CASES) {
  test(`raw bad input: ${c.name} → ${c.status} ${c.code} as JSON; the gateway answers next`, async () => {
    const before = env.up.requests.length;
    const got = parsed(await raw(env.gw.port, c.bytes));
    assert.deepEqual(got, { status: c.status, code: c.code });
    assert.equal(env.up.requests.length, before, 'nothing reached the upstream');
    assert.equal((await env.gw.request({ path: '/ok' })).status, 200);
  });
}

const OVERSIZED = {
  declared: `POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n${'x'.repeat(100)}`,
  chunked: `POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${'x'.repeat(100)}\r\n0\r\n\r\n`,
};
for (const [kind, first] of Object.entries(OVERSIZED)) test(`a request pipelined behind a 413 (${kind} body) that closes the connection never runs`, async () => {
  const before = env.up.requests.length;
  const second = 'GET /app/pipelined-behind-413 HTTP/1.1\r\nHost: a\r\n\r\n';
  const text = await raw(env.gw.port, first + second);
  assert.equal(parsed(text).status, 413);
  assert.equal((text.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one response only');
  // The upstream would have seen it by the time the connection closed; check again after a round trip.
  assert.equal((await env.gw.request({ path: '/ok' })).status, 200);
  assert.equal(env.up.requests.slice(before).filter((r) => r.url.includes('pipelined-behind-413')).length, 0);
});

test('a request smuggled in a body after a chunked terminator is parsed as its own request, never as part of the first', async () => {
  const before = env.up.requests.length;
  const text = await raw(env.gw.port, 'POST /app/first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /app/second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.equal((text.match(/HTTP\/1\.1 200/g) ?? []).length, 2, text);
  const seen = env.up.requests.slice(before);
  assert.deepEqual(seen.map((r) => [r.url, r.body.length]).sort(), [['/base/app/first', 0], ['/base/app/second', 0]]);
});
