/**
 * fast-check generators for valid thing models (they obey every assertThingModel rule), shared by the
 * property tests of the exchange formats and of telemetry validation.
 */
import type { ArrayDataType, DataType, EventSpec, ParamSpec, PropertySpec, ScalarDataType, ServiceSpec, ThingModel } from '@iip/core';
import fc from 'fast-check';

export const memberId = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/);

// -0 does not survive JSON, and a model would not sensibly use it as a bound.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }).map((n) => (Object.is(n, -0) ? 0 : n));
const safeInt = fc.integer({ min: -(2 ** 45), max: 2 ** 45 });

function bounds(arb: fc.Arbitrary<number>): fc.Arbitrary<{ min?: number; max?: number }> {
  return fc
    .tuple(fc.option(arb, { nil: undefined }), fc.option(arb, { nil: undefined }))
    .map(([a, b]) => {
      const out: { min?: number; max?: number } = {};
      if (a !== undefined && b !== undefined) {
        out.min = Math.min(a, b);
        out.max = Math.max(a, b);
      } else if (a !== undefined) out.min = a;
      else if (b !== undefined) out.max = b;
      return out;
    });
}

const unit = fc.record({ unit: fc.string({ maxLength: 8 }) }, { requiredKeys: [], noNullPrototype: true });

export const scalarDataType: fc.Arbitrary<ScalarDataType> = fc.oneof(
  fc.tuple(bounds(safeInt), unit).map(([b, u]): ScalarDataType => ({ type: 'int', ...b, ...u })),
  fc.tuple(bounds(finite), unit).map(([b, u]): ScalarDataType => ({ type: 'float', ...b, ...u })),
  fc.record({ type: fc.constant('bool' as const), trueText: fc.string(), falseText: fc.string() }, { requiredKeys: ['type'], noNullPrototype: true }),
  fc.record({ type: fc.constant('string' as const), maxLength: fc.nat({ max: 1000 }) }, { requiredKeys: ['type'], noNullPrototype: true }),
  fc
    .uniqueArray(fc.record({ value: fc.string({ minLength: 1, maxLength: 12 }), text: fc.string() }, { requiredKeys: ['value'], noNullPrototype: true }), {
      minLength: 1,
      maxLength: 5,
      selector: (v) => v.value,
    })
    .map((values): ScalarDataType => ({ type: 'enum', values })),
);

/** Array types kept small (at most 16 elements) so that values for them can be generated cheaply. */
export const arrayDataType: fc.Arbitrary<ArrayDataType> = fc.oneof(
  fc
    .tuple(scalarDataType, fc.option(fc.nat({ max: 8 }), { nil: undefined }), fc.option(fc.nat({ max: 8 }), { nil: undefined }))
    .map(([items, a, b]): ArrayDataType => {
      const out: { type: 'array'; items: ScalarDataType; minItems?: number; maxItems?: number } = { type: 'array', items };
      if (a !== undefined) out.minItems = a;
      if (b !== undefined) out.maxItems = a === undefined ? b : a + b;
      return out;
    }),
  fc
    .tuple(scalarDataType, fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }))
    .map(([items, dimensions]): ArrayDataType => ({ type: 'array', items, dimensions })),
);

export const dataType: fc.Arbitrary<DataType> = fc.oneof(
  { weight: 5, arbitrary: scalarDataType as fc.Arbitrary<DataType> },
  { weight: 1, arbitrary: arrayDataType as fc.Arbitrary<DataType> },
);

const named = { name: fc.string({ maxLength: 20 }), description: fc.string({ maxLength: 40 }) };

export const param: fc.Arbitrary<ParamSpec> = fc.record(
  // `required: false` and absent mean the same and both formats write only `true`.
  { id: memberId, name: named.name, dataType, required: fc.constant(true) },
  { requiredKeys: ['id', 'dataType'], noNullPrototype: true },
);

const params = fc.uniqueArray(param, { maxLength: 4, selector: (p) => p.id });

export const property: fc.Arbitrary<PropertySpec> = fc.record(
  { id: memberId, ...named, dataType, access: fc.constantFrom('r' as const, 'rw' as const) },
  { requiredKeys: ['id', 'dataType', 'access'], noNullPrototype: true },
);

export const event: fc.Arbitrary<EventSpec> = fc.record(
  { id: memberId, ...named, level: fc.constantFrom('info' as const, 'warn' as const, 'alert' as const), outputs: params },
  { requiredKeys: ['id', 'outputs'], noNullPrototype: true },
);

export const service: fc.Arbitrary<ServiceSpec> = fc.record(
  { id: memberId, ...named, inputs: params, outputs: params },
  { requiredKeys: ['id', 'inputs', 'outputs'], noNullPrototype: true },
);

export const thingModel: fc.Arbitrary<ThingModel> = fc.record({
  properties: fc.uniqueArray(property, { maxLength: 6, selector: (p) => p.id }),
  events: fc.uniqueArray(event, { maxLength: 3, selector: (e) => e.id }),
  services: fc.uniqueArray(service, { maxLength: 3, selector: (s) => s.id }),
}, { noNullPrototype: true });
