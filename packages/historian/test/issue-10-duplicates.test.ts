/**
 * Issue 10, point 2: ingest() says what it stores. A point whose (series, ts) is already stored or queued —
 * in any order, across a reopen, or repeated inside one batch — is reported as a duplicate and not stored;
 * every other point is. Checked against a brute-force model with fast-check: the stored count always equals
 * the sum of what ingest() reported, so an accepted count can be the stored count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, TelemetryBatch, TenantId } from '@iip/core';
import fc from 'fast-check';
import { openHistorian } from './fixture.js';

const T = 'acme' as TenantId;
const D = 'press-1' as DeviceId;
const T0 = 1_700_000_000_000;

const batch = (points: Array<[string, number, number]>): TelemetryBatch => ({
  tenant: T,
  device: D,
  points: points.map(([property, ts, value]) => ({ property, ts, value })),
  receivedAt: T0,
});

describe('historian ingest() reports duplicates', () => {
  it('reports a re-delivered point, a repeat inside the batch, and one written before a reopen', async () => {
    const fx = await openHistorian();
    try {
      // The second batch is ingested while the first is still queued: queued and stored points alike are known.
      const [first, second] = await Promise.all([
        fx.historian.ingest(batch([['temp', T0 + 10, 1], ['temp', T0 + 20, 2]])),
        fx.historian.ingest(batch([['temp', T0 + 10, 9], ['temp', T0 + 15, 3], ['temp', T0 + 15, 4], ['temp', T0 + 5, 5]])),
      ]);
      let r = first;
      assert.equal(r.stored.points.length, 2);
      assert.deepEqual(r.duplicates, []);
      r = second;
      assert.deepEqual(
        r.stored.points.map((p) => p.ts),
        [T0 + 15, T0 + 5],
      );
      assert.deepEqual(r.duplicates, [
        { property: 'temp', ts: T0 + 10, value: 9 },
        { property: 'temp', ts: T0 + 15, value: 4 },
      ]);
      await fx.reopen();
      r = await fx.historian.ingest(batch([['temp', T0 + 20, 7], ['temp', T0 + 30, 8]]));
      assert.deepEqual(r.duplicates, [{ property: 'temp', ts: T0 + 20, value: 7 }]);
      const stored = await fx.historian.history(T, D, 'temp', { from: T0, to: T0 + 100 });
      assert.deepEqual(stored, [
        { ts: T0 + 5, value: 5 },
        { ts: T0 + 10, value: 1 },
        { ts: T0 + 15, value: 3 },
        { ts: T0 + 20, value: 2 },
        { ts: T0 + 30, value: 8 },
      ]);
    } finally {
      await fx.cleanup();
    }
  });

  it('stored = sum of what ingest() reported as stored, for any order of batches (fast-check)', async () => {
    const point = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 40 }), fc.integer({ min: -5, max: 5 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(point, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (batches, flushBetween) => {
        const fx = await openHistorian({ maxBatchPoints: 5 });
        try {
          const model = new Map<string, number>();
          let reportedStored = 0;
          let reportedDuplicates = 0;
          for (const b of batches) {
            const r = await fx.historian.ingest(batch(b.map(([p, dt, v]) => [p, T0 + dt, v])));
            reportedStored += r.stored.points.length;
            reportedDuplicates += r.duplicates.length;
            const expectDup: Array<[string, number]> = [];
            for (const [p, dt, v] of b) {
              const k = `${p}:${dt}`;
              if (model.has(k)) expectDup.push([p, T0 + dt]);
              else model.set(k, v);
            }
            assert.deepEqual(
              r.duplicates.map((d) => [d.property, d.ts]),
              expectDup,
            );
            if (flushBetween) await fx.historian.flush();
          }
          await fx.historian.flush();
          const s = fx.historian.stats();
          assert.equal(reportedStored, model.size);
          assert.equal(s.written, model.size, 'written = reported stored');
          assert.equal(s.duplicates, reportedDuplicates);
          for (const p of ['a', 'b', 'c']) {
            const got = await fx.historian.history(T, D, p, { from: T0, to: T0 + 100 });
            const want = [...model]
              .filter(([k]) => k.startsWith(`${p}:`))
              .map(([k, value]) => ({ ts: T0 + Number(k.slice(2)), value }))
              .sort((x, y) => x.ts - y.ts);
            assert.deepEqual(got, want);
          }
        } finally {
          await fx.cleanup();
        }
      }),
      { numRuns: 60 },
    );
  });
});
