/**
 * Device access over MQTT with real clients: Debian's mosquitto_pub and mqtt.js. Covers the issue's
 * "Done when": a valid credential stores a point that the history API returns; a wrong credential or
 * another device's topic is refused; every bad input gets its IIP_ERR_* code and stores nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run, waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let port: number;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform({ limits: { maxPayloadBytes: 4096 } });
  port = tp.platform.mqttPort;
  for (const id of ['dev1', 'dev2', 'dev3']) secrets[id] = await tp.createDevice(id);
});
after(async () => {
  await tp?.close();
});

async function history(device: string, prop: string): Promise<Array<{ ts: number; value: unknown }>> {
  const r = await tp.api<{ points: Array<{ ts: number; value: unknown }> }>(
    'GET',
    `/api/v1/devices/${device}/properties/${prop}/history?from=946684800000&to=${Date.now() + 600_000}`,
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.points;
}

function connect(device: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username: `default/${device}`, password: secret, reconnectPeriod: 0, connectTimeout: 5000 });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

/** Publishes on a device's telemetry topic and waits for the platform's answer on its errors topic. */
async function publishExpectError(c: MqttClient, device: string, payload: string | Buffer): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  const errTopic = `iip/default/${device}/errors`;
  const got = new Promise<{ code: string; message: string; details: Record<string, unknown> }>((resolve) => {
    const onMsg = (topic: string, msg: Buffer) => {
      if (topic !== errTopic) return;
      c.off('message', onMsg);
      resolve(JSON.parse(msg.toString()));
    };
    c.on('message', onMsg);
  });
  await c.publishAsync(`iip/default/${device}/telemetry`, payload, { qos: 1 });
  return got;
}

describe('mosquitto_pub (Debian mosquitto-clients)', () => {
  test('a valid device credential publishes a point that the history API returns', async () => {
    const ts = Date.now() - 1000;
    const r = await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-i', 'mp-dev1',
      '-u', 'default/dev1', '-P', secrets.dev1 as string,
      '-t', 'iip/default/dev1/telemetry',
      '-m', JSON.stringify({ ts, values: { temperature: 21.5, state: 'run' } }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pts = await waitFor(async () => {
      const p = await history('dev1', 'temperature');
      return p.length > 0 ? p : undefined;
    }, 'the point in the history API');
    assert.deepEqual(pts, [{ ts, value: 21.5 }]);
    const state = await history('dev1', 'state');
    assert.deepEqual(state, [{ ts, value: 'run' }]);
  });

  test('a wrong secret is refused at CONNECT and stores nothing', async () => {
    const before = tp.platform.mqtt.stats().authFailures;
    const r = await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-u', 'default/dev2', '-P', 'not-the-secret',
      '-t', 'iip/default/dev2/telemetry', '-m', '{"temperature": 99}',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not authori[sz]ed|bad user ?name or password|refused/i);
    assert.equal(tp.platform.mqtt.stats().authFailures, before + 1);
    assert.deepEqual(await history('dev2', 'temperature'), []);
  });

  test("publishing to another device's topic is refused and stores nothing", async () => {
    const before = tp.platform.mqtt.stats().aclDenials;
    await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-u', 'default/dev1', '-P', secrets.dev1 as string,
      '-t', 'iip/default/dev2/telemetry', '-m', '{"temperature": 66}',
    ]);
    await waitFor(() => tp.platform.mqtt.stats().aclDenials > before, 'the ACL denial to be counted');
    assert.deepEqual(await history('dev2', 'temperature'), []);
  });

  test('an unknown device is refused at CONNECT', async () => {
    const r = await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(port), '-u', 'default/ghost', '-P', 'whatever', '-t', 'iip/default/ghost/telemetry', '-m', '{"temperature": 1}',
    ]);
    assert.notEqual(r.code, 0);
  });
});

describe('mqtt.js device', () => {
  let c: MqttClient;
  before(async () => {
    c = await connect('dev3', secrets.dev3 as string);
    await c.subscribeAsync('iip/default/dev3/errors', { qos: 0 });
  });
  after(async () => {
    await c?.endAsync();
  });

  test('unknown device and wrong secret get CONNACK "bad username or password"', async () => {
    await assert.rejects(connect('nobody', 'x'), (e: Error & { code?: number }) => e.code === 4);
    await assert.rejects(connect('dev3', 'wrong'), (e: Error & { code?: number }) => e.code === 4);
  });

  test('subscribing outside its own subtree is refused (SUBACK 128) and the link stays up', async () => {
    // mqtt.js turns a SUBACK failure code into a rejection that carries the packet.
    const refused = (e: Error & { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] === 128;
    await assert.rejects(c.subscribeAsync('iip/default/dev1/#', { qos: 0 }), refused);
    await assert.rejects(c.subscribeAsync('iip/#', { qos: 0 }), refused);
    assert.ok(c.connected);
    const own = await c.subscribeAsync('iip/default/dev3/commands/#', { qos: 0 });
    assert.equal(own[0]?.qos, 0);
  });

  test('a batch of many timestamps is stored whole', async () => {
    const t0 = Date.now() - 60_000;
    const batch = [0, 1, 2, 3, 4].map((i) => ({ ts: t0 + i * 1000, values: { temperature: 20 + i, count: i } }));
    await c.publishAsync('iip/default/dev3/telemetry', JSON.stringify(batch), { qos: 1 });
    const pts = await waitFor(async () => {
      const p = await history('dev3', 'count');
      return p.length === 5 ? p : undefined;
    }, 'five stored points');
    assert.deepEqual(pts.map((p) => p.value), [0, 1, 2, 3, 4]);
  });

  const bad: Array<[string, string | Buffer, string, Record<string, unknown>?]> = [
    ['non-JSON', 'temperature=21', 'IIP_ERR_PAYLOAD_NOT_JSON'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'IIP_ERR_PAYLOAD_NOT_JSON'],
    ['oversize payload', JSON.stringify({ note: 'x'.repeat(5000) }), 'IIP_ERR_PAYLOAD_TOO_LARGE'],
    ['a timestamp far in the future', JSON.stringify({ ts: Date.now() + 86_400_000, values: { temperature: 20 } }), 'IIP_ERR_TELEMETRY_TS_FUTURE'],
    ['an unknown property', JSON.stringify({ pressure: 3 }), 'IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', { property: 'pressure' }],
    ['a value out of range', JSON.stringify({ temperature: 999 }), 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', { property: 'temperature', rule: 'range' }],
    ['a wrong type', JSON.stringify({ count: 'many' }), 'IIP_ERR_TELEMETRY_TYPE', { property: 'count' }],
    ['a value outside the enum', JSON.stringify({ state: 'exploded' }), 'IIP_ERR_TELEMETRY_ENUM', { property: 'state' }],
  ];
  for (const [what, payload, code, details] of bad) {
    test(`${what} → ${code} on .../errors, nothing stored`, async () => {
      const before = await history('dev3', 'temperature');
      const err = await publishExpectError(c, 'dev3', payload);
      assert.equal(err.code, code, err.message);
      for (const [k, v] of Object.entries(details ?? {})) assert.equal(err.details[k], v);
      assert.deepEqual(await history('dev3', 'temperature'), before, 'stored data unchanged');
      assert.ok(c.connected, 'the device stays connected');
    });
  }

  test('one bad point rejects the whole message (atomic) and earlier data is kept', async () => {
    const ts = Date.now() - 30_000;
    const before = await history('dev3', 'temperature');
    const err = await publishExpectError(
      c,
      'dev3',
      JSON.stringify([
        { ts, values: { temperature: 30, count: 10 } },
        { ts: ts + 1, values: { temperature: 31, count: -1 } },
      ]),
    );
    assert.equal(err.code, 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    assert.equal(err.details.property, 'count');
    // A later valid message proves the pipeline is flowing, so the absence of the bad one is real.
    await c.publishAsync('iip/default/dev3/telemetry', JSON.stringify({ ts: ts + 2, values: { temperature: 32 } }), { qos: 1 });
    const after = await waitFor(async () => {
      const p = await history('dev3', 'temperature');
      return p.length === before.length + 1 ? p : undefined;
    }, 'the valid follow-up point');
    assert.deepEqual(after.slice(0, before.length), before);
    assert.deepEqual(after.at(-1), { ts: ts + 2, value: 32 });
    assert.equal(after.some((p) => p.value === 30 || p.value === 31), false);
  });

  test('a device may not forge platform topics (errors, commands)', async () => {
    const errTopic = 'iip/default/dev3/errors';
    const got = new Promise<{ code: string }>((resolve) => {
      const onMsg = (topic: string, msg: Buffer) => {
        if (topic === errTopic) {
          c.off('message', onMsg);
          resolve(JSON.parse(msg.toString()));
        }
      };
      c.on('message', onMsg);
    });
    await c.publishAsync('iip/default/dev3/commands/reboot', '{"forged":true}', { qos: 1 });
    assert.equal((await got).code, 'IIP_ERR_ACL_DENIED');
  });
});
