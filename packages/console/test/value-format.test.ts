import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimalsFor, formatAge, formatBytes, formatNumber, formatValue, NO_VALUE, unitOf, withUnit } from '../src/value-format.ts';

test('floats keep about four significant digits and their unit', () => {
  const dt = { type: 'float', unit: '°C' } as const;
  assert.equal(formatValue(41.2000001, dt, 'en'), '41.2 °C');
  assert.equal(formatValue(0.012345, { type: 'float', unit: 'bar' }, 'en'), '0.0123 bar');
  assert.equal(formatValue(1480.4, { type: 'float', unit: 'rpm' }, 'en'), '1480 rpm');
  assert.equal(formatValue(-7.77777, { type: 'float' }, 'en'), '-7.78');
  assert.equal(decimalsFor(0), 0);
  assert.equal(decimalsFor(123.4), 1);
});

test('integers never show decimals; large numbers are grouped', () => {
  assert.equal(formatValue(1500, { type: 'int', unit: 'rpm' }, 'en'), '1500 rpm');
  assert.equal(formatValue(123456, { type: 'int', unit: 'pcs' }, 'en'), '123,456 pcs');
  assert.equal(formatNumber(123456.7, 'zh'), '123,457');
});

test('percent and degree units are glued to the number', () => {
  assert.equal(formatValue(45.5, { type: 'float', unit: '%' }, 'en'), '45.5%');
  assert.equal(withUnit('30', '°'), '30°');
  assert.equal(withUnit('30', undefined), '30');
});

test('booleans use thing-model texts, then the language default', () => {
  assert.equal(formatValue(true, { type: 'bool' }, 'en'), 'true');
  assert.equal(formatValue(false, { type: 'bool' }, 'zh'), '否');
  assert.equal(formatValue(1, { type: 'bool', trueText: '运行', falseText: '停止' }, 'en'), '运行');
});

test('enums show their text, and unknown values as sent', () => {
  const dt = { type: 'enum', values: [{ value: 'run', text: '运行' }, { value: 'idle' }] } as const;
  assert.equal(formatValue('run', dt, 'en'), '运行');
  assert.equal(formatValue('idle', dt, 'en'), 'idle');
  assert.equal(formatValue('fault', dt, 'en'), 'fault');
});

test('a missing value is a dash, never an empty string or zero', () => {
  assert.equal(formatValue(undefined, { type: 'float', unit: 'A' }, 'en'), NO_VALUE);
  assert.equal(formatValue(null, undefined, 'zh'), NO_VALUE);
});

test('a value without a data type is shown as it came', () => {
  assert.equal(formatValue('v1.2', undefined, 'en'), 'v1.2');
  assert.equal(formatValue(2.5, undefined, 'en'), '2.5');
});

test('unitOf reads only numeric types', () => {
  assert.equal(unitOf({ type: 'float', unit: 'kW' }), 'kW');
  assert.equal(unitOf({ type: 'string' }), undefined);
  assert.equal(unitOf(undefined), undefined);
});

test('ages read naturally in both languages', () => {
  assert.equal(formatAge(4_400, 'en'), '4 s ago');
  assert.equal(formatAge(125_000, 'zh'), '2 分钟前');
  assert.equal(formatAge(-50, 'en'), '0 s ago');
  assert.equal(formatAge(3 * 86_400_000, 'en'), '3 d ago');
});

test('formatBytes uses binary steps', () => {
  assert.equal(formatBytes(0, 'en'), '0 B');
  assert.equal(formatBytes(1023, 'en'), '1023 B');
  assert.equal(formatBytes(4096, 'en'), '4 KiB');
  assert.equal(formatBytes(1.5 * 1024 * 1024, 'zh'), '1.5 MiB');
});
