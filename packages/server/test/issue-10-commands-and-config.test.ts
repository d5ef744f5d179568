/**
 * Issue 10 points 5 and 6 on the platform side, with a real mqtt.js client standing in for the gateway:
 * a gateway configuration is checked against what each driver supports when it is stored (400 naming the
 * point); every command carries an absolute expiry and the API says which of the four outcomes happened —
 * done, failed, expired (the gateway refused it unexecuted), unknown (no answer; a later one is audited);
 * and a channel the gateway reports as failed keeps the gateway out of sync.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let gw: MqttClient;
const commands: Array<{ id: string; body: Record<string, unknown>; at: number }> = [];
/** How the stand-in gateway answers the next commands: a result document, or null for no answer at all. */
const replies: Array<Record<string, unknown> | null> = [];

const channel = (points: unknown[]) => ({
  id: 'line-1',
  protocol: 'modbus-tcp',
  host: '127.0.0.1',
  port: 5020,
  devices: [{ id: 'plc-1', unitId: 1, pollIntervalMs: 1000, points }],
});
const GOOD = [
  { property: 'temperature', area: 'holding', address: 0, type: 'float32' },
  { property: 'count', area: 'holding', address: 2, type: 'uint64', wordOrder: 'LE' },
  { property: 'note', area: 'holding', address: 10, type: 'string', length: 16 },
];

before(async () => {
  tp = await startTestPlatform();
  const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await tp.createDevice('plc-1');
  gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/gw-1', password: r.body.secret, reconnectPeriod: 0, clientId: 'default/gw-1' });
  gw.on('message', (topic, payload) => {
    const m = /^iip\/default\/gw-1\/commands\/(.+)$/.exec(topic);
    if (!m) return;
    commands.push({ id: m[1]!, body: JSON.parse(payload.toString()) as Record<string, unknown>, at: Date.now() });
    const reply = replies.length > 0 ? replies.shift() : { ok: true };
    if (reply) void gw.publishAsync(`iip/default/gw-1/command-results/${m[1]}`, JSON.stringify(reply), { qos: 1 });
  });
  await gw.subscribeAsync('iip/default/gw-1/commands/+', { qos: 1 });
});
after(async () => {
  await gw?.endAsync();
  await tp?.close();
});

test('a config is checked against what the driver supports: an unsupported point type or option is refused 400 naming the point', async () => {
  type Refusal = { code: string; message: string; details: { path: string } };
  const cases: Array<[unknown, string]> = [
    [{ channels: [channel([GOOD[0], { property: 'count', area: 'holding', address: 2, type: 'int128' }])] }, 'channels[0].devices[0].points[1].type'],
    [{ channels: [channel([{ ...GOOD[0], wordOrder: 'middle' }])] }, 'channels[0].devices[0].points[0].wordOrder'],
    [{ channels: [channel([{ property: 'count', area: 'coil', address: 0, type: 'uint64' }])] }, 'channels[0].devices[0].points[0].type'],
    [{ channels: [channel([GOOD[0], { ...GOOD[1], address: 1 }])] }, 'channels[0].devices[0].points[1].address'],
    [{ channels: [{ ...channel(GOOD), port: 70000 }] }, 'channels[0].port'],
    [
      { channels: [{ id: 'ua', protocol: 'opcua', endpointUrl: 'opc.tcp://127.0.0.1:4840', securityMode: 'None', devices: [{ id: 'plc-1', points: [{ property: 'temperature', nodeId: 'not a node id' }] }] }] },
      'channels[0].devices[0].points[0]',
    ],
  ];
  for (const [config, path] of cases) {
    const r = await tp.api<Refusal>('PUT', '/api/v1/gateways/gw-1/config', config);
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'IIP_ERR_GATEWAY_CONFIG_INVALID');
    assert.equal(r.body.details.path, path);
    assert.ok(r.body.message.startsWith(`${path}: `), r.body.message);
  }
  const none = await tp.api<{ code: string }>('GET', '/api/v1/gateways/gw-1');
  assert.equal(none.status, 404, 'nothing was stored');
  const ok = await tp.api<{ version: number }>('PUT', '/api/v1/gateways/gw-1/config', { channels: [channel(GOOD)] });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.version, 1);
});

type CommandError = { code: string; message: string; details: { outcome: string; requestId: string; expiresAt: number; executed?: boolean; sent?: boolean; error?: { code: string } } };

test('a write says which outcome happened: done, failed, expired (not carried out) or unknown (may have happened)', async () => {
  replies.push({ ok: true });
  const t0 = Date.now();
  const done = await tp.api<{ ok: boolean; outcome: string; requestId: string }>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'one', timeoutMs: 5000 });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.deepEqual([done.body.outcome, done.body.requestId], ['done', commands.at(-1)?.id]);
  const expiresAt = commands.at(-1)?.body.expiresAt as number;
  assert.ok(expiresAt >= t0 + 5000 && expiresAt <= Date.now() + 5000, 'the command carries its absolute expiry, the API timeout asked for');

  // A caller may not ask for more than the platform's timeout (10 s by default).
  replies.push({ ok: true });
  await tp.api('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'cap', timeoutMs: 600_000 });
  const capped = commands.at(-1)!;
  assert.ok((capped.body.expiresAt as number) <= capped.at + 10_000, 'the expiry is never later than the API timeout');

  replies.push({ ok: false, error: { code: 'IIP_ERR_MODBUS_EXCEPTION', message: 'illegal data address', details: { exceptionCode: 2 } } });
  const failed = await tp.api<CommandError>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'two' });
  assert.equal(failed.status, 502);
  assert.deepEqual([failed.body.code, failed.body.details.outcome, failed.body.details.error?.code], ['IIP_ERR_COMMAND_FAILED', 'failed', 'IIP_ERR_MODBUS_EXCEPTION']);

  replies.push({ ok: false, error: { code: 'IIP_ERR_EDGE_COMMAND_EXPIRED', message: 'the command expired before it reached the device', details: {} } });
  const expired = await tp.api<CommandError>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'three' });
  assert.equal(expired.status, 504);
  assert.deepEqual([expired.body.code, expired.body.details.outcome, expired.body.details.executed], ['IIP_ERR_COMMAND_EXPIRED', 'expired', false]);

  replies.push(null); // the gateway says nothing before the expiry
  const unknown = await tp.api<CommandError>('POST', '/api/v1/devices/plc-1/properties/note/write', { value: 'four', timeoutMs: 300 });
  assert.equal(unknown.status, 504);
  assert.deepEqual([unknown.body.code, unknown.body.details.outcome, unknown.body.details.sent], ['IIP_ERR_COMMAND_TIMEOUT', 'unknown', true]);
  assert.match(unknown.body.message, /may or may not have been carried out/);
  assert.equal(unknown.body.details.requestId, commands.at(-1)?.id);

  // The answer comes after all: it is recorded against the same request, not dropped.
  await gw.publishAsync(`iip/default/gw-1/command-results/${unknown.body.details.requestId}`, JSON.stringify({ ok: true }), { qos: 1 });
  type Entry = { action: string; newValue: unknown; result: string; error: string | null; actor: string };
  const audit = await waitFor(async () => {
    const a = await tp.api<{ items: Entry[] }>('GET', '/api/v1/audit?device=plc-1');
    return a.body.items.some((e) => e.action === 'write.late-result') ? a.body.items : undefined;
  }, 'the late result in the audit log');
  assert.deepEqual(
    audit.filter((e) => e.action.startsWith('write')).map((e) => [e.action, e.newValue, e.result, e.error]),
    [
      ['write.late-result', 'four', 'ok', null],
      ['write', 'four', 'error', 'IIP_ERR_COMMAND_TIMEOUT'],
      ['write', 'three', 'error', 'IIP_ERR_COMMAND_EXPIRED'],
      ['write', 'two', 'error', 'IIP_ERR_MODBUS_EXCEPTION'],
      ['write', 'cap', 'ok', null],
      ['write', 'one', 'ok', null],
    ],
  );
  assert.ok(audit.every((e) => e.actor === 'admin'));
});

test('a channel the gateway could not start is shown failed, and the gateway is not in sync', async () => {
  const health = (state: string, error: unknown) => ({ channel: 'line-1', protocol: 'modbus-tcp', connected: false, devices: [], state, error });
  await gw.publishAsync(
    'iip/default/gw-1/state',
    JSON.stringify({ ts: Date.now(), appliedVersion: 1, channels: [health('failed', { code: 'IIP_ERR_DRIVER_CONFIG', message: 'devices[0].points[1].type: unsupported' })] }),
    { qos: 1 },
  );
  type Status = { inSync: boolean; sync: string; failedChannels: Array<{ channel: string; code: string; message: string }> };
  const s = await waitFor(async () => {
    const x = await tp.api<Status>('GET', '/api/v1/gateways/gw-1');
    return x.body.sync === 'applied-with-failures' ? x.body : undefined;
  }, 'applied with failures');
  assert.equal(s.inSync, false);
  assert.deepEqual(s.failedChannels, [{ channel: 'line-1', code: 'IIP_ERR_DRIVER_CONFIG', message: 'devices[0].points[1].type: unsupported' }]);
  const list = await tp.api<{ items: Array<{ gateway: string; failedChannels: number }> }>('GET', '/api/v1/gateways');
  assert.deepEqual(list.body.items.map((g) => [g.gateway, g.failedChannels]), [['gw-1', 1]]);

  await gw.publishAsync('iip/default/gw-1/state', JSON.stringify({ ts: Date.now(), appliedVersion: 1, channels: [{ ...health('running', null), connected: true }] }), { qos: 1 });
  const ok = await waitFor(async () => {
    const x = await tp.api<Status>('GET', '/api/v1/gateways/gw-1');
    return x.body.inSync ? x.body : undefined;
  }, 'in sync once the channel runs');
  assert.deepEqual([ok.sync, ok.failedChannels], ['in-sync', []]);
});
