/**
 * Issue 20: recent raw points are written to raw_stage (by ten-second bucket) and moved into raw a minute of buckets
 * at a time (raw-stage.ts). What must hold: a point is stored once and seen once — before, during and after a move,
 * across a restart of the writer — duplicates are told apart in the stage as in raw, readers (raw(), rollups(),
 * usage, deleting a device, retention) see staged points, and nothing is moved before its bucket is complete.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DeviceId, TenantId } from '@iip/core';
import { type RawRow, openSqliteStorage } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import Database from 'better-sqlite3';
import { bucketOf, MOVE_BUCKETS, STAGE_BUCKET_MS } from '../src/sqlite/raw-stage.js';
import { TelemetryWriter } from '../src/sqlite/telemetry-writer.js';
import { withSeriesFile } from './series-file.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = 1_700_006_400_000;

const withFile = (body: (file: string, db: Database.Database) => Promise<void> | void): Promise<void> => withSeriesFile(300, (db, file) => body(file, db));

const count = (db: Database.Database, table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const all = (db: Database.Database): string[] =>
  (db.prepare('SELECT series, ts, num FROM raw_all ORDER BY series, ts').all() as Array<{ series: number; ts: number; num: number }>).map((r) => `${r.series}@${r.ts}=${r.num}`);

describe('raw stage: the writer (issue 20)', () => {
  it('recent points go to the stage, older ones to raw; duplicates are told apart in both', async () => {
    await withFile((_file, db) => {
      let now = T0;
      const w = new TelemetryWriter(db, [MIN, HOUR, DAY], () => now);
      const r1 = w.write([
        { series: 1, ts: T0, num: 1, str: null },
        { series: 2, ts: T0 - STAGE_BUCKET_MS, num: 2, str: null }, // the bucket before: still staged
        { series: 3, ts: T0 - 5 * STAGE_BUCKET_MS, num: 3, str: null }, // older: raw
      ]);
      assert.deepEqual(r1, { inserted: 3, duplicates: 0 });
      assert.equal(count(db, 'raw_stage'), 2);
      assert.equal(count(db, 'raw'), 1);
      now += 1_000;
      const r2 = w.write([
        { series: 1, ts: T0, num: 9, str: null },
        { series: 3, ts: T0 - 5 * STAGE_BUCKET_MS, num: 9, str: null },
        { series: 1, ts: T0 + 1, num: 4, str: null },
      ]);
      assert.deepEqual(r2, { inserted: 1, duplicates: 2 });
      assert.deepEqual(all(db), [`1@${T0}=1`, `1@${T0 + 1}=4`, `2@${T0 - STAGE_BUCKET_MS}=2`, `3@${T0 - 5 * STAGE_BUCKET_MS}=3`]);
      // The latest values are the newest stored ones, staged or not.
      assert.deepEqual(db.prepare('SELECT series, ts, num FROM latest ORDER BY series').all(), [
        { series: 1, ts: T0 + 1, num: 4 },
        { series: 2, ts: T0 - STAGE_BUCKET_MS, num: 2 },
        { series: 3, ts: T0 - 5 * STAGE_BUCKET_MS, num: 3 },
      ]);
    });
  });

  it('moves only once MOVE_BUCKETS complete buckets wait, a range of series per transaction; every point is in exactly one table at every step', async () => {
    await withFile((_file, db) => {
      let now = T0;
      const w = new TelemetryWriter(db, [MIN, HOUR, DAY], () => now);
      // 300 series, one point a second each, for MOVE_BUCKETS + 2 buckets.
      const seconds = ((MOVE_BUCKETS + 2) * STAGE_BUCKET_MS) / 1000;
      let written = 0;
      for (let s = 0; s < seconds; s++) {
        now = T0 + s * 1000;
        w.write(Array.from({ length: 300 }, (_, i) => ({ series: i + 1, ts: now, num: s, str: null })));
        written += 300;
        // No move before MOVE_BUCKETS complete buckets are older than the bucket before the current one.
        const ready = bucketOf(now) - 2 - bucketOf(T0) + 1;
        if (ready < MOVE_BUCKETS) assert.equal(w.moveSome(), 0, `second ${s}: nothing to move yet`);
      }
      assert.equal(count(db, 'raw'), 0);
      const before = all(db);
      assert.equal(before.length, written);
      let steps = 0;
      for (;;) {
        const moved = w.moveSome(1_000);
        if (moved === 0) break;
        steps++;
        assert.ok(moved <= 1_200, `step ${steps}: about the rows asked for (${moved})`);
        assert.equal(count(db, 'raw') + count(db, 'raw_stage'), written, `step ${steps}: every point once`);
      }
      assert.ok(steps > 1, `moved in ${steps} transactions`);
      assert.deepEqual(all(db), before, 'the same points, the same values');
      // The last two buckets (the current one and the one before) stay staged.
      const staged = db.prepare('SELECT DISTINCT bucket FROM raw_stage ORDER BY bucket').pluck().all() as number[];
      assert.deepEqual(staged, [bucketOf(now) - 1, bucketOf(now)]);
      assert.equal(w.moveSome(), 0);
      // Raw holds each moved series' points in order; the rollups fold them as before (exact).
      const sum = db.prepare('SELECT sum(num) AS s FROM raw_all WHERE series = 7').get() as { s: number };
      assert.equal(sum.s, (seconds * (seconds - 1)) / 2);
    });
  });

  it('a late re-send, a re-send during a move and one after the clock went back are each told apart as duplicates', async () => {
    await withFile((_file, db) => {
      let now = T0;
      const w = new TelemetryWriter(db, [MIN, HOUR, DAY], () => now);
      const seconds = ((MOVE_BUCKETS + 2) * STAGE_BUCKET_MS) / 1000;
      for (let s = 0; s < seconds; s++) {
        now = T0 + s * 1000;
        w.write(Array.from({ length: 300 }, (_, i) => ({ series: i + 1, ts: now, num: s, str: null })));
      }
      const written = 300 * seconds;
      // T0's bucket is older than the staged-from one now, but still staged: a re-send of it finds its original.
      assert.deepEqual(w.write([{ series: 5, ts: T0, num: 99, str: null }]), { inserted: 0, duplicates: 1 });
      // Part of a move: the series it has taken are in raw, the others still staged; a re-send of either is a duplicate.
      assert.ok(w.moveSome(1_000) > 0);
      assert.ok(count(db, 'raw') > 0 && count(db, 'raw') < written);
      assert.deepEqual(
        w.write([
          { series: 1, ts: T0, num: 99, str: null },
          { series: 300, ts: T0, num: 99, str: null },
        ]),
        { inserted: 0, duplicates: 2 },
      );
      while (w.moveSome() > 0);
      // The clock set back by two minutes: T0's bucket counts as recent again, but raw holds its points now.
      now = T0;
      assert.deepEqual(w.write([{ series: 7, ts: T0 + 1_000, num: 99, str: null }]), { inserted: 0, duplicates: 1 });
      assert.equal(count(db, 'raw_all'), written, 'every point once');
      assert.equal((db.prepare('SELECT count(*) AS n FROM raw_all WHERE num = 99').get() as { n: number }).n, 0, 'the originals kept');
    });
  });

  it('a writer started on a file with staged points moves them (idle), nothing lost', async () => {
    await withFile((_file, db) => {
      let now = T0;
      const first = new TelemetryWriter(db, [MIN, HOUR, DAY], () => now);
      first.write(Array.from({ length: 50 }, (_, i) => ({ series: i + 1, ts: T0, num: i, str: null })));
      const before = all(db);
      now = T0 + 10 * MIN;
      const second = new TelemetryWriter(db, [MIN, HOUR, DAY], () => now);
      second.moveIdle();
      assert.equal(count(db, 'raw_stage'), 0);
      assert.deepEqual(all(db), before);
    });
  });
});

describe('raw stage: the store reads it (issue 20)', () => {
  for (const writerThread of [true, false]) {
    it(`raw(), rollups(), usage, retention and deleting a device see staged points (${writerThread ? 'writer thread' : 'inline'})`, async () => {
      const dir = await tempDir('iip-stage-store-');
      const s = openSqliteStorage({ file: join(dir.path, 'iip.db'), writerThread });
      try {
        const t = 'acme' as TenantId;
        const now = Date.now();
        const a = await s.telemetry.seriesId({ tenant: t, device: 'm1' as DeviceId, property: 'v' }, 'n');
        // A point a second for the last 90 s: the older ones go to raw at once, the last ~10–20 s to the stage.
        const rows: RawRow[] = Array.from({ length: 90 }, (_, i) => ({ series: a, ts: now - (89 - i) * 1000, num: i, str: null }));
        await s.telemetry.write(rows);
        const file = new Database(join(dir.path, 'iip.db'), { readonly: true });
        try {
          assert.ok(count(file, 'raw_stage') > 0 && count(file, 'raw') > 0, 'both tables hold some');
        } finally {
          file.close();
        }
        assert.deepEqual(await s.telemetry.raw(a, 0, Number.MAX_SAFE_INTEGER, 1_000), rows, 'all, in time order');
        assert.deepEqual(await s.telemetry.raw(a, now - 30_000, now + 1, 5), rows.slice(59, 64), 'a limit across both');
        assert.deepEqual(await s.telemetry.raw(a, now - 5_000, now + 1, 1_000), rows.slice(84), 'staged only');
        const [minute] = await s.telemetry.rollups(MIN, a, Math.floor(now / MIN) * MIN, now + 1);
        const inMinute = rows.filter((r) => Math.floor(r.ts / MIN) * MIN === minute?.bucket);
        assert.equal(minute?.count, inMinute.length);
        assert.equal(minute?.sum, inMinute.reduce((x, r) => x + (r.num as number), 0));
        const usage = await s.telemetry.usage(t, now);
        assert.equal(usage.rawPoints, 90);
        // Retention with a cutoff in the future takes staged points too (the rollups keep them).
        const deleted = await s.telemetry.deleteRawBefore(t, now + DAY);
        assert.equal(deleted, 90);
        assert.deepEqual(await s.telemetry.raw(a, 0, Number.MAX_SAFE_INTEGER, 1_000), []);
        // Deleting the device removes what is staged.
        const b = await s.telemetry.seriesId({ tenant: t, device: 'm2' as DeviceId, property: 'v' }, 'n');
        await s.telemetry.write([{ series: b, ts: now, num: 1, str: null }]);
        await s.telemetry.deleteDevice(t, 'm2' as DeviceId);
        const after = new Database(join(dir.path, 'iip.db'), { readonly: true });
        try {
          assert.equal((after.prepare('SELECT count(*) AS n FROM raw_stage WHERE series = ?').get(b) as { n: number }).n, 0);
        } finally {
          after.close();
        }
      } finally {
        await s.close();
        await dir.cleanup();
      }
    });
  }
});
