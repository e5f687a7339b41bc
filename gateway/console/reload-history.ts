import { GatewayError } from '../errors.js';

/** One reload attempt as `GET /admin/reloads` shows it. */
export interface ReloadRecord {
  at: number;
  /** `startup`, `file change`, `admin`, `SIGHUP`, ... */
  trigger: string;
  ok: boolean;
  generation?: number;
  error?: { code: string; message: string };
}

/** The last reload attempts of this process (a ring; the oldest drops out). */
export class ReloadHistory {
  private readonly items: ReloadRecord[] = [];

  constructor(private readonly size = 50) {}

  ok(trigger: string, generation: number, at = Date.now()): void {
    this.push({ at, trigger, ok: true, generation });
  }

  /** A refused reload, with its error code and message (config errors name paths, never secret values). */
  failed(trigger: string, err: unknown, at = Date.now()): void {
    const code = err instanceof GatewayError ? err.code : 'HG_CONFIG_INVALID';
    this.push({ at, trigger, ok: false, error: { code, message: (err as Error)?.message ?? String(err) } });
  }

  /** Newest first. */
  list(): ReloadRecord[] {
    return [...this.items].reverse();
  }

  private push(r: ReloadRecord): void {
    this.items.push(r);
    if (this.items.length > this.size) this.items.shift();
  }
}
