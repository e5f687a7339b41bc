/** A hash router: `#/messages/msg_1?status=failed` -> { parts: ['messages', 'msg_1'], query }. */
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Location {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)) };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setLoc(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return loc;
}

/** `href('messages', id)` -> `#/messages/<id>` with each part encoded; `query` adds the set values. */
export function href(...parts: Array<string | Record<string, string | undefined>>): string {
  let query = '';
  const segs: string[] = [];
  for (const p of parts) {
    if (typeof p === 'string') segs.push(encodeURIComponent(p));
    else {
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries(p)) if (v) u.set(k, v);
      const s = u.toString();
      if (s) query = `?${s}`;
    }
  }
  return `#/${segs.join('/')}${query}`;
}

export function navigate(to: string): void {
  location.hash = to.replace(/^#/, '');
}
