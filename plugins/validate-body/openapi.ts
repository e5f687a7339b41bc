/**
 * Request body schemas from an OpenAPI 3.x document (like APISIX's oas-validator): each operation's
 * `requestBody.content[<type>].schema`, compiled once when the plugin is created, looked up by
 * method and path per request. Only local `$ref`s (`#/...`) are followed: the document must be
 * self-contained, so what is validated is exactly what the one file says.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { payloadAjv, payloadValidator, type PayloadValidator } from '../../gateway/plugin-api.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOC_ID = 'https://hookgate.invalid/openapi.json';

/** What one operation says about request bodies. */
export interface BodyOperation {
  /** `POST /orders/{id}`, for messages. */
  label: string;
  /** False when the operation declares no request body: any body passes. */
  declared: boolean;
  required: boolean;
  /** Validators by media type (only the types the plugin validates). */
  validators: Map<string, PayloadValidator>;
}

interface PathEntry {
  template: string;
  matcher: RegExp | undefined;
  operations: Map<string, BodyOperation>;
}

/** The operations of one OpenAPI document, matched by method and path. */
export interface OpenApiBodies {
  find(method: string, path: string): BodyOperation | undefined;
}

const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const unesc = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** Throws on the first `$ref` that is not local: only `#/...` references are supported. */
function assertLocalRefs(v: unknown, at: string): void {
  if (Array.isArray(v)) return v.forEach((x, i) => assertLocalRefs(x, `${at}/${i}`));
  if (!v || typeof v !== 'object') return;
  for (const [k, x] of Object.entries(v)) {
    if (k === '$ref' && typeof x === 'string' && !x.startsWith('#')) throw new Error(`only local $refs (#/...) are supported; found "${x}" at ${at || '/'}`);
    assertLocalRefs(x, `${at}/${esc(k)}`);
  }
}

/** Follows `$ref`s of non-schema objects (path items, request bodies); returns the value and its pointer. */
function deref(doc: unknown, value: unknown, pointer: string): { value: unknown; pointer: string } {
  for (let hops = 0; hops < 32; hops++) {
    const ref = value && typeof value === 'object' ? (value as Record<string, unknown>).$ref : undefined;
    if (typeof ref !== 'string') return { value, pointer };
    pointer = ref.slice(1);
    value = pointer.split('/').slice(1).map(unesc).reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), doc);
    if (value === undefined) throw new Error(`$ref "${ref}" points at nothing`);
  }
  throw new Error(`$ref chain too long at ${pointer}`);
}

function templateMatcher(template: string): RegExp | undefined {
  if (!template.includes('{')) return undefined;
  const parts = template.split(/\{[^}/]+\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^/]+')}$`);
}

/**
 * Reads and compiles an OpenAPI document's request body schemas for `mediaTypes`.
 * @throws Error naming the file and what is wrong (unreadable, not OpenAPI 3, a non-local $ref, a bad schema).
 */
export function loadOpenApiBodies(file: string, mediaTypes: readonly string[]): OpenApiBodies {
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot read the OpenAPI document ${file}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.')) throw new Error(`${file} is not an OpenAPI 3 document (no "openapi: 3.x")`);
  try {
    assertLocalRefs(doc, '');
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const ajv = payloadAjv();
  // The whole document as one schema resource, so `#/components/schemas/...` resolves inside it.
  ajv.addSchema({ ...doc, $id: DOC_ID } as object, undefined, undefined, false);
  const exact = new Map<string, PathEntry>();
  const templated: PathEntry[] = [];
  for (const [template, rawItem] of Object.entries((doc.paths ?? {}) as Record<string, unknown>)) {
    const entry: PathEntry = { template, matcher: templateMatcher(template), operations: new Map() };
    const item = deref(doc, rawItem, `/paths/${esc(template)}`);
    for (const m of METHODS) {
      const op = (item.value as Record<string, unknown> | undefined)?.[m] as Record<string, unknown> | undefined;
      if (!op || typeof op !== 'object') continue;
      const label = `${m.toUpperCase()} ${template}`;
      const operation: BodyOperation = { label, declared: false, required: false, validators: new Map() };
      if (op.requestBody !== undefined) {
        const body = deref(doc, op.requestBody, `${item.pointer}/${m}/requestBody`);
        const rb = body.value as { required?: boolean; content?: Record<string, { schema?: unknown }> };
        operation.declared = true;
        operation.required = rb.required === true;
        for (const type of mediaTypes) {
          const media = rb.content?.[type];
          if (!media) continue;
          if (media.schema === undefined) {
            operation.validators.set(type, () => []);
            continue;
          }
          try {
            operation.validators.set(type, payloadValidator(ajv.compile({ $ref: `${DOC_ID}#${body.pointer}/content/${esc(type)}/schema` })));
          } catch (err) {
            throw new Error(`${file}: the ${type} schema of ${label} does not compile: ${(err as Error).message}`);
          }
        }
      }
      entry.operations.set(m.toUpperCase(), operation);
    }
    if (entry.matcher) templated.push(entry);
    else exact.set(template, entry);
  }
  return {
    find(method, path) {
      // A concrete path wins over a template (OpenAPI's rule), then templates in document order.
      const e = exact.get(path);
      if (e) return e.operations.get(method);
      for (const t of templated) if (t.matcher!.test(path)) return t.operations.get(method);
      return undefined;
    },
  };
}
