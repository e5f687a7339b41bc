/**
 * The circuit breaker on real loopback receivers, on the memory store and the real Redis:
 * healthy → failing → open → half-open → healthy, held jobs that keep their attempt count, a
 * failed probe that reopens for longer, the failure ratio, the admin view and the metrics.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { endpointHealthView } from '../../gateway/apidocs/health-schemas.js';
import { waitUntil } from '../support/http.js';
import { count, deleteHealthKeys, DRIVERS, healthGateway, SECRET } from './health-env.js';
import { openResources } from './resources.js';

const { onClose, receiver } = openResources();
const addFormats = addFormatsModule as unknown as (a: Ajv2020) => Ajv2020;
/** The OpenAPI schema of `health` (the admin contract test checks healthy answers; these are open ones). */
const healthConforms = addFormats(new Ajv2020({ allErrors: true })).compile(endpointHealthView);
after(() => deleteHealthKeys());

/** A retry schedule of `n` attempts 20 ms apart. */
const quick = (n: number) => `[0${', "20ms"'.repeat(n - 1)}]`;

function metric(text: string, line: string): number | undefined {
  const m = new RegExp(`^${line.replace(/[{}"|.]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

for (const driver of DRIVERS) {
  describe(`circuit breaker (${driver} store)`, () => {
    test('failures in a row open it; held jobs keep their attempts; the probe closes it and they drain', async () => {
      let failing = true;
      const times: number[] = [];
      const rx = await receiver((_q, res) => {
        times.push(Date.now());
        res.writeHead(failing ? 500 : 200).end();
      });
      const h = await healthGateway(driver, `  retry: { schedule: ${quick(8)} }
  breaker: { consecutiveFailures: 3, openFor: ["500ms", "1s"] }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`);
      onClose(() => h.stop());
      assert.equal((await h.health()).state, 'healthy');
      const m1 = await h.publish({ n: 1 });
      await waitUntil(() => count(h.events, 'endpoint.breaker.opened') === 1, 10_000, 'endpoint.breaker.opened');
      failing = false;
      const open = await h.health();
      assert.equal(open.state, 'open');
      assert.match(open.reason ?? '', /3 failed attempts in a row/);
      assert.equal(Date.parse(open.nextProbeAt!) - Date.parse(open.since!), 500, 'the first open interval');
      assert.ok(healthConforms(open), JSON.stringify(healthConforms.errors));
      const list = (await h.g.admin('GET', '/admin/endpoints')).json().endpoints;
      assert.equal(list[0].health.state, 'open', 'the list shows health too');
      const scrapeOpen = (await h.g.admin('GET', '/metrics')).text;
      assert.equal(metric(scrapeOpen, 'hookgate_endpoint_state{endpoint="ep",state="open"}'), 1);
      assert.equal(metric(scrapeOpen, 'hookgate_endpoint_state{endpoint="ep",state="healthy"}'), 0);
      const atOpen = times.length;
      assert.equal(atOpen, 3, 'three attempts, then none');
      const m2 = await h.publish({ n: 2 });
      const m3 = await h.publish({ n: 3 });

      await waitUntil(async () => (await Promise.all([m1, m2, m3].map((m) => h.status(m)))).every((s) => s === 'delivered'), 15_000, 'all delivered after the breaker closed');
      const probeAt = Date.parse(open.nextProbeAt!);
      for (const t of times.slice(atOpen)) assert.ok(t >= probeAt, `no attempt went out while open (one at ${probeAt - t} ms before the probe time)`);
      assert.deepEqual((await h.attempts(m1)).map((a) => a.status), [500, 500, 500, 200]);
      for (const m of [m2, m3]) assert.deepEqual((await h.attempts(m)).map((a) => [a.attempt, a.status]), [[1, 200]], 'held without burning an attempt');
      assert.equal(count(h.events, 'endpoint.breaker.closed'), 1);
      assert.equal((await h.health()).state, 'healthy');
      const scrape = (await h.g.admin('GET', '/metrics')).text;
      assert.equal(metric(scrape, 'hookgate_breaker_transitions_total{to="failing"}'), 1);
      assert.equal(metric(scrape, 'hookgate_breaker_transitions_total{to="open"}'), 1);
      assert.equal(metric(scrape, 'hookgate_breaker_transitions_total{to="half-open"}'), 1);
      assert.equal(metric(scrape, 'hookgate_breaker_transitions_total{to="healthy"}'), 1);
      assert.equal(metric(scrape, 'hookgate_endpoint_state{endpoint="ep",state="healthy"}'), 1);
    });

    test('a failed probe reopens it for the next, longer interval', async () => {
      let failing = true;
      const rx = await receiver((_q, res) => void res.writeHead(failing ? 503 : 200).end());
      const h = await healthGateway(driver, `  retry: { schedule: ${quick(12)} }
  breaker: { consecutiveFailures: 2, openFor: ["300ms", "700ms"] }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`);
      onClose(() => h.stop());
      const m1 = await h.publish();
      await waitUntil(() => count(h.events, 'endpoint.breaker.opened') === 2, 10_000, 'reopened');
      failing = false;
      const reopened = h.events.filter((e) => e.type === 'endpoint.breaker.opened');
      assert.deepEqual(reopened.map((e) => e.data.reopened), [false, true]);
      const open = await h.health();
      assert.equal(open.state, 'open');
      assert.match(open.reason ?? '', /the probe failed/);
      assert.equal(Date.parse(open.nextProbeAt!) - Date.parse(open.since!), 700, 'the second open interval');
      await waitUntil(async () => (await h.status(m1)) === 'delivered', 10_000, 'delivered by the second probe');
      assert.deepEqual((await h.attempts(m1)).map((a) => a.status), [503, 503, 503, 200], 'two failures, a failed probe, a probe that delivered');
      assert.equal((await h.health()).state, 'healthy');
    });

    test('a failure makes it failing and a success healthy again, without opening', async () => {
      const rx = await receiver((q, res) => void res.writeHead(JSON.parse(q.body.toString()).data.ok ? 200 : 500).end());
      const h = await healthGateway(driver, `  retry: { schedule: [0, "1h"] }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`);
      onClose(() => h.stop());
      const bad = await h.publish({ ok: false });
      await waitUntil(async () => (await h.attempts(bad)).length === 1, 10_000, 'the failed attempt');
      const failing = await h.health();
      assert.equal(failing.state, 'failing');
      assert.equal(failing.reason, 'HTTP 500');
      assert.ok(failing.since);
      assert.equal(failing.nextProbeAt, null);
      const good = await h.publish({ ok: true });
      await waitUntil(async () => (await h.status(good)) === 'delivered', 10_000, 'delivered');
      await waitUntil(async () => (await h.health()).state === 'healthy', 10_000, 'healthy again');
      assert.equal(count(h.events, 'endpoint.breaker.opened'), 0);
    });

    test('egress.breaker follows a reload', async () => {
      const rx = await receiver((_q, res) => void res.writeHead(500).end());
      const egress = (failures: number) => `  retry: { schedule: [0, "1h"] }
  breaker: { consecutiveFailures: ${failures}, openFor: ["1h"] }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`;
      const h = await healthGateway(driver, egress(3));
      onClose(() => h.stop());
      const settled = async (m: string) => waitUntil(async () => (await h.attempts(m)).length === 1, 10_000, 'attempted');
      for (let i = 0; i < 2; i++) await settled(await h.publish());
      assert.equal((await h.health()).state, 'failing', 'two failures of three');
      await h.reload(egress(2));
      await settled(await h.publish());
      await waitUntil(() => count(h.events, 'endpoint.breaker.opened') === 1, 10_000, 'opened under the reloaded threshold');
      assert.equal((await h.health()).state, 'open');
    });

    test('a failure ratio over the window opens it', async () => {
      const rx = await receiver((q, res) => void res.writeHead(JSON.parse(q.body.toString()).data.n % 2 ? 500 : 200).end());
      const h = await healthGateway(driver, `  retry: { schedule: [0, "1h"] }
  breaker: { consecutiveFailures: 50, failureRatio: 0.5, ratioMinAttempts: 6, ratioWindow: "10m", openFor: ["1h"] }
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "${SECRET}" }`);
      onClose(() => h.stop());
      // One at a time, so the attempts are counted in this order: ok, failed, ok, failed, ...
      for (let n = 0; n < 6; n++) {
        const m = await h.publish({ n });
        await waitUntil(async () => (await h.attempts(m)).length === 1, 10_000, `attempt of message ${n}`);
      }
      await waitUntil(() => count(h.events, 'endpoint.breaker.opened') === 1, 10_000, 'opened by the ratio');
      const open = await h.health();
      assert.equal(open.state, 'open');
      assert.match(open.reason ?? '', /50 % of 6 attempts failed/);
    });
  });
}
