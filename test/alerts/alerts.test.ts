/**
 * Alerts end to end against loopback receivers: two gateway instances on the real Redis send a
 * firing and a resolve exactly once to every channel (operational webhook signed, Slack
 * `{"text"}`, generic JSON webhook); ingress error counters and their alerts on one instance;
 * GET /admin/alerts; lag alerts from the queue; hot reload of the rules.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Webhook } from 'standardwebhooks';
import { alertSpecs } from '../../gateway/apidocs/alert-specs.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil, type RecordedRequest } from '../support/http.js';
import { testStores } from '../support/redis.js';
import { openResources } from '../delivery/resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OPS_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const { onClose, receiver } = openResources();
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
/** GET /admin/alerts answers as its OpenAPI declaration says. */
const alertsAnswer = ajv.compile<Record<string, any>>(alertSpecs.list.responses[200].schema);
const stores = testStores('alerts');
after(() => stores.cleanUp());

async function gatewayWith(yaml: string): Promise<TestGateway> {
  const g = await startGateway(yaml, { services: createDeliveryService });
  onClose(() => g.stop());
  return g;
}

/** The value of one exposition line of GET /admin/metrics, or undefined. */
async function sample(g: TestGateway, line: string): Promise<number | undefined> {
  const text = (await g.admin('GET', '/admin/metrics')).text;
  const hit = text.split('\n').find((l) => l.startsWith(line + ' '));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

/** Alert events among what the operational receiver got, verified with the official library. */
function alertEvents(reqs: RecordedRequest[]): { type: string; data: Record<string, unknown> }[] {
  const wh = new Webhook(OPS_SECRET);
  return reqs.map((r) => wh.verify(r.body.toString('utf8'), r.headers as Record<string, string>) as { type: string; data: Record<string, unknown> }).filter((e) => e.type.startsWith('alert.'));
}

function publish(g: TestGateway, n: number) {
  return g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'order.created', data: { n } }) });
}

describe('alerts', () => {
  test('two instances on one Redis: the alert fires once and resolves once on every channel', async () => {
    const rx = await receiver((_req, res) => void res.writeHead(500).end());
    const ops = await receiver();
    const slack = await receiver();
    const hook = await receiver();
    const yaml = `${stores.yaml('redis')}
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0] }
  # Every attempt fails on purpose: the breaker would open after five and hold the sixth for 30 s.
  breaker: { enabled: false }
  operationalWebhook: { url: "${ops.url}/ops", secret: "${OPS_SECRET}" }
  endpoints:
    - { id: orders, url: "${rx.url}/hook", secret: "${SECRET}" }
alerting: { evaluateEvery: 200ms }
alerts:
  - name: orders-failing
    when: { metric: delivery_failure_ratio, endpoint: "*", over: 3s, above: 0.2 }
    channels: [operational, { slack: "${slack.url}/services/T000/B000/XXXX" }, { webhook: "${hook.url}/alerts" }]
`;
    const g1 = await gatewayWith(yaml);
    const g2 = await gatewayWith(yaml);
    for (let i = 0; i < 6; i++) assert.equal((await publish(i % 2 ? g1 : g2, i)).status, 202);
    await waitUntil(() => rx.requests.length >= 6, 10_000, 'the failing deliveries');
    await waitUntil(() => slack.requests.length >= 1 && hook.requests.length >= 1 && alertEvents(ops.requests).length >= 1, 15_000, 'the firing on every channel');
    // While it fires, both instances report it (the state is shared).
    await waitUntil(async () => (await sample(g1, 'hookgate_alerts_firing{alert="orders-failing"}')) === 1 && (await sample(g2, 'hookgate_alerts_firing{alert="orders-failing"}')) === 1, 5000, 'the gauge on both');
    const listed = (await g2.admin('GET', '/admin/alerts')).json();
    assert.equal(listed.rules[0].name, 'orders-failing');
    assert.deepEqual(listed.rules[0].channels, [{ type: 'operational' }, { type: 'slack' }, { type: 'webhook', url: `${hook.url}/alerts` }]);
    assert.ok(!JSON.stringify(listed).includes('XXXX'), 'the Slack URL (its credential) is never shown');
    assert.ok(!(await g1.admin('GET', '/admin/config')).text.includes('XXXX'), 'nor in GET /admin/config');
    // The failures leave the window: resolved.
    await waitUntil(() => slack.requests.length >= 2 && hook.requests.length >= 2 && alertEvents(ops.requests).length >= 2, 15_000, 'the resolve on every channel');
    // Let both instances run many more evaluation rounds: nothing more may arrive.
    const evaluations = async () => ((await sample(g1, 'hookgate_alert_evaluations_total')) ?? 0) + ((await sample(g2, 'hookgate_alert_evaluations_total')) ?? 0);
    const at = await evaluations();
    await waitUntil(async () => (await evaluations()) >= at + 10, 15_000, 'ten more evaluations');
    assert.deepEqual(slack.requests.map((r) => JSON.parse(r.body.toString()).text.replace(/ is .*/, '')), ['[FIRING] hookgate alert orders-failing: delivery_failure_ratio of endpoint "orders"', '[RESOLVED] hookgate alert orders-failing: delivery_failure_ratio of endpoint "orders"']);
    assert.match(JSON.parse(slack.requests[0]!.body.toString()).text, / is 1 \(threshold: above 0\.2 over 3s\)$/);
    const hooks = hook.requests.map((r) => JSON.parse(r.body.toString()));
    assert.deepEqual(hooks.map((h) => [h.type, h.data.alert, h.data.endpoint, h.data.state]), [['alert.firing', 'orders-failing', 'orders', 'firing'], ['alert.resolved', 'orders-failing', 'orders', 'resolved']]);
    assert.equal(hook.requests[0]!.headers['content-type'], 'application/json');
    assert.deepEqual(alertEvents(ops.requests).map((e) => [e.type, e.data.alert, e.data.endpoint, e.data.value]), [['alert.firing', 'orders-failing', 'orders', 1], ['alert.resolved', 'orders-failing', 'orders', 0]]);
    const after = (await g1.admin('GET', '/admin/alerts')).json();
    assert.ok(alertsAnswer(after), ajv.errorsText(alertsAnswer.errors));
    assert.ok(alertsAnswer(listed), ajv.errorsText(alertsAnswer.errors));
    assert.deepEqual(after.rules[0].subjects.map((s: { subject: string; state: string }) => [s.subject, s.state]), [['orders', 'ok']]);
    assert.deepEqual(after.transitions.map((t: { to: string }) => t.to), ['resolved', 'firing']);
    assert.equal(await sample(g1, 'hookgate_alerts_firing{alert="orders-failing"}'), 0);
  });

  test('the lease holder stops: the other instance takes over and sends the resolve, once', async () => {
    const rx = await receiver((_req, res) => void res.writeHead(500).end());
    const hook = await receiver();
    const yaml = `${stores.yaml('redis')}
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
egress:
  allowCidrs: ["127.0.0.1/32"]
  retry: { schedule: [0] }
  breaker: { enabled: false }
  endpoints:
    - { id: flaky, url: "${rx.url}/hook", secret: "${SECRET}" }
alerting: { evaluateEvery: 200ms }
alerts:
  - { name: flaky-failing, when: { metric: delivery_failure_ratio, over: 3s, above: 0.5 }, channels: [{ webhook: "${hook.url}/alerts" }] }
`;
    const a = await gatewayWith(yaml);
    const b = await gatewayWith(yaml);
    for (let i = 0; i < 4; i++) assert.equal((await publish(i % 2 ? a : b, i)).status, 202);
    await waitUntil(() => hook.requests.length >= 1, 15_000, 'the firing');
    const evaluations = async (g: TestGateway) => (await sample(g, 'hookgate_alert_evaluations_total')) ?? 0;
    const [ea, eb] = [await evaluations(a), await evaluations(b)];
    const [leader, survivor] = ea >= eb ? [a, b] : [b, a];
    const before = await evaluations(survivor);
    await leader.stop();
    await waitUntil(() => hook.requests.length >= 2, 15_000, 'the resolve from the survivor');
    assert.ok((await evaluations(survivor)) > before, 'the survivor evaluated');
    const at = await evaluations(survivor);
    await waitUntil(async () => (await evaluations(survivor)) >= at + 5, 15_000, 'five more evaluations');
    assert.deepEqual(hook.requests.map((r) => JSON.parse(r.body.toString()).type), ['alert.firing', 'alert.resolved']);
  });

  test('ingress errors per route: upstream 5xx and signature failures are counted by reason and alert', async () => {
    const up = await receiver((_req, res) => void res.writeHead(503).end());
    const hook = await receiver();
    const g = await gatewayWith(`${stores.yaml('memory')}
upstreams:
  orders: { targets: [ { url: "${up.url}" } ] }
routes:
  - { name: orders-v1, path: /orders, upstream: orders }
  - name: github
    path: /github
    methods: [POST]
    plugins:
      - verify-signature: { preset: github, secrets: ["a-github-secret-of-some-length"] }
    respond: { status: 204 }
egress:
  allowCidrs: ["127.0.0.1/32"]
alerting: { evaluateEvery: 100ms }
alerts:
  - { when: { metric: upstream_5xx_ratio, route: orders-v1, over: 5m, above: 0.05 }, channels: [{ webhook: "${hook.url}/a" }] }
  - { when: { metric: signature_failures, route: "*", over: 5m, above: 2 }, channels: [{ webhook: "${hook.url}/b" }] }
`);
    for (let i = 0; i < 3; i++) assert.equal((await g.request({ path: '/orders' })).status, 503);
    for (let i = 0; i < 2; i++) assert.equal((await g.request({ method: 'POST', path: '/github', body: '{}' })).status, 401);
    await g.request({ method: 'POST', path: '/github', headers: { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, body: '{}' });
    assert.equal(await sample(g, 'hookgate_upstream_errors_total{route="orders-v1",kind="5xx"}'), 3);
    // verify-signature's own series, by the words of its diagnosis.
    const text = (await g.admin('GET', '/admin/metrics')).text;
    const failures = text.split('\n').filter((l) => l.startsWith('hookgate_signature_failures_total{route="github"'));
    assert.equal(failures.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0), 3, failures.join('\n'));
    await waitUntil(() => hook.requests.length >= 2, 10_000, 'both alerts');
    const got = hook.requests.map((r) => [r.url, JSON.parse(r.body.toString()).data]).sort();
    assert.deepEqual(got.map(([url, d]) => [url, d.alert, d.route, d.value]), [['/a', 'upstream_5xx_ratio-1', 'orders-v1', 1], ['/b', 'signature_failures-2', 'github', 3]]);
    const listed = (await g.admin('GET', '/admin/alerts')).json();
    assert.deepEqual(listed.rules.map((r: { name: string; firing: number; over: string }) => [r.name, r.firing, r.over]), [['upstream_5xx_ratio-1', 1, '5m'], ['signature_failures-2', 1, '5m']]);
    // A reload that removes a rule drops it (and its state) from the answer.
    g.write(readYamlWithout(g, 'signature_failures'));
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.deepEqual((await g.admin('GET', '/admin/alerts')).json().rules.map((r: { name: string }) => r.name), ['upstream_5xx_ratio-1']);
  });

  test('delivery_lag_seconds per tenant, from the queue of a queue-only instance (Redis)', async () => {
    const rx = await receiver();
    const hook = await receiver();
    const g = await gatewayWith(`${stores.yaml('redis')}
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
egress:
  concurrency: 0
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: lagging, url: "${rx.url}/hook", secret: "${SECRET}" }
alerting: { evaluateEvery: 100ms }
alerts:
  - { name: lagging, when: { metric: delivery_lag_seconds, tenant: default, above: 0.3 }, channels: [{ webhook: "${hook.url}/lag" }] }
`);
    assert.equal((await publish(g, 1)).status, 202);
    // Nothing delivers here (concurrency 0): the lag grows past the threshold. The alert's own
    // message waits in the same queue, so it is read back from the store instead of the receiver.
    await waitUntil(async () => (await g.admin('GET', '/admin/alerts')).json().rules[0].firing === 1, 10_000, 'the lag alert firing');
    const t = (await g.admin('GET', '/admin/alerts')).json().transitions[0];
    assert.equal(t.subject, 'default');
    assert.ok(t.value > 0.3, String(t.value));
    assert.equal(rx.requests.length, 0);
  });
});

/** The test gateway's YAML with the alert rules that mention `metric` removed. */
function readYamlWithout(g: TestGateway, metric: string): string {
  const lines = readFileSync(g.file, 'utf8').split('\n');
  // startGateway prefixes listen/admin lines it adds; write() adds them again.
  return lines.filter((l) => !/^(listen|admin):/.test(l) && !l.includes(metric)).join('\n');
}
