/**
 * Window and rate-of-change conditions (issue 13, point 2): sliding windows against a reference computed from every
 * sample, tumbling windows told when they complete, rates with hysteresis, and their refusals.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IipError, type ThingModel } from '@iip/core';
import { backtest, type ConditionState, compileRule, INITIAL_CONDITION_STATE, stepCondition, WINDOW_SLICES } from '@iip/rules';
import fc from 'fast-check';

const M: ThingModel = {
  properties: [
    { id: 'temp', dataType: { type: 'float' }, access: 'r' },
    { id: 'mode', dataType: { type: 'string' }, access: 'r' },
  ],
  events: [],
  services: [],
};

const run = (doc: Record<string, unknown>, samples: Array<[number, number]>) => {
  const c = compileRule({ id: 'w', scope: { product: 'p' }, ...doc }, M);
  let s: ConditionState = INITIAL_CONDITION_STATE;
  const out: Array<[number, string]> = [];
  for (const [ts, v] of samples) {
    const step = stepCondition(c, s, { ts, values: { temp: v } });
    s = step.state;
    if (step.transition) out.push([ts, step.transition]);
  }
  return { transitions: out, state: s };
};

describe('window conditions', () => {
  test('a sliding average is true exactly when the average of the samples in the window is past the limit (against a reference)', () => {
    const size = 60_000;
    const width = size / WINDOW_SLICES;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 100 })), { minLength: 1, maxLength: 80 }),
        fc.constantFrom('avg', 'min', 'max', 'sum', 'count'),
        fc.integer({ min: 0, max: 100 }),
        (steps, fn, limit) => {
          // Samples on slice edges (0 to 3 slices apart): a slice then holds exactly the samples at its start.
          const samples: Array<[number, number]> = [];
          let ts = 1_000 * width;
          for (const [gap, v] of steps) {
            ts += gap * width;
            samples.push([ts, v]);
          }
          const c = compileRule({ id: 'w', scope: { product: 'p' }, when: { window: { property: 'temp', fn, size: '1m', op: '>', value: limit } } }, M);
          let s: ConditionState = INITIAL_CONDITION_STATE;
          for (let i = 0; i < samples.length; i++) {
            const [t, v] = samples[i] as [number, number];
            s = stepCondition(c, s, { ts: t, values: { temp: v } }).state;
            const inWindow = samples.slice(0, i + 1).filter(([u]) => u >= t - size).map(([, x]) => x);
            const ref = { avg: inWindow.reduce((a, b) => a + b, 0) / inWindow.length, sum: inWindow.reduce((a, b) => a + b, 0), count: inWindow.length, min: Math.min(...inWindow), max: Math.max(...inWindow) }[fn];
            assert.equal(s.active || s.pendingSince !== null, ref > limit, `at ${t}: ${fn} ${ref} > ${limit}`);
            assert.ok((s.slices?.length ?? 0) <= WINDOW_SLICES + 1, 'the state stays small');
          }
        },
      ),
    );
  });

  test('a tumbling maximum is told when its window completes; an empty window is skipped', () => {
    const r = run({ when: { window: { property: 'temp', fn: 'max', size: '10s', kind: 'tumbling', op: '>=', value: 50 } } }, [
      [0, 10],
      [4_000, 60], // window [0, 10 s) reaches 60 …
      [9_999, 20],
      [10_000, 5], // … told here: raise
      [15_000, 7],
      [31_000, 1], // [10 s, 20 s) max 7: clear (the empty [20 s, 30 s) is not evaluated)
    ]);
    assert.deepEqual(r.transitions, [
      [10_000, 'raise'],
      [31_000, 'clear'],
    ]);
    assert.deepEqual(r.state.slices, [[30_000, 1, 1, 1, 1]]);
  });

  test('rate of change per minute, with a deadband, and a repeated timestamp that says nothing', () => {
    const r = run({ when: { rate: { property: 'temp', per: '1m', op: '>', value: 6, deadband: 2 } } }, [
      [0, 20],
      [30_000, 22], // 4 /min
      [60_000, 26], // 8 /min: raise
      [60_000, 99], // same time: no rate
      [90_000, 101.5], // 5 /min: still above 6 − 2
      [120_000, 102], // 1 /min: clear
    ]);
    assert.deepEqual(r.transitions, [
      [60_000, 'raise'],
      [120_000, 'clear'],
    ]);
  });

  test('the backtest runs windows over history like live data', () => {
    const c = compileRule({ id: 'w', scope: { product: 'p' }, when: { window: { property: 'temp', fn: 'avg', size: '30s', op: '>', value: 80 } } }, M);
    const points = Array.from({ length: 120 }, (_, i) => ({ property: 'temp', ts: i * 1_000, value: i >= 40 && i < 80 ? 100 : 60 }));
    const b = backtest(c, points);
    // avg over the last 30 s passes 80 once more than half of its samples are 100, and falls back the same way.
    assert.deepEqual(b.transitions.map((t) => t.kind), ['raise', 'clear']);
    assert.ok((b.transitions[0]?.ts ?? 0) > 50_000 && (b.transitions[0]?.ts ?? 0) < 60_000, JSON.stringify(b.transitions));
    assert.ok((b.transitions[1]?.ts ?? 0) > 90_000 && (b.transitions[1]?.ts ?? 0) < 100_000, JSON.stringify(b.transitions));
  });

  test('refusals name the field', () => {
    const refused = (when: unknown, code: string, field: string) =>
      assert.throws(
        () => compileRule({ id: 'w', scope: { product: 'p' }, when }, M),
        (e: unknown) => e instanceof IipError && e.code === code && e.details.field === field,
      );
    refused({ window: { property: 'mode', fn: 'avg', size: '1m', op: '>', value: 1 } }, 'IIP_ERR_RULE_TYPE', 'when.window.property');
    refused({ window: { property: 'temp', fn: 'median', size: '1m', op: '>', value: 1 } }, 'IIP_ERR_RULE_INVALID', 'when.window.fn');
    refused({ window: { property: 'temp', fn: 'avg', size: '500ms', op: '>', value: 1 } }, 'IIP_ERR_RULE_INVALID', 'when.window.size');
    refused({ window: { property: 'temp', fn: 'avg', size: '1m', kind: 'hopping', op: '>', value: 1 } }, 'IIP_ERR_RULE_INVALID', 'when.window.kind');
    refused({ rate: { property: 'temp', per: 'often', op: '>', value: 1 } }, 'IIP_ERR_RULE_INVALID', 'when.rate.per');
    refused({ rate: { property: 'nope', op: '>', value: 1 } }, 'IIP_ERR_RULE_UNKNOWN_PROPERTY', 'when.rate.property');
    refused({ threshold: { property: 'temp', op: '>', value: 1 }, rate: { property: 'temp', op: '>', value: 1 } }, 'IIP_ERR_RULE_INVALID', 'when');
  });
});
