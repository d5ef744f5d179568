/** Write path and point queries of the historian, against a real SQLite file. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, PointValue, TelemetryBatch, TenantId } from '@iip/core';
import Database from 'better-sqlite3';
import { openHistorian } from './fixture.js';
import { waitFor } from '@iip/testkit';
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

/** Ingests and commits at once, whatever the flush interval. */
async function ingestNow(h: HistorianFixture['historian'], b: TelemetryBatch) {
  const r = h.ingest(b);
  await new Promise((res) => setImmediate(res));
  await h.flush();
  return r;
}

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
      await h.ingest(batch([['temp', T0, 21.5], ['on', T0, true], ['mode', T0, 'run'], ['__proto__', T0, 1]]));
      await h.ingest(batch([['temp', T0 + 1000, 22], ['on', T0 + 1000, false], ['mode', T0 - 1000, 'stop']]));
      const latest = await h.latest(T, D);
      assert.deepEqual(Object.keys(latest).sort(), ['__proto__', 'mode', 'on', 'temp']);
      assert.deepEqual(latest.temp, { ts: T0 + 1000, value: 22 });
      assert.deepEqual(latest.on, { ts: T0 + 1000, value: false });
      assert.deepEqual(latest.mode, { ts: T0, value: 'run' }, 'an older point must not replace the latest');
      assert.deepEqual(await h.history(T, D, 'on', { from: T0, to: T0 + 2000 }), [
        { ts: T0, value: true },
        { ts: T0 + 1000, value: false },
      ]);
      assert.deepEqual((await h.history(T, D, 'mode', { from: 0, to: T0 + 1 })).map((p) => p.value), ['stop', 'run']);
      assert.deepEqual(await h.history(T, D, 'temp', { from: T0, to: T0 + 2000, limit: 1 }), [{ ts: T0, value: 21.5 }]);
      assert.deepEqual(await h.history(T, D, 'nope', { from: T0, to: T0 + 2000 }), []);
      assert.deepEqual(await h.latest(T, 'other' as DeviceId), {});
      assert.deepEqual(await h.latest('other' as TenantId, D), {}, 'tenants are isolated');
    }));

  it('resolves ingest() only once its points are committed: a second connection to the file sees them', () =>
    withHistorian(async ({ historian: h, file }) => {
      const reader = new Database(file, { readonly: true });
      try {
        const count = () => (reader.prepare('SELECT count(*) AS n FROM raw_all').get() as { n: number }).n;
        let settled = false;
        const pending = h.ingest(batch([['temp', T0, 1], ['temp', T0 + 1, 2]])).then((r) => {
          settled = true;
          return r;
        });
        await new Promise((r) => setImmediate(r));
        assert.equal(settled, false, 'not resolved while the flush timer has not run');
        assert.equal(count(), 0);
        const r = await pending;
        assert.equal(r.stored.points.length, 2);
        assert.equal(count(), 2, 'committed when ingest() resolved');
      } finally {
        reader.close();
      }
    }, { flushIntervalMs: 200 }));

  it('commits many concurrent batches together (group commit) and resolves each of them', () =>
    withHistorian(async ({ historian: h }) => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, d) => h.ingest(batch([['temp', T0, d], ['rpm', T0, d * 2]], `m-${d}` as DeviceId))),
      );
      assert.ok(results.every((r) => r.stored.points.length === 2));
      assert.equal(h.stats().written, 100);
      assert.ok(h.stats().flushes <= 2, `${h.stats().flushes} transactions for 50 batches`);
    }, { flushIntervalMs: 20 }));

  it('reads see points ingested before them, without waiting for the timer', () =>
    withHistorian(async ({ historian: h }) => {
      const ingested = h.ingest(batch([['temp', T0, 1]]));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual((await h.latest(T, D)).temp, { ts: T0, value: 1 });
      await ingested;
    }, { flushIntervalMs: 60_000 }));

  it('loses nothing on close(): every queued point is on disk after reopening', () =>
    withHistorian(async (fx) => {
      const points: Array<[string, number, PointValue]> = [];
      for (let i = 0; i < 25_000; i++) points.push([`p${i % 5}`, T0 + i, i]);
      const ingests: Promise<unknown>[] = [];
      for (let i = 0; i < points.length; i += 1000) ingests.push(fx.historian.ingest(batch(points.slice(i, i + 1000))));
      await new Promise((r) => setImmediate(r));
      await fx.reopen();
      await Promise.all(ingests);
      const h = fx.historian;
      let total = 0;
      for (let p = 0; p < 5; p++) total += (await h.history(T, D, `p${p}`, { from: 0, to: T0 * 2, limit: 100_000 })).length;
      assert.equal(total, 25_000);
      assert.deepEqual((await h.latest(T, D)).p4, { ts: T0 + 24_999, value: 24_999 });
    }, { flushIntervalMs: 60_000, maxBatchPoints: 4_000, maxQueuedPoints: 1_000_000 }));

  it('refuses points after close() instead of dropping them silently', () =>
    withHistorian(async ({ historian: h }) => {
      await h.close();
      await assert.rejects(h.ingest(batch([['temp', T0, 1]])), hasCode('IIP_ERR_HISTORIAN_CLOSED'));
    }));

  it('counts duplicate delivery once: stats, history and trend are unchanged by re-delivery', () =>
    withHistorian(async ({ historian: h }) => {
      const b = batch(Array.from({ length: 300 }, (_, i): [string, number, PointValue] => ['temp', T0 + i * 1000, i]));
      await h.ingest(b);
      const trend = await h.trend(T, D, 'temp', { from: T0, to: T0 + 300_000, buckets: 5 });
      await Promise.all([h.ingest(b), h.ingest(b)]);
      const s = h.stats();
      assert.equal(s.written, 300);
      assert.equal(s.duplicates, 600);
      assert.equal(s.queued, 0);
      assert.deepEqual(await h.trend(T, D, 'temp', { from: T0, to: T0 + 300_000, buckets: 5 }), trend);
      assert.equal(trend.reduce((n, x) => n + x.count, 0), 300);
      assert.equal((await h.history(T, D, 'temp', { from: T0, to: T0 + 300_000 })).length, 300);
    }));

  it('applies back-pressure: the queue never grows past maxQueuedPoints, however many ingest at once', async () => {
    const fx = await openHistorian({ flushIntervalMs: 5, maxBatchPoints: 200, maxQueuedPoints: 500 });
    try {
      const t = fx.storage.telemetry;
      const write = t.write.bind(t);
      let maxQueued = 0;
      t.write = (rows) => {
        maxQueued = Math.max(maxQueued, fx.historian.stats().queued);
        return write(rows);
      };
      const h = fx.historian;
      await h.ingest(batch([['p0', T0 - 1, 0]])); // the series exist: the rest runs on the cached hot path
      const all = Array.from({ length: 100 }, (_, i) =>
        h.ingest(batch(Array.from({ length: 70 }, (_, k): [string, number, PointValue] => [`p${k % 7}`, T0 + i * 100 + k, k]))),
      );
      await Promise.all(all);
      assert.ok(maxQueued <= 500, `queued ${maxQueued} points with maxQueuedPoints 500`);
      assert.equal(h.stats().written, 7_001);
      assert.equal(h.stats().queued, 0);
    } finally {
      await fx.cleanup();
    }
  });

  it('resolves a new device once for many concurrent first batches, and queues them in order (no slow path)', async () => {
    const fx = await openHistorian({ flushIntervalMs: 5, maxBatchPoints: 200, maxQueuedPoints: 500 });
    try {
      const t = fx.storage.telemetry;
      const calls = { seriesId: 0, raw: 0 };
      const seriesId = t.seriesId.bind(t);
      const raw = t.raw.bind(t);
      t.seriesId = async (...a) => {
        calls.seriesId++;
        // A store that answers slowly, as PostgreSQL does: the batches below all arrive meanwhile.
        await new Promise((res) => setTimeout(res, 2));
        return seriesId(...a);
      };
      t.raw = (...a) => {
        calls.raw++;
        return raw(...a);
      };
      const h = fx.historian;
      const all = Array.from({ length: 60 }, (_, i) =>
        h.ingest(batch(Array.from({ length: 7 }, (_, k): [string, number, PointValue] => [`q${k}`, T0 + i * 100 + k, k]), 'fresh' as DeviceId)),
      );
      const results = await Promise.all(all);
      assert.equal(calls.seriesId, 7, 'one lookup per property, shared by all 60 batches');
      assert.equal(calls.raw, 0, 'no batch went down the slow path (all arrived in order)');
      assert.equal(results.reduce((n, r) => n + r.stored.points.length, 0), 420);
      assert.equal(h.stats().written, 420);
    } finally {
      await fx.cleanup();
    }
  });

  it('checks a re-delivered batch against the store with one range query per series (point by point only in dense history)', () =>
    withHistorian(async (fx) => {
      const t = fx.storage.telemetry;
      let rawCalls = 0;
      const raw = t.raw.bind(t);
      t.raw = (...a) => {
        rawCalls++;
        return raw(...a);
      };
      const h = fx.historian;
      const first = batch(Array.from({ length: 200 }, (_, i): [string, number, PointValue] => [i % 2 ? 'a' : 'b', T0 + Math.floor(i / 2) * 10, i]));
      await ingestNow(h, first);
      rawCalls = 0;
      // The same 200 points again, plus one older point that is new (between two stored ones).
      const again = { ...first, points: [...first.points, { property: 'a', ts: T0 + 5, value: 1 }] };
      const r = await ingestNow(h, again);
      assert.equal(r.duplicates.length, 200);
      assert.deepEqual(r.stored.points, [{ property: 'a', ts: T0 + 5, value: 1 }]);
      assert.equal(rawCalls, 2, 'one range query for "a", one for "b"');

      // Dense history: 6,000 stored points of "c"; two re-sent ones at its ends and one new point between.
      await ingestNow(h, batch(Array.from({ length: 6_000 }, (_, i): [string, number, PointValue] => ['c', T0 + i * 2, i])));
      rawCalls = 0;
      const sparse = batch([
        ['c', T0, 0],
        ['c', T0 + 3, 7],
        ['c', T0 + 11_998, 5_999],
      ]);
      const r2 = await ingestNow(h, sparse);
      assert.deepEqual(r2.duplicates.map((p) => p.ts), [T0, T0 + 11_998]);
      assert.deepEqual(r2.stored.points.map((p) => p.ts), [T0 + 3]);
      assert.equal(rawCalls, 1 + 3, 'the range holds more than the limit: one range query, then one per point');
    }));

  it('writes a full batch on its own, without waiting for the timer', () =>
    withHistorian(async ({ historian: h }) => {
      const r = await h.ingest(batch(Array.from({ length: 250 }, (_, k): [string, number, PointValue] => ['temp', T0 + k, k])));
      assert.equal(r.stored.points.length, 250);
      assert.equal(h.stats().written, 250);
      assert.equal(h.stats().queued, 0);
    }, { flushIntervalMs: 60_000, maxBatchPoints: 100 }));

  it('rejects a whole batch with an unstorable value or a kind change', () =>
    withHistorian(async ({ historian: h }) => {
      await h.ingest(batch([['temp', T0, 1]]));
      await assert.rejects(h.ingest(batch([['temp', T0 + 1, 2], ['x', T0, Number.NaN]])), hasCode('IIP_ERR_HISTORIAN_VALUE'));
      await assert.rejects(h.ingest(batch([['x', T0, 2], ['temp', T0 + 1, 'hot']])), hasCode('IIP_ERR_STORAGE_SERIES_KIND'));
      await assert.rejects(h.ingest(batch([['y', T0, 2], ['y', T0 + 1, true]])), hasCode('IIP_ERR_STORAGE_SERIES_KIND'));
      await h.flush();
      assert.equal(h.stats().written, 1);
      assert.deepEqual(await h.history(T, D, 'x', { from: 0, to: T0 * 2 }), []);
      assert.deepEqual(await h.history(T, D, 'temp', { from: 0, to: T0 * 2 }), [{ ts: T0, value: 1 }]);
    }));

  it('refuses trends of string properties and invalid ranges', () =>
    withHistorian(async ({ historian: h }) => {
      await h.ingest(batch([['mode', T0, 'run']]));
      await assert.rejects(h.trend(T, D, 'mode', { from: T0, to: T0 + 1, buckets: 1 }), hasCode('IIP_ERR_HISTORIAN_NOT_NUMERIC'));
      await assert.rejects(h.trend(T, D, 'temp', { from: T0, to: T0, buckets: 1 }), hasCode('IIP_ERR_VALIDATION'));
      await assert.rejects(h.trend(T, D, 'temp', { from: T0, to: T0 + 10, buckets: 0 }), hasCode('IIP_ERR_VALIDATION'));
      await assert.rejects(h.history(T, D, 'temp', { from: T0, to: T0 + 10, limit: 0 }), hasCode('IIP_ERR_VALIDATION'));
      const empty = await h.trend(T, D, 'temp', { from: T0, to: T0 + 10, buckets: 2 });
      assert.deepEqual(empty, [
        { start: T0, end: T0 + 5, min: null, max: null, avg: null, count: 0 },
        { start: T0 + 5, end: T0 + 10, min: null, max: null, avg: null, count: 0 },
      ]);
    }));

  it('deletes a device: stored and still-queued points, and nothing of other devices', () =>
    withHistorian(async ({ historian: h }) => {
      await ingestNow(h, batch([['temp', T0, 1]]));
      const queued = [h.ingest(batch([['temp', T0 + 1, 2]])), h.ingest(batch([['temp', T0, 7]], 'press-2' as DeviceId))];
      // press-2 is new: its series are created first (by the writer thread, asynchronously), then its point is queued
      await waitFor(() => h.stats().queued === 2, 'both points queued');
      await h.deleteDevice(T, D);
      await h.flush();
      await Promise.all(queued);
      assert.deepEqual(await h.latest(T, D), {});
      assert.deepEqual(await h.history(T, D, 'temp', { from: 0, to: T0 * 2 }), []);
      assert.deepEqual((await h.latest(T, 'press-2' as DeviceId)).temp, { ts: T0, value: 7 });
      assert.equal(h.stats().queued, 0);
      // The device starts afresh: its series are created again on first use.
      await ingestNow(h, batch([['temp', T0, 3]]));
      assert.deepEqual((await h.latest(T, D)).temp, { ts: T0, value: 3 });
    }, { flushIntervalMs: 60_000 }));

  it('rejects the batches of a failed commit (nothing acknowledged that is not stored), reports it, and goes on', async () => {
    const errors: unknown[] = [];
    const fx = await openHistorian({ flushIntervalMs: 1, onError: (e) => errors.push(e) });
    try {
      const t = fx.storage.telemetry;
      const write = t.write.bind(t);
      let fail = true;
      t.write = (rows) => (fail ? Promise.reject(new Error('disk full')) : write(rows));
      const h = fx.historian;
      const [a, b] = await Promise.allSettled([h.ingest(batch([['temp', T0, 1]])), h.ingest(batch([['temp', T0 + 1, 2]]))]);
      for (const r of [a, b]) {
        assert.equal(r?.status, 'rejected');
        assert.equal(((r as PromiseRejectedResult).reason as { code: string }).code, 'IIP_ERR_HISTORIAN_WRITE_FAILED');
        assert.match(((r as PromiseRejectedResult).reason as Error).message, /disk full/);
      }
      assert.ok(errors.length > 0, 'onError heard of the failure');
      const s = h.stats();
      assert.equal(s.queued, 0, 'the rows of a failed commit are not kept');
      assert.equal(s.notCommitted, 2);
      assert.ok(s.failedFlushes >= 1);
      assert.equal(s.written, 0);
      // The senders send again; the re-delivery is stored (the cached newest ts does not make it a duplicate).
      fail = false;
      const again = await h.ingest(batch([['temp', T0, 1], ['temp', T0 + 1, 2]]));
      assert.equal(again.stored.points.length, 2);
      assert.deepEqual(again.duplicates, []);
      assert.equal((await h.history(T, D, 'temp', { from: 0, to: T0 * 2 })).length, 2);
      assert.equal(h.stats().written, 2);
    } finally {
      await fx.cleanup();
    }
  });

  it('flush() rejects when the commit of what it waits for fails', async () => {
    const fx = await openHistorian({ flushIntervalMs: 60_000, onError: () => undefined });
    try {
      const t = fx.storage.telemetry;
      t.write = () => {
        throw new Error('I/O error');
      };
      const ingested = fx.historian.ingest(batch([['temp', T0, 1]]));
      await new Promise((r) => setImmediate(r));
      await assert.rejects(fx.historian.flush(), hasCode('IIP_ERR_HISTORIAN_WRITE_FAILED'));
      await assert.rejects(ingested, hasCode('IIP_ERR_HISTORIAN_WRITE_FAILED'));
    } finally {
      await fx.cleanup();
    }
  });
});
