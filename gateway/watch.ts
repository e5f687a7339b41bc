import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** A content hash of a set of files; a missing file hashes as missing. */
export function hashFiles(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    try {
      h.update(readFileSync(f));
    } catch {
      h.update('missing:' + f);
    }
  }
  return h.digest('hex');
}

/** How often the watched files' content is compared even when no file event came. */
export const DEFAULT_POLL_MS = 3000;

export interface ConfigWatcherOptions {
  /** Quiet time after a file event before the content is compared (an editor's save is several events). */
  debounceMs?: number;
  /** Content poll interval: the fallback for mounts whose changes raise no event (0 turns it off). */
  pollMs?: number;
  /** Use directory events (`fs.watch`) besides the poll (default true). */
  fsEvents?: boolean;
}

/**
 * Watches the config and custom plugin files and calls `onChange` when their content changed (a
 * save that rewrites the same bytes is not a change). Two sources, both ending in a content-hash
 * comparison: events on the files' directories, unfiltered by name, and a poll of the content.
 * The events alone miss two common deployments: a Kubernetes ConfigMap volume updates by
 * swapping a `..data` symlink (the event names `..data`, never `gateway.yaml`), and a single-file
 * bind mount changes the file behind the watch with no directory event at all.
 * It knows nothing of the runtime: the runtime hands it the files to watch and what to do.
 */
export class ConfigWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private lastHash = '';
  private files: readonly string[] = [];
  private readonly debounceMs: number;
  private readonly pollMs: number;
  private readonly fsEvents: boolean;

  constructor(
    private readonly onChange: () => void,
    private readonly logger: Logger,
    opts: ConfigWatcherOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? 100;
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.fsEvents = opts.fsEvents ?? true;
  }

  /** The current content hash of the watched files: a reload takes it before reading them. */
  mark(): string {
    return hashFiles(this.files);
  }

  /**
   * (Re)watches these files. Their content when `baseline` was taken (see `mark`) is what counts
   * as unchanged, so an edit made while a reload was reading the files is still noticed; without
   * one, or for a different set of files, their content now.
   */
  watch(files: readonly string[], baseline?: string): void {
    this.closeWatchers();
    const sameFiles = files.join('\0') === this.files.join('\0');
    this.lastHash = baseline !== undefined && sameFiles ? baseline : hashFiles(files);
    this.files = files;
    if (this.fsEvents) {
      // Watch directories, not files: editors replace files by rename, which ends a file watch.
      // Every name counts (see the class comment): the hash decides whether anything changed.
      for (const dir of new Set(files.map((f) => dirname(f)))) {
        try {
          const w = watch(dir, () => this.schedule());
          w.on('error', (err) => this.logger.warn({ err: err.message, dir }, 'file watch failed; the content poll goes on'));
          this.watchers.push(w);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message, dir }, 'cannot watch config directory; its content is polled');
        }
      }
    }
    if (this.pollMs > 0) {
      this.poller = setInterval(() => this.check(), this.pollMs);
      // The poll alone must not keep a stopped process alive.
      this.poller.unref();
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.debounceMs);
  }

  private check(): void {
    const hash = hashFiles(this.files);
    if (hash === this.lastHash) return;
    // Reported once per content: a rejected config is not reloaded again on every poll.
    this.lastHash = hash;
    this.onChange();
  }

  private closeWatchers(): void {
    clearInterval(this.poller);
    this.poller = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  close(): void {
    clearTimeout(this.timer);
    this.closeWatchers();
  }
}
