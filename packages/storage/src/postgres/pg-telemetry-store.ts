/**
 * TelemetryStore on PostgreSQL, with the SQLite adapter's semantics: a point with the (series, ts) of a stored
 * one is a duplicate and ignored (the first of several in one batch wins), rollups count only the points
 * actually inserted, latest values only move forward, a series keeps its kind.
 *
 * A batch of `copyThreshold` rows or more first takes the fast path, on the assumption that every row is new
 * (re-deliveries are rare): one transaction COPYs the rows straight into raw (pg-copy-streams), then upserts
 * the rollup cells aggregated here (RollupAccumulator) and the latest value per series, from parameter
 * arrays. If any row was already stored (or is twice in the batch), the COPY fails on the primary key, the
 * transaction rolls back, and the batch takes the general path.
 *
 * The general path is one statement over a source of rows — an `unnest` of parameter arrays for small batches
 * (one round trip, atomic on its own), or a per-connection temporary staging table filled with COPY inside a
 * transaction. It inserts into raw with ON CONFLICT DO NOTHING RETURNING, and from exactly the returned rows
 * upserts the rollup cells and the latest values. Both paths upsert in a fixed key order so concurrent
 * writers cannot deadlock on each other's cells; two writers of one (series, ts) are serialised by the
 * primary key (the second one's COPY fails after the first commits, and it takes the general path).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { IipError } from '@iip/core';
import type { DeviceId, TenantId } from '@iip/core';
import type { RawRow, RetentionBatchOptions, RollupRow, SeriesKey, SeriesKind, TelemetryStore, TelemetryUsage } from '../ports.js';
import { DEFAULT_RETENTION_BATCH, estimateStoredBytes, utcDay } from '../usage.js';
import { DEFAULT_ROLLUP_LEVELS } from '../usage.js';
import { RollupAccumulator } from '../rollup-accumulator.js';
import { PG_NO_PARTITION, PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';
import { type RawPartitions, dayOf } from './pg-partitions.js';

interface SeriesEntry {
  readonly id: number;
  readonly kind: SeriesKind;
}

/** Separator that cannot occur in ids (they are restricted to [A-Za-z0-9_.-]). */
const SEP = '\u0000';
const STAGE = 'iip_raw_stage';
const DEADLOCK = '40P01';
const SERIALIZATION = '40001';

/** The insert-and-aggregate statement over `source`, which yields (series, ts, num, str, ord). */
function writeSql(source: string, levelsParam: string): string {
  return `
    WITH src AS (
      SELECT DISTINCT ON (series, ts) series, ts, num, str FROM ${source} ORDER BY series, ts, ord
    ), ins AS (
      INSERT INTO raw (series, ts, num, str) SELECT series, ts, num, str FROM src
      ON CONFLICT (series, ts) DO NOTHING
      RETURNING series, ts, num, str
    ), roll AS (
      INSERT INTO rollup AS r (level, series, bucket, vmin, vmax, vsum, n)
      SELECT l.level, i.series, i.ts - ((i.ts % l.level) + l.level) % l.level, min(i.num), max(i.num), sum(i.num), count(*)
        FROM ins i CROSS JOIN unnest(${levelsParam}::bigint[]) AS l(level)
       WHERE i.num IS NOT NULL
       GROUP BY 1, 2, 3
       ORDER BY 1, 2, 3
      ON CONFLICT (level, series, bucket) DO UPDATE SET
        vmin = least(r.vmin, excluded.vmin), vmax = greatest(r.vmax, excluded.vmax),
        vsum = r.vsum + excluded.vsum, n = r.n + excluded.n
    ), lat AS (
      INSERT INTO latest AS lt (series, ts, num, str)
      SELECT DISTINCT ON (series) series, ts, num, str FROM ins ORDER BY series, ts DESC
      ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, num = excluded.num, str = excluded.str
       WHERE excluded.ts > lt.ts
    )
    SELECT count(*)::int AS inserted FROM ins`;
}

/** The fast path's rollup cells and latest values, from parameter arrays (rows sorted by key). */
const ROLLUP_CELLS_SQL = `
  INSERT INTO rollup AS r (level, series, bucket, vmin, vmax, vsum, n)
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::bigint[])
  ON CONFLICT (level, series, bucket) DO UPDATE SET
    vmin = least(r.vmin, excluded.vmin), vmax = greatest(r.vmax, excluded.vmax),
    vsum = r.vsum + excluded.vsum, n = r.n + excluded.n`;
const LATEST_ROWS_SQL = `
  INSERT INTO latest AS lt (series, ts, num, str)
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::text[])
  ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, num = excluded.num, str = excluded.str
   WHERE excluded.ts > lt.ts`;

const UNNEST_SQL = writeSql(
  'unnest($1::bigint[], $2::bigint[], $3::float8[], $4::text[]) WITH ORDINALITY AS s(series, ts, num, str, ord)',
  '$5',
);
const STAGE_SQL = writeSql(STAGE, '$1');

/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
function copyText(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** COPY text lines (series, ts, num, str[, ord]) in chunks of 2,000 rows. */
function* copyChunks(rows: readonly RawRow[], withOrd: boolean): Generator<string> {
  const CHUNK = 2_000;
  for (let i = 0; i < rows.length; i += CHUNK) {
    let out = '';
    const end = Math.min(rows.length, i + CHUNK);
    for (let j = i; j < end; j++) {
      const r = rows[j]!;
      out += `${r.series}\t${r.ts}\t${r.num === null ? '\\N' : String(r.num)}\t${r.str === null ? '\\N' : copyText(r.str)}${withOrd ? `\t${j}` : ''}\n`;
    }
    yield out;
  }
}

/** Rollup cells of rows as parameter arrays, ordered by (level, series, bucket). */
function rollupParams(rows: readonly RawRow[], levels: readonly number[]): unknown[][] {
  const acc = new RollupAccumulator(levels);
  for (const r of rows) if (r.num !== null) acc.add(r.series, r.ts, r.num);
  const cells: Array<[number, number, number, number, number, number, number]> = [];
  acc.forEach((level, series, bucket, c) => {
    cells.push([level, series, bucket, c.min, c.max, c.sum, c.count]);
  });
  cells.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return [0, 1, 2, 3, 4, 5, 6].map((k) => cells.map((c) => c[k]));
}

/** The newest row of each series as parameter arrays, ordered by series. */
function latestParams(rows: readonly RawRow[]): unknown[][] {
  const newest = new Map<number, RawRow>();
  for (const r of rows) {
    const prev = newest.get(r.series);
    if (!prev || r.ts > prev.ts) newest.set(r.series, r);
  }
  const out = [...newest.values()].sort((a, b) => a.series - b.series);
  return [out.map((r) => r.series), out.map((r) => r.ts), out.map((r) => r.num), out.map((r) => r.str)];
}

export interface PgTelemetryOptions {
  /** Batches of at least this many rows go through COPY; smaller ones through one unnest statement. */
  readonly copyThreshold?: number;
}

export class PgTelemetryStore implements TelemetryStore {
  readonly rollupLevels: readonly number[] = DEFAULT_ROLLUP_LEVELS;
  /** tenant SEP device → property → series. Nested so deleteDevice can drop one device's entries. */
  private readonly cache = new Map<string, Map<string, SeriesEntry>>();
  /** Pooled connections that already have the staging table (it lives as long as the connection). */
  private readonly staged = new WeakSet<pg.PoolClient>();
  private readonly copyThreshold: number;

  constructor(
    private readonly db: PgDb,
    private readonly partitions: RawPartitions,
    opts: PgTelemetryOptions = {},
  ) {
    this.copyThreshold = Math.max(1, opts.copyThreshold ?? 1_000);
  }

  async seriesId(key: SeriesKey, kind: SeriesKind): Promise<number> {
    const dk = key.tenant + SEP + key.device;
    let e = this.cache.get(dk)?.get(key.property);
    if (!e) {
      e = await this.loadOrCreateSeries(key, kind);
      let props = this.cache.get(dk);
      if (!props) {
        props = new Map();
        this.cache.set(dk, props);
      }
      props.set(key.property, e);
    }
    if (e.kind !== kind) {
      throw new IipError(
        'IIP_ERR_STORAGE_SERIES_KIND',
        `series ${key.device}.${key.property} holds kind "${e.kind}", cannot store kind "${kind}"`,
        { tenant: key.tenant, device: key.device, property: key.property, stored: e.kind, requested: kind },
      );
    }
    return e.id;
  }

  /** INSERT … ON CONFLICT DO NOTHING, then a fresh SELECT: two processes creating one series get one id. */
  private async loadOrCreateSeries(key: SeriesKey, kind: SeriesKind): Promise<SeriesEntry> {
    const created = await this.db.rows<SeriesEntry>(
      `INSERT INTO series (tenant, device, property, kind) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant, device, property) DO NOTHING RETURNING id, kind`,
      [key.tenant, key.device, key.property, kind],
    );
    if (created[0]) return created[0];
    const found = await this.db.rows<SeriesEntry>('SELECT id, kind FROM series WHERE tenant = $1 AND device = $2 AND property = $3', [
      key.tenant,
      key.device,
      key.property,
    ]);
    if (!found[0]) {
      // Deleted between the two statements; a fresh attempt creates it again.
      return this.loadOrCreateSeries(key, kind);
    }
    return found[0];
  }

  async listSeries(tenant: TenantId, device: DeviceId): Promise<Array<{ id: number; property: string; kind: SeriesKind }>> {
    return this.db.rows('SELECT id, property, kind FROM series WHERE tenant = $1 AND device = $2 ORDER BY property', [tenant, device]);
  }

  async write(rows: readonly RawRow[]): Promise<{ inserted: number; duplicates: number }> {
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    const days = new Set<number>();
    for (const r of rows) days.add(dayOf(r.ts));
    await this.partitions.ensure(days);
    for (let attempt = 1; ; attempt++) {
      try {
        let inserted: number;
        if (rows.length < this.copyThreshold) inserted = await this.writeByUnnest(rows);
        else inserted = (await this.writeAllNew(rows)) ?? (await this.writeByCopy(rows));
        return { inserted, duplicates: rows.length - inserted };
      } catch (e) {
        const code = pgErrorCode(e);
        if (attempt >= 5) throw e;
        if (code === PG_NO_PARTITION && /no partition/i.test(String(e))) {
          // A retention run dropped a partition this process still believed in: re-read, create, retry.
          await this.partitions.refresh();
          await this.partitions.ensure(days);
          continue;
        }
        // The statement rolled back as a whole; running it again is safe.
        if (code === DEADLOCK || code === SERIALIZATION) continue;
        throw e;
      }
    }
  }

  private async writeByUnnest(rows: readonly RawRow[]): Promise<number> {
    const n = rows.length;
    const series = new Array<number>(n);
    const ts = new Array<number>(n);
    const num = new Array<number | null>(n);
    const str = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      series[i] = r.series;
      ts[i] = r.ts;
      num[i] = r.num;
      str[i] = r.str;
    }
    const res = await this.db.rows<{ inserted: number }>(UNNEST_SQL, [series, ts, num, str, this.rollupLevels]);
    return res[0]!.inserted;
  }

  /**
   * The fast path: COPY into raw, then rollups and latest values from here, in one transaction. Resolves to
   * the number of rows, or to undefined (rolled back, nothing written) when one of them was already stored.
   */
  private async writeAllNew(rows: readonly RawRow[]): Promise<number | undefined> {
    return this.db.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await pipeline(Readable.from(copyChunks(rows, false)), c.query(copyFrom('COPY raw (series, ts, num, str) FROM STDIN')));
        await c.query(ROLLUP_CELLS_SQL, rollupParams(rows, this.rollupLevels));
        await c.query(LATEST_ROWS_SQL, latestParams(rows));
        await c.query('COMMIT');
        return rows.length;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) return undefined;
        throw e;
      }
    });
  }

  private async writeByCopy(rows: readonly RawRow[]): Promise<number> {
    return this.db.withClient(async (c) => {
      if (!this.staged.has(c)) {
        await c.query(
          `CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (series bigint, ts bigint, num float8, str text, ord int) ON COMMIT DELETE ROWS`,
        );
        this.staged.add(c);
      }
      await c.query('BEGIN');
      try {
        await pipeline(Readable.from(copyChunks(rows, true)), c.query(copyFrom(`COPY ${STAGE} (series, ts, num, str, ord) FROM STDIN`)));
        const res = await c.query<{ inserted: number }>(STAGE_SQL, [this.rollupLevels]);
        await c.query('COMMIT');
        return res.rows[0]!.inserted;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  async latest(series: readonly number[]): Promise<RawRow[]> {
    if (series.length === 0) return [];
    return this.db.rows<RawRow>('SELECT series, ts, num, str FROM latest WHERE series = ANY($1::bigint[]) ORDER BY series', [series]);
  }

  async raw(series: number, from: number, to: number, limit: number): Promise<RawRow[]> {
    if (limit <= 0) return [];
    return this.db.rows<RawRow>('SELECT series, ts, num, str FROM raw WHERE series = $1 AND ts >= $2 AND ts < $3 ORDER BY ts LIMIT $4', [
      series,
      from,
      to,
      limit,
    ]);
  }

  async rollups(level: number, series: number, from: number, to: number): Promise<RollupRow[]> {
    if (!this.rollupLevels.includes(level)) {
      throw new IipError('IIP_ERR_VALIDATION', `rollup level ${level} ms is not maintained; use one of ${this.rollupLevels.join(', ')}`, {
        level,
        levels: [...this.rollupLevels],
      });
    }
    return this.db.rows<RollupRow>(
      `SELECT series, bucket, vmin AS min, vmax AS max, vsum AS sum, n AS count FROM rollup
        WHERE level = $1 AND series = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket`,
      [level, series, from, to],
    );
  }

  async deleteDevice(tenant: TenantId, device: DeviceId): Promise<void> {
    await this.db.tx(async (c) => {
      const { rows } = await c.query<{ id: number }>('SELECT id FROM series WHERE tenant = $1 AND device = $2 FOR UPDATE', [tenant, device]);
      if (rows.length === 0) return;
      const ids = rows.map((r) => r.id);
      await c.query('DELETE FROM raw WHERE series = ANY($1::bigint[])', [ids]);
      await c.query('DELETE FROM rollup WHERE level = ANY($1::bigint[]) AND series = ANY($2::bigint[])', [this.rollupLevels, ids]);
      await c.query('DELETE FROM latest WHERE series = ANY($1::bigint[])', [ids]);
      await c.query('DELETE FROM series WHERE id = ANY($1::bigint[])', [ids]);
    });
    this.cache.delete(tenant + SEP + device);
  }

  /**
   * Raw partitions are per UTC day for all tenants, so one tenant's retention cannot drop a partition: it deletes
   * that tenant's rows series by series, in batches by primary key (series, ts), each batch its own statement
   * (autocommit) that locks only the rows it deletes. `dropRawPartitionsBefore` on PostgresStorage stays the
   * cheap platform-wide maximum.
   */
  async deleteRawBefore(tenant: TenantId, cutoff: number, opts: RetentionBatchOptions = {}): Promise<number> {
    const batch = Math.max(1, opts.batchSize ?? DEFAULT_RETENTION_BATCH);
    let deleted = 0;
    for (const id of await this.tenantSeries(tenant)) {
      for (;;) {
        const res = await this.db.query(
          `DELETE FROM raw WHERE series = $1 AND ts IN (SELECT ts FROM raw WHERE series = $1 AND ts < $2 ORDER BY ts LIMIT $3)`,
          [id, cutoff, batch],
        );
        const n = res.rowCount ?? 0;
        deleted += n;
        if (n < batch) break;
      }
    }
    return deleted;
  }

  async deleteRollupsBefore(tenant: TenantId, level: number, cutoff: number, opts: RetentionBatchOptions = {}): Promise<number> {
    this.checkLevel(level);
    const batch = Math.max(1, opts.batchSize ?? DEFAULT_RETENTION_BATCH);
    let deleted = 0;
    for (const id of await this.tenantSeries(tenant)) {
      for (;;) {
        const res = await this.db.query(
          `DELETE FROM rollup WHERE level = $1 AND series = $2 AND bucket IN
             (SELECT bucket FROM rollup WHERE level = $1 AND series = $2 AND bucket <= $3 ORDER BY bucket LIMIT $4)`,
          [level, id, cutoff - level, batch],
        );
        const n = res.rowCount ?? 0;
        deleted += n;
        if (n < batch) break;
      }
    }
    return deleted;
  }

  async usage(tenant: TenantId, now: number): Promise<TelemetryUsage> {
    const day = utcDay(now);
    const rows = await this.db.rows<{ series: number; raw_n: number; raw_b: number; today: number; rollup_n: number }>(
      // One pass over the tenant's raw points for their number, string bytes and today's number.
      `WITH s AS (SELECT id FROM series WHERE tenant = $1),
            r AS (SELECT count(*) AS n, coalesce(sum(octet_length(str)), 0) AS b, count(*) FILTER (WHERE ts >= $2 AND ts < $3) AS today
                    FROM raw WHERE series IN (SELECT id FROM s))
       SELECT (SELECT count(*) FROM s)::bigint AS series, r.n::bigint AS raw_n, r.b::bigint AS raw_b, r.today::bigint AS today,
              (SELECT count(*) FROM rollup WHERE level = ANY($4::bigint[]) AND series IN (SELECT id FROM s))::bigint AS rollup_n
         FROM r`,
      [tenant, day.from, day.to, this.rollupLevels],
    );
    const r = rows[0]!;
    return {
      series: r.series,
      rawPoints: r.raw_n,
      pointsToday: r.today,
      rollupRows: r.rollup_n,
      storedBytes: estimateStoredBytes({ series: r.series, rawPoints: r.raw_n, rawStringBytes: r.raw_b, rollupRows: r.rollup_n }),
    };
  }

  private async tenantSeries(tenant: TenantId): Promise<number[]> {
    return (await this.db.rows<{ id: number }>('SELECT id FROM series WHERE tenant = $1 ORDER BY id', [tenant])).map((r) => r.id);
  }

  private checkLevel(level: number): void {
    if (!this.rollupLevels.includes(level)) {
      throw new IipError('IIP_ERR_VALIDATION', `rollup level ${level} ms is not maintained; use one of ${this.rollupLevels.join(', ')}`, {
        level,
        levels: [...this.rollupLevels],
      });
    }
  }

  /** The stores share one pool, so closing any of them closes it. */
  async close(): Promise<void> {
    await this.db.close();
  }
}
