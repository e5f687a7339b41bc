// Closed-loop HTTP load: wrk (with a generated Lua script) when it is on PATH, else autocannon's
// CLI from node_modules. Both run pinned to the load core and are bounded by their duration
// (plus a hard kill timeout). Results are normalised to
//   { tool, rps, requests, durationSec, p50, p90, p99, max (ms), errors: { connect, read, write, timeout, non2xx }, failed }
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.mjs';

let tool;
/** 'wrk' when on PATH, else 'autocannon' (devDependency). BENCH_LOADGEN=autocannon forces the fallback. */
export function loadTool(root) {
  if (tool) return tool;
  const forced = process.env.BENCH_LOADGEN;
  if (forced !== 'autocannon' && spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0) tool = { name: 'wrk', bin: 'wrk' };
  else {
    const bin = join(root, 'node_modules/.bin/autocannon');
    if (!existsSync(bin)) throw new Error('neither wrk nor node_modules/.bin/autocannon is available');
    tool = { name: 'autocannon', bin };
  }
  const v = tool.name === 'wrk' ? spawnSync('wrk', ['-v'], { encoding: 'utf8' }) : spawnSync(tool.bin, ['--version'], { encoding: 'utf8' });
  tool.version = `${v.stdout ?? ''}${v.stderr ?? ''}`.split('\n')[0].replace(/\s*Copyright.*$/, '').trim();
  return tool;
}

function luaString(s) {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

/** A wrk script: fixed method, body and headers; done() prints one JSON line with the numbers we need. */
function wrkScript({ method, headers, body }) {
  const lines = [`wrk.method = ${luaString(method)}`];
  if (body !== undefined) lines.push(`wrk.body = ${luaString(body)}`);
  for (const [k, v] of Object.entries(headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(String(v))}`);
  lines.push(`
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`);
  return lines.join('\n');
}

/**
 * One load run against `url` for `durationSec`, pinned to `core`.
 * @param {{ url: string, method?: string, headers?: Record<string,string>, body?: string,
 *   durationSec: number, connections?: number, core?: number, root: string, scratch: string, label?: string }} o
 */
export async function load(o) {
  const t = loadTool(o.root);
  const connections = o.connections ?? 64;
  const method = o.method ?? 'GET';
  const hardTimeout = (o.durationSec + 30) * 1000;
  if (t.name === 'wrk') {
    const script = join(o.scratch, `wrk-${(o.label ?? 'run').replace(/[^A-Za-z0-9_.-]/g, '_')}.lua`);
    writeFileSync(script, wrkScript({ method, headers: o.headers, body: o.body }));
    const r = await run('wrk', ['-t1', `-c${connections}`, `-d${o.durationSec}s`, '--timeout', '5s', '-s', script, o.url], { core: o.core, timeoutMs: hardTimeout });
    const m = /WRKJSON (\{.*\})/.exec(r.stdout);
    if (!m) throw new Error(`wrk failed (exit ${r.code}): ${r.stderr || r.stdout}`);
    const j = JSON.parse(m[1]);
    const durationSec = j.duration_us / 1e6;
    // wrk counts status >= 400 as errors.status; each is a completed request, others are not.
    const errors = { connect: j.connect, read: j.read, write: j.write, timeout: j.timeout, non2xx: j.status };
    return {
      tool: 'wrk',
      requests: j.requests,
      durationSec,
      rps: (j.requests - j.status) / durationSec,
      p50: j.p50 / 1000,
      p90: j.p90 / 1000,
      p99: j.p99 / 1000,
      max: j.max / 1000,
      errors,
      failed: errors.connect + errors.read + errors.write + errors.timeout + errors.non2xx,
    };
  }
  const args = ['-c', String(connections), '-d', String(o.durationSec), '-m', method, '-t', '5', '--json'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (o.body !== undefined) args.push('-b', o.body);
  args.push(o.url);
  const r = await run(t.bin, args, { core: o.core, timeoutMs: hardTimeout });
  let j;
  try {
    j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  } catch {
    throw new Error(`autocannon failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  }
  const durationSec = j.duration;
  const errors = { connect: 0, read: j.errors - j.timeouts, write: 0, timeout: j.timeouts, non2xx: j.non2xx };
  return {
    tool: 'autocannon',
    requests: j.requests.total,
    durationSec,
    rps: (j.requests.total - j.non2xx) / durationSec,
    p50: j.latency.p50,
    p90: j.latency.p90,
    p99: j.latency.p99,
    max: j.latency.max,
    errors,
    failed: errors.read + errors.timeout + errors.non2xx,
  };
}
