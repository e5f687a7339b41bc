// The bench's local upstream and delivery receiver (loopback only).
//
//   node bench/peers/upstream.mjs [port]        (PORT env also works; default 19000)
//   RECEIVER_SECRET=whsec_...                   verify standard-webhooks signatures on /hook/*
//
// Every request is answered 200 {"ok":true} over keep-alive after its body is read. Paths under
// /hook/ are treated as webhook deliveries: counted, signature-checked, duplicate-checked (by
// webhook-id + path) and timestamped by `data.seq` for publish→delivery latency; deliveries are
// also counted per path (`paths`). A path /hook/slow-<ms>/… is a slow endpoint: its answer is
// sent <ms> milliseconds (at most 10,000) after the body was read (the arrival time is taken when
// the body was read). Control endpoints (not counted): GET /__stats[?arrivals=1], POST /__reset.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 19000);
const secretText = process.env.RECEIVER_SECRET;
const secret = secretText ? Buffer.from(secretText.replace(/^whsec_/, ''), 'base64') : undefined;
const OK = Buffer.from('{"ok":true}');
const SLOW = /^\/hook\/slow-(\d+)\//;

let s;
function reset() {
  s = {
    requests: 0,
    bytesIn: 0,
    deliveries: 0,
    verified: 0,
    badSignature: 0,
    duplicates: 0,
    firstAt: 0,
    lastAt: 0,
    seen: new Set(),
    paths: {}, // path -> deliveries
    arrivals: new Map(), // seq -> [absolute ms, ...] (one per endpoint)
  };
}
reset();

/** Wall-clock milliseconds with sub-ms resolution, comparable across processes on this machine. */
const now = () => performance.timeOrigin + performance.now();

function checkSignature(headers, body) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (!id || !ts || !sig) return false;
  const expected = createHmac('sha256', secret).update(`${id}.${ts}.`).update(body).digest();
  for (const part of String(sig).split(' ')) {
    const [v, b64] = part.split(',');
    if (v !== 'v1' || !b64) continue;
    const got = Buffer.from(b64, 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return true;
  }
  return false;
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/__')) {
    req.resume();
    req.on('end', () => {
      let out = {};
      if (url.startsWith('/__reset')) reset();
      else if (url.startsWith('/__stats')) {
        const { seen, arrivals, ...rest } = s;
        out = { ...rest, unique: seen.size };
        if (url.includes('arrivals=1')) out.arrivals = Object.fromEntries(arrivals);
      }
      const b = Buffer.from(JSON.stringify(out));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
      res.end(b);
    });
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    chunks.push(c);
    size += c.length;
  });
  req.on('end', () => {
    const t = now();
    s.requests++;
    s.bytesIn += size;
    if (!s.firstAt) s.firstAt = t;
    s.lastAt = t;
    let delayMs = 0;
    if (url.startsWith('/hook')) {
      s.deliveries++;
      s.paths[url] = (s.paths[url] ?? 0) + 1;
      const slow = SLOW.exec(url);
      if (slow) delayMs = Math.min(10_000, Number(slow[1]));
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      const id = req.headers['webhook-id'];
      const key = `${id}|${url}`;
      if (s.seen.has(key)) s.duplicates++;
      else s.seen.add(key);
      if (secret) {
        if (checkSignature(req.headers, body)) s.verified++;
        else s.badSignature++;
      }
      try {
        const seq = JSON.parse(body.toString('utf8'))?.data?.seq;
        if (typeof seq === 'number') {
          const a = s.arrivals.get(seq);
          if (a) a.push(t);
          else s.arrivals.set(seq, [t]);
        }
      } catch {
        // Not JSON: counted, no latency sample.
      }
    }
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK.length });
      res.end(OK);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`upstream listening on ${port}\n`));
const shutdown = () => server.close(() => process.exit(0)) && server.closeAllConnections();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
