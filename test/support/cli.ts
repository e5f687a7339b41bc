import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, type HttpResult } from './http.js';

// dist/test/support/cli.js → the package root is three levels up.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'dist/gateway/cli.js');

/** Child env without the caller's HOOKGATE_* settings, so the example config uses its defaults. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOOKGATE_')) env[k] = v;
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed by pid and failed after `timeoutMs`). */
export function run(args: string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hookgate ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** A long-running `hookgate start`, with its output collected. */
export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logLines(): Record<string, any>[];
  /** SIGKILLs the child (by its pid) if it is still running. */
  kill(): Promise<void>;
}

/** Spawns `hookgate start --config <file>` (plus `extraArgs`). */
export function startCli(file: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, [CLI, 'start', '--config', file, ...extraArgs], { cwd: ROOT, env: childEnv({ HOOKGATE_LOG_LEVEL: 'info', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    logLines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Resolves true when a TCP connection to the port on 127.0.0.1 is refused. */
export function refused(port: number): Promise<boolean> {
  return new Promise((r) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => r(false));
    });
    req.on('error', (err: NodeJS.ErrnoException) => r(err.code === 'ECONNREFUSED'));
    req.end();
  });
}

/** The answer to GET `path` on 127.0.0.1:`port`, or undefined when nothing answers. */
export async function answers(port: number, path: string): Promise<HttpResult | undefined> {
  try {
    return await httpRequest({ port, path, timeoutMs: 2000 });
  } catch {
    return undefined;
  }
}
