import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_INGEST_LIMITS, type IngestLimits, IipError, MIN_TIMESTAMP, TelemetryValidator, type ThingModel } from '@iip/core';

const model: ThingModel = {
  properties: [
    { id: 'temperature', access: 'r', dataType: { type: 'float', min: -40, max: 125, unit: '°C' } },
    { id: 'speed', access: 'rw', dataType: { type: 'int', min: 0, max: 3000 } },
    { id: 'running', access: 'r', dataType: { type: 'bool' } },
    { id: 'serial', access: 'r', dataType: { type: 'string', maxLength: 8 } },
    { id: 'mode', access: 'rw', dataType: { type: 'enum', values: [{ value: 'auto' }, { value: 'manual' }] } },
  ],
  events: [],
  services: [],
};
const v = new TelemetryValidator(model);
const now = Date.UTC(2024, 0, 1, 12);
const json = (doc: unknown) => JSON.stringify(doc);

/** Asserts the IipError code and that details contain (at least) the given entries. */
function rejects(raw: string | Uint8Array, code: string, details: Record<string, unknown> = {}, limits?: IngestLimits): IipError {
  let caught: unknown;
  try {
    v.parse(raw, now, limits);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof IipError, `expected ${code}, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const [k, want] of Object.entries(details)) assert.deepEqual(caught.details[k], want, `details.${k}`);
  return caught;
}

test('flat shape uses server time', () => {
  assert.deepEqual(v.parse(json({ temperature: 21.5, mode: 'auto' }), now), [
    { property: 'temperature', ts: now, value: 21.5 },
    { property: 'mode', ts: now, value: 'auto' },
  ]);
});

test('flat shape with ts (epoch ms) beside the values', () => {
  assert.deepEqual(v.parse(json({ ts: now - 1000, speed: 1500 }), now), [{ property: 'speed', ts: now - 1000, value: 1500 }]);
});

test('{ts, values} shape, with epoch ms or ISO-8601 ts, and without ts', () => {
  assert.deepEqual(v.parse(json({ ts: now - 5, values: { serial: 'A1', running: true } }), now), [
    { property: 'serial', ts: now - 5, value: 'A1' },
    { property: 'running', ts: now - 5, value: true },
  ]);
  assert.deepEqual(v.parse(json({ ts: '2024-01-01T11:00:00.250Z', values: { speed: 1 } }), now), [
    { property: 'speed', ts: Date.UTC(2024, 0, 1, 11, 0, 0, 250), value: 1 },
  ]);
  assert.deepEqual(v.parse(json({ ts: '2024-01-01T19:00:00+08:00', values: { speed: 2 } }), now), [
    { property: 'speed', ts: Date.UTC(2024, 0, 1, 11), value: 2 },
  ]);
  assert.deepEqual(v.parse(json({ values: { speed: 3 } }), now), [{ property: 'speed', ts: now, value: 3 }]);
});

test('batch of records with their own timestamps, from bytes', () => {
  const raw = new TextEncoder().encode(json([{ ts: now - 2000, values: { speed: 10 } }, { ts: now - 1000, speed: 20 }, { speed: 30 }]));
  assert.deepEqual(v.parse(raw, now), [
    { property: 'speed', ts: now - 2000, value: 10 },
    { property: 'speed', ts: now - 1000, value: 20 },
    { property: 'speed', ts: now, value: 30 },
  ]);
});

test('bool accepts true/false and 0/1 and stores booleans; ints are valid floats', () => {
  assert.deepEqual(
    v.parse(json([{ running: 1 }, { running: 0 }, { running: false }]), now).map((p) => p.value),
    [true, false, false],
  );
  assert.deepEqual(v.parse(json({ temperature: 20 }), now)[0]?.value, 20);
});

test('validate() takes an already parsed document', () => {
  assert.deepEqual(v.validate({ mode: 'manual' }, now), [{ property: 'mode', ts: now, value: 'manual' }]);
});

test('IIP_ERR_PAYLOAD_NOT_JSON for bad JSON and bad UTF-8', () => {
  rejects('{"temperature": ', 'IIP_ERR_PAYLOAD_NOT_JSON');
  rejects('', 'IIP_ERR_PAYLOAD_NOT_JSON');
  rejects("{'speed': 1}", 'IIP_ERR_PAYLOAD_NOT_JSON');
  rejects(new Uint8Array([0x7b, 0xff, 0x7d]), 'IIP_ERR_PAYLOAD_NOT_JSON');
});

test('IIP_ERR_PAYLOAD_TOO_LARGE counts bytes, not characters', () => {
  const limits = { ...DEFAULT_INGEST_LIMITS, maxPayloadBytes: 18 };
  const raw = json({ serial: '温度' }); // 15 characters, 19 bytes
  assert.equal(raw.length, 15);
  rejects(raw, 'IIP_ERR_PAYLOAD_TOO_LARGE', { size: 19, limit: 18 }, limits);
  assert.equal(v.parse(json({ speed: 1 }), now, limits).length, 1);
  rejects(new Uint8Array(19).fill(0x20), 'IIP_ERR_PAYLOAD_TOO_LARGE', { size: 19 }, limits);
});

test('IIP_ERR_PAYLOAD_SHAPE for everything that is not a record or a batch of records', () => {
  for (const doc of [42, 'speed', null, true, [], [1], [[{ speed: 1 }]], {}, { ts: now }, { values: {} }, { values: [] }, { values: null }]) {
    rejects(json(doc), 'IIP_ERR_PAYLOAD_SHAPE');
  }
  const e = rejects(json({ ts: now, values: { speed: 1 }, mode: 'auto' }), 'IIP_ERR_PAYLOAD_SHAPE');
  assert.match(e.message, /"mode" beside "values"/);
  rejects(json([{ speed: 1 }, 'x']), 'IIP_ERR_PAYLOAD_SHAPE', { path: '[1]' });
});

test('IIP_ERR_PAYLOAD_TOO_MANY_POINTS counts points across the batch', () => {
  const limits = { ...DEFAULT_INGEST_LIMITS, maxPointsPerMessage: 3 };
  assert.equal(v.parse(json([{ speed: 1, running: true }, { speed: 2 }]), now, limits).length, 3);
  rejects(json([{ speed: 1, running: true }, { speed: 2, mode: 'auto' }]), 'IIP_ERR_PAYLOAD_TOO_MANY_POINTS', { limit: 3 }, limits);
});

test('IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY names the property', () => {
  rejects(json({ humidity: 40 }), 'IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', { property: 'humidity', rule: 'known-property' });
  rejects(json({ toString: 1 }), 'IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', { property: 'toString' });
  rejects('{"__proto__": 1}', 'IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', { property: '__proto__' });
});

test('IIP_ERR_TELEMETRY_TYPE names the property, the rule and the expected type', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ temperature: '21.5' }, 'temperature'],
    [{ temperature: null }, 'temperature'],
    [{ speed: 1.5 }, 'speed'],
    [{ speed: '10' }, 'speed'],
    [{ running: 'true' }, 'running'],
    [{ running: 2 }, 'running'],
    [{ serial: 12 }, 'serial'],
    [{ serial: ['a'] }, 'serial'],
    [{ mode: 1 }, 'mode'],
    [{ mode: { value: 'auto' } }, 'mode'],
  ];
  for (const [doc, property] of cases) {
    const e = rejects(json(doc), 'IIP_ERR_TELEMETRY_TYPE', { property, rule: 'type' });
    assert.equal(typeof e.details.expected, 'string');
    assert.match(e.message, new RegExp(`"${property}"`));
  }
  rejects('{"temperature": 1e999}', 'IIP_ERR_TELEMETRY_TYPE', { property: 'temperature' });
});

test('IIP_ERR_TELEMETRY_OUT_OF_RANGE on both bounds, bounds inclusive', () => {
  rejects(json({ temperature: 125.01 }), 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'temperature', rule: 'range', min: -40, max: 125, value: 125.01 });
  rejects(json({ temperature: -40.5 }), 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'temperature' });
  rejects(json({ speed: 3001 }), 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'speed', max: 3000 });
  rejects(json({ speed: -1 }), 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'speed', min: 0 });
  assert.equal(v.parse(json({ temperature: 125, speed: 0 }), now).length, 2);
  assert.equal(v.parse(json({ temperature: -40, speed: 3000 }), now).length, 2);
});

test('IIP_ERR_TELEMETRY_ENUM lists the allowed values', () => {
  rejects(json({ mode: 'AUTO' }), 'IIP_ERR_TELEMETRY_ENUM', { property: 'mode', rule: 'enum', value: 'AUTO', allowed: ['auto', 'manual'] });
});

test('IIP_ERR_TELEMETRY_STRING_TOO_LONG counts code points, as JSON Schema does', () => {
  rejects(json({ serial: '123456789' }), 'IIP_ERR_TELEMETRY_STRING_TOO_LONG', { property: 'serial', rule: 'maxLength', length: 9, maxLength: 8 });
  assert.equal(v.parse(json({ serial: '12345678' }), now).length, 1);
  assert.equal(v.parse(json({ serial: '😀'.repeat(8) }), now).length, 1);
  rejects(json({ serial: '😀'.repeat(9) }), 'IIP_ERR_TELEMETRY_STRING_TOO_LONG', { length: 9 });
});

test('IIP_ERR_TELEMETRY_TS_INVALID for non-timestamps and for clocks before 2000', () => {
  for (const ts of ['yesterday', '1700000000000', '2024-01-01', 'T', now + 0.5, MIN_TIMESTAMP - 1, 0, -1, null, true, {}, []]) {
    rejects(json({ ts, speed: 1 }), 'IIP_ERR_TELEMETRY_TS_INVALID', { rule: 'timestamp' });
  }
  rejects(json([{ speed: 1 }, { ts: 'soon', values: { speed: 1 } }]), 'IIP_ERR_TELEMETRY_TS_INVALID', { path: '[1]' });
  assert.equal(v.parse(json({ ts: MIN_TIMESTAMP, speed: 1 }), now)[0]?.ts, MIN_TIMESTAMP);
});

test('regression (found by fuzzing): a ts beyond the largest Date is TS_INVALID, not a RangeError', () => {
  rejects(json({ ts: 8.64e15 + 1, speed: 1 }), 'IIP_ERR_TELEMETRY_TS_INVALID');
  rejects(json({ ts: 1e300, speed: 1 }), 'IIP_ERR_TELEMETRY_TS_INVALID');
});

test('IIP_ERR_TELEMETRY_TS_FUTURE beyond the allowed skew, not at it', () => {
  const skew = DEFAULT_INGEST_LIMITS.maxFutureSkewMs;
  assert.equal(v.parse(json({ ts: now + skew, speed: 1 }), now)[0]?.ts, now + skew);
  rejects(json({ ts: now + skew + 1, speed: 1 }), 'IIP_ERR_TELEMETRY_TS_FUTURE', { rule: 'future-timestamp', value: now + skew + 1, maxFutureSkewMs: skew });
  rejects(json({ ts: now + 1001, speed: 1 }), 'IIP_ERR_TELEMETRY_TS_FUTURE', {}, { ...DEFAULT_INGEST_LIMITS, maxFutureSkewMs: 1000 });
});

test('a message is atomic: one bad point among good ones rejects the whole message', () => {
  const good = { ts: now - 10, values: { speed: 1, temperature: 20 } };
  const batch = [good, good, { ts: now - 5, values: { speed: 1, temperature: 200 } }, good];
  rejects(json(batch), 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'temperature' });
  rejects(json([good, { ...good, values: { ...good.values, extra: 1 } }]), 'IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY');
  rejects(json([good, { ...good, ts: now + 3_600_000 }]), 'IIP_ERR_TELEMETRY_TS_FUTURE');
});

test('a property named __proto__ (a valid member id) is validated by its own value', () => {
  const pv = new TelemetryValidator({ properties: [{ id: '__proto__', access: 'r', dataType: { type: 'int', max: 5 } }], events: [], services: [] });
  assert.deepEqual(pv.parse('{"__proto__": 3}', now), [{ property: '__proto__', ts: now, value: 3 }]);
  assert.throws(() => pv.parse('{"__proto__": 6}', now), { code: 'IIP_ERR_TELEMETRY_OUT_OF_RANGE' });
});

test('errors serialise as {code, message, details} with the registered HTTP status', () => {
  const e = rejects(json({ speed: 'fast' }), 'IIP_ERR_TELEMETRY_TYPE');
  assert.equal(e.status, 422);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(e))), ['code', 'message', 'details']);
  assert.equal(rejects('nope', 'IIP_ERR_PAYLOAD_NOT_JSON').status, 400);
});
