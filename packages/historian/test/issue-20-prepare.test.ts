/**
 * Issue 20: a device's series are loaded into the historian's cache when it connects (prepare), so that its first
 * message does not ask the store — ten thousand devices publishing their first message in one second otherwise
 * make 60,000 series lookups there. Against a real SQLite store, with its calls counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, PointValue, TelemetryBatch, TenantId } from '@iip/core';
import { waitFor } from '@iip/testkit';
import { type HistorianFixture, openHistorian } from './fixture.js';

const T0 = 1_700_000_000_000;
const TENANT = 't1' as TenantId;

function batch(device: string, points: Array<[string, number, PointValue]>): TelemetryBatch {
  return { tenant: TENANT, device: device as DeviceId, receivedAt: T0, points: points.map(([property, ts, value]) => ({ property, ts, value })) };
}

/** Counts the store calls the historian makes from here on. */
function count(fx: HistorianFixture): { seriesId: number; listSeries: number; latest: number; raw: number } {
  const t = fx.storage.telemetry;
  const calls = { seriesId: 0, listSeries: 0, latest: 0, raw: 0 };
  for (const name of ['seriesId', 'listSeries', 'latest', 'raw'] as const) {
    const inner = (t[name] as (...a: unknown[]) => Promise<unknown>).bind(t);
    (t as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
      calls[name]++;
      return inner(...a);
    };
  }
  return calls;
}

async function withHistorian(body: (fx: HistorianFixture) => Promise<void>): Promise<void> {
  const fx = await openHistorian({ flushIntervalMs: 2 });
  try {
    await body(fx);
  } finally {
    await fx.cleanup();
  }
}

describe('historian: series loaded ahead of the first message (issue 20)', () => {
  it('after prepare(), the first message of each device asks the store nothing; many devices share one latest() call', () =>
    withHistorian(async (fx) => {
      const devices = Array.from({ length: 50 }, (_, i) => `d${i}`);
      // The series exist (created at registration) and some hold points already.
      for (const d of devices) await fx.historian.ingest(batch(d, [['a', T0, 1], ['b', T0, 'x']]));
      await fx.reopen({ flushIntervalMs: 2 });
      const calls = count(fx);
      for (const d of devices) fx.historian.prepare(TENANT, d);
      await waitFor(() => calls.latest > 0 && calls.listSeries === devices.length, 'the prepare pass');
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(calls.latest, 1, 'one latest() call for the series of all 50 devices');
      const before = { ...calls };
      const results = await Promise.all(devices.map((d) => fx.historian.ingest(batch(d, [['a', T0 + 1000, 2], ['b', T0 + 1000, 'y']]))));
      assert.deepEqual(calls, before, 'no store call on the first messages');
      assert.equal(results.reduce((n, r) => n + r.stored.points.length, 0), 100);
    }));

  it('keeps telling re-deliveries: the newest stored timestamp is loaded with the series', () =>
    withHistorian(async (fx) => {
      await fx.historian.ingest(batch('d1', [['a', T0 + 10, 1], ['a', T0 + 20, 2]]));
      await fx.reopen({ flushIntervalMs: 2 });
      const calls = count(fx);
      fx.historian.prepare(TENANT, 'd1');
      await waitFor(() => calls.latest > 0, 'the prepare pass');
      await new Promise((r) => setTimeout(r, 20));
      // A re-delivered point (not newer than the stored newest) is checked against the store and reported.
      const r = await fx.historian.ingest(batch('d1', [['a', T0 + 20, 2], ['a', T0 + 30, 3]]));
      assert.deepEqual(
        r.duplicates.map((p) => p.ts),
        [T0 + 20],
      );
      assert.deepEqual(
        r.stored.points.map((p) => p.ts),
        [T0 + 30],
      );
      assert.ok(calls.raw > 0, 'the older point was looked up in the store');
    }));

  it('a device without series, an unknown device and a device prepared twice are harmless; messages still store', () =>
    withHistorian(async (fx) => {
      const calls = count(fx);
      fx.historian.prepare(TENANT, 'nobody');
      fx.historian.prepare(TENANT, 'nobody');
      await waitFor(() => calls.listSeries > 0, 'the prepare pass');
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(calls.listSeries, 1, 'asked once');
      const r = await fx.historian.ingest(batch('nobody', [['a', T0, 1]]));
      assert.equal(r.stored.points.length, 1);
      assert.equal(calls.seriesId, 1, 'its first message created its series');
      // Cached now: preparing it again asks nothing.
      fx.historian.prepare(TENANT, 'nobody');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(calls.listSeries, 1);
    }));

  it('a device deleted while its series are being loaded keeps nothing stale: its next message creates new series', () =>
    withHistorian(async (fx) => {
      await fx.historian.ingest(batch('gone', [['a', T0, 1]]));
      await fx.reopen({ flushIntervalMs: 2 });
      const t = fx.storage.telemetry;
      const oldId = (await t.listSeries(TENANT, 'gone' as DeviceId))[0]?.id;
      assert.ok(oldId !== undefined);
      // The pass's latest() call is held until the delete has finished.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const latest = t.latest.bind(t);
      let entered = false;
      t.latest = async (ids) => {
        entered = true;
        await held;
        return latest(ids);
      };
      fx.historian.prepare(TENANT, 'gone');
      await waitFor(() => entered, 'the prepare pass to reach latest()');
      await fx.historian.deleteDevice(TENANT, 'gone' as DeviceId);
      release();
      await new Promise((r) => setTimeout(r, 30));
      t.latest = latest;
      const r = await fx.historian.ingest(batch('gone', [['a', T0 + 5, 7]]));
      assert.equal(r.stored.points.length, 1);
      const now = await t.listSeries(TENANT, 'gone' as DeviceId);
      assert.equal(now.length, 1);
      assert.notEqual(now[0]?.id, oldId, 'a new series, not the deleted one');
      assert.deepEqual(await fx.historian.latest(TENANT, 'gone' as DeviceId), { a: { ts: T0 + 5, value: 7 } });
    }));

  it('close() while a pass is pending or running loses nothing and reports no error', async () => {
    const errors: unknown[] = [];
    const fx = await openHistorian({ flushIntervalMs: 2, onError: (e) => errors.push(e) });
    try {
      for (let i = 0; i < 20; i++) fx.historian.prepare(TENANT, `c${i}`);
      await fx.historian.ingest(batch('c0', [['a', T0, 1]]));
      await fx.historian.close();
      fx.historian.prepare(TENANT, 'late');
      await new Promise((r) => setTimeout(r, 40));
      assert.deepEqual(errors, []);
    } finally {
      await fx.cleanup();
    }
  });
});
