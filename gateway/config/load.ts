import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isMap, isScalar, isSeq, LineCounter, parse as parseYamlValue, parseDocument, visit, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { GatewayConfig, LoadedConfig } from './types.js';

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

let gatewayValidator: ValidateFunction | undefined;

/** One ajv instance for gateway and plugin schemas: defaults applied, every error reported. */
export const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, verbose: true });

function validator(): ValidateFunction {
  if (!gatewayValidator) {
    const schema = JSON.parse(readFileSync(resolve(packageRoot, 'config/gateway.schema.json'), 'utf8'));
    gatewayValidator = ajv.compile(schema);
  }
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

/** Turns one ajv error into a sentence that says what was found and what was expected. */
export function describeAjvError(e: ErrorObject): { path: (string | number)[]; message: string } {
  const path = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(p.additionalProperty)], message: `unknown key "${String(p.additionalProperty)}"` };
    case 'required':
      return { path, message: `missing required key "${String(p.missingProperty)}"` };
    case 'enum':
      return { path, message: `found ${JSON.stringify(e.data)}, expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'type':
      return { path, message: `found ${JSON.stringify(e.data)}, expected ${String(p.type)}` };
    case 'pattern':
      return { path, message: `found ${JSON.stringify(e.data)}, expected a string matching ${String(p.pattern)}` };
    default:
      return { path, message: `${e.message ?? 'invalid'}${e.data !== undefined && typeof e.data !== 'object' ? ` (found ${JSON.stringify(e.data)})` : ''}` };
  }
}

/** Keeps the most useful ajv error: oneOf/anyOf wrappers are less precise than their branches. */
function pickError(errors: ErrorObject[]): ErrorObject {
  const concrete = errors.filter((e) => !['oneOf', 'anyOf', 'if'].includes(e.keyword));
  const pool = concrete.length ? concrete : errors;
  // Prefer the deepest path: it points at the exact offending key.
  return pool.reduce((a, b) => (b.instancePath.length > a.instancePath.length ? b : a));
}

function substituteEnv(doc: Document, file: string, lines: LineCounter, env: NodeJS.ProcessEnv): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const raw = node.value;
      const replaced = raw.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        const line = node.range ? lines.linePos(node.range[0]).line : undefined;
        throw new ConfigError(`environment variable ${name} is not set and has no default (write \${${name}:-default})`, { file, line });
      });
      // An unquoted scalar that is one reference takes the type of its value: `port: ${PORT:-8080}` is a number.
      const whole = /^\$\{[^}]+\}$/.test(raw) && node.type === 'PLAIN';
      node.value = whole ? parseYamlValue(replaced) : replaced;
    },
  });
}

/** Parses and validates YAML text. Throws a located ConfigError. */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const err = doc.errors[0]!;
    const line = err.linePos?.[0]?.line ?? lines.linePos(err.pos[0]).line;
    throw new ConfigError(`invalid YAML: ${err.message.split('\n')[0]}`, { file, line });
  }
  substituteEnv(doc, file, lines, env);
  const lineOf = (path: (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as Node | undefined;
      if (node && (isScalar(node) || isMap(node) || isSeq(node)) && node.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const data = (doc.toJS() ?? {}) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError('expected a mapping at the top level', { file, line: 1 });
  }
  const validate = validator();
  if (!validate(data)) {
    const e = describeAjvError(pickError(validate.errors ?? []));
    throw new ConfigError(e.message, { file, line: lineOf(e.path), path: formatPath(e.path) });
  }
  const config = data as GatewayConfig;
  config.listen ??= { host: '127.0.0.1', port: 8080 };
  config.store ??= { driver: 'memory', prefix: 'hookgate:' };
  config.limits ??= { bodyBytes: 1048576, drainTimeoutMs: 30000, headersTimeoutMs: 30000 };
  config.upstreams ??= {};
  config.routes ??= [];
  return { config, file, dir: dirname(resolve(file)), lineOf };
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
