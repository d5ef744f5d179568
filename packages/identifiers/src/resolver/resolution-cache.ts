/**
 * The resolver's answer cache: whole handle records keyed by the normalised handle, each kept until the
 * earliest expiry among its values (relative TTL counted from receipt, absolute TTL is the expiry itself,
 * RFC 3651 §3.1), bounded in entries with least-recently-used eviction. Negative answers (handle not found)
 * are kept briefly, so a burst of lookups for a missing handle costs one upstream query, not thousands.
 */
import type { HandleValue } from '../model/handle-value.js';

export type CachedAnswer = { readonly kind: 'values'; readonly values: readonly HandleValue[] } | { readonly kind: 'error'; readonly responseCode: number; readonly message: string };

interface Entry<T> {
  readonly answer: T;
  readonly expiresAtMs: number;
}

/** When a record's values stop being valid in a cache, in epoch milliseconds. */
export function expiryOf(values: readonly HandleValue[], receivedAtMs: number, maxTtlSeconds: number): number {
  let at = receivedAtMs + maxTtlSeconds * 1000;
  for (const v of values) {
    const e = v.ttlType === 'absolute' ? v.ttl * 1000 : receivedAtMs + v.ttl * 1000;
    if (e < at) at = e;
  }
  return at;
}

export class ResolutionCache<T = CachedAnswer> {
  // A Map iterates in insertion order; re-inserting on a hit makes the first key the least recently used.
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): T | undefined {
    return this.entry(key)?.answer;
  }

  /** The answer with its expiry, so that what is derived from it can expire no later. */
  entry(key: string): Entry<T> | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAtMs <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  set(key: string, answer: T, expiresAtMs: number): void {
    if (expiresAtMs <= this.now() || this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { answer, expiresAtMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
