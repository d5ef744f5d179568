/**
 * Several MQTT front doors on one NATS and one PostgreSQL (issue 11, point 4; ADR 0008). Each front door is
 * what a platform process runs for devices — its own NATS bus connection, session store, GatewayManager,
 * router and MQTT server, its own PostgreSQL connection — against a real nats-server and real MQTT clients:
 * - a command issued through front door A reaches a gateway connected to front door B, and B's answer
 *   resolves A's request; a config pushed from A reaches the gateway on B, and a gateway that connects later
 *   to a front door started afterwards gets it from storage;
 * - a persistent MQTT 5 session with a queued QoS 1 message moves from A to B (A hands it over), and from a
 *   front door that is gone (its last saved state);
 * - a client id connected to A and then to B: A's connection ends with DISCONNECT 0x8E (session taken over).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Bus, type NatsSessionStore, connectNatsBus, connectNatsSessionStore } from '@iip/bus';
import { DEFAULT_INGEST_LIMITS, type DeviceId, type TenantId, TelemetryValidator } from '@iip/core';
import {
  BusDeviceRouter,
  type DeviceDirectory,
  type DeviceEntry,
  GatewayManager,
  MqttAccess,
  type SessionSnapshot,
  TelemetryAdmission,
} from '@iip/device-access';
import { type Storage, openStorage } from '@iip/storage';
import { type NatsServer, type PostgresServer, startNats, startPostgres, waitFor } from '@iip/testkit';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

const T = 't1' as TenantId;
const SECRET = 'front-door-secret-1';
const PREFIX = 'fdtest';

let nats: NatsServer;
let pg: PostgresServer;

/** Every device of the test has the one secret; the directory is not what is under test. */
const directory: DeviceDirectory = {
  lookup: (): DeviceEntry => ({ verifySecret: (s) => s === SECRET, validator: new TelemetryValidator({ properties: [], events: [], services: [] }) }),
};

interface FrontDoor {
  readonly name: string;
  readonly storage: Storage;
  readonly bus: Bus;
  readonly sessions: NatsSessionStore<SessionSnapshot>;
  readonly router: BusDeviceRouter;
  readonly gateways: GatewayManager;
  readonly mqtt: MqttAccess;
  readonly port: number;
  readonly logs: string[];
  close(): Promise<void>;
}

async function startFrontDoor(name: string): Promise<FrontDoor> {
  const logs: string[] = [];
  const storage = await openStorage(pg.url);
  const bus = await connectNatsBus({ url: nats.url, prefix: PREFIX, name });
  const sessions = await connectNatsSessionStore<SessionSnapshot>({ url: nats.url, prefix: PREFIX, name: `${name}-sessions`, releaseTimeoutMs: 2_000 });
  const router = new BusDeviceRouter(bus, (m) => logs.push(m));
  const gateways = new GatewayManager(storage.gateways, storage.audit, router, { commandTimeoutMs: 8_000, log: (m) => logs.push(m) });
  await gateways.loadTenant(T);
  const admission = new TelemetryAdmission(directory, bus, DEFAULT_INGEST_LIMITS);
  const access = new MqttAccess({
    directory,
    gateways: router.hooks(gateways),
    admission,
    defaultTenant: T,
    host: '127.0.0.1',
    port: 0,
    sharedSessions: sessions,
    log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
  });
  const port = await access.listen();
  await router.attach(gateways, access);
  let closed = false;
  return {
    name,
    storage,
    bus,
    sessions,
    router,
    gateways,
    mqtt: access,
    port,
    logs,
    close: async () => {
      if (closed) return;
      closed = true;
      await access.close();
      await router.close();
      gateways.close();
      await sessions.close();
      await bus.close();
      await storage.close();
    },
  };
}

const clients: MqttClient[] = [];

function connect(door: FrontDoor, device: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${door.port}`, { username: `${T}/${device}`, password: SECRET, reconnectPeriod: 0, connectTimeout: 5_000, ...opts });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

/** The next message on a topic matching `re`. */
function nextMessage(c: MqttClient, re: RegExp): Promise<{ topic: string; payload: string; packet: mqtt.IPublishPacket }> {
  return new Promise((resolve) => {
    const on = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      if (!re.test(topic)) return;
      c.off('message', on);
      resolve({ topic, payload: payload.toString(), packet });
    };
    c.on('message', on);
  });
}

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
};

let a: FrontDoor;
let b: FrontDoor;
const doors: FrontDoor[] = [];

before(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  // The first process creates the schema; the others find it.
  a = await startFrontDoor('front-door-a');
  b = await startFrontDoor('front-door-b');
  doors.push(a, b);
  await a.storage.registry.createTenant({ id: T, name: 'Tenant 1', createdAt: Date.now() });
});

after(async () => {
  for (const c of clients) c.end(true);
  for (const d of doors) await d.close().catch(() => undefined);
  await Promise.allSettled([nats?.stop(), pg?.stop()]);
});

describe('device delivery across front doors', () => {
  let gw: MqttClient;
  const commands: Array<{ id: string; body: Record<string, unknown> }> = [];

  test('a config stored through front door A reaches the gateway connected to front door B, and B learns which devices it owns', { timeout: 30_000 }, async () => {
    gw = await connect(b, 'gw-1', { clientId: `${T}/gw-1` });
    await gw.subscribeAsync([`iip/${T}/gw-1/config`, `iip/${T}/gw-1/commands/+`], { qos: 1 });
    gw.on('message', (topic, payload) => {
      const m = /\/commands\/([^/]+)$/.exec(topic);
      if (!m) return;
      const id = m[1] as string;
      commands.push({ id, body: JSON.parse(payload.toString()) });
      void gw.publishAsync(`iip/${T}/gw-1/command-results/${id}`, JSON.stringify({ ok: true }), { qos: 1 });
    });
    const config = nextMessage(gw, /\/config$/);
    await a.gateways.setConfig(T, 'gw-1' as DeviceId, CONFIG, 'admin', async () => true);
    const got = await config;
    assert.equal(JSON.parse(got.payload).version, 1);
    assert.equal(b.gateways.ownerOf(T, 'plc-1'), 'gw-1', 'B learned the child → gateway map from the config push');
  });

  test("a write issued through A's GatewayManager reaches the gateway on B and B's answer resolves A's request", { timeout: 30_000 }, async () => {
    const report = await a.gateways.write({ tenant: T, device: 'plc-1', property: 'temperature', value: 42.5, oldValue: null, actor: 'admin' });
    assert.equal(report.outcome, 'done');
    const sent = commands.find((c) => c.id === report.requestId);
    assert.ok(sent, 'the gateway received the command A sent');
    assert.equal(sent.body.value, 42.5);
    // B counts the answer once the bus has acknowledged it, which can be a moment after A has received it.
    await waitFor(() => b.router.stats().repliesForwarded === 1, 'B to count the answer it passed on', 10_000, 10);
    assert.equal(a.router.stats().repliesTaken, 1, 'A took it');
    const audit = await a.storage.audit.list(T, { device: 'plc-1', limit: 10 });
    const entry = audit.find((e) => e.action === 'write');
    assert.ok(entry, JSON.stringify(audit));
    assert.equal(entry.result, 'ok');
  });

  test('a command issued on B for the gateway on B is answered locally, without the bus reply path', { timeout: 30_000 }, async () => {
    const before = b.router.stats().repliesForwarded;
    const report = await b.gateways.write({ tenant: T, device: 'plc-1', property: 'temperature', value: 7, oldValue: 42.5, actor: 'admin' });
    assert.equal(report.outcome, 'done');
    assert.equal(b.router.stats().repliesForwarded, before);
  });

  test('a gateway that connects to a front door started after the config was stored gets the config from storage', { timeout: 30_000 }, async () => {
    const c = await startFrontDoor('front-door-c');
    doors.push(c);
    assert.equal(c.gateways.ownerOf(T, 'plc-1'), 'gw-1', 'C loaded the owners from storage');
    gw.end(true);
    const gw2 = await connect(c, 'gw-1', { clientId: `${T}/gw-1/second` });
    const config = nextMessage(gw2, /\/config$/);
    await gw2.subscribeAsync(`iip/${T}/gw-1/config`, { qos: 1 });
    const got = await config;
    assert.equal(JSON.parse(got.payload).version, 1);
    gw2.end(true);
  });
});

describe('MQTT sessions across front doors', () => {
  test('a persistent MQTT 5 session with a queued QoS 1 message moves from front door A to front door B', { timeout: 30_000 }, async () => {
    const v5 = { protocolVersion: 5 as const, clean: false, clientId: `${T}/dev-1`, properties: { sessionExpiryInterval: 3600 } };
    const first = await connect(a, 'dev-1', v5);
    await first.subscribeAsync(`iip/${T}/dev-1/commands/#`, { qos: 1 });
    await first.endAsync();
    // Sent through B's router while the device is offline: it waits in the session A holds.
    await b.router.publishToDevice(T, 'dev-1', 'commands/c-1', JSON.stringify({ n: 1 }), { retain: false, qos: 1 });
    const handedBefore = a.mqtt.stats().frontDoor?.sessionsHandedOver ?? 0;
    const second = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, { username: `${T}/dev-1`, password: SECRET, reconnectPeriod: 0, ...v5 });
    clients.push(second);
    const message = nextMessage(second, /\/commands\/c-1$/);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      second.once('connect', resolve);
      second.once('error', reject);
    });
    assert.equal(connack.sessionPresent, true, 'B resumed the session');
    const got = await message;
    assert.deepEqual(JSON.parse(got.payload), { n: 1 });
    assert.equal(got.packet.qos, 1);
    assert.equal(a.mqtt.stats().frontDoor?.sessionsHandedOver, handedBefore + 1);
    assert.equal(b.mqtt.stats().frontDoor?.sessionsTakenOver, 1);
    // The subscription moved too: a new message reaches the device on B without a new SUBSCRIBE.
    const next = nextMessage(second, /\/commands\/c-2$/);
    await a.router.publishToDevice(T, 'dev-1', 'commands/c-2', JSON.stringify({ n: 2 }), { retain: false, qos: 1 });
    assert.deepEqual(JSON.parse((await next).payload), { n: 2 });
    await second.endAsync();
  });

  test('the session of a front door that is gone resumes on another from its last saved state', { timeout: 30_000 }, async () => {
    const d = await startFrontDoor('front-door-d');
    doors.push(d);
    const v5 = { protocolVersion: 5 as const, clean: false, clientId: `${T}/dev-2`, properties: { sessionExpiryInterval: 3600 } };
    const first = await connect(d, 'dev-2', v5);
    await first.subscribeAsync(`iip/${T}/dev-2/commands/#`, { qos: 1 });
    await first.endAsync();
    await a.router.publishToDevice(T, 'dev-2', 'commands/c-9', JSON.stringify({ n: 9 }), { retain: false, qos: 1 });
    await waitFor(async () => {
      const rec = await b.sessions.peek(`${T}/dev-2`);
      return rec?.owner === d.sessions.owner && rec.state?.queue.length === 1;
    }, 'D saved the session with its queued message');
    // D leaves NATS without handing anything over (as a killed process would), then stops.
    await d.sessions.close();
    await d.bus.close();
    await d.mqtt.close();
    const silentBefore = b.sessions.stats.takenFromSilentOwner;
    const second = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, { username: `${T}/dev-2`, password: SECRET, reconnectPeriod: 0, ...v5 });
    clients.push(second);
    const message = nextMessage(second, /\/commands\/c-9$/);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      second.once('connect', resolve);
      second.once('error', reject);
    });
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual(JSON.parse((await message).payload), { n: 9 });
    assert.equal(b.sessions.stats.takenFromSilentOwner, silentBefore + 1);
    await second.endAsync();
  });

  test('a client id connected to A and then to B: A ends its connection with DISCONNECT 0x8E (session taken over)', { timeout: 30_000 }, async () => {
    const opts = { protocolVersion: 5 as const, clientId: `${T}/dev-3` };
    const onA = await connect(a, 'dev-3', opts);
    const takenOver = new Promise<number | undefined>((resolve) => onA.once('disconnect', (p) => resolve(p.reasonCode)));
    const closedA = new Promise<void>((resolve) => onA.once('close', () => resolve()));
    const onB = await connect(b, 'dev-3', opts);
    assert.equal(await takenOver, 0x8e);
    await closedA;
    // B holds the session now: a message for the device reaches it there.
    await onB.subscribeAsync(`iip/${T}/dev-3/commands/#`, { qos: 1 });
    const msg = nextMessage(onB, /\/commands\/x$/);
    await a.router.publishToDevice(T, 'dev-3', 'commands/x', '{}', { retain: false, qos: 1 });
    assert.equal((await msg).payload, '{}');
    assert.equal(onB.connected, true);
    await onB.endAsync();
  });
});
