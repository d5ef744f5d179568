/**
 * Issue 11, scale-out throughput: the worker's write shards and the live stream that listens only while
 * watched. Both run over the in-process bus here; the NATS path is covered end to end by
 * issue-11-scale-out.test.ts (the fault tests run the worker with its shards).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Bus, InProcessBus } from '@iip/bus';
import type { DeviceId, TelemetryBatch, TelemetryWriteResult, TenantId } from '@iip/core';
import { LiveStream } from '../src/live-stream.js';
import { shardOf, startHistorianWorker } from '../src/scale-out/bus-telemetry.js';

const batch = (device: string, ts: number): TelemetryBatch => ({
  tenant: 'default' as TenantId,
  device: device as DeviceId,
  points: [{ property: 'v', ts, value: ts % 100 }],
  receivedAt: ts,
});

/** A historian stand-in that records which devices it was given, in order. */
function recorder() {
  const seen: TelemetryBatch[] = [];
  return {
    seen,
    async ingest(b: TelemetryBatch): Promise<TelemetryWriteResult> {
      seen.push(b);
      return { stored: b, duplicates: [] };
    },
  };
}

describe('issue 11: worker write shards', () => {
  it('sends every message of a device to the same shard, in order, and spreads devices over all shards', async () => {
    const bus = new InProcessBus();
    const shards = [recorder(), recorder(), recorder(), recorder()];
    const w = startHistorianWorker(bus, shards, () => undefined);
    await w.subscription.ready;
    const devices = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    for (let ts = 1; ts <= 5; ts++) for (const d of devices) await bus.publish('telemetry', batch(d, ts));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(w.stats().stored, 200);
    for (const d of devices) {
      const holders = shards.filter((s) => s.seen.some((b) => b.device === d));
      assert.equal(holders.length, 1, `${d} went to one shard`);
      assert.equal(holders[0], shards[shardOf('default', d, shards.length)]);
      assert.deepEqual(holders[0]!.seen.filter((b) => b.device === d).map((b) => b.points[0]!.ts), [1, 2, 3, 4, 5]);
    }
    for (const s of shards) assert.ok(s.seen.length > 0, 'each shard takes some devices');
    await w.subscription.unsubscribe();
    await bus.close();
  });

  it('shardOf is stable and within range', () => {
    for (const n of [1, 2, 4, 7]) {
      for (const d of ['a', 'press-1', 'x'.repeat(64)]) {
        const s = shardOf('t1', d, n);
        assert.ok(Number.isInteger(s) && s >= 0 && s < n);
        assert.equal(shardOf('t1', d, n), s);
      }
    }
    assert.notEqual(
      new Set(Array.from({ length: 50 }, (_, i) => shardOf('t1', `d${i}`, 4))).size,
      1,
      'devices do not all land on one shard',
    );
  });
});

describe('issue 11: live stream', () => {
  it('subscribes to the bus only while a socket is open, and delivers while it is', async () => {
    const inner = new InProcessBus();
    let subscribed = 0;
    const bus: Bus = Object.assign(Object.create(inner) as Bus, {
      subscribe: ((...args: Parameters<Bus['subscribe']>) => {
        subscribed++;
        const sub = inner.subscribe(...args);
        return {
          ready: sub.ready,
          unsubscribe: async () => {
            subscribed--;
            await sub.unsubscribe();
          },
        };
      }) as Bus['subscribe'],
      publish: inner.publish.bind(inner),
    });
    const live = new LiveStream(bus, 10);
    assert.equal(subscribed, 0, 'nobody watches: no subscription');
    const frames: string[] = [];
    const a = live.add({ send: (t) => frames.push(t), bufferedAmount: 0 }, 'default');
    const b = live.add({ send: () => undefined, bufferedAmount: 0 }, 'default');
    await a.ready;
    assert.equal(subscribed, 1, 'one subscription for all sockets');
    await bus.publish('telemetry', batch('dev-1', 5));
    await new Promise((res) => setTimeout(res, 40));
    assert.ok(frames.some((f) => JSON.parse(f).device === 'dev-1'));
    a.remove();
    assert.equal(subscribed, 1, 'still watched by the second socket');
    b.remove();
    assert.equal(subscribed, 0, 'the last socket closed: unsubscribed');
    const again = live.add({ send: () => undefined, bufferedAmount: 0 }, 'default');
    await again.ready;
    assert.equal(subscribed, 1);
    await live.close();
    assert.equal(subscribed, 0);
    await inner.close();
  });
});
