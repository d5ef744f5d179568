/**
 * A lease held by one process of several over NATS (issue 13: one rule evaluator among several workers): the record
 * `{owner, until}` under a key of the JetStream key-value bucket `<PREFIX>_LEASES`. Every `ttlMs / 3` each process
 * either renews the lease it holds or, when the holder has let it run out (it died, or lost NATS), takes it — both by
 * compare-and-set on the record's revision, so two processes can never both win one renewal round. A holder that
 * cannot renew in time gives the lease up on its own side before another can take it (it stops at `until`, the
 * other starts after it), so the two never act at once, clocks of one machine or a few milliseconds apart allowing.
 */
import { randomBytes } from 'node:crypto';
import { type KV, type NatsConnection, StorageType } from 'nats';
import { openNatsConnection, unavailable } from './nats-connect.js';

export interface NatsLeaseOptions {
  readonly url: string;
  /** What the lease is for (a key: letters, digits, `-`, `_`). */
  readonly key: string;
  /** Bucket prefix, as the bus's (default `iip`). */
  readonly prefix?: string;
  /** How long a lease lasts without renewal (default 10 s). */
  readonly ttlMs?: number;
  readonly name?: string;
  readonly log?: (line: string) => void;
}

export interface NatsLease {
  /** This process's id in the lease record. */
  readonly owner: string;
  /** Whether this process holds the lease now. */
  readonly held: boolean;
  /** Told whenever this process gains or loses the lease. */
  onChange(cb: (held: boolean) => void): void;
  /** Gives the lease up (so another process takes it at once) and closes the connection. */
  close(): Promise<void>;
}

interface Record_ {
  readonly owner: string;
  readonly until: number;
}

export async function connectNatsLease(opts: NatsLeaseOptions): Promise<NatsLease> {
  const prefix = opts.prefix ?? 'iip';
  const nc = await openNatsConnection({ url: opts.url, name: opts.name ?? `iip-lease-${opts.key}` });
  try {
    const kv = await nc.jetstream().views.kv(`${prefix.toUpperCase()}_LEASES`, { history: 1, storage: StorageType.File });
    const lease = new Lease(nc, kv, opts);
    await lease.round();
    lease.start();
    return lease;
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw unavailable(`cannot open the lease bucket at ${opts.url} (is nats-server started with -js?)`, e);
  }
}

class Lease implements NatsLease {
  readonly owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private heldUntil = 0;
  private wasHeld = false;
  private timer: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(held: boolean) => void> = [];
  private readonly ttlMs: number;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly opts: NatsLeaseOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? 10_000;
  }

  get held(): boolean {
    return this.heldUntil > Date.now();
  }

  onChange(cb: (held: boolean) => void): void {
    this.listeners.push(cb);
  }

  start(): void {
    this.timer = setInterval(() => void this.round(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** One renewal round: renew, take, or leave it to its holder. */
  async round(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    const until = now + this.ttlMs;
    const data = new TextEncoder().encode(JSON.stringify({ owner: this.owner, until } satisfies Record_));
    try {
      const entry = await this.kv.get(this.opts.key);
      const current = entry && entry.value.length > 0 ? (JSON.parse(new TextDecoder().decode(entry.value)) as Record_) : undefined;
      if (entry?.operation !== 'PUT' || !current) {
        await (entry ? this.kv.update(this.opts.key, data, entry.revision) : this.kv.create(this.opts.key, data));
        this.gained(until);
      } else if (current.owner === this.owner || current.until < now) {
        await this.kv.update(this.opts.key, data, entry.revision);
        this.gained(until);
      }
    } catch (e) {
      // Another process won this round (a revision conflict), or NATS is away: the lease runs out on its own.
      if (this.opts.log && !/wrong last sequence|key exists/i.test(String(e))) this.opts.log(`lease ${this.opts.key}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.tell();
  }

  private gained(until: number): void {
    this.heldUntil = until;
    // Lost at `until` unless renewed before: checked then, not only at the next round.
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.tell(), Math.max(0, until - Date.now()) + 1);
    this.expiry.unref();
  }

  private tell(): void {
    const held = this.held;
    if (held === this.wasHeld) return;
    this.wasHeld = held;
    for (const cb of this.listeners) {
      try {
        cb(held);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.expiry) clearTimeout(this.expiry);
    if (this.held) {
      // Given up at once: another process need not wait for it to run out.
      const entry = await this.kv.get(this.opts.key).catch(() => null);
      if (entry) await this.kv.update(this.opts.key, new TextEncoder().encode(JSON.stringify({ owner: '', until: 0 } satisfies Record_)), entry.revision).catch(() => undefined);
    }
    this.heldUntil = 0;
    this.tell();
    await this.nc.close().catch(() => undefined);
  }
}
