/**
 * Redaction of credentials in values shown to operators: `GET /admin/config`, endpoint answers of
 * the admin API and messages that carry an endpoint URL.
 */

// Key names whose values are credentials. Substring matches catch header names such as
// `x-api-key` or `x-auth-token` (e.g. in the headers plugin) as well as plain `secret`/`token`.
// `slack` is an alert channel's incoming-webhook URL, whose path is its credential.
const SECRET_KEY = /^(secrets?|token|password|passphrase|key|authorization|cookie|slack)$|secret|token|password|api[-_]?key|private[-_]?key|signing[-_]?key|encryption[-_]?keys?/i;

/** Deep copy with secrets replaced, for GET /admin/config and logs. URL credentials are masked too. */
export function redactSecrets(value: unknown, keyName = ''): unknown {
  if (typeof value === 'string') {
    if (keyName && SECRET_KEY.test(keyName)) return '[redacted]';
    // Up to the last `@` of the authority, as WHATWG URL parsing reads it (a password may hold an unescaped `@`).
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i, '$1[redacted]@');
  }
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'string' && keyName && SECRET_KEY.test(keyName) ? '[redacted]' : redactSecrets(v, '')));
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactSecrets(v, k);
    return out;
  }
  return value;
}
