/**
 * The store-and-forward buffer: one SQLite file (WAL) in the gateway's data directory. Every reading is
 * committed here before anything is sent upstream, and a row is deleted only when the platform has
 * acknowledged it (PUBACK), so neither an uplink outage nor a crash of the gateway loses a committed point.
 * Rows are records `{ts, values}` of one device, grouped at the moment they are written; the uplink later
 * merges consecutive rows of a device into messages. The buffer is bounded by bytes and age; when over, the
 * oldest rows go first and are counted in `dropped`.
 *
 * Rows of a message the platform refused (it answered on `.../errors`) are not deleted but moved to the
 * `dead_letter` table with the platform's code and message, where they can be listed and sent again
 * (`iip edge dead-letter list|retry`); that table has its own byte bound, oldest dropped and counted.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DriverReading, IipError, type PointValue } from '@iip/core';
import Database from 'better-sqlite3';

export type BufferedKind = 'telemetry' | 'event';

export interface BufferedRow {
  readonly id: number;
  readonly kind: BufferedKind;
  readonly device: string;
  readonly ts: number;
  readonly points: number;
  /** UTF-8 size of body plus the per-row overhead. */
  readonly bytes: number;
  /** Telemetry: the JSON `values` object of one record. Event: the whole JSON event message. */
  readonly body: string;
}

/** A run of one device's rows of one kind, acknowledged together (all rows of that device and kind in [fromId, toId]). */
export interface AckSpan {
  readonly kind: BufferedKind;
  readonly device: string;
  readonly fromId: number;
  readonly toId: number;
}

export interface DiskBufferOptions {
  readonly path: string;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  /**
   * SQLite durability. FULL (default) fsyncs every commit, so a power cut keeps what was committed; NORMAL
   * survives a crash of this process but may lose the last commits on a power cut or kernel crash.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  readonly log?: BufferLog;
  readonly now?: () => number;
  /** Bound of the dead-letter table (body bytes plus per-row overhead); default 64 MiB. */
  readonly deadLetterMaxBytes?: number;
}

/** Why the platform refused a message: its IIP_ERR_* code and message, as sent on `.../errors`. */
export interface Rejection {
  readonly code: string;
  readonly message: string;
}

export interface DeadLetterStats {
  /** Points and rows in the dead-letter table now. */
  readonly points: number;
  readonly rows: number;
  readonly bytes: number;
  /** Points ever moved there, and points dropped from it by its bound (both since the file was created). */
  readonly total: number;
  readonly dropped: number;
  /** The last refusal: code, message, device and when (null before the first). */
  readonly last: { readonly code: string; readonly message: string; readonly device: string; readonly at: number } | null;
}

export interface DeadLetterRow {
  readonly id: number;
  readonly kind: BufferedKind;
  readonly device: string;
  readonly ts: number;
  readonly points: number;
  readonly code: string;
  readonly message: string;
  readonly rejectedAt: number;
  /** A retry was asked for; the running gateway moves it back into the buffer within a state interval. */
  readonly retry: boolean;
  readonly body: string;
}

export interface BufferStats {
  readonly points: number;
  readonly rows: number;
  /** Logical size: the JSON bodies plus a fixed per-row overhead (what maxBytes bounds). */
  readonly bytes: number;
  readonly oldestTs: number | null;
  /** Points dropped by the size and age bounds since the buffer file was created. */
  readonly dropped: number;
}

export interface PendingEvent {
  readonly device: string;
  readonly ts: number;
  readonly body: string;
}

export type BufferLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** The buffer's file name inside the gateway's dataDir. */
export const BUFFER_FILE = 'edge-buffer.db';

/** Per-row bookkeeping (id, kind, device, ts, counters) counted against maxBytes beside the body. */
export const ROW_OVERHEAD = 48;
/** The platform accepts ≤ 1000 points per message, so no single record may carry more. */
export const MAX_POINTS_PER_RECORD = 1000;

const KIND_CODE: Record<BufferedKind, number> = { telemetry: 0, event: 1 };

interface RawRow {
  id: number;
  kind: number;
  device: string;
  ts: number;
  points: number;
  bytes: number;
  body: string;
}

export class DiskBuffer {
  private readonly db: Database.Database;
  private points = 0;
  private rows = 0;
  private bytes = 0;
  private dropped = 0;
  /** Last timestamp written per device\0property: timestamps per series must strictly increase. */
  private readonly lastTs = new Map<string, number>();
  private readonly stmts;

  readonly path: string;
  private readonly limits: { readonly maxBytes: number; readonly maxAgeMs: number };
  private readonly log: BufferLog;
  private readonly now: () => number;
  private lastAgeCheck = 0;
  private readonly deadLetterMaxBytes: number;

  constructor(opts: DiskBufferOptions) {
    const path = opts.path;
    this.path = path;
    this.limits = { maxBytes: opts.maxBytes, maxAgeMs: opts.maxAgeMs };
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      // FULL by default: a power cut on the shop floor, not only a crash of this process, must keep what was
      // committed. docs/reference/edge-gateway.md has the measurement: with commits grouped per event-loop
      // turn the fsync costs little next to the uplink.
      this.db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS buffer (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          kind INTEGER NOT NULL,
          device TEXT NOT NULL,
          ts INTEGER NOT NULL,
          points INTEGER NOT NULL,
          bytes INTEGER NOT NULL,
          body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS series (device TEXT NOT NULL, property TEXT NOT NULL, last_ts INTEGER NOT NULL, PRIMARY KEY (device, property)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS dead_letter (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          kind INTEGER NOT NULL,
          device TEXT NOT NULL,
          ts INTEGER NOT NULL,
          points INTEGER NOT NULL,
          bytes INTEGER NOT NULL,
          body TEXT NOT NULL,
          code TEXT NOT NULL,
          message TEXT NOT NULL,
          rejected_at INTEGER NOT NULL,
          retry INTEGER NOT NULL DEFAULT 0
        );
      `);
    } catch (e) {
      throw new IipError('IIP_ERR_EDGE_BUFFER', `cannot open the disk buffer ${path}: ${(e as Error).message}`, { path });
    }
    // AUTOINCREMENT: ids are never reused, so a late PUBACK for dropped rows can never delete newer ones.
    this.stmts = {
      insert: this.db.prepare('INSERT INTO buffer (kind, device, ts, points, bytes, body) VALUES (?, ?, ?, ?, ?, ?)'),
      upsertSeries: this.db.prepare(
        'INSERT INTO series (device, property, last_ts) VALUES (?, ?, ?) ON CONFLICT (device, property) DO UPDATE SET last_ts = excluded.last_ts',
      ),
      readAfter: this.db.prepare('SELECT id, kind, device, ts, points, bytes, body FROM buffer WHERE id > ? ORDER BY id LIMIT ?'),
      ack: this.db.prepare('DELETE FROM buffer WHERE id BETWEEN ? AND ? AND device = ? AND kind = ? RETURNING points, bytes'),
      dropHead: this.db.prepare('DELETE FROM buffer WHERE id IN (SELECT id FROM buffer ORDER BY id LIMIT ?) RETURNING points, bytes'),
      dropOlder: this.db.prepare('DELETE FROM buffer WHERE id IN (SELECT id FROM buffer WHERE ts < ? ORDER BY id LIMIT ?) RETURNING points, bytes'),
      head: this.db.prepare('SELECT ts FROM buffer ORDER BY id LIMIT 1'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deadLetter: this.db.prepare(
        'INSERT INTO dead_letter (kind, device, ts, points, bytes, body, code, message, rejected_at) SELECT kind, device, ts, points, bytes, body, ?, ?, ? FROM buffer WHERE id BETWEEN ? AND ? AND device = ? AND kind = ? ORDER BY id',
      ),
      dlInsert: this.db.prepare('INSERT INTO dead_letter (kind, device, ts, points, bytes, body, code, message, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      dlDropHead: this.db.prepare('DELETE FROM dead_letter WHERE id IN (SELECT id FROM dead_letter ORDER BY id LIMIT ?) RETURNING points, bytes'),
      dlList: this.db.prepare('SELECT id, kind, device, ts, points, code, message, rejected_at, retry, body FROM dead_letter WHERE id > ? ORDER BY id LIMIT ?'),
      dlRetryAll: this.db.prepare('UPDATE dead_letter SET retry = 1 WHERE retry = 0'),
      dlRetryOne: this.db.prepare('UPDATE dead_letter SET retry = 1 WHERE id = ? AND retry = 0'),
      dlRequeue: this.db.prepare('INSERT INTO buffer (kind, device, ts, points, bytes, body) SELECT kind, device, ts, points, bytes, body FROM dead_letter WHERE retry = 1 ORDER BY id'),
      dlTakeRetried: this.db.prepare('DELETE FROM dead_letter WHERE retry = 1'),
      dlCount: this.db.prepare('SELECT count(*) AS rows, coalesce(sum(points), 0) AS points, coalesce(sum(bytes), 0) AS bytes FROM dead_letter'),
    };
    this.deadLetterMaxBytes = opts.deadLetterMaxBytes ?? 64 * 1024 * 1024;
    this.recount();
    this.dropped = Number(this.getMeta('dropped') ?? 0);
    for (const s of this.db.prepare('SELECT device, property, last_ts FROM series').iterate() as IterableIterator<{
      device: string;
      property: string;
      last_ts: number;
    }>) {
      this.lastTs.set(`${s.device}\0${s.property}`, s.last_ts);
    }
  }

  /**
   * Commits readings (grouped into one record per device and timestamp) and events in one transaction.
   * A reading whose timestamp is not after the last one of its series is moved to last + 1 ms: the platform
   * stores (series, ts) once, so an equal timestamp would silently replace nothing and lose the value.
   * Returns the number of points written.
   */
  append(readings: readonly DriverReading[], events: readonly PendingEvent[] = []): number {
    if (readings.length === 0 && events.length === 0) return 0;
    const records = new Map<string, { device: string; ts: number; values: Record<string, PointValue>; n: number }[]>();
    const touched = new Map<string, number>();
    for (const r of readings) {
      const key = `${r.device}\0${r.property}`;
      const last = this.lastTs.get(key);
      const ts = last !== undefined && r.ts <= last ? last + 1 : r.ts;
      this.lastTs.set(key, ts);
      touched.set(key, ts);
      const rk = `${r.device}\0${ts}`;
      let list = records.get(rk);
      if (!list) {
        list = [];
        records.set(rk, list);
      }
      let rec = list[list.length - 1];
      if (!rec || rec.n >= MAX_POINTS_PER_RECORD) {
        rec = { device: r.device, ts, values: {}, n: 0 };
        list.push(rec);
      }
      rec.values[r.property] = r.value;
      rec.n++;
    }
    let written = 0;
    try {
      this.db.transaction(() => {
        for (const list of records.values()) {
          for (const rec of list) {
            const body = JSON.stringify(rec.values);
            const bytes = Buffer.byteLength(body) + ROW_OVERHEAD;
            this.stmts.insert.run(KIND_CODE.telemetry, rec.device, rec.ts, rec.n, bytes, body);
            this.rows++;
            this.points += rec.n;
            this.bytes += bytes;
            written += rec.n;
          }
        }
        for (const ev of events) {
          const bytes = Buffer.byteLength(ev.body) + ROW_OVERHEAD;
          this.stmts.insert.run(KIND_CODE.event, ev.device, ev.ts, 0, bytes, ev.body);
          this.rows++;
          this.bytes += bytes;
        }
        for (const [key, ts] of touched) {
          const i = key.indexOf('\0');
          this.stmts.upsertSeries.run(key.slice(0, i), key.slice(i + 1), ts);
        }
      })();
    } catch (e) {
      // The transaction rolled back: recount from disk so the counters match what is really there.
      this.recount();
      throw new IipError('IIP_ERR_EDGE_BUFFER', `cannot write to the disk buffer ${this.path}: ${(e as Error).message}`, { path: this.path });
    }
    this.enforceLimits();
    return written;
  }

  /** The oldest rows after `afterId`, in id (arrival) order. */
  readAfter(afterId: number, limit: number): BufferedRow[] {
    return (this.stmts.readAfter.all(afterId, limit) as RawRow[]).map((r) => ({
      id: r.id,
      kind: r.kind === KIND_CODE.event ? 'event' : 'telemetry',
      device: r.device,
      ts: r.ts,
      points: r.points,
      bytes: r.bytes,
      body: r.body,
    }));
  }

  /** Deletes acknowledged rows; rows already dropped by the bounds are simply not there any more. */
  ack(spans: readonly AckSpan[]): { points: number; rows: number } {
    let points = 0;
    let rows = 0;
    this.db.transaction(() => {
      for (const s of spans) {
        for (const r of this.stmts.ack.all(s.fromId, s.toId, s.device, KIND_CODE[s.kind]) as { points: number; bytes: number }[]) {
          points += r.points;
          rows++;
          this.bytes -= r.bytes;
        }
      }
    })();
    this.points -= points;
    this.rows -= rows;
    return { points, rows };
  }

  /** Drops the oldest rows while the buffer is over maxBytes or its head is older than maxAgeMs. */
  enforceLimits(): number {
    let dropped = 0;
    let rowsDropped = 0;
    const take = (rs: { points: number; bytes: number }[]): void => {
      for (const r of rs) {
        dropped += r.points;
        rowsDropped++;
        this.bytes -= r.bytes;
        this.points -= r.points;
        this.rows--;
      }
    };
    while (this.bytes > this.limits.maxBytes && this.rows > 0) {
      const avg = this.bytes / this.rows;
      const n = Math.max(1, Math.ceil((this.bytes - this.limits.maxBytes) / avg));
      const rs = this.stmts.dropHead.all(n) as { points: number; bytes: number }[];
      if (rs.length === 0) {
        this.recount();
        break;
      }
      take(rs);
    }
    // The age bound is coarse (checked at most once a second): it guards days, not milliseconds.
    const now = this.now();
    const headTs = now - this.lastAgeCheck >= 1000 ? this.oldestTs() : null;
    if (headTs !== null) this.lastAgeCheck = now;
    const cutoff = now - this.limits.maxAgeMs;
    if (headTs !== null && headTs < cutoff) {
      for (;;) {
        const rs = this.stmts.dropOlder.all(cutoff, 10_000) as { points: number; bytes: number }[];
        if (rs.length === 0) break;
        take(rs);
      }
    }
    if (rowsDropped > 0) {
      this.dropped += dropped;
      this.setMeta('dropped', String(this.dropped));
      this.log('warn', 'edge buffer over its bounds: oldest data dropped', {
        droppedPoints: dropped,
        droppedRows: rowsDropped,
        totalDropped: this.dropped,
        maxBytes: this.limits.maxBytes,
        maxAgeMs: this.limits.maxAgeMs,
      });
    }
    return dropped;
  }

  /**
   * Moves the rows of refused messages from the buffer to the dead-letter table, with the platform's
   * reason, in one transaction; then applies the table's bound (oldest dropped, counted and logged).
   * Rows no longer in the buffer (dropped by its bounds meanwhile) are simply not there. Returns points moved.
   */
  deadLetter(items: readonly { readonly span: AckSpan; readonly rejection: Rejection; readonly payload?: string }[]): number {
    if (items.length === 0) return 0;
    const at = this.now();
    let moved = 0;
    let last: DeadLetterStats['last'] = null;
    this.db.transaction(() => {
      for (const { span, rejection, payload } of items) {
        this.stmts.deadLetter.run(rejection.code, rejection.message, at, span.fromId, span.toId, span.device, KIND_CODE[span.kind]);
        let found = 0;
        for (const r of this.stmts.ack.all(span.fromId, span.toId, span.device, KIND_CODE[span.kind]) as { points: number; bytes: number }[]) {
          found++;
          moved += r.points;
          this.points -= r.points;
          this.rows--;
          this.bytes -= r.bytes;
        }
        if (found === 0 && payload !== undefined && span.kind === 'telemetry') {
          // Refused after its PUBACK deleted the rows: keep the records from the message itself.
          for (const rec of JSON.parse(payload) as { ts: number; values: Record<string, unknown> }[]) {
            const body = JSON.stringify(rec.values);
            const n = Object.keys(rec.values).length;
            this.stmts.dlInsert.run(KIND_CODE.telemetry, span.device, rec.ts, n, Buffer.byteLength(body) + ROW_OVERHEAD, body, rejection.code, rejection.message, at);
            moved += n;
          }
        }
        last = { code: rejection.code, message: rejection.message, device: span.device, at };
      }
      this.setMeta('dead-letter-total', String(Number(this.getMeta('dead-letter-total') ?? 0) + moved));
      if (last) this.setMeta('dead-letter-last', JSON.stringify(last));
      let dl = this.stmts.dlCount.get() as { rows: number; points: number; bytes: number };
      let dropped = 0;
      while (dl.bytes > this.deadLetterMaxBytes && dl.rows > 0) {
        const n = Math.max(1, Math.ceil((dl.bytes - this.deadLetterMaxBytes) / (dl.bytes / dl.rows)));
        for (const r of this.stmts.dlDropHead.all(n) as { points: number }[]) dropped += r.points;
        dl = this.stmts.dlCount.get() as { rows: number; points: number; bytes: number };
      }
      if (dropped > 0) {
        const total = Number(this.getMeta('dead-letter-dropped') ?? 0) + dropped;
        this.setMeta('dead-letter-dropped', String(total));
        this.log('warn', 'dead-letter table over its bound: its oldest rows dropped', { droppedPoints: dropped, totalDropped: total, maxBytes: this.deadLetterMaxBytes });
      }
    })();
    return moved;
  }

  deadLetterStats(): DeadLetterStats {
    const dl = this.stmts.dlCount.get() as { rows: number; points: number; bytes: number };
    const last = this.getMeta('dead-letter-last');
    return {
      points: dl.points,
      rows: dl.rows,
      bytes: dl.bytes,
      total: Number(this.getMeta('dead-letter-total') ?? 0),
      dropped: Number(this.getMeta('dead-letter-dropped') ?? 0),
      last: last ? (JSON.parse(last) as DeadLetterStats['last']) : null,
    };
  }

  /** Dead-letter rows after `afterId`, oldest first. */
  listDeadLetter(afterId = 0, limit = 100): DeadLetterRow[] {
    return (
      this.stmts.dlList.all(afterId, limit) as {
        id: number;
        kind: number;
        device: string;
        ts: number;
        points: number;
        code: string;
        message: string;
        rejected_at: number;
        retry: number;
        body: string;
      }[]
    ).map((r) => ({
      id: r.id,
      kind: r.kind === KIND_CODE.event ? 'event' : 'telemetry',
      device: r.device,
      ts: r.ts,
      points: r.points,
      code: r.code,
      message: r.message,
      rejectedAt: r.rejected_at,
      retry: r.retry === 1,
      body: r.body,
    }));
  }

  /**
   * Marks dead-letter rows (all, or the given ids) to be sent again. Only marks them, so it is safe from
   * another process (the CLI) while the gateway runs; the gateway moves them with `requeueRetried`.
   */
  requestRetry(ids?: readonly number[]): number {
    if (!ids) return this.stmts.dlRetryAll.run().changes;
    let n = 0;
    this.db.transaction(() => {
      for (const id of ids) n += this.stmts.dlRetryOne.run(id).changes;
    })();
    return n;
  }

  /** Moves the rows marked for retry back into the buffer (as the newest rows). Returns rows moved. */
  requeueRetried(): number {
    let moved = 0;
    this.db.transaction(() => {
      moved = this.stmts.dlRequeue.run().changes;
      if (moved > 0) this.stmts.dlTakeRetried.run();
    })();
    if (moved > 0) {
      this.recount();
      this.log('info', 'dead-letter rows moved back into the buffer to be sent again', { rows: moved });
    }
    return moved;
  }

  oldestTs(): number | null {
    const r = this.stmts.head.get() as { ts: number } | undefined;
    return r ? r.ts : null;
  }

  stats(): BufferStats {
    return { points: this.points, rows: this.rows, bytes: this.bytes, oldestTs: this.oldestTs(), dropped: this.dropped };
  }

  getMeta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private recount(): void {
    const t = this.db.prepare('SELECT count(*) AS rows, coalesce(sum(points), 0) AS points, coalesce(sum(bytes), 0) AS bytes FROM buffer').get() as {
      rows: number;
      points: number;
      bytes: number;
    };
    this.rows = t.rows;
    this.points = t.points;
    this.bytes = t.bytes;
  }
}
