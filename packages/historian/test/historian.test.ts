/** Write path and point queries of the historian, against a real SQLite file. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, PointValue, TelemetryBatch, TenantId } from '@iip/core';
import { waitFor } from '@iip/testkit';
import { openHistorian } from './fixture.js';
import type { HistorianFixture } from './fixture.js';

const T = 'acme' as TenantId;
const D = 'press-1' as DeviceId;
const T0 = 1_700_000_000_000;

const batch = (points: Array<[string, number, PointValue]>, device = D, tenant = T): TelemetryBatch => ({
  tenant,
  device,
  points: points.map(([property, ts, value]) => ({ property, ts, value })),
  receivedAt: T0,
});

const hasCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

async function withHistorian(fn: (fx: HistorianFixture) => Promise<void> | void, opts?: Parameters<typeof openHistorian>[0]) {
  const fx = await openHistorian(opts);
  try {
    await fn(fx);
  } finally {
    await fx.cleanup();
  }
}

describe('historian', () => {
  it('stores numbers, booleans and strings and returns them with their types', () =>
    withHistorian(async ({ historian: h }) => {
      h.ingest(batch([['temp', T0, 21.5], ['on', T0, true], ['mode', T0, 'run'], ['__proto__', T0, 1]]));
      h.ingest(batch([['temp', T0 + 1000, 22], ['on', T0 + 1000, false], ['mode', T0 - 1000, 'stop']]));
      await h.flush();
      const latest = h.latest(T, D);
      assert.deepEqual(Object.keys(latest).sort(), ['__proto__', 'mode', 'on', 'temp']);
      assert.deepEqual(latest.temp, { ts: T0 + 1000, value: 22 });
      assert.deepEqual(latest.on, { ts: T0 + 1000, value: false });
      assert.deepEqual(latest.mode, { ts: T0, value: 'run' }, 'an older point must not replace the latest');
      assert.deepEqual(h.history(T, D, 'on', { from: T0, to: T0 + 2000 }), [
        { ts: T0, value: true },
        { ts: T0 + 1000, value: false },
      ]);
      assert.deepEqual(h.history(T, D, 'mode', { from: 0, to: T0 + 1 }).map((p) => p.value), ['stop', 'run']);
      assert.deepEqual(h.history(T, D, 'temp', { from: T0, to: T0 + 2000, limit: 1 }), [{ ts: T0, value: 21.5 }]);
      assert.deepEqual(h.history(T, D, 'nope', { from: T0, to: T0 + 2000 }), []);
      assert.deepEqual(h.latest(T, 'other' as DeviceId), {});
      assert.deepEqual(h.latest('other' as TenantId, D), {}, 'tenants are isolated');
    }));

  it('reads see points ingested before them, without waiting for the timer', () =>
    withHistorian(({ historian: h }) => {
      h.ingest(batch([['temp', T0, 1]]));
      assert.deepEqual(h.latest(T, D).temp, { ts: T0, value: 1 });
    }, { flushIntervalMs: 60_000 }));

  it('loses nothing on close(): every queued point is on disk after reopening', () =>
    withHistorian(async (fx) => {
      const points: Array<[string, number, PointValue]> = [];
      for (let i = 0; i < 25_000; i++) points.push([`p${i % 5}`, T0 + i, i]);
      for (let i = 0; i < points.length; i += 1000) fx.historian.ingest(batch(points.slice(i, i + 1000)));
      await fx.reopen();
      const h = fx.historian;
      let total = 0;
      for (let p = 0; p < 5; p++) total += h.history(T, D, `p${p}`, { from: 0, to: T0 * 2, limit: 100_000 }).length;
      assert.equal(total, 25_000);
      assert.deepEqual(h.latest(T, D).p4, { ts: T0 + 24_999, value: 24_999 });
    }, { flushIntervalMs: 60_000, maxBatchPoints: 4_000, maxQueuedPoints: 1_000_000 }));

  it('refuses points after close() instead of dropping them silently', () =>
    withHistorian(async ({ historian: h }) => {
      await h.close();
      assert.throws(() => h.ingest(batch([['temp', T0, 1]])), hasCode('IIP_ERR_HISTORIAN_CLOSED'));
    }));

  it('counts duplicate delivery once: stats, history and trend are unchanged by re-delivery', () =>
    withHistorian(async ({ historian: h }) => {
      const b = batch(Array.from({ length: 300 }, (_, i): [string, number, PointValue] => ['temp', T0 + i * 1000, i]));
      h.ingest(b);
      await h.flush();
      const trend = h.trend(T, D, 'temp', { from: T0, to: T0 + 300_000, buckets: 5 });
      h.ingest(b);
      h.ingest(b);
      await h.flush();
      const s = h.stats();
      assert.equal(s.written, 300);
      assert.equal(s.duplicates, 600);
      assert.equal(s.queued, 0);
      assert.deepEqual(h.trend(T, D, 'temp', { from: T0, to: T0 + 300_000, buckets: 5 }), trend);
      assert.equal(trend.reduce((n, x) => n + x.count, 0), 300);
      assert.equal(h.history(T, D, 'temp', { from: T0, to: T0 + 300_000 }).length, 300);
    }));

  it('applies back-pressure: the queue never grows past maxQueuedPoints', () =>
    withHistorian(({ historian: h }) => {
      let maxQueued = 0;
      for (let i = 0; i < 100; i++) {
        h.ingest(batch(Array.from({ length: 70 }, (_, k): [string, number, PointValue] => [`p${k % 7}`, T0 + i * 100 + k, k])));
        maxQueued = Math.max(maxQueued, h.stats().queued);
      }
      assert.ok(maxQueued <= 500, `queued ${maxQueued} points with maxQueuedPoints 500`);
      assert.ok(h.stats().flushes > 0, 'the full queue was written synchronously');
      assert.equal(h.stats().written + h.stats().queued, 7_000);
    }, { flushIntervalMs: 60_000, maxBatchPoints: 200, maxQueuedPoints: 500 }));

  it('writes a full batch on its own, without waiting for the timer', () =>
    withHistorian(async ({ historian: h }) => {
      h.ingest(batch(Array.from({ length: 250 }, (_, k): [string, number, PointValue] => ['temp', T0 + k, k])));
      await new Promise((r) => setImmediate(r));
      assert.equal(h.stats().written, 250);
      assert.equal(h.stats().queued, 0);
    }, { flushIntervalMs: 60_000, maxBatchPoints: 100 }));

  it('rejects a whole batch with an unstorable value or a kind change', () =>
    withHistorian(async ({ historian: h }) => {
      h.ingest(batch([['temp', T0, 1]]));
      assert.throws(() => h.ingest(batch([['temp', T0 + 1, 2], ['x', T0, Number.NaN]])), hasCode('IIP_ERR_HISTORIAN_VALUE'));
      assert.throws(() => h.ingest(batch([['x', T0, 2], ['temp', T0 + 1, 'hot']])), hasCode('IIP_ERR_STORAGE_SERIES_KIND'));
      assert.throws(() => h.ingest(batch([['y', T0, 2], ['y', T0 + 1, true]])), hasCode('IIP_ERR_STORAGE_SERIES_KIND'));
      await h.flush();
      assert.equal(h.stats().written, 1);
      assert.deepEqual(h.history(T, D, 'x', { from: 0, to: T0 * 2 }), []);
    }));

  it('refuses trends of string properties and invalid ranges', () =>
    withHistorian(({ historian: h }) => {
      h.ingest(batch([['mode', T0, 'run']]));
      assert.throws(() => h.trend(T, D, 'mode', { from: T0, to: T0 + 1, buckets: 1 }), hasCode('IIP_ERR_HISTORIAN_NOT_NUMERIC'));
      assert.throws(() => h.trend(T, D, 'temp', { from: T0, to: T0, buckets: 1 }), hasCode('IIP_ERR_VALIDATION'));
      assert.throws(() => h.trend(T, D, 'temp', { from: T0, to: T0 + 10, buckets: 0 }), hasCode('IIP_ERR_VALIDATION'));
      assert.throws(() => h.history(T, D, 'temp', { from: T0, to: T0 + 10, limit: 0 }), hasCode('IIP_ERR_VALIDATION'));
      const empty = h.trend(T, D, 'temp', { from: T0, to: T0 + 10, buckets: 2 });
      assert.deepEqual(empty, [
        { start: T0, end: T0 + 5, min: null, max: null, avg: null, count: 0 },
        { start: T0 + 5, end: T0 + 10, min: null, max: null, avg: null, count: 0 },
      ]);
    }));

  it('deletes a device: stored and still-queued points, and nothing of other devices', () =>
    withHistorian(async ({ historian: h }) => {
      h.ingest(batch([['temp', T0, 1]]));
      await h.flush();
      h.ingest(batch([['temp', T0 + 1, 2]]));
      h.ingest(batch([['temp', T0, 7]], 'press-2' as DeviceId));
      h.deleteDevice(T, D);
      await h.flush();
      assert.deepEqual(h.latest(T, D), {});
      assert.deepEqual(h.history(T, D, 'temp', { from: 0, to: T0 * 2 }), []);
      assert.deepEqual(h.latest(T, 'press-2' as DeviceId).temp, { ts: T0, value: 7 });
      assert.equal(h.stats().queued, 0);
    }, { flushIntervalMs: 60_000 }));

  it('keeps failed writes queued and reports background failures to onError', async () => {
    const errors: unknown[] = [];
    const fx = await openHistorian({ flushIntervalMs: 1, onError: (e) => errors.push(e) });
    try {
      const t = fx.storage.telemetry;
      const write = t.write.bind(t);
      let fail = true;
      t.write = (rows) => {
        if (fail) throw new Error('disk full');
        return write(rows);
      };
      fx.historian.ingest(batch([['temp', T0, 1]]));
      await assert.rejects(fx.historian.flush(), /disk full/);
      assert.equal(fx.historian.stats().queued, 1);
      await waitFor(() => errors.length > 0, 'a background flush to report its failure');
      fail = false;
      await fx.historian.flush();
      assert.deepEqual(fx.historian.stats().queued, 0);
      assert.equal(fx.historian.stats().written, 1);
    } finally {
      await fx.cleanup();
    }
  });
});
