/**
 * TelemetryStore on SQLite, built for the ingest hot path: raw points live in a WITHOUT ROWID table keyed
 * (series, ts) so a point is one B-tree entry and re-delivery is a cheap `INSERT OR IGNORE`; latest values are
 * kept at write time and rollups folded in soon after (telemetry-writer.ts: rollups() adds what is not folded yet,
 * so reads are exact). Series ids are cached and statements prepared
 * once. The port is asynchronous; better-sqlite3 is synchronous underneath, so every method does its work
 * when called and returns a settled promise (a failure is a rejection, never a throw).
 *
 * Writes run in a writer thread with its own connection when the store is opened on a file (telemetry-write-
 * thread.ts, issue 20): a transaction no longer blocks the event loop that serves devices. Series creation, reads,
 * retention and deletes stay on this connection; WAL lets both connections work on the one file.
 */
import type Database from 'better-sqlite3';
import { IipError } from '@iip/core';
import type { DeviceId, TenantId } from '@iip/core';
import type { RawRow, RetentionBatchOptions, RollupRow, SeriesKey, SeriesKind, TelemetryStore, TelemetryUsage } from '../ports.js';
import { DEFAULT_RETENTION_BATCH, DEFAULT_ROLLUP_LEVELS, estimateStoredBytes, utcDay, yieldToOthers } from '../usage.js';
import { bucketRange, NUMERIC_POINTS_SQL, stagedBucketsStatement } from './raw-stage.js';
import { ThreadedTelemetryWriter } from './telemetry-write-thread.js';
import { FOLD_IDLE_EVERY_MS, TelemetryWriter } from './telemetry-writer.js';
import type { WriteResult } from './telemetry-writer.js';

interface SeriesEntry {
  readonly id: number;
  readonly kind: SeriesKind;
}
interface RollupDbRow {
  series: number;
  bucket: number;
  vmin: number;
  vmax: number;
  vsum: number;
  n: number;
}

/** A rollup row being summed up: rollups() adds the points not folded yet to it. */
type RollupCell = { -readonly [K in keyof RollupRow]: RollupRow[K] };

/** Separator that cannot occur in ids (they are restricted to [A-Za-z0-9_.-]). */
const SEP = '\u0000';

export class SqliteTelemetryStore implements TelemetryStore {
  readonly rollupLevels: readonly number[] = DEFAULT_ROLLUP_LEVELS;
  readonly writesInFlight: number = 1;
  /** With the writer thread: its writes not finished yet (TelemetryStore.writesBusy). */
  readonly writesBusy?: () => number;
  /** tenant SEP device → property → series. Nested so deleteDevice can drop one device's entries. */
  private readonly cache = new Map<string, Map<string, SeriesEntry>>();
  private readonly s;
  /** Where writes and folds are made: the writer thread (a file), or this connection (`:memory:`, or turned off). */
  private readonly writer: { readonly threaded: ThreadedTelemetryWriter } | { readonly inline: TelemetryWriter };
  private readonly deleteTx: (tenant: TenantId, device: DeviceId) => void;
  /** rollups() in one read transaction: the stored cells and the points not yet folded, from one snapshot. */
  private readonly readRollups: (level: number, series: number, from: number, to: number) => RollupRow[];
  private readonly readRaw: (series: number, from: number, to: number, limit: number) => RawRow[];
  /** The staged buckets (raw-stage.ts) between two buckets, as JSON. */
  private readonly stagedBuckets: (lo: number, hi: number) => string;
  private foldTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database.Database,
    opts: { readonly writerThreadFile?: string } = {},
  ) {
    this.s = {
      findSeries: db.prepare('SELECT id, kind FROM series WHERE tenant = ? AND device = ? AND property = ?'),
      createSeries: db.prepare('INSERT INTO series (tenant, device, property, kind) VALUES (?, ?, ?, ?)'),
      listSeries: db.prepare('SELECT id, property, kind FROM series WHERE tenant = ? AND device = ? ORDER BY property'),
      latest: db.prepare(
        'SELECT series, ts, num, str FROM latest WHERE series IN (SELECT value FROM json_each(?)) ORDER BY series',
      ),
      raw: db.prepare('SELECT series, ts, num, str FROM raw WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?'),
      // The same from the stage (raw-stage.ts): a seek per staged bucket of the range.
      rawStaged: db.prepare(
        `SELECT series, ts, num, str FROM raw_stage WHERE bucket IN (SELECT value FROM json_each(@buckets)) AND series = @series AND ts >= @from AND ts < @to
         ORDER BY ts LIMIT @limit`,
      ),
      rollups: db.prepare(
        `SELECT series, bucket, vmin, vmax, vsum, n FROM rollup
         WHERE level = ? AND series = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
      ),
      mark: db.prepare('SELECT folded_to FROM rollup_fold WHERE series = ?').pluck(),
      // The points of a series not yet folded into its rollups (at or after its mark), within a range.
      unfolded: db.prepare(NUMERIC_POINTS_SQL).raw(),
      deleteStaged: db.prepare('DELETE FROM raw_stage WHERE bucket IN (SELECT value FROM json_each(?)) AND series = ? AND ts < ?'),
      deleteMark: db.prepare('DELETE FROM rollup_fold WHERE series = ?'),
      deleteRaw: db.prepare('DELETE FROM raw WHERE series = ?'),
      deleteRollups: db.prepare('DELETE FROM rollup WHERE level = ? AND series = ?'),
      deleteLatest: db.prepare('DELETE FROM latest WHERE series = ?'),
      deleteSeries: db.prepare('DELETE FROM series WHERE id = ?'),
      tenantSeries: db.prepare('SELECT id, kind FROM series WHERE tenant = ? ORDER BY id'),
      // One batch: the oldest `limit` points of one series before the cutoff, by primary key (series, ts).
      deleteRawBatch: db.prepare(
        'DELETE FROM raw WHERE series = ? AND ts IN (SELECT ts FROM raw WHERE series = ? AND ts < ? ORDER BY ts LIMIT ?)',
      ),
      deleteRollupBatch: db.prepare(
        `DELETE FROM rollup WHERE level = ? AND series = ? AND bucket IN
           (SELECT bucket FROM rollup WHERE level = ? AND series = ? AND bucket <= ? ORDER BY bucket LIMIT ?)`,
      ),
      countSeries: db.prepare('SELECT count(*) AS n FROM series WHERE tenant = ?'),
      // One pass over the tenant's raw points: their number, their string bytes, and today's number.
      rawUsage: db.prepare(
        `SELECT count(*) AS n, coalesce(sum(length(CAST(str AS BLOB))), 0) AS b, coalesce(sum(ts >= ? AND ts < ?), 0) AS today
           FROM raw_all WHERE series IN (SELECT id FROM series WHERE tenant = ?)`,
      ),
      rollupUsage: db.prepare('SELECT count(*) AS n FROM rollup WHERE level = ? AND series IN (SELECT id FROM series WHERE tenant = ?)'),
    };
    this.readRollups = db.transaction((level: number, series: number, from: number, to: number) => this.rollupsNow(level, series, from, to));
    this.stagedBuckets = stagedBucketsStatement(db);
    this.readRaw = db.transaction((series: number, from: number, to: number, limit: number) => this.rawNow(series, from, to, limit));
    if (opts.writerThreadFile) {
      const threaded = new ThreadedTelemetryWriter(opts.writerThreadFile, this.rollupLevels);
      this.writer = { threaded };
      // The thread takes its requests in order, one transaction each: the next batch can wait there.
      this.writesInFlight = 2;
      this.writesBusy = () => threaded.busy();
    } else {
      // Inline, this connection folds: a previous run's unfolded points once idle, and folds due when writes pause.
      const inline = new TelemetryWriter(db, this.rollupLevels);
      inline.loadPending();
      this.foldTimer = setInterval(() => {
        if (this.db.open) {
          inline.foldIdle();
          inline.moveIdle();
        }
      }, FOLD_IDLE_EVERY_MS);
      this.foldTimer.unref();
      this.writer = { inline };
    }
    this.deleteTx = db.transaction((tenant: TenantId, device: DeviceId) => this.deleteRows(tenant, device)).immediate;
  }

  async seriesId(key: SeriesKey, kind: SeriesKind): Promise<number> {
    if (!('threaded' in this.writer)) return this.seriesIdSync(key, kind);
    const dk = key.tenant + SEP + key.device;
    let e = this.cache.get(dk)?.get(key.property);
    if (!e) {
      // Created by the writer thread: an INSERT here would wait for its write lock on the event loop.
      e = await this.writer.threaded.series(key, kind);
      let props = this.cache.get(dk);
      if (!props) {
        props = new Map();
        this.cache.set(dk, props);
      }
      props.set(key.property, e);
    }
    return this.checkKind(key, e, kind);
  }

  private checkKind(key: SeriesKey, e: SeriesEntry, kind: SeriesKind): number {
    if (e.kind !== kind) {
      throw new IipError(
        'IIP_ERR_STORAGE_SERIES_KIND',
        `series ${key.device}.${key.property} holds kind "${e.kind}", cannot store kind "${kind}"`,
        { tenant: key.tenant, device: key.device, property: key.property, stored: e.kind, requested: kind },
      );
    }
    return e.id;
  }

  private seriesIdSync(key: SeriesKey, kind: SeriesKind): number {
    const dk = key.tenant + SEP + key.device;
    let props = this.cache.get(dk);
    let e = props?.get(key.property);
    if (!e) {
      e = this.loadOrCreateSeries(key, kind);
      if (!props) {
        props = new Map();
        this.cache.set(dk, props);
      }
      props.set(key.property, e);
    }
    return this.checkKind(key, e, kind);
  }

  private loadOrCreateSeries(key: SeriesKey, kind: SeriesKind): SeriesEntry {
    const found = this.s.findSeries.get(key.tenant, key.device, key.property) as SeriesEntry | undefined;
    if (found) return { id: found.id, kind: found.kind };
    const id = Number(this.s.createSeries.run(key.tenant, key.device, key.property, kind).lastInsertRowid);
    return { id, kind };
  }

  async listSeries(tenant: TenantId, device: DeviceId): Promise<Array<{ id: number; property: string; kind: SeriesKind }>> {
    return this.listSeriesSync(tenant, device);
  }

  private listSeriesSync(tenant: TenantId, device: DeviceId): Array<{ id: number; property: string; kind: SeriesKind }> {
    return this.s.listSeries.all(tenant, device) as Array<{ id: number; property: string; kind: SeriesKind }>;
  }

  async write(rows: readonly RawRow[]): Promise<WriteResult> {
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    if ('threaded' in this.writer) return this.writer.threaded.write(rows);
    const r = this.writer.inline.write([...rows]);
    // Written inline, a move of staged points follows each write, a transaction at a time (raw-stage.ts).
    this.writer.inline.moveSome(rows.length);
    return r;
  }

  async latest(series: readonly number[]): Promise<RawRow[]> {
    if (series.length === 0) return [];
    return this.s.latest.all(JSON.stringify(series)) as RawRow[];
  }

  async raw(series: number, from: number, to: number, limit: number): Promise<RawRow[]> {
    if (limit <= 0) return [];
    return this.readRaw(series, from, to, limit);
  }

  /** The points of [from, to) from raw and the stage (raw-stage.ts), in one read transaction: each seen once. */
  private rawNow(series: number, from: number, to: number, limit: number): RawRow[] {
    const stored = this.s.raw.all(series, from, to, limit) as RawRow[];
    const buckets = this.stagedBuckets(...bucketRange(from, to));
    if (buckets === '[]') return stored;
    const staged = this.s.rawStaged.all({ series, from, to, buckets, limit }) as RawRow[];
    if (staged.length === 0) return stored;
    const out: RawRow[] = [];
    let i = 0;
    let j = 0;
    while (out.length < limit && (i < stored.length || j < staged.length)) {
      const a = stored[i];
      const b = staged[j];
      if (b === undefined || (a !== undefined && a.ts <= b.ts)) {
        out.push(a as RawRow);
        i++;
      } else {
        out.push(b);
        j++;
      }
    }
    return out;
  }

  async rollups(level: number, series: number, from: number, to: number): Promise<RollupRow[]> {
    if (!this.rollupLevels.includes(level)) {
      throw new IipError('IIP_ERR_VALIDATION', `rollup level ${level} ms is not maintained; use one of ${this.rollupLevels.join(', ')}`, {
        level,
        levels: [...this.rollupLevels],
      });
    }
    return this.readRollups(level, series, from, to);
  }

  /**
   * The stored cells of buckets starting in [from, to), with the series' points not yet folded (at or after its
   * mark, telemetry-writer.ts) added to the cells of their buckets: exact at every moment.
   */
  private rollupsNow(level: number, series: number, from: number, to: number): RollupRow[] {
    const rows = (this.s.rollups.all(level, series, from, to) as RollupDbRow[]).map(
      (r): RollupCell => ({ series: r.series, bucket: r.bucket, min: r.vmin, max: r.vmax, sum: r.vsum, count: r.n }),
    );
    const mark = (this.s.mark.get(series) as number | undefined) ?? Number.MIN_SAFE_INTEGER;
    // A point is in a bucket starting in [from, to) when its ts is in [from rounded up, to rounded up) to the level.
    const lo = Math.max(mark, Math.ceil(from / level) * level);
    const hi = Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(to / level) * level);
    if (lo >= hi) return rows;
    const tail = this.s.unfolded.all({ series, from: lo, to: hi, buckets: this.stagedBuckets(...bucketRange(lo, hi)) }) as Array<[number, number]>;
    if (tail.length === 0) return rows;
    // The rows were made just above: the tail is added to them in place.
    const byBucket = new Map(rows.map((r) => [r.bucket, r]));
    for (const [ts, v] of tail) {
      const bucket = Math.floor(ts / level) * level;
      const c = byBucket.get(bucket);
      if (!c) byBucket.set(bucket, { series, bucket, min: v, max: v, sum: v, count: 1 });
      else {
        if (v < c.min) c.min = v;
        if (v > c.max) c.max = v;
        c.sum += v;
        c.count++;
      }
    }
    return [...byBucket.values()].sort((a, b) => a.bucket - b.bucket);
  }

  /** Folds the points before `cutoff` not yet in the rollups (retention), where the writes are made. */
  private async foldBefore(cutoff: number, tenant: TenantId): Promise<void> {
    if ('threaded' in this.writer) await this.writer.threaded.fold({ before: cutoff, tenant });
    else this.writer.inline.foldBefore(cutoff, tenant);
  }

  /** Folds every point not yet in the rollups (usage counts cells). */
  private async foldAll(tenant: TenantId): Promise<void> {
    if ('threaded' in this.writer) await this.writer.threaded.fold({ tenant });
    else this.writer.inline.foldAll(tenant);
  }

  async deleteDevice(tenant: TenantId, device: DeviceId): Promise<void> {
    this.deleteTx(tenant, device);
    this.cache.delete(tenant + SEP + device);
  }

  private deleteRows(tenant: TenantId, device: DeviceId): void {
    const staged = this.stagedBuckets(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    for (const { id } of this.listSeriesSync(tenant, device)) {
      this.s.deleteRaw.run(id);
      this.s.deleteStaged.run(staged, id, Number.MAX_SAFE_INTEGER);
      for (const level of this.rollupLevels) this.s.deleteRollups.run(level, id);
      this.s.deleteMark.run(id);
      this.s.deleteLatest.run(id);
      this.s.deleteSeries.run(id);
    }
  }

  /**
   * Each batch is one DELETE statement (its own implicit transaction, at most `batchSize` rows); between batches
   * the event loop runs, so ingest — which shares this connection — waits at most one batch.
   */
  async deleteRawBefore(tenant: TenantId, cutoff: number, opts: RetentionBatchOptions = {}): Promise<number> {
    const batch = Math.max(1, opts.batchSize ?? DEFAULT_RETENTION_BATCH);
    // Points go into the rollups before they go: rollups outlive raw points.
    await this.foldBefore(cutoff, tenant);
    let deleted = 0;
    for (const { id, kind } of this.s.tenantSeries.all(tenant) as Array<{ id: number; kind: SeriesKind }>) {
      // Never a numeric point that is not folded (one written behind a mark meanwhile is rolled up as it is written).
      const numeric = kind === 'n' || kind === 'b';
      const upTo = numeric ? Math.min(cutoff, (this.s.mark.get(id) as number | undefined) ?? Number.MIN_SAFE_INTEGER) : cutoff;
      for (;;) {
        if (!this.db.open) return deleted;
        const n = this.s.deleteRawBatch.run(id, id, upTo, batch).changes;
        deleted += n;
        if (n > 0) await yieldToOthers();
        if (n < batch) break;
      }
      // Staged points that old are rare (the writer moves the stage within a minute or two): one statement.
      const staged = this.stagedBuckets(...bucketRange(Number.MIN_SAFE_INTEGER, upTo));
      if (staged !== '[]' && this.db.open) deleted += this.s.deleteStaged.run(staged, id, upTo).changes;
    }
    return deleted;
  }

  async deleteRollupsBefore(tenant: TenantId, level: number, cutoff: number, opts: RetentionBatchOptions = {}): Promise<number> {
    this.checkLevel(level);
    const batch = Math.max(1, opts.batchSize ?? DEFAULT_RETENTION_BATCH);
    // Points before the cutoff are folded first, or they would come back as cells the reader adds.
    await this.foldBefore(cutoff, tenant);
    let deleted = 0;
    for (const { id } of this.s.tenantSeries.all(tenant) as Array<{ id: number }>) {
      for (;;) {
        if (!this.db.open) return deleted;
        const n = this.s.deleteRollupBatch.run(level, id, level, id, cutoff - level, batch).changes;
        deleted += n;
        if (n > 0) await yieldToOthers();
        if (n < batch) break;
      }
    }
    return deleted;
  }

  async usage(tenant: TenantId, now: number): Promise<TelemetryUsage> {
    // Every point folded, so that every rollup cell is a stored row to count.
    await this.foldAll(tenant);
    const series = (this.s.countSeries.get(tenant) as { n: number }).n;
    const day = utcDay(now);
    const raw = this.s.rawUsage.get(day.from, day.to, tenant) as { n: number; b: number; today: number };
    const pointsToday = raw.today;
    let rollupRows = 0;
    for (const level of this.rollupLevels) rollupRows += (this.s.rollupUsage.get(level, tenant) as { n: number }).n;
    return {
      series,
      rawPoints: raw.n,
      pointsToday,
      rollupRows,
      storedBytes: estimateStoredBytes({ series, rawPoints: raw.n, rawStringBytes: raw.b, rollupRows }),
    };
  }

  private checkLevel(level: number): void {
    if (!this.rollupLevels.includes(level)) {
      throw new IipError('IIP_ERR_VALIDATION', `rollup level ${level} ms is not maintained; use one of ${this.rollupLevels.join(', ')}`, {
        level,
        levels: [...this.rollupLevels],
      });
    }
  }

  /** The stores share one connection, so closing any of them closes the file. */
  async close(): Promise<void> {
    if (this.foldTimer) clearInterval(this.foldTimer);
    if ('threaded' in this.writer) await this.writer.threaded.close();
    if (this.db.open) this.db.close();
  }
}
