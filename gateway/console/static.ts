import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { ConsoleConfig } from '../config/types.js';
import { Errors, errorBodyOf, type GatewayError } from '../errors.js';
import { sendJson } from '../http.js';
import { packageRoot } from '../paths.js';

/** The console bundle `npm run build` writes: the package's dist/console, whatever the cwd. */
export const DEFAULT_CONSOLE_ROOT = resolve(packageRoot, 'dist', 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite's hashed asset names (`index-3f9a1c2b.js`, `index-BdR4x_9Q.css`): safe to cache for a year. */
const HASHED = /[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/** The Content-Security-Policy of every console response. */
export function consoleCsp(frameAncestors: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors.length ? frameAncestors.join(' ') : "'none'"}`,
  ].join('; ');
}

/**
 * Serves the console's static files at `/console/` on the admin listener, without a token (the
 * bundle holds no data; every call it makes needs one). `/console` redirects to `/console/`;
 * paths without a file extension that name no file get index.html (the app's own routes). Only
 * files under `root` are served: the path is decoded, resolved and checked against the real
 * root, so neither `..` nor a symlink leads out. Returns a handler that answers true when it
 * answered the request.
 */
export function serveConsole(config: () => ConsoleConfig | undefined, root = DEFAULT_CONSOLE_ROOT): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const raw = req.url ?? '/';
    const path = raw.split('?')[0]!;
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    const cfg = config();
    if (cfg && cfg.enabled === false) return false;
    const headers = {
      'content-security-policy': consoleCsp(cfg?.portal?.frameAncestors ?? []),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    const fail = (e: GatewayError, extra: Record<string, string> = {}) => sendJson(res, e.status, errorBodyOf(e), { ...headers, ...extra });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(Errors.METHOD_NOT_ALLOWED(req.method ?? '', path), { allow: 'GET, HEAD' });
      return true;
    }
    if (path === '/console') {
      res.writeHead(301, { ...headers, location: '/console/', 'content-length': 0 });
      res.end();
      return true;
    }
    let realRoot: string;
    try {
      realRoot = realpathSync(root);
      statSync(join(realRoot, 'index.html'));
    } catch {
      fail(Errors.CONSOLE_NOT_BUILT());
      return true;
    }
    const file = locate(realRoot, path.slice('/console/'.length));
    if (file === 'bad') {
      fail(Errors.BAD_PATH('malformed console path'));
      return true;
    }
    if (!file) {
      fail(Errors.ADMIN_NOT_FOUND(req.method, path));
      return true;
    }
    const isIndex = file.endsWith(`${sep}index.html`) && relative(realRoot, file) === 'index.html';
    const size = statSync(file).size;
    res.writeHead(200, {
      ...headers,
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': isIndex || !HASHED.test(file) ? 'no-cache' : 'public, max-age=31536000, immutable',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).on('error', () => res.destroy()).pipe(res);
    return true;
  };
}

/**
 * The file under `root` a request path names: the file itself, index.html for the root, for a
 * directory and for an app route (no extension), or undefined (a missing asset). `bad` for a
 * malformed or escaping path.
 */
function locate(root: string, rest: string): string | undefined | 'bad' {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return 'bad';
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return 'bad';
  const index = join(root, 'index.html');
  if (decoded === '' || decoded.endsWith('/')) return decoded === '' ? index : within(root, join(root, decoded, 'index.html')) ?? index;
  const target = resolve(root, decoded);
  if (target !== root && !target.startsWith(root + sep)) return 'bad';
  const found = within(root, target);
  if (found) return found;
  return extname(decoded) === '' ? index : undefined;
}

/** `file` if it is a regular file whose real path is under `root`. */
function within(root: string, file: string): string | undefined {
  try {
    const real = realpathSync(file);
    if (!real.startsWith(root + sep)) return undefined;
    return statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}
