/**
 * Pre-rendered answers to the commonest question an identifier node is asked: "all public values of this
 * handle", asked anonymously. A front end (the UDP/TCP listener, the REST API) registers a renderer that
 * turns a handle's public values into the bytes or text it would send, and gets back a cache of those
 * renderings keyed by normalized handle. A hit costs one Map lookup instead of a store read, a decode, a
 * permission filter and an encode — the way authoritative DNS servers answer from precompiled zones.
 *
 * Freshness: the owner (LocalHandleService) reads the store's transaction log after every change it learns
 * of (its own writes; the store's committed change number, compared on every lookup when the store offers
 * it; refresh()) and drops exactly the handles that changed (everything after a home/unhome or a gap too
 * long to read); until it has, lookups take the slow path. Entries are only made for handles the node is
 * responsible for, from committed data. Capacity is a number of entries per cache; when full, the oldest
 * entry makes room. A hit is answered synchronously; a miss returns a promise (it reads the store).
 */
import type { HandleValue } from '../model/handle-value.js';
import { OldestFirst } from './oldest-first.js';

/**
 * Turns the public values of a handle (in stored order, HS_SECKEY never included) into what is sent.
 * `restricted`: the handle also has values an administrator could read (a front end that challenges for
 * them, like the binary protocol without PUBLIC_ONLY, must not answer from the rendering alone).
 */
export type AnswerRenderer = (values: readonly HandleValue[], restricted: boolean) => string;

export interface PublicAnswerStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
  readonly capacity: number;
  /** Entries dropped because their handle changed (or all of them, after a home/unhome or a long gap). */
  readonly invalidated: number;
}

/** What a front end holds: lookups by handle name, and a way to stop being kept up to date. */
export interface PublicAnswers {
  /**
   * The rendering of `handle`'s public values — at once (a string) when it is kept, else a promise of it
   * after reading the store — or undefined when the cache cannot answer (the handle does not exist, is not
   * this node's…): the caller then takes its ordinary path, which produces the proper error.
   */
  get(handle: string): string | undefined | Promise<string | undefined>;
  stats(): PublicAnswerStats;
  /** Unregisters the cache from its service and frees its entries. */
  dispose(): void;
}

/** Offered by services that can keep such caches (LocalHandleService); front ends probe for it. */
export interface PublicAnswerSource {
  publicAnswers(render: AnswerRenderer): PublicAnswers;
}

export function isPublicAnswerSource(service: unknown): service is PublicAnswerSource {
  return typeof (service as Partial<PublicAnswerSource> | null)?.publicAnswers === 'function';
}

/** One front end's renderings; the owning service fills and invalidates it. */
export class AnswerCache {
  private readonly map = new Map<string, string>();
  private readonly oldest = new OldestFirst(this.map);
  hits = 0;
  misses = 0;
  invalidated = 0;

  constructor(
    readonly render: AnswerRenderer,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  stats(): PublicAnswerStats {
    return { hits: this.hits, misses: this.misses, size: this.map.size, capacity: this.capacity, invalidated: this.invalidated };
  }

  peek(key: string): string | undefined {
    return this.map.get(key);
  }

  /** Adds or replaces; when `evict` is false and the cache is full, a new key is not added. */
  set(key: string, rendered: string, evict: boolean): boolean {
    if (this.capacity <= 0) return false;
    if (this.map.size >= this.capacity && !this.map.has(key)) {
      if (!evict) return false;
      this.oldest.evict();
    }
    this.map.set(key, rendered);
    return true;
  }

  delete(key: string): void {
    if (this.map.delete(key)) this.invalidated++;
  }

  clear(): void {
    this.invalidated += this.map.size;
    this.map.clear();
    this.oldest.reset();
  }
}
