// Small loopback HTTP client for control calls, readiness polls and the Node-side publishers.
import { Agent, request } from 'node:http';

/** A keep-alive agent for publishers (bounded sockets). */
export function keepAliveAgent(maxSockets = 64) {
  return new Agent({ keepAlive: true, maxSockets });
}

/**
 * One request to 127.0.0.1:`port`. Resolves { status, headers, body (string), json? }; rejects on
 * network error or after timeoutMs.
 */
export function httpReq({ port, method = 'GET', path = '/', headers = {}, body, timeoutMs = 5000, agent = false }) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}
