/**
 * Issue 20: once a device's series are cached, a batch whose points are each later than their series' newest is
 * queued at once (Historian.ingestNow, no admission gate, no store call). Everything else — a series twice in one
 * batch, a point not later than the newest, an unstorable value — must still take the general path and come out
 * as it always did: stored once, re-deliveries reported as duplicates, refusals whole. Against a real SQLite store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, PointValue, TelemetryBatch, TenantId } from '@iip/core';
import { Historian } from '@iip/historian';
import type { TelemetryStore } from '@iip/storage';
import { openHistorian } from './fixture.js';

const T0 = 1_700_000_000_000;
const TENANT = 't1' as TenantId;
const DEVICE = 'd1' as DeviceId;

function batch(points: Array<[string, number, PointValue]>): TelemetryBatch {
  return { tenant: TENANT, device: DEVICE, receivedAt: T0, points: points.map(([property, ts, value]) => ({ property, ts, value })) };
}

async function stored(fx: Awaited<ReturnType<typeof openHistorian>>, property: string): Promise<Array<[number, PointValue]>> {
  const id = await fx.storage.telemetry.seriesId({ tenant: TENANT, device: DEVICE, property }, 'n');
  return (await fx.storage.telemetry.raw(id, T0 - 1000, T0 + 10_000, 100)).map((r) => [r.ts, r.num as PointValue]);
}

/** The real store, with its write() calls noted: whether each was made while `turn.in` was set (inside a synchronous burst). */
function notingWrites(real: TelemetryStore): { noted: TelemetryStore; calls: boolean[]; turn: { in: boolean } } {
  const calls: boolean[] = [];
  const turn = { in: false };
  const noted = new Proxy(real, {
    get(t, k) {
      if (k === 'write') {
        return (rows: Parameters<TelemetryStore['write']>[0]) => {
          calls.push(turn.in);
          return t.write(rows);
        };
      }
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return { noted, calls, turn };
}

describe('issue 20: the historian hot path', () => {
  it('stores what the general path stores: repeats in one batch, older points, re-deliveries', async () => {
    const fx = await openHistorian({ flushIntervalMs: 2 });
    try {
      const h = fx.historian;
      // First batch: series unknown, the general path resolves and caches them.
      await h.ingest(batch([['a', T0, 1], ['b', T0, 2]]));
      // Cached and in order: the hot path.
      const hot = await h.ingest(batch([['a', T0 + 10, 3], ['b', T0 + 10, 4]]));
      assert.equal(hot.stored.points.length, 2);
      assert.equal(hot.duplicates.length, 0);
      // A series twice in one batch, later then earlier: both are new points, both stored.
      const twice = await h.ingest(batch([['a', T0 + 30, 5], ['a', T0 + 20, 6]]));
      assert.equal(twice.stored.points.length, 2);
      assert.equal(twice.duplicates.length, 0);
      // The same point twice in one batch: stored once, the repeat reported.
      const repeat = await h.ingest(batch([['b', T0 + 40, 7], ['b', T0 + 40, 7]]));
      assert.equal(repeat.stored.points.length, 1);
      assert.equal(repeat.duplicates.length, 1);
      // A re-delivery of a stored point beside a new one: the new one stored, the old one reported.
      const again = await h.ingest(batch([['a', T0 + 10, 3], ['b', T0 + 50, 8]]));
      assert.deepEqual(
        again.stored.points.map((p) => [p.property, p.ts]),
        [['b', T0 + 50]],
      );
      assert.deepEqual(
        again.duplicates.map((p) => [p.property, p.ts]),
        [['a', T0 + 10]],
      );
      // Backfill older than the newest and not stored yet: stored.
      const backfill = await h.ingest(batch([['a', T0 + 5, 9]]));
      assert.equal(backfill.stored.points.length, 1);
      // An unstorable value is refused whole, even when every series is cached.
      await assert.rejects(h.ingest(batch([['a', T0 + 60, 10], ['b', T0 + 60, Number.NaN]])));
      // Hot again after all of it.
      const last = await h.ingest(batch([['a', T0 + 70, 11], ['b', T0 + 70, 12]]));
      assert.equal(last.stored.points.length, 2);
      await h.flush();
      assert.deepEqual(await stored(fx, 'a'), [
        [T0, 1],
        [T0 + 5, 9],
        [T0 + 10, 3],
        [T0 + 20, 6],
        [T0 + 30, 5],
        [T0 + 70, 11],
      ]);
      assert.deepEqual(await stored(fx, 'b'), [
        [T0, 2],
        [T0 + 10, 4],
        [T0 + 40, 7],
        [T0 + 50, 8],
        [T0 + 70, 12],
      ]);
    } finally {
      await fx.cleanup();
    }
  });

  it('hands full chunks to the store within the turn that filled them, not after it', async () => {
    const fx = await openHistorian();
    const real = fx.storage.telemetry;
    const { noted, calls, turn } = notingWrites(real);
    const h = new Historian(noted, { maxBatchPoints: 100, flushIntervalMs: 50 });
    try {
      await h.ingest(batch([['a', T0, 0], ['b', T0, 0]]));
      calls.length = 0;
      // One turn of the event loop takes 200 messages (400 points, four chunks) — as a read of many connections does.
      turn.in = true;
      const acks = Array.from({ length: 200 }, (_, i) => h.ingest(batch([['a', T0 + 1 + i, i], ['b', T0 + 1 + i, i]])));
      turn.in = false;
      assert.ok(calls.filter(Boolean).length >= 1, `the store was handed a full chunk during the turn (calls: ${JSON.stringify(calls)})`);
      const results = await Promise.all(acks);
      assert.equal(results.reduce((n, r) => n + r.stored.points.length, 0), 400);
      await h.flush();
      const id = await real.seriesId({ tenant: TENANT, device: DEVICE, property: 'a' }, 'n');
      assert.equal((await real.raw(id, T0, T0 + 1_000, 1_000)).length, 201, 'every point of a stored once');
    } finally {
      await h.close();
      await fx.cleanup();
    }
  });

  it('hands what a turn queued to a writer thread that has finished its writes, without waiting for the turn to end', async () => {
    const fx = await openHistorian();
    const real = fx.storage.telemetry;
    assert.equal(typeof real.writesBusy, 'function', 'the embedded store writes in its thread here');
    const { noted, calls, turn } = notingWrites(real);
    // Chunks of up to 20,000 points: 2,400 points fill none, and the group commit's timer would take them after the turn.
    const h = new Historian(noted, { maxBatchPoints: 20_000, flushIntervalMs: 50 });
    try {
      await h.ingest(batch([['a', T0, 0], ['b', T0, 0]]));
      await h.flush();
      calls.length = 0;
      turn.in = true;
      const acks = Array.from({ length: 1_200 }, (_, i) => h.ingest(batch([['a', T0 + 1 + i, i], ['b', T0 + 1 + i, i]])));
      turn.in = false;
      assert.ok(calls.filter(Boolean).length >= 1, `the idle writer was handed points during the turn (calls: ${JSON.stringify(calls)})`);
      const results = await Promise.all(acks);
      assert.equal(results.reduce((n, r) => n + r.stored.points.length, 0), 2_400);
      await h.flush();
      const id = await real.seriesId({ tenant: TENANT, device: DEVICE, property: 'b' }, 'n');
      assert.equal((await real.raw(id, T0, T0 + 10_000, 10_000)).length, 1_201, 'every point of b stored once');
    } finally {
      await h.close();
      await fx.cleanup();
    }
  });
});
