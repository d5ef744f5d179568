/**
 * Issue 10, points 1, 7 and 9 — the MQTT front door against outside peers (mqtt.js, Debian's mosquitto_pub and
 * mosquitto_sub, and MQTT packets written byte by byte from the 3.1.1 standard):
 *  1. a client id belongs to the device that authenticates: another device's id is refused (CONNACK 0x02)
 *     and the owner stays connected; nobody but a gateway gets the gateway's queued commands;
 *  7. ill-formed UTF-8 topics close the connection, an unsupported protocol level gets CONNACK 0x01, a will
 *     with QoS 3 closes the connection and is never published; fuzzed CONNECT/PUBLISH never stop the broker;
 *  9. errors of a rejected message reach every connection of that device subscribed to its errors topic.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { run, waitFor } from '@iip/testkit';
import fc from 'fast-check';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let port: number;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform();
  port = tp.platform.mqttPort;
  for (const id of ['m1', 'm2', 'e1', 'e2', 'raw', 'plc-h']) secrets[id] = await tp.createDevice(id);
  const gw = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-h', product: 'iip-edge-gateway' });
  assert.equal(gw.status, 201, JSON.stringify(gw.body));
  secrets['gw-h'] = gw.body.secret;
});
after(async () => {
  await tp?.close();
});

function connect(device: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username: `default/${device}`, password: secrets[device], reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

async function history(device: string, prop: string): Promise<Array<{ ts: number; value: unknown }>> {
  const r = await tp.api<{ points: Array<{ ts: number; value: unknown }> }>('GET', `/api/v1/devices/${device}/properties/${prop}/history?from=946684800000&to=${Date.now() + 600_000}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.points;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('point 1: a client id belongs to the device that authenticates', () => {
  test("m1 presenting m2's client id is refused with CONNACK 0x02, and m2 stays connected", async () => {
    const m2 = await connect('m2', { clientId: 'default/m2' });
    let m2Closed = false;
    m2.on('close', () => {
      m2Closed = true;
    });
    const refusals = tp.platform.mqtt.stats().clientIdRefusals;
    await assert.rejects(connect('m1', { clientId: 'default/m2' }), (e: Error & { code?: number }) => e.code === 2);
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-i', 'default/m2', '-u', 'default/m1', '-P', secrets.m1 as string, '-t', 'iip/default/m1/telemetry', '-m', '{"count":1}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /identifier rejected/i);
    assert.equal(tp.platform.mqtt.stats().clientIdRefusals, refusals + 2);
    await sleep(300);
    assert.equal(m2Closed, false, 'the owner of the id keeps its connection');
    assert.ok(m2.connected);
    await m2.endAsync();
  });

  test('a free-form id is scoped to its device: two devices using the same id both stay connected', async () => {
    const a = await connect('m1', { clientId: 'sensor' });
    const b = await connect('m2', { clientId: 'sensor' });
    let aClosed = false;
    a.on('close', () => {
      aClosed = true;
    });
    await sleep(300);
    assert.equal(aClosed, false, "m2's connection did not take over m1's session");
    assert.ok(a.connected && b.connected);
    await a.endAsync();
    await b.endAsync();
  });

  test('the same device reconnecting with its own id takes its session over (MQTT 3.1.1 §3.1.4-2)', async () => {
    const first = await connect('m1', { clientId: 'default/m1/line' });
    const closed = new Promise<void>((r) => first.once('close', () => r()));
    const second = await connect('m1', { clientId: 'default/m1/line' });
    await closed;
    assert.ok(second.connected);
    await second.endAsync();
    first.end(true);
  });

  test("a device using a gateway's client id with clean session off gets nothing of the gateway's; the gateway gets its command", async () => {
    const config = {
      channels: [
        {
          id: 'line-h',
          protocol: 'modbus-tcp',
          host: '127.0.0.1',
          port: 5020,
          devices: [{ id: 'plc-h', unitId: 1, pollIntervalMs: 1000, points: [{ property: 'temperature', area: 'holding', address: 0, type: 'float32' }] }],
        },
      ],
    };
    const put = await tp.api('PUT', '/api/v1/gateways/gw-h/config', config);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    // The gateway keeps a persistent session and goes offline.
    const gw = await connect('gw-h', { clientId: 'default/gw-h', clean: false });
    await gw.subscribeAsync('iip/default/gw-h/#', { qos: 1 });
    await gw.endAsync();
    // A write is queued in the gateway's session while it is offline.
    const write = tp.api<{ ok?: boolean; code?: string }>('POST', '/api/v1/devices/plc-h/properties/note/write', { value: 'only-for-gw' });
    await sleep(300);
    // m1 tries the gateway's session id (mqtt.js and mosquitto_sub): refused before anything is delivered.
    await assert.rejects(connect('m1', { clientId: 'default/gw-h', clean: false }), (e: Error & { code?: number }) => e.code === 2);
    const sub = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', 'default/gw-h', '-c', '-q', '1', '-u', 'default/m1', '-P', secrets.m1 as string, '-t', 'iip/default/m1/#', '-v', '-W', '2']);
    assert.doesNotMatch(sub.stdout, /only-for-gw|5020|gw-h/, 'nothing of the gateway reached m1');
    assert.match(sub.stderr, /identifier rejected/i);
    // m1 with a bare id of the same name gets a session of its own: nothing queued, nothing of the gateway.
    const got: string[] = [];
    const m1 = await connect('m1', { clientId: 'gw-h', clean: false });
    m1.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    await m1.subscribeAsync('iip/default/m1/#', { qos: 1 });
    await sleep(300);
    assert.deepEqual(got, []);
    await m1.endAsync();
    // The gateway comes back to its session and gets the queued command.
    const gw2 = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'default/gw-h', password: secrets['gw-h'], clientId: 'default/gw-h', clean: false, reconnectPeriod: 0 });
    gw2.on('message', (topic, payload) => {
      const m = /^iip\/default\/gw-h\/commands\/(.+)$/.exec(topic);
      if (!m) return;
      const cmd = JSON.parse(payload.toString()) as { value: unknown };
      assert.equal(cmd.value, 'only-for-gw');
      void gw2.publishAsync(`iip/default/gw-h/command-results/${m[1]}`, JSON.stringify({ ok: true }), { qos: 1 });
    });
    const res = await write;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await gw2.endAsync();
  });
});

// ---- Raw MQTT 3.1.1 packets, encoded by hand from the standard (§2.2, §3.1, §3.3) ----

function utf8Field(s: string | Uint8Array): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function frame(typeAndFlags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([typeAndFlags]), remainingLength(body.length), body]);
}

interface RawConnect {
  name?: string;
  level?: number;
  clientId?: string;
  clean?: boolean;
  will?: { topic: string | Uint8Array; message: string; qos: number; retain?: boolean };
  device?: string;
}

function connectPacket(o: RawConnect): Buffer {
  const device = o.device ?? 'raw';
  let flags = 0x80 | 0x40; // user name and password
  if (o.clean ?? true) flags |= 0x02;
  if (o.will) flags |= 0x04 | (o.will.qos << 3) | (o.will.retain ? 0x20 : 0);
  const parts = [utf8Field(o.name ?? 'MQTT'), Buffer.from([o.level ?? 4, flags, 0x00, 0x3c]), utf8Field(o.clientId ?? `default/${device}`)];
  if (o.will) parts.push(utf8Field(o.will.topic), utf8Field(o.will.message));
  parts.push(utf8Field(`default/${device}`), utf8Field(secrets[device] as string));
  return frame(0x10, Buffer.concat(parts));
}

function publishPacket(topic: string | Uint8Array, payload: string, qos = 0): Buffer {
  const id = qos > 0 ? Buffer.from([0x00, 0x01]) : Buffer.alloc(0);
  return frame(0x30 | (qos << 1), Buffer.concat([utf8Field(topic), id, Buffer.from(payload)]));
}

/** Writes packets to a fresh TCP connection; collects what the broker sends until it closes the connection or `ms` pass. */
function rawExchange(packets: Buffer[], ms = 1500, gapMs = 100): Promise<{ received: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = tcpConnect(port, '127.0.0.1');
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ received: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on('data', (d) => chunks.push(d));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', async () => {
      for (const p of packets) {
        if (s.destroyed) return;
        s.write(p);
        await sleep(gapMs);
      }
    });
  });
}

const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** A fresh mqtt.js connection publishes and its point is stored: the broker keeps serving. */
async function brokerServes(value: number): Promise<void> {
  const c = await connect('raw', { clientId: 'default/raw/probe' });
  await c.publishAsync('iip/default/raw/telemetry', JSON.stringify({ ts: Date.now() - 1000, values: { count: value } }), { qos: 1 });
  await c.endAsync();
  await waitFor(async () => (await history('raw', 'count')).some((p) => p.value === value), `count ${value} stored`);
}

describe('point 7: MQTT 3.1.1 conformance on raw packets', () => {
  test('a well-formed CONNECT and PUBLISH written by hand are accepted and stored (the encoder is right)', async () => {
    const r = await rawExchange([connectPacket({}), publishPacket('iip/default/raw/telemetry', JSON.stringify({ ts: Date.now() - 2000, values: { count: 11 } }), 1)]);
    assert.deepEqual(r.received.subarray(0, 4), CONNACK_OK);
    assert.deepEqual(r.received.subarray(4, 8), Buffer.from([0x40, 0x02, 0x00, 0x01]), 'PUBACK for packet id 1');
    await waitFor(async () => (await history('raw', 'count')).some((p) => p.value === 11), 'count 11 stored');
  });

  const badTopics: Array<[string, Uint8Array]> = [
    ['a lone continuation byte', Buffer.concat([Buffer.from('iip/default/raw/'), Buffer.from([0x80]), Buffer.from('telemetry')])],
    ['0xFF', Buffer.concat([Buffer.from('iip/default/raw/tele'), Buffer.from([0xff]), Buffer.from('metry')])],
    ['a UTF-16 surrogate (ED A0 80)', Buffer.concat([Buffer.from('iip/default/raw/'), Buffer.from([0xed, 0xa0, 0x80])])],
    ['an overlong "/" (C0 AF)', Buffer.concat([Buffer.from('iip/default/raw'), Buffer.from([0xc0, 0xaf]), Buffer.from('telemetry')])],
    ['U+0000', Buffer.concat([Buffer.from('iip/default/raw/telemetry'), Buffer.from([0x00])])],
  ];
  for (const [what, topic] of badTopics) {
    test(`a PUBLISH topic with ${what} closes the connection (§1.5.3, §4.7.3)`, async () => {
      const before = tp.platform.mqtt.stats().protocolViolations;
      const r = await rawExchange([connectPacket({}), publishPacket(topic, '{"count":5}', 1)]);
      assert.deepEqual(r.received.subarray(0, 4), CONNACK_OK);
      assert.equal(r.received.length, 4, 'no PUBACK');
      assert.equal(r.closed, true, 'the broker closed the connection');
      assert.equal(tp.platform.mqtt.stats().protocolViolations, before + 1);
    });
  }

  for (const level of [0, 2, 6, 127]) {
    test(`protocol level ${level} gets CONNACK 0x01 and the connection is closed (§3.1.2.2)`, async () => {
      const r = await rawExchange([connectPacket({ level })]);
      assert.deepEqual(r.received, Buffer.from([0x20, 0x02, 0x00, 0x01]));
      assert.equal(r.closed, true);
    });
  }

  test('MQTT 3.1 (MQIsdp, level 3) still connects', async () => {
    const r = await rawExchange([connectPacket({ name: 'MQIsdp', level: 3 })], 500);
    assert.deepEqual(r.received, CONNACK_OK);
  });

  test('an empty client id with clean session off gets CONNACK 0x02 (§3.1.3-8); with clean session it connects', async () => {
    const refused = await rawExchange([connectPacket({ clientId: '', clean: false })]);
    assert.deepEqual(refused.received, Buffer.from([0x20, 0x02, 0x00, 0x02]));
    assert.equal(refused.closed, true);
    const ok = await rawExchange([connectPacket({ clientId: '', clean: true })], 500);
    assert.deepEqual(ok.received, CONNACK_OK);
  });

  test('a will with QoS 3 closes the connection at CONNECT and is never published (§3.1.2.6)', async () => {
    const r = await rawExchange([connectPacket({ will: { topic: 'iip/default/raw/telemetry', message: JSON.stringify({ count: 777 }), qos: 3 } })]);
    assert.equal(r.received.length, 0, 'no CONNACK');
    assert.equal(r.closed, true);
    await brokerServes(778); // a later point is stored, so the will's absence is real
    assert.equal((await history('raw', 'count')).some((p) => p.value === 777), false, 'the will was not published');
  });

  test('a will topic with ill-formed UTF-8 closes the connection at CONNECT', async () => {
    const r = await rawExchange([connectPacket({ will: { topic: Buffer.from([0x69, 0x69, 0x70, 0xfe]), message: 'x', qos: 0 } })]);
    assert.equal(r.received.length, 0);
    assert.equal(r.closed, true);
  });

  test('fuzzed CONNECT and PUBLISH packets never stop the broker', async () => {
    const good = Buffer.concat([connectPacket({ clientId: 'default/raw/fuzz' }), publishPacket('iip/default/raw/telemetry', '{"count":3}', 1)]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          // a valid exchange with a few bytes flipped, cut or inserted
          fc.record({ at: fc.nat({ max: good.length - 1 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }), cut: fc.boolean() }).map(({ at, bytes, cut }) =>
            Buffer.concat([good.subarray(0, at), Buffer.from(bytes), good.subarray(cut ? Math.min(good.length, at + bytes.length) : at)]),
          ),
          // hand-shaped CONNECTs with random levels, flags and strings
          fc
            .record({ level: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), id: fc.uint8Array({ maxLength: 12 }), tail: fc.uint8Array({ maxLength: 40 }) })
            .map(({ level, flags, id, tail }) => frame(0x10, Buffer.concat([utf8Field('MQTT'), Buffer.from([level, flags, 0, 10]), utf8Field(id), Buffer.from(tail)]))),
          // a valid CONNECT followed by PUBLISHes with random flags and topic bytes
          fc
            .record({ flags: fc.integer({ min: 0, max: 15 }), topic: fc.uint8Array({ maxLength: 30 }), payload: fc.uint8Array({ maxLength: 30 }) })
            .map(({ flags, topic, payload }) => Buffer.concat([connectPacket({ clientId: 'default/raw/fuzz' }), frame(0x30 | flags, Buffer.concat([utf8Field(topic), Buffer.from([0, 1]), Buffer.from(payload)]))])),
          // arbitrary bytes
          fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => Buffer.from(b)),
        ),
        async (bytes) => {
          await rawExchange([bytes], 150, 0);
        },
      ),
      { numRuns: 150 },
    );
    await brokerServes(4242);
  });
});

/** Starts mosquitto_sub and resolves once it has its SUBACK (-d prints it; stdbuf makes its stdout line-buffered). */
function mosquittoSub(device: string, topic: string, count: number): Promise<{ child: ChildProcess; lines: Promise<string[]> }> {
  return new Promise((resolve, reject) => {
    const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', '-h', '127.0.0.1', '-p', String(port), '-u', `default/${device}`, '-P', secrets[device] as string, '-i', `default/${device}/sub`, '-t', topic, '-C', String(count), '-W', '10']);
    let out = '';
    let err = '';
    const lines = new Promise<string[]>((res) => child.on('exit', () => res(out.split('\n').filter((l) => l.startsWith('{')))));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/received SUBACK/.test(out)) resolve({ child, lines });
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`mosquitto_sub exited ${code} before SUBACK: ${err}`)));
  });
}

describe('point 9: errors reach every subscriber of the device', () => {
  test("another connection of the same device (mosquitto_sub) gets the error of mosquitto_pub's rejected message", async () => {
    const sub = await mosquittoSub('e1', 'iip/default/e1/errors', 1);
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-i', 'default/e1/pub', '-u', 'default/e1', '-P', secrets.e1 as string, '-t', 'iip/default/e1/telemetry', '-m', '{"count":"many"}']);
    assert.equal(r.code, 0, r.stderr);
    const lines = await sub.lines;
    assert.equal(lines.length, 1, 'one error message');
    const err = JSON.parse(lines[0] as string) as { code: string; details: { property: string } };
    assert.equal(err.code, 'IIP_ERR_TELEMETRY_TYPE');
    assert.equal(err.details.property, 'count');
  });

  test('mqtt.js: a second connection of the device receives the error; another device subscribed to its own errors gets nothing', async () => {
    const publisher = await connect('e1', { clientId: 'default/e1/one' });
    const watcher = await connect('e1', { clientId: 'default/e1/two' });
    const other = await connect('e2', { clientId: 'default/e2/watch' });
    const seen: Record<string, string[]> = { watcher: [], other: [] };
    watcher.on('message', (t, p) => seen.watcher?.push(`${t} ${p}`));
    other.on('message', (t, p) => seen.other?.push(`${t} ${p}`));
    await watcher.subscribeAsync('iip/default/e1/errors', { qos: 1 });
    await other.subscribeAsync('iip/default/e2/errors', { qos: 1 });
    await publisher.publishAsync('iip/default/e1/telemetry', JSON.stringify({ temperature: 999 }), { qos: 1 });
    await waitFor(() => seen.watcher?.length === 1, 'the error at the second connection');
    assert.match(seen.watcher?.[0] as string, /^iip\/default\/e1\/errors .*IIP_ERR_TELEMETRY_OUT_OF_RANGE/);
    await sleep(300);
    assert.deepEqual(seen.other, [], "another device hears nothing of e1's errors");
    await Promise.all([publisher.endAsync(), watcher.endAsync(), other.endAsync()]);
  });
});
