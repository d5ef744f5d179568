/**
 * Baseline for ingest benchmarks: the raw bulk-insert rate of the embedded store, i.e. TelemetryStore.write
 * with pre-built rows in batches into a fresh temporary SQLite file. Anything above the store (validation,
 * bus, historian batching) is measured against this figure; the ratio is what we compare across machines.
 *
 * Run alone: node --import tsx bench/store-baseline.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DeviceId, TenantId } from '@iip/core';
import { openSqliteStorage } from '@iip/storage';
import type { RawRow } from '@iip/storage';

export interface BulkInsertOptions {
  /** Total points written (default 1,000,000). */
  readonly points?: number;
  /** Points per write() call (default 10,000). */
  readonly batch?: number;
  /** Number of series the points are spread over (default 200). */
  readonly series?: number;
}

export async function measureBulkInsert(opts: BulkInsertOptions = {}): Promise<{ pointsPerSec: number }> {
  const points = opts.points ?? 1_000_000;
  const batch = opts.batch ?? 10_000;
  const seriesCount = opts.series ?? 200;
  const dir = mkdtempSync(join(tmpdir(), 'iip-bench-store-'));
  const storage = openSqliteStorage({ file: join(dir, 'bench.db') });
  try {
    const t = storage.telemetry;
    const ids: number[] = [];
    for (let i = 0; i < seriesCount; i++) {
      ids.push(await t.seriesId({ tenant: 'bench' as TenantId, device: `dev-${i >> 3}` as DeviceId, property: `p${i & 7}` }, 'n'));
    }
    // Rows are built before the clock starts: the figure is the store's, not the generator's.
    const t0 = 1_700_000_000_000;
    const batches: RawRow[][] = [];
    for (let start = 0; start < points; start += batch) {
      const rows: RawRow[] = [];
      for (let k = start; k < Math.min(points, start + batch); k++) {
        // Each series reports once a second; series interleave as they would from a live plant.
        rows.push({ series: ids[k % seriesCount]!, ts: t0 + Math.floor(k / seriesCount) * 1000, num: Math.sin(k) * 100, str: null });
      }
      batches.push(rows);
    }
    const started = process.hrtime.bigint();
    let inserted = 0;
    for (const rows of batches) inserted += (await t.write(rows)).inserted;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (inserted !== points) throw new Error(`expected ${points} inserted points, got ${inserted}`);
    return { pointsPerSec: Math.round(points / seconds) };
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { pointsPerSec } = await measureBulkInsert();
  console.log(`store baseline: ${pointsPerSec.toLocaleString('en-US')} points/s (TelemetryStore.write, SQLite, batches of 10,000)`);
}
