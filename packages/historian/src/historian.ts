/**
 * The historian: the telemetry write path and its queries, over the asynchronous TelemetryStore port.
 *
 * ingest() checks a validated batch at once (an unstorable value or a kind change rejects it, and nothing of
 * it is stored), queues its rows and returns a promise that resolves when those rows are COMMITTED — so a
 * transport acknowledges a message (MQTT PUBACK, HTTP 2xx) only once it is durable (ADR 0001 §6). The queue
 * is written by the historian's own scheduled flush, which is the group commit: every `flushIntervalMs`, or
 * as soon as `maxBatchPoints` are waiting, one transaction takes everything queued (up to maxBatchPoints per
 * transaction), and the promises of all the batches in it settle together.
 *
 * Failure: when a transaction fails, the batches in it are NOT retried by the historian — their promises
 * reject with IIP_ERR_HISTORIAN_WRITE_FAILED (so their senders get no acknowledgement and send again; a
 * re-delivery is recognised by (series, ts) and stored once), the rows are dropped from the queue, counted
 * in `stats().notCommitted` and reported to `onError`. Nothing that was acknowledged depends on them, and a
 * store that keeps failing does not pile up memory. A batch larger than maxBatchPoints spans several
 * transactions; if a later one fails it is rejected although its first rows may be stored (its
 * re-delivery stores the rest). A batch with points not newer than its series' newest (re-delivery,
 * backfill) first waits for the commit of everything queued, so that the store alone says what is a duplicate.
 *
 * Hot path: series ids (and each series' newest timestamp) are cached, so once a device's series are known
 * an ingest awaits no storage call before its rows are queued. Back-pressure: while the queue holds
 * maxQueuedPoints, ingest() waits for a flush before queueing more, so memory stays bounded.
 */
import { IipError } from '@iip/core';
import type { DeviceId, PointValue, TelemetryBatch, TelemetryPoint, TelemetryWriteResult, TenantId } from '@iip/core';
import type { RawRow, SeriesKind, TelemetryStore } from '@iip/storage';
import { computeTrend } from './trend.js';
import type { TrendBucket } from './trend.js';
import { decode, encode, kindOf } from './value-codec.js';

export interface HistorianOptions {
  /**
   * Longest a point waits in the queue before its transaction (default 5 ms). This is the acknowledgement
   * latency a sender sees under light load; under heavy load batches fill first and are written at once.
   */
  readonly flushIntervalMs?: number;
  /** Points per write transaction; a full batch is written on the next turn of the event loop (default 20,000). */
  readonly maxBatchPoints?: number;
  /** Above this many queued points ingest() waits for a flush before queueing more (default 10 batches). */
  readonly maxQueuedPoints?: number;
  /**
   * Write transactions handed to the store at once (default: the store's TelemetryStore.writesInFlight, else 1).
   * With 2, the next batch is already with the store while the previous one commits, so a store that works beside
   * the event loop (the SQLite writer thread) is not idle while the event loop is busy; the store must commit them
   * in the order given (issue 20).
   */
  readonly maxWritesInFlight?: number;
  /** Receives every failed transaction (its batches are rejected to their senders, see above). */
  readonly onError?: (e: unknown) => void;
}

export interface HistorianStats {
  /** Points stored since start (duplicates excluded). */
  readonly written: number;
  /** Points not stored because their (series, ts) was already stored or queued (reported by ingest()). */
  readonly duplicates: number;
  /** Points waiting to be committed (queued or in a transaction now). */
  readonly queued: number;
  /** Write transactions run (committed). */
  readonly flushes: number;
  /** Write transactions that failed; their batches were rejected to their senders. */
  readonly failedFlushes: number;
  /** Points of failed transactions: not stored, and not acknowledged (their senders were told). */
  readonly notCommitted: number;
  /** Duration of the last flush (all transactions of it), in ms. */
  readonly lastFlushMs: number;
}

export interface TimedValue {
  readonly ts: number;
  readonly value: PointValue;
}

export interface HistoryQuery {
  /** Epoch ms, inclusive. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
  /** At most this many points, oldest first (default 10,000). */
  readonly limit?: number;
}

/** A page of history: the points, and whether the range holds more (then `nextFrom` starts the next page). */
export interface HistoryPage {
  readonly points: TimedValue[];
  readonly truncated: boolean;
  readonly nextFrom?: number;
}

export interface TrendQuery {
  readonly from: number;
  readonly to: number;
  /** Number of equal buckets over [from, to) (1 to 100,000). */
  readonly buckets: number;
}

const MAX_BUCKETS = 100_000;
/** keepNew reads a series' stored points over the range of a batch's older points up to this many at once. */
const KEEP_NEW_RANGE_LIMIT = 5_000;

function invalid(message: string, details: Record<string, unknown>): never {
  throw new IipError('IIP_ERR_VALIDATION', message, details);
}

function checkRange(from: number, to: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    invalid(`time range [${from}, ${to}) is empty or not finite; "to" must be after "from"`, { from, to });
  }
}

interface SeriesEntry {
  readonly id: number;
  readonly kind: SeriesKind;
  /**
   * Newest ts stored or queued of the series, NaN until loaded from the store. A point later than it is new for
   * certain (the hot path: live data arrives in time order); only an older one is looked up. Kept on the entry the
   * hot path already holds (a map of every series' newest cost a lookup and an update per point), and a number
   * always: a field that held undefined first keeps every later number in a new heap object, promoted with it.
   */
  newest: number;
  /** The last batch the hot path checked this series for (ingestNow: a series twice in one batch goes the general way). */
  checked: number;
}

/** A batch waiting for its transaction(s): settles once every chunk holding its rows is committed, or one fails. */
class Waiter {
  pending = 0;
  settled = false;
  constructor(
    private readonly done: () => void,
    private readonly fail: (e: unknown) => void,
  ) {}
  committed(): void {
    if (this.settled || --this.pending > 0) return;
    this.settled = true;
    this.done();
  }
  failed(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.fail(e);
  }
}

interface GateSlot {
  n: number;
  waiters: Array<() => void>;
}

/**
 * Batches being admitted (handed to ingest() and not yet queued), counted, so that reads, flush() and close() can
 * wait for those handed over before them. A count, not a set of promises: a set that grows and shrinks with every
 * batch reallocates its table again and again, and under ten thousand devices those tables and promises outlived
 * young-generation collections and piled up in the old generation (issue 20). A wait closes the current count and
 * starts a new one, so batches that come after it are not waited for.
 */
class AdmissionGate {
  private current: GateSlot = { n: 0, waiters: [] };
  /** Counts closed by a wait and not yet down to zero. */
  private older: GateSlot[] = [];

  enter(): GateSlot {
    this.current.n++;
    return this.current;
  }

  leave(slot: GateSlot): void {
    if (--slot.n === 0 && slot.waiters.length > 0) {
      const waiters = slot.waiters;
      slot.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once every batch that entered before this call has left (undefined: none is in). */
  drained(): Promise<void> | undefined {
    this.older = this.older.filter((s) => s.n > 0);
    if (this.current.n > 0) {
      this.older.push(this.current);
      this.current = { n: 0, waiters: [] };
    }
    if (this.older.length === 0) return undefined;
    return Promise.all(this.older.map((s) => new Promise<void>((r) => s.waiters.push(r)))).then(() => undefined);
  }
}

/** Rows written in one transaction, and the batches waiting for it. */
interface Chunk {
  readonly rows: RawRow[];
  readonly waiters: Waiter[];
  /** Settles (never rejects) once the store has answered for it; set when it is handed to the store. */
  done?: Promise<void>;
}

/**
 * Points queued in one turn of the event loop past which they go to a store whose writes are all done (writesBusy),
 * without waiting for the turn to end: a turn that reads thousands of connections would otherwise leave the writer
 * thread idle until it ends (issue 20). Below it, the group commit's timer gathers them as before.
 */
const HAND_OVER_WHEN_IDLE = 2_000;
/** prepare(): devices asked for within this many ms are loaded in one pass. */
const PREPARE_GATHER_MS = 20;
/** prepare(): listSeries calls in flight at once. */
const PREPARE_PARALLEL = 16;
/** prepare(): series ids per latest() call. */
const PREPARE_LATEST_CHUNK = 2_000;

/** Separator that cannot occur in ids (they are restricted to [A-Za-z0-9_.-]). */
const SEP = '\u0000';

export class Historian {
  private readonly flushIntervalMs: number;
  private readonly maxBatchPoints: number;
  private readonly maxQueuedPoints: number;
  private readonly onError: (e: unknown) => void;
  /** Chunks not yet taken by a flush; only the last one grows. */
  private chunks: Chunk[] = [];
  /** Chunks handed to the store and not answered yet, oldest first (at most maxWritesInFlight). */
  private readonly inFlight: Chunk[] = [];
  private readonly maxWritesInFlight: number;
  /** Rows queued or being written. */
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** The running flush; one at a time. */
  private running: Promise<void> | undefined;
  /** Ingests that found the queue full, woken after each flush. */
  private roomWaiters: Array<() => void> = [];
  /** Per device (tenant SEP device): the last batch whose series are being resolved (see resolveInTurn). */
  private readonly resolving = new Map<string, Promise<void>>();
  /** Batches with points older than their series' newest are checked one at a time (see keepNew). */
  private slowPath: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** close() was called: new batches are refused; those handed over before are still admitted and stored. */
  private closing = false;
  /** Batches handed to ingest() and not yet queued (or refused). */
  private readonly admitting = new AdmissionGate();
  private written = 0;
  private duplicates = 0;
  private flushes = 0;
  private failedFlushes = 0;
  private notCommitted = 0;
  private lastFlushMs = 0;
  /** Batches ingestNow() has checked (a token per batch). */
  private checks = 0;
  /** tenant SEP device → property → series (and its newest ts): the hot path resolves series here without the store. */
  private readonly series = new Map<string, Map<string, SeriesEntry>>();
  /** Devices whose series prepare() is to load (tenant SEP device), gathered for one pass. */
  private toPrepare = new Set<string>();
  private prepareTimer: NodeJS.Timeout | undefined;
  /** The running prepare pass; one at a time. */
  private preparing: Promise<void> | undefined;
  /** Bumped by deleteDevice when it ends; with `deleting`, a prepare pass that overlapped a delete caches nothing. */
  private deletions = 0;
  /** deleteDevice calls running now. */
  private deleting = 0;

  constructor(
    private readonly store: TelemetryStore,
    opts: HistorianOptions = {},
  ) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 5;
    this.maxBatchPoints = Math.max(1, opts.maxBatchPoints ?? 20_000);
    this.maxQueuedPoints = Math.max(this.maxBatchPoints, opts.maxQueuedPoints ?? this.maxBatchPoints * 10);
    this.maxWritesInFlight = Math.max(1, Math.floor(opts.maxWritesInFlight ?? store.writesInFlight ?? 1));
    this.onError = opts.onError ?? ((e) => console.error('historian: a write transaction failed; its senders were not acknowledged:', e));
  }

  /**
   * Stores a validated batch and says what of it was stored: every point except those whose (property, ts)
   * is already stored or queued, or repeats an earlier point of the batch — a re-delivery, reported in
   * `duplicates` and not stored again. Resolves once the stored points are committed. Rejects, storing
   * nothing of the batch, on an unstorable value, a kind change or a store that fails while series are
   * resolved; rejects with IIP_ERR_HISTORIAN_WRITE_FAILED when the transaction holding the batch fails.
   */
  ingest(batch: TelemetryBatch): Promise<TelemetryWriteResult> {
    if (this.closing) {
      return Promise.reject(
        new IipError('IIP_ERR_HISTORIAN_CLOSED', 'the historian is closed; telemetry can no longer be stored', { tenant: batch.tenant, device: batch.device }),
      );
    }
    const now = this.ingestNow(batch);
    if (now) return now;
    // Until the batch is queued (its series may be resolved by the store, asynchronously), reads and close() wait
    // for it: a read sees every point ingested before it, and close() loses nothing that was handed over before it.
    const slot = this.admitting.enter();
    let left = false;
    // Passed inline: a function bound to a name would be renamed at run time on every call (tsx keeps names).
    return this.admit(batch, () => {
      if (left) return;
      left = true;
      this.admitting.leave(slot);
    });
  }

  /**
   * The hot path, taken when it can be: the device's series are cached, each point is later than its series'
   * newest (one point per series), and the queue has room — then the batch is queued here and now, with no
   * promise but the one its commit settles (no admission gate: nothing is awaited before the queue). Undefined
   * otherwise, having changed nothing: admit() handles every case, this one included.
   */
  private ingestNow(batch: TelemetryBatch): Promise<TelemetryWriteResult> | undefined {
    const points = batch.points;
    if (this.closed || this.roomWaiters.length > 0 || (this.queued > 0 && this.queued + points.length > this.maxQueuedPoints)) return undefined;
    const dk = batch.tenant + SEP + batch.device;
    if (this.resolving.has(dk)) return undefined;
    let entries: SeriesEntry[] | undefined;
    try {
      entries = this.resolveCached(batch, dk);
    } catch {
      // An unstorable value: admit() refuses the batch with its reason.
      return undefined;
    }
    if (!entries) return undefined;
    const token = ++this.checks;
    for (let i = 0; i < points.length; i++) {
      const e = entries[i] as SeriesEntry;
      if ((points[i] as TelemetryPoint).ts <= e.newest || e.checked === token) return undefined;
      e.checked = token;
    }
    const rows: RawRow[] = new Array(points.length);
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as TelemetryPoint;
      const e = entries[i] as SeriesEntry;
      e.newest = p.ts;
      rows[i] = encode(e.id, p.ts, p.value);
    }
    const result: TelemetryWriteResult = { stored: batch, duplicates: [] };
    return new Promise<TelemetryWriteResult>((resolve, reject) => {
      this.enqueue(
        rows,
        new Waiter(() => resolve(result), reject),
      );
    });
  }

  private async admit(batch: TelemetryBatch, admitted: () => void): Promise<TelemetryWriteResult> {
    try {
      return await this.admitNow(batch, admitted);
    } finally {
      admitted();
    }
  }

  private async admitNow(batch: TelemetryBatch, admitted: () => void): Promise<TelemetryWriteResult> {
    this.refuseIfClosed(batch);
    const points = batch.points;
    // Series resolved per (property, kind): a cache miss asks the store (which creates the series, or rejects a
    // kind change); a cached series with another kind is passed to the store too, which rejects it. All of it
    // happens before anything of the batch is queued.
    const dk = batch.tenant + SEP + batch.device;
    const resolved = this.resolving.has(dk) ? undefined : this.resolveCached(batch, dk);
    const entries = resolved ?? (await this.resolveInTurn(dk, batch));
    // Back-pressure: a full queue is written before more is taken (the wait is here, before the check
    // against the newest timestamps, so that nothing can slip between that check and the queue). First come,
    // first queued: while batches wait for room, a newcomer waits behind them even if it would fit now (a
    // flush frees room chunk by chunk), so that a device's batches stay in order.
    while (this.roomWaiters.length > 0 || (this.queued > 0 && this.queued + points.length > this.maxQueuedPoints)) await this.room();
    this.refuseIfClosed(batch);
    // From here to the queue nothing awaits, so the newest-ts check and the queueing are one step.
    const rows: RawRow[] = [];
    const older: Array<{ index: number; series: number }> = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as TelemetryPoint;
      const e = entries[i] as SeriesEntry;
      if (p.ts > e.newest || Number.isNaN(e.newest)) {
        e.newest = p.ts;
        rows.push(encode(e.id, p.ts, p.value));
      } else older.push({ index: i, series: e.id });
    }
    let stored = batch;
    let duplicates: TelemetryPoint[] = [];
    if (older.length > 0) {
      const dup = await this.serialised(() => this.keepNew(points, rows, older));
      if (dup.size > 0) {
        stored = { ...batch, points: points.filter((_, i) => !dup.has(i)) };
        duplicates = points.filter((_, i) => dup.has(i));
      }
    }
    // A batch with older points waited (keepNew) and may meet a closing historian now.
    this.refuseIfClosed(batch);
    this.duplicates += duplicates.length;
    const result: TelemetryWriteResult = { stored, duplicates };
    // Only duplicates: what they repeat was committed (keepNew commits the queue before it looks).
    if (rows.length === 0) return result;
    return new Promise<TelemetryWriteResult>((resolve, reject) => {
      this.enqueue(
        rows,
        new Waiter(() => resolve(result), reject),
      );
      admitted();
    });
  }

  private refuseIfClosed(batch: TelemetryBatch): void {
    if (this.closed) {
      throw new IipError('IIP_ERR_HISTORIAN_CLOSED', 'the historian is closed; telemetry can no longer be stored', {
        tenant: batch.tenant,
        device: batch.device,
      });
    }
  }

  /** The series of every point from the cache alone, or undefined when one must be asked of the store. */
  private resolveCached(batch: TelemetryBatch, dk: string): SeriesEntry[] | undefined {
    const props = this.series.get(dk);
    if (!props) {
      // Still check the values, so an unstorable one is refused before any store call.
      for (const p of batch.points) kindOf(p.value, p.property);
      return undefined;
    }
    const out: SeriesEntry[] = new Array(batch.points.length);
    let missing = false;
    for (let i = 0; i < batch.points.length; i++) {
      const p = batch.points[i] as TelemetryPoint;
      const kind = kindOf(p.value, p.property);
      const e = props.get(p.property);
      if (!e || e.kind !== kind || Number.isNaN(e.newest)) missing = true;
      else out[i] = e;
    }
    return missing ? undefined : out;
  }

  /**
   * Resolves a batch's series after every earlier batch of the same device that had to wait for the store:
   * concurrent first messages of a device share one lookup (the later ones find the cache filled), and they
   * come out in the order they came in — so a device's points reach the queue in time order and the hot
   * path's newest-timestamp check holds, instead of sending later batches down the slow path (keepNew).
   */
  private resolveInTurn(dk: string, batch: TelemetryBatch): Promise<SeriesEntry[]> {
    const before = this.resolving.get(dk);
    const run = (before ?? Promise.resolve()).then(() => this.resolveCached(batch, dk) ?? this.resolveSeries(batch, dk));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.resolving.set(dk, tail);
    void tail.then(() => {
      if (this.resolving.get(dk) === tail) this.resolving.delete(dk);
    });
    return run;
  }

  /**
   * The series of every point of a batch, asking the store for those not cached — all at once, and the
   * newest stored timestamps of the series not yet known in one latest() call (on PostgreSQL each is a round
   * trip; a new device with ten properties was twenty of them in a row).
   */
  private async resolveSeries(batch: TelemetryBatch, dk: string): Promise<SeriesEntry[]> {
    const keys = batch.points.map((p) => {
      const kind = kindOf(p.value, p.property);
      return { property: p.property, kind, k: p.property + SEP + kind };
    });
    const byKey = new Map<string, Promise<SeriesEntry>>();
    for (const { property, kind, k } of keys) {
      if (byKey.has(k)) continue;
      const cached = this.series.get(dk)?.get(property);
      byKey.set(
        k,
        cached && cached.kind === kind
          ? Promise.resolve(cached)
          : this.store.seriesId({ tenant: batch.tenant, device: batch.device, property }, kind).then((id) => {
              let props = this.series.get(dk);
              if (!props) {
                props = new Map();
                this.series.set(dk, props);
              }
              // An entry of this series cached meanwhile (a prepare pass) stays: it may know a newer ts.
              const known = props.get(property);
              if (known && known.id === id && known.kind === kind) return known;
              const e: SeriesEntry = { id, kind, newest: Number.NaN, checked: 0 };
              props.set(property, e);
              return e;
            }),
      );
    }
    // Every lookup settles before the first failure is reported, so none is left running unobserved.
    const settled = await Promise.allSettled(byKey.values());
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const entries = new Map<string, SeriesEntry>();
    let i = 0;
    for (const k of byKey.keys()) entries.set(k, (settled[i++] as PromiseFulfilledResult<SeriesEntry>).value);
    const unknown = [...new Set([...entries.values()].filter((e) => Number.isNaN(e.newest)))];
    if (unknown.length > 0) {
      const newest = new Map((await this.store.latest(unknown.map((e) => e.id))).map((r) => [r.series, r.ts]));
      for (const e of unknown) {
        // Another ingest may have queued a newer point meanwhile: keep the larger.
        e.newest = Math.max(Number.isNaN(e.newest) ? Number.NEGATIVE_INFINITY : e.newest, newest.get(e.id) ?? Number.NEGATIVE_INFINITY);
      }
    }
    return keys.map(({ k }) => entries.get(k) as SeriesEntry);
  }

  /** Runs `fn` after every earlier slow-path check has finished. */
  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.slowPath.then(fn, fn);
    this.slowPath = run.catch(() => undefined);
    return run;
  }

  /**
   * Sorts the points of a batch that are not later than their series' newest into new ones (appended to
   * `rows`) and duplicates (whose indexes it returns). Rare — backfill, re-delivery — so it may be slow:
   * it commits the queue first, so that the store alone says what is stored, and looks each point up.
   */
  private async keepNew(points: readonly TelemetryPoint[], rows: RawRow[], older: ReadonlyArray<{ index: number; series: number }>): Promise<Set<number>> {
    await this.commitQueued();
    const key = (series: number, ts: number) => `${series}:${ts}`;
    const taken = new Set<string>();
    for (const r of rows) taken.add(key(r.series, r.ts));
    const stored = await this.storedAmong(points, older);
    const duplicates = new Set<number>();
    for (const { index, series } of older) {
      const p = points[index] as TelemetryPoint;
      const k = key(series, p.ts);
      if (taken.has(k) || stored.has(k)) {
        duplicates.add(index);
        continue;
      }
      taken.add(k);
      rows.push(encode(series, p.ts, p.value));
    }
    return duplicates;
  }

  /**
   * Which of the `older` points are stored, as `series:ts` keys: one range query per series (a re-delivered
   * message is a run of consecutive points), point by point only for a series whose range holds more stored
   * points than KEEP_NEW_RANGE_LIMIT (sparse backfill into dense history).
   */
  private async storedAmong(points: readonly TelemetryPoint[], older: ReadonlyArray<{ index: number; series: number }>): Promise<Set<string>> {
    const bySeries = new Map<number, number[]>();
    for (const { index, series } of older) {
      const ts = (points[index] as TelemetryPoint).ts;
      const list = bySeries.get(series);
      if (list) list.push(ts);
      else bySeries.set(series, [ts]);
    }
    const stored = new Set<string>();
    for (const [series, list] of bySeries) {
      let from = Number.POSITIVE_INFINITY;
      let to = Number.NEGATIVE_INFINITY;
      for (const ts of list) {
        if (ts < from) from = ts;
        if (ts > to) to = ts;
      }
      const found = await this.store.raw(series, from, to + 1, KEEP_NEW_RANGE_LIMIT + 1);
      if (found.length <= KEEP_NEW_RANGE_LIMIT) {
        for (const r of found) stored.add(`${series}:${r.ts}`);
        continue;
      }
      for (const ts of list) if ((await this.store.raw(series, ts, ts + 1, 1)).length > 0) stored.add(`${series}:${ts}`);
    }
    return stored;
  }

  /** Resolves when the queue has room again (after the next flush). */
  private room(): Promise<void> {
    return new Promise((resolve) => {
      this.roomWaiters.push(resolve);
      this.kick();
    });
  }

  /**
   * Queues the rows of one batch. They stay in one chunk unless the batch is larger than a chunk, so that a
   * batch normally commits (or fails) in one transaction.
   */
  private enqueue(rows: readonly RawRow[], waiter: Waiter): void {
    let last = this.chunks[this.chunks.length - 1];
    if (!last || (last.rows.length + rows.length > this.maxBatchPoints && last.rows.length > 0)) {
      last = { rows: [], waiters: [] };
      this.chunks.push(last);
    }
    last.waiters.push(waiter);
    waiter.pending++;
    for (const r of rows) {
      if (last.rows.length >= this.maxBatchPoints) {
        last = { rows: [], waiters: [waiter] };
        waiter.pending++;
        this.chunks.push(last);
      }
      last.rows.push(r);
    }
    this.queued += rows.length;
    if (this.chunks.length > 1 && this.mayWrite()) this.handOverFull();
    else if (last.rows.length >= HAND_OVER_WHEN_IDLE && this.store.writesBusy?.() === 0) void this.kick();
    if (this.queued >= this.maxBatchPoints || this.chunks.length > 1) this.scheduleSoon();
    else this.scheduleTimer();
  }

  /**
   * Hands the full chunks to the store now, not after this turn of the event loop: a turn that reads many
   * connections' data at once (thousands of devices after a pause) would otherwise fill chunk after chunk while the
   * writer idles, and answer all of them only after the turn (issue 20). The chunk still filling stays queued.
   */
  private handOverFull(): void {
    const filling = this.chunks.pop() as Chunk;
    try {
      void this.kick();
    } finally {
      this.chunks.push(filling);
    }
  }

  /** Makes `waiter` settle once every chunk queued or being written now is committed; false when there is none. */
  private waitForAll(waiter: Waiter): boolean {
    const pending = [...this.inFlight, ...this.chunks];
    for (const c of pending) {
      c.waiters.push(waiter);
      waiter.pending++;
    }
    return pending.length > 0;
  }

  /** Whether another chunk may be handed to the store now (none running, or room in flight). */
  private mayWrite(): boolean {
    return !this.running || this.busyWrites() < this.maxWritesInFlight;
  }

  /**
   * Chunks the store is still working on: those not answered yet, or fewer when the store can tell that it has
   * finished some whose answers the event loop has not read yet (TelemetryStore.writesBusy).
   */
  private busyWrites(): number {
    const n = this.inFlight.length;
    return n > 0 && this.store.writesBusy ? Math.min(n, this.store.writesBusy()) : n;
  }

  private scheduleSoon(): void {
    if (this.immediate || !this.mayWrite()) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.kick();
    });
  }

  private scheduleTimer(): void {
    if (this.timer || !this.mayWrite() || this.chunks.length === 0) return;
    // Not unref'd: a sender is waiting for these rows to be committed.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, this.flushIntervalMs);
  }

  /** Starts a flush unless one runs (then hands it what may go now); returns the running flush. */
  private kick(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.running) {
      this.pump();
      return this.running;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      const wake = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of wake) w();
      if (this.chunks.length > 0) {
        if (this.queued >= this.maxBatchPoints || this.chunks.length > 1) this.scheduleSoon();
        else this.scheduleTimer();
      }
    });
    return this.running;
  }

  /** Writes the queued chunks one transaction each, including those queued while it runs. Never rejects. */
  private async drain(): Promise<void> {
    const started = performance.now();
    try {
      this.pump();
      while (this.inFlight.length > 0) {
        await (this.inFlight[0] as Chunk).done;
        this.pump();
      }
    } finally {
      this.lastFlushMs = performance.now() - started;
    }
  }

  /** Hands queued chunks to the store while fewer than maxWritesInFlight are with it. */
  private pump(): void {
    while (this.chunks.length > 0 && this.busyWrites() < this.maxWritesInFlight) {
      const chunk = this.chunks.shift() as Chunk;
      this.inFlight.push(chunk);
      let written: Promise<{ inserted: number; duplicates: number }>;
      try {
        written = this.store.write(chunk.rows);
      } catch (e) {
        // A store that throws instead of rejecting fails the same way.
        written = Promise.reject(e);
      }
      chunk.done = written.then(
        (r) => this.settled(chunk, r, undefined),
        (e: unknown) => this.settled(chunk, undefined, e),
      );
    }
  }

  /** The store answered for `chunk`: counted, and its senders told. */
  private settled(chunk: Chunk, r: { inserted: number; duplicates: number } | undefined, e: unknown): void {
    const i = this.inFlight.indexOf(chunk);
    if (i >= 0) this.inFlight.splice(i, 1);
    this.queued -= chunk.rows.length;
    if (r) {
      this.written += r.inserted;
      this.duplicates += r.duplicates;
      this.flushes++;
      for (const w of chunk.waiters) w.committed();
      return;
    }
    this.failedFlushes++;
    this.notCommitted += chunk.rows.length;
    const err = new IipError(
      'IIP_ERR_HISTORIAN_WRITE_FAILED',
      `telemetry could not be committed (${chunk.rows.length} points, not acknowledged): ${e instanceof Error ? e.message : String(e)}`,
      { points: chunk.rows.length, cause: e instanceof IipError ? e.code : String(e) },
    );
    for (const w of chunk.waiters) w.failed(err);
    this.onError(err);
  }

  /**
   * Commits everything handed to ingest() so far (a batch whose series are still being resolved is waited for);
   * resolves when it is, rejects with IIP_ERR_HISTORIAN_WRITE_FAILED if a transaction of it failed (those points
   * are dropped; their senders were rejected too).
   */
  async flush(): Promise<void> {
    await this.admitting.drained();
    return this.commitQueued();
  }

  /** Commits what is queued now (not batches still being admitted: one of them may be the caller). */
  private commitQueued(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(resolve, reject);
      if (!this.waitForAll(waiter)) {
        resolve();
        return;
      }
      void this.kick();
    });
  }

  /** Commits what is queued, ignoring a failure (already reported to its senders and onError): for reads. */
  private async settle(): Promise<void> {
    await this.admitting.drained();
    if (this.queued === 0) return;
    await this.commitQueued().catch(() => undefined);
  }

  /** Refuses new points, then commits everything queued. Does not close the store, which it does not own. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.prepareTimer) clearTimeout(this.prepareTimer);
    this.prepareTimer = undefined;
    await this.preparing;
    await this.admitting.drained();
    this.closed = true;
    await this.settle();
    await this.running;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** Newest value of every property of a device. Reads see every point ingested before them. */
  async latest(tenant: TenantId, device: DeviceId): Promise<Record<string, TimedValue>> {
    await this.settle();
    const series = await this.store.listSeries(tenant, device);
    const byId = new Map(series.map((s) => [s.id, s]));
    const entries: Array<[string, TimedValue]> = [];
    for (const row of await this.store.latest(series.map((s) => s.id))) {
      const s = byId.get(row.series);
      if (s) entries.push([s.property, { ts: row.ts, value: decode(row, s.kind) }]);
    }
    // fromEntries defines own properties, so a property named "__proto__" stays data.
    return Object.fromEntries(entries);
  }

  /** Raw points of one property in [from, to), oldest first, at most `limit` (see historyPage to know if more exist). */
  async history(tenant: TenantId, device: DeviceId, property: string, q: HistoryQuery): Promise<TimedValue[]> {
    return (await this.historyPage(tenant, device, property, q)).points;
  }

  /**
   * One page of raw points in [from, to), oldest first. When more points lie in the range than `limit`,
   * `truncated` says so and `nextFrom` is where the next page starts (pass it as `from`): points of one
   * series have distinct timestamps, so pages neither overlap nor skip.
   */
  async historyPage(tenant: TenantId, device: DeviceId, property: string, q: HistoryQuery): Promise<HistoryPage> {
    checkRange(q.from, q.to);
    const limit = q.limit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1) invalid(`limit ${limit} must be a positive integer`, { limit });
    await this.settle();
    const s = await this.findSeries(tenant, device, property);
    if (!s) return { points: [], truncated: false };
    const rows = await this.store.raw(s.id, q.from, q.to, limit + 1);
    const more = rows.length > limit;
    const points = (more ? rows.slice(0, limit) : rows).map((r) => ({ ts: r.ts, value: decode(r, s.kind) }));
    return more ? { points, truncated: true, nextFrom: (rows[limit] as { ts: number }).ts } : { points, truncated: false };
  }

  /**
   * Exactly `buckets` buckets covering [from, to) with min/max/avg/count of a numeric or boolean property
   * (booleans count as 1/0); string and array properties have none (IIP_ERR_HISTORIAN_NOT_NUMERIC). Bucket edges are integer ms: bucket i starts at from + floor(i·(to−from)/buckets).
   */
  async trend(tenant: TenantId, device: DeviceId, property: string, q: TrendQuery): Promise<TrendBucket[]> {
    checkRange(q.from, q.to);
    if (!Number.isInteger(q.buckets) || q.buckets < 1 || q.buckets > MAX_BUCKETS) {
      invalid(`buckets ${q.buckets} must be an integer from 1 to ${MAX_BUCKETS}`, { buckets: q.buckets });
    }
    await this.settle();
    const s = await this.findSeries(tenant, device, property);
    if (s?.kind === 's' || s?.kind === 'a') {
      const holds = s.kind === 's' ? 'strings' : 'arrays (they are not rolled up)';
      throw new IipError('IIP_ERR_HISTORIAN_NOT_NUMERIC', `property "${property}" holds ${holds}; a trend needs numbers or booleans`, {
        device,
        property,
        kind: s.kind === 's' ? 'string' : 'array',
      });
    }
    // A property without data yet still yields its empty buckets, so charts need no special case.
    return computeTrend(this.store, s ? s.id : -1, q.from, q.to, q.buckets);
  }

  /**
   * Loads a device's series (ids, kinds and newest timestamps) into the cache ahead of its first message — called
   * when a device connects, so that ten thousand devices connecting and then publishing together do not each ask
   * the store on their first message, in the same second (issue 20). Devices asked for within PREPARE_GATHER_MS
   * are loaded in one pass (one `latest` call for all their series). Only a cache: a failure is reported to
   * onError and the first message asks the store as before; a device already cached costs a map lookup.
   */
  prepare(tenant: string, device: string): void {
    if (this.closing) return;
    const dk = tenant + SEP + device;
    if (this.series.has(dk)) return;
    this.toPrepare.add(dk);
    this.prepareTimer ??= setTimeout(() => {
      this.prepareTimer = undefined;
      this.preparing = (this.preparing ?? Promise.resolve()).then(() => this.preparePass()).catch((e: unknown) => this.onError(e));
    }, PREPARE_GATHER_MS);
    this.prepareTimer.unref?.();
  }

  private async preparePass(): Promise<void> {
    const keys = [...this.toPrepare].filter((dk) => !this.series.has(dk));
    this.toPrepare = new Set();
    const generation = this.deletions;
    const found = new Map<string, Array<{ id: number; property: string; kind: SeriesKind }>>();
    // A few devices at a time: on PostgreSQL each listSeries is a round trip of the pool.
    for (let i = 0; i < keys.length && !this.closing; i += PREPARE_PARALLEL) {
      const part = keys.slice(i, i + PREPARE_PARALLEL);
      const lists = await Promise.all(
        part.map((dk) => {
          const [tenant, device] = dk.split(SEP) as [string, string];
          return this.store.listSeries(tenant as TenantId, device as DeviceId);
        }),
      );
      part.forEach((dk, j) => {
        found.set(dk, lists[j] as Array<{ id: number; property: string; kind: SeriesKind }>);
      });
    }
    const unknown = [...found]
      .flatMap(([dk, list]) =>
        list.filter((s) => {
          const e = this.series.get(dk)?.get(s.property);
          return !e || Number.isNaN(e.newest);
        }),
      )
      .map((s) => s.id);
    const newest = new Map<number, number>();
    for (let i = 0; i < unknown.length; i += PREPARE_LATEST_CHUNK) {
      for (const r of await this.store.latest(unknown.slice(i, i + PREPARE_LATEST_CHUNK))) newest.set(r.series, r.ts);
    }
    // A device deleted meanwhile may have had its series removed: cache nothing of this pass then (the first
    // message of each device resolves its series as it would have without a pass).
    if (this.deletions !== generation || this.deleting > 0 || this.closing) return;
    for (const [dk, list] of found) {
      if (list.length === 0) continue;
      let props = this.series.get(dk);
      if (!props) {
        props = new Map();
        this.series.set(dk, props);
      }
      for (const s of list) {
        // What a message resolved meanwhile stays: it asked the store after this pass did.
        let e = props.get(s.property);
        if (!e) {
          e = { id: s.id, kind: s.kind, newest: Number.NaN, checked: 0 };
          props.set(s.property, e);
        }
        // Another ingest may have queued a newer point meanwhile: keep the larger.
        if (e.id === s.id) e.newest = Math.max(Number.isNaN(e.newest) ? Number.NEGATIVE_INFINITY : e.newest, newest.get(s.id) ?? Number.NEGATIVE_INFINITY);
      }
    }
  }

  /** Removes all stored and queued telemetry of a device. */
  async deleteDevice(tenant: TenantId, device: DeviceId): Promise<void> {
    this.deleting++;
    try {
      await this.deleteDeviceNow(tenant, device);
    } finally {
      this.deleting--;
      this.deletions++;
    }
  }

  private async deleteDeviceNow(tenant: TenantId, device: DeviceId): Promise<void> {
    const ids = new Set((await this.store.listSeries(tenant, device)).map((s) => s.id));
    this.series.delete(tenant + SEP + device);
    if (ids.size > 0) {
      // Queued rows of the device go; their batches still settle with their chunks.
      for (const c of this.chunks) {
        const kept = c.rows.filter((r) => !ids.has(r.series));
        this.queued -= c.rows.length - kept.length;
        c.rows.length = 0;
        for (const r of kept) c.rows.push(r);
      }
      // A transaction running now may hold rows of the device: it ends before the delete.
      await this.running;
    }
    await this.store.deleteDevice(tenant, device);
  }

  stats(): HistorianStats {
    return {
      written: this.written,
      duplicates: this.duplicates,
      queued: this.queued,
      flushes: this.flushes,
      failedFlushes: this.failedFlushes,
      notCommitted: this.notCommitted,
      lastFlushMs: this.lastFlushMs,
    };
  }

  private async findSeries(tenant: TenantId, device: DeviceId, property: string): Promise<{ id: number; kind: SeriesKind } | undefined> {
    return (await this.store.listSeries(tenant, device)).find((s) => s.property === property);
  }
}
