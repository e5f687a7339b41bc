import { pino } from 'pino';
import { closeSnapshot, compile, type Snapshot } from '../../gateway/compile.js';
import { loadConfigText } from '../../gateway/config/load.js';
import type { PluginDefinition } from '../../gateway/plugin.js';
import { pluginSet } from '../../gateway/runtime.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import type { Store } from '../../gateway/store/types.js';

const silent = pino({ level: 'silent' });

/** Compiles YAML text as `start` would (built-in plugins plus `plugins`); a store of its own unless given. */
export async function compileText(text: string, opts: { plugins?: PluginDefinition[]; store?: Store } = {}): Promise<Snapshot> {
  const own = opts.store ? undefined : new MemoryStore();
  try {
    return await compile(loadConfigText(text, '/tmp/hookgate-test/gateway.yaml', {}), { builtins: pluginSet(opts.plugins), store: opts.store ?? own!, logger: silent, id: 1 });
  } finally {
    await own?.close();
  }
}

/** Compiles a config given as an object (written as JSON, which is YAML) into a snapshot. */
export async function compileConfig(config: Record<string, unknown>, store: Store = new MemoryStore()): Promise<Snapshot & { dispose(): Promise<void> }> {
  const snap = await compileText(JSON.stringify(config), { store });
  return Object.assign(snap, { dispose: () => closeSnapshot(snap, silent) });
}
