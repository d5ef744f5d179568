/**
 * Issue 13, point 2: expressions over the devices of one asset (`when.assetExpression`). Each property is the list
 * of the latest values of the covered devices in the asset's subtree that reported within `maxAge`; the rule is
 * evaluated in its own chain (one at a time, so one alarm per rule and asset however close together the devices'
 * batches come), by the platform's clock; its transitions name the asset as their source. Also what such a rule
 * may not be: without an asset, at the edge, with suppression or device actions, with an expression that does not
 * type-check over lists.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeviceId, TelemetryBatch, TenantId } from '@iip/core';
import { compileRule, RuleEngine, type RuleEnginePorts, type Transition } from '@iip/rules';
import { MODEL } from './model.js';

const T = 'acme';
// plant > line-1 > cell-1, plant > line-2
const PARENT: Record<string, string | null> = { plant: null, 'line-1': 'plant', 'cell-1': 'line-1', 'line-2': 'plant' };

function world(devices: Record<string, string | null>) {
  const transitions: Transition[] = [];
  let clock = 1_000_000;
  const ports: RuleEnginePorts = {
    deviceInfo: async (_t, d) => (d in devices ? { product: 'press', asset: devices[d] ?? null } : undefined),
    inSubtree: async (_t, ancestor, asset) => {
      for (let a: string | null | undefined = asset; a; a = PARENT[a]) if (a === ancestor) return true;
      return false;
    },
    onTransition: async (x) => {
      await new Promise((r) => setTimeout(r, 3));
      transitions.push(x);
    },
    saveStates: async () => {},
    loadStates: async () => [],
  };
  const engine = new RuleEngine(ports, () => {}, () => clock);
  return { engine, transitions, devices, advance: (ms: number) => (clock += ms), now: () => clock };
}

const batch = (device: string, values: Record<string, number | boolean>): TelemetryBatch => ({
  tenant: T as TenantId,
  device: device as DeviceId,
  points: Object.entries(values).map(([property, value]) => ({ property, ts: 5, value })),
  receivedAt: 5,
});

const assetRule = (when: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  compileRule({ id: 'line-hot', scope: { product: 'press', asset: 'line-1' }, when: { assetExpression: when }, ...extra }, MODEL);

const summary = (ts: readonly Transition[]) => ts.map((t) => `${t.device}/${t.source}:${t.kind}`);

describe('rules over the devices of an asset', () => {
  test('avg over the subtree: devices outside the asset do not count; the alarm source is the asset', async () => {
    const w = world({ a: 'line-1', b: 'cell-1', c: 'line-2' });
    await w.engine.install(T, assetRule({ expression: 'avg(t) > 80.0' }));
    await w.engine.evaluate(batch('a', { t: 70 }));
    await w.engine.evaluate(batch('c', { t: 200 })); // line-2: not in line-1's subtree
    assert.deepEqual(summary(w.transitions), []);
    await w.engine.evaluate(batch('b', { t: 95 })); // avg(70, 95) = 82.5
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise']);
    const raise = w.transitions[0] as Transition;
    assert.deepEqual(raise.values, { t: [70, 95] });
    assert.equal(raise.ts, w.now(), 'evaluated by the platform clock');
    await w.engine.evaluate(batch('a', { t: 60 })); // avg(60, 95) = 77.5
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise', 'line-1/asset:clear']);
  });

  test('batches of several devices at once raise one alarm, not one per device', async () => {
    const w = world({ a: 'line-1', b: 'line-1', d: 'cell-1' });
    await w.engine.install(T, assetRule({ expression: 'size(t.filter(x, x > 90.0)) >= 2' }));
    await Promise.all([w.engine.evaluate(batch('a', { t: 95 })), w.engine.evaluate(batch('b', { t: 96 })), w.engine.evaluate(batch('d', { t: 97 }))]);
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise']);
  });

  test('values older than maxAge leave the lists; a device moved out of the subtree leaves at its next batch', async () => {
    const w = world({ a: 'line-1', b: 'line-1' });
    await w.engine.install(T, assetRule({ expression: 'max(t) > 80.0', maxAge: '1m' }));
    await w.engine.evaluate(batch('a', { t: 90 }));
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise']);
    w.advance(61_000); // a's 90 is too old now
    await w.engine.evaluate(batch('b', { t: 20 }));
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise', 'line-1/asset:clear']);
    assert.deepEqual(w.transitions[1]?.values, { t: [20] });
    await w.engine.evaluate(batch('a', { t: 99 }));
    assert.equal(w.transitions.length, 3);
    w.devices.a = 'line-2';
    await w.engine.evaluate(batch('a', { t: 99 }));
    await w.engine.evaluate(batch('b', { t: 30 }));
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise', 'line-1/asset:clear', 'line-1/asset:raise', 'line-1/asset:clear']);
  });

  test('"for" counts by the platform clock across the devices\' samples', async () => {
    const w = world({ a: 'line-1', b: 'line-1' });
    await w.engine.install(T, assetRule({ expression: 'min(t) > 50.0' }, { when: { assetExpression: { expression: 'min(t) > 50.0' }, for: '30s' } }));
    await w.engine.evaluate(batch('a', { t: 60 }));
    w.advance(20_000);
    await w.engine.evaluate(batch('b', { t: 70 }));
    assert.deepEqual(summary(w.transitions), []);
    w.advance(15_000);
    await w.engine.evaluate(batch('a', { t: 61 }));
    assert.deepEqual(summary(w.transitions), ['line-1/asset:raise']);
  });

  test('a per-device rule beside it is evaluated as before', async () => {
    const w = world({ a: 'line-1' });
    await w.engine.install(T, assetRule({ expression: 'avg(t) > 80.0' }));
    await w.engine.install(T, compileRule({ id: 'dev-hot', scope: { product: 'press' }, when: { threshold: { property: 't', op: '>', value: 80 } } }, MODEL));
    await w.engine.evaluate(batch('a', { t: 90 }));
    assert.deepEqual(w.transitions.map((t) => `${t.rule.rule.id}/${t.device}/${t.source ?? 'device'}`).sort(), ['dev-hot/a/device', 'line-hot/line-1/asset']);
  });

  test('refused with a code naming the field', () => {
    const refuse = (doc: Record<string, unknown>, code: string, field: string) =>
      assert.throws(
        () => compileRule(doc, MODEL),
        (e: { code?: string; details?: { field?: string } }) => e.code === code && e.details?.field === field,
      );
    const base = { id: 'r', scope: { product: 'press', asset: 'line-1' } };
    refuse({ ...base, scope: { product: 'press' }, when: { assetExpression: { expression: 'avg(t) > 1.0' } } }, 'IIP_ERR_RULE_INVALID', 'scope.asset');
    refuse({ ...base, when: { assetExpression: { expression: 't > 1.0' } } }, 'IIP_ERR_RULE_TYPE', 'when.assetExpression.expression');
    refuse({ ...base, when: { assetExpression: { expression: 'avg(speed) > 1.0' } } }, 'IIP_ERR_RULE_UNKNOWN_PROPERTY', 'when.assetExpression.expression');
    refuse({ ...base, when: { assetExpression: { expression: 'avg(t) > 1.0', maxAge: '10ms' } } }, 'IIP_ERR_RULE_INVALID', 'when.assetExpression.maxAge');
    refuse({ ...base, runAt: 'edge', when: { assetExpression: { expression: 'avg(t) > 1.0' } } }, 'IIP_ERR_RULE_INVALID', 'when.assetExpression');
    refuse({ ...base, when: { assetExpression: { expression: 'avg(t) > 1.0' } }, alarm: { suppressWhen: '!running' } }, 'IIP_ERR_RULE_INVALID', 'alarm.suppressWhen');
    refuse({ ...base, when: { assetExpression: { expression: 'avg(t) > 1.0' } }, actions: [{ type: 'publish', on: 'raise', topic: 'line' }] }, 'IIP_ERR_RULE_INVALID', 'actions[0].type');
    const ok = compileRule({ ...base, when: { assetExpression: { expression: 'running.exists(r, r) && avg(t) > 1.0' } } }, MODEL);
    assert.deepEqual(ok.rule.when.assetExpression, { expression: 'running.exists(r, r) && avg(t) > 1.0', maxAgeMs: 600_000 });
    assert.deepEqual(ok.properties, ['running', 't']);
    // A stored rule reads back and compiles again.
    assert.deepEqual(compileRule(ok.rule, MODEL).rule, ok.rule);
  });
});
