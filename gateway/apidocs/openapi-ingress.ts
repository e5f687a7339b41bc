import type { CompiledRoute, Snapshot } from '../compile.js';
import { embedSchema, eventKey, type DocumentedEventType } from './event-types.js';
import { pluginContract, SchemeRegistry, type PluginContract } from './ingress-security.js';
import { errorResponses, jsonContent, type Json } from './openapi-common.js';

/**
 * The ingress half of the OpenAPI document: one operation per route path and method, from the
 * compiled routes. Routes that share a path and a method (header versioning) become one
 * operation whose header parameter lists each version, since OpenAPI has one operation per pair.
 */

const ANY_METHOD = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
const ALWAYS = ['HG_BAD_PATH', 'HG_BODY_TOO_LARGE', 'HG_INTERNAL'];

/** `/webhook/v1/*` → `/webhook/v1/{path}`. */
export function openApiPath(path: string): string {
  return path.endsWith('/*') ? `${path.slice(0, -1)}{path}` : path;
}

interface Variant {
  route: CompiledRoute;
  op: Json;
  contracts: PluginContract[];
}

function contractsOf(snap: Snapshot, route: CompiledRoute, reg: SchemeRegistry): PluginContract[] {
  const entries = [...(snap.config.plugins ?? []), ...(route.config.plugins ?? [])];
  return entries.map((e) => {
    const [name, params] = Object.entries(e)[0]!;
    return pluginContract(name, params ?? {}, reg, snap.loaded.dir);
  });
}

/** AND across plugins of OR-alternatives: the cartesian product, as OpenAPI security requirements. */
function securityOf(contracts: PluginContract[]): Json[] | undefined {
  let acc: string[][] = [[]];
  let any = false;
  for (const c of contracts) {
    if (!c.security) continue;
    any = true;
    acc = acc.flatMap((a) => c.security!.map((alt) => [...a, ...alt]));
  }
  if (!any) return undefined;
  return acc.map((names) => Object.fromEntries(names.map((n) => [n, []])));
}

/** A publish's `orderingKey` (gateway/delivery/ordering.ts). */
const ORDERING_KEY_SCHEMA: Json = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]*$', description: 'Endpoints with `ordering: per-key` receive the messages of one key in publish order, one at a time (others ignore it). No control characters.' };

function publishBody(types: DocumentedEventType[]): Json {
  const generic = { type: 'object', required: ['type', 'data'], additionalProperties: false, properties: { type: { type: 'string', description: 'Event type, e.g. `invoice.paid`.' }, data: { description: 'The event data.' }, orderingKey: ORDERING_KEY_SCHEMA } };
  if (!types.length) return generic;
  return {
    description: 'An event `{type, data}`; `data` must fit the schema of its catalogue type.',
    anyOf: [
      ...types.map((t) => ({
        type: 'object',
        required: ['type', 'data'],
        properties: { type: { const: t.name }, data: t.schema ? { $ref: `#/components/schemas/${eventKey(t)}` } : {}, orderingKey: ORDERING_KEY_SCHEMA },
        ...(t.deprecated ? { deprecated: true } : {}),
      })),
      generic,
    ],
  };
}

function actionPart(route: CompiledRoute, types: DocumentedEventType[]): { responses: Record<string, Json>; errors: string[]; body?: Json; parameters?: Json[]; notes: string[] } {
  const a = route.action;
  switch (a.kind) {
    case 'proxy':
      return { responses: { default: { description: `The answer of upstream "${a.upstream.name}", passed through.` } }, errors: ['HG_UPSTREAM_TIMEOUT', 'HG_UPSTREAM_UNAVAILABLE'], notes: a.websocket ? ['WebSocket upgrades are proxied too.'] : [] };
    case 'respond': {
      let example: unknown;
      try {
        example = a.body.length ? JSON.parse(a.body.toString('utf8')) : undefined;
      } catch {
        example = undefined;
      }
      const content = example === undefined ? undefined : { [a.headers['content-type'] ?? 'application/json']: { example } };
      return { responses: { [String(a.status)]: { description: 'A fixed answer.', ...(content ? { content } : {}) } }, errors: [], notes: [] };
    }
    case 'deliver':
      return {
        responses: { 202: { description: `Stored; delivered to upstream "${a.upstream}" later, with retries.`, headers: { 'hookgate-message-id': { schema: { type: 'string' } } }, content: jsonContent({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } }) } },
        errors: ['HG_QUEUE_UNAVAILABLE', 'HG_DELIVERY_UNAVAILABLE'],
        notes: [],
      };
    case 'publish':
      return {
        body: publishBody(types),
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, description: 'Repeated within 24 h, returns the first answer and publishes nothing.', schema: { type: 'string' } }],
        responses: {
          202: { description: 'Stored; fanned out to the subscribed endpoints, signed.', content: jsonContent({ type: 'object', required: ['id', 'endpoints'], properties: { id: { type: 'string' }, endpoints: { type: 'integer', minimum: 0 } } }) },
          200: { description: 'An `Idempotency-Key` seen before: the first answer again, with `Idempotent-Replayed: true`.', headers: { 'Idempotent-Replayed': { schema: { const: 'true' } } } },
        },
        errors: ['HG_EVENT_INVALID', 'HG_EVENT_SCHEMA_MISMATCH', 'HG_EVENT_TYPE_UNKNOWN', 'HG_QUEUE_UNAVAILABLE', 'HG_DELIVERY_UNAVAILABLE'],
        notes: [],
      };
  }
}

function variant(snap: Snapshot, route: CompiledRoute, method: string, types: DocumentedEventType[], reg: SchemeRegistry, components: Json): Variant {
  const contracts = contractsOf(snap, route, reg);
  const action = actionPart(route, types);
  const c = route.config;
  const params: Json[] = [];
  if (c.path.endsWith('/*')) params.push({ name: 'path', in: 'path', required: true, description: 'The rest of the path (a prefix route: it may contain `/`).', schema: { type: 'string' } });
  for (const [name, value] of Object.entries(c.headers ?? {})) params.push({ name, in: 'header', required: true, description: 'Must be exactly this value (route matching).', schema: { const: value } });
  for (const k of contracts) params.push(...(k.parameters ?? []));
  params.push(...(action.parameters ?? []));
  const notes = [...contracts.flatMap((k) => k.notes ?? []), ...action.notes];
  if (c.host) notes.unshift(`Only for \`Host: ${c.host}\`.`);
  if (c.deprecated) notes.unshift(`Deprecated${c.deprecated.sunset ? `; sunset ${c.deprecated.sunset}` : ''}: answers carry \`Deprecation\` and \`Sunset\` headers.`);
  const validated = contracts.find((k) => k.body)?.body;
  let body: Json | undefined;
  if (validated) {
    const key = `body.${route.name}`;
    components[key] = embedSchema(validated.schema, `#/components/schemas/${key}`);
    body = { required: true, content: Object.fromEntries(validated.contentTypes.map((t) => [t, { schema: { $ref: `#/components/schemas/${key}` } }])) };
  } else if (action.body) body = { required: true, content: jsonContent(action.body) };
  const responseHeaders: Record<string, Json> = Object.assign({}, ...contracts.map((k) => k.responseHeaders ?? {}));
  if (c.deprecated) {
    responseHeaders.Deprecation = { schema: { const: 'true' } };
    if (c.deprecated.sunset) responseHeaders.Sunset = { description: `HTTP date of ${c.deprecated.sunset}.`, schema: { type: 'string' } };
  }
  const responses: Record<string, Json> = {};
  for (const [status, r] of Object.entries(action.responses)) responses[status] = Object.keys(responseHeaders).length ? { ...r, headers: { ...((r.headers as Json) ?? {}), ...responseHeaders } } : r;
  Object.assign(responses, errorResponses([...ALWAYS, ...(c.methods ? ['HG_METHOD_NOT_ALLOWED'] : []), ...contracts.flatMap((k) => k.errors), ...action.errors]));
  const security = securityOf(contracts);
  const op: Json = {
    operationId: `${route.name}.${method}`,
    summary: `Route ${route.name}`,
    description: [`Action: ${route.action.kind}.`, ...notes].join(' '),
    tags: ['ingress'],
    ...(params.length ? { parameters: params } : {}),
    ...(body && method !== 'get' && method !== 'head' ? { requestBody: body } : {}),
    responses,
    ...(security ? { security } : {}),
    ...(c.deprecated ? { deprecated: true, 'x-sunset': c.deprecated.sunset ?? null } : {}),
    'x-hookgate-route': route.name,
  };
  return { route, op, contracts };
}

/** Several routes on one path and method → one operation; the version header lists each route's value. */
function merge(variants: Variant[], method: string): Json {
  if (variants.length === 1) return variants[0]!.op;
  const names = variants.map((v) => v.route.name);
  const params = new Map<string, Json>();
  for (const v of variants) {
    for (const p of (v.op.parameters as Json[] | undefined) ?? []) {
      const key = `${String(p.in)}:${String(p.name).toLowerCase()}`;
      const have = params.get(key);
      const matching = v.route.config.headers && Object.keys(v.route.config.headers).includes(String(p.name)) && p.in === 'header';
      if (!have) {
        params.set(key, matching ? { ...p, description: 'Selects the route (header versioning).', schema: { type: 'string', anyOf: [] } } : p);
      }
      if (matching) {
        const c = v.route.config;
        ((params.get(key)!.schema as Json).anyOf as Json[]).push({ const: c.headers![String(p.name)], description: `Route ${c.name}${c.deprecated ? `, deprecated${c.deprecated.sunset ? ` (sunset ${c.deprecated.sunset})` : ''}` : ''}.`, ...(c.deprecated ? { deprecated: true } : {}) });
      }
    }
  }
  // A header only some variants match on is not required of every request.
  for (const p of params.values()) if (p.in === 'header' && variants.some((v) => !(((v.op.parameters as Json[] | undefined) ?? []).some((q) => q.name === p.name)))) p.required = false;
  const responses: Json = {};
  for (const v of variants) for (const [s, r] of Object.entries(v.op.responses as Json)) responses[s] ??= r;
  const security = variants.every((v) => v.op.security) ? variants.flatMap((v) => v.op.security as Json[]) : undefined;
  const allDeprecated = variants.every((v) => v.op.deprecated);
  const deprecatedRoutes = variants.filter((v) => v.route.config.deprecated).map((v) => ({ route: v.route.name, sunset: v.route.config.deprecated!.sunset ?? null }));
  return {
    operationId: `${names.join('.')}.${method}`,
    summary: `Routes ${names.join(', ')}`,
    description: variants.map((v) => `**${v.route.name}**: ${String(v.op.description)}`).join('\n\n'),
    tags: ['ingress'],
    parameters: [...params.values()],
    ...(variants.find((v) => v.op.requestBody) ? { requestBody: variants.find((v) => v.op.requestBody)!.op.requestBody } : {}),
    responses,
    ...(security ? { security } : {}),
    ...(allDeprecated ? { deprecated: true } : {}),
    ...(deprecatedRoutes.length ? { 'x-deprecated-routes': deprecatedRoutes } : {}),
    'x-hookgate-route': names,
  };
}

/** Paths and security schemes of the main listener's routes (plus /healthz and /readyz). */
export function ingressPaths(snap: Snapshot, types: DocumentedEventType[], components: Json): { paths: Record<string, Json>; securitySchemes: Record<string, Json> } {
  const reg = new SchemeRegistry();
  const groups = new Map<string, Map<string, Variant[]>>();
  for (const route of snap.routes) {
    const path = openApiPath(route.config.path);
    const byMethod = groups.get(path) ?? new Map<string, Variant[]>();
    groups.set(path, byMethod);
    for (const m of route.config.methods?.map((x) => x.toLowerCase()) ?? ANY_METHOD) {
      if (!ANY_METHOD.includes(m)) continue;
      const list = byMethod.get(m) ?? [];
      list.push(variant(snap, route, m, types, reg, components));
      byMethod.set(m, list);
    }
  }
  const paths: Record<string, Json> = {
    '/healthz': { get: { operationId: 'healthz', summary: 'Liveness', tags: ['probes'], responses: { 200: { description: 'The process is up.' } } } },
    '/readyz': { get: { operationId: 'readyz', summary: 'Readiness', tags: ['probes'], responses: { 200: { description: 'A config is loaded and the store answers.' }, ...errorResponses(['HG_NOT_READY']) } } },
  };
  for (const [path, byMethod] of groups) {
    const item: Json = {};
    for (const [m, variants] of byMethod) item[m] = merge(variants, m);
    paths[path] = item;
  }
  return { paths, securitySchemes: reg.schemes };
}
