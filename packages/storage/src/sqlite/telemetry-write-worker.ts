/**
 * The telemetry writer thread's body (see telemetry-write-thread.ts): its own connection to the platform's SQLite
 * file and a TelemetryWriter, one transaction per request, answered when it is committed. It also folds rollups
 * (telemetry-writer.ts): with the writes, every FOLD_IDLE_EVERY_MS when they pause, and on request (retention,
 * usage). Requests arrive packed (three numbers per row in a transferred Float64Array, strings beside it), so
 * handing a batch over costs no object copies on the thread that serves devices.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { RawRow, SeriesKind } from '../ports.js';
import { configureConnection } from './sqlite-connection.js';
import { FOLD_IDLE_EVERY_MS, type FoldJob, TelemetryWriter } from './telemetry-writer.js';

export interface WriteRequest {
  readonly type: 'write';
  readonly id: number;
  readonly n: number;
  /** series, ts, num per row; num is NaN where the row has none (a string or an array value). */
  readonly nums: Float64Array;
  /** The string (or JSON array) of each row, null where it has a number; absent when no row has one. */
  readonly strs: ReadonlyArray<string | null> | null;
}

/** Folds points into the rollups (telemetry-writer.ts): those before `before`, or all, of one tenant. */
export interface FoldRequest {
  readonly type: 'fold';
  readonly id: number;
  readonly tenant: string;
  readonly before?: number;
}

/** Series to find or create (one transaction for all): creating them here keeps those writes off the main thread too. */
export interface SeriesRequest {
  readonly type: 'series';
  readonly id: number;
  readonly keys: ReadonlyArray<{ readonly tenant: string; readonly device: string; readonly property: string; readonly kind: SeriesKind }>;
}

export type WriteReply =
  | { readonly id: number; readonly inserted: number; readonly duplicates: number }
  | { readonly id: number; readonly series: ReadonlyArray<{ readonly id: number; readonly kind: SeriesKind }> }
  | { readonly id: number; readonly folded: true }
  | { readonly id: number; readonly error: { readonly message: string; readonly code?: string } };

const { file, rollupLevels, cacheMiB, done } = workerData as { file: string; rollupLevels: number[]; cacheMiB: number; done: Int32Array };
if (!parentPort) throw new Error('telemetry-write-worker runs as a worker thread');
const port: MessagePort = parentPort;

const db = new Database(file);
configureConnection(db, cacheMiB);
const writer = new TelemetryWriter(db, rollupLevels);
// A previous run's points not folded yet are folded once idle; folds due are made when writes pause too.
writer.loadPending();
const foldTimer = setInterval(() => {
  try {
    writer.foldIdle();
    writer.moveIdle();
  } catch {
    // SQLITE_BUSY beyond busy_timeout or the like: the next turn folds them (reads are exact meanwhile).
  }
}, FOLD_IDLE_EVERY_MS);
const findSeries = db.prepare('SELECT id, kind FROM series WHERE tenant = ? AND device = ? AND property = ?');
const createSeries = db.prepare('INSERT INTO series (tenant, device, property, kind) VALUES (?, ?, ?, ?)');
const resolveSeries = db
  .transaction((keys: SeriesRequest['keys']) =>
    keys.map((k) => {
      const found = findSeries.get(k.tenant, k.device, k.property) as { id: number; kind: SeriesKind } | undefined;
      return found ? { id: found.id, kind: found.kind } : { id: Number(createSeries.run(k.tenant, k.device, k.property, k.kind).lastInsertRowid), kind: k.kind };
    }),
  )
  .immediate;

/**
 * Staged points move into raw a transaction at a time after the writes already waiting (raw-stage.ts), as many rows
 * as were written since (within TelemetryWriter.moveSome's bounds): a write's reply never waits for a move, a move
 * waits for no more than the writes queued before it, and the stage drains at the pace it fills.
 */
let owed = 0;
let moveScheduled = false;
function scheduleMove(written: number): void {
  owed += written;
  if (moveScheduled) return;
  moveScheduled = true;
  setImmediate(() => {
    moveScheduled = false;
    try {
      const moved = db.open ? writer.moveSome(owed) : 0;
      // Nothing to move: nothing is owed either (the stage fills until a move is due).
      owed = moved === 0 ? 0 : Math.max(0, owed - moved);
      if (owed > 0) scheduleMove(0);
    } catch {
      // SQLITE_BUSY beyond busy_timeout or the like: the next write or idle turn goes on with it.
    }
  });
}

/** Answers request `id` with the failure (its message, and SQLite's code when it has one). */
function replyError(id: number, e: unknown): void {
  const err = e as Error & { code?: string };
  port.postMessage({ id, error: { message: err.message ?? String(e), ...(err.code ? { code: err.code } : {}) } } satisfies WriteReply);
}

/** Makes a fold plan a transaction of FOLD_PER_WRITE series at a time, writes between them (TelemetryWriter.foldSome). */
function fold(m: FoldRequest): void {
  let jobs: FoldJob[];
  try {
    jobs = m.before === undefined ? writer.planFoldAll(m.tenant) : writer.planFoldBefore(m.before, m.tenant);
  } catch (e) {
    replyError(m.id, e);
    return;
  }
  const step = (from: number): void => {
    try {
      const next = writer.foldSome(jobs, from);
      if (next < jobs.length) setImmediate(() => step(next));
      else port.postMessage({ id: m.id, folded: true } satisfies WriteReply);
    } catch (e) {
      replyError(m.id, e);
    }
  };
  step(0);
}

port.on('message', (m: WriteRequest | SeriesRequest | FoldRequest | { readonly close: true }) => {
  if ('close' in m) {
    clearInterval(foldTimer);
    db.close();
    port.close();
    return;
  }
  try {
    if (m.type === 'fold') fold(m);
    else if (m.type === 'series') port.postMessage({ id: m.id, series: resolveSeries(m.keys) } satisfies WriteReply);
    else {
      try {
        const rows: RawRow[] = new Array(m.n);
        const nums = m.nums;
        for (let i = 0; i < m.n; i++) {
          const num = nums[i * 3 + 2] as number;
          rows[i] = { series: nums[i * 3] as number, ts: nums[i * 3 + 1] as number, num: Number.isNaN(num) ? null : num, str: m.strs ? (m.strs[i] ?? null) : null };
        }
        const r = writer.write(rows);
        port.postMessage({ id: m.id, inserted: r.inserted, duplicates: r.duplicates } satisfies WriteReply);
      } finally {
        // Over, committed or not: the main thread may hand over the next write before it reads this one's answer.
        Atomics.add(done, 0, 1);
      }
      scheduleMove(m.n);
    }
  } catch (e) {
    replyError(m.id, e);
  }
});
