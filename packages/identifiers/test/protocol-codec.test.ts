/**
 * The Handle protocol codec: byte layouts built by hand from RFC 3652/3651, encode→decode round trips for
 * every message kind, HandleValue lists and HS_SITE (fast-check), and robustness: arbitrary bytes and
 * mutated valid messages only ever fail with HandleError.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IipError } from '@iip/core';
import {
  DEFAULT_ENVELOPE,
  DigestAlg,
  type HandleMessage,
  type HandleValue,
  type MessageBody,
  type MessageHeader,
  OpCode,
  OpFlag,
  ResponseCode,
  type SiteInfoRecord,
  decodeEnvelope,
  decodeHandleValue,
  decodeMessage,
  decodeSiteInfo,
  encodeHandleValue,
  encodeMessage,
  encodeSiteInfo,
  fromHandleSiteInfo,
  messageSize,
  signChallenge,
  toHandleSiteInfo,
  verifyChallengeAnswer,
} from '@iip/identifiers';
import fc from 'fast-check';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function u32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
function str(s: string): string {
  const b = Buffer.from(s, 'utf8');
  return u32(b.length) + b.toString('hex');
}

describe('byte layouts (RFC 3652 §2.2)', () => {
  test('a resolution request: envelope, header, body, empty credential', () => {
    const msg: HandleMessage = {
      envelope: { ...DEFAULT_ENVELOPE, requestId: 0x01020304, sessionId: 7 },
      header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: (OpFlag.AUTHORITATIVE | OpFlag.PUBLIC_ONLY) >>> 0, siteInfoSerial: 3, recursionCount: 1, expiration: 0x5f000000 },
      body: { kind: 'resolution-request', handle: '88.118.8/PUMP-1', indexes: [1, 2], types: ['URL'] },
    };
    const bytes = encodeMessage(msg);
    const body = str('88.118.8/PUMP-1') + u32(2) + u32(1) + u32(2) + u32(1) + str('URL');
    const bodyLen = body.length / 2;
    const header = u32(1) + u32(0) + u32(0x81000000) + '0003' + '01' + '00' + u32(0x5f000000) + u32(bodyLen);
    const envelope = '02' + '0a' + '00' + '00' + u32(7) + u32(0x01020304) + u32(0) + u32(24 + bodyLen + 4);
    assert.equal(hex(bytes), envelope + header + body + u32(0));
    assert.deepEqual(decodeMessage(bytes), msg);
  });

  test('a handle value: index, timestamp, ttl type, ttl, permissions, type, data, references', () => {
    const v: HandleValue = {
      index: 100,
      type: 'URL',
      data: Buffer.from('http://x'),
      ttlType: 'absolute',
      ttl: 86400,
      timestamp: 0x60000000,
      references: [{ handle: '0.NA/88', index: 200 }],
      permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
    };
    const expected = u32(100) + u32(0x60000000) + '01' + u32(86400) + '0e' + str('URL') + str('http://x') + u32(1) + str('0.NA/88') + u32(200);
    assert.equal(hex(encodeHandleValue(v)), expected);
    assert.deepEqual({ ...decodeHandleValue(encodeHandleValue(v)), data: Buffer.from(decodeHandleValue(encodeHandleValue(v)).data) }, { ...v, data: Buffer.from(v.data) });
  });

  test('an error response and a challenge with a request digest', () => {
    const err = encodeMessage({ envelope: DEFAULT_ENVELOPE, header: { opCode: 1, responseCode: 100, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body: { kind: 'error', message: 'nope' } });
    assert.equal(hex(err.subarray(20 + 24)), str('nope') + u32(0));
    const digest = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(16).fill(5);
    const ch = encodeMessage({ envelope: DEFAULT_ENVELOPE, header: { opCode: 100, responseCode: 402, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body: { kind: 'challenge', nonce }, requestDigest: { alg: DigestAlg.SHA256, digest } });
    // The RD flag is set because a digest is present; the body starts with alg + digest, then the nonce.
    assert.equal(ch.readUInt32BE(20 + 8), OpFlag.REQUEST_DIGEST);
    assert.equal(hex(ch.subarray(44)), '03' + hex(digest) + u32(16) + hex(nonce) + u32(0));
  });

  test('HS_SITE: version, flags, servers with IPv4 in the last four address bytes, interfaces', () => {
    const site: SiteInfoRecord = {
      dataFormatVersion: 1,
      protocolMajor: 2,
      protocolMinor: 10,
      serialNumber: 5,
      primary: true,
      multiPrimary: false,
      hashOption: 0,
      hashFilter: '',
      attributes: [{ name: 'desc', value: 'node' }],
      servers: [{ serverId: 1, address: '127.0.0.1', publicKey: new Uint8Array(0), interfaces: [{ serviceType: 3, protocol: 0, port: 2641 }] }],
    };
    const expected = '0001' + '02' + '0a' + '0005' + '80' + '00' + u32(0) + u32(1) + str('desc') + str('node') + u32(1) + u32(1) + '00'.repeat(12) + '7f000001' + u32(0) + u32(1) + '03' + '00' + u32(2641);
    assert.equal(hex(encodeSiteInfo(site)), expected);
    const back = decodeSiteInfo(encodeSiteInfo(site));
    assert.deepEqual({ ...back, servers: back.servers.map((s) => ({ ...s, publicKey: [...s.publicKey] })) }, { ...site, servers: site.servers.map((s) => ({ ...s, publicKey: [] })) });
    assert.deepEqual(toHandleSiteInfo(back), { primary: true, multiPrimary: false, serialNumber: 5, description: 'node', servers: [{ serverId: 1, address: '127.0.0.1', udpPort: 2641 }] });
    // ::ffff:a.b.c.d is read as IPv4 too; IPv6 text is canonical.
    const v6 = fromHandleSiteInfo({ primary: true, multiPrimary: true, serialNumber: 1, servers: [{ serverId: 2, address: '2001:db8::1', tcpPort: 2641 }] });
    assert.equal(decodeSiteInfo(encodeSiteInfo(v6)).servers[0]?.address, '2001:db8::1');
  });

  test('version 3.x, compressed messages, unknown op codes and over-long handles are typed errors', () => {
    const ok = encodeMessage({ envelope: DEFAULT_ENVELOPE, header: { opCode: 1, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body: { kind: 'resolution-request', handle: 'a/b', indexes: [], types: [] } });
    const v3 = Buffer.from(ok);
    v3[0] = 3;
    assert.throws(() => decodeMessage(v3), (e: unknown) => e instanceof IipError && (e as { responseCode?: number }).responseCode === ResponseCode.PROTOCOL_ERROR);
    const cp = Buffer.from(ok);
    cp[2] = 0x80;
    assert.throws(() => decodeMessage(cp), /not supported/);
    const unknownOp = Buffer.from(ok);
    unknownOp.writeUInt32BE(77, 20);
    assert.throws(() => decodeMessage(unknownOp), (e: unknown) => (e as { responseCode?: number }).responseCode === ResponseCode.OPERATION_NOT_SUPPORTED);
    const longHandle = `a/${'x'.repeat(2000)}`;
    assert.throws(() => encodeMessage({ envelope: DEFAULT_ENVELOPE, header: { opCode: 1, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body: { kind: 'handle', handle: longHandle } }), (e: unknown) => (e as { responseCode?: number }).responseCode === ResponseCode.INVALID_HANDLE);
    // A forged 2 GB length is refused without allocating it.
    const forged = Buffer.from(ok);
    forged.writeUInt32BE(0x7fffffff, 44);
    assert.throws(() => decodeMessage(forged), (e: unknown) => e instanceof IipError);
    assert.throws(() => decodeEnvelope(Buffer.alloc(10)), (e: unknown) => e instanceof IipError);
  });

  test('secret-key answers verify for SHA-1, SHA-256, HMAC-SHA1/256 and fail with the wrong key; MD5 is refused', () => {
    const key = Buffer.from('s3cret');
    const nonce = Buffer.alloc(16, 1);
    const digest = Buffer.alloc(32, 2);
    for (const alg of [DigestAlg.SHA1, DigestAlg.SHA256, DigestAlg.HMAC_SHA1, DigestAlg.HMAC_SHA256]) {
      const signed = signChallenge(key, nonce, digest, alg);
      assert.equal(signed[0], alg);
      assert.equal(verifyChallengeAnswer(signed, key, nonce, digest), true);
      assert.equal(verifyChallengeAnswer(signed, Buffer.from('other'), nonce, digest), false);
      assert.equal(verifyChallengeAnswer(signed, key, Buffer.alloc(16, 3), digest), false);
    }
    const md5 = Buffer.concat([Buffer.from([DigestAlg.MD5]), Buffer.alloc(16)]);
    assert.equal(verifyChallengeAnswer(md5, key, nonce, digest), false);
  });
});

// ---------------------------------------------------------------- arbitraries

const u32a = fc.nat({ max: 0xffffffff });
const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);
const handleA = text(40);
const bytesA = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => new Uint8Array(b));

const valueA: fc.Arbitrary<HandleValue> = fc.record({
  index: u32a,
  type: text(20),
  data: bytesA(64),
  ttlType: fc.constantFrom('relative' as const, 'absolute' as const),
  ttl: u32a,
  timestamp: u32a,
  references: fc.array(fc.record({ handle: handleA, index: u32a }), { maxLength: 3 }),
  permissions: fc.record({ adminRead: fc.boolean(), adminWrite: fc.boolean(), publicRead: fc.boolean(), publicWrite: fc.boolean() }),
});
const valuesA = fc.array(valueA, { maxLength: 5 });

const siteA: fc.Arbitrary<SiteInfoRecord> = fc.record({
  dataFormatVersion: fc.nat({ max: 0xffff }),
  protocolMajor: fc.nat({ max: 255 }),
  protocolMinor: fc.nat({ max: 255 }),
  serialNumber: fc.nat({ max: 0xffff }),
  primary: fc.boolean(),
  multiPrimary: fc.boolean(),
  hashOption: fc.nat({ max: 255 }),
  hashFilter: text(10),
  attributes: fc.array(fc.record({ name: text(10), value: text(20) }), { maxLength: 3 }),
  servers: fc.array(
    fc.record({
      serverId: u32a,
      address: fc.oneof(fc.ipV4(), fc.constantFrom('2001:db8::1', 'fe80::1:2', '1:2:3:4:5:6:7:8')),
      publicKey: bytesA(32),
      interfaces: fc.array(fc.record({ serviceType: fc.nat({ max: 255 }), protocol: fc.nat({ max: 255 }), port: u32a }), { maxLength: 3 }),
    }),
    { maxLength: 3 },
  ),
});

const requestBodyA: fc.Arbitrary<[number, MessageBody]> = fc.oneof(
  fc.record({ handle: handleA, indexes: fc.array(u32a, { maxLength: 4 }), types: fc.array(text(12), { maxLength: 4 }) }).map((b): [number, MessageBody] => [OpCode.RESOLUTION, { kind: 'resolution-request', ...b }]),
  fc.tuple(fc.constantFrom(OpCode.GET_SITE_INFO, OpCode.DELETE_HANDLE, OpCode.LIST_HANDLES, OpCode.HOME_NA, OpCode.UNHOME_NA, OpCode.LIST_HOMED_NAS), handleA).map(([op, handle]): [number, MessageBody] => [op, { kind: 'handle', handle }]),
  fc.tuple(fc.constantFrom(OpCode.CREATE_HANDLE, OpCode.ADD_VALUE, OpCode.MODIFY_VALUE), handleA, valuesA).map(([op, handle, values]): [number, MessageBody] => [op, { kind: 'values', handle, values }]),
  fc.record({ handle: handleA, indexes: fc.array(u32a, { maxLength: 4 }) }).map((b): [number, MessageBody] => [OpCode.REMOVE_VALUE, { kind: 'remove-values', ...b }]),
  fc.record({ authType: text(12), identityHandle: handleA, identityIndex: u32a, signedResponse: bytesA(40) }).map((b): [number, MessageBody] => [OpCode.CHALLENGE_RESPONSE, { kind: 'challenge-answer', ...b }]),
  fc
    .record({ handle: handleA, index: u32a, nonce: bytesA(20), alg: fc.constantFrom(DigestAlg.MD5, DigestAlg.SHA1, DigestAlg.SHA256), signedResponse: bytesA(40) })
    .chain((b) => bytesA(0).map(() => b))
    .map((b): [number, MessageBody] => [OpCode.VERIFY_RESPONSE, { kind: 'verify-request', handle: b.handle, index: b.index, nonce: b.nonce, digestAlg: b.alg, requestDigest: new Uint8Array(b.alg === DigestAlg.MD5 ? 16 : b.alg === DigestAlg.SHA1 ? 20 : 32).fill(7), signedResponse: b.signedResponse }]),
);

const responseA: fc.Arbitrary<[number, number, MessageBody]> = fc.oneof(
  fc.tuple(handleA, valuesA).map(([handle, values]): [number, number, MessageBody] => [OpCode.RESOLUTION, 1, { kind: 'resolution-response', handle, values }]),
  siteA.map((site): [number, number, MessageBody] => [OpCode.GET_SITE_INFO, 1, { kind: 'site-info', site }]),
  fc.tuple(fc.constantFrom(OpCode.LIST_HANDLES, OpCode.LIST_HOMED_NAS), fc.array(handleA, { maxLength: 5 })).map(([op, handles]): [number, number, MessageBody] => [op, 1, { kind: 'handle-list', handles }]),
  fc.boolean().map((valid): [number, number, MessageBody] => [OpCode.VERIFY_RESPONSE, 1, { kind: 'verify-response', valid }]),
  handleA.map((handle): [number, number, MessageBody] => [OpCode.CREATE_HANDLE, 1, { kind: 'created', handle }]),
  fc.constantFrom(OpCode.DELETE_HANDLE, OpCode.ADD_VALUE, OpCode.REMOVE_VALUE, OpCode.MODIFY_VALUE, OpCode.HOME_NA, OpCode.UNHOME_NA, OpCode.CREATE_HANDLE).map((op): [number, number, MessageBody] => [op, 1, { kind: 'empty' }]),
  fc.tuple(fc.constantFrom(OpCode.CREATE_HANDLE, OpCode.DELETE_HANDLE), bytesA(32)).map(([op, nonce]): [number, number, MessageBody] => [op, 402, { kind: 'challenge', nonce }]),
  fc.tuple(fc.constantFrom(302, 303), handleA, fc.option(valuesA, { nil: undefined })).map(([rc, handle, values]): [number, number, MessageBody] => [1, rc, values ? { kind: 'referral', handle, values } : { kind: 'referral', handle }]),
  fc.tuple(fc.constantFrom(2, 4, 100, 101, 102, 200, 301, 403), text(40)).map(([rc, message]): [number, number, MessageBody] => [1, rc, { kind: 'error', message }]),
);

const envelopeA = fc.record({
  majorVersion: fc.constant(2),
  minorVersion: fc.nat({ max: 255 }),
  compressed: fc.constant(false),
  encrypted: fc.constant(false),
  truncated: fc.constant(false),
  suggestedMajor: fc.nat({ max: 3 }),
  suggestedMinor: fc.nat({ max: 255 }),
  sessionId: u32a,
  requestId: u32a,
  sequenceNumber: u32a,
});
const headerRestA = fc.record({ opFlags: u32a, siteInfoSerial: fc.nat({ max: 0xffff }), recursionCount: fc.nat({ max: 255 }), expiration: u32a });
const credentialA = fc.option(fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => new Uint8Array(b)), { nil: undefined });

const messageA: fc.Arbitrary<HandleMessage> = fc.oneof(
  fc.tuple(envelopeA, headerRestA, requestBodyA, credentialA).map(([envelope, h, [opCode, body], credential]): HandleMessage => ({
    envelope,
    header: { ...h, opCode, responseCode: 0 },
    body,
    ...(credential && { credential }),
  })),
  fc.tuple(envelopeA, headerRestA, responseA, fc.option(fc.constantFrom(DigestAlg.SHA1, DigestAlg.SHA256), { nil: undefined }), credentialA).map(([envelope, h, [opCode, responseCode, body], alg, credential]): HandleMessage => {
    const header: MessageHeader = { ...h, opCode, responseCode, opFlags: alg ? (h.opFlags | OpFlag.REQUEST_DIGEST) >>> 0 : (h.opFlags & ~OpFlag.REQUEST_DIGEST) >>> 0 };
    return { envelope, header, body, ...(alg && { requestDigest: { alg, digest: new Uint8Array(alg === DigestAlg.SHA1 ? 20 : 32).fill(1) } }), ...(credential && { credential }) };
  }),
);

/** deepEqual treats Buffer and Uint8Array differently; compare through JSON with bytes as arrays. */
function canon(x: unknown): string {
  return JSON.stringify(x, (_k, v) => {
    if (v instanceof Uint8Array) return { bytes: [...v] };
    if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    return v;
  });
}

function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof IipError)) throw e;
  }
}

describe('round trips (fast-check)', () => {
  test('every message kind: decode(encode(m)) = m, and messageSize is the encoded length', () => {
    fc.assert(
      fc.property(messageA, (m) => {
        const bytes = encodeMessage(m);
        assert.equal(bytes.length, messageSize(m));
        assert.equal(canon(decodeMessage(bytes)), canon(m));
      }),
      { numRuns: 2000 },
    );
  });

  test('handle values and HS_SITE records', () => {
    fc.assert(fc.property(valueA, (v) => assert.equal(canon(decodeHandleValue(encodeHandleValue(v))), canon(v))), { numRuns: 1000 });
    fc.assert(
      fc.property(siteA, (s) => {
        // Addresses come back canonical; compare what the text means, not how it was spelt.
        const back = decodeSiteInfo(encodeSiteInfo(s));
        assert.equal(canon(encodeSiteInfo(back)), canon(encodeSiteInfo(s)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('robustness (fast-check)', () => {
  test('arbitrary bytes only ever fail with typed errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        onlyTypedErrors(() => decodeMessage(Buffer.from(b)));
        onlyTypedErrors(() => decodeSiteInfo(b));
        onlyTypedErrors(() => decodeHandleValue(b));
      }),
      { numRuns: 5000 },
    );
  });

  test('arbitrary bytes behind a valid envelope and header only ever fail with typed errors', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2, 100, 101, 102, 103, 104, 105, 200, 201, 300, 301, 302, 77), fc.constantFrom(0, 1, 302, 402, 100), fc.nat(), fc.uint8Array({ maxLength: 200 }), (op, rc, flags, body) => {
        const buf = Buffer.alloc(44 + body.length);
        buf[0] = 2;
        buf[1] = 10;
        buf.writeUInt32BE(24 + body.length, 16);
        buf.writeUInt32BE(op, 20);
        buf.writeUInt32BE(rc, 24);
        buf.writeUInt32BE(flags >>> 0, 28);
        buf.writeUInt32BE(body.length, 40);
        buf.set(body, 44);
        onlyTypedErrors(() => decodeMessage(buf));
      }),
      { numRuns: 5000 },
    );
  });

  test('mutated valid messages (bit flips, truncation, extended lengths) only ever fail with typed errors', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.constantFrom(0xffffffff, 0x7fffffff, 0x10000, 1, 0) }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(messageA, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, muts) => {
        let b = Buffer.from(encodeMessage(m));
        for (const mu of muts) {
          if (b.length === 0) break;
          if (mu.kind === 'flip') b[mu.at % b.length] = ((b[mu.at % b.length] as number) ^ (1 << mu.bit)) & 0xff;
          else if (mu.kind === 'cut') b = b.subarray(0, mu.at % b.length);
          else if (mu.kind === 'length' && b.length >= 4) b.writeUInt32BE(mu.value, Math.min(mu.at % b.length, b.length - 4));
          else if (mu.kind === 'append') b = Buffer.concat([b, mu.extra]);
        }
        onlyTypedErrors(() => decodeMessage(b));
      }),
      { numRuns: 3000 },
    );
  });
});
