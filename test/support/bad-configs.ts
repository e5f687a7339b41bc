import assert from 'node:assert/strict';

/**
 * The invalid configs the core issue lists (and a few more), shared by the loader tests
 * (test/config.test.ts) and the CLI tests (test/cli.test.ts). The offending line carries `#!`;
 * each error must name the file, that line and the YAML path, and say what is wrong.
 */
export interface BadConfig {
  name: string;
  yaml: string;
  path: string | undefined;
  message: RegExp;
  env?: NodeJS.ProcessEnv;
}

export const BASE = `listen: { host: 127.0.0.1, port: 8080 }
upstreams:
  up: { targets: [ { url: "http://127.0.0.1:9000" } ] }
routes:
  - name: first
    path: /first
    respond: { status: 200 }
`;

export const BAD_CONFIGS: BadConfig[] = [
  {
    name: 'bad YAML (tab indentation)',
    yaml: `${BASE}  - name: second\n\tpath: /second  #!\n    upstream: up\n`,
    path: undefined,
    message: /invalid YAML: Tabs are not allowed/,
  },
  {
    name: 'bad YAML (duplicate key)',
    yaml: `${BASE}  - name: second\n    path: /second\n    path: /again  #!\n    upstream: up\n`,
    path: undefined,
    message: /invalid YAML: Map keys must be unique/,
  },
  { name: 'unknown top-level key', yaml: `${BASE}rotues: []  #!\n`, path: 'rotues', message: /unknown key "rotues"/ },
  {
    name: 'unknown key inside a route',
    yaml: `${BASE}  - name: second\n    path: /second\n    upstraem: up  #!\n`,
    path: 'routes[1].upstraem',
    message: /unknown key "upstraem"/,
  },
  {
    name: 'unknown plugin',
    yaml: `${BASE}  - name: second\n    path: /second\n    plugins:\n      - rate-limiter: {}  #!\n    upstream: up\n`,
    path: 'routes[1].plugins[0].rate-limiter',
    message: /unknown plugin "rate-limiter" \(known: .*rate-limit.*\)/,
  },
  {
    name: 'bad plugin params (size-limit bytes: "x")',
    yaml: `${BASE}  - name: second\n    path: /second\n    plugins:\n      - size-limit:\n          bytes: "x"  #!\n    upstream: up\n`,
    path: 'routes[1].plugins[0].size-limit.bytes',
    message: /plugin "size-limit": found "x", expected integer/,
  },
  {
    name: 'unknown key in plugin params',
    yaml: `${BASE}  - name: second\n    path: /second\n    plugins:\n      - size-limit: { bytes: 10, byts: 1 }  #!\n    upstream: up\n`,
    path: 'routes[1].plugins[0].size-limit.byts',
    message: /plugin "size-limit": unknown key "byts"/,
  },
  {
    name: 'missing upstream reference',
    yaml: `${BASE}  - name: second\n    path: /second\n    upstream: nowhere  #!\n`,
    path: 'routes[1].upstream',
    message: /unknown upstream "nowhere" \(declared: up\)/,
  },
  {
    name: 'unknown endpoint ordering',
    yaml: `${BASE}egress:\n  endpoints:\n    - id: e\n      url: "http://127.0.0.1:9001/h"\n      ordering: sorted  #!\n`,
    path: 'egress.endpoints[0].ordering',
    message: /found "sorted", expected one of "none", "per-key"/,
  },
  {
    name: 'duplicate route names',
    yaml: `${BASE}  - name: first  #!\n    path: /second\n    upstream: up\n`,
    path: 'routes[1].name',
    message: /duplicate route name "first"/,
  },
  {
    name: 'route with two actions',
    yaml: `${BASE}  - name: second  #!\n    path: /second\n    upstream: up\n    respond: { status: 200 }\n`,
    path: 'routes[1]',
    message: /route "second" has 2 actions \(upstream, respond\): expected exactly one/,
  },
  {
    name: 'route with no action',
    yaml: `${BASE}  - name: second  #!\n    path: /second\n`,
    path: 'routes[1]',
    message: /route "second" has no action/,
  },
  {
    name: 'admin token too short',
    yaml: `${BASE}admin:\n  token: "short"  #!\n`,
    path: 'admin.token',
    message: /found a string of 5 characters, expected at least 8/,
  },
  {
    name: 'unset environment variable',
    yaml: `${BASE}  - name: second\n    path: /second\n    respond:\n      status: \${HG_UNSET_STATUS}  #!\n`,
    path: 'routes[1].respond.status',
    message: /environment variable HG_UNSET_STATUS is not set/,
  },
];

/** The 1-based line of the `#!` marker. */
export function markedLine(yaml: string): number {
  const i = yaml.split('\n').findIndex((l) => l.includes('#!'));
  assert.ok(i >= 0, 'test config has no #! marker');
  return i + 1;
}
