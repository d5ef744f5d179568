/**
 * Issue 13, points 2 and 5: condition evaluation over one device's samples — threshold with deadband, repeat
 * count, for-duration, expressions — as a pure step whose state survives a JSON round trip (a restart or a
 * failover). A fast-check property compares it with a plain reference written separately.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CompiledRule, type ConditionState, compileRule, INITIAL_CONDITION_STATE, type Sample, stepCondition } from '@iip/rules';
import fc from 'fast-check';
import { MODEL } from './model.js';

function run(c: CompiledRule, samples: readonly Sample[], start: ConditionState = INITIAL_CONDITION_STATE): { transitions: string[]; state: ConditionState } {
  let state = start;
  const transitions: string[] = [];
  for (const s of samples) {
    const r = stepCondition(c, state, s);
    // Stored and read back between samples, as the engine does.
    state = JSON.parse(JSON.stringify(r.state)) as ConditionState;
    if (r.transition) transitions.push(`${r.transition}@${s.ts}`);
  }
  return { transitions, state };
}

const temps = (vals: number[], step = 1000) => vals.map((t, i) => ({ ts: i * step, values: { t } }));
const rule = (when: Record<string, unknown>) => compileRule({ id: 'r', scope: { product: 'p' }, when }, MODEL);

describe('conditions', () => {
  test('threshold with deadband: raised once above, cleared only back below limit − deadband', () => {
    const c = rule({ threshold: { property: 't', op: '>', value: 80, deadband: 2 } });
    assert.deepEqual(run(c, temps([70, 81, 79, 80.5, 85, 78.5, 77.9, 81])).transitions, ['raise@1000', 'clear@6000', 'raise@7000']);
    const low = rule({ threshold: { property: 't', op: '<=', value: 10, deadband: 1 } });
    assert.deepEqual(run(low, temps([12, 10, 10.9, 11.1, 9])).transitions, ['raise@1000', 'clear@3000', 'raise@4000']);
  });

  test('two samples 1 ms apart raise one alarm', () => {
    const c = rule({ threshold: { property: 't', op: '>', value: 80 } });
    assert.deepEqual(run(c, [{ ts: 5_000, values: { t: 90 } }, { ts: 5_001, values: { t: 91 } }]).transitions, ['raise@5000']);
  });

  test('count: that many true samples in a row; for: held that long', () => {
    const counted = rule({ threshold: { property: 't', op: '>', value: 80 }, count: 3 });
    assert.deepEqual(run(counted, temps([81, 82, 79, 81, 82, 83, 84])).transitions, ['raise@5000']);
    const held = rule({ threshold: { property: 't', op: '>', value: 80 }, for: '1m' });
    // Samples every 20 s: true from 20 s; a dip at 60 s restarts the minute; raised at 140 s (80 s … 140 s).
    assert.deepEqual(run(held, temps([70, 85, 85, 79, 85, 85, 85, 85], 20_000)).transitions, ['raise@140000']);
  });

  test('expressions: evaluated once every property they read has a value; a late sample is ignored', () => {
    const c = rule({ expression: 'running && t > 80.0' });
    const samples: Sample[] = [
      { ts: 1, values: { t: 90 } },
      { ts: 2, values: { t: 90, running: true } },
      { ts: 3, values: { t: 90, running: false } },
      { ts: 2, values: { t: 90, running: true } },
      { ts: 4, values: { t: 90, running: true } },
    ];
    assert.deepEqual(run(c, samples).transitions, ['raise@2', 'clear@3', 'raise@4']);
  });

  test('state survives a restart: the run continues where it stopped', () => {
    const held = rule({ threshold: { property: 't', op: '>', value: 80 }, for: '1m' });
    const all = temps([85, 85, 85, 85, 70], 20_000);
    const first = run(held, all.slice(0, 2));
    const rest = run(held, all.slice(2), first.state);
    assert.deepEqual([...first.transitions, ...rest.transitions], run(held, all).transitions);
    assert.deepEqual(run(held, all).transitions, ['raise@60000', 'clear@80000']);
  });

  test('property: the step function matches a reference model over random samples', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('>', '>=', '<', '<='),
        fc.integer({ min: -5, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 2_000 }), v: fc.integer({ min: -10, max: 10 }) }), { maxLength: 60 }),
        (op, limit, deadband, count, forMs, steps) => {
          const c = rule({ threshold: { property: 't', op, value: limit, deadband }, count, for: forMs });
          let ts = 0;
          const samples = steps.map((s) => {
            ts += s.dt;
            return { ts, values: { t: s.v } };
          });
          // Reference: written from the rules in docs/reference/rules.md, not from the implementation.
          const expected: string[] = [];
          let active = false;
          let run0: number | null = null;
          let streak = 0;
          for (const s of samples) {
            const v = s.values.t;
            const above = op === '>' || op === '>=';
            const edge = active ? (above ? limit - deadband : limit + deadband) : limit;
            const holds = op === '>' ? v > edge : op === '>=' ? v >= edge : op === '<' ? v < edge : v <= edge;
            if (active) {
              if (!holds) {
                active = false;
                run0 = null;
                streak = 0;
                expected.push(`clear@${s.ts}`);
              }
            } else if (!holds) {
              run0 = null;
              streak = 0;
            } else {
              run0 ??= s.ts;
              streak++;
              if (streak >= count && s.ts - run0 >= forMs) {
                active = true;
                expected.push(`raise@${s.ts}`);
              }
            }
          }
          const got = run(c, samples).transitions;
          assert.deepEqual(got, expected);
          // Raises and clears alternate, starting with a raise: never two active alarms.
          for (const [i, t] of got.entries()) assert.equal(t.startsWith('raise'), i % 2 === 0);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
