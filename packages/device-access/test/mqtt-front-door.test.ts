// The MQTT front door on mqtt-packet (ADR 0005) against outside clients: mqtt.js speaking 3.1.1 and 5,
// Debian's mosquitto_pub/mosquitto_sub speaking MQTT 5, and hand-written bytes where the spec's edge cases
// need them. The policy here is a small stand-in for the platform's (each device its own subtree).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type FrontDoorIdentity, type FrontDoorPolicy, MqttFrontDoor, Reason } from '@iip/device-access';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';

const received: Array<{ device: string; topic: string; payload: string; qos: number }> = [];
const events: string[] = [];

const policy: FrontDoorPolicy = {
  authenticate(username, password, clientId) {
    const m = /^([^/]+)\/([^/]+)$/.exec(username ?? '');
    if (!m || password?.toString() !== `secret-${m[2]}`) return { refused: 'credentials', message: 'bad device credentials' };
    const identity = { tenant: m[1] as string, device: m[2] as string };
    // Free-form client ids, scoped to the device: empty (assigned) or starting with tenant/device.
    if (clientId !== '' && clientId !== username && !clientId.startsWith(`${username}/`)) return { refused: 'client-id', message: `client id "${clientId}" is not scoped to ${username}` };
    return { identity };
  },
  publish(who, topic, payload, qos) {
    if (!topic.startsWith(`iip/${who.tenant}/${who.device}/`)) return { accepted: false, reason: Reason.NOT_AUTHORIZED, message: `IIP_ERR_ACL_DENIED: ${topic}` };
    if (topic.endsWith('/telemetry')) {
      if (payload.toString() === 'bad') return { accepted: false, reason: Reason.PAYLOAD_FORMAT_INVALID, message: 'IIP_ERR_TELEMETRY_JSON: not JSON' };
      received.push({ device: who.device, topic, payload: payload.toString(), qos });
    }
    return { accepted: true, forward: true };
  },
  mayPublishWill: (who, topic) => topic.startsWith(`iip/${who.tenant}/${who.device}/`),
  maySubscribe: (who, filter) => filter.startsWith(`iip/${who.tenant}/${who.device}/`),
  connected: (who: FrontDoorIdentity) => events.push(`up ${who.device}`),
  disconnected: (who: FrontDoorIdentity) => events.push(`down ${who.device}`),
};

let door: MqttFrontDoor;
let url: string;
const clients: mqtt.MqttClient[] = [];
const open = async (device: string, opts: mqtt.IClientOptions = {}) => {
  const c = await mqtt.connectAsync(url, { username: `t1/${device}`, password: `secret-${device}`, reconnectPeriod: 0, connectTimeout: 2000, ...opts });
  clients.push(c);
  return c;
};
const waitFor = async (cond: () => boolean, what: string, ms = 3000) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const run = (cmd: string, args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });

describe('MQTT front door on mqtt-packet (MQTT 3.1.1 and 5)', () => {
  before(async () => {
    door = new MqttFrontDoor({ policy, host: '127.0.0.1', port: 0 });
    url = `mqtt://127.0.0.1:${await door.listen()}`;
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await door.close();
  });

  it('MQTT 5: CONNACK announces what the server supports; a refused reading gets its reason code in the PUBACK', async () => {
    const c = await open('m5', { protocolVersion: 5, clientId: 't1/m5/a' });
    await c.publishAsync('iip/t1/m5/telemetry', '{"t":1}', { qos: 1 });
    await waitFor(() => received.some((r) => r.device === 'm5'), 'the reading');
    await assert.rejects(c.publishAsync('iip/t1/m5/telemetry', 'bad', { qos: 1 }), (e: Error & { code?: number }) => e.code === Reason.PAYLOAD_FORMAT_INVALID || /0x99|Payload format invalid|153/.test(String(e.message) + String(e.code)));
    await assert.rejects(c.publishAsync('iip/t1/other/telemetry', '{"t":1}', { qos: 1 }), (e: Error & { code?: number }) => e.code === Reason.NOT_AUTHORIZED || /135|Not authorized/.test(String(e.message) + String(e.code)));
  });

  it('MQTT 3.1.1: readings are acknowledged; the same server speaks both', async () => {
    const c = await open('m4', { protocolVersion: 4, clientId: 't1/m4' });
    await c.publishAsync('iip/t1/m4/telemetry', '{"t":2}', { qos: 1 });
    await waitFor(() => received.some((r) => r.device === 'm4'), 'the 3.1.1 reading');
  });

  it('mosquitto_pub -V mqttv5 publishes at QoS 1 and mosquitto_sub -V mqttv5 receives a retained message', async () => {
    const port = new URL(url).port;
    const pub = await run('mosquitto_pub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', port, '-u', 't1/mos', '-P', 'secret-mos', '-i', 't1/mos', '-q', '1', '-t', 'iip/t1/mos/telemetry', '-m', '{"t":3}']);
    assert.equal(pub.code, 0, pub.out);
    await waitFor(() => received.some((r) => r.device === 'mos'), 'the mosquitto reading');
    door.publish({ topic: 'iip/t1/mos/config', payload: Buffer.from('{"version":7}'), qos: 1, retain: true });
    const sub = await run('mosquitto_sub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', port, '-u', 't1/mos', '-P', 'secret-mos', '-i', 't1/mos/sub', '-q', '1', '-t', 'iip/t1/mos/config', '-C', '1', '-v']);
    assert.equal(sub.code, 0, sub.out);
    assert.match(sub.out, /iip\/t1\/mos\/config \{"version":7\}/);
  });

  it('a topic alias set once names the topic of later publishes', async () => {
    const c = await open('alias', { protocolVersion: 5, clientId: 't1/alias' });
    await c.publishAsync('iip/t1/alias/telemetry', '{"n":1}', { qos: 1, properties: { topicAlias: 3 } });
    await c.publishAsync('', '{"n":2}', { qos: 1, properties: { topicAlias: 3 } });
    await waitFor(() => received.filter((r) => r.device === 'alias').length === 2, 'both aliased readings');
    assert.deepEqual(
      received.filter((r) => r.device === 'alias').map((r) => r.topic),
      ['iip/t1/alias/telemetry', 'iip/t1/alias/telemetry'],
    );
  });

  it('a client id of another device is refused and that device keeps its connection and session', async () => {
    const victim = await open('victim', { protocolVersion: 5, clientId: 't1/victim' });
    await assert.rejects(open('attacker', { protocolVersion: 5, clientId: 't1/victim' }), /Client Identifier not valid|identifier|0x85|133/i);
    await assert.rejects(open('attacker', { protocolVersion: 4, clientId: 't1/victim' }), /Identifier rejected|identifier/i);
    assert.equal(victim.connected, true);
    await victim.publishAsync('iip/t1/victim/telemetry', '{"ok":1}', { qos: 1 });
  });

  it('a persistent session keeps QoS 1 messages for an offline client; an expired one is not delivered; take-over by the same device', async () => {
    const first = await open('gw', { protocolVersion: 5, clientId: 't1/gw', clean: false, properties: { sessionExpiryInterval: 60 } });
    await first.subscribeAsync('iip/t1/gw/commands/+', { qos: 1 });
    await first.endAsync();
    door.publish({ topic: 'iip/t1/gw/commands/1', payload: Buffer.from('late'), qos: 1, retain: false, expiresAt: Date.now() - 1 });
    door.publish({ topic: 'iip/t1/gw/commands/2', payload: Buffer.from('kept'), qos: 1, retain: false, expiresAt: Date.now() + 60_000 });
    const got: string[] = [];
    // Listening before the CONNACK: the queued messages follow it at once.
    const second = mqtt.connect(url, { username: 't1/gw', password: 'secret-gw', protocolVersion: 5, clientId: 't1/gw', clean: false, properties: { sessionExpiryInterval: 60 }, reconnectPeriod: 0 });
    clients.push(second);
    second.on('message', (topic, payload, packet) => got.push(`${topic}=${payload.toString()} expiry ${packet.properties?.messageExpiryInterval ?? '-'}`));
    await waitFor(() => got.length >= 1, 'the kept command');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 1, got.join(', '));
    assert.match(got[0] as string, /^iip\/t1\/gw\/commands\/2=kept expiry (59|60)$/);
    // The same device connecting again with the same id takes the session over; the old link is told why.
    const reasons: number[] = [];
    second.on('disconnect', (p) => reasons.push(p.reasonCode ?? -1));
    await open('gw', { protocolVersion: 5, clientId: 't1/gw', clean: false, properties: { sessionExpiryInterval: 60 } });
    await waitFor(() => reasons.length > 0, 'the take-over DISCONNECT');
    assert.deepEqual(reasons, [Reason.SESSION_TAKEN_OVER]);
  });

  it('a will on the device’s own subtree is published when the link drops; a will elsewhere is refused at CONNECT', async () => {
    const watcher = await open('w', { protocolVersion: 5, clientId: 't1/w/watch' });
    const wills: string[] = [];
    watcher.on('message', (topic, payload) => wills.push(`${topic}=${payload.toString()}`));
    await watcher.subscribeAsync('iip/t1/w/status', { qos: 1 });
    const dying = await open('w', { protocolVersion: 4, clientId: 't1/w/dying', will: { topic: 'iip/t1/w/status', payload: Buffer.from('offline'), qos: 1, retain: false } });
    dying.stream.destroy();
    await waitFor(() => wills.length > 0, 'the will');
    assert.deepEqual(wills, ['iip/t1/w/status=offline']);
    await assert.rejects(open('w', { protocolVersion: 4, clientId: 't1/w/bad', will: { topic: 'iip/t1/other/status', payload: Buffer.from('x'), qos: 0, retain: false } }), /Not authorized|authori/i);
  });

  it('a shared subscription splits messages between the connections of a device', async () => {
    const a = await open('sh', { protocolVersion: 5, clientId: 't1/sh/a' });
    const b = await open('sh', { protocolVersion: 5, clientId: 't1/sh/b' });
    const byA: string[] = [];
    const byB: string[] = [];
    a.on('message', (_t, p) => byA.push(p.toString()));
    b.on('message', (_t, p) => byB.push(p.toString()));
    await a.subscribeAsync('$share/g/iip/t1/sh/commands/#', { qos: 1 });
    await b.subscribeAsync('$share/g/iip/t1/sh/commands/#', { qos: 1 });
    for (let i = 0; i < 10; i++) door.publish({ topic: `iip/t1/sh/commands/${i}`, payload: Buffer.from(String(i)), qos: 1, retain: false });
    await waitFor(() => byA.length + byB.length === 10, 'all shared messages').catch((e) => { throw new Error(`${e.message}: a=${byA.join(',')} b=${byB.join(',')}`); });
    assert.ok(byA.length > 0 && byB.length > 0, `both got some: ${byA.length}/${byB.length}`);
  });

  it('an unsupported protocol level gets CONNACK 0x01 before the connection closes (MQTT 3.1.1 §3.1.2.2)', async () => {
    const port = Number(new URL(url).port);
    // CONNECT, protocol name "MQTT", level 6, clean session, keep-alive 10, client id "x".
    const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x0a, 0x00, 0x01, 0x78]);
    const bytes = Buffer.concat([Buffer.from([0x10, variable.length]), variable]);
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const s = tcpConnect(port, '127.0.0.1', () => s.write(bytes));
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
      });
      s.on('close', () => resolve(got));
      s.on('error', reject);
      setTimeout(() => s.destroy(), 3000).unref();
    });
    assert.deepEqual([...answer], [0x20, 0x02, 0x00, 0x01]);
  });

  it('the platform hears each connection come and go, and a take-over is not an outage', () => {
    assert.ok(events.includes('up m5') && events.includes('down w'));
    const gw = events.filter((e) => e.endsWith(' gw'));
    assert.equal(gw.at(-1), 'up gw', `after the take-over the gateway is up: ${gw.join(', ')}`);
  });
});

describe('MQTT front door: acknowledgement once the policy has answered (after the commit)', () => {
  it('PUBACKs wait for the answer and leave in arrival order; a refusal keeps its reason; a failed answer sends no PUBACK and closes', async () => {
    const answers: Array<{ i: number; settle: (o: 'ok' | 'refuse' | 'fail') => void }> = [];
    const d = new MqttFrontDoor({
      host: '127.0.0.1',
      port: 0,
      policy: {
        ...policy,
        publish: (who, topic, payload, qos) => {
          if (!topic.endsWith('/telemetry')) return policy.publish(who, topic, payload, qos);
          const i = (JSON.parse(payload.toString()) as { i: number }).i;
          return new Promise((resolve, reject) => {
            answers.push({
              i,
              settle: (o) => {
                if (o === 'fail') reject(new Error('disk full'));
                else if (o === 'refuse') resolve({ accepted: false, reason: Reason.PAYLOAD_FORMAT_INVALID, message: 'IIP_ERR_TELEMETRY_JSON: refused' });
                else resolve({ accepted: true, forward: false });
              },
            });
          });
        },
      },
    });
    const u = `mqtt://127.0.0.1:${await d.listen()}`;
    try {
      const c = await mqtt.connectAsync(u, { protocolVersion: 5, clientId: 't1/gc', username: 't1/gc', password: 'secret-gc', reconnectPeriod: 0 });
      const acks: string[] = [];
      const sent = Array.from({ length: 20 }, (_, i) =>
        c.publishAsync('iip/t1/gc/telemetry', `{"i":${i}}`, { qos: 1 }).then(
          () => {
            acks.push(`ack ${i}`);
          },
          (e: { code?: number }) => {
            acks.push(`refused ${i} ${e.code}`);
          },
        ),
      );
      await waitFor(() => answers.length === 20, 'the policy to be asked about all 20 readings');
      assert.deepEqual(acks, [], 'nothing acknowledged before the policy answered');
      // Answered last to first: the PUBACKs still leave first to last.
      for (const a of [...answers].reverse()) a.settle(a.i === 7 ? 'refuse' : 'ok');
      await Promise.all(sent);
      assert.deepEqual(
        acks,
        Array.from({ length: 20 }, (_, i) => (i === 7 ? `refused 7 ${Reason.PAYLOAD_FORMAT_INVALID}` : `ack ${i}`)),
        'acknowledged in arrival order, the refusal with its reason code',
      );

      const closed = new Promise<void>((r) => c.once('close', () => r()));
      let acked = 0;
      for (const i of [100, 101]) {
        void c.publishAsync('iip/t1/gc/telemetry', `{"i":${i}}`, { qos: 1 }).then(
          () => {
            acked++;
          },
          () => {},
        );
      }
      await waitFor(() => answers.length === 22, 'the last two readings to reach the policy');
      // The later one is fine, the earlier one fails: neither is acknowledged, the connection closes.
      answers[21]?.settle('ok');
      answers[20]?.settle('fail');
      await closed;
      assert.equal(acked, 0, 'no PUBACK for what was not committed, nor for what came after it');
      c.end(true);
    } finally {
      await d.close();
    }
  });

  it('stops reading from a connection while too many of its PUBLISHes wait for an answer, QoS 0 included', async () => {
    let asked = 0;
    const release: Array<() => void> = [];
    const d = new MqttFrontDoor({
      host: '127.0.0.1',
      port: 0,
      maxPendingPerConnection: 10,
      policy: {
        ...policy,
        publish: () => {
          asked++;
          return new Promise((resolve) => release.push(() => resolve({ accepted: true, forward: false })));
        },
      },
    });
    const u = `mqtt://127.0.0.1:${await d.listen()}`;
    try {
      const c = await mqtt.connectAsync(u, { protocolVersion: 4, clientId: 't1/bp', username: 't1/bp', password: 'secret-bp', reconnectPeriod: 0 });
      const body = 'x'.repeat(1024);
      const total = 4000;
      for (let i = 0; i < total; i++) c.publish('iip/t1/bp/telemetry', body, { qos: 0 });
      await waitFor(() => asked >= 10, 'the first readings');
      // Given time, a server without back-pressure would have read all 4 MB from loopback by now.
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(asked < total, `the server read ${asked} of ${total} messages while none was answered`);
      // Answer everything, as it comes: all of it is read in the end.
      const drain = setInterval(() => {
        for (const r of release.splice(0)) r();
      }, 5);
      try {
        await waitFor(() => asked === total, 'every message to be read once answers flow', 20_000);
      } finally {
        clearInterval(drain);
      }
      for (const r of release.splice(0)) r();
      c.end(true);
    } finally {
      await d.close();
    }
  });

  it('a fleet sending faster than answers come is held to the fleet-wide budget, and every message gets through once they flow (issue 20)', async () => {
    let asked = 0;
    const release: Array<() => void> = [];
    const budget = 100;
    const d = new MqttFrontDoor({
      host: '127.0.0.1',
      port: 0,
      // Each connection alone stays far under its own bounds (receive maximum 1,000, 1 MiB): only the fleet's counts.
      maxPendingTotal: budget,
      policy: {
        ...policy,
        publish: () => {
          asked++;
          return new Promise((resolve) => release.push(() => resolve({ accepted: true, forward: false })));
        },
      },
    });
    const u = `mqtt://127.0.0.1:${await d.listen()}`;
    const fleet: mqtt.MqttClient[] = [];
    try {
      const devices = 40;
      const each = 50;
      for (let i = 0; i < devices; i++) {
        fleet.push(await mqtt.connectAsync(u, { protocolVersion: 4, clientId: `t1/f${i}`, username: `t1/f${i}`, password: `secret-f${i}`, reconnectPeriod: 0 }));
      }
      let acked = 0;
      // Every device sends one QoS 1 reading every 20 ms: 2,000 in all, none answered yet. (Paced so that one read of
      // the server brings a packet or two per connection even on a loaded machine: what crosses the budget is then
      // the packets already in that read.)
      const sent: Array<Promise<unknown>> = [];
      for (let k = 0; k < each; k++) {
        for (const [i, c] of fleet.entries()) {
          const p = c.publishAsync(`iip/t1/f${i}/telemetry`, `{"k":${k}}`, { qos: 1 }).then(() => void acked++);
          // A failed test ends the clients with these outstanding; their rejections are the failure's, not new ones.
          p.catch(() => undefined);
          sent.push(p);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor(() => (d.stats().fleetBudgetPauses ?? 0) > 0, 'the fleet-wide budget to pause reading');
      await new Promise((r) => setTimeout(r, 300));
      const held = d.queueDepths();
      // At the budget each connection stops at the PUBLISH that found it full; what one read had already brought
      // in is handled too (at most a few of these small packets per connection).
      assert.ok(held.inboundPending <= budget + devices * 5, `PUBLISHes read and not answered: ${JSON.stringify(held)}`);
      assert.ok(asked < (devices * each) / 2, `the front door read ${asked} of ${devices * each} while none was answered`);
      assert.ok(held.pausedConnections > devices / 2, `connections paused: ${held.pausedConnections} of ${devices}`);
      // Time passes, nothing is answered: what the devices keep trying to send stays on their side.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(d.queueDepths().inboundPending, held.inboundPending, 'nothing more is read while the budget is full');
      assert.equal(acked, 0);
      // Answers flow again: everything is read and acknowledged, and the budget is empty.
      const drain = setInterval(() => {
        for (const r of release.splice(0)) r();
      }, 5);
      try {
        await Promise.all(sent);
      } finally {
        clearInterval(drain);
      }
      assert.equal(acked, devices * each);
      assert.equal(asked, devices * each);
      await waitFor(() => d.queueDepths().inboundPending === 0 && d.queueDepths().pausedConnections === 0, 'the budget to be empty and reading resumed');
    } finally {
      for (const r of release.splice(0)) r();
      for (const c of fleet) c.end(true);
      await d.close();
    }
  });

  it('a policy that answers authentication later: the packets after CONNECT wait for it, in order', async () => {
    const got: string[] = [];
    const d = new MqttFrontDoor({
      host: '127.0.0.1',
      port: 0,
      policy: {
        ...policy,
        authenticate: (u, p, id) => new Promise((resolve) => setTimeout(() => resolve(policy.authenticate(u, p, id) as ReturnType<typeof policy.authenticate> & object), 20)),
        publish: (who, topic, payload, qos) => {
          got.push(payload.toString());
          return policy.publish(who, topic, payload, qos);
        },
      },
    });
    const u = `mqtt://127.0.0.1:${await d.listen()}`;
    try {
      // CONNECT and two PUBLISHes in one write, before any CONNACK: they must wait for the authentication.
      const bytes = Buffer.concat([
        mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 't1/late', keepalive: 0, username: 't1/late', password: Buffer.from('secret-late') }),
        mqttPacket.generate({ cmd: 'publish', topic: 'iip/t1/late/telemetry', payload: Buffer.from('{"n":0}'), qos: 1, messageId: 1, retain: false, dup: false }),
        mqttPacket.generate({ cmd: 'publish', topic: 'iip/t1/late/telemetry', payload: Buffer.from('{"n":1}'), qos: 1, messageId: 2, retain: false, dup: false }),
      ]);
      const replies: string[] = [];
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (pk: mqttPacket.Packet) => replies.push(pk.cmd === 'puback' ? `puback ${pk.messageId}` : pk.cmd));
      const port = Number(new URL(u).port);
      const sock = tcpConnect(port, '127.0.0.1', () => sock.write(bytes));
      sock.on('data', (b: Buffer) => parser.parse(b));
      await waitFor(() => replies.length === 3, 'CONNACK and two PUBACKs');
      sock.destroy();
      assert.deepEqual(replies, ['connack', 'puback 1', 'puback 2']);
      assert.deepEqual(got, ['{"n":0}', '{"n":1}']);
      const refused = await mqtt
        .connectAsync(u, { protocolVersion: 5, clientId: 't1/late/x', username: 't1/late', password: 'wrong', reconnectPeriod: 0 })
        .then(
          () => 'connected',
          (e: { code?: number }) => `refused ${e.code}`,
        );
      assert.equal(refused, `refused ${Reason.BAD_USER_NAME_OR_PASSWORD}`);
    } finally {
      await d.close();
    }
  });
});

describe('MQTT front door: bounds are counted, not silent', () => {
  it('an offline session ended early for a new one is counted and logged', async () => {
    const logged: string[] = [];
    const d = new MqttFrontDoor({ host: '127.0.0.1', port: 0, maxSessions: 1, policy, log: (_l, msg) => logged.push(msg) });
    const u = `mqtt://127.0.0.1:${await d.listen()}`;
    try {
      const a = await mqtt.connectAsync(u, { protocolVersion: 5, clientId: 't1/ev/a', username: 't1/ev', password: 'secret-ev', reconnectPeriod: 0, properties: { sessionExpiryInterval: 60 } });
      await a.endAsync();
      await waitFor(() => d.stats().connections === 0, 'the first connection to close');
      const b = await mqtt.connectAsync(u, { protocolVersion: 5, clientId: 't1/ev/b', username: 't1/ev', password: 'secret-ev', reconnectPeriod: 0 });
      assert.equal(d.stats().sessionsEvicted, 1);
      assert.ok(logged.some((m) => m.includes('session limit')), logged.join(' | '));
      await b.endAsync();
    } finally {
      await d.close();
    }
  });
});
