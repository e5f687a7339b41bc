/** Overview: charts of GET /admin/stats (last hour), the compiled routes, firing alerts. */
import type { RouteStats, StatsAnswer } from '../../../gateway/console/answers.js';
import { api } from '../api.js';
import { LineChart, type Series } from '../chart.js';
import { useInterval, useLoad } from '../hooks.js';
import { href } from '../router.js';
import { Table } from '../table.js';
import { ErrorBox, Loading, NotAvailable, Section, Status, isMissingRoute, time } from '../ui.js';

/** A route of `GET /admin/routes`. */
interface RouteRow {
  name: string;
  path: string;
  methods: string[] | null;
  action: string;
  upstream: string | null;
}

/** One series per route; a bucket without the route's requests counts 0 (`empty`) for rates, nothing for latencies. */
function perRoute(stats: StatsAnswer, pick: (r: RouteStats) => number | null, empty: number | null): Series[] {
  const names = [...new Set(stats.buckets.flatMap((b) => Object.keys(b.routes ?? {})))].sort();
  return names.map((name) => ({ name, values: stats.buckets.map((b) => (b.routes?.[name] ? pick(b.routes[name]) : empty)) }));
}

function Charts({ stats }: { stats: StatsAnswer }) {
  const times = stats.buckets.map((b) => b.at);
  const sec = stats.bucketSec || 60;
  const success = stats.buckets.map((b) => {
    const total = (b.deliveries?.succeeded ?? 0) + (b.deliveries?.failed ?? 0);
    return total ? (100 * b.deliveries.succeeded) / total : null;
  });
  return (
    <div class="charts">
      <LineChart title="Requests per second, by route" unit="/s" times={times} series={perRoute(stats, (r) => r.requests / sec, 0)} />
      <LineChart title="Errors per second (5xx and refusals), by route" unit="/s" times={times} series={perRoute(stats, (r) => r.errors / sec, 0)} />
      <LineChart title="p50 latency, by route" unit="ms" times={times} series={perRoute(stats, (r) => r.p50Ms, null)} />
      <LineChart title="p99 latency, by route" unit="ms" times={times} series={perRoute(stats, (r) => r.p99Ms, null)} />
      <LineChart title="Delivery success rate" unit="%" max={100} times={times} series={[{ name: 'success', values: success }]} />
      <LineChart
        title="Deliveries per bucket"
        times={times}
        series={[
          { name: 'succeeded', values: stats.buckets.map((b) => b.deliveries?.succeeded ?? 0) },
          { name: 'failed', values: stats.buckets.map((b) => b.deliveries?.failed ?? 0) },
        ]}
      />
      <LineChart title="Delivery lag" unit="s" times={times} series={[{ name: 'lag', values: stats.buckets.map((b) => b.lagSeconds ?? null) }]} />
      <LineChart
        title="Queue depth"
        times={times}
        series={(['waiting', 'delayed', 'failed'] as const).map((k) => ({ name: k, values: stats.buckets.map((b) => b.queue?.[k] ?? null) }))}
      />
    </div>
  );
}

function RouteTable({ stats }: { stats: StatsAnswer | undefined }) {
  const routes = useLoad(() => api<{ generation: number; routes: RouteRow[] }>('GET', '/admin/routes'), []);
  const totals = (name: string) => {
    let requests = 0;
    let errors = 0;
    for (const b of stats?.buckets ?? []) {
      requests += b.routes?.[name]?.requests ?? 0;
      errors += b.routes?.[name]?.errors ?? 0;
    }
    return { requests, errors };
  };
  return (
    <Section title="Routes" id="routes">
      <ErrorBox error={routes.error} />
      {routes.data ? (
        <Table
          caption={`Routes of config generation ${routes.data.generation}; counts over the last hour`}
          rows={routes.data.routes}
          rowKey={(r) => r.name}
          columns={[
            { head: 'Route', cell: (r) => <a href={href('requests', { route: r.name })}>{r.name}</a> },
            { head: 'Path', cell: (r) => <code>{r.path}</code> },
            { head: 'Methods', cell: (r) => (r.methods ? r.methods.join(', ') : 'any') },
            { head: 'Action', cell: (r) => `${r.action}${r.upstream ? ` → ${r.upstream}` : ''}` },
            { head: 'Requests', cell: (r) => (stats ? totals(r.name).requests : '—') },
            { head: 'Errors', cell: (r) => (stats ? totals(r.name).errors : '—') },
          ]}
        />
      ) : null}
    </Section>
  );
}

function Alerts() {
  const alerts = useLoad(() => api<{ rules: any[] }>('GET', '/admin/alerts'), []);
  useInterval(alerts.reload, 15000);
  const firing = (alerts.data?.rules ?? []).filter((r) => r.firing > 0);
  return (
    <Section title="Firing alerts" id="alerts">
      <ErrorBox error={alerts.error} what="Alerts" />
      {alerts.data && firing.length === 0 ? <p class="good-text">No alert is firing ({alerts.data.rules.length} rules).</p> : null}
      {firing.length > 0 ? (
        <ul class="alerts">
          {firing.map((r) => (
            <li key={r.name}>
              <strong>{r.name}</strong> ({r.metric} {r.above !== null ? `> ${r.above}` : `< ${r.below}`}):{' '}
              {(r.subjects ?? [])
                .filter((s: any) => s.firing !== false)
                .map((s: any) => `${s.subject ?? s.name ?? JSON.stringify(s)}${s.since ? ` since ${time(s.since)}` : ''}${s.value !== undefined ? ` = ${s.value}` : ''}`)
                .join('; ') || `${r.firing} firing`}
            </li>
          ))}
        </ul>
      ) : null}
    </Section>
  );
}

export function OverviewPage() {
  const stats = useLoad(() => api<StatsAnswer>('GET', '/admin/stats?minutes=60'), []);
  useInterval(stats.reload, 10000);
  return (
    <>
      <h1>Overview</h1>
      <Alerts />
      <Section title="Last hour" id="stats">
        <Loading when={stats.loading && !stats.data && !stats.error} />
        {isMissingRoute(stats.error) ? <NotAvailable what="The charts (GET /admin/stats)" /> : <ErrorBox error={stats.error} />}
        {stats.data ? <Charts stats={stats.data} /> : null}
        {stats.data ? (
          <p class="muted">
            {stats.data.buckets.length} buckets of {stats.data.bucketSec} s; latest {time(stats.data.buckets.at(-1)?.at)}. <Status value="live" /> refreshes every 10 s.
          </p>
        ) : null}
      </Section>
      <RouteTable stats={stats.data} />
    </>
  );
}
