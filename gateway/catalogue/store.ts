/**
 * Where event types created through the admin API are kept: in memory with the memory store, in
 * Redis with the redis store (shared by every instance, like endpoints). Config-declared types are
 * never written here: every instance compiles them from gateway.yaml.
 */
import type { Redis } from 'ioredis';
import type { Store } from '../store/types.js';
import { slottedPrefix } from '../store/redis-topology.js';
import type { EventTypeDefinition } from './catalogue.js';

/** An API-created event type version as stored. */
export interface EventTypeRecord extends Omit<EventTypeDefinition, 'schemaFile'> {
  createdAt: number;
  updatedAt: number;
}

export interface EventTypeStore {
  list(): Promise<EventTypeRecord[]>;
  get(name: string, version: number): Promise<EventTypeRecord | null>;
  /** Writes a new record; false when that name and version already exist. */
  create(rec: EventTypeRecord): Promise<boolean>;
  put(rec: EventTypeRecord): Promise<void>;
  delete(name: string, version: number): Promise<boolean>;
}

const keyOf = (name: string, version: number) => `${name}@${version}`;

export class MemoryEventTypeStore implements EventTypeStore {
  private readonly records = new Map<string, EventTypeRecord>();

  async list(): Promise<EventTypeRecord[]> {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
  async get(name: string, version: number): Promise<EventTypeRecord | null> {
    const r = this.records.get(keyOf(name, version));
    return r ? structuredClone(r) : null;
  }
  async create(rec: EventTypeRecord): Promise<boolean> {
    const k = keyOf(rec.name, rec.version);
    if (this.records.has(k)) return false;
    this.records.set(k, structuredClone(rec));
    return true;
  }
  async put(rec: EventTypeRecord): Promise<void> {
    this.records.set(keyOf(rec.name, rec.version), structuredClone(rec));
  }
  async delete(name: string, version: number): Promise<boolean> {
    return this.records.delete(keyOf(name, version));
  }
}

/** Keys under `<prefix>dlv:`: `et:<name>@<version>` (one JSON record each) and `ets` (the set of them). */
export class RedisEventTypeStore implements EventTypeStore {
  private readonly k: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.k = `${prefix}dlv:`;
  }

  async list(): Promise<EventTypeRecord[]> {
    const ids = await this.redis.smembers(`${this.k}ets`);
    if (ids.length === 0) return [];
    const vals = await this.redis.mget(...ids.map((id) => `${this.k}et:${id}`));
    return vals.filter((v): v is string => !!v).map((v) => JSON.parse(v) as EventTypeRecord);
  }
  async get(name: string, version: number): Promise<EventTypeRecord | null> {
    const s = await this.redis.get(`${this.k}et:${keyOf(name, version)}`);
    return s ? (JSON.parse(s) as EventTypeRecord) : null;
  }
  async create(rec: EventTypeRecord): Promise<boolean> {
    const id = keyOf(rec.name, rec.version);
    // NX: two instances creating the same version at once cannot both win.
    const ok = await this.redis.set(`${this.k}et:${id}`, JSON.stringify(rec), 'NX');
    if (ok !== 'OK') return false;
    await this.redis.sadd(`${this.k}ets`, id);
    return true;
  }
  async put(rec: EventTypeRecord): Promise<void> {
    const id = keyOf(rec.name, rec.version);
    await this.redis.multi().set(`${this.k}et:${id}`, JSON.stringify(rec)).sadd(`${this.k}ets`, id).exec();
  }
  async delete(name: string, version: number): Promise<boolean> {
    const id = keyOf(name, version);
    const res = await this.redis.multi().del(`${this.k}et:${id}`).srem(`${this.k}ets`, id).exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }
}

/** The event type store for a gateway store's driver. */
export function eventTypeStoreFor(store: Store): EventTypeStore {
  return store.driver === 'redis' ? new RedisEventTypeStore(store.redis, slottedPrefix(store.prefix, store.cluster)) : new MemoryEventTypeStore();
}
