/**
 * Admin requests waiting for the client's answer to our challenge, keyed by the session id we put in the
 * challenge's envelope. Bounded in count and age so unanswered challenges cannot grow without limit.
 */
import { randomBytes } from 'node:crypto';
import type { HandleMessage } from '../protocol/message-types.js';

export interface PendingChallenge {
  readonly request: HandleMessage;
  readonly nonce: Uint8Array;
  readonly digest: Uint8Array;
  readonly createdAt: number;
}

export class PendingChallenges {
  private readonly byId = new Map<number, PendingChallenge>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 60_000,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Whether `id` names an open challenge (session ids must not reuse it). */
  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Opens a challenge; its id is fresh, non-zero, and not one `taken` says is in use elsewhere (a session id). */
  add(p: PendingChallenge, taken: (id: number) => boolean = () => false): number {
    this.expire(p.createdAt);
    // Oldest first: Map keeps insertion order, so the first key is the oldest challenge.
    while (this.byId.size >= this.maxEntries) {
      const first = this.byId.keys().next();
      if (first.done) break;
      this.byId.delete(first.value);
    }
    let id = 0;
    while (id === 0 || this.byId.has(id) || taken(id)) id = randomBytes(4).readUInt32BE(0);
    this.byId.set(id, p);
    return id;
  }

  /** Removes and returns the challenge (one answer per challenge). */
  take(id: number, now: number): PendingChallenge | undefined {
    const p = this.byId.get(id);
    if (!p) return undefined;
    this.byId.delete(id);
    return now - p.createdAt > this.ttlMs ? undefined : p;
  }

  private expire(now: number): void {
    for (const [id, p] of this.byId) {
      if (now - p.createdAt <= this.ttlMs) break;
      this.byId.delete(id);
    }
  }
}
