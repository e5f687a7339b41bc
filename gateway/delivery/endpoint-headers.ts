/**
 * The rules for headers an endpoint adds to its deliveries (`headers` in gateway.yaml and the
 * admin API). Checked when the endpoint is declared or created, so a value Node cannot send
 * never reaches an attempt, and a header cannot change how the request is framed, routed or signed.
 */

/** A header name: RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What Node's http client accepts in a value: tab, visible ASCII, space, and Latin-1 (no CR, LF, NUL, no code point above 0xff). */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Framing, routing and connection headers: hookgate sets them, or they belong to one hop. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);

/**
 * What is wrong with an endpoint's headers, as a sentence naming the header (never its value),
 * or undefined when they are fine. Reserved: the framing and hop-by-hop headers, `proxy-*`, and
 * `webhook-*` (the Standard Webhooks signature headers hookgate sets).
 */
export function endpointHeadersProblem(headers: Record<string, unknown>): string | undefined {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) return `header name ${JSON.stringify(name)} is not a valid HTTP header name`;
    if (RESERVED.has(lower) || lower.startsWith('proxy-') || lower.startsWith('webhook-')) {
      return `header "${name}" cannot be set on an endpoint (hookgate sets framing, connection and signature headers itself)`;
    }
    if (seen.has(lower)) return `header "${name}" is given twice (header names are case-insensitive)`;
    seen.add(lower);
    if (typeof value !== 'string') return `header "${name}" must be a string`;
    if (!VALUE.test(value)) return `header "${name}" has a value with CR, LF, NUL or characters outside Latin-1`;
  }
  return undefined;
}
