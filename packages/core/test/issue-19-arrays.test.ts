/**
 * Issue 19, point 3: array properties (waveforms, OPC UA arrays and matrices). The thing model declares them,
 * telemetry validation checks their length and every element (naming the index), and fast-check states the
 * contract for arbitrary array types and values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ArrayDataType,
  arrayLengthBounds,
  assertThingModel,
  compileCheck,
  DEFAULT_INGEST_LIMITS,
  DEFAULT_MAX_ARRAY_ITEMS,
  CORE_ERRORS,
  EventValidator,
  IipError,
  isNumericType,
  MAX_ARRAY_ITEMS,
  type ScalarDataType,
  TelemetryValidator,
  type ThingModel,
} from '@iip/core';
import fc from 'fast-check';
import { arrayDataType, scalarDataType } from './model-arbitrary.js';

const empty = { properties: [], events: [], services: [] };
const withType = (dataType: unknown): ThingModel => ({ ...empty, properties: [{ id: 'p', access: 'r', dataType }] }) as unknown as ThingModel;

function invalid(dataType: unknown, path: string, message?: RegExp): void {
  assert.throws(() => assertThingModel(withType(dataType)), (e: unknown) => {
    assert.ok(e instanceof IipError, String(e));
    assert.equal(e.code, 'IIP_ERR_MODEL_INVALID');
    assert.equal(e.details.path, path, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('thing model: an array type needs scalar items, sane bounds and a consistent shape', () => {
  const at = 'properties[0].dataType';
  invalid({ type: 'array' }, `${at}.items`);
  invalid({ type: 'array', items: 'float' }, `${at}.items`);
  invalid({ type: 'array', items: { type: 'array', items: { type: 'float' } } }, `${at}.items`, /matrix with "dimensions"/);
  invalid({ type: 'array', items: { type: 'float', min: 2, max: 1 } }, `${at}.items`);
  invalid({ type: 'array', items: { type: 'enum', values: [] } }, `${at}.items.values`);
  invalid({ type: 'array', items: { type: 'complex' } }, `${at}.items`);
  invalid({ type: 'array', items: { type: 'int' }, minItems: -1 }, `${at}.minItems`);
  invalid({ type: 'array', items: { type: 'int' }, minItems: 1.5 }, `${at}.minItems`);
  invalid({ type: 'array', items: { type: 'int' }, maxItems: MAX_ARRAY_ITEMS + 1 }, `${at}.maxItems`, /65536/);
  invalid({ type: 'array', items: { type: 'int' }, maxItems: '10' }, `${at}.maxItems`);
  invalid({ type: 'array', items: { type: 'int' }, minItems: 5, maxItems: 4 }, at);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: [] }, `${at}.dimensions`);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: 4 }, `${at}.dimensions`);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: [2, 0] }, `${at}.dimensions[1]`);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: [2, 1.5] }, `${at}.dimensions[1]`);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: [1, 1, 1, 1, 1, 1, 1, 1, 1] }, `${at}.dimensions`);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: [512, 129] }, `${at}.dimensions`, /65536/);
  invalid({ type: 'array', items: { type: 'int' }, dimensions: [2, 2], maxItems: 4 }, at, /not both/);
  // Events and services may carry arrays too; the same rules hold there.
  assert.throws(
    () => assertThingModel({ ...empty, events: [{ id: 'e', outputs: [{ id: 'o', dataType: { type: 'array', items: { type: 'array' } } }] }] } as unknown as ThingModel),
    { code: 'IIP_ERR_MODEL_INVALID', details: { path: 'events[0].outputs[0].dataType.items' } },
  );
  for (const ok of [
    { type: 'array', items: { type: 'float', unit: 'mm/s' } },
    { type: 'array', items: { type: 'bool' }, minItems: 0, maxItems: 0 },
    { type: 'array', items: { type: 'enum', values: [{ value: 'a' }] }, maxItems: MAX_ARRAY_ITEMS },
    { type: 'array', items: { type: 'string', maxLength: 4 }, dimensions: [256, 256] },
  ]) {
    assert.doesNotThrow(() => assertThingModel(withType(ok)), JSON.stringify(ok));
  }
});

test('array types are not numeric (no rollups); length bounds default to DEFAULT_MAX_ARRAY_ITEMS', () => {
  assert.equal(isNumericType({ type: 'array', items: { type: 'float' } }), false);
  assert.deepEqual(arrayLengthBounds({ type: 'array', items: { type: 'float' } }), { min: 0, max: DEFAULT_MAX_ARRAY_ITEMS });
  assert.deepEqual(arrayLengthBounds({ type: 'array', items: { type: 'float' }, minItems: 2 }), { min: 2, max: DEFAULT_MAX_ARRAY_ITEMS });
  assert.deepEqual(arrayLengthBounds({ type: 'array', items: { type: 'float' }, maxItems: 10_000 }), { min: 0, max: 10_000 });
  assert.deepEqual(arrayLengthBounds({ type: 'array', items: { type: 'float' }, dimensions: [3, 4] }), { min: 12, max: 12 });
});

const model: ThingModel = assertThingModel({
  properties: [
    { id: 'temperature', access: 'r', dataType: { type: 'float', min: -40, max: 125 } },
    { id: 'waveform', access: 'r', dataType: { type: 'array', items: { type: 'float', min: -50, max: 50, unit: 'mm/s' }, minItems: 1, maxItems: 8 } },
    { id: 'flags', access: 'r', dataType: { type: 'array', items: { type: 'bool' } } },
    { id: 'matrix', access: 'r', dataType: { type: 'array', items: { type: 'int' }, dimensions: [2, 3] } },
    { id: 'modes', access: 'r', dataType: { type: 'array', items: { type: 'enum', values: [{ value: 'run' }, { value: 'stop' }] } } },
    { id: 'labels', access: 'r', dataType: { type: 'array', items: { type: 'string', maxLength: 3 }, maxItems: 100 } },
  ],
  events: [{ id: 'spectrum', outputs: [{ id: 'peaks', required: true, dataType: { type: 'array', items: { type: 'float' }, maxItems: 4 } }] }],
  services: [],
});
const validator = new TelemetryValidator(model);
const now = Date.UTC(2024, 5, 1);

function refused(doc: unknown, code: string, details: Record<string, unknown>, message?: string): void {
  assert.throws(() => validator.parse(JSON.stringify(doc), now), (e: unknown) => {
    assert.ok(e instanceof IipError, String(e));
    assert.equal(e.code, code, e.message);
    for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details[k], v, `details.${k} of ${e.message}`);
    if (message !== undefined) assert.ok(e.message.startsWith(message), e.message);
    return true;
  });
}

test('telemetry: an array value is one point holding the whole array; 0/1 become booleans', () => {
  const points = validator.parse(
    JSON.stringify({ temperature: 20, waveform: [0.1, 0.4, -0.2], flags: [true, 0, 1], matrix: [1, 2, 3, 4, 5, 6], modes: [], labels: ['a', 'bcd'] }),
    now,
  );
  assert.deepEqual(points, [
    { property: 'temperature', ts: now, value: 20 },
    { property: 'waveform', ts: now, value: [0.1, 0.4, -0.2] },
    { property: 'flags', ts: now, value: [true, false, true] },
    { property: 'matrix', ts: now, value: [1, 2, 3, 4, 5, 6] },
    { property: 'modes', ts: now, value: [] },
    { property: 'labels', ts: now, value: ['a', 'bcd'] },
  ]);
});

test('telemetry: an element error names the property and the index; codes are those of scalars', () => {
  refused({ waveform: [0.1, 0.2, 0.3, 'x'] }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'waveform', index: 3, rule: 'type' }, 'property "waveform"[3]: expected a finite number');
  refused({ waveform: [0.1, null] }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'waveform', index: 1 }, 'property "waveform"[1]: expected a finite number, got null');
  refused({ waveform: [0.1, 50.5] }, 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'waveform', index: 1, max: 50 }, 'property "waveform"[1]: 50.5 mm/s is outside [-50, 50] mm/s');
  refused({ flags: [true, 2] }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'flags', index: 1 }, 'property "flags"[1]: expected a boolean');
  refused({ matrix: [1, 2, 3, 4, 5, 6.5] }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'matrix', index: 5 }, 'property "matrix"[5]: expected an integer');
  refused({ modes: ['run', 'walk'] }, 'IIP_ERR_TELEMETRY_ENUM', { property: 'modes', index: 1 }, 'property "modes"[1]: "walk" is not one of run, stop');
  refused({ labels: ['abcd'] }, 'IIP_ERR_TELEMETRY_STRING_TOO_LONG', { property: 'labels', index: 0 }, 'property "labels"[0]: string of length 4');
  refused({ waveform: [[1, 2]] }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'waveform', index: 0 }, 'property "waveform"[0]: expected a finite number, got an array');
  // A scalar error carries no index, as before.
  refused({ temperature: [1] }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'temperature', index: undefined }, 'property "temperature": expected a finite number, got an array [1]');
  // Not an array at all.
  refused({ waveform: 0.5 }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'waveform', expected: 'an array of float' }, 'property "waveform": expected an array of float, got number 0.5');
  refused({ waveform: { 0: 1 } }, 'IIP_ERR_TELEMETRY_TYPE', { property: 'waveform' });
});

test('telemetry: a wrong length is IIP_ERR_TELEMETRY_ARRAY_LENGTH with the bounds; a matrix needs exactly its size', () => {
  refused({ waveform: [] }, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH', { property: 'waveform', length: 0, minItems: 1, maxItems: 8 }, 'property "waveform": array of 0 elements, expected 1 to 8');
  refused({ waveform: Array(9).fill(0) }, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH', { length: 9, maxItems: 8 });
  refused({ matrix: [1, 2, 3, 4, 5] }, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH', { length: 5, minItems: 6, maxItems: 6, dimensions: [2, 3] }, 'property "matrix": array of 5 elements, expected exactly 6');
  // Without maxItems the default bound holds.
  const flags = new TelemetryValidator(withType({ type: 'array', items: { type: 'bool' } }));
  assert.throws(() => flags.validate({ p: Array(DEFAULT_MAX_ARRAY_ITEMS + 1).fill(true) }, now), { code: 'IIP_ERR_TELEMETRY_ARRAY_LENGTH' });
  const [full] = flags.validate({ p: Array(DEFAULT_MAX_ARRAY_ITEMS).fill(true) }, now);
  assert.equal((full?.value as boolean[] | undefined)?.length, DEFAULT_MAX_ARRAY_ITEMS);
  assert.equal(CORE_ERRORS.IIP_ERR_TELEMETRY_ARRAY_LENGTH.status, 422);
});

test('telemetry limits: an array counts as one point, and the payload size limit bounds its length', () => {
  const wide = new TelemetryValidator(withType({ type: 'array', items: { type: 'int' }, maxItems: MAX_ARRAY_ITEMS }));
  const limits = { ...DEFAULT_INGEST_LIMITS, maxPointsPerMessage: 2 };
  assert.equal(wide.validate([{ ts: now - 1, values: { p: Array(10_000).fill(1) } }, { ts: now, values: { p: [1] } }], now, limits).length, 2);
  assert.throws(() => wide.validate([{ ts: now - 2, p: [1] }, { ts: now - 1, p: [1] }, { ts: now, p: [1] }], now, limits), { code: 'IIP_ERR_PAYLOAD_TOO_MANY_POINTS' });
  assert.throws(() => wide.parse(JSON.stringify({ p: Array(MAX_ARRAY_ITEMS).fill(12345) }), now), { code: 'IIP_ERR_PAYLOAD_TOO_LARGE' });
});

test('device events: an array output is checked as a property is', () => {
  const events = new EventValidator(model);
  const [ev] = events.validate({ event: 'spectrum', data: { peaks: [1.5, 2] } }, now);
  assert.deepEqual(ev?.data, { peaks: [1.5, 2] });
  assert.throws(() => events.validate({ event: 'spectrum', data: { peaks: [1, 'x'] } }, now), (e: unknown) => {
    assert.ok(e instanceof IipError && e.code === 'IIP_ERR_TELEMETRY_TYPE', String(e));
    assert.deepEqual([e.details.property, e.details.index], ['spectrum.peaks', 1]);
    return true;
  });
  assert.throws(() => events.validate({ event: 'spectrum', data: { peaks: [1, 2, 3, 4, 5] } }, now), { code: 'IIP_ERR_TELEMETRY_ARRAY_LENGTH' });
});

// ---- fast-check: the contract for arbitrary array types ----

/** Values the scalar type accepts (as a device would send them). */
function goodItem(dt: ScalarDataType): fc.Arbitrary<unknown> {
  switch (dt.type) {
    case 'int':
    case 'float': {
      const lo = dt.min ?? (dt.max ?? 0) - 1e9;
      const hi = dt.max ?? lo + 2e9;
      return dt.type === 'int' ? fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }) : fc.double({ min: lo, max: hi, noNaN: true });
    }
    case 'bool':
      return fc.oneof(fc.boolean(), fc.constantFrom(0, 1));
    case 'string':
      return fc.string({ maxLength: dt.maxLength ?? 16 });
    case 'enum':
      return fc.constantFrom(...dt.values.map((e) => e.value));
  }
}

/** The code an element must be refused with, stated apart from the validator (undefined: accepted). */
function refusal(dt: ScalarDataType, v: unknown): string | undefined {
  switch (dt.type) {
    case 'int':
    case 'float':
      if (dt.type === 'int' ? !Number.isInteger(v) : !Number.isFinite(v)) return 'IIP_ERR_TELEMETRY_TYPE';
      return (dt.min ?? -Infinity) <= (v as number) && (v as number) <= (dt.max ?? Infinity) ? undefined : 'IIP_ERR_TELEMETRY_OUT_OF_RANGE';
    case 'bool':
      return typeof v === 'boolean' || v === 0 || v === 1 ? undefined : 'IIP_ERR_TELEMETRY_TYPE';
    case 'string':
      if (typeof v !== 'string') return 'IIP_ERR_TELEMETRY_TYPE';
      return dt.maxLength === undefined || [...v].length <= dt.maxLength ? undefined : 'IIP_ERR_TELEMETRY_STRING_TOO_LONG';
    case 'enum':
      if (typeof v !== 'string') return 'IIP_ERR_TELEMETRY_TYPE';
      return dt.values.some((e) => e.value === v) ? undefined : 'IIP_ERR_TELEMETRY_ENUM';
  }
}

/** Values the scalar type refuses, with the code the validator must give. */
function badItem(dt: ScalarDataType): fc.Arbitrary<[unknown, string]> {
  const near: unknown[] = [null, {}, [], 'x', '', 2.5, true, -3, 1e300];
  if ((dt.type === 'int' || dt.type === 'float') && dt.max !== undefined) near.push(dt.max + 1);
  if ((dt.type === 'int' || dt.type === 'float') && dt.min !== undefined) near.push(dt.min - 1);
  if (dt.type === 'string' && dt.maxLength !== undefined) near.push('y'.repeat(dt.maxLength + 1));
  const bad = near.flatMap((v): [unknown, string][] => {
    const code = refusal(dt, v);
    return code === undefined ? [] : [[v, code]];
  });
  return fc.constantFrom(...bad);
}

const accepts = (dt: ScalarDataType, v: unknown): boolean => refusal(dt, v) === undefined;

const stored = (dt: ScalarDataType, v: unknown): unknown => (dt.type === 'bool' ? v === true || v === 1 : v);

/** An array type and a conforming value of it (at most 16 elements). */
const goodArray: fc.Arbitrary<[ArrayDataType, unknown[]]> = arrayDataType.chain((dt) => {
  const { min, max } = arrayLengthBounds(dt);
  return fc.tuple(fc.constant(dt), fc.array(goodItem(dt.items), { minLength: min, maxLength: Math.max(min, Math.min(max, 16)) }));
});

test('fast-check: every conforming array is accepted whole, as one point, elements kept in order', () => {
  fc.assert(
    fc.property(goodArray, ([dt, value]) => {
      const out = compileCheck(dt)(JSON.parse(JSON.stringify(value)), 'p');
      assert.ok(Array.isArray(out));
      assert.deepEqual(out, value.map((v) => stored(dt.items, JSON.parse(JSON.stringify(v)))));
      const points = new TelemetryValidator(withType(dt)).validate({ ts: now, values: { p: value } }, now);
      assert.equal(points.length, 1);
    }),
    { numRuns: 500 },
  );
});

test('fast-check: one bad element is refused with its index and the scalar code; nothing else is', () => {
  const arb = goodArray
    .filter(([, value]) => value.length > 0)
    .chain(([dt, value]) => fc.tuple(fc.constant(dt), fc.constant(value), fc.nat({ max: value.length - 1 }), badItem(dt.items)));
  fc.assert(
    fc.property(arb, ([dt, value, index, [bad, code]]) => {
      const broken = [...value];
      broken[index] = bad;
      assert.throws(() => compileCheck(dt)(broken, 'wave'), (e: unknown) => {
        assert.ok(e instanceof IipError, String(e));
        assert.equal(e.code, code, e.message);
        assert.equal(e.details.property, 'wave');
        assert.equal(e.details.index, index);
        assert.ok(e.message.startsWith(`property "wave"[${index}]: `), e.message);
        return true;
      });
    }),
    { numRuns: 500 },
  );
});

test('fast-check: a length outside the bounds is IIP_ERR_TELEMETRY_ARRAY_LENGTH, whatever the elements', () => {
  const arb = fc
    .tuple(scalarDataType, fc.nat({ max: 6 }), fc.nat({ max: 6 }), fc.boolean())
    .map(([items, a, b, matrix]): ArrayDataType =>
      matrix ? { type: 'array', items, dimensions: [a + 1, b + 1] } : { type: 'array', items, minItems: a, maxItems: a + b },
    )
    .chain((dt) => {
      const { min, max } = arrayLengthBounds(dt);
      const lengths = [max + 1, max + 2 + 3];
      if (min > 0) lengths.push(min - 1, 0);
      return fc.tuple(fc.constant(dt), fc.constantFrom(...lengths)).chain(([d, n]) => fc.tuple(fc.constant(d), fc.array(goodItem(d.items), { minLength: n, maxLength: n })));
    });
  fc.assert(
    fc.property(arb, ([dt, value]) => {
      const { min, max } = arrayLengthBounds(dt);
      assert.throws(() => compileCheck(dt)(value, 'p'), (e: unknown) => {
        assert.ok(e instanceof IipError);
        assert.equal(e.code, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH');
        assert.deepEqual([e.details.length, e.details.minItems, e.details.maxItems], [value.length, min, max]);
        return true;
      });
    }),
    { numRuns: 300 },
  );
});

test('fast-check: any JSON value for an array property is either a conforming array or a catalogued refusal', () => {
  const codes = new Set(['IIP_ERR_TELEMETRY_TYPE', 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', 'IIP_ERR_TELEMETRY_ENUM', 'IIP_ERR_TELEMETRY_STRING_TOO_LONG', 'IIP_ERR_TELEMETRY_ARRAY_LENGTH']);
  fc.assert(
    fc.property(arrayDataType, fc.oneof(fc.jsonValue(), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 10 })), (dt, v) => {
      let out: unknown;
      try {
        out = compileCheck(dt)(v, 'p');
      } catch (e) {
        assert.ok(e instanceof IipError && codes.has(e.code), String(e));
        return;
      }
      const { min, max } = arrayLengthBounds(dt);
      assert.ok(Array.isArray(v) && Array.isArray(out));
      assert.ok(out.length === v.length && out.length >= min && out.length <= max);
      for (const [i, x] of (v as unknown[]).entries()) {
        assert.ok(accepts(dt.items, x), `element ${i} ${JSON.stringify(x)} should have been refused by ${JSON.stringify(dt)}`);
      }
    }),
    { numRuns: 1000 },
  );
});
