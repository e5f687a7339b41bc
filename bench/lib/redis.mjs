// Redis helpers for the delivery scenarios: memory figures and clean-up of the bench's own keys
// (only keys under the bench's prefix are ever touched).
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function connect() {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
  await r.connect();
  return r;
}

/** Whether Redis answers PING (and its version). */
export async function redisInfo() {
  let r;
  try {
    r = await connect();
    await r.ping();
    const info = await r.info('server');
    return { ok: true, version: /redis_version:(\S+)/.exec(info)?.[1] };
  } catch (err) {
    return { ok: false, error: err.message };
  } finally {
    r?.disconnect();
  }
}

/** INFO memory used_memory, in bytes. */
export async function usedMemory(r) {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)[1]);
}

async function scanEach(r, prefix, fn) {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await fn(keys);
  } while (cursor !== '0');
}

/** { keys, bytes }: number of keys under `prefix` and the sum of MEMORY USAGE over them. */
export async function keyStats(r, prefix) {
  let keys = 0;
  let bytes = 0;
  await scanEach(r, prefix, async (batch) => {
    keys += batch.length;
    const p = r.pipeline();
    for (const k of batch) p.memory('USAGE', k, 'SAMPLES', '0');
    for (const [err, v] of await p.exec()) if (!err && v) bytes += Number(v);
  });
  return { keys, bytes };
}

/** UNLINKs every key under `prefix` (must be a bench prefix). Returns how many. */
export async function deleteKeys(prefix) {
  if (!prefix.startsWith('hgbench:')) throw new Error(`refusing to delete keys outside hgbench: (${prefix})`);
  let r;
  let n = 0;
  try {
    r = await connect();
    await scanEach(r, prefix, async (batch) => {
      n += batch.length;
      await r.unlink(...batch);
    });
  } finally {
    r?.disconnect();
  }
  return n;
}
