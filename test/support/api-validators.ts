import { createRequire } from 'node:module';
import { validate as validateOpenApiDocument } from '@readme/openapi-parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Independent validators for the generated API documents: @readme/openapi-parser for OpenAPI 3.1,
 * and the official AsyncAPI 3.0 JSON Schema (@asyncapi/specs) through ajv for AsyncAPI.
 */

/** Resolves to the validator's error messages; empty when the document is valid. */
export async function openApiErrors(doc: unknown): Promise<string[]> {
  // The parser dereferences in place: give it a copy.
  const r = await validateOpenApiDocument(structuredClone(doc) as never);
  return r.valid ? [] : r.errors.map((e) => e.message);
}

let asyncApiValidator: ValidateFunction | undefined;

/** Errors of `doc` against the AsyncAPI 3.0.0 JSON Schema; empty when valid. */
export function asyncApiErrors(doc: unknown): string[] {
  if (!asyncApiValidator) {
    const specs = createRequire(import.meta.url)('@asyncapi/specs') as { schemas: Record<string, object> };
    // The spec's bundle carries its own copy of the draft-07 meta-schema: ajv must not add another.
    const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    const addFormats = addFormatsModule as unknown as (a: Ajv) => void;
    addFormats(ajv);
    asyncApiValidator = ajv.compile(specs.schemas['3.0.0']!);
  }
  if (asyncApiValidator(doc)) return [];
  return (asyncApiValidator.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

/** Every local `$ref` ("#/...") of a document that does not point at anything in it. */
export function danglingRefs(doc: unknown): string[] {
  const bad: string[] = [];
  const resolve = (ref: string): boolean => {
    let node: unknown = doc;
    for (const raw of ref.slice(2).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (!node || typeof node !== 'object' || !(key in node)) return false;
      node = (node as Record<string, unknown>)[key];
    }
    return true;
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/') && !resolve(x)) bad.push(x);
      else walk(x);
    }
  };
  walk(doc);
  return bad;
}
