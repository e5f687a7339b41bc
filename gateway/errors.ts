/**
 * Every error a client or an operator can see carries a stable code and an HTTP status.
 * One mapper (`errorBody`) turns them into `{"error":{"code","message"}}`.
 */
export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string> | undefined;
  constructor(code: string, status: number, message: string, headers?: Record<string, string>) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}

/** A config error, located in the file: `file:line path: message`. */
export class ConfigError extends Error {
  readonly code = 'HG_CONFIG_INVALID';
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly path: string | undefined;
  constructor(message: string, where: { file?: string; line?: number; path?: string } = {}) {
    const loc = [where.file ? where.file + (where.line ? `:${where.line}` : '') : '', where.path ? `at ${where.path}` : '']
      .filter(Boolean)
      .join(' ');
    super(loc ? `${loc}: ${message}` : message);
    this.name = 'ConfigError';
    this.file = where.file;
    this.line = where.line;
    this.path = where.path;
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
