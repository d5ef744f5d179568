import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PropertySpec } from '@iip/core';
import { type BacktestDeviceResult, rulesApi } from '../src/alarms/alarms-model.ts';
import type { ApiClient } from '../src/api-client.ts';
import { BACKTEST_DICTIONARY, backtestText } from '../src/rule-backtest/rule-backtest-i18n.ts';
import {
  activeSpans,
  BACKTEST_PERIODS,
  backtestCaveat,
  backtestRule,
  conditionProperty,
  limitLines,
  momentX,
  periodRange,
  sortedResults,
  spanLayout,
  trendProperties,
} from '../src/rule-backtest/rule-backtest-model.ts';

const raise = (ts: number) => ({ kind: 'raise' as const, ts });
const clear = (ts: number) => ({ kind: 'clear' as const, ts });

test('the backtest call posts the rule and its period', async () => {
  const calls: unknown[] = [];
  const call = async (...args: unknown[]) => {
    calls.push(args);
    return { alarms: 0 };
  };
  const api = { call } as unknown as ApiClient;
  await rulesApi.backtest(api, { id: 'r' }, { from: 1, to: 2 });
  await rulesApi.backtest(api, { id: 'r' });
  assert.deepEqual(calls, [
    ['POST', '/rules/backtest', { rule: { id: 'r' }, from: 1, to: 2 }],
    ['POST', '/rules/backtest', { rule: { id: 'r' } }],
  ]);
});

test('periods and the document sent: without what the platform adds to a stored rule', () => {
  assert.deepEqual(BACKTEST_PERIODS, ['24h', '7d']);
  assert.deepEqual(periodRange('24h', 100_000_000.5), { from: 100_000_000 - 86_400_000, to: 100_000_000 });
  assert.equal(periodRange('7d', 8 * 86_400_000).from, 86_400_000);
  assert.deepEqual(backtestRule({ id: 'r', version: 3, updatedAt: 1, updatedBy: 'admin', when: {} }), { id: 'r', when: {} });
});

test('active spans: each raise to the clear after it; an open one runs to the end of the period', () => {
  assert.deepEqual(activeSpans([raise(10), clear(20), raise(30), clear(45)], 0, 100), [
    { from: 10, to: 20, open: false },
    { from: 30, to: 45, open: false },
  ]);
  assert.deepEqual(activeSpans([raise(10), clear(20), raise(90)], 0, 100), [
    { from: 10, to: 20, open: false },
    { from: 90, to: 100, open: true },
  ]);
  // Out of order in, in order out; a repeated raise does not restart the span.
  assert.deepEqual(activeSpans([clear(20), raise(10), raise(15)], 0, 100), [{ from: 10, to: 20, open: false }]);
  // A list that starts with a clear: active from the period's start.
  assert.deepEqual(activeSpans([clear(5), raise(50)], 0, 100), [
    { from: 0, to: 5, open: false },
    { from: 50, to: 100, open: true },
  ]);
  assert.deepEqual(activeSpans([], 0, 100), []);
});

test('span layout on the strip: clipped to the axis, never thinner than visible', () => {
  const spans = [
    { from: 100, to: 300, open: false },
    { from: 500, to: 500, open: false },
    { from: -50, to: 50, open: false },
    { from: 900, to: 1_500, open: true },
    { from: 2_000, to: 3_000, open: false },
  ];
  assert.deepEqual(
    spanLayout(spans, 0, 1_000, 1_000).map(({ x, w }) => [x, w]),
    [
      [100, 200],
      [500, 2],
      [0, 50],
      [900, 100],
    ],
  );
  // A one-sample span at the very end stays inside the strip.
  assert.deepEqual(
    spanLayout([{ from: 1_000, to: 1_000, open: false }], 0, 1_000, 500).map(({ x, w }) => [x, w]),
    [[498, 2]],
  );
  assert.equal(momentX(250, 0, 1_000, 1_000), 250);
  assert.equal(momentX(-5, 0, 1_000, 1_000), 0);
  assert.equal(momentX(5_000, 0, 1_000, 200), 200);
});

const result = (device: string, alarms: number, activeMs: number): BacktestDeviceResult => ({ device, alarms, activeMs, samples: 1, transitions: [], activeAtEnd: false });

test('devices with most alarms first, then longest active, then by id', () => {
  assert.deepEqual(
    sortedResults([result('c', 1, 5), result('a', 0, 0), result('b', 3, 0), result('d', 1, 9), result('e', 1, 9)]).map((r) => r.device),
    ['b', 'd', 'e', 'c', 'a'],
  );
});

test('what of a rule goes on the trend: its property, its limit and where a deadband clears it', () => {
  const threshold = { id: 'r', when: { threshold: { property: 't', op: '>', value: 90, deadband: 2 } } };
  assert.equal(conditionProperty(threshold), 't');
  assert.deepEqual(limitLines(threshold), [
    { kind: 'limit', value: 90 },
    { kind: 'clear', value: 88 },
  ]);
  assert.deepEqual(limitLines({ id: 'r', when: { threshold: { property: 'p', op: '<', value: 1.5, deadband: 0.5 } } }), [
    { kind: 'limit', value: 1.5 },
    { kind: 'clear', value: 2 },
  ]);
  assert.deepEqual(limitLines({ id: 'r', when: { threshold: { property: 't', op: '>=', value: 5 } } }), [{ kind: 'limit', value: 5 }]);
  const windowRule = { id: 'w', when: { window: { property: 'v', fn: 'avg', size: '5m', op: '>', value: 3 } } };
  assert.equal(conditionProperty(windowRule), 'v');
  assert.deepEqual(limitLines(windowRule), [], 'a window’s limit is on its function’s scale, not the value’s');
  assert.equal(conditionProperty({ id: 'x', when: { rate: { property: 'p', per: '1m', op: '>', value: 1 } } }), 'p');
  assert.equal(conditionProperty({ id: 'x', when: { expression: 't > 3 && p < 2' } }), undefined);
});

test('the trend offers the properties the rule reads that have a trend, the condition’s first', () => {
  const specs = [
    { id: 't', access: 'r', dataType: { type: 'float' } },
    { id: 'p', access: 'r', dataType: { type: 'int' } },
    { id: 'mode', access: 'r', dataType: { type: 'string' } },
    { id: 'run', access: 'r', dataType: { type: 'bool' } },
  ] as unknown as PropertySpec[];
  const threshold = { id: 'r', when: { threshold: { property: 'p', op: '>', value: 1 } } };
  assert.deepEqual(trendProperties(threshold, ['t', 'p'], specs), ['p', 't']);
  assert.deepEqual(trendProperties(threshold, undefined, specs), ['p'], 'the check refused: the condition’s property still');
  assert.deepEqual(trendProperties({ id: 'x', when: { expression: 'mode == "a" && run' } }, ['mode', 'run'], specs), ['run']);
  assert.deepEqual(trendProperties(threshold, ['t'], []), [], 'no model, no trend');
});

test('conditions the backtest cannot replay are said so', () => {
  assert.equal(backtestCaveat({ id: 'e', when: { event: { event: 'overheat' } } }), 'event');
  assert.equal(backtestCaveat({ id: 'n', when: { noData: { after: '5m' } } }), 'noData');
  assert.equal(backtestCaveat({ id: 't', when: { threshold: { property: 't', op: '>', value: 1 } } }), undefined);
});

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('the backtest’s dictionary: same keys, same placeholders, nothing empty, Chinese in Chinese', () => {
  const keys = Object.keys(BACKTEST_DICTIONARY.en).sort();
  assert.deepEqual(Object.keys(BACKTEST_DICTIONARY.zh).sort(), keys);
  for (const k of keys as Array<keyof typeof BACKTEST_DICTIONARY.en>) {
    assert.ok(BACKTEST_DICTIONARY.en[k].trim() && BACKTEST_DICTIONARY.zh[k].trim(), `${k} is empty`);
    assert.deepEqual(placeholders(BACKTEST_DICTIONARY.zh[k]), placeholders(BACKTEST_DICTIONARY.en[k]), `${k} placeholders`);
    assert.match(BACKTEST_DICTIONARY.zh[k], /[\u4e00-\u9fff]/, `${k} is not Chinese`);
  }
  assert.equal(backtestText('en', 'summary', { devices: 2, alarms: 5 }), 'Over 2 devices the rule would have raised 5 alarms.');
  assert.equal(backtestText('zh', 'button'), '回测');
});
