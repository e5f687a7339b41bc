// Baseline peer: the least a Node reverse proxy can do — node:http + http-proxy with a keep-alive
// agent, no routing, no plugins.   node bench/peers/bare-proxy.mjs <port> <upstream-url>
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const port = Number(process.argv[2] ?? 18090);
const target = process.argv[3] ?? 'http://127.0.0.1:19000';
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res.headersSent) return res.destroy();
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end('{"error":"bad gateway"}');
});
const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare-proxy listening on ${port} → ${target}\n`));
const stop = () => server.close(() => process.exit(0)) && server.closeAllConnections();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
