/**
 * Where a body stops being JSON. `JSON.parse` does the parsing; only after it has failed does this
 * scan the bytes to name the first byte that cannot be JSON, because V8 says where only inside its
 * message, in a form that changed between Node 20 ("at position N", sometimes no position at all)
 * and Node 24 ("(line L column C)"), and counts UTF-16 code units, not bytes.
 */

/** The byte offset of the first error and what was expected there. */
export interface JsonErrorLocation {
  offset: number;
  reason: string;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
const isHex = (b: number | undefined) => b !== undefined && (isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function describe(bytes: Buffer, i: number): string {
  if (i >= bytes.length) return 'unexpected end of input';
  const b = bytes[i]!;
  return b >= 0x20 && b < 0x7f ? `unexpected character '${String.fromCharCode(b)}'` : `unexpected byte 0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * Scans RFC 8259 JSON and returns where the first error is, or undefined when the bytes are JSON.
 * Iterative (an explicit stack), so a deeply nested body cannot overflow the call stack.
 */
export function locateJsonError(bytes: Buffer): JsonErrorLocation | undefined {
  let i = 0;
  const n = bytes.length;
  const fail = (why?: string): never => {
    throw new Stop(i, why ?? describe(bytes, i));
  };
  const ws = () => {
    while (i < n && WS.has(bytes[i]!)) i++;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) if (bytes[i] !== word.charCodeAt(k)) fail();
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) fail('unterminated string');
      const b = bytes[i]!;
      if (b === 0x22) return void i++;
      if (b < 0x20) fail(`control character 0x${b.toString(16).padStart(2, '0')} in a string`);
      if (b === 0x5c) {
        i++;
        const e = bytes[i];
        if (e === 0x75) {
          i++;
          for (let k = 0; k < 4; k++, i++) if (!isHex(bytes[i])) fail('bad \\u escape');
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(String.fromCharCode(e))) fail('bad escape');
      }
      i++;
    }
  };
  /** An object member's `"key":`, with the whitespace around the colon. */
  const memberKey = () => {
    if (bytes[i] !== 0x22) fail();
    string();
    ws();
    if (bytes[i] !== 0x3a) fail();
    i++;
    ws();
  };
  const number = () => {
    if (bytes[i] === 0x2d) i++;
    if (bytes[i] === 0x30) i++;
    else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
    else fail();
    if (bytes[i] === 0x2e) {
      i++;
      if (!isDigit(bytes[i])) fail();
      while (isDigit(bytes[i])) i++;
    }
    if (bytes[i] === 0x65 || bytes[i] === 0x45) {
      i++;
      if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
      if (!isDigit(bytes[i])) fail();
      while (isDigit(bytes[i])) i++;
    }
  };
  // Each open container: '{' or '['. A value is expected when `expectValue` is set.
  const stack: number[] = [];
  try {
    ws();
    for (;;) {
      // Parse one value (or open a container).
      const b = bytes[i];
      if (b === 0x7b || b === 0x5b) {
        stack.push(b);
        i++;
        ws();
        const close = b === 0x7b ? 0x7d : 0x5d;
        if (bytes[i] === close) {
          stack.pop();
          i++;
        } else {
          if (b === 0x7b) memberKey();
          continue;
        }
      } else if (b === 0x22) string();
      else if (b === 0x74) literal('true');
      else if (b === 0x66) literal('false');
      else if (b === 0x6e) literal('null');
      else if (b === 0x2d || isDigit(b)) number();
      else fail();
      // After a value: a separator, a close, or the end.
      for (;;) {
        ws();
        const top = stack[stack.length - 1];
        if (top === undefined) {
          if (i < n) fail();
          return undefined;
        }
        const close = top === 0x7b ? 0x7d : 0x5d;
        if (bytes[i] === close) {
          stack.pop();
          i++;
          continue;
        }
        if (bytes[i] !== 0x2c) fail();
        i++;
        ws();
        if (top === 0x7b) memberKey();
        break;
      }
    }
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, reason: err.reason };
    throw err;
  }
}
