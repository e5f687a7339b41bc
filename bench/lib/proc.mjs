// Child processes for the bench: every process is started pinned to a core, tracked by pid, and
// stopped by that pid (SIGTERM, then SIGKILL after a grace period). Anything still running when
// the harness exits (normally, on error or on a signal) is SIGKILLed by pid.
import { spawn, spawnSync } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { DEFAULT_PORTS, GATEWAY_SLOTS, PORTS } from './env.mjs';

const live = new Map(); // pid -> { name, child }
let hasTaskset;

/** Whether `taskset` is available (util-linux). Without it processes run unpinned (noted in RESULTS.md). */
export function tasksetAvailable() {
  if (hasTaskset === undefined) hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return hasTaskset;
}

/** argv prefixed with `taskset -c <core>` when it is available. */
export function pinned(core, cmd, args) {
  if (core === undefined || core === null || !tasksetAvailable()) return [cmd, args];
  return ['taskset', ['-c', String(core), cmd, ...args]];
}

/**
 * Starts a process pinned to `core`; stdout+stderr go to `logFile` (appended). Returns
 * { pid, name, child, exited: Promise<{code, signal}> }.
 */
export function start(name, cmd, args, { core, logFile, env, cwd, stdio } = {}) {
  const [c, a] = pinned(core, cmd, args);
  let fd;
  if (logFile) fd = openSync(logFile, 'a');
  const child = spawn(c, a, {
    cwd,
    env: { ...process.env, ...env },
    stdio: stdio ?? ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
  });
  if (fd !== undefined) closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.once('error', (err) => {
    process.stderr.write(`bench: cannot start ${name}: ${err.message}\n`);
  });
  if (child.pid) live.set(child.pid, { name, child });
  exited.then(() => live.delete(child.pid));
  return { pid: child.pid, name, child, exited };
}

/** Stops a started process by pid: `signal` (default SIGTERM), SIGKILL if it has not exited after graceMs. */
export async function stop(p, { signal = 'SIGTERM', graceMs = 10_000 } = {}) {
  if (!p || !p.pid) return undefined;
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { code: p.child.exitCode, signal: p.child.signalCode };
  try {
    process.kill(p.pid, signal);
  } catch {
    // Already gone.
  }
  let timer;
  const killed = new Promise((resolve) => {
    timer = setTimeout(() => {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      resolve();
    }, graceMs);
  });
  await Promise.race([p.exited, killed]);
  const r = await p.exited;
  clearTimeout(timer);
  return r;
}

/** SIGKILLs every process still tracked. Synchronous: safe in process.on('exit'). */
export function killAll() {
  for (const [pid] of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  live.clear();
}

let hooked = false;
const cleanups = [];
/** Registers async clean-up (e.g. deleting the run's Redis keys) to run, bounded to 5 s, when interrupted. */
export function onInterrupt(fn) {
  cleanups.push(fn);
}

/** Installs exit/signal hooks so no child outlives the harness. */
export function installExitHooks() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAll();
      if (interrupted) process.exit(130);
      interrupted = true;
      const bounded = new Promise((r) => setTimeout(r, 5000).unref());
      Promise.race([Promise.allSettled(cleanups.map((f) => f())), bounded]).then(() => process.exit(130));
    });
  }
}

/** Resident set size of a pid in KiB (VmRSS from /proc/<pid>/status), or undefined. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux

/** CPU seconds (user+system) a pid has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // Fields after "pid (comm) ": state is index 0, utime is field 14 → index 11, stime → 12.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Runs a command to completion (bounded by timeoutMs) and returns { code, stdout, stderr }. */
export function run(cmd, args, { core, timeoutMs = 120_000, cwd, env } = {}) {
  const [c, a] = pinned(core, cmd, args);
  return new Promise((resolve) => {
    const child = spawn(c, a, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) live.set(child.pid, { name: cmd, child });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child.pid);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}

/** Polls `fn` (async → truthy) every `everyMs` until it is truthy or `timeoutMs` passes. */
export async function waitFor(fn, timeoutMs, what, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last.message})` : ''}`);
}

/** Whether nothing listens on 127.0.0.1:`port` (we could bind it). */
function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Moves PORTS by BENCH_PORT_OFFSET: a number, or `auto` (default): the first offset of 0, 100, …,
 * 900 at which every port of the run is free, so a second bench (or another helper's receiver on
 * 19000) on the same machine does not collide. Resolves the offset; throws when none is free.
 */
export async function choosePorts(spec = process.env.BENCH_PORT_OFFSET ?? 'auto') {
  const base = Object.values(DEFAULT_PORTS);
  for (let i = 0; i < GATEWAY_SLOTS; i++) base.push(DEFAULT_PORTS.gateway + i);
  const apply = (off) => {
    for (const [k, v] of Object.entries(DEFAULT_PORTS)) PORTS[k] = v + off;
    return off;
  };
  if (spec !== 'auto') {
    const off = Number(spec);
    if (!Number.isInteger(off) || off < 0 || off > 40_000) throw new Error(`BENCH_PORT_OFFSET=${spec} is not a whole number of 0–40000 (or auto)`);
    return apply(off);
  }
  for (let off = 0; off <= 900; off += 100) {
    let ok = true;
    for (const p of new Set(base)) if (!(await portFree(p + off))) ok = false;
    if (ok) return apply(off);
  }
  throw new Error('no free port range at offsets 0–900 from 18080/19000: set BENCH_PORT_OFFSET');
}
