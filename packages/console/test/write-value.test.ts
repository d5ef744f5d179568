import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialInput, parseWriteValue } from '../src/write-value.ts';

test('numbers: parsed, integer and range checked like the platform does', () => {
  const f = { type: 'float', min: 5, max: 13, unit: 'bar' } as const;
  assert.deepEqual(parseWriteValue(f, ' 7.5 '), { ok: true, value: 7.5 });
  assert.deepEqual(parseWriteValue(f, ''), { ok: false, problem: { kind: 'empty' } });
  assert.deepEqual(parseWriteValue(f, 'abc'), { ok: false, problem: { kind: 'notNumber' } });
  assert.deepEqual(parseWriteValue(f, '4.9'), { ok: false, problem: { kind: 'belowMin', min: 5 } });
  assert.deepEqual(parseWriteValue(f, '13.1'), { ok: false, problem: { kind: 'aboveMax', max: 13 } });
  assert.deepEqual(parseWriteValue({ type: 'int' }, '2.5'), { ok: false, problem: { kind: 'notInteger' } });
  assert.deepEqual(parseWriteValue({ type: 'int' }, '-3'), { ok: true, value: -3 });
});

test('bool, enum and string', () => {
  assert.deepEqual(parseWriteValue({ type: 'bool' }, true), { ok: true, value: true });
  assert.deepEqual(parseWriteValue({ type: 'bool' }, false), { ok: true, value: false });
  const e = { type: 'enum', values: [{ value: 'auto' }, { value: 'manual', text: '手动' }] } as const;
  assert.deepEqual(parseWriteValue(e, 'manual'), { ok: true, value: 'manual' });
  assert.deepEqual(parseWriteValue(e, '手动'), { ok: false, problem: { kind: 'notInEnum' } });
  assert.deepEqual(parseWriteValue({ type: 'string', maxLength: 2 }, '模具'), { ok: true, value: '模具' }, 'code points, not UTF-16 units');
  assert.deepEqual(parseWriteValue({ type: 'string', maxLength: 2 }, 'abc'), { ok: false, problem: { kind: 'tooLong', maxLength: 2 } });
});

test('initialInput starts from the current value', () => {
  assert.equal(initialInput({ type: 'float' }, 7.5), '7.5');
  assert.equal(initialInput({ type: 'float' }, undefined), '');
  assert.equal(initialInput({ type: 'bool' }, true), true);
  assert.equal(initialInput({ type: 'enum', values: [{ value: 'a' }, { value: 'b' }] }, 'b'), 'b');
  assert.equal(initialInput({ type: 'enum', values: [{ value: 'a' }, { value: 'b' }] }, 'zzz'), 'a');
});
