import { httpRequest, waitUntil, type HttpResult } from './http.js';
import { startCli, type Started } from './cli.js';

/** A custom plugin that says which worker process answered, and which config it serves. */
export const WORKER_PID_PLUGIN = `
export default {
  name: 'worker-pid',
  schema: { type: 'object', additionalProperties: false, required: ['tag'], properties: { tag: { type: 'string' }, failInSlot: { type: 'string' } } },
  create(params) {
    // A plugin that one worker refuses: the case of a reload only some workers apply.
    if (params.failInSlot === process.env.HOOKGATE_WORKER_SLOT) throw new Error('refused in worker ' + params.failInSlot);
    return {
      onResponse(ctx, headers) {
        headers['x-worker-pid'] = String(process.pid);
        headers['x-config-tag'] = params.tag;
      },
    };
  },
};
`;

/** `hookgate start --workers n`, once the primary says every worker serves (or it exited). */
export async function startWorkers(file: string, n: number | string, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const gw = startCli(file, ['--workers', String(n)], env);
  await waitUntil(() => /workers serving/.test(gw.stderr()) || gw.child.exitCode !== null, 60000, 'every worker to serve');
  return gw;
}

/** The worker pids the primary printed when they all served. */
export function startedPids(gw: Started): number[] {
  const m = /\(pids ([0-9, ]+)\)/.exec(gw.stderr());
  return m ? m[1]!.split(', ').map(Number) : [];
}

/** Whether a process is alive (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the processes still alive, by pid. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** GETs `path` on fresh connections (node:cluster hands each to a worker in turn) until `enough` holds. */
export async function sampleWorkers(port: number, path: string, enough: (seen: Map<number, HttpResult>) => boolean, what: string, timeoutMs = 30000): Promise<Map<number, HttpResult>> {
  const seen = new Map<number, HttpResult>();
  await waitUntil(async () => {
    const r = await httpRequest({ port, path });
    seen.set(Number(r.headers['x-worker-pid']), r);
    return enough(seen);
  }, timeoutMs, what);
  return seen;
}
