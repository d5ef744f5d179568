/**
 * Issue 13, points 2 and 9: rules as data, checked against the thing model before they are saved; every refusal
 * has a code naming the rule and the field (and, for expressions, where the parser stopped).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IipError, type ThingModel } from '@iip/core';
import { compileRule, parseDuration } from '@iip/rules';

const CNC: ThingModel = {
  properties: [
    { id: 'spindleTemp', dataType: { type: 'float', unit: '°C' }, access: 'r' },
    { id: 'rpm', dataType: { type: 'int', min: 0 }, access: 'r' },
    { id: 'running', dataType: { type: 'bool' }, access: 'r' },
    { id: 'mode', dataType: { type: 'enum', values: [{ value: 'auto' }, { value: 'manual' }] }, access: 'rw' },
  ],
  events: [],
  services: [],
};

const base = { id: 'r1', scope: { product: 'cnc' }, when: { threshold: { property: 'spindleTemp', op: '>', value: 80 } } };

function refused(doc: unknown, code: string, details: Record<string, unknown>): void {
  assert.throws(
    () => compileRule(doc, CNC),
    (e: unknown) => {
      assert.ok(e instanceof IipError, String(e));
      assert.equal(e.code, code, e.message);
      for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details[k], v, `details.${k} (${e.message})`);
      return true;
    },
  );
}

describe('rule documents', () => {
  test('a threshold rule gets its defaults; an expression rule knows the properties it reads', () => {
    const c = compileRule({ ...base, when: { ...base.when, for: '1m', count: 3 }, alarm: { severity: 'high', latching: true } }, CNC);
    assert.deepEqual(c.rule, {
      id: 'r1',
      name: 'r1',
      enabled: true,
      runAt: 'platform',
      scope: { product: 'cnc', asset: null, devices: null },
      when: { threshold: { property: 'spindleTemp', op: '>', value: 80, deadband: 0 }, forMs: 60_000, count: 3 },
      alarm: { severity: 'high', message: '', latching: true },
      actions: [],
    });
    assert.deepEqual(c.properties, ['spindleTemp']);
    const e = compileRule({ id: 'r2', scope: { product: 'cnc', devices: ['m1'] }, when: { expression: 'running && spindleTemp > 80.0 && mode == "auto" && rpm > 1000' } }, CNC);
    assert.deepEqual(e.properties, ['mode', 'rpm', 'running', 'spindleTemp']);
    assert.equal(e.expression?.evaluate({ running: true, spindleTemp: 85, mode: 'auto', rpm: 1200 }), true);
    assert.equal(e.expression?.evaluate({ running: false, spindleTemp: 85, mode: 'auto', rpm: 1200 }), false);
    // Macro variables are not properties.
    assert.deepEqual(compileRule({ id: 'r3', scope: { product: 'cnc' }, when: { expression: '[1.0, 2.0].exists(x, x < spindleTemp)' } }, CNC).properties, ['spindleTemp']);
  });

  test('bad rules are refused with a code naming the rule and the field', () => {
    refused({ ...base, when: { threshold: { property: 'pressure', op: '>', value: 3 } } }, 'IIP_ERR_RULE_UNKNOWN_PROPERTY', { rule: 'r1', field: 'when.threshold.property', property: 'pressure' });
    refused({ ...base, when: { threshold: { property: 'mode', op: '>', value: 3 } } }, 'IIP_ERR_RULE_TYPE', { field: 'when.threshold.property' });
    refused({ ...base, when: { expression: 'pressure > 2.0' } }, 'IIP_ERR_RULE_UNKNOWN_PROPERTY', { field: 'when.expression', property: 'pressure', position: 0 });
    refused({ ...base, when: { expression: 'mode > 3' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression' });
    refused({ ...base, when: { expression: 'spindleTemp + 1 > 3.0' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression' });
    refused({ ...base, when: { expression: 'spindleTemp >' } }, 'IIP_ERR_RULE_EXPRESSION', { field: 'when.expression', position: 13 });
    refused({ ...base, when: { expression: 'spindleTemp' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression', type: 'double' });
    refused({ ...base, when: { expression: 'true' } }, 'IIP_ERR_RULE_INVALID', { field: 'when.expression' });
    refused({ ...base, when: { expression: `${'('.repeat(40)}running${')'.repeat(40)}` } }, 'IIP_ERR_RULE_EXPRESSION', { field: 'when.expression' });
    refused({ ...base, when: { threshold: base.when.threshold, expression: 'running' } }, 'IIP_ERR_RULE_INVALID', { field: 'when' });
    refused({ ...base, when: { ...base.when, for: 'a while' } }, 'IIP_ERR_RULE_INVALID', { field: 'when.for' });
    refused({ ...base, when: { ...base.when, count: 0 } }, 'IIP_ERR_RULE_INVALID', { field: 'when.count' });
    refused({ ...base, when: { threshold: { ...base.when.threshold, op: '!=' } } }, 'IIP_ERR_RULE_INVALID', { field: 'when.threshold.op' });
    refused({ ...base, when: { threshold: { ...base.when.threshold, deadband: -1 } } }, 'IIP_ERR_RULE_INVALID', { field: 'when.threshold.deadband' });
    refused({ ...base, alarm: { severity: 'urgent' } }, 'IIP_ERR_RULE_INVALID', { field: 'alarm.severity' });
    refused({ ...base, scope: {} }, 'IIP_ERR_RULE_INVALID', { field: 'scope.product' });
    refused({ ...base, scope: { product: 'cnc', devices: [] } }, 'IIP_ERR_RULE_INVALID', { field: 'scope.devices' });
    refused({ ...base, id: 'has space' }, 'IIP_ERR_RULE_INVALID', { field: 'id' });
    refused({ ...base, colour: 'red' }, 'IIP_ERR_RULE_INVALID', { field: 'colour' });
    refused('rule', 'IIP_ERR_RULE_INVALID', { field: 'rule' });
  });

  test('durations', () => {
    assert.equal(parseDuration('90s', 'r', 'f'), 90_000);
    assert.equal(parseDuration('1.5m', 'r', 'f'), 90_000);
    assert.equal(parseDuration('2h', 'r', 'f'), 7_200_000);
    assert.equal(parseDuration(250, 'r', 'f'), 250);
    assert.throws(() => parseDuration('25h', 'r', 'f'), /24 h/);
  });
});
