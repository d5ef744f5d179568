/** Issue 13, point 7: a rule over stored history gives the raises and clears live evaluation would have. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backtest, compileRule, type HistoryPoint } from '@iip/rules';
import { MODEL } from './model.js';

test('raises, clears, alarm count, time active — properties merged in time order', () => {
  const rule = compileRule({ id: 'r', scope: { product: 'p' }, when: { expression: 'running && t > 80.0' } }, MODEL);
  const points: HistoryPoint[] = [
    { property: 't', ts: 3_000, value: 90 },
    { property: 'running', ts: 1_000, value: true },
    { property: 't', ts: 1_000, value: 70 },
    { property: 't', ts: 2_000, value: 85 },
    { property: 'running', ts: 4_000, value: false },
    { property: 'running', ts: 5_000, value: true },
    { property: 't', ts: 6_000, value: 95 },
  ];
  const r = backtest(rule, points);
  assert.equal(r.samples, 6);
  assert.deepEqual(r.transitions, [
    { kind: 'raise', ts: 2_000 },
    { kind: 'clear', ts: 4_000 },
    { kind: 'raise', ts: 5_000 },
  ]);
  assert.equal(r.alarms, 2);
  assert.equal(r.activeMs, 2_000 + 1_000);
  assert.equal(r.activeAtEnd, true);
  assert.deepEqual(backtest(rule, []), { samples: 0, alarms: 0, transitions: [], activeMs: 0, activeAtEnd: false });
});
