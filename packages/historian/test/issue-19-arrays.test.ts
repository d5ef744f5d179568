/**
 * Issue 19, point 3: the historian stores array values (waveforms, OPC UA arrays and matrices) as series of
 * kind 'a' — JSON text, read back as the same arrays — and never rolls them up: a trend of one is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, PointValue, TelemetryBatch, TenantId } from '@iip/core';
import { openHistorian } from './fixture.js';
import type { HistorianFixture } from './fixture.js';

const T = 'acme' as TenantId;
const D = 'fan-1' as DeviceId;
const T0 = 1_700_000_000_000;

const batch = (points: Array<[string, number, PointValue]>): TelemetryBatch => ({
  tenant: T,
  device: D,
  points: points.map(([property, ts, value]) => ({ property, ts, value })),
  receivedAt: T0,
});

const hasCode = (code: string, details: Record<string, unknown> = {}) => (e: unknown) => {
  const err = e as { code?: string; details?: Record<string, unknown> };
  assert.equal(err.code, code, String(e));
  for (const [k, v] of Object.entries(details)) assert.deepEqual(err.details?.[k], v, `details.${k}`);
  return true;
};

async function withHistorian(fn: (fx: HistorianFixture) => Promise<void>): Promise<void> {
  const fx = await openHistorian();
  try {
    await fn(fx);
  } finally {
    await fx.cleanup();
  }
}

describe('historian: array values (issue 19)', () => {
  it('stores arrays of numbers, booleans and strings and returns them intact from latest and history, also after a reopen', () =>
    withHistorian(async (fx) => {
      const waveform = Array.from({ length: 2_048 }, (_, i) => Math.round(Math.sin(i / 7) * 1e6) / 1e5);
      await fx.historian.ingest(
        batch([
          ['waveform', T0, [0.1, 0.4, -0.2]],
          ['flags', T0, [true, false]],
          ['labels', T0, ['a"b', '振动', '']],
          ['temp', T0, 21.5],
        ]),
      );
      await fx.historian.ingest(batch([['waveform', T0 + 1_000, waveform], ['flags', T0 + 1_000, []]]));
      await fx.historian.ingest(batch([['waveform', T0 - 1_000, [9]]]));
      const check = async () => {
        const latest = await fx.historian.latest(T, D);
        assert.deepEqual(latest.waveform, { ts: T0 + 1_000, value: waveform });
        assert.deepEqual(latest.flags, { ts: T0 + 1_000, value: [] });
        assert.deepEqual(latest.labels, { ts: T0, value: ['a"b', '振动', ''] });
        assert.deepEqual(latest.temp, { ts: T0, value: 21.5 });
        assert.deepEqual(await fx.historian.history(T, D, 'waveform', { from: 0, to: T0 + 2_000 }), [
          { ts: T0 - 1_000, value: [9] },
          { ts: T0, value: [0.1, 0.4, -0.2] },
          { ts: T0 + 1_000, value: waveform },
        ]);
        const page = await fx.historian.historyPage(T, D, 'waveform', { from: 0, to: T0 + 2_000, limit: 1 });
        assert.deepEqual(page, { points: [{ ts: T0 - 1_000, value: [9] }], truncated: true, nextFrom: T0 });
      };
      await check();
      await fx.reopen();
      await check();
      // A re-delivered array is a duplicate like any point.
      const again = await fx.historian.ingest(batch([['waveform', T0, [0.1, 0.4, -0.2]]]));
      assert.equal(again.duplicates.length, 1);
    }));

  it('keeps arrays out of rollups: a trend of an array property is IIP_ERR_HISTORIAN_NOT_NUMERIC, and the store has no rollup rows', () =>
    withHistorian(async ({ historian: h, storage }) => {
      await h.ingest(batch([['waveform', T0, [1, 2, 3]], ['temp', T0, 20]]));
      await assert.rejects(
        h.trend(T, D, 'waveform', { from: T0, to: T0 + 60_000, buckets: 1 }),
        hasCode('IIP_ERR_HISTORIAN_NOT_NUMERIC', { property: 'waveform', kind: 'array' }),
      );
      assert.equal((await h.trend(T, D, 'temp', { from: T0, to: T0 + 60_000, buckets: 1 }))[0]?.count, 1);
      const series = await storage.telemetry.listSeries(T, D);
      const wave = series.find((s) => s.property === 'waveform');
      assert.equal(wave?.kind, 'a');
      for (const level of storage.telemetry.rollupLevels) assert.deepEqual(await storage.telemetry.rollups(level, wave!.id, 0, 1e13), []);
    }));

  it('refuses, storing nothing of the batch, an array element JSON cannot carry and a change between array and scalar', () =>
    withHistorian(async ({ historian: h }) => {
      await assert.rejects(
        h.ingest(batch([['temp', T0, 1], ['waveform', T0, [1, Number.NaN]]])),
        hasCode('IIP_ERR_HISTORIAN_VALUE', { property: 'waveform' }),
      );
      await assert.rejects(h.ingest(batch([['waveform', T0, [1, Number.POSITIVE_INFINITY]]])), hasCode('IIP_ERR_HISTORIAN_VALUE'));
      await assert.rejects(h.ingest(batch([['waveform', T0, [null as unknown as number]]])), hasCode('IIP_ERR_HISTORIAN_VALUE'));
      assert.deepEqual(await h.latest(T, D), {});
      await h.ingest(batch([['waveform', T0, [1]], ['temp', T0, 1]]));
      await assert.rejects(h.ingest(batch([['waveform', T0 + 1, 2]])), hasCode('IIP_ERR_STORAGE_SERIES_KIND', { stored: 'a', requested: 'n' }));
      await assert.rejects(h.ingest(batch([['temp', T0 + 1, [2]]])), hasCode('IIP_ERR_STORAGE_SERIES_KIND', { stored: 'n', requested: 'a' }));
    }));
});
