/**
 * The SQLite telemetry write path. One write() is one
 * BEGIN IMMEDIATE transaction: raw points sorted by (series, ts) and inserted 100 rows per statement
 * (INSERT OR IGNORE, so a re-delivered (series, ts) is stored once), then the rollups of the new points
 * (aggregated in memory, one upsert per (level, series, bucket)) and the latest value per series (only
 * when newer). IMMEDIATE takes the write lock at BEGIN, so another connection writing the same file (the
 * CLI, a second process) waits for it (busy_timeout) instead of failing on a stale snapshot.
 */
import type Database from 'better-sqlite3';
import type { RawRow } from '../ports.js';
import { RollupAccumulator } from '../rollup-accumulator.js';

/** Rows per multi-row INSERT (4 parameters each, well under SQLite's limit of 32,766). */
const INSERT_CHUNK = 100;

function bySeriesThenTs(a: RawRow, b: RawRow): number {
  return a.series - b.series || a.ts - b.ts;
}

export interface WriteResult {
  inserted: number;
  duplicates: number;
}

export class TelemetryWriter {
  private readonly s;
  private readonly params: Array<number | string | null> = new Array(INSERT_CHUNK * 4);
  private readonly tx: (rows: readonly RawRow[]) => WriteResult;

  constructor(
    db: Database.Database,
    private readonly rollupLevels: readonly number[],
  ) {
    this.s = {
      insertRaw: db.prepare('INSERT OR IGNORE INTO raw (series, ts, num, str) VALUES (?, ?, ?, ?)'),
      insertChunk: db.prepare(`INSERT OR IGNORE INTO raw (series, ts, num, str) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?)').join(', ')}`),
      savepoint: db.prepare('SAVEPOINT telemetry_write'),
      rollbackTo: db.prepare('ROLLBACK TO telemetry_write'),
      release: db.prepare('RELEASE telemetry_write'),
      upsertRollup: db.prepare(
        `INSERT INTO rollup (level, series, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (level, series, bucket) DO UPDATE SET
           vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax),
           vsum = vsum + excluded.vsum, n = n + excluded.n`,
      ),
      upsertLatest: db.prepare(
        `INSERT INTO latest (series, ts, num, str) VALUES (?, ?, ?, ?)
         ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, num = excluded.num, str = excluded.str
         WHERE excluded.ts > latest.ts`,
      ),
    };
    this.tx = db.transaction((rows: readonly RawRow[]) => this.writeRows(rows)).immediate;
  }

  /** One transaction; `rows` may be reordered. */
  write(rows: RawRow[]): WriteResult {
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    return this.tx(rows.sort(bySeriesThenTs));
  }

  private writeRows(rows: readonly RawRow[]): WriteResult {
    // Fast path: every row new. If any was already stored (a re-delivery), the batch is rolled back to the
    // savepoint and written row by row, so that exactly the new rows feed the rollups and latest values.
    this.s.savepoint.run();
    if (this.insertChunked(rows) === rows.length) {
      this.s.release.run();
      this.aggregate(rows);
      return { inserted: rows.length, duplicates: 0 };
    }
    this.s.rollbackTo.run();
    this.s.release.run();
    const insertRaw = this.s.insertRaw;
    const stored: RawRow[] = [];
    for (const r of rows) {
      // `changes` is 0 when the (series, ts) key already existed: a duplicate, kept out of rollups.
      if (insertRaw.run(r.series, r.ts, r.num, r.str).changes !== 0) stored.push(r);
    }
    this.aggregate(stored);
    return { inserted: stored.length, duplicates: rows.length - stored.length };
  }

  /** Inserts rows, INSERT_CHUNK per statement; returns how many were new. */
  private insertChunked(rows: readonly RawRow[]): number {
    const params = this.params;
    const chunk = this.s.insertChunk;
    let inserted = 0;
    let i = 0;
    for (; i + INSERT_CHUNK <= rows.length; i += INSERT_CHUNK) {
      for (let j = 0, k = 0; j < INSERT_CHUNK; j++) {
        const r = rows[i + j] as RawRow;
        params[k++] = r.series;
        params[k++] = r.ts;
        params[k++] = r.num;
        params[k++] = r.str;
      }
      inserted += chunk.run(params).changes;
    }
    for (; i < rows.length; i++) {
      const r = rows[i] as RawRow;
      inserted += this.s.insertRaw.run(r.series, r.ts, r.num, r.str).changes;
    }
    return inserted;
  }

  /** Rollups (one upsert per touched cell) and latest values (one upsert per series) of newly stored rows. */
  private aggregate(rows: readonly RawRow[]): void {
    const acc = new RollupAccumulator(this.rollupLevels);
    const newest = new Map<number, RawRow>();
    for (const r of rows) {
      if (r.num !== null) acc.add(r.series, r.ts, r.num);
      const prev = newest.get(r.series);
      if (!prev || r.ts > prev.ts) newest.set(r.series, r);
    }
    const upsertRollup = this.s.upsertRollup;
    acc.forEach((level, series, bucket, c) => {
      upsertRollup.run(level, series, bucket, c.min, c.max, c.sum, c.count);
    });
    const upsertLatest = this.s.upsertLatest;
    for (const r of newest.values()) upsertLatest.run(r.series, r.ts, r.num, r.str);
  }
}
