/**
 * Handle.Net sessions, the pure parts: setup/exchange-key bodies laid out as Handle.Net's Encoder writes
 * them (bytes built by hand here), the HS_MAC credential and the MAC input, DH key agreement checked
 * against an independent DH computation and the reference's key derivation, the session cipher
 * (IV ‖ CBC ciphertext), RSA-encrypted session keys, and the server's session table (timeouts, replayed
 * counters, bounds).
 */
import assert from 'node:assert/strict';
import { constants, createDecipheriv, createDiffieHellman, createHmac, generateKeyPairSync, getDiffieHellman, privateDecrypt } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  ClientDh,
  DEFAULT_ENVELOPE,
  EncryptAlg,
  type HandleMessage,
  HandleError,
  KeyExchange,
  MacAlg,
  OpCode,
  ResponseCode,
  SessionTable,
  computeSessionMac,
  decodeMacCredential,
  decodeMessage,
  decryptSessionKey,
  decryptSessionMessage,
  encodeMacCredential,
  encodeMessage,
  encodePublicKey,
  encryptSessionKeyFor,
  encryptSessionMessage,
  serverDhAgree,
  sessionKeyFromSecret,
  verifySessionMac,
} from '@iip/identifiers';
import fc from 'fast-check';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u32 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const u16 = (n: number): string => n.toString(16).padStart(4, '0');
const str = (s: string): string => u32(Buffer.byteLength(s)) + Buffer.from(s).toString('hex');
const bytes = (b: Uint8Array): string => u32(b.length) + hex(b);

/** Java BigInteger.toByteArray() of a positive number. */
function javaInt(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const m = Buffer.from(b.subarray(i));
  return ((m[0] as number) & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), m]) : m;
}

/** DH_PUB_KEY bytes written by hand as Util.getBytesFromPublicKey does: type, 2 flag bytes, y, p, g. */
function handDhKey(y: Uint8Array, p: Uint8Array, g: Uint8Array): Buffer {
  const field = (b: Buffer): Buffer => Buffer.concat([Buffer.from(u32(b.length), 'hex'), b]);
  return Buffer.concat([field(Buffer.from('DH_PUB_KEY')), Buffer.alloc(2), field(javaInt(y)), field(javaInt(p)), field(javaInt(g))]);
}

function readField(b: Buffer, at: number): { v: Buffer; next: number } {
  const n = b.readUInt32BE(at);
  return { v: b.subarray(at + 4, at + 4 + n), next: at + 4 + n };
}

function request(opCode: number, body: HandleMessage['body'], sessionId = 0): HandleMessage {
  return { envelope: { ...DEFAULT_ENVELOPE, requestId: 77, sessionId }, header: { opCode, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body };
}

describe('session message bodies (Handle.Net Encoder layouts)', () => {
  test('a DH setup request: mode as 2 bytes, timeout, identity, public key, and the two unused bytes Handle.Net leaves', () => {
    const key = Uint8Array.of(1, 2, 3, 4, 5);
    const m = request(OpCode.SESSION_SETUP, { kind: 'session-setup', keyExchangeMode: KeyExchange.DH, timeout: 3600, identityHandle: '0.NA/88.118', identityIndex: 300, publicKey: key });
    const encoded = encodeMessage(m);
    const body = u16(4) + u32(3600) + str('0.NA/88.118') + u32(300) + bytes(key) + '0000';
    assert.equal(hex(encoded.subarray(20 + 24, 20 + 24 + body.length / 2)), body);
    assert.equal(encoded.readUInt32BE(20 + 20), body.length / 2, 'body length counts the unused two bytes, as Handle.Net sizes it');
    assert.deepEqual(decodeMessage(encoded).body, m.body);
  });

  test('an anonymous CIPHER_SERVER request carries index -1 and no key; CIPHER_HDL names the key by handle and index', () => {
    const anon = encodeMessage(request(OpCode.SESSION_SETUP, { kind: 'session-setup', keyExchangeMode: KeyExchange.CIPHER_SERVER, timeout: 0, identityHandle: '', identityIndex: -1 }));
    assert.equal(hex(anon.subarray(44, anon.length - 4)), u16(2) + u32(0) + u32(0) + 'ffffffff' + '0000');
    const decoded = decodeMessage(anon).body;
    assert.equal(decoded.kind === 'session-setup' && decoded.identityIndex, -1);
    const hdl = encodeMessage(request(OpCode.SESSION_SETUP, { kind: 'session-setup', keyExchangeMode: KeyExchange.CIPHER_HDL, timeout: 60, identityHandle: 'a/b', identityIndex: 1, exchangeKeyHandle: 'k/1', exchangeKeyIndex: 7 }));
    assert.equal(hex(hdl.subarray(44, hdl.length - 4)), u16(3) + u32(60) + str('a/b') + u32(1) + str('k/1') + u32(7) + '0000');
  });

  test('a setup body without the two unused bytes (a tighter encoder) is read the same; other trailing bytes are refused', () => {
    const body = Buffer.from(u16(4) + u32(10) + str('') + 'ffffffff' + bytes(Uint8Array.of(9, 9)), 'hex');
    const build = (b: Buffer): Buffer => {
      const header = Buffer.from(u32(OpCode.SESSION_SETUP) + u32(0) + u32(0) + '0000' + '00' + '00' + u32(0) + u32(b.length), 'hex');
      const envelope = Buffer.from('020a0000' + u32(0) + u32(5) + u32(0) + u32(24 + b.length + 4), 'hex');
      return Buffer.concat([envelope, header, b, Buffer.alloc(4)]);
    };
    const tight = decodeMessage(build(body)).body;
    assert.deepEqual(tight, { kind: 'session-setup', keyExchangeMode: 4, timeout: 10, identityHandle: '', identityIndex: -1, publicKey: Uint8Array.of(9, 9) });
    assert.deepEqual(decodeMessage(build(Buffer.concat([body, Buffer.alloc(2)]))).body, tight);
    assert.throws(() => decodeMessage(build(Buffer.concat([body, Buffer.of(1, 2)]))), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.PROTOCOL_ERROR);
  });

  test('setup response, exchange key and terminate', () => {
    const res: HandleMessage = {
      envelope: { ...DEFAULT_ENVELOPE, requestId: 1, sessionId: 42 },
      header: { opCode: OpCode.SESSION_SETUP, responseCode: ResponseCode.SUCCESS, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'session-setup-response', keyExchangeMode: KeyExchange.DH, data: Uint8Array.of(0, 0, 0, 3, 0xaa) },
    };
    const enc = encodeMessage(res);
    assert.equal(hex(enc.subarray(44, enc.length - 4)), u16(4) + bytes(Uint8Array.of(0, 0, 0, 3, 0xaa)) + '0000');
    assert.deepEqual(decodeMessage(enc), res);
    const xk = encodeMessage(request(OpCode.SESSION_EXCHANGEKEY, { kind: 'session-exchange-key', encryptedKey: Uint8Array.of(7, 8) }, 42));
    assert.equal(hex(xk.subarray(44, xk.length - 4)), bytes(Uint8Array.of(7, 8)));
    const term = encodeMessage(request(OpCode.SESSION_TERMINATE, { kind: 'handle', handle: '/' }, 42));
    assert.equal(hex(term.subarray(44, term.length - 4)), str('/'));
    assert.deepEqual(decodeMessage(term).body, { kind: 'handle', handle: '/' });
  });

  test('round trips of arbitrary setup requests (fast-check)', () => {
    const mode = fc.constantFrom(0, 1, 2, 3, 4);
    fc.assert(
      fc.property(mode, fc.nat(), fc.string({ maxLength: 40 }), fc.integer({ min: -1, max: 0x7fffffff }), fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 20 }), fc.nat(), (m, timeout, handle, index, key, kh, ki) => {
        const body = { kind: 'session-setup' as const, keyExchangeMode: m, timeout, identityHandle: handle, identityIndex: index, ...(m === 1 || m === 4 ? { publicKey: key } : {}), ...(m === 3 ? { exchangeKeyHandle: kh, exchangeKeyIndex: ki } : {}) };
        assert.deepEqual(decodeMessage(encodeMessage(request(OpCode.SESSION_SETUP, body))).body, body);
      }),
    );
  });
});

describe('the HS_MAC credential and the MAC (AbstractMessage.signMessage(byte[]))', () => {
  test('credential bytes: version, reserved, flags, empty signer with the counter as index, "HS_MAC", section, algorithm, MAC', () => {
    const mac = Uint8Array.from({ length: 32 }, (_, i) => i);
    const c = encodeMacCredential({ counter: 5, alg: MacAlg.HMAC_SHA256, mac });
    const section = str('HMAC-SHA256') + bytes(mac);
    assert.equal(hex(c), '00' + '00' + '0000' + u32(0) + u32(5) + str('HS_MAC') + u32(section.length / 2) + section);
    assert.deepEqual(decodeMacCredential(c), { counter: 5, alg: 'HMAC-SHA256', mac });
  });

  test('a credential of another type is INVALID_CREDENTIAL', () => {
    const signed = Buffer.from('00000000' + u32(0) + u32(0) + str('HS_SIGNED') + u32(8) + str('') + u32(0), 'hex');
    assert.throws(() => decodeMacCredential(signed), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.INVALID_CREDENTIAL && /HS_MAC/.test(e.message));
    assert.throws(() => decodeMacCredential(Uint8Array.of(0, 0)), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.INVALID_CREDENTIAL);
  });

  test('the MAC input: version, suggested version from 2.8 (defaulting to the version when the envelope gives 0), ids, counter, header and body', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const hb = Buffer.from('header-and-body');
    const f = { majorVersion: 2, minorVersion: 10, suggestedMajor: 0, suggestedMinor: 0, sessionId: 0x11223344, requestId: 9, counter: 3 };
    const expected210 = createHmac('sha256', key)
      .update(Buffer.from('020a020a' + u32(0x11223344) + u32(9) + u32(3), 'hex'))
      .update(hb)
      .digest();
    assert.equal(hex(computeSessionMac(key, f, hb)), hex(expected210));
    const expected211 = createHmac('sha256', key)
      .update(Buffer.from('020a020b' + u32(0x11223344) + u32(9) + u32(3), 'hex'))
      .update(hb)
      .digest();
    assert.equal(hex(computeSessionMac(key, { ...f, suggestedMajor: 2, suggestedMinor: 11 }, hb)), hex(expected211));
    const expected27 = createHmac('sha256', key)
      .update(Buffer.from('0207' + u32(0x11223344) + u32(9) + u32(3), 'hex'))
      .update(hb)
      .digest();
    assert.equal(hex(computeSessionMac(key, { ...f, minorVersion: 7 }, hb)), hex(expected27));
    const cred = { counter: 3, alg: 'HMAC-SHA256', mac: computeSessionMac(key, f, hb) };
    assert.equal(verifySessionMac(key, f, hb, cred), true);
    assert.equal(verifySessionMac(key, f, Buffer.from('header-and-bodY'), cred), false);
    assert.equal(verifySessionMac(key, { ...f, requestId: 10 }, hb, cred), false);
    assert.equal(verifySessionMac(key, f, hb, { ...cred, counter: 4 }), false, 'the counter is inside the MAC');
  });
});

describe('Diffie–Hellman (HandleServer.doSessionSetup, GenericProvider.getKeyFromDH)', () => {
  test('the server answers a reference-style client (1,024-bit group, large generator): alg 3 + DH_PUB_KEY in the same group; both derive the same AES key', () => {
    const prime = getDiffieHellman('modp2').getPrime();
    const g = Buffer.from('5a17c3b2e4d19f0c8b7a6e5d4c3b2a190817f6e5d4c3b2a1', 'hex');
    const client = createDiffieHellman(prime, g);
    const y = client.generateKeys();
    const { data, sessionKey } = serverDhAgree(handDhKey(y, prime, g), EncryptAlg.AES);
    const d = Buffer.from(data);
    assert.equal(d.readUInt32BE(0), EncryptAlg.AES);
    let f = readField(d, 4);
    assert.equal(f.v.toString(), 'DH_PUB_KEY');
    assert.equal(d.readUInt16BE(f.next), 0, 'two reserved flag bytes');
    const ys = readField(d, f.next + 2);
    const ps = readField(d, ys.next);
    f = readField(d, ps.next);
    assert.equal(f.next, d.length);
    assert.equal(hex(ps.v), hex(javaInt(prime)), 'p as Java writes it (leading 0x00 when the top bit is set)');
    assert.equal(hex(f.v), hex(javaInt(g)));
    const secret = client.computeSecret(ys.v);
    let i = 0;
    while (i + 32 < secret.length && secret[i] === 0) i++;
    assert.equal(hex(sessionKey), hex(secret.subarray(i, i + 32)));
  });

  test('our client and server agree (modp14), and the key depends on the exchange', () => {
    const a = new ClientDh();
    const s = serverDhAgree(a.publicKey);
    const c = a.agree(s.data);
    assert.equal(c.alg, EncryptAlg.AES);
    assert.equal(hex(c.sessionKey), hex(s.sessionKey));
    assert.equal(c.sessionKey.length, 32);
    const s2 = serverDhAgree(a.publicKey);
    assert.notEqual(hex(s2.sessionKey), hex(s.sessionKey));
  });

  test('AES key derivation skips leading zero bytes of the secret; DESede takes 24 bytes with odd parity', () => {
    const secret = Buffer.alloc(128, 0);
    for (let i = 2; i < 128; i++) secret[i] = i;
    assert.equal(hex(sessionKeyFromSecret(secret, EncryptAlg.AES)), hex(secret.subarray(2, 34)));
    const raw = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) raw[i] = i % 2 === 0 ? 0xfe : 0x06;
    const des = sessionKeyFromSecret(raw, EncryptAlg.DESEDE);
    assert.equal(des.length, 24);
    // Odd parity per byte: 0xfe already has seven ones (low bit stays 0); 0x06 has two (low bit set).
    for (let i = 0; i < 24; i++) assert.equal(des[i], i % 2 === 0 ? 0xfe : 0x07);
  });

  test('weak groups and values are refused with SESSION_FAILED', () => {
    const small = createDiffieHellman(512);
    const y = small.generateKeys();
    assert.throws(() => serverDhAgree(handDhKey(y, small.getPrime(), small.getGenerator())), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.SESSION_FAILED && /512-bit/.test(e.message));
    const prime = getDiffieHellman('modp2').getPrime();
    assert.throws(() => serverDhAgree(handDhKey(Uint8Array.of(1), prime, Uint8Array.of(2))), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.SESSION_FAILED);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    assert.throws(() => serverDhAgree(encodePublicKey(rsa)), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.SESSION_FAILED && /DH public key/.test(e.message));
  });
});

describe('session cipher and RSA-encrypted keys', () => {
  test('AES: IV (16) ‖ AES-128-CBC with the first 16 key bytes; DESede: IV (8) ‖ 3DES-CBC', () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef', 'hex');
    const plain = Buffer.from('header, body and credential of a handle message');
    const enc = encryptSessionMessage(EncryptAlg.AES, key, plain);
    const d = createDecipheriv('aes-128-cbc', key.subarray(0, 16), enc.subarray(0, 16));
    assert.equal(Buffer.concat([d.update(enc.subarray(16)), d.final()]).toString(), plain.toString());
    assert.equal(decryptSessionMessage(EncryptAlg.AES, key, enc).toString(), plain.toString());
    const k3 = sessionKeyFromSecret(Buffer.alloc(64, 7), EncryptAlg.DESEDE);
    const e3 = encryptSessionMessage(EncryptAlg.DESEDE, k3, plain);
    const d3 = createDecipheriv('des-ede3-cbc', k3, e3.subarray(0, 8));
    assert.equal(Buffer.concat([d3.update(e3.subarray(8)), d3.final()]).toString(), plain.toString());
    // Cut short (not whole blocks): refused whatever the bytes. (A flipped byte can leave valid padding.)
    assert.throws(() => decryptSessionMessage(EncryptAlg.AES, key, enc.subarray(0, enc.length - 1)), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.SESSION_FAILED);
    assert.throws(() => encryptSessionMessage(EncryptAlg.DES, key, plain), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.SESSION_FAILED && /DES/.test(e.message));
  });

  test('CIPHER_CLIENT: the key travels as alg ‖ 16-byte AES key under RSA PKCS #1 v1.5', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { data, sessionKey } = encryptSessionKeyFor(encodePublicKey(publicKey));
    const em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, data);
    assert.equal(em[0], 0);
    assert.equal(em[1], 2, 'PKCS #1 v1.5 encryption block');
    const m = em.subarray(em.indexOf(0, 2) + 1);
    assert.equal(m.readUInt32BE(0), EncryptAlg.AES);
    assert.equal(hex(m.subarray(4)), hex(sessionKey));
    assert.equal(sessionKey.length, 16);
    assert.deepEqual(decryptSessionKey(privateKey, data), { alg: EncryptAlg.AES, sessionKey });
  });
});

describe('server session table', () => {
  const make = (clock: { t: number }, max?: number) => new SessionTable({ now: () => clock.t, ...(max !== undefined && { maxSessions: max }) });
  const fresh = { keyExchangeMode: KeyExchange.DH, alg: EncryptAlg.AES, key: new Uint8Array(32), claimed: undefined, timeoutSeconds: 60 };

  test('ids are positive 31-bit numbers that avoid reserved ids; an idle session expires after its timeout', () => {
    const clock = { t: 1_000 };
    const t = make(clock);
    const s = t.create(fresh, (id) => id % 2 === 1);
    assert.ok(s.id > 0 && s.id <= 0x7fffffff && s.id % 2 === 0);
    clock.t += 59_000;
    assert.equal(t.get(s.id)?.id, s.id, 'used at 59 s: still there, and the idle clock restarts');
    clock.t += 60_000;
    assert.equal(t.get(s.id)?.id, s.id);
    clock.t += 60_001;
    assert.equal(t.get(s.id), undefined);
  });

  test('the timeout a client asks for is capped; 0 means 24 h', () => {
    const clock = { t: 0 };
    const t = new SessionTable({ now: () => clock.t, maxTimeoutSeconds: 120 });
    assert.equal(t.create({ ...fresh, timeoutSeconds: 10_000 }).timeoutMs, 120_000);
    assert.equal(new SessionTable().create({ ...fresh, timeoutSeconds: 0 }).timeoutMs, 24 * 3600 * 1000);
  });

  test('counters: a repeat is refused, 0 is never checked, and counters older than the last 200 are refused', () => {
    const t = make({ t: 0 });
    const s = t.create(fresh);
    assert.equal(t.acceptCounter(s, 5), true);
    assert.equal(t.acceptCounter(s, 5), false);
    assert.equal(t.acceptCounter(s, 0), true);
    assert.equal(t.acceptCounter(s, 0), true);
    for (let c = 6; c < 300; c++) assert.equal(t.acceptCounter(s, c), true);
    assert.equal(t.acceptCounter(s, 4), false, 'older than every remembered counter');
    assert.equal(t.acceptCounter(s, 5, false), true, 'without uniqueness (the original request of a challenge) it is recorded');
    assert.equal(t.nextReplyCounter(s), 1);
    assert.equal(t.nextReplyCounter(s), 2);
  });

  test('bounded: the least recently used session goes first', () => {
    const clock = { t: 0 };
    const t = make(clock, 2);
    const a = t.create(fresh);
    const b = t.create(fresh);
    t.get(a.id);
    const c = t.create(fresh);
    assert.equal(t.size, 2);
    assert.ok(t.has(a.id) && t.has(c.id) && !t.has(b.id));
  });
});
