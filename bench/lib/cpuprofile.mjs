// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time, and self time by
// file/package. Usable on its own:  node bench/lib/cpuprofile.mjs <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function where(url) {
  if (!url) return '(native/vm)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 13).split('/');
    return `npm:${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (u.startsWith('node:')) return u;
  const d = u.indexOf('/dist/');
  if (d >= 0) return u.slice(d + 6);
  return u;
}

/** { totalMs, top: [{ fn, where, line, selfMs, pct }], byFile: [{ where, selfMs, pct }] } */
export function summarise(file, top = 25) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // timeDeltas[i] is the time before samples[i]; attribute it to that sample's node.
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const files = new Map();
  let idleUs = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') idleUs += us;
    const w = cf.url ? where(cf.url) : name.startsWith('(') ? name : '(native/vm)';
    const key = `${name}\u0000${w}\u0000${cf.lineNumber}`;
    const f = fns.get(key) ?? { fn: name, where: w, line: cf.lineNumber + 1, selfUs: 0 };
    f.selfUs += us;
    fns.set(key, f);
    files.set(w, (files.get(w) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    top: [...fns.values()]
      .filter((f) => f.fn !== '(idle)')
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, line: f.line, selfMs: f.selfUs / 1000, pct: pct(f.selfUs) })),
    byFile: [...files.entries()]
      .filter(([w]) => w !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([w, us]) => ({ where: w, selfMs: us / 1000, pct: pct(us) })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = summarise(process.argv[2], Number(process.argv[3] ?? 25));
  console.log(`total ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`);
  for (const f of s.top) console.log(`${f.pct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.fn}  ${f.where}:${f.line}`);
  console.log('--- by file/package');
  for (const f of s.byFile) console.log(`${f.pct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.where}`);
}

/** Markdown: top self-time functions and self time per file/package. */
export function cpuProfileTop(file, top = 25) {
  const s = summarise(file, top);
  const row = (cells) => `| ${cells.join(' | ')} |`;
  const out = [`Sampled ${s.totalMs.toFixed(0)} ms, of which ${s.busyMs.toFixed(0)} ms busy (percentages are of busy time).`, ''];
  out.push(row(['self %', 'self ms', 'function', 'where']), row(['---:', '---:', '---', '---']));
  for (const f of s.top) out.push(row([f.pct.toFixed(1), f.selfMs.toFixed(0), `\`${f.fn.replace(/\|/g, '\\|')}\``, `${f.where}:${f.line}`]));
  out.push('', row(['self %', 'self ms', 'file / package']), row(['---:', '---:', '---']));
  for (const f of s.byFile.slice(0, 15)) out.push(row([f.pct.toFixed(1), f.selfMs.toFixed(0), f.where]));
  return out.join('\n');
}
