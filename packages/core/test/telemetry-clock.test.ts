/**
 * Issue 10, point 2: server stamps never collide. Whatever mix of untimestamped and timestamped records a
 * device sends, and however the server clock advances, the stamps of one property strictly increase, never
 * land on a timestamp the device sent (at or before the server time), and all properties of one record share
 * one stamp.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ThingModel, TelemetryValidator, DeviceClock } from '@iip/core';

const MODEL: ThingModel = {
  properties: ['a', 'b', 'c'].map((id) => ({ id, dataType: { type: 'int' as const }, access: 'r' as const })),
  events: [],
  services: [],
};
const T0 = 1_700_000_000_000;

test('ten records without ts in one millisecond get ten distinct, ordered stamps', () => {
  const v = new TelemetryValidator(MODEL);
  const clock = new DeviceClock();
  const ts = Array.from({ length: 10 }, (_, i) => v.parse(JSON.stringify({ a: i }), T0, undefined, clock)[0]!.ts);
  assert.deepEqual(
    ts,
    ts.map((_, i) => T0 + i),
  );
  const batch = v.validate([{ a: 1, b: 2 }, { a: 3 }, { b: 4 }], T0 + 1, undefined, clock);
  assert.deepEqual(
    batch.map((p) => [p.property, p.ts]),
    [
      ['a', T0 + 10],
      ['b', T0 + 10],
      ['a', T0 + 11],
      ['b', T0 + 11],
    ],
  );
});

test('stamps never repeat and never hit a device timestamp (fast-check)', () => {
  const prop = fc.constantFrom('a', 'b', 'c');
  const record = fc.record({
    props: fc.uniqueArray(prop, { minLength: 1, maxLength: 3 }),
    // undefined: no ts; a number: the device's own ts relative to now (past, now, or ahead)
    ts: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
    advance: fc.integer({ min: 0, max: 2 }),
  });
  fc.assert(
    fc.property(fc.array(fc.array(record, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }), (messages) => {
      const v = new TelemetryValidator(MODEL);
      const clock = new DeviceClock();
      let now = T0;
      const taken = new Map<string, Set<number>>();
      const lastStamp = new Map<string, number>();
      let stamping = false;
      for (const msg of messages) {
        now += msg[0]!.advance;
        const doc = msg.map((r) => {
          const values = Object.fromEntries(r.props.map((p) => [p, 1]));
          return r.ts === undefined ? values : { ts: now + r.ts, values };
        });
        const points = v.validate(doc, now, undefined, clock);
        let i = 0;
        for (const r of msg) {
          const own = points.slice(i, i + r.props.length);
          i += r.props.length;
          assert.equal(new Set(own.map((p) => p.ts)).size, 1, 'one record, one timestamp');
          for (const p of own) {
            const seen = taken.get(p.property) ?? new Set<number>();
            taken.set(p.property, seen);
            if (r.ts === undefined) {
              stamping = true;
              assert.ok(p.ts >= now, 'a stamp is never before the server time');
              assert.ok(p.ts > (lastStamp.get(p.property) ?? Number.NEGATIVE_INFINITY), 'stamps of a property increase');
              assert.ok(!seen.has(p.ts), `stamp ${p.ts - T0} of ${p.property} collides`);
              lastStamp.set(p.property, p.ts);
              seen.add(p.ts);
            } else if (stamping && p.ts <= now) {
              // Followed device timestamps are reserved for the device from then on.
              seen.add(p.ts);
            }
          }
        }
      }
    }),
    { numRuns: 500 },
  );
});
