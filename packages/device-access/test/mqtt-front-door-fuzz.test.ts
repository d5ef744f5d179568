// Fuzzing the MQTT front door's packet paths, MQTT 5 included: arbitrary bytes, and valid MQTT 3.1.1/5
// sessions (CONNECT with properties, PUBLISH with topic aliases and expiry, SUBSCRIBE with options) with
// bytes flipped, cut or added, sent over real TCP connections. The server never throws, never stops, and a
// well-behaved client connects and publishes after every batch.
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { type FrontDoorPolicy, MqttFrontDoor } from '@iip/device-access';

let accepted = 0;
const policy: FrontDoorPolicy = {
  authenticate: (username, password) => (username === 't/d' && password?.toString() === 'pw' ? { identity: { tenant: 't', device: 'd' } } : { refused: 'credentials', message: 'bad' }),
  publish: (_who, topic) => {
    if (!topic.startsWith('iip/t/d/')) return { accepted: false, reason: 0x87, message: 'IIP_ERR_ACL_DENIED' };
    accepted++;
    return { accepted: true, forward: true };
  },
  mayPublishWill: (_who, topic) => topic.startsWith('iip/t/d/'),
  maySubscribe: (_who, filter) => filter.startsWith('iip/t/d/'),
};

let door: MqttFrontDoor;
let port: number;
before(async () => {
  door = new MqttFrontDoor({ policy, host: '127.0.0.1', port: 0 });
  port = await door.listen();
});
after(async () => {
  await door.close();
});

/** A well-formed session as bytes: CONNECT, then publishes and subscribes, in one protocol version. */
function session(version: 4 | 5, seed: number): Buffer {
  const opts = { protocolVersion: version };
  const packets: mqttPacket.Packet[] = [
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clientId: `t/d/f${seed}`,
      clean: seed % 2 === 0,
      keepalive: 30,
      username: 't/d',
      password: Buffer.from('pw'),
      ...(seed % 3 === 0 && { will: { topic: 'iip/t/d/status', payload: Buffer.from('gone'), qos: 1 as const, retain: false, ...(version === 5 && { properties: { willDelayInterval: 0 } }) } }),
      ...(version === 5 && { properties: { sessionExpiryInterval: seed % 5, receiveMaximum: 10, topicAliasMaximum: 4 } }),
    },
    { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'iip/t/d/commands/#', qos: 1, ...(version === 5 && { nl: true, rap: true, rh: 1 }) }] },
    { cmd: 'publish', topic: 'iip/t/d/telemetry', payload: Buffer.from('{"a":1}'), qos: 1, retain: false, dup: false, messageId: 2, ...(version === 5 && { properties: { topicAlias: 1, messageExpiryInterval: 30, userProperties: { k: 'v' } } }) },
    { cmd: 'publish', topic: version === 5 ? '' : 'iip/t/d/telemetry', payload: Buffer.from('{"a":2}'), qos: 0, retain: false, dup: false, ...(version === 5 && { properties: { topicAlias: 1 } }) },
    { cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['iip/t/d/commands/#'] },
    { cmd: 'pingreq' },
    { cmd: 'disconnect', ...(version === 5 && { reasonCode: 0 }) },
  ];
  return Buffer.concat(packets.map((p) => mqttPacket.generate(p, opts)));
}

function sendAndClose(bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1', () => s.end(bytes));
    s.on('data', () => {});
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    setTimeout(() => {
      s.destroy();
      resolve();
    }, 500).unref();
  });
}

async function stillServes(): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 't/d/check', username: 't/d', password: 'pw', reconnectPeriod: 0, connectTimeout: 2000 });
  const before = accepted;
  await c.publishAsync('iip/t/d/telemetry', '{"ok":1}', { qos: 1 });
  assert.equal(accepted, before + 1);
  await c.endAsync();
}

test('arbitrary bytes and mutated MQTT 3.1.1/5 sessions: the front door answers or closes, and keeps serving', async () => {
  const valid = [session(4, 1), session(5, 2), session(5, 3), session(4, 6)];
  const mutated = fc
    .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), fc.nat(400), fc.uint8Array({ maxLength: 32 }))
    .map(([base, flips, cut, extra]) => {
      const b = Buffer.from(base);
      for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
      return Buffer.concat([b.subarray(0, Math.max(2, Math.min(cut, b.length))), extra]);
    });
  const input = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)), mutated, fc.constantFrom(...valid));
  await fc.assert(
    fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 8 }), async (batch) => {
      await Promise.all(batch.map(sendAndClose));
      await stillServes();
    }),
    { numRuns: 1000 },
  );
  assert.ok(door.stats().protocolErrors > 0, 'malformed input was counted');
});
