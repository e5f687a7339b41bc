import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
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

/**
 * Watches the config and custom plugin files and calls `onChange` when their content changed
 * (debounced; a save that rewrites the same bytes is not a change). It knows nothing of the
 * runtime: the runtime hands it the files to watch and what to do.
 */
export class ConfigWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastHash = '';
  private files: readonly string[] = [];

  constructor(
    private readonly onChange: () => void,
    private readonly logger: Logger,
    private readonly debounceMs = 100,
  ) {}

  /** (Re)watches these files; their current content is the baseline. */
  watch(files: readonly string[]): void {
    this.closeWatchers();
    this.files = files;
    this.lastHash = hashFiles(files);
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const d = dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(basename(f));
    }
    // Watch directories, not files: editors replace files by rename, which ends a file watch.
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, (_ev, name) => {
          if (name && !names.has(name.toString())) return;
          clearTimeout(this.timer);
          this.timer = setTimeout(() => {
            if (hashFiles(this.files) !== this.lastHash) this.onChange();
          }, this.debounceMs);
        });
        w.on('error', (err) => this.logger.warn({ err: err.message, dir }, 'file watch failed'));
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, dir }, 'cannot watch config directory; use SIGHUP or POST /admin/reload');
      }
    }
  }

  private closeWatchers(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  close(): void {
    clearTimeout(this.timer);
    this.closeWatchers();
  }
}
