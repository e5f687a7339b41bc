/**
 * validate-body: checks a request body against a JSON Schema (inline, from a file, or an OpenAPI
 * document's operation) before the request goes on. It parses the buffered body once and never
 * changes it: the bytes forwarded are the bytes received. A body that is not JSON is 400
 * HG_BODY_INVALID_JSON with the byte offset; one that breaks the schema is HG_BODY_SCHEMA_MISMATCH
 * (status `onFail`, 422 by default) with every failure's JSON pointer, logged with the request id.
 */
import { isAbsolute, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { compilePayloadSchema, definePlugin, Errors, formatFailures, GatewayError, type Context, type PayloadFailure, type PayloadValidator, type PluginInstance } from '../../gateway/plugin-api.js';
import { locateJsonError } from './json-error.js';
import { loadOpenApiBodies, type OpenApiBodies } from './openapi.js';

const NAME = 'validate-body';
const EMPTY = Buffer.alloc(0);
/** At most this many failures are listed in an answer and a log line. */
const MAX_LISTED = 100;

export interface ValidateBodyParams {
  schema?: Record<string, unknown> | boolean;
  schemaFile?: string;
  openapi?: string;
  contentTypes: string[];
  onFail: 400 | 422;
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaTypeOf(header: string | undefined): string {
  if (!header) return '';
  const i = header.indexOf(';');
  return (i === -1 ? header : header.slice(0, i)).trim().toLowerCase();
}

export const validateBodyPlugin = definePlugin<ValidateBodyParams>({
  name: NAME,
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      schema: { type: ['object', 'boolean'], description: 'JSON Schema 2020-12 of the body.' },
      schemaFile: { type: 'string', minLength: 1, description: 'A JSON or YAML file with the schema, relative to the config file.' },
      openapi: { type: 'string', minLength: 1, description: 'An OpenAPI 3 document; the operation is picked by method and path.' },
      contentTypes: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, default: ['application/json'] },
      onFail: { enum: [400, 422], default: 422 },
    },
  },
  create(params, env): PluginInstance {
    const sources = (['schema', 'schemaFile', 'openapi'] as const).filter((k) => params[k] !== undefined);
    if (sources.length !== 1) throw new Error(`validate-body: give exactly one of schema, schemaFile, openapi (found ${sources.length ? sources.join(', ') : 'none'})`);
    const contentTypes = new Set(params.contentTypes.map((t) => t.toLowerCase()));
    const allowed = [...contentTypes].join(', ');
    const fileOf = (p: string) => (isAbsolute(p) ? p : resolve(env.configDir, p));
    let validator: PayloadValidator | undefined;
    let operations: OpenApiBodies | undefined;
    if (params.openapi !== undefined) operations = loadOpenApiBodies(fileOf(params.openapi), [...contentTypes]);
    else {
      let schema: unknown = params.schema;
      if (params.schemaFile !== undefined) {
        const file = fileOf(params.schemaFile);
        try {
          schema = parseYaml(readFileSync(file, 'utf8')) as unknown;
        } catch (err) {
          throw new Error(`validate-body: cannot read the schema file ${file}: ${(err as Error).message}`);
        }
      }
      try {
        validator = compilePayloadSchema(schema);
      } catch (err) {
        throw new Error(`validate-body: the schema is not a valid JSON Schema: ${(err as Error).message}`);
      }
    }

    const refuse = (ctx: Context, what: string, failures: PayloadFailure[]): never => {
      const listed = failures.slice(0, MAX_LISTED);
      const message = `${what}: ${formatFailures(listed.slice(0, 5))}${listed.length > 5 ? '; ...' : ''}`;
      env.logger.info({ plugin: NAME, route: ctx.routeName, requestId: ctx.requestId || ctx.header('x-request-id'), code: 'HG_BODY_SCHEMA_MISMATCH', details: listed }, 'request body refused');
      const e = Errors.BODY_SCHEMA_MISMATCH(message);
      throw (params.onFail === e.status ? e : new GatewayError(e.code, params.onFail, e.message)).withDetails(listed);
    };

    return {
      needsBody: true,
      onRequest(ctx: Context) {
        const body = ctx.body ?? EMPTY;
        let check = validator;
        let type = mediaTypeOf(ctx.header('content-type'));
        if (operations) {
          const path = ctx.forwardPath ?? ctx.path;
          const op = operations.find(ctx.method, path);
          if (!op) return refuse(ctx, `${ctx.method} ${path} is not an operation of ${params.openapi}`, [{ pointer: '', message: 'no such operation' }]);
          if (!op.declared) return;
          if (body.length === 0) {
            if (!op.required) return;
            return refuse(ctx, `${op.label} needs a request body`, [{ pointer: '', message: 'a request body is required' }]);
          }
          check = op.validators.get(type);
          if (!check) throw Errors.BODY_UNSUPPORTED_TYPE(type || '(none)', [...op.validators.keys()].join(', ') || allowed);
        } else if (body.length > 0 && !contentTypes.has(type)) throw Errors.BODY_UNSUPPORTED_TYPE(type || '(none)', allowed);
        // Parsed once, from the buffered bytes; ctx.body is never replaced.
        let value: unknown;
        try {
          value = JSON.parse(body.toString('utf8'));
        } catch {
          const at = locateJsonError(body) ?? { offset: body.length, reason: 'not JSON' };
          throw Errors.BODY_INVALID_JSON(at.offset, body.length === 0 ? 'the body is empty' : at.reason).withDetails([{ offset: at.offset, message: body.length === 0 ? 'the body is empty' : at.reason }]);
        }
        const failures = check!(value);
        if (failures.length) refuse(ctx, `the body breaks its schema (${failures.length} failure${failures.length === 1 ? '' : 's'})`, failures);
      },
    };
  },
});
