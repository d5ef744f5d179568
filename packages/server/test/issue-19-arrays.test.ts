/**
 * Issue 19, point 3, end to end: a product with array properties (a vibration waveform, a matrix) is created
 * and read back through the API with its array types intact; a device publishing arrays over MQTT (mqtt.js, and
 * Debian's mosquitto_pub) has them stored and read back through latest, history and the live WebSocket; a
 * trend of an array is refused (arrays are never rolled up); a broken array is refused on the errors topic
 * naming the element; a rule's CEL expression reads the array and raises an alarm.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ThingModel } from '@iip/core';
import { run, waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { type TestPlatform, startTestPlatform } from './fixture.js';

const FAN: ThingModel = {
  properties: [
    {
      id: 'waveform',
      name: '振动波形',
      dataType: { type: 'array', items: { type: 'float', min: -50, max: 50, unit: 'mm/s' }, minItems: 1, maxItems: 4096 },
      access: 'r',
    },
    { id: 'gains', dataType: { type: 'array', items: { type: 'int' }, dimensions: [2, 3] }, access: 'rw' },
    { id: 'flags', dataType: { type: 'array', items: { type: 'bool' } }, access: 'r' },
    { id: 'speed', dataType: { type: 'float', unit: 'rpm' }, access: 'r' },
  ],
  events: [],
  services: [],
};

interface ApiError {
  code: string;
  message: string;
  details: Record<string, unknown>;
}
type Point = { ts: number; value: unknown };

let tp: TestPlatform;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform();
  const created = await tp.api<{ model: ThingModel }>('POST', '/api/v1/products', { id: 'fan', name: 'Fan', model: FAN });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  for (const id of ['fan-1', 'fan-2', 'fan-3', 'fan-4']) {
    const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id, product: 'fan' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    secrets[id] = r.body.secret;
  }
});
after(async () => {
  await tp?.close();
});

function connect(device: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, {
      username: `default/${device}`,
      password: secrets[device] as string,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

async function history(device: string, prop: string): Promise<Point[]> {
  const r = await tp.api<{ points: Point[] }>('GET', `/api/v1/devices/${device}/properties/${prop}/history?from=946684800000&to=${Date.now() + 600_000}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.points;
}

const latest = async (device: string) => (await tp.api<{ values: Record<string, Point> }>('GET', `/api/v1/devices/${device}/latest`)).body.values;

describe('array properties end to end (issue 19)', () => {
  test('the product keeps its array types through the API: GET, and the TSL and WoT TD exports', async () => {
    const got = await tp.api<{ model: ThingModel }>('GET', '/api/v1/products/fan');
    assert.deepEqual(got.body.model, FAN, 'the response schema must not drop items, minItems, maxItems or dimensions');
    const list = await tp.api<{ items: Array<{ id: string; model: ThingModel }> }>('GET', '/api/v1/products');
    assert.deepEqual(list.body.items.find((p) => p.id === 'fan')?.model, FAN);
    const td = await tp.api<{ properties: Record<string, Record<string, unknown>> }>('GET', '/api/v1/products/fan/model?format=wot');
    assert.deepEqual(td.body.properties.waveform?.items, { type: 'number', minimum: -50, maximum: 50, unit: 'mm/s' });
    assert.deepEqual(td.body.properties.gains?.['iip:dimensions'], [2, 3]);
    const tsl = await tp.api<{ properties: Array<{ id: string; valueType: Record<string, unknown> }> }>('GET', '/api/v1/products/fan/model?format=tsl');
    assert.deepEqual(tsl.body.properties.find((p) => p.id === 'waveform')?.valueType.elementType, { type: 'double', min: -50, max: 50, unit: 'mm/s' });
    // A model with a broken array type is refused naming the path.
    const bad = await tp.api<ApiError>('POST', '/api/v1/products', {
      id: 'bad',
      model: { properties: [{ id: 'w', access: 'r', dataType: { type: 'array', items: { type: 'float' }, maxItems: 1_000_000 } }], events: [], services: [] },
    });
    assert.equal(bad.body.code, 'IIP_ERR_MODEL_INVALID', JSON.stringify(bad.body));
    assert.equal(bad.body.details.path, 'properties[0].dataType.maxItems');
  });

  test('mqtt.js: a device publishing arrays has them stored and read back intact through latest and history', async () => {
    const c = await connect('fan-1');
    try {
      const t0 = Date.now() - 10_000;
      const waveform = Array.from({ length: 1024 }, (_, i) => Math.round(Math.sin(i / 8) * 4000) / 100);
      await c.publishAsync('iip/default/fan-1/telemetry', JSON.stringify({ ts: t0, values: { waveform: [0.1, 0.4, -0.2], gains: [1, 2, 3, 4, 5, 6], flags: [true, 0, 1], speed: 1480 } }), { qos: 1 });
      await c.publishAsync('iip/default/fan-1/telemetry', JSON.stringify({ ts: t0 + 1000, waveform }), { qos: 1 });
      const points = await waitFor(async () => {
        const h = await history('fan-1', 'waveform');
        return h.length === 2 ? h : undefined;
      }, 'two waveform points stored', 5_000);
      assert.deepEqual(points, [
        { ts: t0, value: [0.1, 0.4, -0.2] },
        { ts: t0 + 1000, value: waveform },
      ]);
      const values = await latest('fan-1');
      assert.deepEqual(values.waveform, { ts: t0 + 1000, value: waveform });
      assert.deepEqual(values.gains, { ts: t0, value: [1, 2, 3, 4, 5, 6] }, 'a matrix is stored flat, row-major');
      assert.deepEqual(values.flags, { ts: t0, value: [true, false, true] }, 'bool elements sent as 0/1 are stored as booleans');
      assert.deepEqual(values.speed, { ts: t0, value: 1480 });
    } finally {
      await c.endAsync();
    }
  });

  test('mosquitto_pub (Debian): an array published QoS 1 is stored', async () => {
    const ts = Date.now() - 5_000;
    const r = await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(tp.platform.mqttPort), '-q', '1', '-i', 'fan-2',
      '-u', 'default/fan-2', '-P', secrets['fan-2'] as string,
      '-t', 'iip/default/fan-2/telemetry',
      '-m', JSON.stringify({ ts, waveform: [0.1, 0.4, -0.2] }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pts = await waitFor(async () => {
      const h = await history('fan-2', 'waveform');
      return h.length > 0 ? h : undefined;
    }, 'the waveform stored', 5_000);
    assert.deepEqual(pts, [{ ts, value: [0.1, 0.4, -0.2] }]);
  });

  test('a trend of an array property is refused (no rollups); the numeric property beside it has one', async () => {
    const from = Date.now() - 3_600_000;
    const r = await tp.api<ApiError>('GET', `/api/v1/devices/fan-1/properties/waveform/trend?from=${from}&to=${Date.now()}&buckets=10`);
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.code, 'IIP_ERR_HISTORIAN_NOT_NUMERIC');
    const speed = await tp.api<{ buckets: Array<{ count: number }> }>('GET', `/api/v1/devices/fan-1/properties/speed/trend?from=${from}&to=${Date.now()}&buckets=1`);
    assert.equal(speed.status, 200);
    assert.equal(speed.body.buckets[0]?.count, 1);
  });

  test('a broken array is refused on the errors topic naming the element or the length, and nothing of the message is stored', async () => {
    const c = await connect('fan-3');
    try {
      await c.subscribeAsync('iip/default/fan-3/errors', { qos: 1 });
      const expectError = async (payload: unknown) => {
        const got = new Promise<ApiError>((resolve) => {
          const onMsg = (topic: string, msg: Buffer) => {
            if (topic !== 'iip/default/fan-3/errors') return;
            c.off('message', onMsg);
            resolve(JSON.parse(msg.toString()));
          };
          c.on('message', onMsg);
        });
        await c.publishAsync('iip/default/fan-3/telemetry', JSON.stringify(payload), { qos: 1 });
        return got;
      };
      const element = await expectError({ speed: 10, waveform: [0.1, 0.2, 0.3, 'x'] });
      assert.equal(element.code, 'IIP_ERR_TELEMETRY_TYPE', element.message);
      assert.match(element.message, /^property "waveform"\[3\]: expected a finite number/);
      assert.deepEqual([element.details.property, element.details.index], ['waveform', 3]);
      const range = await expectError({ waveform: [0.1, 99] });
      assert.equal(range.code, 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
      assert.equal(range.details.index, 1);
      const length = await expectError({ gains: [1, 2, 3, 4, 5] });
      assert.equal(length.code, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH');
      assert.deepEqual([length.details.length, length.details.minItems, length.details.maxItems], [5, 6, 6]);
      assert.deepEqual(await latest('fan-3'), {}, 'nothing stored');
      assert.ok(c.connected, 'the device stays connected');
    } finally {
      await c.endAsync();
    }
    // HTTP ingest answers the same refusal.
    const auth = `Basic ${Buffer.from(`default/fan-3:${secrets['fan-3']}`).toString('base64')}`;
    const r = await tp.anon<ApiError>('POST', '/api/v1/ingest', { waveform: [] }, { authorization: auth });
    assert.equal(r.status, 422);
    assert.equal(r.body.code, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH');
  });

  test('the live WebSocket carries array values intact', async () => {
    const ws = new WebSocket(`${tp.platform.httpUrl.replace('http', 'ws')}/api/v1/stream`);
    const frames: Array<{ type: string; device?: string; points?: Array<{ property: string; value: unknown }> }> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      ws.send(JSON.stringify({ type: 'auth', token: tp.token }));
      ws.send(JSON.stringify({ type: 'subscribe', devices: ['fan-4'] }));
      await waitFor(() => frames.some((f) => f.type === 'hello'), 'hello frame');
      const auth = `Basic ${Buffer.from(`default/fan-4:${secrets['fan-4']}`).toString('base64')}`;
      assert.equal((await tp.anon('POST', '/api/v1/ingest', { waveform: [1.5, -2.25, 3] }, { authorization: auth })).status, 202);
      const f = await waitFor(() => frames.find((x) => x.type === 'telemetry'), 'telemetry frame');
      assert.deepEqual(f.points?.map((p) => [p.property, p.value]), [['waveform', [1.5, -2.25, 3]]]);
    } finally {
      ws.close();
    }
  });

  test('a write of an array property is checked like telemetry before it is routed', async () => {
    const wrong = await tp.api<ApiError>('POST', '/api/v1/devices/fan-1/properties/gains/write', { value: [1, 2, 3] });
    assert.equal(wrong.body.code, 'IIP_ERR_TELEMETRY_ARRAY_LENGTH', JSON.stringify(wrong.body));
    // A well-formed matrix passes validation; fan-1 has no edge gateway, so it cannot be carried out.
    const right = await tp.api<ApiError>('POST', '/api/v1/devices/fan-1/properties/gains/write', { value: [1, 2, 3, 4, 5, 6] });
    assert.equal(right.body.code, 'IIP_ERR_WRITE_NO_ROUTE', JSON.stringify(right.body));
  });

  test('a rule reads an array in CEL and raises an alarm from MQTT telemetry; a threshold on it is refused', async () => {
    const threshold = await tp.api<ApiError>('POST', '/api/v1/rules', { id: 'peak-t', scope: { product: 'fan' }, when: { threshold: { property: 'waveform', op: '>', value: 3 } } });
    assert.equal(threshold.body.code, 'IIP_ERR_RULE_TYPE', JSON.stringify(threshold.body));
    assert.equal(threshold.body.details.field, 'when.threshold.property');
    const rule = await tp.api('POST', '/api/v1/rules', {
      id: 'peak',
      scope: { product: 'fan', devices: ['fan-2'] },
      when: { expression: 'size(waveform) > 2 && waveform.exists(x, x > 30.0)' },
      alarm: { severity: 'high', message: 'Vibration peak above 30 mm/s' },
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    const c = await connect('fan-2');
    try {
      await c.publishAsync('iip/default/fan-2/telemetry', JSON.stringify({ waveform: [1, 31.5, 2] }), { qos: 1 });
    } finally {
      await c.endAsync();
    }
    const alarm = await waitFor(async () => {
      const r = await tp.api<{ items: Array<{ rule: string; device: string; open: boolean }> }>('GET', '/api/v1/alarms?open=true');
      return r.body.items.find((a) => a.rule === 'peak');
    }, 'the peak alarm', 5_000);
    assert.equal(alarm.device, 'fan-2');
  });
});
