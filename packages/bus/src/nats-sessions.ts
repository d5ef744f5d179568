/**
 * Sessions shared by several front doors over NATS (issue 11, point 4; ADR 0008): the cross-process part of
 * persistent MQTT sessions, which device-access's front door uses through its `SharedSessions` interface.
 *
 * - One record per session in the JetStream key-value bucket `<PREFIX>_MQTT_SESSIONS` (file storage, one
 *   revision kept): `{ owner, state }`, where `owner` is the store (one per front-door process) that holds the
 *   session and `state` what it last saved of it (subscriptions, queued and in-flight messages).
 * - `take(id)` moves a session here: it reads the record; if another owner holds it, it asks that owner over
 *   NATS request/reply to let it go (the owner ends its connection — MQTT 5 "session taken over" — and answers
 *   with the session as it is at that moment). An owner that does not answer (killed, or gone) is replaced and
 *   its last saved state is used. The record is then rewritten with this owner by compare-and-set on its
 *   revision, so two front doors taking one session at once cannot both win (the loser reads again).
 * - `save(id, state)` rewrites the record only while this store still owns it (compare-and-set again); after
 *   another front door took it, it answers `false` and writes nothing.
 * - Records expire with the bucket's `ttlMs` (default 8 days, above the front door's longest session expiry)
 *   when nobody rewrites them; the front door also drops the records of sessions that ended.
 */
import { randomBytes } from 'node:crypto';
import { IipError } from '@iip/core';
import { type KV, type NatsConnection, StorageType, type Subscription as NatsSubscription } from 'nats';
import { checkPrefix, openNatsConnection, unavailable } from './nats-connect.js';

export interface NatsSessionStoreOptions {
  /** `nats://host:port` (several, comma-separated). */
  readonly url: string;
  /** Connection name shown by the server's monitoring (default `iip-sessions`). */
  readonly name?: string;
  /** Subject and bucket prefix, as the bus's (default `iip`). Letters, digits, `_` and `-` only. */
  readonly prefix?: string;
  /** How long to wait for the owner of a session to let it go before using its last saved state (default 2,000 ms). */
  readonly releaseTimeoutMs?: number;
  /** Records not rewritten for this long are removed by the server (default 8 days). */
  readonly ttlMs?: number;
  /** Largest record in bytes (default 900 KiB, under NATS's default 1 MiB payload); a larger save is refused. */
  readonly maxRecordBytes?: number;
  /** Time to connect at start (default 5,000 ms). */
  readonly connectTimeoutMs?: number;
}

/** What a store does for its front door; `S` is the front door's session state (JSON). */
export interface NatsSessionStore<S> {
  /** This store's owner id (unique per process and start). */
  readonly owner: string;
  /** Takes the session `id` from whichever front door holds it; resolves with its state, if there is one. */
  take(id: string): Promise<S | undefined>;
  /** Saves the state of a session this store owns; `false` when another front door has taken it meanwhile. */
  save(id: string, state: S): Promise<boolean>;
  /** The session ended: removes its record if this store still owns it. */
  drop(id: string): Promise<void>;
  /** Reads a session's record without taking it: who holds it and what it last saved (diagnostics, tests). */
  peek(id: string): Promise<{ readonly owner: string; readonly state?: S } | undefined>;
  /** Called when another front door takes a session this store owns; returns the session's state (or undefined). */
  onRelease(handler: (id: string) => S | undefined | Promise<S | undefined>): void;
  /** Sessions taken over from an owner that did not answer (its last saved state was used). */
  readonly stats: { readonly taken: number; readonly takenFromSilentOwner: number; readonly released: number; readonly saveConflicts: number };
  close(): Promise<void>;
}

interface SessionRecord<S> {
  readonly owner: string;
  readonly state?: S;
}


/** Connects to NATS and opens (or creates) the session bucket. */
export async function connectNatsSessionStore<S>(opts: NatsSessionStoreOptions): Promise<NatsSessionStore<S>> {
  const prefix = opts.prefix ?? 'iip';
  checkPrefix(prefix, 'session store');
  const nc = await openNatsConnection({
    url: opts.url,
    name: opts.name ?? 'iip-sessions',
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  });
  try {
    const kv = await nc.jetstream().views.kv(`${prefix.toUpperCase()}_MQTT_SESSIONS`, {
      history: 1,
      storage: StorageType.File,
      ttl: opts.ttlMs ?? 8 * 24 * 3600_000,
      maxValueSize: opts.maxRecordBytes ?? 900 * 1024,
    });
    return new Store<S>(nc, kv, prefix, opts);
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw unavailable(`cannot open the session bucket at ${opts.url} (is nats-server started with -js?)`, e);
  }
}

/** A session id (any string) as a key-value key: base64url uses only characters keys allow. */
function keyOf(id: string): string {
  return id.length === 0 ? '_' : Buffer.from(id, 'utf8').toString('base64url');
}

class Store<S> implements NatsSessionStore<S> {
  readonly owner = `fd-${randomBytes(8).toString('hex')}`;
  /** Revision of the record this store last wrote, per session it owns. */
  private readonly revisions = new Map<string, number>();
  private handler: (id: string) => S | undefined | Promise<S | undefined> = () => undefined;
  private readonly releaseSub: NatsSubscription;
  private readonly counters = { taken: 0, takenFromSilentOwner: 0, released: 0, saveConflicts: 0 };
  private readonly maxRecordBytes: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly prefix: string,
    private readonly opts: NatsSessionStoreOptions,
  ) {
    this.maxRecordBytes = opts.maxRecordBytes ?? 900 * 1024;
    this.releaseSub = nc.subscribe(this.releaseSubject(this.owner), { callback: (err, m) => (err ? undefined : void this.onReleaseRequest(m.data, (d) => m.respond(d))) });
  }

  get stats() {
    return { ...this.counters };
  }

  private releaseSubject(owner: string): string {
    return `${this.prefix}.mqtt-sessions.release.${owner}`;
  }

  onRelease(handler: (id: string) => S | undefined | Promise<S | undefined>): void {
    this.handler = handler;
  }

  private async onReleaseRequest(data: Uint8Array, respond: (d: Uint8Array) => boolean): Promise<void> {
    let id: string;
    try {
      id = (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id;
    } catch {
      return;
    }
    // From now on this store must not write the record: the asking front door owns it.
    this.revisions.delete(keyOf(id));
    let state: S | undefined;
    try {
      state = await this.handler(id);
    } catch {
      state = undefined;
    }
    this.counters.released++;
    respond(Buffer.from(JSON.stringify(state === undefined ? { held: false } : { held: true, state })));
  }

  /** Asks `owner` to let the session go; undefined when it does not answer (it is gone). */
  private async ask(owner: string, id: string): Promise<{ held: boolean; state?: S } | undefined> {
    try {
      const m = await this.nc.request(this.releaseSubject(owner), Buffer.from(JSON.stringify({ id, by: this.owner })), { timeout: this.opts.releaseTimeoutMs ?? 2_000 });
      return JSON.parse(Buffer.from(m.data).toString('utf8')) as { held: boolean; state?: S };
    } catch {
      return undefined; // no responders (the owner's connection is gone) or no answer in time
    }
  }

  private encode(rec: SessionRecord<S>, id: string): Uint8Array {
    const bytes = Buffer.from(JSON.stringify(rec));
    if (bytes.length > this.maxRecordBytes) {
      throw new IipError('IIP_ERR_VALIDATION', `the state of session "${id}" is ${bytes.length} bytes; the session store keeps at most ${this.maxRecordBytes}`, {
        session: id,
        bytes: bytes.length,
        limit: this.maxRecordBytes,
      });
    }
    return bytes;
  }

  async peek(id: string): Promise<SessionRecord<S> | undefined> {
    const entry = await this.kv.get(keyOf(id));
    return entry && entry.operation === 'PUT' ? entry.json<SessionRecord<S>>() : undefined;
  }

  async take(id: string): Promise<S | undefined> {
    const key = keyOf(id);
    for (let attempt = 0; attempt < 5; attempt++) {
      let entry: Awaited<ReturnType<KV['get']>>;
      try {
        entry = await this.kv.get(key);
      } catch (e) {
        throw unavailable(`cannot read session "${id}" from the session store`, e);
      }
      const current = entry && entry.operation === 'PUT' ? (entry.json<SessionRecord<S>>() as SessionRecord<S>) : undefined;
      let state = current?.state;
      if (current && current.owner !== this.owner) {
        const answer = await this.ask(current.owner, id);
        if (answer === undefined) this.counters.takenFromSilentOwner++;
        else if (answer.held) state = answer.state;
      }
      try {
        const data = this.encode({ owner: this.owner, ...(state !== undefined && { state }) }, id);
        const rev = entry ? await this.kv.update(key, data, entry.revision) : await this.kv.create(key, data);
        this.revisions.set(key, rev);
        this.counters.taken++;
        return state;
      } catch (e) {
        if (e instanceof IipError) throw e;
        // Another front door wrote the record meanwhile (wrong last sequence): read it again.
        if (attempt === 4) throw unavailable(`session "${id}" changed hands five times while being taken`, e);
      }
    }
    return undefined;
  }

  async save(id: string, state: S): Promise<boolean> {
    const key = keyOf(id);
    const rev = this.revisions.get(key);
    if (rev === undefined) return false;
    const data = this.encode({ owner: this.owner, state }, id);
    try {
      const next = await this.kv.update(key, data, rev);
      if (this.revisions.get(key) === rev) this.revisions.set(key, next);
      return true;
    } catch (e) {
      if (!this.nc.isClosed() && /wrong last sequence/i.test(String((e as Error).message))) {
        this.counters.saveConflicts++;
        this.revisions.delete(key);
        return false;
      }
      throw unavailable(`cannot save session "${id}" in the session store`, e);
    }
  }

  async drop(id: string): Promise<void> {
    const key = keyOf(id);
    const rev = this.revisions.get(key);
    if (rev === undefined) return;
    this.revisions.delete(key);
    try {
      await this.kv.delete(key, { previousSeq: rev });
    } catch {
      // Another front door owns it now (or NATS is away: the record expires with the bucket's ttl).
    }
  }

  async close(): Promise<void> {
    this.releaseSub.unsubscribe();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}
