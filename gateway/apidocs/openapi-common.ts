import { errorCatalogue } from '../errors.js';

/** Pieces of OpenAPI 3.1 every part of the document uses: the error shape and error responses. */

export type Json = Record<string, unknown>;

/** `components.schemas` entries for the error shape: `{"error": {"code", "message"}}`. */
export function errorSchemas(): Json {
  const rows = errorCatalogue();
  return {
    ErrorCode: {
      type: 'string',
      enum: rows.map((r) => r.code),
      description: rows.map((r) => `- \`${r.code}\` (${r.status}): ${r.doc}`).join('\n'),
    },
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { $ref: '#/components/schemas/ErrorCode' }, message: { type: 'string' } },
        },
      },
    },
  };
}

/**
 * Error responses for `codes`, one per HTTP status, each saying which codes it carries and when.
 * Codes not in this build's catalogue are left out, so a plugin may name codes of another version.
 */
export function errorResponses(codes: readonly string[]): Record<string, Json> {
  const byStatus = new Map<number, { code: string; doc: string }[]>();
  for (const row of errorCatalogue()) {
    if (!codes.includes(row.code)) continue;
    const list = byStatus.get(row.status) ?? [];
    list.push(row);
    byStatus.set(row.status, list);
  }
  const out: Record<string, Json> = {};
  for (const [status, rows] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: rows.map((r) => `\`${r.code}\`: ${r.doc}`).join(' '),
      content: {
        'application/json': {
          schema: {
            allOf: [{ $ref: '#/components/schemas/Error' }],
            properties: { error: { properties: { code: { enum: rows.map((r) => r.code) } } } },
          },
        },
      },
    };
  }
  return out;
}

/** JSON content of a schema. */
export function jsonContent(schema: Json, extra: Json = {}): Json {
  return { 'application/json': { schema, ...extra } };
}
