/**
 * Raw query-string handling for plugins that must read or drop a parameter without re-encoding the
 * others (the upstream and signature schemes must see the rest byte for byte).
 */

/** A parameter name as an application would read it (`+` is a space); malformed encoding stays as is. */
export function decodeParamName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** The raw query string (with `?`) without one parameter; other parameters keep their exact encoding. */
export function withoutQueryParam(search: string, name: string): string {
  if (!search || search === '?') return '';
  const kept = search
    .slice(search.startsWith('?') ? 1 : 0)
    .split('&')
    .filter((part) => part !== '' && decodeParamName(part.split('=', 1)[0]!) !== name);
  return kept.length ? '?' + kept.join('&') : '';
}
