/** Small helpers of the stream queue (stream-queue.ts): reading an entry's fields, and two utilities. */

/** A field of a stream entry (`[name, value, name, value, ...]`), '' when absent. */
export function field(f: string[], name: string): string {
  for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1]!;
  return '';
}

/** Since when an entry has been due (ms): its field `w`, else the time in its id. */
export function sinceOf(id: string, f: string[]): number {
  return Number(field(f, 'w')) || Number(id.split('-')[0]);
}

/** `a` rotated left by `by`. */
export function rotate<T>(a: T[], by: number): T[] {
  return [...a.slice(by), ...a.slice(0, by)];
}

/** Waits for `p` (either way) or `ms`, whichever comes first. */
export async function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}
