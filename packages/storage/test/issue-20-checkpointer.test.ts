/**
 * Issue 20: with the telemetry writer thread, a checkpointer thread copies the WAL into the database file in the
 * background (telemetry-checkpoint-worker.ts), so that the writer's commits no longer stall on a checkpoint of
 * thousands of pages. What must hold: committed points reach the database file itself soon, long before the WAL
 * reaches the writer's checkpoint threshold; and under a stream of writes the WAL still starts over (the writer's
 * checkpoint at the threshold finishes what the checkpointer copied), instead of growing without bound.
 *
 * "In the database file" is read off a copy of the file made without its WAL: only checkpointed pages are in it.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DeviceId, TenantId } from '@iip/core';
import { type RawRow, openSqliteStorage } from '@iip/storage';
import { tempDir, waitFor } from '@iip/testkit';
import Database from 'better-sqlite3';
import { AUTO_CHECKPOINT_PAGES } from '../src/sqlite/sqlite-connection.js';

/** Points in the database file alone (a copy of it without the WAL). */
function pointsInFile(dir: string): number {
  const copy = join(dir, `copy-${Date.now()}-${Math.random()}.db`);
  copyFileSync(join(dir, 'iip.db'), copy);
  const db = new Database(copy);
  try {
    // Before any checkpoint the file holds not even the schema.
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'raw_all'").get()) return 0;
    return (db.prepare('SELECT count(*) AS n FROM raw_all').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** `n` rows a second apart for `series`, ending now (so that most go to the stage). */
function rows(series: number, n: number, from: number): RawRow[] {
  return Array.from({ length: n }, (_, i) => ({ series, ts: from + i, num: i % 1000, str: null }));
}

describe('the checkpointer thread (issue 20)', () => {
  for (const writerThread of [true, false]) {
    it(`committed points ${writerThread ? 'reach the database file within a second, below the checkpoint threshold (writer thread)' : 'stay in the WAL until the threshold (inline: no checkpointer)'}`, async () => {
      const dir = await tempDir('iip-ckpt-');
      const s = openSqliteStorage({ file: join(dir.path, 'iip.db'), writerThread });
      try {
        const a = await s.telemetry.seriesId({ tenant: 'acme' as TenantId, device: 'm1' as DeviceId, property: 'v' }, 'n');
        const now = Date.now();
        for (let i = 0; i < 10; i++) await s.telemetry.write(rows(a, 500, now - 10_000 + i * 500));
        const probe = new Database(join(dir.path, 'iip.db'));
        try {
          // The WAL holds far fewer pages than the threshold at which a committing connection checkpoints.
          const [frames] = probe.pragma('wal_checkpoint(NOOP)') as Array<{ log: number }>;
          assert.ok((frames?.log ?? 0) > 0 && (frames?.log ?? 0) < AUTO_CHECKPOINT_PAGES / 10, `WAL pages ${frames?.log}`);
        } finally {
          probe.close();
        }
        if (writerThread) {
          await waitFor(() => pointsInFile(dir.path) === 5_000, 'all 5,000 points in the database file', 5_000, 100);
        } else {
          await new Promise((r) => setTimeout(r, 1_000));
          assert.equal(pointsInFile(dir.path), 0, 'without a checkpoint, the file alone has none of them');
        }
      } finally {
        await s.close();
        await dir.cleanup();
      }
    });
  }

  it('under a stream of writes the WAL starts over instead of growing past the threshold (writer thread)', async () => {
    const dir = await tempDir('iip-ckpt-');
    const s = openSqliteStorage({ file: join(dir.path, 'iip.db'), writerThread: true });
    try {
      const series: number[] = [];
      for (let d = 0; d < 200; d++) series.push(await s.telemetry.seriesId({ tenant: 'acme' as TenantId, device: `m${d}` as DeviceId, property: 'v' }, 'n'));
      const probe = new Database(join(dir.path, 'iip.db'));
      try {
        let most = 0;
        let restarts = 0;
        let last = 0;
        const t0 = Date.now() - 3_600_000;
        // Old points go to raw, clustered by series: every batch dirties pages all over it, and the WAL fills fast.
        for (let b = 0; b < 400 && restarts < 2; b++) {
          const batch: RawRow[] = [];
          for (const id of series) for (let k = 0; k < 25; k++) batch.push({ series: id, ts: t0 + b * 25 + k, num: k, str: null });
          await s.telemetry.write(batch);
          const [f] = probe.pragma('wal_checkpoint(NOOP)') as Array<{ log: number }>;
          const frames = f?.log ?? 0;
          most = Math.max(most, frames);
          if (frames < last) restarts++;
          last = frames;
        }
        assert.ok(restarts >= 2, `the WAL started over ${restarts} times (most pages ${most})`);
        assert.ok(most < 2 * AUTO_CHECKPOINT_PAGES, `the WAL stayed near the threshold: at most ${most} pages`);
      } finally {
        probe.close();
      }
    } finally {
      await s.close();
      await dir.cleanup();
    }
  });
});
