import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyProperties, stateProperty, stateTone } from '../src/key-properties.ts';
import { isUpdating, lastReport, mergeLatest, parseFrame } from '../src/live-values.ts';
import { parseRoute, routeHref } from '../src/route.ts';
import { appendLive, bucketSeries, numericValue } from '../src/trend-series.ts';
import type { ThingModel } from '@iip/core';

test('mergeLatest: newer wins, older is ignored, unchanged keeps identity', () => {
  const a = mergeLatest(undefined, [{ property: 't', ts: 10, value: 1 }]);
  assert.deepEqual(a, { t: { ts: 10, value: 1 } });
  assert.equal(mergeLatest(a, [{ property: 't', ts: 5, value: 9 }]), a);
  assert.equal(mergeLatest(a, [{ property: 't', ts: 10, value: 1 }]), a);
  const b = mergeLatest(a, [{ property: 't', ts: 11, value: 2 }, { property: 'p', ts: 3, value: 'x' }]);
  assert.deepEqual(b, { t: { ts: 11, value: 2 }, p: { ts: 3, value: 'x' } });
  assert.deepEqual(a, { t: { ts: 10, value: 1 } }, 'the old table is not mutated');
  assert.equal(lastReport(b), 11);
  assert.equal(isUpdating(b, 11 + 60_000), true);
  assert.equal(isUpdating(b, 11 + 60_001), false);
  assert.equal(isUpdating(undefined, 0), false);
});

test('parseFrame accepts telemetry frames and drops malformed points', () => {
  const f = parseFrame(
    JSON.stringify({
      type: 'telemetry',
      device: 'cnc-01',
      points: [{ property: 'temperature', ts: 1, value: 41.2 }, { property: 'x', ts: 'bad', value: 1 }, null, { property: 'o', ts: 2, value: {} }],
    }),
  );
  assert.deepEqual(f, { type: 'telemetry', device: 'cnc-01', points: [{ property: 'temperature', ts: 1, value: 41.2 }] });
  assert.equal(parseFrame('not json'), undefined);
  assert.equal(parseFrame('{"type":"hello"}'), undefined);
  assert.equal(parseFrame('null'), undefined);
});

const model: ThingModel = {
  properties: [
    { id: 'count', dataType: { type: 'int' }, access: 'r' },
    { id: 'state', dataType: { type: 'enum', values: [{ value: 'run' }, { value: 'fault' }] }, access: 'r' },
    { id: 'temperature', dataType: { type: 'float', unit: '°C' }, access: 'r' },
    { id: 'label', dataType: { type: 'string' }, access: 'r' },
    { id: 'current', dataType: { type: 'float', unit: 'A' }, access: 'r' },
    { id: 'speed', dataType: { type: 'int', unit: 'rpm' }, access: 'r' },
    { id: 'power', dataType: { type: 'float', unit: 'kW' }, access: 'r' },
  ],
  events: [],
  services: [],
};

test('key properties: numeric ones with units first, in model order, at most four', () => {
  assert.deepEqual(keyProperties(model).map((p) => p.id), ['temperature', 'current', 'speed', 'power']);
  assert.deepEqual(keyProperties(model, 5).map((p) => p.id), ['temperature', 'current', 'speed', 'power', 'count']);
  assert.equal(stateProperty(model)?.id, 'state');
  assert.equal(stateProperty({ properties: [], events: [], services: [] }), undefined);
});

test('state tones follow common PLC vocabulary', () => {
  assert.equal(stateTone('run'), 'ok');
  assert.equal(stateTone('Running'), 'ok');
  assert.equal(stateTone('fault'), 'bad');
  assert.equal(stateTone('E_STOP'.replace('_', '')), 'bad');
  assert.equal(stateTone('maintenance'), 'warn');
  assert.equal(stateTone('idle'), 'idle');
  assert.equal(stateTone('stopped'), 'idle');
  assert.equal(stateTone(undefined), 'unknown');
});

test('bucketSeries plots at bucket middles and leaves gaps for empty buckets', () => {
  const s = bucketSeries([
    { start: 0, end: 10, min: 1, max: 3, avg: 2, count: 4 },
    { start: 10, end: 20, min: null, max: null, avg: null, count: 0 },
  ]);
  assert.deepEqual(s.avg, [[5, 2], [15, null]]);
  assert.deepEqual(s.min, [[5, 1], [15, null]]);
  assert.deepEqual(s.band, [[5, 2], [15, null]]);
  assert.deepEqual(s.max, [[5, 3], [15, null]]);
});

test('appendLive drops points already covered by the trend and duplicates, keeps order', () => {
  let live = appendLive([], 100, 1, 100);
  assert.deepEqual(live, []);
  live = appendLive(live, 101, 1, 100);
  live = appendLive(live, 103, 3, 100);
  live = appendLive(live, 102, 2, 100);
  live = appendLive(live, 103, 9, 100);
  assert.deepEqual(live, [[101, 1], [102, 2], [103, 3]]);
  assert.equal(numericValue(true), 1);
  assert.equal(numericValue('x'), undefined);
  assert.equal(numericValue(Number.NaN), undefined);
});

test('routes round-trip device ids with unusual characters', () => {
  assert.deepEqual(parseRoute(''), { kind: 'devices' });
  assert.deepEqual(parseRoute('#/devices'), { kind: 'devices' });
  assert.deepEqual(parseRoute(routeHref({ kind: 'device', id: 'cnc-01.a_b' })), { kind: 'device', id: 'cnc-01.a_b' });
  assert.deepEqual(parseRoute('#/devices/%E0%A4%A'), { kind: 'devices' });
  assert.deepEqual(parseRoute('#/gateways'), { kind: 'gateways' });
  assert.deepEqual(parseRoute(routeHref({ kind: 'gateway', id: 'gw-1' })), { kind: 'gateway', id: 'gw-1' });
  assert.deepEqual(parseRoute('#/gateways/%E0%A4%A'), { kind: 'gateways' });
  assert.equal(routeHref({ kind: 'gateways' }), '#/gateways');
});
