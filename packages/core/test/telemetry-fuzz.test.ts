import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CORE_ERRORS,
  type DataType,
  DEFAULT_INGEST_LIMITS,
  DEFAULT_MAX_ARRAY_ITEMS,
  IipError,
  type IngestLimits,
  MIN_TIMESTAMP,
  TelemetryValidator,
  type TelemetryPoint,
  type ThingModel,
} from '@iip/core';
import fc from 'fast-check';
import { thingModel } from './model-arbitrary.js';
import { richModel } from './rich-model.js';

const now = Date.UTC(2024, 5, 1);
const smallLimits: IngestLimits = { maxPayloadBytes: 4096, maxPointsPerMessage: 20, maxFutureSkewMs: 60_000 };
const codes = new Set(Object.keys(CORE_ERRORS).filter((c) => c.startsWith('IIP_ERR_PAYLOAD_') || c.startsWith('IIP_ERR_TELEMETRY_')));

/** Independent statement of what a stored value must satisfy, written apart from the validator. */
function conforms(dt: DataType, value: unknown): boolean {
  switch (dt.type) {
    case 'int':
      return Number.isInteger(value) && (dt.min ?? -Infinity) <= (value as number) && (value as number) <= (dt.max ?? Infinity);
    case 'float':
      return Number.isFinite(value) && (dt.min ?? -Infinity) <= (value as number) && (value as number) <= (dt.max ?? Infinity);
    case 'bool':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string' && (dt.maxLength === undefined || [...value].length <= dt.maxLength);
    case 'enum':
      return typeof value === 'string' && dt.values.some((e) => e.value === value);
    case 'array': {
      if (!Array.isArray(value)) return false;
      const fixed = dt.dimensions?.reduce((a, b) => a * b, 1);
      const min = fixed ?? dt.minItems ?? 0;
      const max = fixed ?? dt.maxItems ?? DEFAULT_MAX_ARRAY_ITEMS;
      return value.length >= min && value.length <= max && value.every((v) => conforms(dt.items, v));
    }
  }
}

/** Runs parse and checks the contract: an IipError with a telemetry code, or points that all obey the model. */
function check(model: ThingModel, raw: string | Uint8Array, limits: IngestLimits): TelemetryPoint[] | IipError {
  const validator = new TelemetryValidator(model);
  let points: TelemetryPoint[];
  try {
    points = validator.parse(raw, now, limits);
  } catch (e) {
    assert.ok(e instanceof IipError, `parse threw a non-IipError: ${String(e)}`);
    assert.ok(codes.has(e.code), `unexpected code ${e.code}`);
    return e;
  }
  assert.ok(points.length >= 1 && points.length <= limits.maxPointsPerMessage);
  const specs = new Map(model.properties.map((p) => [p.id, p.dataType]));
  for (const p of points) {
    const dt = specs.get(p.property);
    assert.ok(dt, `point for unknown property ${p.property}`);
    assert.ok(conforms(dt, p.value), `${p.property}=${JSON.stringify(p.value)} violates ${JSON.stringify(dt)}`);
    assert.ok(Number.isInteger(p.ts) && p.ts >= MIN_TIMESTAMP && p.ts <= now + limits.maxFutureSkewMs, `bad ts ${p.ts}`);
  }
  return points;
}

test('arbitrary bytes: only IipErrors, never a bad point', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => void check(richModel, raw, smallLimits)), { numRuns: 2000 });
});

test('arbitrary strings (including lone surrogates): only IipErrors, never a bad point', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (raw) => void check(richModel, raw, smallLimits)), { numRuns: 2000 });
});

test('arbitrary JSON values: only IipErrors, never a bad point', () => {
  fc.assert(fc.property(fc.jsonValue(), (doc) => void check(richModel, JSON.stringify(doc), smallLimits)), { numRuns: 2000 });
});

/** Values near what a model accepts, so that fuzzing reaches the success path as well as every rule. */
function valueFor(dt: DataType): fc.Arbitrary<unknown> {
  const near: fc.Arbitrary<unknown>[] = [fc.jsonValue(), fc.constantFrom(0, 1, -1, true, false, '', 0.5)];
  switch (dt.type) {
    case 'int':
    case 'float': {
      const edges = [dt.min, dt.max].filter((n): n is number => n !== undefined).flatMap((n) => [n, n - 1, n + 1, n + 0.5]);
      if (edges.length > 0) near.push(fc.constantFrom(...edges));
      const lo = Math.ceil(dt.min ?? (dt.max ?? 0) - 1e6);
      const hi = Math.floor(dt.max ?? (dt.min ?? 0) + 1e6);
      if (lo <= hi) near.push(fc.integer({ min: lo, max: hi }));
      near.push(fc.double({ noNaN: true, noDefaultInfinity: true }));
      break;
    }
    case 'string':
      near.push(fc.string({ maxLength: (dt.maxLength ?? 10) + 2, unit: 'binary' }));
      break;
    case 'enum':
      near.push(fc.constantFrom(...dt.values.map((e) => e.value)));
      break;
    case 'bool':
      break;
    case 'array': {
      const fixed = dt.dimensions?.reduce((a, b) => a * b, 1);
      const min = fixed ?? dt.minItems ?? 0;
      const max = fixed ?? dt.maxItems ?? 12;
      // Lengths at and just past the bounds, elements near what the item type accepts.
      near.push(fc.array(valueFor(dt.items), { minLength: Math.max(0, min - 1), maxLength: Math.min(max + 1, 20) }));
      near.push(fc.array(goodValue(dt.items), { minLength: min, maxLength: Math.min(max, 20) }));
      break;
    }
  }
  return fc.oneof(...near);
}

const tsArb = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: MIN_TIMESTAMP - 10, max: now + 120_000 }),
  fc.constantFrom(now, now + 60_000, now + 60_001, MIN_TIMESTAMP, MIN_TIMESTAMP - 1, 1.5, -1),
  fc.date({ min: new Date(MIN_TIMESTAMP - 1000), max: new Date(now + 120_000), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.jsonValue(),
);

function recordFor(model: ThingModel): fc.Arbitrary<unknown> {
  const ids = model.properties.map((p) => p.id);
  const entry: fc.Arbitrary<[string, unknown]> =
    ids.length === 0
      ? fc.tuple(fc.string(), fc.jsonValue())
      : fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom(...model.properties).chain((p) => fc.tuple(fc.constant(p.id), valueFor(p.dataType))) },
          { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 6 }), fc.jsonValue()) },
        );
  return fc.tuple(fc.array(entry, { maxLength: 6 }), tsArb, fc.boolean()).map(([entries, ts, wrapped]) => {
    const values: Record<string, unknown> = {};
    for (const [k, val] of entries) Object.defineProperty(values, k, { value: val, enumerable: true, writable: true, configurable: true });
    // Spread defines own properties, so a "__proto__" entry stays an ordinary key.
    const rec: Record<string, unknown> = wrapped ? { values } : { ...values };
    if (ts !== undefined) rec.ts = ts;
    return rec;
  });
}

function messageFor(model: ThingModel): fc.Arbitrary<unknown> {
  return fc.oneof(recordFor(model), fc.array(recordFor(model), { maxLength: 5 }));
}

test('telemetry-shaped messages for arbitrary models: only IipErrors, never a bad point, and good messages pass', () => {
  let accepted = 0;
  fc.assert(
    fc.property(
      thingModel.chain((m) => fc.tuple(fc.constant(m), messageFor(m))),
      ([model, message]) => {
        const result = check(model, JSON.stringify(message), smallLimits);
        if (Array.isArray(result)) accepted++;
      },
    ),
    { numRuns: 1500 },
  );
  // The generator must reach the success path too (about 3% of runs do; the next test covers it fully).
  assert.ok(accepted > 0, 'no message was accepted');
});

/** Values the data type accepts (for arrays at most 20 elements). */
function goodValue(dt: DataType): fc.Arbitrary<unknown> {
  switch (dt.type) {
    case 'int':
      return fc.integer({ min: dt.min ?? (dt.max ?? 0) - 1e9, max: dt.max ?? (dt.min ?? 0) + 1e9 });
    case 'float':
      return fc.double({ min: dt.min ?? (dt.max ?? 0) - 1e9, max: dt.max ?? (dt.min ?? 0) + 1e9, noNaN: true });
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.string({ maxLength: dt.maxLength ?? 20 });
    case 'enum':
      return fc.constantFrom(...dt.values.map((e) => e.value));
    case 'array': {
      const fixed = dt.dimensions?.reduce((a, b) => a * b, 1);
      const min = fixed ?? dt.minItems ?? 0;
      return fc.array(goodValue(dt.items), { minLength: min, maxLength: Math.max(min, Math.min(fixed ?? dt.maxItems ?? 20, 20)) });
    }
  }
}

test('messages built only from conforming values are always accepted with every point', () => {
  const arb = thingModel
    .filter((m) => m.properties.some((p) => p.id !== 'ts' && p.id !== 'values'))
    .chain((m) => {
      const usable = m.properties.filter((p) => p.id !== 'ts' && p.id !== 'values');
      const rec = fc
        .uniqueArray(fc.constantFrom(...usable), { minLength: 1, selector: (p) => p.id })
        .chain((ps) => fc.tuple(...ps.map((p) => fc.tuple(fc.constant(p.id), goodValue(p.dataType)))))
        .chain((entries) =>
          fc.integer({ min: MIN_TIMESTAMP, max: now }).map((ts) => {
            const values: Record<string, unknown> = {};
            for (const [k, val] of entries) Object.defineProperty(values, k, { value: val, enumerable: true, writable: true, configurable: true });
            return { ts, values };
          }),
        );
      return fc.tuple(fc.constant(m), fc.array(rec, { minLength: 1, maxLength: 4 }));
    });
  fc.assert(
    fc.property(arb, ([model, batch]) => {
      const result = check(model, JSON.stringify(batch), DEFAULT_INGEST_LIMITS);
      assert.ok(Array.isArray(result), `rejected a conforming message: ${result instanceof IipError ? result.message : ''}`);
      assert.equal(result.length, batch.reduce((n, r) => n + Object.keys(r.values).length, 0));
    }),
    { numRuns: 500 },
  );
});
