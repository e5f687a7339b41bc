// Properties of path normalisation (gateway/router.ts) and of the re-encoding the proxy forwards.
// The upstream's view is modelled by the WHATWG URL parser, which resolves dot segments
// (`..`, `%2e%2e`, `.%2E`) and treats `\` as `/`, as many HTTP stacks do.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { GatewayError } from '../../gateway/errors.js';
import { encodePath, normalizePath, Router } from '../../gateway/router.js';

// HG_PROPERTY_RUNS=5000 explores further locally; the suite keeps each file to a few seconds.
const RUNS = { numRuns: Number(process.env.HG_PROPERTY_RUNS) || 400 };

// Segments an attacker would try, plus arbitrary text. Only Latin-1 code units: Node's HTTP parser
// hands the request target over as a latin1 string, so nothing wider can reach normalizePath.
const trickySegment = fc.constantFrom(
  '.', '..', '...', '%2e', '%2E', '%2e%2e', '.%2E', '%2E.', '%252e%252e', '%2f', '%2F', '%5c', '%5C', '\\', '%25', '%',
  '%00', '%zz', '%C3%A9', '%ED%A0%80', '%3F', '%23', '?', '#', ';', 'a;b', 'é', ' ', '%20', '~', '@', ':', 'admin', 'x.y',
);
const latin1Text = fc.string({ unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 12 });
const segment = fc.oneof({ weight: 3, arbitrary: trickySegment }, { weight: 2, arbitrary: latin1Text });
const separator = fc.constantFrom('/', '/', '/', '//', '\\', '%2f', '%5C', '/./', '/../');
const rawPath = fc
  .tuple(fc.array(fc.tuple(separator, segment), { maxLength: 8 }), fc.boolean())
  .map(([parts, trailing]) => parts.map(([sep, seg]) => sep + seg).join('') + (trailing ? '/' : '') || '/')
  .map((p) => (p.startsWith('/') ? p : '/' + p));

/** normalizePath, or undefined when it refuses the path with HG_BAD_PATH (and only so). */
function normalizeOrRefuse(raw: string): string | undefined {
  try {
    return normalizePath(raw);
  } catch (err) {
    assert.ok(err instanceof GatewayError, `normalizePath(${JSON.stringify(raw)}) threw ${String(err)}`);
    assert.equal(err.code, 'HG_BAD_PATH');
    assert.equal(err.status, 400);
    return undefined;
  }
}

/** The path an upstream sees after parsing what we send: dot segments resolved, `\` as `/`. */
const upstreamView = (sent: string) => new URL(sent, 'http://upstream.test').pathname;

const isDotSegment = (s: string) => {
  let d: string;
  try {
    d = decodeURIComponent(s);
  } catch {
    return false;
  }
  return d === '.' || d === '..';
};

describe('normalizePath and encodePath', () => {
  it('never throw anything but HG_BAD_PATH, on arbitrary text too', () => {
    fc.assert(fc.property(fc.oneof(rawPath, fc.string({ maxLength: 40 })), (raw) => void normalizeOrRefuse(raw)), RUNS);
  });

  it('the result is rooted, has no empty, dot or backslash segment and no NUL', () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const n = normalizeOrRefuse(raw);
        if (n === undefined) return;
        assert.ok(n.startsWith('/'), n);
        const segs = n.slice(1).replace(/\/$/, '').split('/');
        if (n !== '/') for (const s of segs) assert.ok(s !== '' && s !== '.' && s !== '..', `segment ${JSON.stringify(s)} in ${n}`);
        assert.ok(!n.includes('\\') && !n.includes('\0'), n);
      }),
      RUNS,
    );
  });

  it('is idempotent through the re-encoding: the upstream, or a second gateway hop, sees the same path', () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const n = normalizeOrRefuse(raw);
        if (n === undefined) return;
        const sent = encodePath(n);
        assert.equal(normalizePath(sent), n, `sent ${sent}`);
        // Decoded text without a `%` left in it is a fixed point on its own.
        if (!n.includes('%')) assert.equal(normalizePath(n), n);
      }),
      RUNS,
    );
  });

  it('the re-encoded path has no dot segment, encoded or not: a URL parser changes nothing in it', () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const n = normalizeOrRefuse(raw);
        if (n === undefined) return;
        const sent = encodePath(n);
        for (const s of sent.split('/')) assert.ok(!isDotSegment(s), `dot segment ${JSON.stringify(s)} in ${sent}`);
        assert.equal(upstreamView(sent), sent);
      }),
      RUNS,
    );
  });
});

describe('prefix routes with stripPrefix, forwarded under an upstream base path', () => {
  const prefixes = ['/api', '/a/b'];
  const router = new Router(prefixes.map((p) => ({ path: `${p}/*`, route: p })));
  const base = '/svc/v1';

  it('`..` never climbs above the route prefix or the base path', () => {
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), rawPath, (prefix, tail) => {
        const n = normalizeOrRefuse(prefix + tail);
        if (n === undefined) return;
        let match;
        try {
          match = router.match('POST', n, undefined, {});
        } catch (err) {
          // A path that climbed out of every prefix matches no route at all.
          assert.ok(err instanceof GatewayError && err.code === 'HG_ROUTE_NOT_FOUND', String(err));
          assert.ok(!prefixes.some((p) => n === p || n.startsWith(p + '/')), `${n} should have matched`);
          return;
        }
        const p = match.route;
        assert.ok(n === p || n.startsWith(p + '/'), `${n} matched ${p}`);
        // As the pipeline does: strip the matched prefix, then as the proxy does: base + encodePath.
        const forwardPath = n.slice(match.prefixLength) || '/';
        const sent = base + encodePath(forwardPath);
        const seen = upstreamView(sent);
        assert.equal(seen, sent);
        assert.ok(seen === base + '/' || seen.startsWith(base + '/'), `${seen} left ${base}`);
      }),
      RUNS,
    );
  });
});
