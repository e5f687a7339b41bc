import { Errors } from './errors.js';

/**
 * Path normalisation: percent-decoding (including encoded slashes and dots), dot segments and
 * duplicate slashes, so that no encoding trick reaches a route it should not. The result is what
 * is matched AND what is forwarded (re-encoded), so the gateway and the upstream agree on the path.
 */
// A path made only of these, with no empty, `.` or `..` segment, is already normal.
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*)*\/?$/;

export function normalizePath(rawPath: string): string {
  // Hot path: most webhook paths are plain; skip decoding and re-joining for them.
  if (PLAIN_PATH.test(rawPath) && !rawPath.includes('/..') && !rawPath.endsWith('/.')) return rawPath === '' ? '/' : rawPath;
  let decoded: string;
  try {
    decoded = rawPath.includes('%') ? decodeURIComponent(rawPath) : rawPath;
  } catch {
    throw Errors.BAD_PATH('malformed percent-encoding in the request path');
  }
  if (decoded.includes('\0')) throw Errors.BAD_PATH('NUL byte in the request path');
  // Backslashes are treated as slashes, as several upstream stacks do.
  const segments = decoded.replace(/\\/g, '/').split('/');
  const out: string[] = [];
  for (const s of segments) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  const trailing = decoded.endsWith('/') && out.length > 0 ? '/' : '';
  return '/' + out.join('/') + trailing;
}

/** Re-encodes a normalised path for the upstream (segment by segment). */
// Exactly the characters the slow path leaves as they are (encodeURIComponent's set plus @ : ,).
const SAFE_PATH = /^[A-Za-z0-9._~!*'()@:,/-]*$/;

export function encodePath(path: string): string {
  if (SAFE_PATH.test(path)) return path;
  return path
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%40/g, '@').replace(/%3A/gi, ':').replace(/%2C/gi, ','))
    .join('/');
}

/** What the router needs of a route; the generation attaches the rest. */
export interface RouteMatcherSpec<R> {
  path: string;
  methods?: string[];
  host?: string;
  headers?: Record<string, string>;
  route: R;
}

interface Candidate<R> {
  methods: Set<string> | undefined;
  host: string | undefined;
  headers: [string, string][];
  /** For prefix routes, the prefix length to strip. */
  prefixLength: number;
  route: R;
}

interface TrieNode<R> {
  children: Map<string, TrieNode<R>>;
  candidates: Candidate<R>[];
}

export interface RouteMatch<R> {
  route: R;
  /** Length of the matched prefix (0 for exact routes). */
  prefixLength: number;
}

/**
 * Compiled once per config: an exact-path map plus a segment trie for prefixes. A lookup costs
 * one map get plus one walk down the path's segments, whatever the number of routes.
 */
export class Router<R> {
  private readonly exact = new Map<string, Candidate<R>[]>();
  private readonly root: TrieNode<R> = { children: new Map(), candidates: [] };
  private readonly usesHost: boolean;
  /** Scratch space for the trie walk (the router is used by one thread, synchronously). */
  private readonly trail: TrieNode<R>[] = [];

  constructor(specs: RouteMatcherSpec<R>[]) {
    this.usesHost = specs.some((s) => s.host !== undefined);
    for (const s of specs) {
      const isPrefix = s.path.endsWith('/*') || s.path === '*';
      const base = isPrefix ? normalizePath(s.path.slice(0, -2) || '/') : normalizePath(s.path);
      const cand: Candidate<R> = {
        methods: s.methods ? new Set(s.methods.map((m) => m.toUpperCase())) : undefined,
        host: s.host?.toLowerCase(),
        headers: Object.entries(s.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
        prefixLength: isPrefix ? (base === '/' ? 0 : base.length) : 0,
        route: s.route,
      };
      if (!isPrefix) {
        const list = this.exact.get(base);
        if (list) list.push(cand);
        else this.exact.set(base, [cand]);
        continue;
      }
      let node = this.root;
      for (const seg of base.split('/')) {
        if (!seg) continue;
        let next = node.children.get(seg);
        if (!next) {
          next = { children: new Map(), candidates: [] };
          node.children.set(seg, next);
        }
        node = next;
      }
      node.candidates.push(cand);
    }
  }

  /**
   * Finds the route for a normalised path. Exact routes win over prefixes, longer prefixes over
   * shorter, then declaration order. Throws 404 HG_ROUTE_NOT_FOUND or 405 HG_METHOD_NOT_ALLOWED.
   */
  match(method: string, path: string, host: string | undefined, headers: Record<string, string | string[] | undefined>): RouteMatch<R> {
    const h = this.usesHost && host ? host.toLowerCase().replace(/:\d+$/, '') : undefined;
    const hit = this.find(method, path, h, headers);
    if (hit) return hit;
    // Slow path, only for errors: did the path match with another method?
    const allowed = new Set<string>();
    this.find(undefined, path, h, headers, allowed);
    if (allowed.size) {
      throw Errors.METHOD_NOT_ALLOWED(method, path).with({ allow: [...allowed].join(', ') });
    }
    throw Errors.ROUTE_NOT_FOUND(method, path);
  }

  /** The first candidate that fits; with `allowed`, collects the methods of every path/host/header fit instead. */
  private find(method: string | undefined, path: string, host: string | undefined, headers: Record<string, string | string[] | undefined>, allowed?: Set<string>): Candidate<R> | undefined {
    const exact = this.check(this.exact.get(path), method, host, headers, allowed);
    if (exact) return exact;
    // Walk the trie as deep as the path goes, then try the deepest prefix first.
    const nodes = this.trail;
    let depth = 0;
    let node: TrieNode<R> | undefined = this.root;
    if (node.candidates.length) nodes[depth++] = node;
    let start = 1;
    while (start <= path.length) {
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      if (end === start) break;
      node = node.children.get(path.slice(start, end));
      if (!node) break;
      if (node.candidates.length) nodes[depth++] = node;
      start = end + 1;
    }
    for (let i = depth - 1; i >= 0; i--) {
      const c = this.check(nodes[i]!.candidates, method, host, headers, allowed);
      if (c) return c;
    }
    return undefined;
  }

  private check(list: Candidate<R>[] | undefined, method: string | undefined, host: string | undefined, headers: Record<string, string | string[] | undefined>, allowed?: Set<string>): Candidate<R> | undefined {
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.host !== undefined && c.host !== host) continue;
      let ok = true;
      for (let j = 0; j < c.headers.length; j++) {
        const hv = c.headers[j]!;
        if (headers[hv[0]] !== hv[1]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (allowed) {
        for (const m of c.methods ?? []) allowed.add(m);
        continue;
      }
      if (c.methods && !c.methods.has(method!)) continue;
      return c;
    }
    return undefined;
  }
}
