import { createHash, timingSafeEqual } from 'node:crypto';

function digest(v: string | Buffer): Buffer {
  return createHash('sha256').update(v).digest();
}

/**
 * Constant-time equality for secrets and signatures.
 *
 * Both sides are hashed with SHA-256 first, so the comparison always runs on two 32-byte
 * buffers: it never throws on a length mismatch and its timing does not reveal the length
 * of the expected value. Strings are compared as UTF-8 bytes.
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
