import { Redis } from 'ioredis';

/** The Redis the tests talk to (the real one; never mocked where Redis is the point). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of this test's own, so tests clean up only what they made. */
export function testPrefix(name: string): string {
  return `hgtest:${name}:${process.pid}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
}

/** Deletes every key under a prefix (SCAN, never KEYS). */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}

/**
 * The `store:` line of a test gateway's YAML: memory, or the shared Redis under a fresh prefix of
 * its own per call (gateways sharing a prefix would share one queue and take each other's jobs).
 * `cleanUp` deletes the keys of every prefix handed out (call it from `after`).
 */
export function testStores(name: string): { yaml(driver: 'memory' | 'redis'): string; cleanUp(): Promise<void> } {
  const prefixes: string[] = [];
  return {
    yaml(driver) {
      if (driver === 'memory') return 'store: { driver: memory }';
      const prefix = testPrefix(name);
      prefixes.push(prefix);
      return `store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }`;
    },
    async cleanUp() {
      for (const p of prefixes) await deleteKeys(p);
    },
  };
}
