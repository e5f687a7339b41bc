import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { Errors } from '../errors.js';

/**
 * Admin input checking from the schemas the routes declare, which are also what the OpenAPI
 * document shows. Two ajv instances: bodies are checked as sent (no defaults filled in: a PATCH
 * must not gain fields), query strings are coerced to the types their schema names.
 */
const bodies = new Ajv2020({ strict: false, allErrors: false, verbose: true });
const queries = new Ajv2020({ strict: false, allErrors: false, verbose: true, coerceTypes: true });

export type InputSchema = Record<string, unknown>;

/** Compiles a body schema once, at route registration. */
export function compileBody(schema: InputSchema): ValidateFunction {
  return bodies.compile(schema);
}

/** Compiles a query schema once, at route registration. */
export function compileQuery(schema: InputSchema): ValidateFunction {
  return queries.compile(schema);
}

/** The query string as an object of strings; a repeated parameter counts by its first value, as `URLSearchParams.get` reads it. */
export function queryObject(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * Throws 400 HG_ADMIN_BAD_INPUT with ajv's message when `value` fails. The message names the
 * field but never the value sent: a refused secret must not come back in the answer.
 */
export function checkInput(validate: ValidateFunction, value: unknown, where: 'body' | 'query'): void {
  if (validate(value)) return;
  throw Errors.ADMIN_BAD_INPUT(describeInputError(validate.errors![0]!, where, validate.schema));
}

function describeInputError(e: ErrorObject, where: 'body' | 'query', schema: unknown): string {
  const field = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const subject = where === 'body' ? `request body${field ? ` field "${field}"` : ''}` : `query parameter${field ? ` "${field}"` : 's'}`;
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    const allowed = Object.keys(((e.parentSchema ?? schema) as { properties?: object }).properties ?? {});
    const what = where === 'body' ? 'field' : 'query parameter';
    return `${field ? `${subject}: ` : ''}unknown ${what} "${extra}" (allowed: ${allowed.join(', ') || 'none'})`;
  }
  if (e.keyword === 'required') return `${subject}: missing "${String((e.params as { missingProperty: string }).missingProperty)}"`;
  return `${subject} ${e.message ?? 'is invalid'}`;
}
