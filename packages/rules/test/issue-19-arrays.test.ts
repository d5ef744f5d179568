/**
 * Issue 19, point 3: array properties in rules. In an expression an array property is a CEL list of its
 * elements' type (numbers as doubles), so `size(waveform) > 0` or `waveform[0] > 3.0` work; a threshold on an
 * array is refused when the rule is saved, with IIP_ERR_RULE_TYPE.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DeviceId, IipError, type TelemetryBatch, type TenantId, type ThingModel } from '@iip/core';
import { compileRule, RuleEngine, type RuleEnginePorts } from '@iip/rules';

const FAN: ThingModel = {
  properties: [
    { id: 'waveform', dataType: { type: 'array', items: { type: 'float', unit: 'mm/s' }, maxItems: 8192 }, access: 'r' },
    { id: 'counts', dataType: { type: 'array', items: { type: 'int' } }, access: 'r' },
    { id: 'alarms', dataType: { type: 'array', items: { type: 'bool' } }, access: 'r' },
    { id: 'phases', dataType: { type: 'array', items: { type: 'enum', values: [{ value: 'ok' }, { value: 'lost' }] } }, access: 'r' },
    { id: 'grid', dataType: { type: 'array', items: { type: 'float' }, dimensions: [2, 2] }, access: 'r' },
    { id: 'speed', dataType: { type: 'float' }, access: 'r' },
  ],
  events: [],
  services: [],
};

const scope = { product: 'fan' };
const expr = (expression: string) => compileRule({ id: 'r', scope, when: { expression } }, FAN).expression!;

function refused(doc: unknown, code: string, details: Record<string, unknown>, message?: RegExp): void {
  assert.throws(
    () => compileRule(doc, FAN),
    (e: unknown) => {
      assert.ok(e instanceof IipError, String(e));
      assert.equal(e.code, code, e.message);
      for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details[k], v, `details.${k} (${e.message})`);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}

describe('rules over array properties (issue 19)', () => {
  test('a threshold on an array property is refused at compile time with IIP_ERR_RULE_TYPE', () => {
    refused(
      { id: 'r', scope, when: { threshold: { property: 'waveform', op: '>', value: 3 } } },
      'IIP_ERR_RULE_TYPE',
      { field: 'when.threshold.property', property: 'waveform' },
      /"waveform" is an array of float, a threshold needs a number \(use an expression, e\.g\. "waveform\.exists\(x, x > 3\.0\)"\)/,
    );
    refused({ id: 'r', scope, when: { threshold: { property: 'alarms', op: '==', value: 1 } } }, 'IIP_ERR_RULE_TYPE', { field: 'when.threshold.property' });
  });

  test('an array property is a CEL list: size, index, exists/all, membership — numbers as doubles', () => {
    const wave = [0.5, 3.5, -1.25];
    assert.equal(expr('size(waveform) > 0').evaluate({ waveform: wave }), true);
    assert.equal(expr('size(waveform) > 0').evaluate({ waveform: [] }), false);
    assert.equal(expr('waveform[1] > 3.0').evaluate({ waveform: wave }), true);
    assert.equal(expr('waveform[0] > 3.0').evaluate({ waveform: wave }), false);
    assert.equal(expr('waveform.exists(x, x > 3.0)').evaluate({ waveform: wave }), true);
    assert.equal(expr('waveform.all(x, x > -2.0 && x < 4.0) && speed > 10.0').evaluate({ waveform: wave, speed: 12 }), true);
    // int elements are doubles too, as int properties are.
    assert.equal(expr('counts.exists(c, c >= 2.0)').evaluate({ counts: [1, 2] }), true);
    assert.equal(expr('alarms.exists(a, a)').evaluate({ alarms: [false, true] }), true);
    assert.equal(expr('alarms.all(a, !a)').evaluate({ alarms: [false, true] }), false);
    assert.equal(expr('"lost" in phases').evaluate({ phases: ['ok', 'lost'] }), true);
    // A matrix is the flat, row-major list: [[1, 2], [3, 4]] arrives as [1, 2, 3, 4].
    assert.equal(expr('grid[1 * 2 + 0] == 3.0').evaluate({ grid: [1, 2, 3, 4] }), true);
    assert.deepEqual(compileRule({ id: 'r', scope, when: { expression: 'size(waveform) > 2 && speed > 1.0' } }, FAN).properties, ['speed', 'waveform']);
  });

  test('expressions that treat an array as a scalar, or an element as another type, are refused with the position', () => {
    refused({ id: 'r', scope, when: { expression: 'waveform > 3.0' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression' });
    refused({ id: 'r', scope, when: { expression: 'waveform[0] == "x"' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression' });
    refused({ id: 'r', scope, when: { expression: 'phases[0] > 1.0' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression' });
    refused({ id: 'r', scope, when: { expression: 'waveform' } }, 'IIP_ERR_RULE_TYPE', { field: 'when.expression' });
  });

  test('the engine raises and clears on stored array telemetry', async () => {
    const transitions: string[] = [];
    const ports: RuleEnginePorts = {
      deviceInfo: async () => ({ product: 'fan', asset: null }),
      inSubtree: async () => false,
      onTransition: async (x) => {
        transitions.push(`${x.kind}@${x.ts}`);
      },
      saveStates: async () => undefined,
      loadStates: async () => [],
    };
    const engine = new RuleEngine(ports);
    await engine.install('acme', compileRule({ id: 'peak', scope, when: { expression: 'waveform.exists(x, x > 3.0)' } }, FAN));
    const batch = (ts: number, waveform: number[]): TelemetryBatch => ({
      tenant: 'acme' as TenantId,
      device: 'fan-1' as DeviceId,
      points: [{ property: 'waveform', ts, value: waveform }],
      receivedAt: ts,
    });
    await engine.evaluate(batch(1_000, [0.1, 0.2]));
    await engine.evaluate(batch(2_000, [0.1, 3.2, 0.3]));
    await engine.evaluate(batch(3_000, [0.1]));
    assert.deepEqual(transitions, ['raise@2000', 'clear@3000']);
  });
});
