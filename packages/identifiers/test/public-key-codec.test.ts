/**
 * Public keys in the Handle encodings, HS_PUBKEY challenge answers and signed (certified) messages, checked
 * against byte layouts written out by hand from Handle.Net's Util.getBytesFromPublicKey /
 * getBytesFromPrivateKey / encrypt, PublicKeyAuthenticationInfo.authenticate and AbstractMessage.signMessage,
 * with signatures checked independently through node:crypto. Property tests: round trips, Java's
 * BigInteger reading (leading zeros do not matter), and that malformed bytes only ever fail with HandleError.
 */
import assert from 'node:assert/strict';
import { type KeyPairKeyObjectResult, createDecipheriv, createPublicKey, generateKeyPairSync, pbkdf2Sync, sign, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CredentialType,
  DEFAULT_ENVELOPE,
  HandleError,
  KeyEncoding,
  OpCode,
  OpFlag,
  ResponseCode,
  checkSignedMessage,
  decodeCredential,
  decodeMessage,
  decodePrivateKey,
  decodePrivateKeyFile,
  decodePublicKey,
  defaultSignatureHash,
  encodeCredential,
  encodeMessage,
  encodePrivateKey,
  encodePrivateKeyFile,
  encodePublicKey,
  keyFileNeedsPassphrase,
  signChallengeWithKey,
  signEncodedMessage,
  signedEnvelopePrefix,
  verifyPublicKeyAnswer,
  verifySignedMessage,
} from '@iip/identifiers';
import fc from 'fast-check';

const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const field = (b: Uint8Array): Buffer => Buffer.concat([u32(b.length), b]);
const str = (s: string): Buffer => field(Buffer.from(s, 'latin1'));
/** Java BigInteger.toByteArray of a positive magnitude. */
const javaInt = (m: Uint8Array): Buffer => ((m[0] as number) & 0x80 ? Buffer.concat([Buffer.of(0), m]) : Buffer.from(m));
const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');

/** The length-prefixed fields of key bytes after `skip` bytes. */
function fields(b: Uint8Array, skip: number): Buffer[] {
  const buf = Buffer.from(b);
  const out: Buffer[] = [];
  for (let at = skip; at < buf.length; ) {
    const n = buf.readUInt32BE(at);
    out.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

const isHandleError = (code: number) => (e: unknown) => e instanceof HandleError && e.responseCode === code;

describe('public keys (HS_PUBKEY and HS_SITE server keys)', () => {
  test('RSA: "RSA_PUB_KEY", two zero flag bytes, public exponent, then modulus, as Java writes big integers', () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    const expected = Buffer.concat([str('RSA_PUB_KEY'), Buffer.of(0, 0), field(javaInt(b64u(jwk.e))), field(javaInt(b64u(jwk.n)))]);
    const bytes = encodePublicKey(rsa.publicKey);
    assert.equal(Buffer.from(bytes).toString('hex'), expected.toString('hex'));
    // A 2048-bit modulus has its top bit set: Java writes 257 bytes with a leading 0.
    assert.equal(fields(bytes, 4 + 11 + 2)[1]?.length, 257);
    assert.ok(decodePublicKey(expected).equals(rsa.publicKey));
    // The private key encodes its public half.
    assert.deepEqual(encodePublicKey(rsa.privateKey), bytes);
  });

  test('DSA: "DSA_PUB_KEY", flags, then q, p, g, y — q is the 256-bit one, and a signature verifies with the decoded key', () => {
    const bytes = encodePublicKey(dsa.publicKey);
    assert.equal(Buffer.from(bytes.subarray(0, 4 + 11)).toString('latin1').slice(4), 'DSA_PUB_KEY');
    assert.deepEqual([...bytes.subarray(15, 17)], [0, 0]);
    const [q, p, g, y] = fields(bytes, 17) as [Buffer, Buffer, Buffer, Buffer];
    assert.ok(q.length === 32 || q.length === 33, `q first (${q.length} bytes)`);
    assert.equal(p.length, 257, 'p is 2048 bits with the top bit set');
    assert.ok(g.length <= 257 && y.length <= 257);
    const key = decodePublicKey(bytes);
    assert.ok(key.equals(dsa.publicKey));
    const sig = sign('sha1', Buffer.from('hello'), dsa.privateKey);
    assert.ok(verify('sha1', Buffer.from('hello'), key, sig));
    // The same integers in the wrong order are not this key.
    const swapped = Buffer.concat([Buffer.from(bytes.subarray(0, 17)), field(p), field(q), field(g), field(y)]);
    assert.throws(() => {
      const k = decodePublicKey(swapped);
      if (!verify('sha1', Buffer.from('hello'), k, sig)) throw new HandleError(ResponseCode.INVALID_VALUE, 'wrong key');
    }, HandleError);
  });

  test('DH: "DH_PUB_KEY", flags, then y, p, g (what session set-up carries)', () => {
    // node generates DH key objects, but @types/node has no overload for 'dh'.
    const generate = generateKeyPairSync as unknown as (type: string, opts: object) => KeyPairKeyObjectResult;
    const dh = generate('dh', { group: 'modp14' });
    const bytes = encodePublicKey(dh.publicKey);
    assert.equal(Buffer.from(bytes.subarray(4, 14)).toString('latin1'), 'DH_PUB_KEY');
    const [, p, g] = fields(bytes, 16) as [Buffer, Buffer, Buffer];
    assert.equal(p.length, 257);
    assert.deepEqual([...g], [2]);
    assert.ok(decodePublicKey(bytes).equals(dh.publicKey));
  });

  test('leading zero bytes in any integer do not change the key (Java reads them as unsigned magnitudes)', () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    fc.assert(
      fc.property(fc.nat(8), fc.nat(8), (ze, zn) => {
        const bytes = Buffer.concat([str('RSA_PUB_KEY'), Buffer.of(0, 0), field(Buffer.concat([Buffer.alloc(ze), b64u(jwk.e)])), field(Buffer.concat([Buffer.alloc(zn), b64u(jwk.n)]))]);
        return decodePublicKey(bytes).equals(rsa.publicKey);
      }),
      { numRuns: 30 },
    );
  });

  test('malformed bytes: HandleError INVALID_VALUE naming the field, never another error', () => {
    const good = Buffer.from(encodePublicKey(rsa.publicKey));
    assert.throws(() => decodePublicKey(good.subarray(0, 30)), (e: unknown) => isHandleError(ResponseCode.INVALID_VALUE)(e) && /modulus|exponent/.test((e as Error).message));
    assert.throws(() => decodePublicKey(Buffer.concat([good, Buffer.of(1)])), /unexpected bytes/);
    assert.throws(() => decodePublicKey(Buffer.concat([str('EC_PUB_KEY'), Buffer.of(0, 0)])), /unknown key type "EC_PUB_KEY"/);
    assert.throws(() => decodePublicKey(Buffer.concat([str('RSA_PUB_KEY'), Buffer.of(0, 0), field(Buffer.of(0)), field(Buffer.of(5))])), /zero/);
    assert.throws(() => decodePublicKey(Buffer.concat([str('RSA_PUB_KEY'), Buffer.of(0, 0), u32(0xffffffff)])), isHandleError(ResponseCode.INVALID_VALUE));
    const dsaBytes = Buffer.from(encodePublicKey(dsa.publicKey));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([at, v, rsaKey]) => {
        const b = Buffer.from(rsaKey ? good : dsaBytes);
        const i = at % b.length;
        b[i] = v;
        return rsaKey && at % 3 === 0 ? b.subarray(0, i) : b;
      })), (bytes) => {
        try {
          decodePublicKey(bytes);
        } catch (e) {
          assert.ok(e instanceof HandleError && e.responseCode === ResponseCode.INVALID_VALUE, String(e));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('private keys and key files', () => {
  test('DSA_PRIV_KEY: x, p, q, g without flag bytes; round trip signs like the original', () => {
    const bytes = encodePrivateKey(dsa.privateKey);
    assert.equal(Buffer.from(bytes.subarray(4, 16)).toString('latin1'), KeyEncoding.DSA_PRIVATE);
    const [x, p, q] = fields(bytes, 16) as [Buffer, Buffer, Buffer];
    assert.ok(x.length <= 33 && q.length <= 33 && p.length === 257, 'x (small), p (2048 bits), q (256 bits)');
    const key = decodePrivateKey(bytes);
    assert.ok(key.equals(dsa.privateKey));
    assert.ok(createPublicKey(key).equals(dsa.publicKey));
  });

  test('RSA_PRIVCRT_KEY: n, e, d, p, q, dP, dQ, qInv; RSA_PRIV_KEY (no CRT parts) is refused with the way out', () => {
    const bytes = encodePrivateKey(rsa.privateKey);
    const j = rsa.privateKey.export({ format: 'jwk' });
    const expected = Buffer.concat([str('RSA_PRIVCRT_KEY'), ...[j.n, j.e, j.d, j.p, j.q, j.dp, j.dq, j.qi].map((v) => field(javaInt(b64u(v))))]);
    assert.equal(Buffer.from(bytes).toString('hex'), expected.toString('hex'));
    assert.ok(decodePrivateKey(bytes).equals(rsa.privateKey));
    const bare = Buffer.concat([str('RSA_PRIV_KEY'), field(javaInt(b64u(j.n))), field(javaInt(b64u(j.d)))]);
    assert.throws(() => decodePrivateKey(bare), /RSA_PRIVCRT_KEY/);
  });

  test('unencrypted key file: scheme 1 then the key bytes', () => {
    const file = encodePrivateKeyFile(rsa.privateKey);
    assert.deepEqual([...file.subarray(0, 4)], [0, 0, 0, 1]);
    assert.deepEqual(file.subarray(4), encodePrivateKey(rsa.privateKey));
    assert.equal(keyFileNeedsPassphrase(file), false);
    assert.ok(decodePrivateKeyFile(file).equals(rsa.privateKey));
  });

  test('encrypted key file: scheme 4, salt, 10,000 PBKDF2-HMAC-SHA1 iterations, 128-bit AES-CBC; decrypts independently', () => {
    const file = Buffer.from(encodePrivateKeyFile(dsa.privateKey, 'correct horse'));
    assert.equal(file.readUInt32BE(0), 4);
    const [salt] = fields(file.subarray(4, 8 + 16), 0) as [Buffer];
    assert.equal(salt.length, 16);
    assert.equal(file.readUInt32BE(24), 10_000);
    assert.equal(file.readUInt32BE(28), 128);
    assert.equal(file.readUInt32BE(32), 16);
    const iv = file.subarray(36, 52);
    const ct = file.subarray(56, 56 + file.readUInt32BE(52));
    assert.equal(56 + ct.length, file.length);
    const key = pbkdf2Sync('correct horse', salt, 10_000, 16, 'sha1');
    const d = createDecipheriv('aes-128-cbc', key, iv);
    assert.deepEqual(new Uint8Array(Buffer.concat([d.update(ct), d.final()])), encodePrivateKey(dsa.privateKey));
    assert.equal(keyFileNeedsPassphrase(file), true);
    assert.ok(decodePrivateKeyFile(file, 'correct horse').equals(dsa.privateKey));
    assert.throws(() => decodePrivateKeyFile(file, 'wrong'), isHandleError(ResponseCode.AUTHENTICATION_FAILED));
    assert.throws(() => decodePrivateKeyFile(file), /passphrase/);
    // A passphrase byte ≥ 0x80 counts as two bytes (Java hashes the widened chars as UTF-8).
    const latin = Buffer.from(encodePrivateKeyFile(rsa.privateKey, Buffer.of(0x70, 0xe9)));
    const lsalt = latin.subarray(8, 24);
    const lkey = pbkdf2Sync(Buffer.of(0x70, 0xc3, 0xa9), lsalt, 10_000, 16, 'sha1');
    const ld = createDecipheriv('aes-128-cbc', lkey, latin.subarray(36, 52));
    assert.deepEqual(new Uint8Array(Buffer.concat([ld.update(latin.subarray(56)), ld.final()])), encodePrivateKey(rsa.privateKey));
  });

  test('the obsolete DES key-file schemes are refused by name', () => {
    assert.throws(() => decodePrivateKeyFile(Buffer.concat([u32(2), Buffer.alloc(24)]), 'x'), /scheme 2 is not supported/);
  });
});

describe('HS_PUBKEY challenge answers', () => {
  const nonce = Buffer.from('0123456789abcdef');
  const digest = Buffer.alloc(32, 7);

  test('layout: hash name then signature, each length-prefixed; the signature covers nonce ‖ digest', () => {
    for (const [pair, hash, name, nodeHash] of [
      [rsa, undefined, 'SHA-256', 'sha256'],
      [dsa, undefined, 'SHA1', 'sha1'],
      [rsa, 'SHA1', 'SHA1', 'sha1'],
      [dsa, 'SHA256', 'SHA-256', 'sha256'],
    ] as const) {
      const answer = Buffer.from(signChallengeWithKey(pair.privateKey, nonce, digest, hash));
      const [alg, sig] = fields(answer, 0) as [Buffer, Buffer];
      assert.equal(alg.toString('latin1'), name);
      assert.equal(answer.length, 8 + alg.length + sig.length);
      assert.ok(verify(nodeHash, Buffer.concat([nonce, digest]), pair.publicKey, sig), `${name} signature over nonce ‖ digest`);
      assert.ok(verifyPublicKeyAnswer(answer, pair.publicKey, nonce, digest));
    }
  });

  test('the other names Handle.Net reads ("SHA-1", "SHA256", digest codes 2/3) are accepted; MD5 and unknown names are not', () => {
    const data = Buffer.concat([nonce, digest]);
    const sig1 = sign('sha1', data, rsa.privateKey);
    const sig256 = sign('sha256', data, rsa.privateKey);
    const block = (name: Buffer, sig: Buffer): Buffer => Buffer.concat([field(name), field(sig)]);
    assert.ok(verifyPublicKeyAnswer(block(Buffer.from('SHA-1'), sig1), rsa.publicKey, nonce, digest));
    assert.ok(verifyPublicKeyAnswer(block(Buffer.from('SHA256'), sig256), rsa.publicKey, nonce, digest));
    assert.ok(verifyPublicKeyAnswer(block(Buffer.of(2), sig1), rsa.publicKey, nonce, digest));
    assert.ok(verifyPublicKeyAnswer(block(Buffer.of(3), sig256), rsa.publicKey, nonce, digest));
    assert.equal(verifyPublicKeyAnswer(block(Buffer.from('MD5'), sign('md5', data, rsa.privateKey)), rsa.publicKey, nonce, digest), false);
    assert.equal(verifyPublicKeyAnswer(block(Buffer.from('SHA-1'), sig256), rsa.publicKey, nonce, digest), false, 'hash name and signature disagree');
  });

  test('wrong key, nonce, digest, truncation or trailing bytes: not valid (and never a throw)', () => {
    const answer = Buffer.from(signChallengeWithKey(rsa.privateKey, nonce, digest));
    assert.equal(verifyPublicKeyAnswer(answer, otherRsa.publicKey, nonce, digest), false);
    assert.equal(verifyPublicKeyAnswer(answer, dsa.publicKey, nonce, digest), false);
    assert.equal(verifyPublicKeyAnswer(answer, rsa.publicKey, Buffer.from('0123456789abcdeF'), digest), false);
    assert.equal(verifyPublicKeyAnswer(answer, rsa.publicKey, nonce, Buffer.alloc(32, 8)), false);
    assert.equal(verifyPublicKeyAnswer(answer.subarray(0, answer.length - 1), rsa.publicKey, nonce, digest), false);
    assert.equal(verifyPublicKeyAnswer(Buffer.concat([answer, Buffer.of(0)]), rsa.publicKey, nonce, digest), false);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = Buffer.from(answer);
        b[at % b.length] = (b[at % b.length] as number) ^ x;
        return verifyPublicKeyAnswer(b, rsa.publicKey, nonce, digest) === false;
      }),
      { numRuns: 100 },
    );
    const dsaAnswer = Buffer.from(signChallengeWithKey(dsa.privateKey, nonce, digest));
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = Buffer.from(dsaAnswer);
        b[at % b.length] = (b[at % b.length] as number) ^ x;
        return verifyPublicKeyAnswer(b, dsa.publicKey, nonce, digest) === false;
      }),
      { numRuns: 100 },
    );
  });

  test('default hash per Handle.Net: SHA-256 from 2.7, but SHA-1 for DSA below 2.11', () => {
    assert.equal(defaultSignatureHash(rsa.privateKey, 2, 10), 'SHA256');
    assert.equal(defaultSignatureHash(rsa.privateKey, 2, 6), 'SHA1');
    assert.equal(defaultSignatureHash(dsa.privateKey, 2, 10), 'SHA1');
    assert.equal(defaultSignatureHash(dsa.privateKey, 2, 11), 'SHA256');
  });
});

describe('message credential (RFC 3652 §2.2.4) and certified messages', () => {
  const reply = (minor = 10, requestId = 0x01020304): Buffer =>
    encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, minorVersion: minor, requestId, sessionId: 9 },
      header: { opCode: OpCode.RESOLUTION, responseCode: ResponseCode.SUCCESS, opFlags: (OpFlag.AUTHORITATIVE | OpFlag.CERTIFY) >>> 0, siteInfoSerial: 1, recursionCount: 0, expiration: 0 },
      body: {
        kind: 'resolution-response',
        handle: '88.118/A',
        values: [{ index: 1, type: 'URL', data: Buffer.from('https://example.org'), ttlType: 'relative', ttl: 86400, timestamp: 5, references: [], permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false } }],
      },
    });

  test('the credential layout, and a signature over version, suggested version, session id, request id, counter, header and body', () => {
    const plain = reply();
    const signed = signEncodedMessage(plain, rsa.privateKey);
    const bodyEnd = plain.length - 4;
    assert.deepEqual(signed.subarray(0, 16), plain.subarray(0, 16), 'envelope unchanged but for its length');
    assert.equal(signed.readUInt32BE(16), signed.length - 20);
    assert.deepEqual(signed.subarray(20, bodyEnd), plain.subarray(20, bodyEnd));
    const cred = signed.subarray(bodyEnd + 4);
    assert.equal(signed.readUInt32BE(bodyEnd), cred.length);
    assert.deepEqual([...cred.subarray(0, 4)], [0, 0, 0, 0], 'version, reserved, flags');
    assert.equal(cred.readUInt32BE(4), 0, 'empty signer handle');
    assert.equal(cred.readUInt32BE(8), 0, 'signer index = session counter 0');
    assert.equal(cred.subarray(12, 12 + 4 + 9).toString('latin1'), `${u32(9).toString('latin1')}HS_SIGNED`);
    const sectionLen = cred.readUInt32BE(25);
    assert.equal(29 + sectionLen, cred.length);
    const [alg, sig] = fields(cred.subarray(29), 0) as [Buffer, Buffer];
    assert.equal(alg.toString(), 'SHA-256');
    // The reply suggests no version (0.0), which Handle.Net reads as its own version (2.10) and signs so.
    const prefix = Buffer.concat([Buffer.of(2, 10, 2, 10), u32(9), u32(0x01020304), u32(0)]);
    assert.ok(verify('sha256', Buffer.concat([prefix, plain.subarray(20, bodyEnd)]), rsa.publicKey, sig));
    // The codec still reads the message; the credential decodes.
    const decoded = decodeMessage(signed);
    assert.equal(decoded.body.kind, 'resolution-response');
    const c = decodeCredential(decoded.credential as Uint8Array);
    assert.equal(c.type, CredentialType.SIGNED);
    assert.deepEqual(encodeCredential(c), new Uint8Array(cred));
    assert.deepEqual(checkSignedMessage(signed, rsa.publicKey), { valid: true, hash: 'SHA256' });
  });

  test('the signed envelope prefix follows the version: none before 2.6, no suggested version before 2.8', () => {
    assert.equal(signedEnvelopePrefix(reply(5), 0).length, 0);
    assert.deepEqual(Buffer.from(signedEnvelopePrefix(reply(7), 3)), Buffer.concat([Buffer.of(2, 7), u32(9), u32(0x01020304), u32(3)]));
    assert.deepEqual(Buffer.from(signedEnvelopePrefix(reply(6), 3)), Buffer.concat([Buffer.of(2, 6, 0, 0), u32(3), Buffer.alloc(6)]));
    for (const minor of [5, 6, 7, 10]) {
      assert.ok(verifySignedMessage(signEncodedMessage(reply(minor), dsa.privateKey), dsa.publicKey), `DSA at 2.${minor}`);
      assert.ok(verifySignedMessage(signEncodedMessage(reply(minor), rsa.privateKey), rsa.publicKey), `RSA at 2.${minor}`);
    }
    // DSA certifies with SHA-1 at 2.10, as Handle.Net's server does.
    assert.deepEqual(checkSignedMessage(signEncodedMessage(reply(), dsa.privateKey), dsa.publicKey), { valid: true, hash: 'SHA1' });
  });

  test('any changed byte outside the sequence number, a wrong key, or no credential: not valid, with a reason', () => {
    const signed = signEncodedMessage(reply(), rsa.privateKey);
    const credLen = signed.readUInt32BE(reply().length - 4);
    assert.match((checkSignedMessage(reply(), rsa.publicKey) as { reason: string }).reason, /no credential/);
    assert.match((checkSignedMessage(signed, otherRsa.publicKey) as { reason: string }).reason, /does not verify/);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: signed.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        fc.pre(at < 12 || at >= 16); // the sequence number is not signed (Handle.Net leaves it out)
        const cred = signed.length - credLen;
        fc.pre(at < cred || at >= cred + 4); // nor are the credential's version, reserved and flag bytes
        const b = Buffer.from(signed);
        b[at] = (b[at] as number) ^ x;
        // Bits of the flags byte outside the suggested version are not signed either.
        if (at === 2 && (x & 0x03) === 0) return true;
        // With no suggested major version (0), the suggested minor is not read, so not signed.
        if (at === 3 && ((signed[2] as number) & 0x03) === 0) return true;
        return checkSignedMessage(b, rsa.publicKey).valid === false;
      }),
      { numRuns: 300 },
    );
  });
});
