/**
 * The platform side of the gateway protocol with a real MQTT client standing in for the gateway (the edge
 * gateway runtime has its own tests): config push (retained, versioned), child telemetry and its ACL,
 * reported state, and audited writes routed as commands.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let gw: MqttClient;
let gwSecret = '';
const inbox: Array<{ topic: string; body: Record<string, unknown> }> = [];

const CONFIG = {
  channels: [
    {
      id: 'line-1',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port: 5020,
      devices: [{ id: 'plc-1', unitId: 1, pollIntervalMs: 1000, points: [{ property: 'temperature', area: 'holding', address: 0, type: 'float32' }] }],
    },
  ],
  rules: [{ id: 'hot', device: 'plc-1', property: 'temperature', op: '>', threshold: 90, severity: 'alert' }],
};

before(async () => {
  tp = await startTestPlatform();
  const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await tp.createDevice('plc-1');
  await tp.createDevice('plc-2');
  gwSecret = r.body.secret;
  gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/gw-1', password: r.body.secret, reconnectPeriod: 0, clientId: 'default/gw-1' });
  gw.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) }));
  await gw.subscribeAsync('iip/default/gw-1/#', { qos: 1 });
});
after(async () => {
  await gw?.endAsync();
  await tp?.close();
});

test('a config is validated, versioned and pushed to the gateway', async () => {
  const bad = await tp.api<{ code: string; details: { path: string } }>('PUT', '/api/v1/gateways/gw-1/config', { channels: [{ ...CONFIG.channels[0], devices: [{ id: 'ghost', points: [{}] }] }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'IIP_ERR_GATEWAY_CONFIG_INVALID');
  assert.match(bad.body.details.path, /devices\[0\]\.id/);
  const r = await tp.api<{ version: number }>('PUT', '/api/v1/gateways/gw-1/config', CONFIG);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.version, 1);
  const pushed = await waitFor(() => inbox.find((m) => m.topic === 'iip/default/gw-1/config'), 'the pushed config');
  assert.equal(pushed.body.version, 1);
  assert.deepEqual(pushed.body.config, CONFIG);
});

test('the gateway reports state; the API shows applied version and sync', async () => {
  const before = await tp.api<{ inSync: boolean }>('GET', '/api/v1/gateways/gw-1');
  assert.equal(before.body.inSync, false);
  await gw.publishAsync('iip/default/gw-1/state', JSON.stringify({ ts: Date.now(), appliedVersion: 1, buffer: { points: 42 }, channels: [] }), { qos: 1 });
  const s = await waitFor(async () => {
    const x = await tp.api<{ inSync: boolean; online: boolean; reported: { state: { buffer: { points: number } } } }>('GET', '/api/v1/gateways/gw-1');
    return x.body.inSync ? x.body : undefined;
  }, 'in sync');
  assert.equal(s.reported.state.buffer.points, 42);
  assert.equal(s.online, true);
  const list = await tp.api<{ items: Array<{ gateway: string; appliedVersion: number }> }>('GET', '/api/v1/gateways');
  assert.deepEqual(list.body.items.map((g) => [g.gateway, g.appliedVersion]), [['gw-1', 1]]);
});

test('a state report is stored when it is acknowledged; a state that is not JSON is refused with its code', async () => {
  await gw.publishAsync('iip/default/gw-1/state', JSON.stringify({ ts: Date.now(), appliedVersion: 1, buffer: { points: 7 }, channels: [] }), { qos: 1 });
  // No waiting: the PUBACK came after the state was stored.
  const s = await tp.api<{ reported: { state: { buffer: { points: number } } } }>('GET', '/api/v1/gateways/gw-1');
  assert.equal(s.body.reported.state.buffer.points, 7);
  await gw.publishAsync('iip/default/gw-1/state', '{not json', { qos: 1 });
  const err = await waitFor(() => inbox.find((m) => m.topic === 'iip/default/gw-1/errors' && m.body.code === 'IIP_ERR_PAYLOAD_NOT_JSON'), 'the refusal on the errors topic');
  assert.match(String(err.body.message), /state is not JSON/);
  const after = await tp.api<{ reported: { state: { buffer: { points: number } } } }>('GET', '/api/v1/gateways/gw-1');
  assert.equal(after.body.reported.state.buffer.points, 7, 'the refused report changed nothing');
});

test("child telemetry through the gateway is stored; a device that is not its child is refused", async () => {
  const ts = Date.now() - 5000;
  await gw.publishAsync('iip/default/gw-1/devices/plc-1/telemetry', JSON.stringify([{ ts, values: { temperature: 55.5 } }]), { qos: 1 });
  await waitFor(async () => {
    const l = await tp.api<{ values: Record<string, { value: number }> }>('GET', '/api/v1/devices/plc-1/latest');
    return l.body.values.temperature?.value === 55.5;
  }, 'child point stored');
  await gw.publishAsync('iip/default/gw-1/devices/plc-2/telemetry', JSON.stringify([{ ts, values: { temperature: 1 } }]), { qos: 1 });
  const err = await waitFor(() => inbox.find((m) => m.topic === 'iip/default/gw-1/errors' && m.body.code === 'IIP_ERR_ACL_DENIED'), 'ACL error');
  assert.equal((err.body.details as { device: string }).device, 'plc-2');
  await gw.publishAsync('iip/default/gw-1/devices/plc-1/telemetry', JSON.stringify([{ ts: ts + 1, values: { temperature: 999 } }]), { qos: 1 });
  const rej = await waitFor(() => inbox.find((m) => m.topic === 'iip/default/gw-1/errors' && m.body.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE'), 'range error');
  assert.equal((rej.body.details as { device: string }).device, 'plc-1');
});

test('child telemetry from a gateway is committed before its PUBACK (the gateway deletes its buffer on it)', async () => {
  const h = tp.platform.historian;
  const base = Date.now() - 60_000;
  for (let round = 0; round < 5; round++) {
    const before = h.stats();
    const points = Array.from({ length: 50 }, (_, i) => ({ ts: base + round * 100 + i, values: { temperature: 20 + i / 10 } }));
    await gw.publishAsync('iip/default/gw-1/devices/plc-1/telemetry', JSON.stringify(points), { qos: 1 });
    // The historian's timer would flush 50 ms later; at PUBACK nothing may still be waiting.
    const after = h.stats();
    assert.equal(after.queued, 0, `round ${round}: nothing queued at PUBACK`);
    assert.equal(after.written - before.written, 50, `round ${round}: all 50 points committed at PUBACK`);
  }
  // A device's own QoS 1 telemetry keeps the batched path (acknowledged at admission, ADR 0001 §6).
});

test('a write goes to the gateway as a command, and every attempt is audited', async () => {
  // The stand-in gateway accepts the first command and refuses the second like a PLC would.
  let n = 0;
  gw.on('message', (topic, payload) => {
    const m = /^iip\/default\/gw-1\/commands\/(.+)$/.exec(topic);
    if (!m) return;
    const cmd = JSON.parse(payload.toString()) as { device: string; property: string; value: unknown };
    assert.deepEqual([cmd.device, cmd.property], ['plc-1', 'note']);
    n++;
    const reply = n === 1 ? { ok: true } : { ok: false, error: { code: 'IIP_ERR_MODBUS_EXCEPTION', message: 'illegal data address', details: { exceptionCode: 2 } } };
    void gw.publishAsync(`iip/default/gw-1/command-results/${m[1]}`, JSON.stringify(reply), { qos: 1 });
  });
  const ok = await tp.api<{ ok: boolean; newValue: string }>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'hello' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.newValue, 'hello');
  const failed = await tp.api<{ code: string; details: { error: { details: { exceptionCode: number } } } }>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'again' });
  assert.equal(failed.status, 502);
  assert.equal(failed.body.code, 'IIP_ERR_COMMAND_FAILED');
  assert.equal(failed.body.details.error.details.exceptionCode, 2);
  const ro = await tp.api<{ code: string }>('POST', '/api/v1/devices/plc-1/properties/temperature/write', { value: 1 });
  assert.equal(ro.body.code, 'IIP_ERR_PROPERTY_READ_ONLY');
  const tooLong = await tp.api<{ code: string }>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'x'.repeat(40) });
  assert.equal(tooLong.body.code, 'IIP_ERR_TELEMETRY_STRING_TOO_LONG');
  const noRoute = await tp.api<{ code: string }>('POST', '/api/v1/devices/plc-2/properties/note/write', { value: 'x' });
  assert.equal(noRoute.body.code, 'IIP_ERR_WRITE_NO_ROUTE');
  const audit = await tp.api<{ items: Array<{ actor: string; action: string; property: string; newValue: unknown; result: string; error: string | null }> }>('GET', '/api/v1/audit?device=plc-1');
  const writes = audit.body.items.filter((e) => e.action === 'write');
  assert.deepEqual(writes.map((e) => [e.newValue, e.result, e.error]), [
    ['again', 'error', 'IIP_ERR_MODBUS_EXCEPTION'],
    ['hello', 'ok', null],
  ]);
  assert.equal(writes[0]?.actor, 'admin');
});

test('a gateway that reconnects gets its latest config', async () => {
  await gw.endAsync();
  const r = await tp.api<{ version: number }>('PUT', '/api/v1/gateways/gw-1/config', { ...CONFIG, rules: [] });
  assert.equal(r.body.version, 2);
  const got: Array<{ version: number }> = [];
  gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/gw-1', password: gwSecret, reconnectPeriod: 0, clientId: 'default/gw-1' });
  gw.on('message', (topic, payload) => {
    if (topic === 'iip/default/gw-1/config') got.push(JSON.parse(payload.toString()));
  });
  await gw.subscribeAsync('iip/default/gw-1/config', { qos: 1 });
  await waitFor(() => got.some((c) => c.version === 2), 'config version 2 after reconnect');
  assert.equal(got.some((c) => c.version === 1), false, 'the superseded version is not delivered');
});
