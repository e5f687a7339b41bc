// The compose file's demo receiver: logs every webhook it gets as one JSON line and answers 204.
// GET /healthz answers 200. Listens on $HOST:$PORT (default 0.0.0.0:9000: every interface of its container).
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 9000);
const host = process.env.HOST ?? '0.0.0.0';
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return void res.writeHead(200).end('ok');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const h = req.headers;
    // The signature headers prove it came through hookgate; their values are not printed.
    console.log(JSON.stringify({ at: new Date().toISOString(), method: req.method, url: req.url, webhookId: h['webhook-id'], signed: Boolean(h['webhook-signature']), body: body.slice(0, 500) }));
    res.writeHead(204).end();
  });
});
server.listen(port, host, () => console.log(JSON.stringify({ msg: 'demo receiver listening', host, port: server.address().port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
