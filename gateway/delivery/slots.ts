/**
 * Per-endpoint cap on attempts in flight. A job over the cap waits briefly for a slot: a healthy
 * endpoint frees one within milliseconds, so its jobs never leave the worker; a slow one does
 * not, and the job goes back to the queue so other endpoints keep their workers.
 */
export class EndpointSlots {
  private readonly slots = new Map<string, { busy: number; waiters: (() => void)[] }>();

  /** Takes a slot for `key` (true), waiting up to `waitMs` when all `cap` are busy (false: none came). */
  acquire(key: string, cap: number, waitMs = 50): Promise<boolean> | boolean {
    let s = this.slots.get(key);
    if (!s) {
      s = { busy: 0, waiters: [] };
      this.slots.set(key, s);
    }
    if (s.busy < cap) {
      s.busy++;
      return true;
    }
    if (s.waiters.length >= cap * 4) return false;
    const slot = s;
    return new Promise<boolean>((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = slot.waiters.indexOf(grant);
        if (i >= 0) slot.waiters.splice(i, 1);
        resolve(false);
      }, waitMs);
      slot.waiters.push(grant);
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  release(key: string): void {
    const s = this.slots.get(key);
    if (!s) return;
    const next = s.waiters.shift();
    if (next) return next();
    s.busy--;
    if (s.busy <= 0 && s.waiters.length === 0) this.slots.delete(key);
  }
}
