/**
 * Issue 20: the SQLite store folds rollups (telemetry-writer.ts) instead of upserting three cells per point. What a
 * reader sees must not change: rollups() is exact at every moment — before a fold, after it, for late points, across
 * a restart, after retention — and a file written by the previous version keeps its rollups, counted once. Real
 * files, both write modes (the writer thread and inline).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DeviceId, TenantId } from '@iip/core';
import { type RawRow, type RollupRow, type Storage, openSqliteStorage } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import Database from 'better-sqlite3';
import { FOLD_PER_WRITE, TelemetryWriter } from '../src/sqlite/telemetry-writer.js';
import { withSeriesFile } from './series-file.js';

const T = 'acme' as TenantId;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = 1_700_006_400_000; // a UTC midnight

/** The rollups a reader must see: every stored numeric point, once. */
function expected(rows: readonly RawRow[], series: number, level: number): RollupRow[] {
  const cells = new Map<number, RollupRow>();
  for (const r of rows) {
    if (r.series !== series || r.num === null) continue;
    const bucket = Math.floor(r.ts / level) * level;
    const c = cells.get(bucket);
    if (!c) cells.set(bucket, { series, bucket, min: r.num, max: r.num, sum: r.num, count: 1 });
    else cells.set(bucket, { series, bucket, min: Math.min(c.min, r.num), max: Math.max(c.max, r.num), sum: c.sum + r.num, count: c.count + 1 });
  }
  return [...cells.values()].sort((a, b) => a.bucket - b.bucket);
}

async function assertExact(s: Storage, rows: readonly RawRow[], series: number, what: string): Promise<void> {
  for (const level of s.telemetry.rollupLevels) {
    assert.deepEqual(await s.telemetry.rollups(level, series, 0, Number.MAX_SAFE_INTEGER), expected(rows, series, level), `${what}, level ${level}`);
  }
}

function storedCells(file: string, series: number): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM rollup WHERE series = ?').get(series) as { n: number }).n;
  } finally {
    db.close();
  }
}

for (const writerThread of [true, false]) {
  describe(`rollup folding, ${writerThread ? 'writer thread' : 'inline writes'} (issue 20)`, () => {
    async function withFile(body: (file: string, open: () => Storage) => Promise<void>): Promise<void> {
      const dir = await tempDir('iip-fold-');
      try {
        await body(join(dir.path, 'iip.db'), () => openSqliteStorage({ file: join(dir.path, 'iip.db'), writerThread }));
      } finally {
        await dir.cleanup();
      }
    }

    /** A store on a new file with one numeric series (d1.temp), closed afterwards. */
    function withSeries(body: (s: Storage, a: number, file: string) => Promise<void>): Promise<void> {
      return withFile(async (file, open) => {
        const s = open();
        try {
          await body(s, await s.telemetry.seriesId({ tenant: T, device: 'd1' as DeviceId, property: 'temp' }, 'n'), file);
        } finally {
          await s.close();
        }
      });
    }

    it('reads are exact before and after a fold; a point of a later minute folds the minutes before it', () =>
      withSeries(async (s, a, file) => {
        const t = s.telemetry;
        const rows: RawRow[] = [];
        // Three minutes of one point every 10 s, written a few points at a time.
        for (let i = 0; i < 18; i++) {
          const r = { series: a, ts: T0 + i * 10_000, num: 20 + (i % 7), str: null };
          rows.push(r);
          await t.write([r]);
          if (i % 5 === 0) await assertExact(s, rows, a, `after point ${i}`);
        }
        await assertExact(s, rows, a, 'after all points');
        // Two minutes later (past the series' own offset in the minute) its completed minutes are due; the next
        // write folds them: three minute cells, one hour cell, one day cell are stored rows now.
        await t.write([{ series: a, ts: T0 + 5 * MIN + 1, num: 1, str: null }]);
        rows.push({ series: a, ts: T0 + 5 * MIN + 1, num: 1, str: null });
        await t.write([{ series: a, ts: T0 + 5 * MIN + 2, num: 2, str: null }]);
        rows.push({ series: a, ts: T0 + 5 * MIN + 2, num: 2, str: null });
        await assertExact(s, rows, a, 'after the fold');
        assert.equal(storedCells(file, a), 3 + 1 + 1, 'the completed minutes are stored cells');
      }));

    it('a late point (behind the fold mark) is rolled up at once, a re-delivered one is counted once', () =>
      withSeries(async (s, a) => {
        const t = s.telemetry;
        const rows: RawRow[] = [];
        for (let m = 0; m < 5; m++) {
          const r = { series: a, ts: T0 + m * MIN, num: m, str: null };
          rows.push(r);
          await t.write([r]);
        }
        await t.write([{ series: a, ts: T0 + 5 * MIN, num: 5, str: null }]);
        rows.push({ series: a, ts: T0 + 5 * MIN, num: 5, str: null });
        // Backfill into folded minutes, and the same points again.
        const late = [
          { series: a, ts: T0 + 30_000, num: 100, str: null },
          { series: a, ts: T0 + 2 * MIN + 5, num: -3, str: null },
        ];
        const r1 = await t.write(late);
        assert.equal(r1.inserted, 2);
        rows.push(...late);
        const r2 = await t.write([...late, { series: a, ts: T0 + 4 * MIN, num: 4, str: null }]);
        assert.deepEqual(r2, { inserted: 0, duplicates: 3 });
        await assertExact(s, rows, a, 'after late points and re-deliveries');
      }));

    it('what is not folded at close is exact after reopening and is folded by retention before raw points go', () =>
      withFile(async (file, open) => {
        let s = open();
        const rows: RawRow[] = [];
        let a = 0;
        let b = 0;
        try {
          const t = s.telemetry;
          a = await t.seriesId({ tenant: T, device: 'd1' as DeviceId, property: 'temp' }, 'n');
          b = await t.seriesId({ tenant: T, device: 'd1' as DeviceId, property: 'note' }, 's');
          for (let i = 0; i < 30; i++) rows.push({ series: a, ts: T0 + i * 7_000, num: i, str: null });
          await t.write(rows.slice(0, 20));
          await t.write(rows.slice(20));
          await t.write([{ series: b, ts: T0, num: null, str: 'hello' }]);
        } finally {
          await s.close();
        }
        s = open();
        try {
          const t = s.telemetry;
          await assertExact(s, rows, a, 'after reopening');
          // Retention of raw points before the last one: they are folded first, so the rollups stay exact.
          const cutoff = T0 + 29 * 7_000;
          assert.equal(await t.deleteRawBefore(T, cutoff), 29 + 1, 'the 29 numeric points and the string before the cutoff');
          assert.equal((await t.raw(a, 0, Number.MAX_SAFE_INTEGER, 100)).length, 1);
          await assertExact(s, rows, a, 'after retention');
          // Rollup retention folds first too: cells before its cutoff do not come back from raw points.
          await t.deleteRollupsBefore(T, MIN, T0 + 2 * MIN);
          assert.deepEqual(
            (await t.rollups(MIN, a, 0, Number.MAX_SAFE_INTEGER)).map((r) => r.bucket),
            expected(rows, a, MIN).filter((r) => r.bucket >= T0 + 2 * MIN).map((r) => r.bucket),
          );
          // Usage counts every cell (it folds everything first).
          const u = await t.usage(T, T0);
          assert.equal(u.rollupRows, storedCells(file, a));
        } finally {
          await s.close();
        }
      }));

    it('ten thousand series crossing a minute together are folded a bounded number per transaction, and exactly', () =>
      withFile(async (_file, open) => {
        const s = open();
        try {
          const t = s.telemetry;
          const ids: number[] = [];
          for (let i = 0; i < 2_000; i++) ids.push(await t.seriesId({ tenant: T, device: `d${i}` as DeviceId, property: 'p' }, 'n'));
          const rows: RawRow[] = [];
          for (let sec = 0; sec < 4; sec++) {
            const batch = ids.map((id, i) => ({ series: id, ts: T0 + MIN - 2_000 + sec * 1_000, num: i + sec, str: null }));
            rows.push(...batch);
            await t.write(batch);
          }
          for (const id of [ids[0], ids[777], ids[1_999]] as number[]) await assertExact(s, rows, id, `series ${id}`);
        } finally {
          await s.close();
        }
      }));
  });
}

/** A migrated file with `n` numeric series (ids 1..n of tenant t) and a writer over it; closed afterwards. */
async function withWriter(n: number, now: () => number, body: (db: Database.Database, w: TelemetryWriter) => Promise<void> | void): Promise<void> {
  await withSeriesFile(n, (db) => body(db, new TelemetryWriter(db, [MIN, HOUR, DAY], now)));
}

describe('rollup folding: the writer itself (issue 20)', () => {
  it('folds at most FOLD_PER_WRITE series per write transaction; foldIdle() folds the rest once writes pause, and idle series whole', async () => {
    const n = FOLD_PER_WRITE * 3;
    let now = T0;
    await withWriter(n, () => now, (db, w) => {
      const marked = (atLeast: number) => (db.prepare('SELECT count(*) AS n FROM rollup_fold WHERE folded_to >= ?').get(atLeast) as { n: number }).n;
      // New series are not due before their first minute is a minute old (plus their offset): no empty folds.
      w.write(Array.from({ length: n }, (_, i) => ({ series: i + 1, ts: T0 + 1_000, num: 1, str: null })));
      w.write([{ series: 1, ts: T0 + 1_001, num: 3, str: null }]);
      now += 2_000;
      assert.equal(w.foldIdle(), 0);
      assert.equal(marked(Number.MIN_SAFE_INTEGER), 0);
      // Two minutes on, every series is due (a minute past its first minute plus its offset, under a minute); the
      // next write folds FOLD_PER_WRITE of them, foldIdle() the rest once writes pause.
      w.write(Array.from({ length: n }, (_, i) => ({ series: i + 1, ts: T0 + 2 * MIN + 1_000, num: 2, str: null })));
      w.write([{ series: 1, ts: T0 + 2 * MIN + 1_001, num: 5, str: null }]);
      assert.equal(marked(T0 + 2 * MIN), FOLD_PER_WRITE);
      assert.equal(w.foldIdle(), 0, 'writes just came: they fold the rest');
      now += 2_000;
      assert.equal(w.foldIdle(), FOLD_PER_WRITE, 'writes paused: one transaction of FOLD_PER_WRITE');
      while (w.foldIdle() > 0);
      assert.equal(marked(T0 + 2 * MIN), n);
      // Idle for a minute: folded whole (past the newest point).
      now += 61_000;
      while (w.foldIdle() > 0);
      assert.equal(marked(T0 + 2 * MIN + 1_001), n);
      const cells = db.prepare('SELECT level, sum(n) AS n FROM rollup GROUP BY level ORDER BY level').all();
      assert.deepEqual(cells, [
        { level: MIN, n: 2 * n + 2 },
        { level: HOUR, n: 2 * n + 2 },
        { level: DAY, n: 2 * n + 2 },
      ]);
    });
  });

  it('a series folded whole in the same transaction as its new points keeps them: they are folded once it is idle again', () => {
    let now = T0;
    return withWriter(2, () => now, (db, w) => {
      const mark = () => db.prepare('SELECT folded_to FROM rollup_fold WHERE series = 1').pluck().get() as number | undefined;
      w.write([{ series: 1, ts: T0 + 1_000, num: 1, str: null }]);
      // Idle for a minute: series 1 is due to be folded whole, but another series' write just came, so foldIdle()
      // leaves it to the next write — which is series 1's own.
      now += 61_000;
      w.write([{ series: 2, ts: T0 + 61_000, num: 2, str: null }]);
      assert.equal(w.foldIdle(), 0);
      w.write([{ series: 1, ts: T0 + 5 * MIN, num: 3, str: null }]);
      assert.equal(mark(), T0 + 1_001, 'folded whole up to the points before this write');
      // Idle again: the point of that write is folded too.
      now += 61_000;
      while (w.foldIdle() > 0);
      assert.equal(mark(), T0 + 5 * MIN + 1);
      assert.deepEqual(db.prepare('SELECT sum(n) AS n, sum(vsum) AS s FROM rollup WHERE level = ? AND series = 1').get(MIN), { n: 2, s: 4 });
    });
  });

  it('a long fold (retention, usage) is made FOLD_PER_WRITE series per transaction, and a write between two changes nothing', async () => {
    const n = FOLD_PER_WRITE * 2 + 7;
    await withWriter(n, () => T0, (db, w) => {
      w.write(Array.from({ length: n }, (_, i) => ({ series: i + 1, ts: T0 + 1_000, num: i, str: null })));
      const jobs = w.planFoldAll('t');
      assert.equal(jobs.length, n);
      assert.equal(w.foldSome(jobs, 0), FOLD_PER_WRITE);
      // A write between two transactions of the plan: a later point of a series already folded, and of one not yet.
      w.write([
        { series: 1, ts: T0 + 2_000, num: 100, str: null },
        { series: n, ts: T0 + 2_000, num: 200, str: null },
      ]);
      let i = FOLD_PER_WRITE;
      while (i < jobs.length) i = w.foldSome(jobs, i);
      w.foldAll('t');
      const cells = db.prepare('SELECT level, sum(n) AS n, sum(vsum) AS s FROM rollup GROUP BY level ORDER BY level').all();
      const sum = (n * (n - 1)) / 2 + 300;
      assert.deepEqual(cells, [
        { level: MIN, n: n + 2, s: sum },
        { level: HOUR, n: n + 2, s: sum },
        { level: DAY, n: n + 2, s: sum },
      ]);
    });
  });

  it('a file of the previous version keeps its rollups: each series is marked past its newest point, nothing counted twice', async () => {
    const dir = await tempDir('iip-fold-');
    try {
      const file = join(dir.path, 'iip.db');
      let s = openSqliteStorage({ file });
      const a = await s.telemetry.seriesId({ tenant: T, device: 'd1' as DeviceId, property: 'temp' }, 'n');
      await s.telemetry.write([{ series: a, ts: T0 + 5, num: 7, str: null }]);
      await s.close();
      // Back to what version 11 wrote: rollups kept at write time, no marks.
      const old = new Database(file);
      old.exec(`DELETE FROM schema_migrations WHERE version >= 12; DROP VIEW raw_all; DROP TABLE raw_stage; ALTER TABLE alarms DROP COLUMN source; DROP TABLE rollup_fold; DROP TABLE action_jobs; DROP TABLE action_signing_secrets; DELETE FROM rollup;`);
      old.prepare('INSERT INTO rollup (level, series, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, 7, 7, 7, 1)').run(MIN, a, T0);
      old.prepare('INSERT INTO rollup (level, series, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, 7, 7, 7, 1)').run(HOUR, a, T0);
      old.prepare('INSERT INTO rollup (level, series, bucket, vmin, vmax, vsum, n) VALUES (?, ?, ?, 7, 7, 7, 1)').run(DAY, a, T0);
      old.close();
      s = openSqliteStorage({ file });
      try {
        const rows: RawRow[] = [{ series: a, ts: T0 + 5, num: 7, str: null }];
        await assertExact(s, rows, a, 'migrated');
        const more = { series: a, ts: T0 + 6, num: 9, str: null };
        await s.telemetry.write([more]);
        rows.push(more);
        await assertExact(s, rows, a, 'migrated, then written');
      } finally {
        await s.close();
      }
    } finally {
      await dir.cleanup();
    }
  });
});
