/**
 * Ordered delivery in process (the memory queue's; the Redis queue does the same in its scripts,
 * stream-scripts.ts). Per target and ordering key, the deliveries queued wait in a list, head
 * first; only the head is in a lane or running. Settling the head done moves the next one up.
 */

/** The list key of an ordering key's deliveries to a target ('\t' is in no target id or key). */
function listKey(target: string, key: string): string {
  return `${target}\t${key}`;
}

export class OrderedKeys<J extends { msgId: string }> {
  private readonly lists = new Map<string, J[]>();
  /** Keys whose head has failed an attempt, by since when (ms). */
  private readonly failing = new Map<string, number>();
  private behind = 0;

  /** Deliveries waiting behind their key's head. */
  get waitingBehind(): number {
    return this.behind;
  }

  /** Queues `job` at its key's tail; true when it is the head (it may run now). */
  join(target: string, key: string, job: J): boolean {
    const k = listKey(target, key);
    const list = this.lists.get(k);
    if (list) {
      list.push(job);
      this.behind++;
      return false;
    }
    this.lists.set(k, [job]);
    return true;
  }

  /** The key's head, if any. */
  head(target: string, key: string): J | undefined {
    return this.lists.get(listKey(target, key))?.[0];
  }

  isHead(target: string, key: string, msgId: string): boolean {
    return this.head(target, key)?.msgId === msgId;
  }

  /** The head `msgId` is done (or skipped): it leaves the list; returns the next head, if any. A no-op when `msgId` is not the head. */
  advance(target: string, key: string, msgId: string): J | undefined {
    const k = listKey(target, key);
    const list = this.lists.get(k);
    if (!list || list[0]!.msgId !== msgId) return undefined;
    list.shift();
    this.failing.delete(k);
    if (list.length) {
      this.behind--;
      return list[0];
    }
    this.lists.delete(k);
    return undefined;
  }

  /** The head failed an attempt: the key is blocked since `at`, unless it already was. */
  markFailing(target: string, key: string, at: number): void {
    const k = listKey(target, key);
    if (this.lists.has(k) && !this.failing.has(k)) this.failing.set(k, at);
  }

  /** Per target of `targets`, the age (s) of its oldest blocked key; 0 when none is. */
  blockedSeconds(targets: readonly string[], now: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of targets) out[t] = 0;
    for (const [k, since] of this.failing) {
      const t = k.slice(0, k.indexOf('\t'));
      if (t in out) out[t] = Math.max(out[t]!, Math.max(0, (now - since) / 1000));
    }
    return out;
  }
}
