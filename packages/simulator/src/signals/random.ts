/**
 * Seeded randomness for the signal generators. Simulations must be reproducible (a failing seed in a test
 * reproduces the same factory hour), so nothing here touches Math.random.
 */
import { Mulberry32 } from '@iip/core';

/** mulberry32 (from core) with the draws the signal models use. */
export class Rng extends Mulberry32 {
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Normal deviate (Box–Muller). */
  gauss(sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

/** Derives an independent seed per device, so adding a device does not change the others' signals. */
export function seedFor(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche so nearby keys ("cnc-01", "cnc-02") give unrelated streams
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}
