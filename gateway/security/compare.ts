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

/**
 * Constant-time equality for signatures and digests, whose length is public (it is fixed by the
 * algorithm): a length mismatch returns false at once, equal lengths are compared byte by byte
 * in constant time. Cheaper than `safeEqual` on the hot path (no hashing). Not for secrets of
 * variable length such as tokens: use `safeEqual` there.
 */
export function signatureEqual(expected: string | Buffer, given: string | Buffer): boolean {
  const a = typeof expected === 'string' ? Buffer.from(expected) : expected;
  const b = typeof given === 'string' ? Buffer.from(given) : given;
  return a.length === b.length && timingSafeEqual(a, b);
}
