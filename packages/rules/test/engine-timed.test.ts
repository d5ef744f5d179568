/**
 * Issue 13, points 2 and 5: what depends on time and on the machine's state — no-data rules (a device gone quiet,
 * by the platform's clock, also one never heard from), suppression by design (a condition over the device's
 * properties hides the alarm and runs no action), and schedules (cron minutes in a time zone).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DeviceId, IipError, type TelemetryBatch, type TenantId, type ThingModel } from '@iip/core';
import { actionJobs, compileRule, RuleEngine, type RuleEnginePorts, type Transition } from '@iip/rules';

const T = 'acme';
const M: ThingModel = {
  properties: [
    { id: 't', dataType: { type: 'float' }, access: 'r' },
    { id: 'running', dataType: { type: 'bool' }, access: 'r' },
  ],
  events: [],
  services: [],
};

function world(devices: string[] = []) {
  const seen: Transition[] = [];
  const ports: RuleEnginePorts = {
    deviceInfo: async () => ({ product: 'press', asset: null }),
    inSubtree: async () => true,
    onTransition: async (x) => {
      seen.push(x);
    },
    listDevices: async () => devices.map((id) => ({ id, asset: null })),
    saveStates: async () => undefined,
    loadStates: async () => [],
  };
  const log = () => seen.map((x) => `${x.device}:${x.kind}${x.suppressed ? '(suppressed)' : ''}@${x.ts}`);
  return { ports, seen, log };
}

const batch = (device: string, ts: number, values: Record<string, number | boolean>): TelemetryBatch => ({
  tenant: T as TenantId,
  device: device as DeviceId,
  points: Object.entries(values).map(([property, value]) => ({ property, ts, value })),
  receivedAt: ts,
});
const rule = (doc: Record<string, unknown>) => compileRule({ id: 'r', scope: { product: 'press' }, ...doc }, M);

describe('no-data rules', () => {
  test('a device silent for "after" raises, by the platform clock; its next sample clears; one never heard from counts from install', async () => {
    let now = 1_000_000;
    const w = world(['m1', 'm2']);
    const engine = new RuleEngine(w.ports, () => {}, () => now);
    await engine.install(T, rule({ when: { noData: { after: '1m', property: 't' } } }));
    await engine.evaluate(batch('m1', 5, { t: 20 })); // device time is its own; the platform's clock counts
    now += 59_000;
    await engine.tick();
    assert.deepEqual(w.log(), []);
    await engine.evaluate(batch('m1', 6, { running: true })); // another property: not data for this rule
    now += 1_000;
    await engine.tick();
    assert.deepEqual(w.log(), ['m1:raise@1060000', 'm2:raise@1060000'], 'm1 went quiet; m2 never spoke since the rule was installed');
    await engine.tick();
    assert.equal(w.seen.length, 2, 'raised once');
    now += 5_000;
    await engine.evaluate(batch('m1', 7, { t: 21 }));
    assert.deepEqual(w.log().slice(2), ['m1:clear@7']);
    now += 59_000;
    await engine.tick();
    assert.equal(w.seen.length, 3, 'a minute has not passed since m1 spoke again');
    now += 1_000;
    await engine.tick();
    assert.deepEqual(w.log().slice(3), ['m1:raise@1125000']);
  });

  test('"after" is at least 10 s and the property must exist', () => {
    assert.throws(() => rule({ when: { noData: { after: '5s' } } }), (e: unknown) => e instanceof IipError && e.details.field === 'when.noData.after');
    assert.throws(() => rule({ when: { noData: { after: '1m', property: 'nope' } } }), (e: unknown) => e instanceof IipError && e.code === 'IIP_ERR_RULE_UNKNOWN_PROPERTY');
    assert.throws(() => rule({ when: { noData: { after: '1m' }, for: '1m' } }), (e: unknown) => e instanceof IipError && e.details.field === 'when.for');
  });
});

describe('suppression by design', () => {
  test('while the machine is stopped the alarm is suppressed: a raise then carries it, and runs no action', async () => {
    const w = world();
    const engine = new RuleEngine(w.ports);
    const c = rule({ when: { threshold: { property: 't', op: '>', value: 80 } }, alarm: { suppressWhen: '!running' }, actions: [{ type: 'publish', topic: 'hot' }] });
    await engine.install(T, c);
    await engine.evaluate(batch('m1', 1, { running: false }));
    await engine.evaluate(batch('m1', 2, { t: 90 }));
    await engine.evaluate(batch('m1', 3, { running: true }));
    await engine.evaluate(batch('m1', 4, { t: 70 }));
    await engine.evaluate(batch('m1', 5, { t: 95 }));
    assert.deepEqual(w.log(), ['m1:suppress(suppressed)@1', 'm1:raise(suppressed)@2', 'm1:unsuppress@3', 'm1:clear@4', 'm1:raise@5']);
    assert.deepEqual(w.seen.map((x) => actionJobs(x, 0).length), [0, 0, 0, 0, 1], 'only the raise while running runs the action');
  });
});

describe('schedules', () => {
  test('outside the cron minutes (in the time zone) the condition is false: a rule active on weekday day shifts in Shanghai', async () => {
    const w = world();
    const engine = new RuleEngine(w.ports);
    await engine.install(T, rule({ when: { threshold: { property: 't', op: '>', value: 80 } }, schedule: { cron: '* 8-19 * * 1-5', timezone: 'Asia/Shanghai' } }));
    const at = (iso: string) => Date.parse(iso);
    await engine.evaluate(batch('m1', at('2026-12-05T03:00:00Z'), { t: 90 })); // Saturday 11:00 in Shanghai
    await engine.evaluate(batch('m1', at('2026-12-07T00:30:00Z'), { t: 90 })); // Monday 08:30: raise
    await engine.evaluate(batch('m1', at('2026-12-07T12:00:00Z'), { t: 90 })); // Monday 20:00: out of the shift, clears
    assert.deepEqual(w.log(), [`m1:raise@${at('2026-12-07T00:30:00Z')}`, `m1:clear@${at('2026-12-07T12:00:00Z')}`]);
  });

  test('a bad cron expression or time zone is refused naming the field', () => {
    assert.throws(() => rule({ when: { threshold: { property: 't', op: '>', value: 1 } }, schedule: { cron: '61 * * * *' } }), (e: unknown) => e instanceof IipError && e.details.field === 'schedule.cron');
    assert.throws(() => rule({ when: { threshold: { property: 't', op: '>', value: 1 } }, schedule: { cron: ['* * * * *', '* *'] } }), (e: unknown) => e instanceof IipError && e.details.field === 'schedule.cron[1]');
    assert.throws(() => rule({ when: { threshold: { property: 't', op: '>', value: 1 } }, schedule: { cron: '* * * * *', timezone: 'Mars/Olympus' } }), (e: unknown) => e instanceof IipError && e.details.field === 'schedule.timezone');
  });
});

describe('edge rules', () => {
  test('a rule with runAt "edge" is left to the gateways; event and no-data rules cannot run there', async () => {
    const w = world();
    const engine = new RuleEngine(w.ports);
    await engine.install(T, rule({ runAt: 'edge', when: { threshold: { property: 't', op: '>', value: 80 } } }));
    await engine.evaluate(batch('m1', 1, { t: 90 }));
    assert.deepEqual(w.log(), []);
    assert.equal(engine.size, 0);
    assert.throws(() => rule({ runAt: 'edge', when: { noData: { after: '1m' } } }), (e: unknown) => e instanceof IipError && e.details.field === 'when.noData');
    assert.throws(() => rule({ runAt: 'cloud', when: { threshold: { property: 't', op: '>', value: 80 } } }), (e: unknown) => e instanceof IipError && e.details.field === 'runAt');
  });
});
