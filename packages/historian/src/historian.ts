/**
 * The historian: the telemetry write path and its queries. ingest() turns validated batches into stored
 * rows at once (so a bad value or a kind change is reported to the sender) and queues them; the queue is
 * written in one transaction per maxBatchPoints, on a short timer or as soon as a batch fills. Nothing is
 * ever dropped: a full queue is flushed synchronously in the caller's turn (back-pressure by latency), a
 * failed write keeps its rows queued for the next attempt, and close() writes everything before returning.
 */
import { IipError } from '@iip/core';
import type { DeviceId, PointValue, TelemetryBatch, TelemetryPoint, TelemetryWriteResult, TenantId } from '@iip/core';
import type { RawRow, SeriesKind, TelemetryStore } from '@iip/storage';
import { computeTrend } from './trend.js';
import type { TrendBucket } from './trend.js';
import { decode, encode, kindOf } from './value-codec.js';

export interface HistorianOptions {
  /** How long a point may wait in the queue before it is written (default 50 ms). */
  readonly flushIntervalMs?: number;
  /** Points per write transaction; a full batch is written on the next turn of the event loop (default 20,000). */
  readonly maxBatchPoints?: number;
  /** Above this many queued points ingest() writes synchronously before accepting more (default 10 batches). */
  readonly maxQueuedPoints?: number;
  /** Receives failures of background (timer) flushes; the rows stay queued and are retried. */
  readonly onError?: (e: unknown) => void;
}

export interface HistorianStats {
  /** Points stored since start (duplicates excluded). */
  readonly written: number;
  /** Points not stored because their (series, ts) was already stored or queued (reported by ingest()). */
  readonly duplicates: number;
  /** Points waiting to be written. */
  readonly queued: number;
  /** Write transactions run. */
  readonly flushes: number;
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

function invalid(message: string, details: Record<string, unknown>): never {
  throw new IipError('IIP_ERR_VALIDATION', message, details);
}

interface Series {
  readonly id: number;
  readonly kind: SeriesKind;
  /** Newest ts stored, queued or taken by this batch so far. */
  newest: number;
}

function checkRange(from: number, to: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    invalid(`time range [${from}, ${to}) is empty or not finite; "to" must be after "from"`, { from, to });
  }
}

export class Historian {
  private readonly flushIntervalMs: number;
  private readonly maxBatchPoints: number;
  private readonly maxQueuedPoints: number;
  private readonly onError: (e: unknown) => void;
  /** Queued rows in chunks of at most maxBatchPoints; only the last chunk grows. */
  private chunks: RawRow[][] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private written = 0;
  private duplicates = 0;
  private flushes = 0;
  private lastFlushMs = 0;
  /**
   * Newest ts stored or queued per series id, loaded from the store on first use. A point later than it is
   * new for certain (the hot path: live data arrives in time order); only an older one is looked up.
   */
  private readonly newestTs = new Map<number, number>();

  constructor(
    private readonly store: TelemetryStore,
    opts: HistorianOptions = {},
  ) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 50;
    this.maxBatchPoints = Math.max(1, opts.maxBatchPoints ?? 20_000);
    this.maxQueuedPoints = Math.max(this.maxBatchPoints, opts.maxQueuedPoints ?? this.maxBatchPoints * 10);
    this.onError = opts.onError ?? ((e) => console.error('historian: background flush failed, points stay queued:', e));
  }

  /**
   * Queues a validated batch and says what of it will be stored: every point except those whose
   * (property, ts) is already stored or queued, or repeats an earlier point of the batch — a re-delivery,
   * reported in `duplicates` and not stored again. Throws (and queues nothing of the batch) on an
   * unstorable value, a kind change, or a store that fails while older points are looked up.
   */
  ingest(batch: TelemetryBatch): TelemetryWriteResult {
    if (this.closed) {
      throw new IipError('IIP_ERR_HISTORIAN_CLOSED', 'the historian is closed; telemetry can no longer be stored', {
        tenant: batch.tenant,
        device: batch.device,
      });
    }
    const rows: RawRow[] = [];
    // Series resolved once per property and batch; a kind change (even inside one batch) reaches the
    // store, which rejects it, before anything of the batch is queued.
    const seen = new Map<string, Series>();
    const older: Array<{ index: number; series: Series }> = [];
    const points = batch.points;
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as TelemetryPoint;
      const kind = kindOf(p.value, p.property);
      let s = seen.get(p.property);
      if (s === undefined || s.kind !== kind) {
        const id = this.store.seriesId({ tenant: batch.tenant, device: batch.device, property: p.property }, kind);
        s = { id, kind, newest: s?.id === id ? s.newest : this.newestOf(id) };
        seen.set(p.property, s);
      }
      if (p.ts > s.newest) {
        s.newest = p.ts;
        rows.push(encode(s.id, p.ts, p.value));
      } else {
        older.push({ index: i, series: s });
      }
    }
    let stored = batch;
    let duplicates: TelemetryPoint[] = [];
    if (older.length > 0) {
      const dup = this.keepNew(points, rows, older);
      if (dup.size > 0) {
        stored = { ...batch, points: points.filter((_, i) => !dup.has(i)) };
        duplicates = points.filter((_, i) => dup.has(i));
      }
    }
    if (rows.length > 0) {
      if (this.queued + rows.length > this.maxQueuedPoints) this.flushSync();
      this.enqueue(rows);
      if (this.queued >= this.maxBatchPoints) this.scheduleSoon();
      else this.scheduleTimer();
    }
    for (const s of seen.values()) {
      if (s.newest > (this.newestTs.get(s.id) ?? Number.NEGATIVE_INFINITY)) this.newestTs.set(s.id, s.newest);
    }
    this.duplicates += duplicates.length;
    return { stored, duplicates };
  }

  private newestOf(series: number): number {
    const known = this.newestTs.get(series);
    if (known !== undefined) return known;
    const row = this.store.latest([series])[0];
    return row ? row.ts : Number.NEGATIVE_INFINITY;
  }

  /**
   * Sorts the points of a batch that are not later than their series' newest into new ones (appended to
   * `rows`) and duplicates (whose indexes it returns). Rare — backfill, re-delivery — so it may be slow:
   * it writes the queue first, so that the store alone says what is stored, and looks each point up.
   */
  private keepNew(points: readonly TelemetryPoint[], rows: RawRow[], older: ReadonlyArray<{ index: number; series: Series }>): Set<number> {
    this.flushSync();
    const key = (series: number, ts: number) => `${series}:${ts}`;
    const taken = new Set<string>();
    for (const r of rows) taken.add(key(r.series, r.ts));
    const duplicates = new Set<number>();
    for (const { index, series } of older) {
      const p = points[index] as TelemetryPoint;
      const k = key(series.id, p.ts);
      if (taken.has(k) || this.store.raw(series.id, p.ts, p.ts + 1, 1).length > 0) {
        duplicates.add(index);
        continue;
      }
      taken.add(k);
      rows.push(encode(series.id, p.ts, p.value));
    }
    return duplicates;
  }

  private enqueue(rows: readonly RawRow[]): void {
    let last = this.chunks[this.chunks.length - 1];
    for (const r of rows) {
      if (!last || last.length >= this.maxBatchPoints) {
        last = [];
        this.chunks.push(last);
      }
      last.push(r);
    }
    this.queued += rows.length;
  }

  private scheduleSoon(): void {
    if (this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.backgroundFlush();
    });
  }

  private scheduleTimer(): void {
    if (this.timer || this.queued === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.backgroundFlush();
    }, this.flushIntervalMs);
    // An idle queue must not keep the process alive; close() is what guarantees the last points land.
    this.timer.unref();
  }

  private backgroundFlush(): void {
    try {
      this.flushSync();
    } catch (e) {
      this.onError(e);
    }
  }

  /** Writes every queued chunk, one transaction each; on failure the unwritten chunks stay queued. */
  private flushSync(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.queued === 0) return;
    const started = performance.now();
    try {
      while (this.chunks.length > 0) {
        const chunk = this.chunks[0]!;
        const r = this.store.write(chunk);
        this.chunks.shift();
        this.queued -= chunk.length;
        this.written += r.inserted;
        this.duplicates += r.duplicates;
        this.flushes++;
      }
    } finally {
      this.lastFlushMs = performance.now() - started;
      // Whatever a failed write left behind is retried by the timer even if nobody ingests again.
      if (this.queued > 0 && !this.closed) this.scheduleTimer();
    }
  }

  /** Writes everything queued so far, now; throws the store's error (the points stay queued). */
  flushNow(): void {
    this.flushSync();
  }

  /** Writes everything queued so far. Rejects with the store's error (the points stay queued). */
  async flush(): Promise<void> {
    this.flushSync();
  }

  /** Refuses new points, then writes everything queued. Does not close the store, which it does not own. */
  async close(): Promise<void> {
    this.closed = true;
    this.flushSync();
  }

  /** Newest value of every property of a device. Reads see every point ingested before them. */
  latest(tenant: TenantId, device: DeviceId): Record<string, TimedValue> {
    this.flushSync();
    const series = this.store.listSeries(tenant, device);
    const byId = new Map(series.map((s) => [s.id, s]));
    const entries: Array<[string, TimedValue]> = [];
    for (const row of this.store.latest(series.map((s) => s.id))) {
      const s = byId.get(row.series);
      if (s) entries.push([s.property, { ts: row.ts, value: decode(row, s.kind) }]);
    }
    // fromEntries defines own properties, so a property named "__proto__" stays data.
    return Object.fromEntries(entries);
  }

  /** Raw points of one property in [from, to), oldest first, at most `limit` (see historyPage to know if more exist). */
  history(tenant: TenantId, device: DeviceId, property: string, q: HistoryQuery): TimedValue[] {
    return this.historyPage(tenant, device, property, q).points;
  }

  /**
   * One page of raw points in [from, to), oldest first. When more points lie in the range than `limit`,
   * `truncated` says so and `nextFrom` is where the next page starts (pass it as `from`): points of one
   * series have distinct timestamps, so pages neither overlap nor skip.
   */
  historyPage(tenant: TenantId, device: DeviceId, property: string, q: HistoryQuery): HistoryPage {
    checkRange(q.from, q.to);
    const limit = q.limit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1) invalid(`limit ${limit} must be a positive integer`, { limit });
    this.flushSync();
    const s = this.findSeries(tenant, device, property);
    if (!s) return { points: [], truncated: false };
    const rows = this.store.raw(s.id, q.from, q.to, limit + 1);
    const more = rows.length > limit;
    const points = (more ? rows.slice(0, limit) : rows).map((r) => ({ ts: r.ts, value: decode(r, s.kind) }));
    return more ? { points, truncated: true, nextFrom: (rows[limit] as { ts: number }).ts } : { points, truncated: false };
  }

  /**
   * Exactly `buckets` buckets covering [from, to) with min/max/avg/count of a numeric or boolean property
   * (booleans count as 1/0). Bucket edges are integer ms: bucket i starts at from + floor(i·(to−from)/buckets).
   */
  trend(tenant: TenantId, device: DeviceId, property: string, q: TrendQuery): TrendBucket[] {
    checkRange(q.from, q.to);
    if (!Number.isInteger(q.buckets) || q.buckets < 1 || q.buckets > MAX_BUCKETS) {
      invalid(`buckets ${q.buckets} must be an integer from 1 to ${MAX_BUCKETS}`, { buckets: q.buckets });
    }
    this.flushSync();
    const s = this.findSeries(tenant, device, property);
    if (s?.kind === 's') {
      throw new IipError('IIP_ERR_HISTORIAN_NOT_NUMERIC', `property "${property}" holds strings; a trend needs numbers or booleans`, {
        device,
        property,
      });
    }
    // A property without data yet still yields its empty buckets, so charts need no special case.
    return computeTrend(this.store, s ? s.id : -1, q.from, q.to, q.buckets);
  }

  /** Removes all stored and queued telemetry of a device. */
  deleteDevice(tenant: TenantId, device: DeviceId): void {
    const ids = new Set(this.store.listSeries(tenant, device).map((s) => s.id));
    for (const id of ids) this.newestTs.delete(id);
    if (ids.size > 0 && this.queued > 0) {
      const kept = this.chunks.flat().filter((r) => !ids.has(r.series));
      this.chunks = [];
      this.queued = 0;
      this.enqueue(kept);
    }
    this.store.deleteDevice(tenant, device);
  }

  stats(): HistorianStats {
    return {
      written: this.written,
      duplicates: this.duplicates,
      queued: this.queued,
      flushes: this.flushes,
      lastFlushMs: this.lastFlushMs,
    };
  }

  private findSeries(tenant: TenantId, device: DeviceId, property: string): { id: number; kind: SeriesKind } | undefined {
    return this.store.listSeries(tenant, device).find((s) => s.property === property);
  }
}
