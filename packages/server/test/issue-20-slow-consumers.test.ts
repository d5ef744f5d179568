/**
 * Issue 20, point 4, on the running platform: a slow consumer cannot grow its memory without bound.
 * - A device subscribed to its own commands topic (what an edge gateway does) stops reading its socket while
 *   the platform sends it 200 MB of commands: the front door's own accounting for that connection stays under
 *   its caps, the drops are counted, process memory stays flat, and the client is disconnected after the grace
 *   period, logged with its client id.
 * - An MQTT 5 client that publishes past the receive maximum (set through IIP_MQTT_RECEIVE_MAXIMUM) gets
 *   DISCONNECT 0x93.
 * - A live-stream WebSocket that does not read is told it lagged once it catches up, and closed when it stays
 *   behind.
 * The memory figures are the process's own after a garbage collection (v8's gc, exposed for this file).
 */
import assert from 'node:assert/strict';
import { type Socket, connect as tcpConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ThingModel } from '@iip/core';
import { type Platform, startPlatform } from '@iip/server';
import { tempDir, waitFor } from '@iip/testkit';
import mqttPacket, { type Packet } from 'mqtt-packet';
import WebSocket from 'ws';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MB = 1024 * 1024;
const WRITE_CAP = 256 * 1024;
const GRACE_MS = 1500;
const LIVE_CAP = 64 * 1024;
const LIVE_LAG_MS = 3000;

const BLOB_MODEL: ThingModel = {
  properties: Array.from({ length: 32 }, (_, i) => ({ id: `s${i}`, dataType: { type: 'string' as const, maxLength: 1024 }, access: 'r' as const })),
  events: [],
  services: [],
};

let platform: Platform;
let cleanup: () => Promise<void>;
let token = '';
const logged: string[] = [];

async function api<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(platform.httpUrl + path, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function device(id: string, product: string): Promise<string> {
  const r = await api<{ secret: string }>('POST', '/api/v1/devices', { id, product });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.secret;
}

before(async () => {
  const dir = await tempDir('iip-issue-20-');
  // The receive maximum comes from the environment, as an operator would set it; the rest from options.
  process.env.IIP_MQTT_RECEIVE_MAXIMUM = '8';
  try {
    platform = await startPlatform({
      dataDir: dir.path,
      httpPort: 0,
      mqttPort: 0,
      adminPassword: 'correct-horse-battery-staple',
      consoleDir: '/nonexistent',
      mqttLimits: { maxWriteBufferBytes: WRITE_CAP, slowConsumerGraceMs: GRACE_MS },
      liveStream: { maxBufferedBytes: LIVE_CAP, maxLagMs: LIVE_LAG_MS, intervalMs: 50 },
      log: (line) => logged.push(line),
    });
  } finally {
    delete process.env.IIP_MQTT_RECEIVE_MAXIMUM;
  }
  cleanup = async () => {
    await platform.close();
    await dir.cleanup();
  };
  const login = await api<{ token: string }>('POST', '/api/v1/auth/login', { username: 'admin', password: 'correct-horse-battery-staple' });
  token = login.body.token;
  for (const [id, model] of [
    ['sensor', { properties: [{ id: 'temperature', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] }],
    ['blob', BLOB_MODEL],
  ] as const) {
    const r = await api('POST', '/api/v1/products', { id, name: id, model });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});
after(async () => {
  await cleanup?.();
});

interface Raw {
  readonly sock: Socket;
  readonly packets: Packet[];
  readonly closed: Promise<void>;
  send(p: Packet): void;
}

/** A device on a raw TCP connection speaking MQTT 5 through mqtt-packet: it can stop reading at will. */
async function rawDevice(id: string, secret: string): Promise<Raw> {
  const sock = tcpConnect(platform.mqttPort, '127.0.0.1');
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  sock.on('data', (b: Buffer) => parser.parse(b));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const send = (p: Packet) => sock.write(mqttPacket.generate(p, { protocolVersion: 5 }));
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: `default/${id}`, keepalive: 0, username: `default/${id}`, password: Buffer.from(secret) } as Packet);
  const connack = await waitFor(() => packets.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket | undefined, 'CONNACK');
  assert.equal(connack.reasonCode, 0);
  return { sock, packets, closed, send };
}

function memory(): { rss: number; buffers: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, buffers: m.arrayBuffers };
}

const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

describe('issue 20: a slow consumer on the platform', () => {
  test('a device that subscribes to its commands and stops reading: 200 MB sent to it, bounded, counted, disconnected after the grace period', async () => {
    const secret = await device('gw-slow', 'sensor');
    const c = await rawDevice('gw-slow', secret);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'iip/default/gw-slow/commands/#', qos: 1 }] } as Packet);
    const suback = await waitFor(() => c.packets.find((p) => p.cmd === 'suback') as mqttPacket.ISubackPacket | undefined, 'SUBACK');
    assert.deepEqual(suback.granted, [1]);
    c.sock.pause(); // from here on it reads nothing

    const before = memory();
    const body = 'c'.repeat(100 * 1024);
    // 100 MB of QoS 0 commands, then 100 MB at QoS 1, through the platform's own path to a device.
    for (const qos of [0, 1] as const) {
      for (let i = 0; i < 1000; i++) {
        await platform.mqtt.publishToDevice('default', 'gw-slow', `commands/${qos}-${i}`, `${i}${body}`, { qos, retain: false });
        if (i % 20 === 19) await new Promise((r) => setImmediate(r));
      }
    }
    const afterFlood = memory();
    assert.ok(afterFlood.buffers - before.buffers < 32 * MB, `buffer memory grew by ${mb(afterFlood.buffers - before.buffers)}`);
    assert.ok(afterFlood.rss - before.rss < 120 * MB, `RSS grew by ${mb(afterFlood.rss - before.rss)}`);

    // The front door's own accounting for this connection.
    const s = platform.mqtt.sessionStats('default/gw-slow');
    assert.ok(s?.connected, 'still connected within the grace period');
    assert.ok(s.writeBufferedBytes <= WRITE_CAP + 110 * 1024, `bytes in its write buffer: ${s.writeBufferedBytes}`);
    assert.ok(s.queuedBytes <= 1 * MB, `bytes queued and in flight for it: ${s.queuedBytes}`);
    assert.ok(s.queuedMessages <= 1000, `messages queued for it: ${s.queuedMessages}`);
    assert.ok(s.qos0Dropped >= 900, `QoS 0 messages dropped for it: ${s.qos0Dropped}`);
    assert.ok(s.queuedDropped >= 900, `QoS 1 messages dropped from its queue: ${s.queuedDropped}`);
    const backlog = platform.mqtt.backlog();
    assert.ok(backlog && backlog.slowConnections === 1 && backlog.writeBufferedBytes <= WRITE_CAP + 110 * 1024, JSON.stringify(backlog));

    // Past the cap for longer than the grace period: disconnected, counted, logged with its client id.
    await waitFor(() => platform.mqtt.stats().frontDoor?.slowConsumerDisconnects === 1, 'the slow client to be disconnected', GRACE_MS + 5000);
    await waitFor(() => platform.mqtt.sessionStats('default/gw-slow') === undefined, 'its session (clean start) to end');
    const line = logged.find((l) => l.includes('too slow'));
    assert.ok(line?.includes('"clientId":"default/gw-slow"'), logged.filter((l) => l.includes('mqtt')).join('\n'));
    assert.equal(logged.filter((l) => l.includes('queue full')).length, 1, 'one log line for the episode, not one per message');
    const status = await api<{ mqtt: { frontDoor: Record<string, number> } }>('GET', '/api/v1/status');
    assert.equal(status.body.mqtt.frontDoor.slowConsumerDisconnects, 1);
    assert.ok((status.body.mqtt.frontDoor.qos0Dropped ?? 0) >= 900);
    assert.ok((status.body.mqtt.frontDoor.queuedDropped ?? 0) >= 900);
    c.sock.destroy();
    // What the session held is released with it.
    const released = memory();
    assert.ok(released.buffers - before.buffers < 16 * MB, `buffer memory after the disconnect: +${mb(released.buffers - before.buffers)}`);
  });

  test('MQTT 5: the receive maximum set by IIP_MQTT_RECEIVE_MAXIMUM is announced, and a client past it gets DISCONNECT 0x93', async () => {
    const secret = await device('eager', 'sensor');
    const c = await rawDevice('eager', secret);
    const connack = c.packets.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket;
    assert.equal(connack.properties?.receiveMaximum, 8);
    // Nine QoS 1 readings in one write: the platform has answered none of them when the ninth is read.
    const burst = Array.from({ length: 9 }, (_, i) =>
      mqttPacket.generate({ cmd: 'publish', topic: 'iip/default/eager/telemetry', payload: Buffer.from(JSON.stringify({ ts: Date.now() - 1000 + i, values: { temperature: i } })), qos: 1, messageId: i + 1, retain: false, dup: false }, { protocolVersion: 5 }),
    );
    c.sock.write(Buffer.concat(burst));
    await c.closed;
    const disconnect = c.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
    assert.equal(disconnect?.reasonCode, 0x93);
    assert.equal(platform.mqtt.stats().frontDoor?.receiveMaximumExceeded, 1);
    assert.ok(logged.some((l) => l.includes('receive maximum exceeded') && l.includes('default/eager')));
  });
});

test('a bad IIP_MQTT_* value stops the start and names the variable', async () => {
  const dir = await tempDir('iip-issue-20-env-');
  process.env.IIP_MQTT_MAX_QUEUED_BYTES = 'lots';
  try {
    await assert.rejects(
      startPlatform({ dataDir: dir.path, httpPort: 0, mqttPort: 0, adminPassword: 'correct-horse-battery-staple', consoleDir: '/nonexistent' }),
      (e: Error & { code?: string }) => e.code === 'IIP_ERR_VALIDATION' && e.message.includes('IIP_MQTT_MAX_QUEUED_BYTES') && e.message.includes('"lots"'),
    );
  } finally {
    delete process.env.IIP_MQTT_MAX_QUEUED_BYTES;
    await dir.cleanup();
  }
});

describe('issue 20: a live-stream WebSocket that does not read', () => {
  type Frame = { type: string; device?: string; dropped?: number; ms?: number; points?: Array<{ property: string; value: unknown }> };

  async function openStream(): Promise<{ ws: WebSocket; frames: Frame[]; socket: Socket }> {
    const ws = new WebSocket(`${platform.httpUrl.replace('http', 'ws')}/api/v1/stream`);
    const frames: Frame[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    ws.on('error', () => undefined);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'auth', token }));
    await waitFor(() => frames.some((f) => f.type === 'hello'), 'hello');
    // ws keeps its TCP socket private; pausing it is what a client that stops reading looks like.
    return { ws, frames, socket: (ws as unknown as { _socket: Socket })._socket };
  }

  /** Devices publishing 32 KB readings over HTTP as fast as the platform takes them, until stopped. */
  function flood(devices: Array<{ id: string; secret: string }>): { stop: () => Promise<void>; sent: () => number } {
    let running = true;
    let sent = 0;
    const value = 'v'.repeat(1000);
    const loops = devices.map(async ({ id, secret }) => {
      const auth = { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` };
      let ts = Date.now() - 3_600_000;
      while (running) {
        const values = Object.fromEntries(BLOB_MODEL.properties.map((p, i) => [p.id, `${ts}-${i}-${value}`]));
        const r = await api('POST', '/api/v1/ingest', { ts: ts++, values }, auth);
        assert.equal(r.status, 202, JSON.stringify(r.body));
        sent++;
      }
    });
    return {
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
      sent: () => sent,
    };
  }

  type LiveStatus = { sockets: number; bufferedBytes: number; lagging: number; roundsSkipped: number; valuesDropped: number; closedLagging: number };
  const liveStatus = async () => (await api<{ liveStream: LiveStatus }>('GET', '/api/v1/status')).body.liveStream;

  test('one that pauses is told {type:"lagged", dropped} once it reads again, then gets the newest values; one that never reads is closed (4408) after the lag limit', async () => {
    const devices = [];
    for (let i = 0; i < 8; i++) devices.push({ id: `blob-${i}`, secret: await device(`blob-${i}`, 'blob') });
    const pauses = await openStream();
    const never = await openStream();
    pauses.socket.pause();
    never.socket.pause();
    const f = flood(devices);
    try {
      // Both fall behind: the stream's own accounting holds each to its cap plus one round of frames.
      await waitFor(async () => (await liveStatus()).lagging === 2, 'both sockets to lag', 30_000);
      const lagging = await liveStatus();
      assert.ok(lagging.bufferedBytes <= 2 * (LIVE_CAP + 8 * 40 * 1024), `bytes held for the two sockets: ${lagging.bufferedBytes}`);
      await waitFor(async () => (await liveStatus()).valuesDropped > 0, 'values replaced while they lag');
      // The first reads again before the lag limit: its first frame after the backlog is the lag report.
      const seen = pauses.frames.length;
      pauses.socket.resume();
      const report = await waitFor(() => pauses.frames.slice(seen).find((x) => x.type === 'lagged'), 'the lagged frame', 10_000);
      assert.ok((report.dropped ?? 0) > 0, JSON.stringify(report));
      assert.ok((report.ms ?? 0) > 0, JSON.stringify(report));
      const next = pauses.frames.slice(pauses.frames.indexOf(report) + 1);
      await waitFor(() => next.length > 0 || pauses.frames.length > pauses.frames.indexOf(report) + 1, 'telemetry after the report');
      // The other never reads: closed once it has lagged for the limit, and what it held is let go.
      await waitFor(async () => (await liveStatus()).closedLagging === 1, 'the lagging socket to be closed', LIVE_LAG_MS + 10_000);
      const after = await liveStatus();
      assert.equal(after.sockets, 1);
      assert.ok(after.bufferedBytes <= LIVE_CAP + 8 * 40 * 1024, `bytes held after the closure: ${after.bufferedBytes}`);
      assert.equal(pauses.ws.readyState, WebSocket.OPEN, 'the socket that caught up stays open');
    } finally {
      await f.stop();
    }
    const closed = new Promise<number>((resolve) => never.ws.once('close', (code) => resolve(code)));
    never.socket.resume();
    const code = await closed;
    // 4408 when the close frame got through before the connection was ended, 1006 when it was ended first.
    assert.ok(code === 4408 || code === 1006, `close code ${code}`);
    pauses.ws.close();
  });
});
