/**
 * Turns trend buckets and live points into chart series. Pure (no ECharts import), so the shaping is
 * unit-tested; trend-chart.tsx only hands the result to ECharts.
 */
import type { TrendBucket } from './api-types';

export type TrendWindow = '15m' | '1h' | '24h' | '7d';
export const TREND_WINDOWS: readonly TrendWindow[] = ['15m', '1h', '24h', '7d'];
export const WINDOW_MS: Record<TrendWindow, number> = {
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
};
/** ~120 buckets: one per few pixels on a laptop-width chart, small enough to load instantly. */
export const TREND_BUCKETS = 120;

export type XY = [number, number | null];

export interface TrendSeries {
  readonly avg: XY[];
  /** Lower edge of the min–max band. */
  readonly min: XY[];
  /** Band height (max − min), stacked on `min`: ECharts draws a band as two stacked areas. */
  readonly band: XY[];
  readonly max: XY[];
}

/** Buckets are plotted at their middle, so a bucket's average sits under the time it summarises. */
export function bucketSeries(buckets: readonly TrendBucket[]): TrendSeries {
  const avg: XY[] = [];
  const min: XY[] = [];
  const band: XY[] = [];
  const max: XY[] = [];
  for (const b of buckets) {
    const x = Math.round((b.start + b.end) / 2);
    const empty = b.count === 0 || b.avg === null || b.min === null || b.max === null;
    avg.push([x, empty ? null : b.avg]);
    min.push([x, empty ? null : b.min]);
    max.push([x, empty ? null : b.max]);
    band.push([x, empty || b.max === null || b.min === null ? null : b.max - b.min]);
  }
  return { avg, min, band, max };
}

/** Numeric value of a live point as the historian rolls it up (bool as 0/1); other types are not plotted. */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/** Live points kept per chart; at one point per second that is over an hour, far past a 15-min window. */
export const MAX_LIVE_POINTS = 5000;

/**
 * Adds a live point after the trend's end. Points at or before `after` are already in the buckets, and a
 * repeated timestamp is the same point seen twice (list fetch and WebSocket), so both are dropped.
 */
export function appendLive(live: readonly [number, number][], ts: number, value: number, after: number): [number, number][] {
  if (ts <= after) return live as [number, number][];
  const last = live[live.length - 1];
  if (last && ts <= last[0]) {
    if (live.some((p) => p[0] === ts)) return live as [number, number][];
    const next = [...live, [ts, value] as [number, number]].sort((a, b) => a[0] - b[0]);
    return next.slice(-MAX_LIVE_POINTS);
  }
  const next = [...live, [ts, value] as [number, number]];
  return next.length > MAX_LIVE_POINTS ? next.slice(-MAX_LIVE_POINTS) : next;
}
