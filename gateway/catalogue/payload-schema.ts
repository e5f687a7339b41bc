/**
 * Payload schemas: JSON Schema 2020-12 validators for event data (the catalogue) and request
 * bodies (validate-body), compiled once, reporting every failure with its JSON pointer. Shared by
 * the catalogue and, through the plugin API, by plugins.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

/** One failure of a payload against its schema: where (JSON pointer) and what. */
export interface PayloadFailure {
  /** JSON pointer into the payload, e.g. `/data/amount` ('' is the root). */
  pointer: string;
  message: string;
}

/** A compiled payload schema: returns the failures, or an empty list when the payload fits. */
export type PayloadValidator = (payload: unknown) => PayloadFailure[];

/**
 * A fresh ajv for one set of payload schemas (one config generation, one API-created type), so
 * schemas with the same `$id` in two generations never collide. It never changes the payload:
 * no defaults, no coercion.
 */
export function payloadAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false, coerceTypes: false, logger: false });
  addFormats(ajv);
  return ajv;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** ajv errors as pointer failures; a missing or unknown property is pointed at by its own path. */
export function failuresOf(errors: readonly ErrorObject[] | null | undefined, prefix = ''): PayloadFailure[] {
  const out: PayloadFailure[] = [];
  for (const e of errors ?? []) {
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required') out.push({ pointer: `${prefix}${e.instancePath}/${escapePointer(String(p.missingProperty))}`, message: 'is required' });
    else if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      const name = String(p.additionalProperty ?? p.unevaluatedProperty);
      out.push({ pointer: `${prefix}${e.instancePath}/${escapePointer(name)}`, message: 'is not allowed' });
    } else out.push({ pointer: `${prefix}${e.instancePath}`, message: e.message ?? `fails "${e.keyword}"` });
  }
  return out;
}

/** `pointer: message` lines, the form used in messages and logs. */
export function formatFailures(list: readonly PayloadFailure[]): string {
  return list.map((f) => `${f.pointer || '/'}: ${f.message}`).join('; ');
}

/** Wraps a compiled ajv function; failures' pointers start with `prefix` (e.g. `/data`). */
export function payloadValidator(validate: ValidateFunction, prefix = ''): PayloadValidator {
  return (payload) => (validate(payload) ? [] : failuresOf(validate.errors, prefix));
}

/**
 * Compiles a JSON Schema (2020-12) into a payload validator.
 * @throws Error with ajv's reason when the schema itself is invalid.
 */
export function compilePayloadSchema(schema: unknown, opts: { ajv?: Ajv2020; prefix?: string } = {}): PayloadValidator {
  if (typeof schema !== 'boolean' && (!schema || typeof schema !== 'object' || Array.isArray(schema))) throw new Error('a JSON Schema must be an object or a boolean');
  const ajv = opts.ajv ?? payloadAjv();
  return payloadValidator(ajv.compile(schema as object), opts.prefix);
}
