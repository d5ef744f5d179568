/**
 * Issue 20, point 4: a slow or misbehaving MQTT client cannot make the front door grow without bound. Raw TCP
 * clients (mqtt-packet's codec on the client side) that stop reading, trickle bytes, announce a packet larger
 * than the server takes, or publish past the receive maximum, against the real front door with a small
 * stand-in policy (each device its own subtree). The memory figures are the process's own, after a garbage
 * collection (v8's gc, exposed for this file).
 */
import assert from 'node:assert/strict';
import { type Socket, connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type FrontDoorOptions, type FrontDoorPolicy, MqttFrontDoor, Reason } from '@iip/device-access';
import mqttPacket, { type Packet } from 'mqtt-packet';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const policy: FrontDoorPolicy = {
  authenticate(username, password) {
    const m = /^([^/]+)\/([^/]+)$/.exec(username ?? '');
    if (!m || password?.toString() !== `secret-${m[2]}`) return { refused: 'credentials', message: 'bad device credentials' };
    return { identity: { tenant: m[1] as string, device: m[2] as string } };
  },
  publish: (who, topic) => (topic.startsWith(`iip/${who.tenant}/${who.device}/`) ? { accepted: true, forward: true } : { accepted: false, reason: Reason.NOT_AUTHORIZED, message: 'IIP_ERR_ACL_DENIED' }),
  mayPublishWill: (who, topic) => topic.startsWith(`iip/${who.tenant}/${who.device}/`),
  maySubscribe: (who, filter) => filter.startsWith(`iip/${who.tenant}/${who.device}/`),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = async <T>(cond: () => T | undefined | false, what: string, ms = 5000): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
};

async function withDoor(opts: Partial<FrontDoorOptions>, body: (door: MqttFrontDoor, port: number, logged: Array<{ msg: string; fields?: Record<string, unknown> }>) => Promise<void>): Promise<void> {
  const logged: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const door = new MqttFrontDoor({ policy, host: '127.0.0.1', port: 0, log: (_l, msg, fields) => logged.push({ msg, ...(fields && { fields }) }), ...opts });
  const port = await door.listen();
  try {
    await body(door, port, logged);
  } finally {
    await door.close();
  }
}

interface Raw {
  readonly sock: Socket;
  readonly packets: Packet[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
  send(p: Packet): void;
}

/** A TCP connection speaking MQTT through mqtt-packet: what a device that misbehaves on purpose looks like. */
async function raw(port: number, device: string, opts: { version?: 4 | 5; keepalive?: number; clean?: boolean; properties?: Record<string, unknown>; connect?: boolean } = {}): Promise<Raw> {
  const version = opts.version ?? 5;
  const sock = tcpConnect(port, '127.0.0.1');
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  sock.on('data', (b: Buffer) => parser.parse(b));
  sock.on('error', () => undefined);
  let closed = false;
  const closedP = new Promise<void>((resolve) =>
    sock.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const send = (p: Packet) => sock.write(mqttPacket.generate(p, { protocolVersion: version }));
  if (opts.connect !== false) {
    send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clean: opts.clean ?? true,
      clientId: `t1/${device}`,
      keepalive: opts.keepalive ?? 0,
      username: `t1/${device}`,
      password: Buffer.from(`secret-${device}`),
      ...(opts.properties && { properties: opts.properties }),
    } as Packet);
    await waitFor(() => packets.find((p) => p.cmd === 'connack'), 'CONNACK');
  }
  return { sock, packets, closed: closedP, isClosed: () => closed, send };
}

async function subscribe(c: Raw, filter: string, qos: 0 | 1): Promise<void> {
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as Packet);
  await waitFor(() => c.packets.find((p) => p.cmd === 'suback'), 'SUBACK');
}

/**
 * The process's memory once garbage is gone: a full gc, then a pause so that write callbacks still pending run and
 * release the buffers they hold and freed backing stores are swept, repeated until two readings agree.
 */
async function memory(): Promise<{ rss: number; buffers: number }> {
  let last = -1;
  for (let i = 0; i < 10; i++) {
    gc();
    await sleep(20);
    const now = process.memoryUsage().arrayBuffers;
    if (Math.abs(now - last) < 256 * 1024) break;
    last = now;
  }
  const m = process.memoryUsage();
  return { rss: m.rss, buffers: m.arrayBuffers };
}

const MB = 1024 * 1024;

/** Sends `count` messages of `size` bytes (each a fresh buffer, as the platform's would be), yielding to the event loop every 20. */
async function flood(door: MqttFrontDoor, topic: string, count: number, size: number, qos: 0 | 1): Promise<void> {
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(size, i % 251);
    door.publish({ topic, payload, qos, retain: false });
    if (i % 20 === 19) await new Promise((r) => setImmediate(r));
  }
}

describe('MQTT front door: a slow consumer is bounded (issue 20)', () => {
  it('QoS 0 to a client that stopped reading: dropped and counted past the write-buffer cap, memory stays flat, disconnected after the grace period', async () => {
    const cap = 256 * 1024;
    await withDoor({ maxWriteBufferBytes: cap, slowConsumerGraceMs: 1500 }, async (door, port, logged) => {
      const c = await raw(port, 'slow0');
      await subscribe(c, 'iip/t1/slow0/commands/#', 0);
      c.sock.pause(); // reads nothing from here on
      const before = await memory();
      // 200 MB worth of messages addressed to it.
      await flood(door, 'iip/t1/slow0/commands/x', 2000, 100 * 1024, 0);
      const after = await memory();
      assert.ok(after.buffers - before.buffers < 16 * MB, `buffer memory grew by ${((after.buffers - before.buffers) / MB).toFixed(1)} MB`);
      assert.ok(after.rss - before.rss < 100 * MB, `RSS grew by ${((after.rss - before.rss) / MB).toFixed(1)} MB`);
      const s = door.sessionStats('t1/slow0');
      assert.ok(s, 'the session is known');
      assert.ok(s.connected, 'still connected within the grace period');
      assert.ok(s.writeBufferedBytes <= cap + 110 * 1024, `bytes waiting for the client: ${s.writeBufferedBytes}`);
      assert.ok(s.qos0Dropped >= 1900, `QoS 0 messages dropped for it: ${s.qos0Dropped}`);
      assert.equal(door.stats().qos0Dropped, s.qos0Dropped);
      // Over the cap for longer than the grace period: the connection is ended, counted and logged with its client id.
      await waitFor(() => door.stats().connections === 0, 'the slow client to be disconnected', 6000);
      assert.equal(door.stats().slowConsumerDisconnects, 1);
      const line = logged.find((l) => l.msg.includes('too slow'));
      assert.ok(line, logged.map((l) => l.msg).join(' | '));
      assert.equal(line.fields?.clientId, 't1/slow0');
      c.sock.destroy();
    });
  });

  it('QoS 1 to a client that stopped reading: what is not written waits in its session queue, bounded by count and bytes (oldest dropped, counted)', async () => {
    const cap = 256 * 1024;
    await withDoor({ maxWriteBufferBytes: cap, slowConsumerGraceMs: 60_000, maxQueuedPerSession: 50, maxQueuedBytesPerSession: 2 * MB }, async (door, port) => {
      const c = await raw(port, 'slow1');
      await subscribe(c, 'iip/t1/slow1/commands/#', 1);
      c.sock.pause();
      const before = await memory();
      await flood(door, 'iip/t1/slow1/commands/x', 2000, 100 * 1024, 1);
      const after = await memory();
      assert.ok(after.buffers - before.buffers < 16 * MB, `buffer memory grew by ${((after.buffers - before.buffers) / MB).toFixed(1)} MB`);
      assert.ok(after.rss - before.rss < 100 * MB, `RSS grew by ${((after.rss - before.rss) / MB).toFixed(1)} MB`);
      const s = door.sessionStats('t1/slow1');
      assert.ok(s);
      assert.ok(s.writeBufferedBytes <= cap + 110 * 1024, `bytes waiting for the client: ${s.writeBufferedBytes}`);
      assert.ok(s.queuedMessages <= 50, `queued: ${s.queuedMessages}`);
      assert.ok(s.queuedBytes <= 2 * MB + 110 * 1024, `queued and in-flight bytes: ${s.queuedBytes}`);
      assert.ok(s.queuedDropped >= 1900, `dropped from its queue: ${s.queuedDropped}`);
      assert.ok(door.stats().queuedDropped >= s.queuedDropped);
      // The newest messages are the ones kept: a client that reads again gets them, in order.
      const got: number[] = [];
      const parser = mqttPacket.parser({ protocolVersion: 5 });
      parser.on('packet', (p: Packet) => {
        if (p.cmd !== 'publish') return;
        got.push(p.payload[0] as number);
        if (p.messageId !== undefined) c.send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 } as Packet);
      });
      c.sock.removeAllListeners('data');
      c.sock.on('data', (b: Buffer) => parser.parse(b));
      c.sock.resume();
      await waitFor(() => door.sessionStats('t1/slow1')?.queuedMessages === 0 && door.sessionStats('t1/slow1')?.inflightMessages === 0, 'the queue to drain');
      // First what was in flight when it stopped reading (the oldest), then the queue: the newest, in order.
      const queued = s.queuedMessages;
      assert.deepEqual(
        got.slice(-queued),
        Array.from({ length: queued }, (_, k) => (2000 - queued + k) % 251),
      );
      assert.equal(got.length, s.queuedMessages + s.inflightMessages);
      c.sock.destroy();
    });
  });

  it('an offline persistent session keeps at most its queue limits of QoS 1 messages', async () => {
    await withDoor({ maxQueuedPerSession: 1000, maxQueuedBytesPerSession: 1 * MB }, async (door, port) => {
      const c = await raw(port, 'away', { clean: false, properties: { sessionExpiryInterval: 3600 } });
      await subscribe(c, 'iip/t1/away/commands/#', 1);
      c.send({ cmd: 'disconnect', reasonCode: 0 } as Packet);
      await c.closed;
      await waitFor(() => door.sessionStats('t1/away')?.connected === false, 'the session to go offline');
      await flood(door, 'iip/t1/away/commands/y', 500, 10 * 1024, 1);
      const s = door.sessionStats('t1/away');
      assert.ok(s);
      assert.ok(s.queuedBytes <= 1 * MB, `queued bytes: ${s.queuedBytes}`);
      assert.ok(s.queuedMessages <= 102 && s.queuedMessages >= 90, `queued: ${s.queuedMessages}`);
      assert.equal(s.queuedDropped, 500 - s.queuedMessages);
    });
  });
});

describe('MQTT front door: retained messages a device may set (issue 20)', () => {
  it('a device keeps at most its limit of retained topics; past it a retained PUBLISH is delivered but not kept, counted and logged once', async () => {
    await withDoor({ maxRetainedPerDevice: 5, maxRetainedBytesPerDevice: 64 * 1024 }, async (door, port, logged) => {
      const c = await raw(port, 'ret');
      for (let i = 0; i < 40; i++) c.send({ cmd: 'publish', topic: `iip/t1/ret/state/${i}`, payload: Buffer.from(`s${i}`), qos: 1, messageId: i + 1, retain: true, dup: false } as Packet);
      await waitFor(() => c.packets.filter((p) => p.cmd === 'puback').length === 40, 'the PUBACKs');
      assert.equal(door.retained.size, 5);
      assert.equal(door.stats().retainedRefused, 35);
      assert.equal(logged.filter((l) => l.msg.includes('retained message not kept')).length, 1);
      // Bytes count too: one large retained message fills the byte budget.
      c.send({ cmd: 'publish', topic: 'iip/t1/ret/state/0', payload: Buffer.alloc(0), qos: 1, messageId: 41, retain: true, dup: false } as Packet);
      c.send({ cmd: 'publish', topic: 'iip/t1/ret/big', payload: Buffer.alloc(70 * 1024), qos: 1, messageId: 42, retain: true, dup: false } as Packet);
      await waitFor(() => c.packets.filter((p) => p.cmd === 'puback').length === 42, 'the PUBACKs');
      assert.equal(door.retained.has('iip/t1/ret/state/0'), false, 'cleared');
      assert.equal(door.retained.has('iip/t1/ret/big'), false, 'over the byte budget');
      assert.equal(door.retained.size, 4);
      // Clearing one makes room again; the platform's own retained messages are not the device's.
      c.send({ cmd: 'publish', topic: 'iip/t1/ret/state/39', payload: Buffer.from('late'), qos: 1, messageId: 43, retain: true, dup: false } as Packet);
      await waitFor(() => c.packets.filter((p) => p.cmd === 'puback').length === 43, 'the PUBACK');
      assert.equal(door.retained.get('iip/t1/ret/state/39')?.payload.toString(), 'late');
      for (let i = 0; i < 10; i++) door.publish({ topic: `iip/t1/ret/config/${i}`, payload: Buffer.from('{}'), qos: 1, retain: true });
      assert.equal(door.retained.size, 15);
      c.sock.destroy();
    });
  });
});

describe('MQTT front door: inbound limits (issue 20)', () => {
  it('MQTT 5: the receive maximum is announced in CONNACK; a client with more QoS 1 PUBLISHes unanswered gets DISCONNECT 0x93', async () => {
    const pending: Array<() => void> = [];
    const slow: FrontDoorPolicy = { ...policy, publish: () => new Promise((resolve) => pending.push(() => resolve({ accepted: true, forward: false }))) };
    await withDoor({ policy: slow, receiveMaximum: 5 }, async (door, port) => {
      const c = await raw(port, 'eager');
      const connack = c.packets.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket;
      assert.equal(connack.properties?.receiveMaximum, 5);
      // QoS 0 does not count against the receive maximum.
      for (let i = 0; i < 3; i++) c.send({ cmd: 'publish', topic: 'iip/t1/eager/telemetry', payload: Buffer.from('{}'), qos: 0, retain: false, dup: false } as Packet);
      // Six QoS 1 PUBLISHes in one write, none answered: the sixth is one too many.
      const burst = [];
      for (let i = 1; i <= 6; i++) burst.push(mqttPacket.generate({ cmd: 'publish', topic: 'iip/t1/eager/telemetry', payload: Buffer.from('{}'), qos: 1, messageId: i, retain: false, dup: false }, { protocolVersion: 5 }));
      c.sock.write(Buffer.concat(burst));
      await c.closed;
      const disconnect = c.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
      assert.equal(disconnect?.reasonCode, Reason.RECEIVE_MAXIMUM_EXCEEDED);
      assert.equal(door.stats().receiveMaximumExceeded, 1);
      for (const r of pending) r();
    });
  });

  it('MQTT 5: a client that keeps within the receive maximum is never disconnected for it', async () => {
    await withDoor({ receiveMaximum: 5 }, async (door, port) => {
      const c = await raw(port, 'polite');
      let next = 1;
      for (let round = 0; round < 20; round++) {
        const burst = [];
        for (let i = 0; i < 5; i++) burst.push(mqttPacket.generate({ cmd: 'publish', topic: 'iip/t1/polite/telemetry', payload: Buffer.from('{}'), qos: 1, messageId: next++, retain: false, dup: false }, { protocolVersion: 5 }));
        c.sock.write(Buffer.concat(burst));
        await waitFor(() => c.packets.filter((p) => p.cmd === 'puback').length === next - 1, 'the PUBACKs of the round');
      }
      assert.equal(c.isClosed(), false);
      assert.equal(door.stats().receiveMaximumExceeded, 0);
      c.sock.destroy();
    });
  });

  it('a packet larger than the maximum packet size is refused from its fixed header, before its body is buffered (MQTT 5: DISCONNECT 0x95)', async () => {
    await withDoor({ maximumPacketSize: 64 * 1024 }, async (door, port) => {
      const c = await raw(port, 'big');
      const connack = c.packets.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket;
      assert.equal(connack.properties?.maximumPacketSize, 64 * 1024);
      // A PUBLISH that says it is 100 MB long; only its first kilobyte is sent.
      const packet = mqttPacket.generate({ cmd: 'publish', topic: 'iip/t1/big/telemetry', payload: Buffer.alloc(100 * MB), qos: 0, retain: false, dup: false }, { protocolVersion: 5 });
      c.sock.write(packet.subarray(0, 1024));
      await c.closed;
      const disconnect = c.packets.find((p) => p.cmd === 'disconnect') as mqttPacket.IDisconnectPacket | undefined;
      assert.equal(disconnect?.reasonCode, Reason.PACKET_TOO_LARGE);
      assert.equal(door.stats().packetsTooLarge, 1);
    });
  });

  it('a packet just over the maximum that arrives whole is refused too; one within it is taken', async () => {
    await withDoor({ maximumPacketSize: 4096 }, async (door, port) => {
      const ok = await raw(port, 'fits');
      ok.send({ cmd: 'publish', topic: 'iip/t1/fits/telemetry', payload: Buffer.alloc(4000), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
      await waitFor(() => ok.packets.find((p) => p.cmd === 'puback'), 'the PUBACK');
      const c = await raw(port, 'over', { version: 4 });
      c.send({ cmd: 'publish', topic: 'iip/t1/over/telemetry', payload: Buffer.alloc(4100), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
      await c.closed;
      assert.equal(c.packets.some((p) => p.cmd === 'puback'), false);
      assert.equal(door.stats().packetsTooLarge, 1);
      ok.sock.destroy();
    });
  });

  it('slowloris: a CONNECT trickling in is cut at the connect timeout; after CONNECT, a packet trickling in is cut at the packet timeout even without keep-alive', async () => {
    await withDoor({ connectTimeoutMs: 600, packetTimeoutMs: 800 }, async (door, port) => {
      const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 't1/drip', keepalive: 0, username: 't1/drip', password: Buffer.from('secret-drip') });
      const early = await raw(port, 'drip', { connect: false });
      const started = Date.now();
      const dripping = (async () => {
        for (let i = 0; i < connect.length - 1 && !early.isClosed(); i++) {
          early.sock.write(connect.subarray(i, i + 1));
          await sleep(100);
        }
      })();
      await early.closed;
      const took = Date.now() - started;
      assert.ok(took < 2500, `closed after ${took} ms`);
      await dripping;
      // Connected with keep-alive 0 (no keep-alive timeout at all), then one PUBLISH a byte at a time.
      const late = await raw(port, 'drip2', { version: 4, keepalive: 0 });
      const publish = mqttPacket.generate({ cmd: 'publish', topic: 'iip/t1/drip2/telemetry', payload: Buffer.alloc(200), qos: 0, retain: false, dup: false });
      const t0 = Date.now();
      for (let i = 0; i < publish.length - 1 && !late.isClosed(); i++) {
        late.sock.write(publish.subarray(i, i + 1));
        await sleep(50);
      }
      await late.closed;
      const held = Date.now() - t0;
      assert.ok(held < 3000, `a half-sent packet held the connection for ${held} ms`);
      assert.equal(door.stats().packetTimeouts, 1);
      // A client that is idle between packets (keep-alive 0) is not cut.
      const idle = await raw(port, 'idle', { version: 4, keepalive: 0 });
      await sleep(1500);
      assert.equal(idle.isClosed(), false);
      idle.sock.destroy();
    });
  });
});
