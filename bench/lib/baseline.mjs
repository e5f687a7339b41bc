// The baseline engine for scenario 6: an earlier commit of this repository, exported with
// `git archive` into bench/.out/baseline/<key>, installed with `npm ci` and built with `tsc`
// there, once (cached by the content of what is built — gateway/, plugins/, config/, package
// files, tsconfig — so commits that change only bench/ or docs share a build; a marker file is
// written when the build succeeded). The
// current build is this checkout's dist/; the baseline is started from its own directory, with
// its own node_modules and config schema, on the same generated configs.
//
//   BENCH_BASELINE unset    the newest first-parent ancestor of HEAD (HEAD included) whose
//                           gateway/delivery/queue.ts imports bullmq (the BullMQ engine), else
//                           FALLBACK_REV
//   BENCH_BASELINE=<rev>    that revision (anything `git rev-parse` takes: a sha, main~3, a tag)
//   BENCH_BASELINE=0|none|off   no baseline rows
//   BENCH_BUILD=<rev>       run the hookgate rows on that commit (built the same way) instead of
//                           this checkout's dist/; the default baseline is then searched from it
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASELINE, OUT, ROOT } from './env.mjs';
import { run } from './proc.mjs';

/** The foundation commit of issue 11 (BullMQ engine): used when no ancestor matches. */
export const FALLBACK_REV = 'a7d1637';
const HISTORY_LIMIT = 500;
const BULLMQ_IMPORT = /from\s+['"]bullmq['"]/;

function git(args) {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const commitOf = (rev) => git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);

/**
 * Which revision is the baseline. Resolves { skip, note } or { rev, short, how, sameAsCurrent }.
 * `sameAsCurrent`: the baseline's gateway/ tree is the current build's (HEAD's, and the work tree
 * has no change under gateway/), so its ratio can only measure noise.
 */
export function resolveBaseline(spec = BASELINE, currentRev = undefined) {
  if (spec !== undefined && ['0', 'none', 'off', ''].includes(spec.trim())) return { skip: true, note: `no baseline (BENCH_BASELINE=${spec})` };
  if (!git(['rev-parse', '--git-dir'])) return { skip: true, note: `no baseline: ${ROOT} is not a git checkout` };
  let rev;
  let how;
  if (spec !== undefined) {
    rev = commitOf(spec);
    if (!rev) return { skip: true, note: `no baseline: BENCH_BASELINE=${spec} is not a commit of this repository` };
    how = `BENCH_BASELINE=${spec}`;
  } else {
    const history = (git(['rev-list', '--first-parent', `--max-count=${HISTORY_LIMIT}`, currentRev ?? 'HEAD']) ?? '').split('\n').filter(Boolean);
    for (const c of history) {
      const queue = git(['show', `${c}:gateway/delivery/queue.ts`]);
      if (queue && BULLMQ_IMPORT.test(queue)) {
        rev = c;
        how = `newest first-parent ancestor of ${currentRev ? currentRev.slice(0, 7) : 'HEAD'} whose gateway/delivery/queue.ts imports bullmq`;
        break;
      }
    }
    if (!rev) {
      rev = commitOf(FALLBACK_REV);
      how = `fallback ${FALLBACK_REV} (no ancestor of ${currentRev ? currentRev.slice(0, 7) : 'HEAD'} within ${HISTORY_LIMIT} commits imports bullmq in gateway/delivery/queue.ts)`;
    }
    if (!rev) return { skip: true, note: `no baseline: no BullMQ ancestor and ${FALLBACK_REV} is not in this repository (set BENCH_BASELINE)` };
  }
  const dirty = !currentRev && (git(['status', '--porcelain', '--', 'gateway']) ?? '') !== '';
  const sameAsCurrent = !dirty && git(['rev-parse', `${rev}:gateway`]) === git(['rev-parse', `${currentRev ?? 'HEAD'}:gateway`]);
  const subject = git(['log', '-1', '--format=%s', rev]) ?? '';
  return { rev, short: rev.slice(0, 7), how, sameAsCurrent, subject: subject.length > 90 ? `${subject.slice(0, 87)}…` : subject };
}

/** What a build of `rev` is made of: commits that differ only elsewhere (bench/, docs) share one build. */
const BUILD_INPUTS = ['gateway', 'plugins', 'config', 'package.json', 'package-lock.json', 'tsconfig.json'];

/** A cache key for the build of `rev`: a hash of the git object ids of BUILD_INPUTS. */
function buildKey(rev) {
  const ids = BUILD_INPUTS.map((p) => `${p}=${git(['rev-parse', '--verify', '--quiet', `${rev}:${p}`]) ?? '-'}`).join('\n');
  return createHash('sha1').update(ids).digest('hex').slice(0, 12);
}

/**
 * Exports, installs and builds commit `rev` into bench/.out/baseline/<key> once (key: buildKey).
 * Resolves { ok, root, cached } or { ok: false, note }.
 */
async function buildRevision(rev, short, log) {
  const key = buildKey(rev);
  const root = join(OUT, 'baseline', key);
  const marker = join(root, '.bench-built');
  const cli = join(root, 'dist/gateway/cli.js');
  if (existsSync(marker) && readFileSync(marker, 'utf8').split('\n')[0] === key && existsSync(cli)) return { ok: true, root, cached: true };
  const t0 = Date.now();
  log(`building ${short} into ${root.slice(ROOT.length + 1)} (git archive, npm ci, tsc; once, cached)…`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  // rev is a full hex sha from rev-parse: safe in a shell pipeline.
  const ex = await run('sh', ['-c', `git archive --format=tar ${rev} | tar -x -C "$DEST"`], { cwd: ROOT, env: { DEST: root }, timeoutMs: 120_000 });
  if (ex.code !== 0) return { ok: false, note: `git archive ${short} failed: ${ex.stderr.trim().split('\n').slice(-2).join(' / ')}` };
  const ci = await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, timeoutMs: 900_000 });
  if (ci.code !== 0) return { ok: false, note: `npm ci in ${short} failed (exit ${ci.code}): ${(ci.stderr || ci.stdout).trim().split('\n').slice(-3).join(' / ')}` };
  // `npm ci` runs the package's prepare script (tsc) in most revisions; build explicitly anyway.
  const tsc = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, timeoutMs: 600_000 });
  if (tsc.code !== 0 || !existsSync(cli)) return { ok: false, note: `tsc in ${short} failed (exit ${tsc.code}): ${(tsc.stdout || tsc.stderr).trim().split('\n').slice(-3).join(' / ')}` };
  writeFileSync(marker, `${key}\n${rev}\n`);
  log(`${short} built in ${Math.round((Date.now() - t0) / 1000)} s`);
  return { ok: true, root, cached: false };
}

/**
 * The build the hookgate rows run: this checkout's dist/ or, with BENCH_BUILD=<rev>, that commit
 * built like the baseline (to bench a branch before it is merged). Resolves { ok, root, label, rev? }
 * or { ok: false, note }.
 */
export async function ensureCurrent(log = () => {}, spec = process.env.BENCH_BUILD) {
  if (!spec) return { ok: true, root: ROOT, label: 'this checkout' };
  const rev = commitOf(spec);
  if (!rev) return { ok: false, note: `BENCH_BUILD=${spec} is not a commit of this repository` };
  const b = await buildRevision(rev, rev.slice(0, 7), log);
  return b.ok ? { ok: true, root: b.root, rev, label: `${rev.slice(0, 7)} (BENCH_BUILD=${spec})` } : b;
}

/**
 * Makes sure the baseline build exists (export, npm ci, tsc: the first time only) and resolves
 * { ok: true, rev, short, root, how, sameAsCurrent, subject, cached } or { ok: false, note }.
 * `currentRev`: the commit the current rows run (BENCH_BUILD), undefined for this checkout.
 */
export async function ensureBaseline(log = () => {}, currentRev = undefined) {
  const b = resolveBaseline(BASELINE, currentRev);
  if (b.skip) return { ok: false, note: b.note };
  const built = await buildRevision(b.rev, `the baseline engine ${b.short} (${b.how})`, log);
  return built.ok ? { ...b, ...built } : built;
}
