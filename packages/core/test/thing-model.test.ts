import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertThingModel, isNumericType, type ThingModel } from '@iip/core';
import { richModel } from './rich-model.js';

/** Runs assertThingModel on something that may not even be a ThingModel, as API bodies are. */
function invalid(model: unknown, path: string): void {
  assert.throws(() => assertThingModel(model as ThingModel), (e: unknown) => {
    const err = e as { code?: string; details?: { path?: string }; message?: string };
    assert.equal(err.code, 'IIP_ERR_MODEL_INVALID', `expected IIP_ERR_MODEL_INVALID, got ${String(e)}`);
    assert.equal(err.details?.path, path);
    assert.ok(err.message?.startsWith(`${path}: `), err.message);
    return true;
  });
}

const empty = { properties: [], events: [], services: [] };
const withProp = (p: Record<string, unknown>): unknown => ({ ...empty, properties: [{ id: 'p', access: 'r', ...p }] });
const withType = (dataType: unknown) => withProp({ dataType });

test('a valid model is returned unchanged', () => {
  assert.equal(assertThingModel(richModel), richModel);
  assert.equal(assertThingModel(empty), empty);
});

test('model needs the three arrays', () => {
  invalid(null, 'model');
  invalid('model', 'model');
  invalid({ properties: [], events: [] }, 'model');
  invalid({ properties: {}, events: [], services: [] }, 'model');
});

test('member ids: pattern, length, uniqueness, in every list', () => {
  invalid({ ...empty, properties: [null] }, 'properties[0]');
  invalid({ ...empty, properties: [{ id: '1abc', access: 'r', dataType: { type: 'int' } }] }, 'properties[0].id');
  invalid({ ...empty, properties: [{ id: 'a-b', access: 'r', dataType: { type: 'int' } }] }, 'properties[0].id');
  invalid({ ...empty, properties: [{ id: '', access: 'r', dataType: { type: 'int' } }] }, 'properties[0].id');
  invalid({ ...empty, properties: [{ id: 42, access: 'r', dataType: { type: 'int' } }] }, 'properties[0].id');
  invalid({ ...empty, properties: [{ id: `a${'b'.repeat(64)}`, access: 'r', dataType: { type: 'int' } }] }, 'properties[0].id');
  assert.doesNotThrow(() => assertThingModel(withProp({ id: `a${'b'.repeat(63)}`, dataType: { type: 'int' } }) as ThingModel));
  invalid(
    { ...empty, properties: [{ id: 'x', access: 'r', dataType: { type: 'int' } }, { id: 'x', access: 'rw', dataType: { type: 'bool' } }] },
    'properties[1].id',
  );
  invalid({ ...empty, events: [{ id: 'e', outputs: [] }, { id: 'e', outputs: [] }] }, 'events[1].id');
  invalid({ ...empty, services: [{ id: 's s', inputs: [], outputs: [] }] }, 'services[0].id');
  invalid({ ...empty, events: [{ id: 'e', outputs: [{ id: 'o', dataType: { type: 'int' } }, { id: 'o', dataType: { type: 'int' } }] }] }, 'events[0].outputs[1].id');
  invalid({ ...empty, services: [{ id: 's', inputs: [{ id: '9', dataType: { type: 'int' } }], outputs: [] }] }, 'services[0].inputs[0].id');
  invalid({ ...empty, services: [{ id: 's', inputs: [], outputs: [{ id: '-', dataType: { type: 'int' } }] }] }, 'services[0].outputs[0].id');
});

test('names and descriptions must be strings', () => {
  invalid(withProp({ name: 5, dataType: { type: 'int' } }), 'properties[0].name');
  invalid(withProp({ description: {}, dataType: { type: 'int' } }), 'properties[0].description');
});

test('access must be r or rw', () => {
  invalid(withProp({ access: 'w', dataType: { type: 'int' } }), 'properties[0].access');
  invalid({ ...empty, properties: [{ id: 'p', dataType: { type: 'int' } }] }, 'properties[0].access');
});

test('data types: unknown type and non-object', () => {
  invalid(withType({ type: 'double' }), 'properties[0].dataType');
  invalid(withType(undefined), 'properties[0].dataType');
  invalid(withType('int'), 'properties[0].dataType');
});

test('numeric ranges: finite, ordered, integral for int', () => {
  invalid(withType({ type: 'float', min: Number.NaN }), 'properties[0].dataType.min');
  invalid(withType({ type: 'float', max: Number.POSITIVE_INFINITY }), 'properties[0].dataType.max');
  invalid(withType({ type: 'float', min: '0' }), 'properties[0].dataType.min');
  invalid(withType({ type: 'int', min: 10, max: 9 }), 'properties[0].dataType');
  invalid(withType({ type: 'float', min: 1.5, max: 1.25 }), 'properties[0].dataType');
  invalid(withType({ type: 'int', min: 0.5 }), 'properties[0].dataType.min');
  invalid(withType({ type: 'int', max: 9.5 }), 'properties[0].dataType.max');
  invalid(withType({ type: 'int', unit: 3 }), 'properties[0].dataType.unit');
  assert.doesNotThrow(() => assertThingModel(withType({ type: 'float', min: 1, max: 1 }) as ThingModel));
});

test('string maxLength must be a non-negative integer', () => {
  invalid(withType({ type: 'string', maxLength: -1 }), 'properties[0].dataType.maxLength');
  invalid(withType({ type: 'string', maxLength: 1.5 }), 'properties[0].dataType.maxLength');
  assert.doesNotThrow(() => assertThingModel(withType({ type: 'string', maxLength: 0 }) as ThingModel));
});

test('bool texts must be strings', () => {
  invalid(withType({ type: 'bool', trueText: 1 }), 'properties[0].dataType.trueText');
  invalid(withType({ type: 'bool', falseText: null }), 'properties[0].dataType.falseText');
});

test('enums: at least one value, non-empty, unique, string texts', () => {
  invalid(withType({ type: 'enum', values: [] }), 'properties[0].dataType.values');
  invalid(withType({ type: 'enum' }), 'properties[0].dataType.values');
  invalid(withType({ type: 'enum', values: [{ value: '' }] }), 'properties[0].dataType.values[0]');
  invalid(withType({ type: 'enum', values: [{ value: 1 }] }), 'properties[0].dataType.values[0]');
  invalid(withType({ type: 'enum', values: ['a'] }), 'properties[0].dataType.values[0]');
  invalid(withType({ type: 'enum', values: [{ value: 'a' }, { value: 'a' }] }), 'properties[0].dataType.values[1]');
  invalid(withType({ type: 'enum', values: [{ value: 'a', text: 2 }] }), 'properties[0].dataType.values[0].text');
});

test('events: level and output data types are checked', () => {
  invalid({ ...empty, events: [{ id: 'e', level: 'fatal', outputs: [] }] }, 'events[0].level');
  invalid({ ...empty, events: [{ id: 'e' }] }, 'events[0].outputs');
  invalid({ ...empty, events: [{ id: 'e', outputs: [{ id: 'o', dataType: { type: 'int', min: 2, max: 1 } }] }] }, 'events[0].outputs[0].dataType');
});

test('services: inputs/outputs arrays, their data types and required flags are checked', () => {
  invalid({ ...empty, services: [{ id: 's', outputs: [] }] }, 'services[0].inputs');
  invalid({ ...empty, services: [{ id: 's', inputs: [], outputs: null }] }, 'services[0].outputs');
  invalid({ ...empty, services: [{ id: 's', inputs: [{ id: 'i', dataType: { type: 'enum', values: [] } }], outputs: [] }] }, 'services[0].inputs[0].dataType.values');
  invalid({ ...empty, services: [{ id: 's', inputs: [], outputs: [{ id: 'o', dataType: { type: 'x' } }] }] }, 'services[0].outputs[0].dataType');
  invalid({ ...empty, services: [{ id: 's', inputs: [{ id: 'i', required: 'yes', dataType: { type: 'int' } }], outputs: [] }] }, 'services[0].inputs[0].required');
});

test('isNumericType: int, float and bool are stored as numbers', () => {
  assert.equal(isNumericType({ type: 'int' }), true);
  assert.equal(isNumericType({ type: 'float' }), true);
  assert.equal(isNumericType({ type: 'bool' }), true);
  assert.equal(isNumericType({ type: 'string' }), false);
  assert.equal(isNumericType({ type: 'enum', values: [{ value: 'a' }] }), false);
});
