/**
 * A line chart as inline SVG, drawn here (no chart library, no CDN). Colours come from CSS classes
 * (s0..s5), since the CSP allows no inline styles; SVG geometry attributes are not styles.
 */
export interface Series {
  name: string;
  values: Array<number | null>;
}

const W = 560;
const H = 160;
const PAD = { l: 44, r: 8, t: 8, b: 22 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number, unit: string): string {
  const n = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, '') || '0';
  return unit ? `${n}${unit}` : n;
}

export function LineChart({ title, times, series, unit = '', max }: { title: string; times: string[]; series: Series[]; unit?: string; max?: number }) {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const top = max ?? niceMax(Math.max(0, ...all));
  const n = Math.max(times.length, 1);
  const x = (i: number) => PAD.l + (n === 1 ? 0 : (i * (W - PAD.l - PAD.r)) / (n - 1));
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - Math.min(v, top) / top);
  const last = series.map((s) => [...s.values].reverse().find((v) => v !== null && v !== undefined) ?? null);
  const peak = series.map((s) => Math.max(...s.values.filter((v): v is number => v !== null && Number.isFinite(v))));
  const say = (i: number) => (last[i] === null ? 'no data' : `${fmt(last[i] as number, unit)} now, peak ${fmt(peak[i] as number, unit)}`);
  const summary = series.map((s, i) => `${s.name}: ${say(i)}`).join(', ');
  const label = (iso: string | undefined) => (iso ? new Date(iso).toISOString().slice(11, 16) : '');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. Latest: ${summary || 'no data'}`}>
        <title>{title}</title>
        {[0, 0.5, 1].map((f) => (
          <g key={f} class="grid">
            <line x1={PAD.l} x2={W - PAD.r} y1={y(top * f)} y2={y(top * f)} />
            <text x={PAD.l - 4} y={y(top * f) + 4} text-anchor="end">
              {fmt(top * f, unit)}
            </text>
          </g>
        ))}
        <text class="axis" x={PAD.l} y={H - 6}>
          {label(times[0])}
        </text>
        <text class="axis" x={W - PAD.r} y={H - 6} text-anchor="end">
          {label(times[times.length - 1])}
        </text>
        {series.map((s, i) => (
          <g key={s.name} class={`s${i % 6}`}>
            <polyline class="line" fill="none" points={points(s.values, x, y)} />
            {isolated(s.values).map((j) => (
              <circle key={j} class="dot" cx={x(j)} cy={y(s.values[j] as number)} r="2.5" />
            ))}
          </g>
        ))}
      </svg>
      {series.length > 0 ? (
        <ul class="legend">
          {series.map((s, i) => (
            <li key={s.name}>
              <span class={`swatch s${i % 6}`} aria-hidden="true" />
              {s.name}: {say(i)}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No data in this window.</p>
      )}
    </figure>
  );
}

/** Points with no neighbour on either side, which a line alone would not show. */
function isolated(values: Array<number | null>): number[] {
  const has = (i: number) => i >= 0 && i < values.length && values[i] !== null && Number.isFinite(values[i]);
  return values.map((_, i) => i).filter((i) => has(i) && !has(i - 1) && !has(i + 1));
}

/** The line joins the buckets that have a value (a gap is bridged, not drawn as zero). */
function points(values: Array<number | null>, x: (i: number) => number, y: (v: number) => number): string {
  const out: string[] = [];
  values.forEach((v, i) => {
    if (v !== null && Number.isFinite(v)) out.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  return out.join(' ');
}
