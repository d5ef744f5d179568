/**
 * Thing-model services of devices behind an edge gateway: the gateway configuration binds a service to
 * point writes, the platform checks the binding against the thing model when the configuration is stored,
 * checks a call's inputs, resolves the writes and sends them as one command; a real MQTT client stands in for
 * the gateway. Every call is audited with its inputs and writes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ThingModel } from '@iip/core';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

const PUMP: ThingModel = {
  properties: [
    { id: 'speed', dataType: { type: 'float', min: 0, max: 3000, unit: 'rpm' }, access: 'rw' },
    { id: 'run', dataType: { type: 'bool' }, access: 'rw' },
    { id: 'flow', dataType: { type: 'float', min: 0, max: 500 }, access: 'r' },
  ],
  events: [],
  services: [
    { id: 'start', inputs: [{ id: 'rpm', dataType: { type: 'float', min: 100, max: 2500 }, required: true }], outputs: [] },
    { id: 'stop', inputs: [], outputs: [] },
    { id: 'flush', inputs: [{ id: 'seconds', dataType: { type: 'int', min: 1, max: 60 } }], outputs: [] },
  ],
};

const CHANNEL = {
  id: 'line-1',
  protocol: 'modbus-tcp',
  host: '127.0.0.1',
  port: 5020,
  devices: [
    {
      id: 'pump-1',
      unitId: 1,
      pollIntervalMs: 1000,
      points: [
        { property: 'speed', area: 'holding', address: 0, type: 'float32' },
        { property: 'run', area: 'coil', address: 0, type: 'bool' },
        { property: 'flow', area: 'input', address: 0, type: 'float32' },
      ],
    },
  ],
};

const SERVICES = [
  {
    device: 'pump-1',
    service: 'start',
    writes: [
      { property: 'speed', input: 'rpm' },
      { property: 'run', value: true },
    ],
  },
  { device: 'pump-1', service: 'stop', writes: [{ property: 'run', value: false }] },
];

let tp: TestPlatform;
let gw: MqttClient;
const commands: Array<{ id: string; body: Record<string, unknown> }> = [];
/** What the stand-in gateway answers to the next commands (default ok). */
const replies: unknown[] = [];

before(async () => {
  tp = await startTestPlatform();
  assert.equal((await tp.api('POST', '/api/v1/products', { id: 'pump', name: 'Pump', model: PUMP })).status, 201);
  const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-s', product: 'iip-edge-gateway' });
  assert.equal(r.status, 201);
  assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'pump-1', product: 'pump' })).status, 201);
  gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/gw-s', password: r.body.secret, reconnectPeriod: 0, clientId: 'default/gw-s' });
  gw.on('message', (topic, payload) => {
    const m = /^iip\/default\/gw-s\/commands\/(.+)$/.exec(topic);
    if (!m) return;
    commands.push({ id: m[1] as string, body: JSON.parse(payload.toString()) as Record<string, unknown> });
    const reply = replies.shift() ?? { ok: true };
    void gw.publishAsync(`iip/default/gw-s/command-results/${m[1]}`, JSON.stringify(reply), { qos: 1 });
  });
  await gw.subscribeAsync('iip/default/gw-s/#', { qos: 1 });
});
after(async () => {
  await gw?.endAsync();
  await tp?.close();
});

test('a binding is checked against the thing model when the configuration is stored', async () => {
  const put = (services: unknown) => tp.api<{ code: string; details: { path: string }; message: string }>('PUT', '/api/v1/gateways/gw-s/config', { channels: [CHANNEL], services });
  const cases: Array<[unknown, string, RegExp]> = [
    [[{ device: 'pump-1', service: 'explode', writes: [{ property: 'run', value: true }] }], 'services[0].service', /not a service/],
    [[{ device: 'pump-9', service: 'stop', writes: [{ property: 'run', value: false }] }], 'services[0].device', /not in any channel/],
    [[{ device: 'pump-1', service: 'stop', writes: [{ property: 'flow', value: 1 }] }], 'services[0].writes[0].property', /not a writable/],
    [[{ device: 'pump-1', service: 'stop', writes: [{ property: 'torque', value: 1 }] }], 'services[0].writes[0].property', /not a point of pump-1/],
    [[{ device: 'pump-1', service: 'start', writes: [{ property: 'speed', input: 'rpm', value: 5 }] }], 'services[0].writes[0]', /exactly one/],
    [[{ device: 'pump-1', service: 'start', writes: [{ property: 'speed', input: 'torque' }] }], 'services[0].writes[0].input', /not an input/],
    [[{ device: 'pump-1', service: 'stop', writes: [{ property: 'speed', value: 9000 }] }], 'services[0].writes[0].value', /9000/],
    [[SERVICES[1], SERVICES[1]], 'services[1].service', /bound twice/],
  ];
  for (const [services, path, message] of cases) {
    const r = await put(services);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, 'IIP_ERR_GATEWAY_CONFIG_INVALID');
    assert.equal(r.body.details.path, path);
    assert.match(r.body.message, message);
  }
  const ok = await put(SERVICES);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test('a call becomes the bound writes, with the input in place; the result and the audit say what was done', async () => {
  const r = await tp.api<{ ok: boolean; writes: unknown }>('POST', '/api/v1/devices/pump-1/services/start', { inputs: { rpm: 1500 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const expected = [
    { property: 'speed', value: 1500 },
    { property: 'run', value: true },
  ];
  assert.deepEqual(r.body.writes, expected);
  assert.deepEqual(commands.at(-1)?.body, { type: 'writes', device: 'pump-1', service: 'start', writes: expected, expiresAt: commands.at(-1)?.body.expiresAt });
  assert.equal(typeof commands.at(-1)?.body.expiresAt, 'number', 'the command carries its expiry');
  const stop = await tp.api('POST', '/api/v1/devices/pump-1/services/stop', {});
  assert.equal(stop.status, 200, JSON.stringify(stop.body));
  assert.deepEqual(commands.at(-1)?.body.writes, [{ property: 'run', value: false }]);
  const audit = await tp.api<{ items: Array<{ action: string; property: string; newValue: unknown; result: string }> }>('GET', '/api/v1/audit?device=pump-1');
  const calls = audit.body.items.filter((i) => i.action === 'service');
  assert.deepEqual(
    calls.map((c) => [c.property, c.result]),
    [
      ['stop', 'ok'],
      ['start', 'ok'],
    ],
  );
  assert.deepEqual(calls[1]?.newValue, { inputs: { rpm: 1500 }, writes: expected });
});

test('bad calls are refused before anything is sent, naming the input; a failed step comes back as the gateway said', async () => {
  const sent = commands.length;
  const call = (service: string, body: unknown) => tp.api<{ code: string; details: { input?: string }; message: string }>('POST', `/api/v1/devices/pump-1/services/${service}`, body);
  const outOfRange = await call('start', { inputs: { rpm: 5000 } });
  assert.equal(outOfRange.status, 400);
  assert.equal(outOfRange.body.code, 'IIP_ERR_SERVICE_INPUT_INVALID');
  assert.equal(outOfRange.body.details.input, 'rpm');
  const missing = await call('start', {});
  assert.equal(missing.body.code, 'IIP_ERR_SERVICE_INPUT_INVALID');
  assert.match(missing.body.message, /"rpm".*required/);
  const unknownInput = await call('stop', { inputs: { force: true } });
  assert.equal(unknownInput.body.details.input, 'force');
  const unknownService = await call('explode', {});
  assert.equal(unknownService.status, 404);
  assert.equal(unknownService.body.code, 'IIP_ERR_SERVICE_UNKNOWN');
  const unbound = await call('flush', { inputs: { seconds: 5 } });
  assert.equal(unbound.status, 409);
  assert.equal(unbound.body.code, 'IIP_ERR_SERVICE_NOT_BOUND');
  assert.equal(commands.length, sent, 'nothing reached the gateway');

  replies.push({ ok: false, error: { code: 'IIP_ERR_MODBUS_EXCEPTION', message: 'step 2 of 2 (run ← true) failed: illegal data address', details: { step: 1, done: 1, exceptionCode: 2 } } });
  const failed = await tp.api<{ code: string; details: { error: { details: { step: number } } } }>('POST', '/api/v1/devices/pump-1/services/start', { inputs: { rpm: 200 } });
  assert.equal(failed.status, 502);
  assert.equal(failed.body.code, 'IIP_ERR_COMMAND_FAILED');
  assert.equal(failed.body.details.error.details.step, 1);
  const audit = await tp.api<{ items: Array<{ action: string; result: string; error: string | null }> }>('GET', '/api/v1/audit?device=pump-1');
  const last = audit.body.items.filter((i) => i.action === 'service');
  assert.deepEqual([last[0]?.result, last[0]?.error], ['error', 'IIP_ERR_MODBUS_EXCEPTION']);
  assert.ok(last.some((i) => i.error === 'IIP_ERR_SERVICE_NOT_BOUND'), 'refusals are audited too');
});

test('which services can be invoked: bound, not bound, or the device is behind no gateway', async () => {
  const r = await tp.api<{ gateway: string | null; items: Array<{ id: string; state: string }> }>('GET', '/api/v1/devices/pump-1/services');
  assert.equal(r.status, 200);
  assert.equal(r.body.gateway, 'gw-s');
  assert.deepEqual(
    r.body.items.map((i) => [i.id, i.state]),
    [
      ['start', 'bound'],
      ['stop', 'bound'],
      ['flush', 'not-bound'],
    ],
  );
  assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'pump-2', product: 'pump' })).status, 201);
  const alone = await tp.api<{ gateway: string | null; items: Array<{ state: string }> }>('GET', '/api/v1/devices/pump-2/services');
  assert.equal(alone.body.gateway, null);
  assert.ok(alone.body.items.every((i) => i.state === 'no-gateway'));
  const call = await tp.api<{ code: string }>('POST', '/api/v1/devices/pump-2/services/stop', {});
  assert.equal(call.body.code, 'IIP_ERR_WRITE_NO_ROUTE');
});
