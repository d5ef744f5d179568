/**
 * A bounded LRU of handle records as the store returned them (or of their absence), for the resolve hot
 * path. It is only as fresh as the stamp it is checked against: the owner passes the store's change
 * sequence on every read, and any change of it (a write, a replicated batch, a rollback that lowers it)
 * empties the cache before it answers. Writers also call `clear()` when they finish, so nothing cached
 * while a transaction was open outlives it.
 */
import type { StoredHandle } from '@iip/storage';
import { OldestFirst } from './oldest-first.js';

export interface RecordCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
  readonly capacity: number;
  readonly clears: number;
}

export class RecordCache {
  private readonly map = new Map<string, StoredHandle | null>();
  private readonly oldest = new OldestFirst(this.map);
  private stamp = -1;
  private hits = 0;
  private misses = 0;
  private clears = 0;

  constructor(readonly capacity: number) {}

  /** The record under `key` (null: known absent), or undefined when the cache cannot say. */
  get(key: string, stamp: number): StoredHandle | null | undefined {
    if (stamp !== this.stamp) {
      this.clear();
      this.stamp = stamp;
      this.misses++;
      return undefined;
    }
    const hit = this.map.get(key);
    if (hit === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Re-inserting moves the key to the young end of the Map's insertion order.
    this.map.delete(key);
    this.map.set(key, hit);
    return hit;
  }

  set(key: string, record: StoredHandle | null, stamp: number): void {
    if (this.capacity <= 0 || stamp !== this.stamp) return;
    this.map.set(key, record);
    if (this.map.size > this.capacity) this.oldest.evict();
  }

  clear(): void {
    if (this.map.size > 0) this.clears++;
    this.map.clear();
    this.oldest.reset();
    this.stamp = -1;
  }

  stats(): RecordCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.map.size, capacity: this.capacity, clears: this.clears };
  }
}
