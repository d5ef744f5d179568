/**
 * Trend queries: `buckets` equal buckets over [from, to) with min/max/avg/count, answered from the write-time
 * rollups. The coarsest rollup level no wider than a bucket is read; a rollup row that straddles a bucket
 * edge (or the range edge) is not attributed approximately but refined through the next finer level, down
 * to raw points for the last sub-minute sliver. So results are exact for any range, while a 1-year trend
 * still reads ~365 daily rows plus a few finer rows per bucket edge. Raw points are the starting level only
 * when a bucket is narrower than the finest rollup level.
 */
import type { RollupRow, TelemetryStore } from '@iip/storage';

export interface TrendBucket {
  readonly start: number;
  readonly end: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly avg: number | null;
  readonly count: number;
}

interface Cell {
  min: number;
  max: number;
  sum: number;
  count: number;
}

export async function computeTrend(store: TelemetryStore, series: number, from: number, to: number, buckets: number): Promise<TrendBucket[]> {
  const span = to - from;
  // Integer edges; bucket i is [starts[i], starts[i + 1]) and the last one ends exactly at `to`.
  const starts: number[] = [];
  for (let i = 0; i < buckets; i++) starts.push(from + Math.floor((i * span) / buckets));
  starts.push(to);
  const cells: Cell[] = starts.slice(1).map(() => ({ min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, sum: 0, count: 0 }));

  const bucketOf = (ts: number): number => {
    let i = Math.min(buckets - 1, Math.max(0, Math.floor(((ts - from) / span) * buckets)));
    while (i > 0 && ts < starts[i]!) i--;
    while (i < buckets - 1 && ts >= starts[i + 1]!) i++;
    return i;
  };
  const mergeRow = (i: number, r: RollupRow): void => {
    const c = cells[i]!;
    if (r.min < c.min) c.min = r.min;
    if (r.max > c.max) c.max = r.max;
    c.sum += r.sum;
    c.count += r.count;
  };
  const levels = store.rollupLevels;

  // Covers [s, e) from level `li` (an index into rollupLevels; -1 means raw points).
  const cover = async (li: number, s: number, e: number): Promise<void> => {
    if (li < 0) {
      for (const p of await store.raw(series, s, e, Number.MAX_SAFE_INTEGER)) {
        if (p.num === null) continue;
        mergeRow(bucketOf(p.ts), { series, bucket: p.ts, min: p.num, max: p.num, sum: p.num, count: 1 });
      }
      return;
    }
    const width = levels[li]!;
    for (const r of await store.rollups(width, series, Math.floor(s / width) * width, e)) {
      const rs = r.bucket;
      const re = rs + width;
      if (rs >= s && re <= e) {
        const i = bucketOf(rs);
        if (re <= starts[i + 1]!) {
          mergeRow(i, r);
          continue;
        }
      }
      await cover(li - 1, Math.max(rs, s), Math.min(re, e));
    }
  };

  const narrowest = Math.floor(span / buckets);
  let start = -1;
  for (let li = 0; li < levels.length; li++) if (levels[li]! <= narrowest) start = li;
  await cover(start, from, to);

  return cells.map((c, i) => ({
    start: starts[i]!,
    end: starts[i + 1]!,
    min: c.count ? c.min : null,
    max: c.count ? c.max : null,
    avg: c.count ? c.sum / c.count : null,
    count: c.count,
  }));
}
