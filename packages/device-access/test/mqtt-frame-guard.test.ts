/**
 * The MQTT 3.1.1 checks of the front door (issue 10, point 7) on bytes written by hand from the standard, and
 * fast-check properties of the frame guard: any split of the byte stream gives the same result, a valid
 * stream passes through unchanged, and no input makes it throw or hold more than one packet's checked part.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientIdAllowed, inspectConnect, MqttFrameGuard, validTopicName, validUtf8String } from '@iip/device-access';
import fc from 'fast-check';

function field(b: Uint8Array | string): Buffer {
  const bytes = typeof b === 'string' ? Buffer.from(b) : Buffer.from(b);
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

function frame(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

/** CONNECT variable header and payload (§3.1.2, §3.1.3). */
function connectBody(o: { name?: string; level?: number; flags?: number; clientId?: Uint8Array | string; will?: [Uint8Array | string, string]; user?: string; pass?: string } = {}): Buffer {
  const parts = [field(o.name ?? 'MQTT'), Buffer.from([o.level ?? 4, o.flags ?? 0xc2, 0, 60]), field(o.clientId ?? 'default/d1')];
  if (o.will) parts.push(field(o.will[0]), field(o.will[1]));
  if (o.user !== undefined) parts.push(field(o.user));
  if (o.pass !== undefined) parts.push(field(o.pass));
  return Buffer.concat(parts);
}

const CONNECT = frame(0x10, connectBody({ user: 'default/d1', pass: 's' }));
const publish = (topic: Uint8Array | string, payload: Buffer, qos = 1) => frame(0x30 | (qos << 1), Buffer.concat([field(topic), qos ? Buffer.from([0, 7]) : Buffer.alloc(0), payload]));

function feedAll(chunks: Buffer[]): { out: Buffer; violation: string | undefined } {
  const g = new MqttFrameGuard();
  const out: Buffer[] = [];
  let violation: string | undefined;
  for (const c of chunks) {
    const r = g.feed(c);
    out.push(...r.forward);
    if (r.violation) {
      violation = r.violation.reason;
      break;
    }
  }
  return { out: Buffer.concat(out), violation };
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

describe('UTF-8 strings and topic names (§1.5.3, §4.7)', () => {
  test('well-formed UTF-8 passes; ill-formed, surrogates, overlong forms and U+0000 do not', () => {
    assert.equal(validUtf8String(Buffer.from('iip/默认/设备-1/telemetry ✓')), true);
    for (const bad of [[0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x00]]) {
      assert.equal(validUtf8String(Buffer.from([0x61, ...bad, 0x62])), false, Buffer.from(bad).toString('hex'));
    }
  });
  test('a topic name is not empty and has no wildcard', () => {
    assert.equal(validTopicName(Buffer.from('a/b')), true);
    for (const t of ['', 'a/+', 'a/#', '#']) assert.equal(validTopicName(Buffer.from(t)), false, t);
  });
});

describe('CONNECT (§3.1)', () => {
  test('MQTT 3.1.1 and 3.1 pass; other levels get CONNACK 0x01', () => {
    assert.deepEqual(inspectConnect(connectBody({ user: 'u', pass: 'p' })), { ok: true });
    assert.deepEqual(inspectConnect(connectBody({ name: 'MQIsdp', level: 3, user: 'u', pass: 'p' })), { ok: true });
    for (const level of [0, 2, 5, 6, 255]) {
      const v = inspectConnect(connectBody({ level, user: 'u', pass: 'p' }));
      assert.equal(v.ok, false);
      assert.equal(!v.ok && v.connack, 0x01, `level ${level}`);
    }
    assert.equal(inspectConnect(connectBody({ name: 'MQIsdp', level: 4, user: 'u', pass: 'p' })).ok, false);
  });
  test('a level the caller adds (MQTT 5, say) passes the header checks', () => {
    assert.deepEqual(inspectConnect(connectBody({ level: 5, user: 'u', pass: 'p' }), { MQTT: [4, 5] }), { ok: true });
  });
  test('will QoS 3, will bits without a will, the reserved bit, a password without user name: closed without CONNACK', () => {
    const will: [string, string] = ['iip/t/d/events', 'gone'];
    const cases: Array<[string, Buffer]> = [
      ['will QoS 3', connectBody({ flags: 0xc2 | 0x04 | 0x18, will, user: 'u', pass: 'p' })],
      ['will QoS without will', connectBody({ flags: 0xc2 | 0x08, user: 'u', pass: 'p' })],
      ['will retain without will', connectBody({ flags: 0xc2 | 0x20, user: 'u', pass: 'p' })],
      ['reserved bit', connectBody({ flags: 0xc3, user: 'u', pass: 'p' })],
      ['password without user name', connectBody({ flags: 0x42, pass: 'p' })],
      ['will topic with a wildcard', connectBody({ flags: 0xc2 | 0x04, will: ['a/#', 'x'], user: 'u', pass: 'p' })],
      ['will topic with ill-formed UTF-8', connectBody({ flags: 0xc2 | 0x04, will: [Buffer.from([0x61, 0xfe]), 'x'], user: 'u', pass: 'p' })],
      ['client id with ill-formed UTF-8', connectBody({ clientId: Buffer.from([0xc3]), user: 'u', pass: 'p' })],
      ['trailing bytes', Buffer.concat([connectBody({ user: 'u', pass: 'p' }), Buffer.from([0])])],
      ['truncated', connectBody({ user: 'u', pass: 'p' }).subarray(0, 14)],
    ];
    for (const [what, body] of cases) {
      const v = inspectConnect(body);
      assert.equal(v.ok, false, what);
      assert.equal(!v.ok && v.connack, undefined, what);
    }
    assert.deepEqual(inspectConnect(connectBody({ flags: 0xc2 | 0x04 | 0x10, will, user: 'u', pass: 'p' })), { ok: true }, 'will QoS 2 is fine');
  });
  test('an empty client id needs clean session (§3.1.3-8): CONNACK 0x02 otherwise', () => {
    assert.deepEqual(inspectConnect(connectBody({ clientId: '', user: 'u', pass: 'p' })), { ok: true });
    const v = inspectConnect(connectBody({ clientId: '', flags: 0xc0, user: 'u', pass: 'p' }));
    assert.equal(!v.ok && v.connack, 0x02);
  });
});

describe('client ids belong to their device', () => {
  const me = { tenant: 'default', device: 'm1' };
  test("its own name or a name under it is used as sent; a bare id is scoped; another device's id is refused", () => {
    assert.deepEqual(clientIdAllowed(me, 'default/m1'), { ok: true, sessionId: 'default/m1' });
    assert.deepEqual(clientIdAllowed(me, 'default/m1/line-2'), { ok: true, sessionId: 'default/m1/line-2' });
    assert.deepEqual(clientIdAllowed(me, 'mosq-abc'), { ok: true, sessionId: 'default/m1/mosq-abc' });
    for (const other of ['default/m2', 'default/m1x', 'other/m1', 'default/m10/x', 'a/b']) assert.equal(clientIdAllowed(me, other).ok, false, other);
    const fresh = clientIdAllowed(me, '');
    assert.ok(fresh.ok && fresh.sessionId.startsWith('default/m1/'));
  });
  test('no two devices ever get the same session id', () => {
    const device = fc.stringMatching(/^[a-z0-9-]{1,6}$/);
    fc.assert(
      fc.property(device, device, fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b, idA, idB) => {
        fc.pre(a !== b);
        const x = clientIdAllowed({ tenant: 't', device: a }, idA);
        const y = clientIdAllowed({ tenant: 't', device: b }, idB);
        return !(x.ok && y.ok && x.sessionId === y.sessionId);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the frame guard', () => {
  test('a valid stream passes unchanged, however it is split', () => {
    const stream = Buffer.concat([
      CONNECT,
      publish('iip/default/d1/telemetry', Buffer.alloc(3000, 0x41)),
      frame(0x82, Buffer.concat([Buffer.from([0, 2]), field('iip/default/d1/#'), Buffer.from([1])])),
      publish('iip/default/d1/telemetry', Buffer.from('{}'), 0),
      Buffer.from([0xc0, 0x00]), // PINGREQ
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
        const r = feedAll(split(stream, cuts));
        return r.violation === undefined && r.out.equals(stream);
      }),
      { numRuns: 500 },
    );
  });

  test('a bad topic stops the stream at that packet, however it is split; what came before passes', () => {
    const good = publish('iip/default/d1/telemetry', Buffer.from('{"a":1}'));
    const bad = publish(Buffer.from([0x69, 0xff]), Buffer.from('{"a":2}'));
    const stream = Buffer.concat([CONNECT, good, bad, good]);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const r = feedAll(split(stream, cuts));
        return r.violation !== undefined && r.out.equals(Buffer.concat([CONNECT, good]));
      }),
      { numRuns: 300 },
    );
  });

  test('a payload is never held back: the topic is checked and the rest flows', () => {
    const g = new MqttFrameGuard();
    g.feed(CONNECT);
    const p = publish('iip/default/d1/telemetry', Buffer.alloc(100_000, 0x42));
    const head = g.feed(p.subarray(0, 40));
    assert.equal(Buffer.concat(head.forward).length, 40);
  });

  test('a large SUBSCRIBE arriving byte by byte is joined once, not once per byte', () => {
    const filters = Array.from({ length: 3000 }, (_, i) => Buffer.concat([field(`iip/default/d1/devices/plc-${i}/${'x'.repeat(80)}`), Buffer.from([1])]));
    const sub = frame(0x82, Buffer.concat([Buffer.from([0, 3]), ...filters]));
    assert.ok(sub.length > 250_000);
    const g = new MqttFrameGuard();
    g.feed(CONNECT);
    const out: Buffer[] = [];
    const t0 = performance.now();
    for (let i = 0; i < sub.length; i++) out.push(...g.feed(sub.subarray(i, i + 1)).forward);
    assert.ok(Buffer.concat(out).equals(sub));
    assert.ok(performance.now() - t0 < 5000, 'linear, not quadratic, in the packet size');
  });

  test('the first packet must be CONNECT, and only one CONNECT', () => {
    assert.ok(feedAll([Buffer.from([0xc0, 0x00])]).violation);
    assert.ok(feedAll([Buffer.concat([CONNECT, CONNECT])]).violation);
  });

  test('a remaining length of more than four bytes is malformed (§2.2.3)', () => {
    assert.ok(feedAll([Buffer.concat([CONNECT, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])])]).violation);
  });

  test('arbitrary bytes never make it throw, and it never forwards more than it was given', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), fc.boolean(), (chunks, withConnect) => {
        const input = [...(withConnect ? [CONNECT] : []), ...chunks.map((c) => Buffer.from(c))];
        const r = feedAll(input);
        return r.out.length <= input.reduce((n, c) => n + c.length, 0) && Buffer.concat(input).subarray(0, r.out.length).equals(r.out);
      }),
      { numRuns: 3000 },
    );
  });
});
