/**
 * Device events (issue 13, point 1): parsed and validated against the thing model's event definitions, all or
 * nothing, with a stable code naming the event and output; arbitrary network input never escapes as anything but
 * an IipError.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CORE_ERRORS, EventValidator, IipError, type ThingModel } from '@iip/core';
import fc from 'fast-check';

const MODEL: ThingModel = {
  properties: [{ id: 'temperature', dataType: { type: 'float' }, access: 'r' }],
  events: [
    {
      id: 'overheat',
      level: 'alert',
      outputs: [
        { id: 'temperature', dataType: { type: 'float', min: -40, max: 400 }, required: true },
        { id: 'zone', dataType: { type: 'enum', values: [{ value: 'spindle' }, { value: 'motor' }] } },
      ],
    },
    { id: 'door_opened', outputs: [] },
  ],
  services: [],
};
const v = new EventValidator(MODEL);
const now = Date.UTC(2026, 11, 7, 6, 0);

function rejects(raw: string, code: string, details: Record<string, unknown> = {}): void {
  assert.throws(
    () => v.parse(raw, now),
    (e: unknown) => {
      assert.ok(e instanceof IipError, String(e));
      assert.equal(e.code, code, e.message);
      for (const [k, want] of Object.entries(details)) assert.deepEqual(e.details[k], want, `details.${k}`);
      return true;
    },
  );
}

describe('device events', () => {
  test('one event, several, device or server time; the level comes from the thing model', () => {
    assert.deepEqual(v.parse('{"event":"overheat","data":{"temperature":91.5,"zone":"spindle"}}', now), [
      { event: 'overheat', ts: now, level: 'alert', data: { temperature: 91.5, zone: 'spindle' } },
    ]);
    const ts = now - 5_000;
    assert.deepEqual(v.parse(JSON.stringify([{ event: 'door_opened', ts }, { event: 'overheat', ts: new Date(ts).toISOString(), data: { temperature: 80 } }]), now), [
      { event: 'door_opened', ts, level: 'info', data: {} },
      { event: 'overheat', ts, level: 'alert', data: { temperature: 80 } },
    ]);
  });

  test('refusals name the event and the output', () => {
    rejects('not json', 'IIP_ERR_PAYLOAD_NOT_JSON');
    rejects('{"event":"explode"}', 'IIP_ERR_EVENT_UNKNOWN', { event: 'explode', known: ['overheat', 'door_opened'] });
    rejects('{"event":"overheat","data":{"temperature":90,"pressure":3}}', 'IIP_ERR_EVENT_UNKNOWN_OUTPUT', { event: 'overheat', output: 'pressure' });
    rejects('{"event":"overheat","data":{"zone":"motor"}}', 'IIP_ERR_EVENT_OUTPUT_MISSING', { event: 'overheat', output: 'temperature' });
    rejects('{"event":"overheat","data":{"temperature":"hot"}}', 'IIP_ERR_TELEMETRY_TYPE', { property: 'overheat.temperature' });
    rejects('{"event":"overheat","data":{"temperature":900}}', 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    rejects('{"event":"overheat","data":{"temperature":90,"zone":"roof"}}', 'IIP_ERR_TELEMETRY_ENUM');
    rejects('{"event":"door_opened","ts":"yesterday"}', 'IIP_ERR_TELEMETRY_TS_INVALID');
    rejects(`{"event":"door_opened","ts":${now + 3_600_000}}`, 'IIP_ERR_TELEMETRY_TS_FUTURE');
    rejects('{"event":"door_opened","extra":1}', 'IIP_ERR_PAYLOAD_SHAPE');
    rejects('{"event":"door_opened","data":[1]}', 'IIP_ERR_PAYLOAD_SHAPE');
    rejects('[]', 'IIP_ERR_PAYLOAD_SHAPE');
    rejects('{"event":"__proto__"}', 'IIP_ERR_EVENT_UNKNOWN');
    // All or nothing: one bad event in a batch refuses the message.
    rejects('[{"event":"door_opened"},{"event":"explode"}]', 'IIP_ERR_EVENT_UNKNOWN');
  });

  test('arbitrary input: a list of valid events, or an IipError of the catalogue — never another exception', () => {
    const codes = new Set(Object.keys(CORE_ERRORS));
    const eventish = fc.record(
      { event: fc.oneof(fc.constantFrom('overheat', 'door_opened', 'explode', 'constructor'), fc.string()), ts: fc.oneof(fc.integer(), fc.string(), fc.constant(now)), data: fc.oneof(fc.dictionary(fc.constantFrom('temperature', 'zone', 'x'), fc.jsonValue()), fc.jsonValue()) },
      { requiredKeys: ['event'] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), eventish, fc.array(eventish, { maxLength: 5 })), (doc) => {
        try {
          const out = v.validate(doc, now);
          for (const e of out) assert.ok(e.event === 'overheat' || e.event === 'door_opened');
        } catch (e) {
          assert.ok(e instanceof IipError && codes.has(e.code), String(e));
        }
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          v.parse(bytes, now);
        } catch (e) {
          assert.ok(e instanceof IipError && codes.has(e.code), String(e));
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
