// Medians, formatting and the RESULTS.md writer.

export function median(xs) {
  const a = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return undefined;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

export function percentile(xs, p) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!a.length) return undefined;
  const i = Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1));
  return a[i];
}

/** 12345.6 → "12,346"; small numbers keep `digits` decimals. */
export function fmt(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const fmtMs = (n) => (n === undefined ? '–' : n < 10 ? fmt(n, 2) : n < 100 ? fmt(n, 1) : fmt(n, 0));
export const fmtX = (n) => (n === undefined ? '–' : `${fmt(n, 2)}×`);
const fmtX3 = (n) => (n === undefined ? '–' : `${fmt(n, 3)}×`);

/** A markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c ?? '–').replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

/** Collects sections, bars and notes; renders RESULTS.md. */
export class Report {
  constructor() {
    this.sections = [];
    this.bars = [];
    this.notes = [];
  }

  section(id, title, body) {
    const s = { id, title, body: [body].filter(Boolean) };
    this.sections.push(s);
    return s;
  }

  /** Records a bar: `value` compared with `limit` by `op` ('>=', '<=', '<', '=='). Returns the PASS/FAIL word. */
  bar(scenario, what, value, op, limit, shown = fmtX3) {
    let pass;
    if (value === undefined || Number.isNaN(value)) pass = undefined;
    else if (op === '>=') pass = value >= limit;
    else if (op === '<=') pass = value <= limit;
    else if (op === '<') pass = value < limit;
    else if (op === '==') pass = value === limit;
    const verdict = pass === undefined ? 'N/A' : pass ? 'PASS' : 'FAIL';
    this.bars.push({ scenario, what, value: shown(value), want: `${op} ${shown(limit)}`, verdict });
    return verdict;
  }

  /** Records a figure in the bars table that has no bar: shown for comparison, never PASS or FAIL. */
  info(scenario, what, value, shown = fmtX3) {
    this.bars.push({ scenario, what, value: shown(value), want: 'no bar (information)', verdict: 'INFO' });
  }

  note(text) {
    this.notes.push(text);
  }

  failedBars() {
    return this.bars.filter((b) => b.verdict === 'FAIL');
  }

  render(head) {
    const out = [head, ''];
    out.push('## Bars', '');
    out.push(this.bars.length ? table(['scenario', 'bar', 'measured', 'wanted', 'verdict'], this.bars.map((b) => [b.scenario, b.what, b.value, b.want, `**${b.verdict}**`])) : '_No bar was measured._');
    out.push('');
    if (this.notes.length) out.push('## Notes', '', ...this.notes.map((n) => `- ${n}`), '');
    for (const s of this.sections) out.push(`## ${s.title}`, '', ...s.body.flatMap((b) => [b, '']));
    return out.join('\n');
  }
}
