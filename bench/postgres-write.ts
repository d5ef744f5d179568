/**
 * Quick measurement of the PostgreSQL adapter's write path (not the scale-out benchmark): TelemetryStore.write
 * of pre-built rows into a throwaway PostgreSQL (testkit's startPostgres), through COPY (large batches) and
 * through one unnest statement (small batches), with fsync off and on. The figures are for comparing the two
 * write paths and the SQLite baseline (bench/store-baseline.ts) on one machine, nothing more.
 *
 * Run alone: node --import tsx bench/postgres-write.ts [points]
 */
import type { DeviceId, TenantId } from '@iip/core';
import { openPostgresStorage } from '@iip/storage';
import type { RawRow } from '@iip/storage';
import { startPostgres } from '@iip/testkit';

interface Case {
  readonly name: string;
  readonly fsync: boolean;
  readonly batch: number;
  /** Concurrent writers (each write() awaits before the next of the same writer). */
  readonly writers: number;
}

async function measure(c: Case, points: number, seriesCount = 200): Promise<number> {
  const pg = await startPostgres({ fsync: c.fsync });
  try {
    const s = await openPostgresStorage({ url: pg.url, maxConnections: Math.max(4, c.writers) });
    try {
      const ids: number[] = [];
      for (let i = 0; i < seriesCount; i++) {
        ids.push(await s.telemetry.seriesId({ tenant: 'bench' as TenantId, device: `d${i}` as DeviceId, property: 'v' }, 'n'));
      }
      const t0 = Date.UTC(2026, 0, 1);
      const perWriter = Math.floor(points / c.writers);
      const batches: RawRow[][][] = [];
      for (let w = 0; w < c.writers; w++) {
        const mine: RawRow[][] = [];
        for (let off = 0; off < perWriter; off += c.batch) {
          const rows: RawRow[] = [];
          for (let k = off; k < Math.min(perWriter, off + c.batch); k++) {
            const i = w * perWriter + k;
            rows.push({ series: ids[i % seriesCount]!, ts: t0 + Math.floor(i / seriesCount) * 1_000, num: (i % 977) / 7, str: null });
          }
          mine.push(rows);
        }
        batches.push(mine);
      }
      const start = process.hrtime.bigint();
      await Promise.all(
        batches.map(async (mine) => {
          for (const rows of mine) await s.telemetry.write(rows);
        }),
      );
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      return (perWriter * c.writers) / secs;
    } finally {
      await s.close();
    }
  } finally {
    await pg.stop();
  }
}

const points = Number(process.argv[2] ?? 500_000);
const cases: Case[] = [
  { name: 'COPY, batches of 10,000, 1 writer, fsync off', fsync: false, batch: 10_000, writers: 1 },
  { name: 'COPY, batches of 10,000, 1 writer, fsync on', fsync: true, batch: 10_000, writers: 1 },
  { name: 'COPY, batches of 10,000, 4 writers, fsync on', fsync: true, batch: 10_000, writers: 4 },
  { name: 'unnest, batches of 500, 1 writer, fsync on', fsync: true, batch: 500, writers: 1 },
  { name: 'unnest, batches of 500, 4 writers, fsync on', fsync: true, batch: 500, writers: 4 },
];
for (const c of cases) {
  const rate = await measure(c, points);
  console.log(`${c.name}: ${Math.round(rate).toLocaleString('en-US')} points/s`);
}
