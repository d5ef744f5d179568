/**
 * Issue 13, points 2 and 5: the rule engine's core over stored telemetry batches — scope (product, devices, asset
 * subtree), one device at a time in order (two messages 1 ms apart raise one alarm, however they arrive), and
 * evaluation states stored and loaded back so a restart carries on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeviceId, TelemetryBatch, TenantId } from '@iip/core';
import { type ConditionState, compileRule, RuleEngine, type RuleEnginePorts, type Transition } from '@iip/rules';
import { MODEL } from './model.js';

const T = 'acme';

function world(devices: Record<string, { product: string; asset: string | null }> = {}) {
  const transitions: string[] = [];
  const stored = new Map<string, unknown>();
  let failSaves = 0;
  // A tiny asset tree: plant > line-1 > cell-1, plant > line-2.
  const parent: Record<string, string | null> = { plant: null, 'line-1': 'plant', 'cell-1': 'line-1', 'line-2': 'plant' };
  const ports: RuleEnginePorts = {
    deviceInfo: async (_t, d) => devices[d] ?? { product: 'press', asset: null },
    inSubtree: async (_t, ancestor, asset) => {
      for (let a: string | null | undefined = asset; a; a = parent[a]) if (a === ancestor) return true;
      return false;
    },
    onTransition: async (x: Transition) => {
      // A slow store: a second batch of the device must wait for this one.
      await new Promise((r) => setTimeout(r, 5));
      transitions.push(`${x.rule.rule.id}/${x.device}:${x.kind}@${x.ts}`);
    },
    saveStates: async (tenant, rows) => {
      if (failSaves > 0) {
        failSaves--;
        throw new Error('storage down');
      }
      for (const r of rows) stored.set(`${tenant}/${r.rule}/${r.device}`, JSON.parse(JSON.stringify(r.state)));
    },
    loadStates: async (tenant, rule) =>
      [...stored].filter(([k]) => k.startsWith(`${tenant}/${rule}/`)).map(([k, state]) => ({ device: k.split('/')[2] as string, state })),
  };
  return { ports, transitions, stored, failNextSaves: (n: number) => (failSaves = n) };
}

const batch = (device: string, ts: number, values: Record<string, number | boolean>): TelemetryBatch => ({
  tenant: T as TenantId,
  device: device as DeviceId,
  points: Object.entries(values).map(([property, value]) => ({ property, ts, value })),
  receivedAt: ts,
});
const rule = (doc: Record<string, unknown>) => compileRule({ scope: { product: 'press' }, ...doc }, MODEL);

describe('rule engine', () => {
  test('batches of one device arriving at once are evaluated one after another: one raise, not two', async () => {
    const w = world();
    const engine = new RuleEngine(w.ports);
    await engine.install(T, rule({ id: 'hot', when: { threshold: { property: 't', op: '>', value: 80 } } }));
    await Promise.all([engine.evaluate(batch('m1', 1_000, { t: 90 })), engine.evaluate(batch('m1', 1_001, { t: 91 })), engine.evaluate(batch('m2', 1_000, { t: 95 }))]);
    assert.deepEqual(w.transitions.sort(), ['hot/m1:raise@1000', 'hot/m2:raise@1000']);
    await engine.evaluate(batch('m1', 2_000, { t: 70 }));
    assert.deepEqual(w.transitions.filter((x) => x.includes('m1')), ['hot/m1:raise@1000', 'hot/m1:clear@2000']);
    assert.deepEqual(engine.stats(), { batches: 4, evaluations: 4, raises: 2, clears: 1, failures: 0 });
  });

  test('scope: the product, the device list, the asset subtree; a batch without the rule\'s properties does not evaluate it', async () => {
    const w = world({ a: { product: 'press', asset: 'cell-1' }, b: { product: 'press', asset: 'line-2' }, c: { product: 'oven', asset: 'cell-1' }, d: { product: 'press', asset: null } });
    const engine = new RuleEngine(w.ports);
    await engine.install(T, rule({ id: 'line1', scope: { product: 'press', asset: 'line-1' }, when: { threshold: { property: 't', op: '>', value: 80 } } }));
    await engine.install(T, rule({ id: 'only-b', scope: { product: 'press', devices: ['b'] }, when: { expression: 'running && t > 50.0' } }));
    for (const d of ['a', 'b', 'c', 'd']) await engine.evaluate(batch(d, 1_000, { t: 90, running: true }));
    assert.deepEqual(w.transitions.sort(), ['line1/a:raise@1000', 'only-b/b:raise@1000']);
    await engine.evaluate(batch('b', 2_000, { running: false }));
    assert.deepEqual(w.transitions.filter((x) => x.startsWith('only-b')), ['only-b/b:raise@1000', 'only-b/b:clear@2000'], 'the latest t is remembered between batches');
    const before = engine.stats().evaluations;
    await engine.evaluate(batch('a', 3_000, { running: false }));
    assert.equal(engine.stats().evaluations, before, 'line1 reads only t');
    // A disabled rule is not evaluated; removing a rule stops it.
    await engine.install(T, rule({ id: 'line1', enabled: false, scope: { product: 'press', asset: 'line-1' }, when: { threshold: { property: 't', op: '>', value: 0 } } }));
    engine.remove(T, 'only-b');
    assert.equal(engine.size, 0);
  });

  test('states are stored at flush and loaded back: a "for" duration carries on after a restart', async () => {
    const w = world();
    const held = rule({ id: 'held', when: { threshold: { property: 't', op: '>', value: 80 }, for: '1m' } });
    const first = new RuleEngine(w.ports);
    await first.install(T, held);
    await first.evaluate(batch('m1', 0, { t: 85 }));
    await first.evaluate(batch('m1', 30_000, { t: 85 }));
    w.failNextSaves(1);
    await first.flush();
    assert.equal(w.stored.size, 0, 'a failed save…');
    await first.flush();
    assert.equal(w.stored.size, 1, '…is retried at the next flush');
    assert.deepEqual(w.stored.get(`${T}/held/m1`), { active: false, pendingSince: 0, streak: 2, lastTs: 30_000 } satisfies ConditionState);

    // A new process: the same rule, the stored state; the minute completes at 60 s.
    const second = new RuleEngine(w.ports);
    await second.install(T, held);
    await second.evaluate(batch('m1', 60_000, { t: 85 }));
    assert.deepEqual(w.transitions, ['held/m1:raise@60000']);
    // Reinstalled as changed (fresh): the run starts over.
    const third = new RuleEngine(w.ports);
    await third.install(T, held, true);
    await third.evaluate(batch('m1', 61_000, { t: 85 }));
    assert.deepEqual(w.transitions, ['held/m1:raise@60000']);
  });

  test('a transition that cannot be reported rejects the batch and leaves the state as it was: given again, it raises', async () => {
    const w = world();
    let fail = true;
    const ports: RuleEnginePorts = {
      ...w.ports,
      onTransition: async (x) => {
        if (fail) {
          fail = false;
          throw new Error('alarm store down');
        }
        await w.ports.onTransition(x);
      },
    };
    const logged: string[] = [];
    const engine = new RuleEngine(ports, (msg) => logged.push(msg));
    await engine.install(T, rule({ id: 'hot', when: { threshold: { property: 't', op: '>', value: 80 } } }));
    await assert.rejects(() => engine.evaluate(batch('m1', 1, { t: 90 })), /alarm store down/);
    assert.equal(engine.stats().failures, 1);
    assert.deepEqual(logged, ['rules: evaluation failed']);
    // The bus gives the batch again: the raise is reported this time, then the clear.
    await engine.evaluate(batch('m1', 1, { t: 90 }));
    await engine.evaluate(batch('m1', 2, { t: 70 }));
    assert.deepEqual(w.transitions, ['hot/m1:raise@1', 'hot/m1:clear@2']);
    assert.deepEqual([engine.stats().raises, engine.stats().clears], [1, 1]);
  });
});
