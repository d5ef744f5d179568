/**
 * The raw stage of the SQLite telemetry store (issue 20, ADR 0012 amendment). raw is clustered by (series, ts): a
 * point is appended to its series' run of points. With ten thousand devices each sending a point per property a
 * second, every commit dirtied one B-tree page per series it carried, and every dirtied page is written whole to the
 * WAL and again by the checkpoint — 60,000 series made that ~24,000 pages a second after one minute of data, growing
 * towards one page per series, and the writer thread fell behind. Recent points are therefore written to raw_stage,
 * clustered by (bucket, series, ts) with ten-second buckets: a commit appends to the few pages of the current
 * buckets. Once MOVE_BUCKETS complete buckets are staged, the writer moves them into raw a range of series per
 * transaction, after each write about as many rows as it wrote (the stage drains at the pace it fills), so that each
 * series' page in raw is dirtied once a minute instead of once a second.
 *
 * Where a point is — one place at any moment, so that INSERT OR IGNORE on that table keeps the "stored once" rule
 * (TelemetryWriter.home): a bucket still staged keeps taking its points (a late re-send finds its original there),
 * except for the series a move in progress has already taken from it, whose points go to raw; a new bucket is staged
 * when it is at least the current one minus one and later than every bucket raw may hold points of (so a clock set
 * back never stages a bucket that raw has points of); every other point goes to raw as before. Moves take only
 * buckets older than the staged-from one. Every reader reads both tables in one read transaction: a move is one
 * transaction, so a point is seen exactly once.
 */
import type Database from 'better-sqlite3';

/** Width of a stage bucket (ms). */
export const STAGE_BUCKET_MS = 10_000;
/** The writer moves staged buckets into raw once this many complete ones are waiting (about a minute). */
export const MOVE_BUCKETS = 6;
/** Rows a move transaction takes at most (the series range of the next one is sized by the rows per series seen). */
export const MOVE_ROWS = 4_000;
/** Rows a move transaction takes at least (a move after a small write still makes headway). */
export const MOVE_MIN_ROWS = 500;

/** The stage bucket of a timestamp (truncated, like SQLite's integer division). */
export function bucketOf(ts: number): number {
  return Math.trunc(ts / STAGE_BUCKET_MS);
}

/** The stage is written for points in this bucket or a later one, at `now`. */
export function stageFrom(now: number): number {
  return bucketOf(now) - 1;
}

/**
 * The buckets present in raw_stage between `lo` and `hi` (inclusive), one index seek per bucket — a handful, since
 * the stage holds about a minute — as a JSON array for `bucket IN (SELECT value FROM json_each(?))`.
 */
export function stagedBucketsStatement(db: Database.Database): (lo: number, hi: number) => string {
  const st = db
    .prepare(
      `WITH RECURSIVE b(x) AS (
         SELECT (SELECT min(bucket) FROM raw_stage WHERE bucket >= @lo)
         UNION ALL
         SELECT (SELECT min(bucket) FROM raw_stage WHERE bucket > x) FROM b WHERE x IS NOT NULL AND x < @hi
       )
       SELECT x FROM b WHERE x IS NOT NULL AND x <= @hi`,
    )
    .pluck();
  return (lo, hi) => JSON.stringify(st.all({ lo: Math.max(lo, Number.MIN_SAFE_INTEGER), hi: Math.min(hi, Number.MAX_SAFE_INTEGER) }));
}

/**
 * The numeric points (ts, num) of one series in [@from, @to), from raw and from the staged buckets listed in
 * @buckets (a JSON array), in no particular order: what a fold adds to the rollups, and what a reader adds to them.
 */
export const NUMERIC_POINTS_SQL = `
  SELECT ts, num FROM raw WHERE series = @series AND ts >= @from AND ts < @to AND num IS NOT NULL
  UNION ALL
  SELECT ts, num FROM raw_stage
   WHERE bucket IN (SELECT value FROM json_each(@buckets)) AND series = @series AND ts >= @from AND ts < @to AND num IS NOT NULL`;

/** The bucket range holding timestamps in [from, to). */
export function bucketRange(from: number, to: number): [number, number] {
  return [bucketOf(Math.max(from, Number.MIN_SAFE_INTEGER)), bucketOf(Math.min(to, Number.MAX_SAFE_INTEGER) - 1)];
}
