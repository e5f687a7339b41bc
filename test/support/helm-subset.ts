/**
 * A renderer for the small subset of Helm's template language that deploy/helm/hookgate uses,
 * because helm itself does not install here (not in Debian bookworm, no npm package ships it).
 * `helm template deploy/helm/hookgate` is the real check; this one keeps the chart honest in
 * `npm test`. Anything outside the subset throws, so the chart cannot drift out of it unnoticed:
 *
 *  - `{{ .Values.a.b }}`, `{{ .Release.Name }}`, `{{ .Release.Namespace }}`, `{{ .Chart.AppVersion }}`
 *  - pipelines into `quote`, `toYaml`, `indent N`, `nindent N`; `toYaml X` and `quote X` as calls
 *  - `{{- if PATH }}` … `{{- else }}` … `{{- end }}` (Helm's truthiness), nested
 *  - `{{-` and `-}}` whitespace trimming
 */
import { stringify } from 'yaml';

export interface RenderContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
  Chart: { Name: string; Version: string; AppVersion: string };
}

type Node = { kind: 'text'; text: string } | { kind: 'expr'; expr: string } | { kind: 'if'; cond: string; then: Node[]; else: Node[] };

const ACTION = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;

/** Splits into text and actions, applying `{{-` / `-}}` trimming. */
function lex(src: string): ({ kind: 'text'; text: string } | { kind: 'action'; body: string })[] {
  const out: ({ kind: 'text'; text: string } | { kind: 'action'; body: string })[] = [];
  let last = 0;
  let trimNext = false;
  for (const m of src.matchAll(ACTION)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1] === '-') text = text.replace(/\s+$/, '');
    out.push({ kind: 'text', text }, { kind: 'action', body: m[2]! });
    trimNext = m[3] === '-';
    last = m.index! + m[0].length;
  }
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  out.push({ kind: 'text', text: tail });
  return out;
}

function parse(src: string, file: string): Node[] {
  const root: Node[] = [];
  const stack: { node: Extract<Node, { kind: 'if' }>; inElse: boolean }[] = [];
  const target = (): Node[] => {
    const top = stack[stack.length - 1];
    return top ? (top.inElse ? top.node.else : top.node.then) : root;
  };
  for (const t of lex(src)) {
    if (t.kind === 'text') {
      if (t.text) target().push({ kind: 'text', text: t.text });
      continue;
    }
    const body = t.body;
    if (body.startsWith('/*')) continue;
    const ifm = /^if\s+(\S+)$/.exec(body);
    if (ifm) {
      const node: Extract<Node, { kind: 'if' }> = { kind: 'if', cond: ifm[1]!, then: [], else: [] };
      target().push(node);
      stack.push({ node, inElse: false });
    } else if (body === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.inElse) throw new Error(`${file}: {{ else }} without {{ if }}`);
      top.inElse = true;
    } else if (body === 'end') {
      if (!stack.pop()) throw new Error(`${file}: {{ end }} without {{ if }}`);
    } else {
      target().push({ kind: 'expr', expr: body });
    }
  }
  if (stack.length) throw new Error(`${file}: {{ if }} without {{ end }}`);
  return root;
}

function lookup(ctx: RenderContext, path: string, file: string): unknown {
  if (!/^\.(Values|Release|Chart)(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) throw new Error(`${file}: unsupported reference ${path}`);
  let cur: unknown = ctx;
  for (const key of path.slice(1).split('.')) {
    if (cur === null || typeof cur !== 'object' || !(key in cur)) throw new Error(`${file}: ${path} has no value`);
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Helm's truthiness: false, 0, nil and empty strings, lists and maps are false. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function toYaml(v: unknown): string {
  return stringify(v, { lineWidth: 0 }).replace(/\n$/, '');
}

function indent(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return s.split('\n').map((l) => pad + l).join('\n');
}

function call(name: string, args: unknown[], file: string): unknown {
  const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));
  switch (name) {
    case 'quote':
      return JSON.stringify(str(args[0]));
    case 'toYaml':
      return toYaml(args[0]);
    case 'indent':
      return indent(Number(args[0]), str(args[1]));
    case 'nindent':
      return '\n' + indent(Number(args[0]), str(args[1]));
    default:
      throw new Error(`${file}: unsupported function ${name}`);
  }
}

function evaluate(expr: string, ctx: RenderContext, file: string): string {
  let value: unknown;
  let first = true;
  for (const stage of expr.split('|').map((s) => s.trim())) {
    const words = stage.split(/\s+/);
    const args = words.slice(1).map((w) => (w.startsWith('.') ? lookup(ctx, w, file) : /^\d+$/.test(w) ? Number(w) : (() => { throw new Error(`${file}: unsupported argument ${w}`); })()));
    if (first && words.length === 1 && words[0]!.startsWith('.')) value = lookup(ctx, words[0]!, file);
    else value = call(words[0]!, first ? args : [...args, value], file);
    first = false;
  }
  if (value !== null && typeof value === 'object') throw new Error(`${file}: {{ ${expr} }} renders a map or list; pipe it to toYaml`);
  if (value === undefined || value === null) throw new Error(`${file}: {{ ${expr} }} has no value`);
  return String(value);
}

function renderNodes(nodes: Node[], ctx: RenderContext, file: string): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'expr') out += evaluate(n.expr, ctx, file);
    else out += renderNodes(truthy(lookup(ctx, n.cond, file)) ? n.then : n.else, ctx, file);
  }
  return out;
}

/** Renders one template file's text. */
export function renderTemplate(src: string, ctx: RenderContext, file = 'template'): string {
  return renderNodes(parse(src, file), ctx, file);
}

/** `helm --set`-like deep merge of overrides into values (maps merge, everything else replaces). */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? mergeValues(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
