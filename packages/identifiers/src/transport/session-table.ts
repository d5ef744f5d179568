/**
 * Server-side Handle.Net sessions: the key agreed at setup, who the client said it is and whether it has
 * proved it, and the session counters that keep a captured message from being replayed. Bounded in count
 * (the least recently used session goes first) and in idle time.
 *
 * Following the reference server (ServerSideSessionInfo, SessionInfo, HandleServer): session ids are
 * positive 31-bit numbers (Java reads them as signed ints and treats ≤ 0 as "no session"); the idle timeout
 * is what the client asks for (default 24 h), capped by the server; a session is authenticated only after
 * a challenge answered inside it by the identity named at setup; replies carry the server's own counter,
 * starting at 1; a client counter is refused when seen before or when it is older than the 200 most recent
 * ones kept (SessionInfo.addSessionCounter); counter 0 means "none" and is never checked.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../model/handle-value.js';
import type { HandleMessage } from '../protocol/message-types.js';

/** Handle.Net Common.DEFAULT_SESSION_TIMEOUT: 24 hours. */
export const DEFAULT_SESSION_TIMEOUT_SECONDS = 24 * 60 * 60;
const SEEN_COUNTERS = 200;

/** A challenge sent inside a session: answered with the session's id, it authenticates the session. */
export interface SessionChallenge {
  readonly request: HandleMessage;
  readonly nonce: Uint8Array;
  readonly digest: Uint8Array;
  readonly createdAt: number;
}

export interface ServerSession {
  readonly id: number;
  readonly keyExchangeMode: number;
  readonly alg: number;
  readonly key: Uint8Array;
  /** The identity named at setup; undefined for an anonymous session. */
  readonly claimed: Identity | undefined;
  /** True once a challenge answered in this session proved `claimed`. */
  authenticated: boolean;
  readonly timeoutMs: number;
  lastUsed: number;
  /** The last counter put on a reply (the next reply gets one more). */
  replyCounter: number;
  challenge: SessionChallenge | undefined;
  /** Client counters seen, oldest first, and the highest one forgotten. */
  readonly seen: Set<number>;
  forgottenUpTo: number;
}

export interface SessionTableOptions {
  /** Default 10,000. */
  readonly maxSessions?: number;
  /** Longest idle timeout a client may ask for; default 24 h. */
  readonly maxTimeoutSeconds?: number;
  readonly now?: () => number;
}

export interface NewSession {
  readonly keyExchangeMode: number;
  readonly alg: number;
  readonly key: Uint8Array;
  readonly claimed: Identity | undefined;
  /** Seconds the client asked for; 0 = the default. */
  readonly timeoutSeconds: number;
}

export class SessionTable {
  private readonly byId = new Map<number, ServerSession>();
  private readonly maxSessions: number;
  private readonly maxTimeoutSeconds: number;
  private readonly now: () => number;

  constructor(opts: SessionTableOptions = {}) {
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.maxTimeoutSeconds = opts.maxTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * A new session with a fresh id; `reserved(id)` says which ids are taken elsewhere (the challenge ids
   * that share the envelope's session id field).
   */
  create(s: NewSession, reserved: (id: number) => boolean = () => false): ServerSession {
    const now = this.now();
    this.expire(now);
    while (this.byId.size >= this.maxSessions) {
      const oldest = this.byId.keys().next();
      if (oldest.done) break;
      this.byId.delete(oldest.value);
    }
    let id = 0;
    while (id === 0 || this.byId.has(id) || reserved(id)) id = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
    const asked = s.timeoutSeconds > 0 ? s.timeoutSeconds : DEFAULT_SESSION_TIMEOUT_SECONDS;
    const session: ServerSession = {
      id,
      keyExchangeMode: s.keyExchangeMode,
      alg: s.alg,
      key: s.key,
      claimed: s.claimed,
      authenticated: false,
      timeoutMs: Math.min(asked, this.maxTimeoutSeconds) * 1000,
      lastUsed: now,
      replyCounter: 0,
      challenge: undefined,
      seen: new Set(),
      forgottenUpTo: 0,
    };
    this.byId.set(id, session);
    return session;
  }

  has(id: number): boolean {
    return this.get(id, false) !== undefined;
  }

  /** The live session with this id (touched: its idle time starts again), or undefined when unknown or expired. */
  get(id: number, touch = true): ServerSession | undefined {
    if (id === 0) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const now = this.now();
    if (now - s.lastUsed > s.timeoutMs) {
      this.byId.delete(id);
      return undefined;
    }
    if (touch) {
      s.lastUsed = now;
      // Map order is use order: re-inserting makes this the most recently used.
      this.byId.delete(id);
      this.byId.set(id, s);
    }
    return s;
  }

  remove(id: number): boolean {
    return this.byId.delete(id);
  }

  /** The counter for the next reply in this session. */
  nextReplyCounter(s: ServerSession): number {
    s.replyCounter = (s.replyCounter + 1) >>> 0 || 1;
    return s.replyCounter;
  }

  /**
   * Records a client counter. With `unique`, a counter seen before, or older than every one remembered,
   * is refused (false). 0 is "no counter" and always accepted.
   */
  acceptCounter(s: ServerSession, counter: number, unique = true): boolean {
    if (counter === 0) return true;
    if (unique && (counter <= s.forgottenUpTo || s.seen.has(counter))) return false;
    s.seen.add(counter);
    if (s.seen.size > SEEN_COUNTERS) {
      const oldest = s.seen.values().next();
      if (!oldest.done) {
        s.seen.delete(oldest.value);
        s.forgottenUpTo = Math.max(s.forgottenUpTo, oldest.value);
      }
    }
    return true;
  }

  private expire(now: number): void {
    for (const [id, s] of this.byId) if (now - s.lastUsed > s.timeoutMs) this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }
}
