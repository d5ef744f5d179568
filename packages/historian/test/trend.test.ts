/**
 * Trends read from rollups must equal a brute-force computation over the raw points, for any range and
 * bucket count (property-based), and a long range must be answered from few rollup rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { DeviceId, TenantId } from '@iip/core';
import { Historian } from '@iip/historian';
import type { TrendBucket } from '@iip/historian';
import type { TelemetryStore } from '@iip/storage';
import { openHistorian } from './fixture.js';
import type { HistorianFixture } from './fixture.js';

const T = 'acme' as TenantId;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 0, 1);

/** The documented contract, computed the slow way. */
function bruteForce(points: ReadonlyArray<{ ts: number; value: number }>, from: number, to: number, buckets: number): TrendBucket[] {
  const out: TrendBucket[] = [];
  for (let i = 0; i < buckets; i++) {
    const start = from + Math.floor((i * (to - from)) / buckets);
    const end = i === buckets - 1 ? to : from + Math.floor(((i + 1) * (to - from)) / buckets);
    const vs = points.filter((p) => p.ts >= start && p.ts < end).map((p) => p.value);
    out.push({
      start,
      end,
      min: vs.length ? Math.min(...vs) : null,
      max: vs.length ? Math.max(...vs) : null,
      avg: vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : null,
      count: vs.length,
    });
  }
  return out;
}

/** Dedupes by ts keeping the first value, as the store does. */
function stored(points: ReadonlyArray<{ ts: number; value: number }>): Array<{ ts: number; value: number }> {
  const seen = new Map<number, number>();
  for (const p of points) if (!seen.has(p.ts)) seen.set(p.ts, p.value);
  return [...seen].map(([ts, value]) => ({ ts, value }));
}

describe('historian trend', () => {
  let fx: HistorianFixture;
  let run = 0;
  before(async () => {
    fx = await openHistorian();
  });
  after(() => fx.cleanup());

  it('equals brute force over raw points for random data, ranges and bucket counts', async () => {
    // Integer values keep sums exact in any order, so equality can be strict.
    const point = fc.record({ ts: fc.integer({ min: T0 - DAY, max: T0 + 9 * DAY }), value: fc.integer({ min: -1e6, max: 1e6 }) });
    const query = fc.record({
      from: fc.oneof(fc.integer({ min: T0 - 2 * DAY, max: T0 + 9 * DAY }), fc.integer({ min: -3, max: 9 }).map((d) => T0 + d * DAY)),
      span: fc.oneof(fc.integer({ min: 1, max: 11 * DAY }), fc.integer({ min: 1, max: 3 * HOUR }), fc.integer({ min: 1, max: 10 }).map((d) => d * DAY)),
      buckets: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2_000 })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(point, { maxLength: 1_500 }), fc.array(query, { minLength: 1, maxLength: 5 }), async (points, queries) => {
        const device = `d${run++}` as DeviceId;
        const ingests: Promise<unknown>[] = [];
        for (let i = 0; i < points.length; i += 400) {
          ingests.push(fx.historian.ingest({
            tenant: T,
            device,
            points: points.slice(i, i + 400).map((p) => ({ property: 'v', ts: p.ts, value: p.value })),
            receivedAt: 0,
          }));
        }
        await Promise.all(ingests);
        const truth = stored(points);
        for (const q of queries) {
          const got = await fx.historian.trend(T, device, 'v', { from: q.from, to: q.from + q.span, buckets: q.buckets });
          assert.deepEqual(got, bruteForce(truth, q.from, q.from + q.span, q.buckets));
        }
      }),
      { numRuns: 120 },
    );
  });

  it('averages booleans as the share of true', async () => {
    const device = 'valve' as DeviceId;
    const values = [true, true, false, true];
    await fx.historian.ingest({ tenant: T, device, points: values.map((value, i) => ({ property: 'open', ts: T0 + i * HOUR, value })), receivedAt: 0 });
    assert.deepEqual(await fx.historian.trend(T, device, 'open', { from: T0, to: T0 + DAY, buckets: 1 }), [
      { start: T0, end: T0 + DAY, min: 0, max: 1, avg: 0.75, count: 4 },
    ]);
  });

  it('answers a one-year trend from daily rollups, reading few rows', async () => {
    const device = 'meter' as DeviceId;
    const points: Array<{ ts: number; value: number }> = [];
    // One point every 10 minutes for a year (52,560 points).
    for (let ts = T0; ts < T0 + 365 * DAY; ts += 10 * MIN) points.push({ ts, value: Math.round(Math.sin(ts / DAY) * 1000) });
    const ingests: Promise<unknown>[] = [];
    for (let i = 0; i < points.length; i += 5_000) {
      ingests.push(fx.historian.ingest({ tenant: T, device, points: points.slice(i, i + 5_000).map((p) => ({ property: 'kw', ...p })), receivedAt: 0 }));
    }
    // Commit through the ingesting historian, then read through a second one whose store counts rows.
    await new Promise((r) => setImmediate(r));
    await fx.historian.flush();
    await Promise.all(ingests);
    const counted = countingStore(fx.storage.telemetry);
    const from = T0 + 7 * HOUR + 123; // deliberately aligned to no level, so every edge needs refining
    const to = from + 364 * DAY;
    const got = await new Historian(counted.store).trend(T, device, 'kw', { from, to, buckets: 52 });
    assert.deepEqual(got, bruteForce(points, from, to, 52));
    assert.ok(counted.reads.raw < 200, `read ${counted.reads.raw} raw points`);
    assert.ok(counted.reads.rollup < 5_000, `read ${counted.reads.rollup} rollup rows`);
  });
});

function countingStore(inner: TelemetryStore): { store: TelemetryStore; reads: { raw: number; rollup: number } } {
  const reads = { raw: 0, rollup: 0 };
  const store: TelemetryStore = {
    rollupLevels: inner.rollupLevels,
    seriesId: (k, kind) => inner.seriesId(k, kind),
    listSeries: (t, d) => inner.listSeries(t, d),
    write: (rows) => inner.write(rows),
    latest: (s) => inner.latest(s),
    raw: async (s, f, t, l) => {
      const r = await inner.raw(s, f, t, l);
      reads.raw += r.length;
      return r;
    },
    rollups: async (level, s, f, t) => {
      const r = await inner.rollups(level, s, f, t);
      reads.rollup += r.length;
      return r;
    },
    deleteDevice: (t, d) => inner.deleteDevice(t, d),
    deleteRawBefore: (t, c, o) => inner.deleteRawBefore(t, c, o),
    deleteRollupsBefore: (t, l, c, o) => inner.deleteRollupsBefore(t, l, c, o),
    usage: (t, n) => inner.usage(t, n),
    close: async () => undefined,
  };
  return { store, reads };
}

