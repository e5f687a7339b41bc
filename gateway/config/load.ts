import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';
import { storeTopologyProblem } from '../store/redis-topology.js';
import { packageRoot } from '../paths.js';
import type { GatewayConfig, LoadedConfig } from './types.js';

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

let gatewayValidator: ValidateFunction | undefined;

/** One ajv instance for gateway and plugin schemas: defaults applied, every error reported. */
export const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, verbose: true });

let schemaCache: Record<string, any> | undefined;

/** config/gateway.schema.json, parsed once. Other input paths (the admin API) reuse its rules. */
export function gatewaySchema(): Record<string, any> {
  schemaCache ??= JSON.parse(readFileSync(resolve(packageRoot, 'config/gateway.schema.json'), 'utf8')) as Record<string, any>;
  return schemaCache;
}

function validator(): ValidateFunction {
  gatewayValidator ??= ajv.compile(gatewaySchema());
  return gatewayValidator;
}

/** Splits an ajv instancePath (`/routes/0/name`) into YAML path segments. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function formatPath(path: (string | number)[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Words in a key name that mark its value as a credential (`adminToken`, `client_secret`,
 * `x-api-key`, `Authorization` in a headers map, `privateKey`, `publicKeys` too: wrongly hiding a
 * public key costs less than echoing a private one).
 */
const SECRET_WORDS = new Set([
  'secret', 'secrets', 'token', 'tokens', 'password', 'passwords', 'passwd', 'passphrase', 'pass', 'pwd',
  'credential', 'credentials', 'key', 'keys', 'apikey', 'private', 'authorization', 'auth', 'cookie', 'signature',
]);

function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Whether the value an ajv error is about may be a credential: its schema says `writeOnly: true`
 * (the JSON Schema annotation for values that are sent but never read back, such as passwords;
 * the gateway and plugin schemas mark every secret so), or a key on its path has a credential's
 * name. The name rule also covers custom plugins whose schemas carry no annotation, and header
 * maps (`headers: { Authorization: ... }`).
 */
export function isSecretBearing(path: readonly (string | number)[], schema?: unknown): boolean {
  if (schema && typeof schema === 'object' && (schema as { writeOnly?: unknown }).writeOnly === true) return true;
  return path.some((seg) => typeof seg === 'string' && nameWords(seg).some((w) => SECRET_WORDS.has(w)));
}

/**
 * Masks the password of a URL's userinfo (`redis://:hunter2@host` → `redis://:***@host`), and
 * the whole userinfo when it has no `:` (`https://ghp_token@host`, a token). Works on text that
 * does not parse as a URL too, since that is what config errors are about: everything from after
 * `//` up to the last `@` counts as userinfo, so an unencoded `@` or `/` in a password stays
 * hidden. Text without `//` before its `@` is only masked when `urlKey` says it is a URL's value
 * (`url: "redis:pw@host"`), so that `ops@example.com` in a description is shown as written.
 */
export function maskUserinfo(text: string, urlKey = false): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const slashes = text.indexOf('//');
  if (!urlKey && !(slashes >= 0 && slashes < at)) return text;
  const start = slashes >= 0 && slashes < at ? slashes + 2 : 0;
  const userinfo = text.slice(start, at);
  if (!userinfo) return text;
  const colon = userinfo.indexOf(':');
  return text.slice(0, start) + (colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***') + text.slice(at);
}

const URL_WORDS = new Set(['url', 'urls', 'uri', 'dsn', 'href', 'endpoint', 'connection']);

/** How a config error shows a value it found: JSON, URL passwords masked; a credential only by its kind. */
function shown(value: unknown, path: readonly (string | number)[], schema: unknown): string {
  if (!isSecretBearing(path, schema)) {
    const last = [...path].reverse().find((seg) => typeof seg === 'string');
    const urlKey = typeof last === 'string' && nameWords(last).some((w) => URL_WORDS.has(w));
    return typeof value === 'string' ? JSON.stringify(maskUserinfo(value, urlKey)) : JSON.stringify(value);
  }
  const kind =
    typeof value === 'string' ? `a string of ${value.length} characters`
    : Array.isArray(value) ? 'a list'
    : value === null ? 'null'
    : typeof value === 'object' ? 'a mapping'
    : `a ${typeof value}`;
  return `${kind} (not shown: it may be a secret)`;
}

/**
 * Turns one ajv error into a sentence that says what was found and what was expected. Values
 * of secret-bearing keys (`isSecretBearing`) are described, never echoed: a typo'd secret is
 * usually the real one, and config errors reach logs, terminals and CI output.
 */
export function describeAjvError(e: ErrorObject): { path: (string | number)[]; message: string } {
  const path = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const found = () => shown(e.data, path, e.parentSchema);
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(p.additionalProperty)], message: `unknown key "${String(p.additionalProperty)}"` };
    case 'required':
      return { path, message: `missing required key "${String(p.missingProperty)}"` };
    case 'enum':
      return { path, message: `found ${found()}, expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'type':
      return { path, message: `found ${found()}, expected ${String(p.type)}` };
    case 'pattern':
      return { path, message: `found ${found()}, expected a string matching ${String(p.pattern)}` };
    // Length errors are often about secrets (admin token, signing secrets): say how long, never echo the value.
    case 'minLength':
      return { path, message: `found a string of ${String(e.data).length} characters, expected at least ${String(p.limit)}` };
    case 'maxLength':
      return { path, message: `found a string of ${String(e.data).length} characters, expected at most ${String(p.limit)}` };
    default:
      return { path, message: `${e.message ?? 'invalid'}${e.data !== undefined && typeof e.data !== 'object' ? ` (found ${found()})` : ''}` };
  }
}

/** Keeps the most useful ajv error: oneOf/anyOf wrappers are less precise than their branches. */
export function pickError(errors: ErrorObject[]): ErrorObject {
  const concrete = errors.filter((e) => !['oneOf', 'anyOf', 'if'].includes(e.keyword));
  const pool = concrete.length ? concrete : errors;
  // Prefer the deepest path: it points at the exact offending key.
  return pool.reduce((a, b) => (b.instancePath.length > a.instancePath.length ? b : a));
}

/** The YAML path of a node from its ancestors, as `visit` hands them (keys and sequence indexes). */
function yamlPath(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const a = chain[i];
    const next = chain[i + 1];
    if (isPair(a)) {
      if (next !== a.value) break; // a reference inside a key: the path ends at the map
      out.push(isScalar(a.key) ? String(a.key.value) : String(a.key));
    } else if (isSeq(a)) out.push(a.items.indexOf(next as never));
  }
  return out;
}

/** `8080` → 8080, `true` → true; anything else (including `007`, `1e3`, `null`) stays a string. */
function scalarFromEnv(text: string): string | number | boolean {
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/** Env-substituted scalars that were one whole reference, by JSON pointer: their substituted text. */
export type EnvScalars = Map<string, string>;

export function toPointer(path: (string | number)[]): string {
  return path.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

function substituteEnv(doc: Document, file: string, lines: LineCounter, env: NodeJS.ProcessEnv): EnvScalars {
  const whole: EnvScalars = new Map();
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const raw = node.value;
      const replaced = raw.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        const line = node.range ? lines.linePos(node.range[0]).line : undefined;
        const path = yamlPath(ancestors, node);
        throw new ConfigError(`environment variable ${name} is not set and has no default (write \${${name}:-default})`, {
          file,
          line,
          path: path.length ? formatPath(path) : undefined,
        });
      });
      const isWhole = /^\$\{[^}]+\}$/.test(raw);
      // An unquoted scalar that is one reference takes the type of its value: `port: ${PORT:-8080}` is a number.
      // Only plain numbers and booleans: the value is never parsed as YAML, so a secret such as
      // `abc #1` or `*x` stays the exact string it was (YAML would truncate or reject it).
      node.value = isWhole && node.type === 'PLAIN' ? scalarFromEnv(replaced) : replaced;
      // Remember it: inside `{ }` a reference must be quoted, so its type is settled by the schema later.
      if (isWhole) whole.set(toPointer(yamlPath(ancestors, node)), replaced);
    },
  });
  return whole;
}

/** Converts a substituted value to the type the schema asked for, or undefined when it does not fit. */
function coerceEnvValue(text: string, types: string[]): unknown {
  const t = text.trim();
  if (types.includes('integer') && /^-?\d+$/.test(t)) return Number(t);
  if (types.includes('number') && t !== '' && Number.isFinite(Number(t))) return Number(t);
  if (types.includes('boolean') && (t === 'true' || t === 'false')) return t === 'true';
  if (types.includes('string')) return text;
  return undefined;
}

function setAt(data: unknown, path: (string | number)[], value: unknown): void {
  let cur = data as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) cur = cur[path[i]!] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
}

/**
 * Validates, and where a type error sits on a scalar that was one whole `${VAR}` reference,
 * converts it to the type the schema expects and validates again. So `port: "${PORT}"` (quoted,
 * as flow mappings require) is a number, and `token: ${TOKEN}` with a numeric token a string.
 */
export function validateWithEnvTypes(validate: ValidateFunction, data: unknown, envScalars: EnvScalars): boolean {
  for (let pass = 0; pass < 5; pass++) {
    if (validate(data)) return true;
    let changed = false;
    for (const e of validate.errors ?? []) {
      if (e.keyword !== 'type' || !envScalars.has(e.instancePath)) continue;
      const want = ([] as string[]).concat((e.params as { type: string | string[] }).type);
      const v = coerceEnvValue(envScalars.get(e.instancePath)!, want);
      if (v === undefined) continue;
      setAt(data, pointerToPath(e.instancePath), v);
      envScalars.delete(e.instancePath);
      changed = true;
    }
    if (!changed) return false;
  }
  return validate(data);
}

/**
 * The document as plain data. yaml reports an alias to an unknown anchor (`*a`) or an alias
 * bomb (too many aliases) only here, as a bare ReferenceError without a position: locate it at
 * the first alias that does not resolve, else the first alias, so it is a config error like any other.
 */
function documentToJs(doc: Document, file: string, lines: LineCounter): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    let at: number | undefined;
    let first: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        const pos = node.range ? lines.linePos(node.range[0]).line : undefined;
        first ??= pos;
        if (at === undefined && !node.resolve(doc)) at = pos;
      },
    });
    throw new ConfigError(`invalid YAML: ${(err as Error).message.split('\n')[0]}`, { file, line: at ?? first ?? 1 });
  }
}

/** Parses and validates YAML text. Throws a located ConfigError. */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const err = doc.errors[0]!;
    const line = err.linePos?.[0]?.line ?? lines.linePos(err.pos[0]).line;
    // `{ port: ${PORT} }` is a YAML error: braces are flow syntax. Say how to write it.
    const src = line ? text.split(/\r?\n/)[line - 1] ?? '' : '';
    const hint = /\$\{/.test(src) && /[{[]/.test(src.replace(/\$\{[^}]*\}/g, '')) ? ' (inside { } or [ ], quote env references: "${VAR}")' : '';
    throw new ConfigError(`invalid YAML: ${err.message.split('\n')[0]}${hint}`, { file, line });
  }
  const envScalars = substituteEnv(doc, file, lines, env);
  const lineOf = (path: (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as Node | undefined;
      if (node && (isScalar(node) || isMap(node) || isSeq(node)) && node.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  // An empty document is a file caught mid-write (or truncated), never an intended config: on a
  // hot reload it would swap in a gateway with no routes.
  if (doc.contents === null) throw new ConfigError('the config is empty', { file, line: 1 });
  const data = documentToJs(doc, file, lines);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError('expected a mapping at the top level', { file, line: 1 });
  }
  const validate = validator();
  if (!validateWithEnvTypes(validate, data, envScalars)) {
    const e = describeAjvError(pickError(validate.errors ?? []));
    throw new ConfigError(e.message, { file, line: lineOf(e.path), path: formatPath(e.path) });
  }
  // Every default, nested ones too, comes from the schema (parents have `default: {}`).
  const config = data as GatewayConfig;
  const topology = storeTopologyProblem(config.store);
  if (topology) throw new ConfigError(topology.message, { file, line: lineOf(topology.path), path: formatPath(topology.path) });
  return { config, file, dir: dirname(resolve(file)), lineOf, envScalars };
}

/** Reads a config file from disk. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config: ${(err as Error).message}`, { file });
  }
  return loadConfigText(text, resolve(file), env);
}
