/**
 * The SQLite telemetry write path. One write() is one BEGIN IMMEDIATE transaction: raw points sorted by (series,
 * ts) and inserted 100 rows per statement (INSERT OR IGNORE, so a re-delivered (series, ts) is stored once), the
 * latest value per series (only when newer), and rollups. IMMEDIATE takes the write lock at BEGIN, so another
 * connection writing the same file (the CLI, a second process) waits for it (busy_timeout) instead of failing on
 * a stale snapshot.
 *
 * Rollups are folded, not kept per point (issue 20). Upserting three rollup cells for every point was three
 * quarters of a write's cost: with thousands of series each sending a point a second, every point dirtied pages
 * of its own in three places. Instead each numeric series has a fold mark (table rollup_fold): its raw points
 * before the mark are in the rollups, those at or after it are not yet. When a series' newest point enters a new
 * minute (a minute past the mark, plus an offset of its own so that series sending in step are not all due in the
 * same second), the points of the completed minutes are folded — read back from raw (pages just written) and added
 * to every level in one upsert per cell — and the mark moves; at most FOLD_PER_WRITE series per transaction. A
 * point that arrives behind the mark (backfill, a late re-send) is added to the rollups at once, as before. A
 * series written to no more for IDLE_FOLD_MS is folded whole (foldIdle). Every fold adds exactly the points in
 * [mark, new mark), so a mark need not sit on a minute edge.
 *
 * Readers see exact rollups at every moment: SqliteTelemetryStore.rollups() adds the points at or after the mark
 * to the stored cells, in one read transaction. Retention and usage fold the series first (foldBefore, foldAll).
 * The marks in memory are the ones in the file: they are loaded from it and changed only with it, after a commit.
 */
import type Database from 'better-sqlite3';
import type { RawRow } from '../ports.js';
import { RollupAccumulator } from '../rollup-accumulator.js';
import { bucketOf, bucketRange, MOVE_BUCKETS, MOVE_MIN_ROWS, MOVE_ROWS, NUMERIC_POINTS_SQL, STAGE_BUCKET_MS, stagedBucketsStatement, stageFrom } from './raw-stage.js';

/** Rows per multi-row INSERT (4 or 5 parameters each, well under SQLite's limit of 32,766). */
const INSERT_CHUNK = 100;
/** A latest value is replaced only by a later one. */
const LATEST_UPSERT = 'ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, num = excluded.num, str = excluded.str WHERE excluded.ts > latest.ts';
/** Series folded at most per write transaction (the rest wait for the next ones). */
export const FOLD_PER_WRITE = 200;
/** loadPending() reads the marks of all series at once when there are at most this many. */
const PRELOAD_MARKS = 250_000;
/** How often whoever writes calls foldIdle() (the writer thread; the store, writing inline). */
export const FOLD_IDLE_EVERY_MS = 5_000;
/** A series not written to for this long is folded whole (foldIdle). */
export const IDLE_FOLD_MS = 60_000;
/** foldIdle() folds in a transaction of its own only when no write came for this long (writes fold otherwise). */
const WRITE_PAUSE_MS = 1_000;
/** The fold mark of a series that has never been folded: everything it holds is before no mark. */
const NO_MARK = Number.MIN_SAFE_INTEGER;

/** A fold to make: [series id, fold its points before this ts]. */
export type FoldJob = readonly [number, number];

/** One numeric series' fold state, as in the file (mark) plus what this writer saw of it. */
interface FoldState {
  /** Raw points with ts < mark are in the rollups. */
  mark: number;
  /** Newest ts written by this writer (or found pending at start). */
  newest: number;
  /** Date.now() of its last write here (0: found pending at start). */
  lastWrite: number;
  /** For a series never folded (mark NO_MARK): the minute of its first point here, from which its first fold is due. */
  base: number;
}

function bySeriesThenTs(a: RawRow, b: RawRow): number {
  return a.series - b.series || a.ts - b.ts;
}

export interface WriteResult {
  inserted: number;
  duplicates: number;
}

/** A move of staged buckets into raw in progress: the next transaction moves series from `cursor` on. */
interface Move {
  readonly buckets: readonly number[];
  readonly json: string;
  cursor: number;
  /** Rows per series id in the ranges moved so far. */
  rowsPerSeries: number;
}

export class TelemetryWriter {
  private readonly s;
  private readonly params: Array<number | string | null> = new Array(INSERT_CHUNK * 4);
  private readonly stageParams: Array<number | string | null> = new Array(INSERT_CHUNK * 5);
  /** Buckets that may hold points in raw_stage (raw-stage.ts); this writer is the only one adding to it. */
  private readonly staged = new Set<number>();
  /** No bucket up to this one may be newly staged: raw may hold points of it (moved, or written there). */
  private rawUpTo: number;
  private move: Move | undefined;
  private readonly moveTx: (m: Move, hi: number) => number;
  private readonly tx: (rows: readonly RawRow[]) => { result: WriteResult; marks: Map<number, number> };
  private readonly foldTx: (jobs: readonly FoldJob[]) => Map<number, number>;
  /** The finest rollup level: a series is folded when its newest point enters a new bucket of it. */
  private readonly finest: number;
  /** Fold states of the numeric series this writer has written or found pending, by series id. */
  private readonly states = new Map<number, FoldState>();
  /** Marks read from the file when it was opened (see loadPending), so that a series' first write here needs no look-up. */
  private readonly knownMarks = new Map<number, number>();
  /**
   * Every mark of the file is in memory (states or knownMarks): loadPending() read them all, and only this writer
   * adds marks. A series found in neither has none, so its first write asks nothing of the file (ten thousand
   * devices' first messages were 60,000 look-ups in the first second, issue 20).
   */
  private marksComplete = false;
  /**
   * Series waiting to be folded, in the order they became due: false, their completed minutes; true, everything
   * (idle, see foldIdle).
   */
  private readonly due = new Map<number, boolean>();
  /** Date.now() of the last write. */
  private lastWriteAt = 0;

  constructor(
    db: Database.Database,
    private readonly rollupLevels: readonly number[],
    private readonly now: () => number = Date.now,
  ) {
    this.finest = rollupLevels.length > 0 ? Math.min(...rollupLevels) : 0;
    this.s = {
      insertRaw: db.prepare('INSERT OR IGNORE INTO raw (series, ts, num, str) VALUES (?, ?, ?, ?)'),
      insertChunk: db.prepare(`INSERT OR IGNORE INTO raw (series, ts, num, str) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?)').join(', ')}`),
      insertStage: db.prepare('INSERT OR IGNORE INTO raw_stage (bucket, series, ts, num, str) VALUES (?, ?, ?, ?, ?)'),
      insertStageChunk: db.prepare(`INSERT OR IGNORE INTO raw_stage (bucket, series, ts, num, str) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?, ?)').join(', ')}`),
      moveRows: db.prepare(
        `INSERT OR IGNORE INTO raw (series, ts, num, str)
         SELECT series, ts, num, str FROM raw_stage WHERE bucket IN (SELECT value FROM json_each(?)) AND series >= ? AND series < ? ORDER BY series, ts`,
      ),
      unstage: db.prepare('DELETE FROM raw_stage WHERE bucket IN (SELECT value FROM json_each(?)) AND series >= ? AND series < ?'),
      nextStaged: db.prepare('SELECT series FROM raw_stage WHERE bucket = ? AND series >= ? ORDER BY series LIMIT 1').pluck(),
      countStaged: db.prepare('SELECT count(*) FROM raw_stage WHERE bucket IN (SELECT value FROM json_each(?)) AND series = ?').pluck(),
      savepoint: db.prepare('SAVEPOINT telemetry_write'),
      rollbackTo: db.prepare('ROLLBACK TO telemetry_write'),
      release: db.prepare('RELEASE telemetry_write'),
      upsertRollup: db.prepare(
        `INSERT INTO rollup (level, series, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (level, series, bucket) DO UPDATE SET
           vmin = min(vmin, excluded.vmin), vmax = max(vmax, excluded.vmax),
           vsum = vsum + excluded.vsum, n = n + excluded.n`,
      ),
      mark: db.prepare('SELECT folded_to FROM rollup_fold WHERE series = ?').pluck(),
      countMarks: db.prepare('SELECT count(*) FROM rollup_fold').pluck(),
      allMarks: db.prepare('SELECT series, folded_to FROM rollup_fold').raw(),
      // Numeric series (of one tenant, or all when both parameters are null) with a newest point at or after their mark.
      pending: db.prepare(
        `SELECT l.series AS id, l.ts AS newest, coalesce(f.folded_to, ${NO_MARK}) AS mark
           FROM latest l JOIN series s ON s.id = l.series LEFT JOIN rollup_fold f ON f.series = l.series
          WHERE (? IS NULL OR s.tenant = ?) AND s.kind IN ('n', 'b') AND l.ts >= coalesce(f.folded_to, ${NO_MARK})`,
      ),
      setMark: db.prepare('INSERT INTO rollup_fold (series, folded_to) VALUES (?, ?) ON CONFLICT (series) DO UPDATE SET folded_to = excluded.folded_to'),
      // Order does not matter to a fold; the stage part seeks each staged bucket of the range.
      foldRange: db.prepare(NUMERIC_POINTS_SQL).raw(),
      upsertLatest: db.prepare(`INSERT INTO latest (series, ts, num, str) VALUES (?, ?, ?, ?) ${LATEST_UPSERT}`),
      // A statement per INSERT_CHUNK series: a statement per row cost about twice as much (issue 20).
      upsertLatestChunk: db.prepare(`INSERT INTO latest (series, ts, num, str) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?)').join(', ')} ${LATEST_UPSERT}`),
    };
    this.tx = db.transaction((rows: readonly RawRow[]) => this.writeRows(rows)).immediate;
    this.moveTx = db
      .transaction((m: Move, hi: number) => {
        const n = this.s.moveRows.run(m.json, m.cursor, hi).changes;
        this.s.unstage.run(m.json, m.cursor, hi);
        return n;
      })
      .immediate;
    const staged = stagedBucketsStatement(db)(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    for (const b of JSON.parse(staged) as number[]) this.staged.add(b);
    // Raw may hold points up to the staged-from bucket, and of the bucket of any latest value not staged (a latest
    // value outside the stage is a raw point: a device's clock ahead of ours puts it after now).
    const newestInRaw = db
      .prepare(`SELECT max(ts) FROM latest WHERE ts / ${STAGE_BUCKET_MS} NOT IN (SELECT value FROM json_each(?))`)
      .pluck()
      .get(staged) as number | null;
    this.rawUpTo = Math.max(stageFrom(now()) - 1, newestInRaw === null ? Number.MIN_SAFE_INTEGER : bucketOf(newestInRaw));
    this.foldTx = db
      .transaction((jobs: readonly FoldJob[]) => {
        const acc = new RollupAccumulator(this.rollupLevels);
        const marks = new Map<number, number>();
        for (const [series, upTo] of jobs) this.foldInto(acc, marks, series, upTo);
        this.upsertRollups(acc);
        return marks;
      })
      .immediate;
  }

  /** One transaction; `rows` may be reordered. */
  write(rows: RawRow[]): WriteResult {
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    const { result, marks } = this.tx(rows.sort(bySeriesThenTs));
    const at = this.now();
    this.lastWriteAt = at;
    if (this.finest === 0) return result;
    // What was stored moves each series' newest — before the marks this transaction moved are applied, which
    // forget a series folded past its newest point (one folded whole here must keep the points just written).
    for (const r of rows) {
      const st = r.num === null ? undefined : this.states.get(r.series);
      if (!st) continue;
      if (r.ts > st.newest) st.newest = r.ts;
      if (st.mark === NO_MARK && st.base === NO_MARK) st.base = Math.floor(r.ts / this.finest) * this.finest;
      st.lastWrite = at;
    }
    this.committed(marks);
    // A series whose newest entered a new minute is due for a fold.
    for (const r of rows) {
      const st = r.num === null || this.due.has(r.series) ? undefined : this.states.get(r.series);
      if (st && this.isDue(r.series, st)) this.due.set(r.series, false);
    }
    return result;
  }

  /**
   * Due for a fold once the newest point is a minute past the mark plus the series' own offset within the minute:
   * series sending in step all enter a new minute in the same second, and would all be folded in the next few
   * transactions; staggered, about 1/60 of them are folded in each second. The offset is the series id (modulo the
   * minute), so series with neighbouring ids are due together: their recent points share pages of raw_stage
   * (raw-stage.ts, clustered by bucket then series), and a fold of a thousand neighbours reads each page once
   * instead of once per series.
   */
  private isDue(series: number, st: FoldState): boolean {
    const from = st.mark === NO_MARK ? st.base : st.mark;
    if (from === NO_MARK) return false;
    return st.newest - from >= this.finest + (series % this.finest);
  }

  /**
   * Folds the points before `cutoff` not yet folded of every numeric series (of `tenant`, or all): retention calls
   * it before deleting raw points or rollup cells older than the cutoff.
   */
  foldBefore(cutoff: number, tenant?: string): void {
    this.foldJobs(this.planFoldBefore(cutoff, tenant));
  }

  /** Folds every point not yet folded (of `tenant`, or all): usage then counts every rollup cell. */
  foldAll(tenant?: string): void {
    this.foldJobs(this.planFoldAll(tenant));
  }

  /** The folds foldBefore() makes, to be made a transaction at a time with foldSome(). */
  planFoldBefore(cutoff: number, tenant?: string): FoldJob[] {
    if (this.finest === 0) return [];
    const jobs: FoldJob[] = [];
    for (const p of this.pending(tenant)) if (p.mark < cutoff) jobs.push([p.id, Math.min(cutoff, p.newest + 1)]);
    return jobs;
  }

  /** The folds foldAll() makes, to be made a transaction at a time with foldSome(). */
  planFoldAll(tenant?: string): FoldJob[] {
    if (this.finest === 0) return [];
    return this.pending(tenant).map((p): FoldJob => [p.id, p.newest + 1]);
  }

  /**
   * Makes FOLD_PER_WRITE of `jobs` from index `from` in one transaction; returns the index to go on from. The
   * writer thread makes a long plan this way, a transaction at a time with writes between them, so that a
   * retention pass or a usage reading over many series never holds up ingest for more than one of them.
   * A job whose series was folded that far meanwhile is nothing to do.
   */
  foldSome(jobs: readonly FoldJob[], from: number): number {
    const to = Math.min(jobs.length, from + FOLD_PER_WRITE);
    if (to > from) this.committed(this.foldTx(jobs.slice(from, to)));
    return to;
  }

  /**
   * Called every few seconds by whoever writes (the writer thread, or the store inline): series not written to for
   * IDLE_FOLD_MS become due to be folded whole, and when no write came for WRITE_PAUSE_MS (nobody else would fold
   * them), up to FOLD_PER_WRITE due series are folded in a transaction of their own. Returns how many it folded.
   */
  foldIdle(): number {
    if (this.finest === 0) return 0;
    const at = this.now();
    for (const [id, st] of this.states) {
      if (st.newest >= st.mark && at - st.lastWrite >= IDLE_FOLD_MS) this.due.set(id, true);
    }
    if (this.due.size === 0 || at - this.lastWriteAt < WRITE_PAUSE_MS) return 0;
    const jobs: FoldJob[] = [];
    for (const [id, whole] of this.due) {
      if (jobs.length >= FOLD_PER_WRITE) break;
      const upTo = this.dueUpTo(id, whole);
      if (upTo === undefined) this.due.delete(id);
      else jobs.push([id, upTo]);
    }
    this.foldJobs(jobs);
    return jobs.length;
  }

  /** Where a due series is folded up to; undefined when it is folded that far already (or unknown). */
  private dueUpTo(id: number, whole: boolean): number | undefined {
    const st = this.states.get(id);
    if (!st) return undefined;
    const upTo = whole ? st.newest + 1 : Math.floor(st.newest / this.finest) * this.finest;
    return upTo > st.mark ? upTo : undefined;
  }

  /**
   * Called once by whoever writes, when the file is opened: the series with points not yet folded (a previous run's)
   * are taken as idle (the next foldIdle() folds them), and the marks of up to PRELOAD_MARKS series are read in one
   * query — ten thousand devices sending their first messages together otherwise cost one look-up per series there.
   */
  loadPending(): void {
    if (this.finest === 0) return;
    for (const p of this.pending()) if (!this.states.has(p.id)) this.states.set(p.id, { mark: p.mark, newest: p.newest, lastWrite: 0, base: NO_MARK });
    if ((this.s.countMarks.get() as number) <= PRELOAD_MARKS) {
      for (const [id, mark] of this.s.allMarks.iterate() as Iterable<[number, number]>) if (!this.states.has(id)) this.knownMarks.set(id, mark);
      this.marksComplete = true;
    }
  }

  private foldJobs(jobs: readonly FoldJob[]): void {
    for (let i = 0; i < jobs.length; ) i = this.foldSome(jobs, i);
  }

  /** Numeric series (of `tenant`, or all) with a newest point at or after their mark: the file's newest and mark. */
  private pending(tenant?: string): Array<{ id: number; newest: number; mark: number }> {
    const t = tenant ?? null;
    return this.s.pending.all(t, t) as Array<{ id: number; newest: number; mark: number }>;
  }

  /** After a commit: the marks it moved, in memory too. A series folded up to its newest point is forgotten. */
  private committed(marks: Map<number, number>): void {
    for (const [id, mark] of marks) {
      const st = this.states.get(id);
      if (!st) continue;
      st.mark = mark;
      const whole = this.due.get(id);
      if (whole !== undefined && this.dueUpTo(id, whole) === undefined) this.due.delete(id);
      if (st.newest < mark) {
        this.states.delete(id);
        // The mark stays known (markOf answers from memory while marksComplete holds).
        if (this.marksComplete) this.knownMarks.set(id, mark);
        this.due.delete(id);
      }
    }
  }

  /** Folds one series' raw points in [mark, upTo) into `acc` and records its new mark (not before its mark). */
  private foldInto(acc: RollupAccumulator, marks: Map<number, number>, series: number, upTo: number): void {
    const mark = marks.get(series) ?? this.markOf(series);
    if (upTo <= mark) return;
    for (const [ts, num] of this.s.foldRange.iterate({ series, from: mark, to: upTo, buckets: this.stagedIn(mark, upTo) }) as Iterable<[number, number]>) acc.add(series, ts, num);
    this.s.setMark.run(series, upTo);
    marks.set(series, upTo);
  }

  /** The series' mark: from memory, else from the file (loaded into memory by the caller after commit). */
  private markOf(series: number): number {
    const st = this.states.get(series);
    if (st) return st.mark;
    const known = this.knownMarks.get(series);
    if (known !== undefined) return known;
    if (this.marksComplete) return NO_MARK;
    const m = this.s.mark.get(series) as number | undefined;
    return m ?? NO_MARK;
  }

  private writeRows(rows: readonly RawRow[]): { result: WriteResult; marks: Map<number, number> } {
    // Fast path: every row new. If any was already stored (a re-delivery), the batch is rolled back to the
    // savepoint and written row by row, so that exactly the new rows feed the rollups and latest values.
    this.s.savepoint.run();
    const stageFromBucket = Math.max(stageFrom(this.now()), this.rawUpTo + 1);
    if (this.insertChunked(rows, stageFromBucket) === rows.length) {
      this.s.release.run();
      const marks = this.aggregate(rows);
      return { result: { inserted: rows.length, duplicates: 0 }, marks };
    }
    this.s.rollbackTo.run();
    this.s.release.run();
    const { insertRaw, insertStage } = this.s;
    const stored: RawRow[] = [];
    for (const r of rows) {
      // `changes` is 0 when the (series, ts) key already existed: a duplicate, kept out of rollups.
      const b = bucketOf(r.ts);
      const changes = this.home(b, r.series, stageFromBucket) ? insertStage.run(b, r.series, r.ts, r.num, r.str).changes : insertRaw.run(r.series, r.ts, r.num, r.str).changes;
      if (changes !== 0) stored.push(r);
    }
    const marks = this.aggregate(stored);
    return { result: { inserted: stored.length, duplicates: rows.length - stored.length }, marks };
  }

  /**
   * Whether a point of bucket `b` and `series` is stored in raw_stage (true) or raw (raw-stage.ts): a staged bucket
   * keeps its points but for the series a move in progress has taken; a new bucket is staged from `stageFromBucket`.
   */
  private home(b: number, series: number, stageFromBucket: number): boolean {
    if (this.staged.has(b)) return !(this.move && series < this.move.cursor && this.move.buckets.includes(b));
    return b >= stageFromBucket;
  }

  /**
   * Inserts rows, INSERT_CHUNK per statement: into raw_stage or raw, where each belongs (home()); returns how many were
   * new. A bucket newly staged is noted before the insert; one written to raw can no longer be staged.
   */
  private insertChunked(rows: readonly RawRow[], stageFromBucket: number): number {
    let old: RawRow[] | undefined;
    const params = this.stageParams;
    const chunk = this.s.insertStageChunk;
    let inserted = 0;
    let k = 0;
    let lastBucket = Number.NaN;
    for (const r of rows) {
      const b = bucketOf(r.ts);
      if (!this.home(b, r.series, stageFromBucket)) {
        if (old) old.push(r);
        else old = [r];
        if (b > this.rawUpTo) this.rawUpTo = b;
        continue;
      }
      if (b !== lastBucket) {
        lastBucket = b;
        this.staged.add(b);
      }
      params[k++] = b;
      params[k++] = r.series;
      params[k++] = r.ts;
      params[k++] = r.num;
      params[k++] = r.str;
      if (k === params.length) {
        inserted += chunk.run(params).changes;
        k = 0;
      }
    }
    for (let i = 0; i < k; i += 5) inserted += this.s.insertStage.run(params[i], params[i + 1], params[i + 2], params[i + 3], params[i + 4]).changes;
    return old ? inserted + this.insertRawChunked(old) : inserted;
  }

  /** Inserts rows into raw, INSERT_CHUNK per statement; returns how many were new. */
  private insertRawChunked(rows: readonly RawRow[]): number {
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

  /** The staged buckets that may hold points in [from, to), as JSON for the fold's query. */
  private stagedIn(from: number, to: number): string {
    const [lo, hi] = bucketRange(from, to);
    const list: number[] = [];
    for (const b of this.staged) if (b >= lo && b <= hi) list.push(b);
    return JSON.stringify(list);
  }

  /**
   * Moves staged points into raw in one transaction of about `rows` rows, kept within MOVE_MIN_ROWS and MOVE_ROWS
   * (raw-stage.ts): starts a move once MOVE_BUCKETS complete buckets wait (or any, when `all`: writes have paused), and goes on with the one in
   * progress. Whoever writes calls it after each write with that write's rows, so the stage drains at the pace it
   * fills and a move's cost is spread over the minute instead of falling into a few seconds. Returns the rows moved,
   * at least 1 when a move transaction ran (0: nothing to move now).
   */
  moveSome(rows = MOVE_ROWS, all = false): number {
    if (!this.move) {
      const limit = stageFrom(this.now()) - 1;
      const ready = [...this.staged].filter((b) => b <= limit).sort((a, b) => a - b);
      if (ready.length === 0 || (ready.length < MOVE_BUCKETS && !all)) return 0;
      const first = this.firstStaged(ready, Number.MIN_SAFE_INTEGER);
      if (first === undefined) {
        for (const b of ready) this.staged.delete(b);
        return 0;
      }
      const json = JSON.stringify(ready);
      // The first series' rows: the estimate until the first range has been moved.
      this.move = { buckets: ready, json, cursor: first, rowsPerSeries: Math.max(1, this.s.countStaged.get(json, first) as number) };
    }
    const m = this.move;
    // The range of series is sized by the rows per series seen so far (series ids are dense, their points alike).
    const target = Math.min(MOVE_ROWS, Math.max(MOVE_MIN_ROWS, rows));
    const hi = m.cursor + Math.max(1, Math.round(target / m.rowsPerSeries));
    const n = this.moveTx(m, hi);
    const next = this.firstStaged(m.buckets, hi);
    if (n > 0) m.rowsPerSeries = Math.max(1, n / (hi - m.cursor));
    if (next !== undefined) m.cursor = next;
    else {
      for (const b of m.buckets) this.staged.delete(b);
      this.rawUpTo = Math.max(this.rawUpTo, m.buckets[m.buckets.length - 1] as number);
      this.move = undefined;
    }
    return Math.max(n, 1);
  }

  /**
   * Called with foldIdle() every few seconds: when no write came for WRITE_PAUSE_MS, moves what is staged and
   * complete, whatever its number of buckets (nobody else would), up to `transactions` transactions.
   */
  moveIdle(transactions = 50): void {
    if (this.now() - this.lastWriteAt < WRITE_PAUSE_MS) return;
    for (let i = 0; i < transactions; i++) if (this.moveSome(MOVE_ROWS, true) === 0) break;
  }

  /** The lowest series at or after `from` with points in any of `buckets`. */
  private firstStaged(buckets: readonly number[], from: number): number | undefined {
    let first: number | undefined;
    for (const b of buckets) {
      const s = this.s.nextStaged.get(b, from) as number | undefined;
      if (s !== undefined && (first === undefined || s < first)) first = s;
    }
    return first;
  }

  /**
   * Latest values (one upsert per series) of newly stored rows, and rollups: a numeric point behind its series'
   * mark goes into the rollups now; the others wait for their fold, which runs here for up to FOLD_PER_WRITE due
   * series. One upsert per touched cell. Returns the marks moved (applied in memory after the commit).
   */
  private aggregate(rows: readonly RawRow[]): Map<number, number> {
    const acc = new RollupAccumulator(this.rollupLevels);
    const newest = new Map<number, RawRow>();
    const folding = this.finest > 0;
    let lastSeries = Number.NaN;
    let mark = NO_MARK;
    for (const r of rows) {
      if (r.num !== null && folding) {
        if (r.series !== lastSeries) {
          lastSeries = r.series;
          let st = this.states.get(r.series);
          if (!st) {
            // First write of this series here: its mark from the file; kept in memory from now on (the state is
            // only read until the commit, so a rolled-back write leaves it as the file has it).
            st = { mark: this.markOf(r.series), newest: NO_MARK, lastWrite: 0, base: NO_MARK };
            this.states.set(r.series, st);
            this.knownMarks.delete(r.series);
          }
          mark = st.mark;
        }
        if (r.ts < mark) acc.add(r.series, r.ts, r.num);
      }
      const prev = newest.get(r.series);
      if (!prev || r.ts > prev.ts) newest.set(r.series, r);
    }
    const marks = new Map<number, number>();
    if (folding) {
      let n = 0;
      for (const [id, whole] of this.due) {
        if (n >= FOLD_PER_WRITE) break;
        const upTo = this.dueUpTo(id, whole);
        if (upTo === undefined) {
          this.due.delete(id);
          continue;
        }
        this.foldInto(acc, marks, id, upTo);
        n++;
      }
    }
    this.upsertRollups(acc);
    this.upsertLatest(newest.values());
    return marks;
  }

  /** Latest values, one row per series (the newest of the write), INSERT_CHUNK per statement. */
  private upsertLatest(rows: Iterable<RawRow>): void {
    const params = this.params;
    const chunk = this.s.upsertLatestChunk;
    let k = 0;
    for (const r of rows) {
      params[k++] = r.series;
      params[k++] = r.ts;
      params[k++] = r.num;
      params[k++] = r.str;
      if (k === params.length) {
        chunk.run(params);
        k = 0;
      }
    }
    for (let i = 0; i < k; i += 4) this.s.upsertLatest.run(params[i], params[i + 1], params[i + 2], params[i + 3]);
  }

  private upsertRollups(acc: RollupAccumulator): void {
    const upsertRollup = this.s.upsertRollup;
    acc.forEach((level, series, bucket, c) => {
      upsertRollup.run(level, series, bucket, c.min, c.max, c.sum, c.count);
    });
  }
}
