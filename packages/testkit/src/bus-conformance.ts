/**
 * The one conformance suite every bus adapter passes (in-process, NATS JetStream). An adapter's test file
 * calls `runBusConformance(name, open)`; `open` returns a fresh, empty bus and a way to open a second bus
 * on the same backbone (another connection to the same NATS — what a second process would use; the
 * in-process adapter returns the same bus, as its whole world is one process). The fixture must make a
 * failed group message come back quickly (a retry delay of some tens of ms), so the cases do not wait long.
 *
 * Counts are asserted, never timings: a case waits (bounded by `waitFor`) until every expected message has
 * arrived, then checks that each arrived the expected number of times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Bus } from '@iip/bus';
import type { DeviceId, TelemetryBatch, TenantId } from '@iip/core';
import { rejectsIipError, waitFor } from './index.js';

export interface BusFixture {
  readonly bus: Bus;
  /** Another bus on the same backbone (a second NATS connection); in-process: the same bus. */
  peer(): Promise<Bus>;
  /** Closes every bus the fixture opened and removes what it made. */
  cleanup(): Promise<void>;
}

const TENANT = 'acme' as TenantId;
// A dot (and, on NATS, its encoding in the subject token) must not split the device id.
const DEVICE = 'line-1.press_2' as DeviceId;

/** Telemetry batch number `n`: its only point carries `n` as its value. */
export function batch(n: number, device: DeviceId = DEVICE): TelemetryBatch {
  return { tenant: TENANT, device, points: [{ property: 'seq', ts: 1_700_000_000_000 + n, value: n }], receivedAt: 1_700_000_000_000 };
}

const seqOf = (b: TelemetryBatch): number => b.points[0]?.value as number;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Counts how often each sequence number arrived. */
class Tally {
  readonly times = new Map<number, number>();
  readonly order: number[] = [];
  total = 0;
  add(n: number): void {
    this.times.set(n, (this.times.get(n) ?? 0) + 1);
    this.order.push(n);
    this.total++;
  }
  assertEach(ns: readonly number[], times: number, who: string): void {
    for (const n of ns) assert.equal(this.times.get(n) ?? 0, times, `${who}: message ${n} arrived ${this.times.get(n) ?? 0} times, expected ${times}`);
  }
}

export function runBusConformance(name: string, open: () => Promise<BusFixture>): void {
  describe(`bus conformance: ${name}`, () => {
    const withFixture = (fn: (f: BusFixture) => Promise<void>) => async () => {
      const f = await open();
      try {
        await fn(f);
      } finally {
        await f.cleanup();
      }
    };

    it(
      'live: every live subscriber (of this and another connection) gets each message once, in publish order',
      withFixture(async (f) => {
        const other = await f.peer();
        const a = new Tally();
        const b = new Tally();
        const status: boolean[] = [];
        const subs = [
          f.bus.subscribe('telemetry', (m) => a.add(seqOf(m))),
          other.subscribe('telemetry', (m) => b.add(seqOf(m))),
          other.subscribe('device.status', (m) => void status.push(m.online)),
        ];
        await Promise.all(subs.map((s) => s.ready));
        const ns = range(500);
        await Promise.all(ns.map((n) => f.bus.publish('telemetry', batch(n))));
        await f.bus.publish('device.status', { tenant: TENANT, device: DEVICE, online: true, ts: 1 });
        await f.bus.publish('device.status', { tenant: TENANT, device: DEVICE, online: false, ts: 2 });
        await waitFor(() => a.total >= ns.length && b.total >= ns.length && status.length >= 2, 'every live message');
        a.assertEach(ns, 1, 'subscriber a');
        b.assertEach(ns, 1, 'subscriber b');
        assert.deepEqual(a.order, ns, 'subscriber a sees the publish order');
        assert.deepEqual(b.order, ns, 'subscriber b sees the publish order');
        assert.deepEqual(status, [true, false]);
      }),
    );

    it(
      'group: each message goes to exactly one member of a group, and every group gets every message',
      withFixture(async (f) => {
        const other = await f.peer();
        const g1 = new Tally();
        const g2 = new Tally();
        const h = new Tally();
        const subs = [
          f.bus.subscribe('telemetry', (m) => g1.add(seqOf(m)), { group: 'historian' }),
          other.subscribe('telemetry', (m) => g2.add(seqOf(m)), { group: 'historian' }),
          other.subscribe('telemetry', (m) => h.add(seqOf(m)), { group: 'rules' }),
        ];
        await Promise.all(subs.map((s) => s.ready));
        const ns = range(2_000);
        await Promise.all(ns.map((n) => f.bus.publish('telemetry', batch(n))));
        await waitFor(() => g1.total + g2.total >= ns.length && h.total >= ns.length, 'every group message');
        for (const n of ns) {
          const got = (g1.times.get(n) ?? 0) + (g2.times.get(n) ?? 0);
          assert.equal(got, 1, `group historian: message ${n} arrived ${got} times`);
        }
        h.assertEach(ns, 1, 'group rules');
        assert.equal(g1.total + g2.total, ns.length);
      }),
    );

    it(
      'group: a handler that throws or rejects gets the message again, until it succeeds',
      withFixture(async (f) => {
        const attempts = new Map<number, number>();
        const done = new Tally();
        const sub = f.bus.subscribe(
          'telemetry',
          async (m) => {
            const n = seqOf(m);
            const k = (attempts.get(n) ?? 0) + 1;
            attempts.set(n, k);
            if (n % 3 === 0 && k === 1) throw new Error(`refusing ${n} once (synchronously)`);
            if (n % 3 === 1 && k < 3) return Promise.reject(new Error(`refusing ${n} twice (rejected promise)`));
            done.add(n);
          },
          { group: 'historian' },
        );
        await sub.ready;
        const ns = range(30);
        for (const n of ns) await f.bus.publish('telemetry', batch(n));
        await waitFor(() => done.total >= ns.length, 'every message handled successfully', 30_000);
        done.assertEach(ns, 1, 'handled');
        for (const n of ns) {
          const expected = n % 3 === 0 ? 2 : n % 3 === 1 ? 3 : 1;
          assert.equal(attempts.get(n), expected, `message ${n} was offered ${attempts.get(n)} times`);
        }
      }),
    );

    it(
      'group: handlers may resolve out of order; each message is done once, none comes back',
      withFixture(async (f) => {
        const waiting: Array<{ n: number; resolve: () => void }> = [];
        const done = new Tally();
        const sub = f.bus.subscribe(
          'telemetry',
          (m) =>
            new Promise<void>((resolve) => {
              const n = seqOf(m);
              waiting.push({
                n,
                resolve: () => {
                  done.add(n);
                  resolve();
                },
              });
            }),
          { group: 'historian' },
        );
        await sub.ready;
        const ns = range(200);
        await Promise.all(ns.map((n) => f.bus.publish('telemetry', batch(n))));
        await waitFor(() => waiting.length >= ns.length, 'every message handed to the handler');
        for (const w of waiting.splice(0).reverse()) w.resolve();
        // A second batch after the first is acknowledged: the only thing now delivered.
        const more = range(50).map((i) => 1_000 + i);
        await Promise.all(more.map((n) => f.bus.publish('telemetry', batch(n))));
        await waitFor(() => {
          for (const w of waiting.splice(0)) w.resolve();
          return done.total >= ns.length + more.length;
        }, 'the second batch');
        done.assertEach([...ns, ...more], 1, 'handled');
        assert.equal(done.total, ns.length + more.length);
      }),
    );

    it(
      'unsubscribe stops delivery (live and group); the group keeps delivering to its other member',
      withFixture(async (f) => {
        const other = await f.peer();
        const liveA = new Tally();
        const liveB = new Tally();
        const groupA = new Tally();
        const groupB = new Tally();
        const la = f.bus.subscribe('telemetry', (m) => liveA.add(seqOf(m)));
        const lb = other.subscribe('telemetry', (m) => liveB.add(seqOf(m)));
        const ga = f.bus.subscribe('telemetry', (m) => groupA.add(seqOf(m)), { group: 'historian' });
        const gb = other.subscribe('telemetry', (m) => groupB.add(seqOf(m)), { group: 'historian' });
        await Promise.all([la.ready, lb.ready, ga.ready, gb.ready]);
        const first = range(100);
        await Promise.all(first.map((n) => f.bus.publish('telemetry', batch(n))));
        await waitFor(() => liveA.total >= 100 && liveB.total >= 100 && groupA.total + groupB.total >= 100, 'the first messages');
        await la.unsubscribe();
        await ga.unsubscribe();
        const liveBefore = liveA.total;
        const groupBefore = groupA.total;
        const second = range(100).map((i) => 100 + i);
        await Promise.all(second.map((n) => f.bus.publish('telemetry', batch(n))));
        await waitFor(() => liveB.total >= 200 && groupA.total + groupB.total >= 200, 'the second messages');
        assert.equal(liveA.total, liveBefore, 'the unsubscribed live handler got nothing more');
        assert.equal(groupA.total, groupBefore, 'the unsubscribed group member got nothing more');
        groupB.assertEach(second, 1, 'the remaining group member');
        liveB.assertEach([...first, ...second], 1, 'the remaining live subscriber');
      }),
    );

    it(
      'group: one publisher on one subject — a single member is handed the messages in publish order',
      withFixture(async (f) => {
        const g = new Tally();
        const sub = f.bus.subscribe('telemetry', (m) => g.add(seqOf(m)), { group: 'historian' });
        await sub.ready;
        const ns = range(1_000);
        await Promise.all(ns.map((n) => f.bus.publish('telemetry', batch(n))));
        await waitFor(() => g.total >= ns.length, 'every message');
        assert.deepEqual(g.order, ns);
      }),
    );

    it(
      'back-pressure: 50,000 messages published at once all resolve and each reaches the group once',
      withFixture(async (f) => {
        const g = new Tally();
        const sub = f.bus.subscribe('telemetry', (m) => g.add(seqOf(m)), { group: 'historian' });
        await sub.ready;
        const ns = range(50_000);
        const devices = range(16).map((d) => `dev-${d}` as DeviceId);
        const results = await Promise.allSettled(ns.map((n) => f.bus.publish('telemetry', batch(n, devices[n % devices.length]))));
        const failed = results.filter((r) => r.status === 'rejected');
        assert.equal(failed.length, 0, `publishes rejected: ${failed.length} (first: ${String((failed[0] as PromiseRejectedResult | undefined)?.reason)})`);
        await waitFor(() => g.total >= ns.length, 'all 50,000 messages at the group', 120_000);
        g.assertEach(ns, 1, 'group');
        assert.equal(g.total, ns.length);
      }),
    );

    it(
      'close: publish afterwards rejects with IIP_ERR_BUS_UNAVAILABLE; closing twice is harmless',
      withFixture(async (f) => {
        const g = new Tally();
        const sub = f.bus.subscribe('telemetry', (m) => g.add(seqOf(m)), { group: 'historian' });
        await sub.ready;
        await f.bus.publish('telemetry', batch(1));
        await waitFor(() => g.total >= 1, 'the message before close');
        await f.bus.close();
        await f.bus.close();
        await rejectsIipError(() => f.bus.publish('telemetry', batch(2)), 'IIP_ERR_BUS_UNAVAILABLE');
      }),
    );
  });
}
