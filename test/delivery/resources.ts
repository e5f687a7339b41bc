import { after } from 'node:test';
import { startUpstream, type TestUpstream } from '../support/http.js';

/**
 * What a test file opens (receivers, gateways, engines), closed after its tests, last opened
 * first. Call once per file, at the top level.
 */
export function openResources() {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  });
  return {
    /** Closes `c` after the file's tests. */
    onClose(c: () => Promise<unknown>): void {
      closers.push(c);
    },
    /** A recording loopback receiver (see `startUpstream`), closed after the file's tests. */
    async receiver(handler?: Parameters<typeof startUpstream>[0]): Promise<TestUpstream> {
      const u = await startUpstream(handler);
      closers.push(() => u.close());
      return u;
    },
  };
}
