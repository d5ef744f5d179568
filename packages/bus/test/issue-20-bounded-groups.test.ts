/**
 * Issue 20, point 4: a slow or failing subscriber group of the in-process bus holds at most its bound of messages;
 * past it new messages are not given to it, counted, and reported once per overload (IIP_ERR_BUS_OVERLOADED).
 * Live subscribers and other groups are not affected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InProcessBus } from '@iip/bus';
import type { TelemetryBatch } from '@iip/core';

const batch = (i: number) => ({ tenant: 't', device: 'd', receivedAt: i, points: [{ property: 'p', ts: i, value: i }] }) as unknown as TelemetryBatch;

describe('in-process bus: bounded groups (issue 20)', () => {
  it('a group whose handlers do not finish holds at most maxPendingPerGroup messages; the rest are counted and reported once', async () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus({ maxPendingPerGroup: 100, onError: (_t, e) => errors.push(e) });
    const stuck: Array<() => void> = [];
    let fast = 0;
    let live = 0;
    bus.subscribe('telemetry', () => new Promise<void>((r) => stuck.push(r)), { group: 'rules' });
    bus.subscribe('telemetry', () => void fast++, { group: 'historian' });
    bus.subscribe('telemetry', () => void live++);
    for (let i = 0; i < 1000; i++) await bus.publish('telemetry', batch(i));
    assert.equal(stuck.length, 100, 'the slow group was handed its bound, no more');
    assert.deepEqual(bus.stats().groups['telemetry/rules'], { pending: 100, dropped: 900 });
    assert.deepEqual(bus.stats().groups['telemetry/historian'], { pending: 0, dropped: 0 });
    assert.equal(fast, 1000);
    assert.equal(live, 1000);
    assert.equal(errors.length, 1, 'one report for the overload, not one per message');
    assert.match(String((errors[0] as { code?: string }).code), /IIP_ERR_BUS_OVERLOADED/);
    // It catches up: messages are given to it again, and a later overload is reported again.
    for (const r of stuck.splice(0)) r();
    await new Promise((r) => setImmediate(r));
    assert.equal(bus.stats().groups['telemetry/rules']?.pending, 0);
    for (let i = 0; i < 150; i++) await bus.publish('telemetry', batch(i));
    assert.equal(stuck.length, 100);
    assert.equal(bus.stats().groups['telemetry/rules']?.dropped, 950);
    assert.equal(errors.length, 2);
    for (const r of stuck.splice(0)) r();
    await bus.close();
  });

  it('a failing group keeps its messages for retry within the bound, not without limit', async () => {
    const bus = new InProcessBus({ maxPendingPerGroup: 50, retryDelayMs: 10_000, onError: () => undefined });
    let calls = 0;
    bus.subscribe(
      'telemetry',
      async () => {
        calls++;
        throw new Error('the alarm store is down');
      },
      { group: 'rules' },
    );
    for (let i = 0; i < 500; i++) await bus.publish('telemetry', batch(i));
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 50);
    assert.deepEqual(bus.stats().groups['telemetry/rules'], { pending: 50, dropped: 450 });
    await bus.close();
  });
});
