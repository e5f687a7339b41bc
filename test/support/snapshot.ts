import { pino } from 'pino';
import { closeSnapshot, compile, type Snapshot } from '../../gateway/compile.js';
import { loadConfigText } from '../../gateway/config/load.js';
import { pluginSet } from '../../gateway/runtime.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import type { Store } from '../../gateway/store/types.js';

const silent = pino({ level: 'silent' });

/** Compiles a config given as an object (written as JSON, which is YAML) into a snapshot. */
export async function compileConfig(config: Record<string, unknown>, store: Store = new MemoryStore()): Promise<Snapshot & { dispose(): Promise<void> }> {
  const snap = await compile(loadConfigText(JSON.stringify(config), '/tmp/hookgate-test/gateway.yaml', {}), { builtins: pluginSet(), store, logger: silent, id: 1 });
  return Object.assign(snap, { dispose: () => closeSnapshot(snap, silent) });
}
