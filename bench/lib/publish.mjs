// Node-side publishers for the delivery scenarios: a bounded parallel publisher (N events, K in
// flight) and an open-loop paced publisher (R events/s for S seconds, send times recorded by the
// intended send time so a slow gateway cannot hide latency by slowing the publisher down).
import { keepAliveAgent, httpReq } from './http.mjs';

/** Wall-clock ms with sub-ms resolution, comparable with the receiver's clock. */
export const now = () => performance.timeOrigin + performance.now();

/** A ~`bytes`-byte event `{type, data: {seq, pad}, ...top}` (`top`: more top-level fields, e.g. `{ tenant }`). */
export function eventBody(seq, bytes = 1024, type = 'invoice.paid', top = undefined) {
  const base = JSON.stringify({ type, ...top, data: { seq, customer: 'cus_bench', amount: 4200, pad: '' } });
  return JSON.stringify({ type, ...top, data: { seq, customer: 'cus_bench', amount: 4200, pad: 'x'.repeat(Math.max(0, bytes - base.length)) } });
}

function tally(r, statuses) {
  statuses[r] = (statuses[r] ?? 0) + 1;
}

/**
 * Sends `count` POSTs (body from `bodyOf(i)`) with `concurrency` in flight, stopping early at
 * `deadlineMs`. Resolves { accepted (2xx), failed, statuses, elapsedSec, firstError, ids }.
 */
export async function publishCount({ port, path, count, concurrency = 64, bodyOf, deadlineMs = 120_000, headers = {}, keepIds = false }) {
  const agent = keepAliveAgent(concurrency);
  const statuses = {};
  const ids = [];
  let next = 0;
  let accepted = 0;
  let failed = 0;
  let firstError;
  const t0 = Date.now();
  const worker = async () => {
    while (next < count && Date.now() - t0 < deadlineMs) {
      const i = next++;
      const body = bodyOf(i);
      try {
        const r = await httpReq({ port, method: 'POST', path, body, agent, timeoutMs: 30_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } });
        tally(r.status, statuses);
        if (r.status >= 200 && r.status < 300) {
          accepted++;
          if (keepIds && r.json?.id) ids.push(r.json.id);
        } else {
          failed++;
          firstError ??= `${r.status} ${r.body.slice(0, 200)}`;
        }
      } catch (err) {
        failed++;
        tally('error', statuses);
        firstError ??= err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { accepted, failed, statuses, elapsedSec: (Date.now() - t0) / 1000, firstError, ids, attempted: next };
}

/**
 * Open loop: dispatches `rate` events/s for `seconds`, each stamped with its intended send time.
 * Resolves { sent: Map(seq → ms), accepted, failed, statuses, firstError, publishLatencies }.
 */
export async function publishPaced({ port, path, rate, seconds, bodyOf, maxSockets = 256 }) {
  const agent = keepAliveAgent(maxSockets);
  const sent = new Map();
  const statuses = {};
  const publishLatencies = [];
  let accepted = 0;
  let failed = 0;
  let firstError;
  const inflight = new Set();
  const start = now();
  const total = Math.round(rate * seconds);
  let seq = 0;
  const fire = (i, intended) => {
    const body = bodyOf(i);
    sent.set(i, intended);
    const p = httpReq({ port, method: 'POST', path, body, agent, timeoutMs: 30_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }).then(
      (r) => {
        tally(r.status, statuses);
        publishLatencies.push(now() - intended);
        if (r.status >= 200 && r.status < 300) accepted++;
        else {
          failed++;
          firstError ??= `${r.status} ${r.body.slice(0, 200)}`;
        }
      },
      (err) => {
        failed++;
        tally('error', statuses);
        firstError ??= err.message;
      },
    );
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  };
  while (seq < total) {
    const elapsed = now() - start;
    const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
    while (seq < due) {
      fire(seq, start + (seq * 1000) / rate);
      seq++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = Date.now() + 30_000;
  while (inflight.size && Date.now() < deadline) await Promise.race([...inflight, new Promise((r) => setTimeout(r, 1000))]);
  agent.destroy();
  return { sent, accepted, failed, statuses, firstError, publishLatencies, elapsedSec: (now() - start) / 1000 };
}
