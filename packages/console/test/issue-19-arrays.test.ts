/**
 * Issue 19, point 3: the console shows array values (waveforms, matrices) compactly — "[5] 1.2, 3.4, 5.6 …" —
 * with the whole list for a tooltip, takes them from the live stream, and offers no input for writing one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ArrayDataType } from '@iip/core';
import { mergeLatest, parseFrame } from '../src/live-values.ts';
import { isTrendable } from '../src/key-properties.ts';
import { ARRAY_FULL_MAX, formatArrayFull, formatValue, isPointValue, unitOf } from '../src/value-format.ts';
import { initialInput, parseWriteValue } from '../src/write-value.ts';
import { DICTIONARY } from '../src/i18n-dictionary.ts';

const wave: ArrayDataType = { type: 'array', items: { type: 'float', unit: 'mm/s' }, maxItems: 8192 };

test('an array shows its length and first three elements, formatted as its items, without the unit', () => {
  assert.equal(formatValue([1.2, 3.4, 5.6, 7.8, 9.1], wave, 'en'), '[5] 1.2, 3.4, 5.6 …');
  assert.equal(formatValue([0.1, 0.4, -0.2], wave, 'en'), '[3] 0.1, 0.4, -0.2');
  assert.equal(formatValue([41.2000001], wave, 'en'), '[1] 41.2');
  assert.equal(formatValue([], wave, 'en'), '[0]');
  assert.equal(formatValue([1500, 12345], { type: 'array', items: { type: 'int' } }, 'en'), '[2] 1500, 12,345');
  assert.equal(formatValue([true, false], { type: 'array', items: { type: 'bool', trueText: '开' } }, 'zh'), '[2] 开, 否');
  assert.equal(formatValue(['run', 'x'], { type: 'array', items: { type: 'enum', values: [{ value: 'run', text: '运行' }] } }, 'en'), '[2] 运行, x');
  // A matrix shows its shape.
  assert.equal(formatValue([1, 2, 3, 4, 5, 6], { type: 'array', items: { type: 'int' }, dimensions: [2, 3] }, 'en'), '[2×3] 1, 2, 3 …');
  // Without a model (a property no longer listed) or under a scalar type, still compact, as it came.
  assert.equal(formatValue([1.23456, 2, 3, 4], undefined, 'en'), '[4] 1.23, 2, 3 …');
  assert.equal(formatValue([1, 2], { type: 'float' }, 'en'), '[2] 1, 2');
  assert.equal(unitOf(wave), 'mm/s');
  assert.equal(unitOf({ type: 'array', items: { type: 'string' } }), undefined);
});

test('the tooltip lists every element (up to a bound); a 2-D matrix one row per line', () => {
  assert.equal(formatArrayFull([1.2, 3.4, 5.6, 7.8, 9.1], wave, 'en'), '1.2, 3.4, 5.6, 7.8, 9.1');
  assert.equal(formatArrayFull([1, 2, 3, 4, 5, 6], { type: 'array', items: { type: 'int' }, dimensions: [2, 3] }, 'en'), '1, 2, 3\n4, 5, 6');
  const long = Array.from({ length: ARRAY_FULL_MAX + 5 }, (_, i) => i);
  const text = formatArrayFull(long, { type: 'array', items: { type: 'int' } }, 'en');
  assert.ok(text.endsWith(`${ARRAY_FULL_MAX - 1} … (+5)`), text.slice(-40));
});

test('the live stream keeps array values; objects and nested arrays are still dropped', () => {
  const f = parseFrame(
    JSON.stringify({
      type: 'telemetry',
      device: 'fan-1',
      points: [
        { property: 'waveform', ts: 1, value: [0.1, 0.4, -0.2] },
        { property: 'nested', ts: 1, value: [[1]] },
        { property: 'obj', ts: 1, value: { a: 1 } },
      ],
    }),
  );
  assert.deepEqual(f?.points, [{ property: 'waveform', ts: 1, value: [0.1, 0.4, -0.2] }]);
  const merged = mergeLatest(undefined, f?.points ?? []);
  assert.deepEqual(merged.waveform, { ts: 1, value: [0.1, 0.4, -0.2] });
  assert.equal(isPointValue([1, 'a', true]), true);
  assert.equal(isPointValue([1, null]), false);
});

test('arrays have no trend and no console input: writing one is refused locally, in both languages', () => {
  assert.equal(isTrendable({ id: 'waveform', access: 'r', dataType: wave }), false);
  assert.deepEqual(parseWriteValue(wave, '1, 2, 3'), { ok: false, problem: { kind: 'array' } });
  assert.equal(initialInput(wave, [1, 2]), '');
  for (const lang of ['en', 'zh'] as const) {
    for (const key of ['write.problem.array', 'write.arrayNote', 'trend.arrayNone'] as const) {
      assert.ok(DICTIONARY[lang][key].length > 0, `${lang} ${key}`);
    }
  }
});
