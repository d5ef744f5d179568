/**
 * The cryptography of Handle.Net sessions: agreeing a session key (Diffie–Hellman, or RSA encryption of a
 * key one side chose), authenticating messages with it (the HS_MAC credential) and encrypting them.
 * Facts are from Handle.Net's library, cited per function; keys move through public-key-codec.ts.
 *
 * What the reference does and we follow:
 * - Algorithms (HdlSecurityProvider.ENCRYPT_ALG_*): 1 DES, 2 DESede, 3 AES. Its server picks AES by default
 *   (HandleServer DEFAULT_ENC_ALG). We use AES and DESede; DES is refused (single DES is broken and the
 *   OpenSSL 3 build node ships without it).
 * - Key from DH (GenericProvider.getKeyFromDH): for AES, the shared secret with leading zero bytes skipped
 *   (while at least 32 bytes remain), then 32 bytes; for DESede the first 24 bytes with DES parity set.
 *   The cipher uses the first 16 bytes of a longer AES key (GenericProvider.getCipher); the MAC the whole key.
 * - Message encryption (SessionInfo.encryptBuffer, protocol ≥ 2.4): CBC with PKCS#5 padding and a random
 *   IV, sent as IV ‖ ciphertext (16-byte IV for AES, 8 for DESede).
 * - Keys the server generates (GenericProvider.generateSecretKey): a 4-byte algorithm code, then a 16-byte
 *   AES key (or 24-byte DESede key); encrypted whole with the client's RSA key, RSA/ECB/PKCS#1 v1.5
 *   (Util.encrypt(PublicKey, …)).
 * - The MAC (AbstractMessage.signMessage(byte[]), protocol ≥ 2.7): HMAC-SHA256 over major and minor
 *   version, from 2.8 also the suggested major and minor (which default to the message's own version
 *   when the envelope leaves them 0 — Encoder.decodeEnvelope), session id, request id, session counter
 *   (4 bytes each), then the message header and body.
 */
import {
  type KeyObject,
  constants,
  createCipheriv,
  createDecipheriv,
  createDiffieHellman,
  createHmac,
  createPublicKey,
  getDiffieHellman,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { DerTag, Oid, children, expectTag, readElement, readUnsignedInteger, sameBytes, sequence, stripLeadingZeros, tlv, unsignedInteger } from './asn1-der.js';
import { decodePublicKey, encodePublicKey } from './public-key-codec.js';
import { MacAlg, type MacCredential } from './session-codec.js';

/** Session encryption algorithms (Handle.Net HdlSecurityProvider.ENCRYPT_ALG_*). */
export const EncryptAlg = { DES: 1, DESEDE: 2, AES: 3 } as const;

/** DH moduli we agree to compute with: the reference client sends 1,024 bits; more than 4,096 is CPU for nothing. */
const MIN_DH_BITS = 1024;
const MAX_DH_BITS = 4096;
const AES_DH_KEY_BYTES = 32;
const AES_CIPHER_KEY_BYTES = 16;
const DESEDE_KEY_BYTES = 24;

function sessionFailed(message: string, details: Record<string, unknown> = {}): HandleError {
  return new HandleError(ResponseCode.SESSION_FAILED, message, details);
}

function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function algorithmName(alg: number): string {
  return alg === EncryptAlg.AES ? 'AES' : alg === EncryptAlg.DESEDE ? 'DESede' : alg === EncryptAlg.DES ? 'DES' : `algorithm ${alg}`;
}

function checkAlg(alg: number): void {
  if (alg !== EncryptAlg.AES && alg !== EncryptAlg.DESEDE) throw sessionFailed(`Session encryption with ${algorithmName(alg)} is not supported; use AES (3) or DESede (2).`, { alg });
}

/** DES keys carry odd parity in the low bit of each byte (what Java's DES key specs and key generators produce). */
function withDesParity(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key);
  for (let i = 0; i < out.length; i++) {
    const b = (out[i] as number) & 0xfe;
    let ones = 0;
    for (let v = b; v; v >>= 1) ones += v & 1;
    out[i] = b | ((ones & 1) ^ 1);
  }
  return out;
}

/** The session key both sides derive from a DH shared secret (GenericProvider.getKeyFromDH). */
export function sessionKeyFromSecret(secret: Uint8Array, alg: number): Uint8Array {
  checkAlg(alg);
  if (alg === EncryptAlg.AES) {
    let i = 0;
    while (i + AES_DH_KEY_BYTES < secret.length && secret[i] === 0) i++;
    return new Uint8Array(secret.subarray(i, i + AES_DH_KEY_BYTES));
  }
  if (secret.length < DESEDE_KEY_BYTES) throw sessionFailed('The DH secret is too short for a DESede key.');
  return withDesParity(secret.subarray(0, DESEDE_KEY_BYTES));
}

/** A fresh key of the algorithm, as the side choosing the key makes it (GenericProvider.generateSecretKey). */
export function generateSessionKey(alg: number): Uint8Array {
  checkAlg(alg);
  return alg === EncryptAlg.AES ? new Uint8Array(randomBytes(AES_CIPHER_KEY_BYTES)) : withDesParity(randomBytes(DESEDE_KEY_BYTES));
}

// ---------------------------------------------------------------- Diffie–Hellman

interface DhPublic {
  readonly prime: Uint8Array;
  readonly generator: Uint8Array;
  readonly y: Uint8Array;
}

/** p, g and y of a DH public key given in the Handle encoding (DH_PUB_KEY), checked for use. */
function readDhPublicKey(bytes: Uint8Array): DhPublic {
  let key: KeyObject;
  try {
    key = decodePublicKey(bytes);
  } catch (e) {
    throw sessionFailed(`The DH public key cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  // @types/node's KeyType omits 'dh', which node reports for DH keys.
  if ((key.asymmetricKeyType as string | undefined) !== 'dh') throw sessionFailed(`Key exchange DH needs a DH public key, got ${key.asymmetricKeyType ?? 'another key'}.`);
  let prime: Uint8Array;
  let generator: Uint8Array;
  let y: Uint8Array;
  try {
    const top = children(expectTag(readElement(key.export({ format: 'der', type: 'spki' })), DerTag.SEQUENCE, 'key').content);
    const alg = children(expectTag(top[0], DerTag.SEQUENCE, 'algorithm').content);
    if (!sameBytes(expectTag(alg[0], DerTag.OID, 'algorithm').content, Oid.DH_PKCS3)) throw new RangeError('not a PKCS #3 DH key');
    const params = children(expectTag(alg[1], DerTag.SEQUENCE, 'DH parameters').content);
    prime = readUnsignedInteger(params[0], 'p');
    generator = readUnsignedInteger(params[1], 'g');
    const bits = expectTag(top[1], DerTag.BIT_STRING, 'public key').content;
    y = readUnsignedInteger(readElement(bits.subarray(1)), 'y');
  } catch (e) {
    throw sessionFailed(`The DH public key is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const bits = (prime.length - 1) * 8 + (32 - Math.clz32(prime[0] as number));
  if (bits < MIN_DH_BITS || bits > MAX_DH_BITS) throw sessionFailed(`A ${bits}-bit DH modulus is outside the ${MIN_DH_BITS}–${MAX_DH_BITS} bits this node accepts.`, { bits });
  // 1 < y < p − 1: the values 0, 1 and p − 1 would force a guessable secret.
  const p = BigInt(`0x${Buffer.from(prime).toString('hex')}`);
  const yy = BigInt(`0x${Buffer.from(y).toString('hex')}`);
  if (yy <= 1n || yy >= p - 1n) throw sessionFailed('The DH public value is out of range.');
  return { prime, generator, y };
}

/** Our half in the Handle encoding, built as the PKCS #3 SPKI node reads and handed to the key codec. */
function encodeDhPublicKey(prime: Uint8Array, generator: Uint8Array, y: Uint8Array): Uint8Array {
  const yInt = unsignedInteger(y);
  const bitString = new Uint8Array(yInt.length + 1);
  bitString.set(yInt, 1);
  const spki = sequence(sequence(tlv(DerTag.OID, Oid.DH_PKCS3), sequence(unsignedInteger(prime), unsignedInteger(generator))), tlv(DerTag.BIT_STRING, bitString));
  return encodePublicKey(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }));
}

/**
 * The server side of key exchange DH (HandleServer.doSessionSetup): a key pair in the client's group, the
 * reply data `alg (4 bytes) ‖ our public key` and the session key.
 */
export function serverDhAgree(clientPublicKey: Uint8Array, alg: number = EncryptAlg.AES): { data: Uint8Array; sessionKey: Uint8Array } {
  checkAlg(alg);
  const client = readDhPublicKey(clientPublicKey);
  const dh = createDiffieHellman(Buffer.from(client.prime), Buffer.from(client.generator));
  const ours = dh.generateKeys();
  const secret = dh.computeSecret(Buffer.from(client.y));
  return { data: concat(u32(alg), encodeDhPublicKey(client.prime, client.generator, ours)), sessionKey: sessionKeyFromSecret(secret, alg) };
}

/** The client side of key exchange DH: send `publicKey`, then `agree` with the server's reply data. */
export class ClientDh {
  readonly publicKey: Uint8Array;
  private readonly dh: ReturnType<typeof getDiffieHellman>;

  /** `group`: an RFC 3526 MODP group name node knows (default modp14, 2,048 bits). */
  constructor(group = 'modp14') {
    this.dh = getDiffieHellman(group);
    const y = this.dh.generateKeys();
    this.publicKey = encodeDhPublicKey(this.dh.getPrime(), this.dh.getGenerator(), y);
  }

  agree(data: Uint8Array): { alg: number; sessionKey: Uint8Array } {
    if (data.length < 4) throw sessionFailed('The DH session setup reply is too short.');
    const alg = Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0);
    const server = readDhPublicKey(data.subarray(4));
    if (!sameBytes(stripLeadingZeros(server.prime), stripLeadingZeros(this.dh.getPrime())) || !sameBytes(stripLeadingZeros(server.generator), stripLeadingZeros(this.dh.getGenerator()))) {
      throw sessionFailed('The server answered in a different DH group.');
    }
    return { alg, sessionKey: sessionKeyFromSecret(this.dh.computeSecret(Buffer.from(server.y)), alg) };
  }
}

// ---------------------------------------------------------------- RSA-encrypted session keys

/**
 * Modes CIPHER_CLIENT / CIPHER_HDL, server side: a fresh key, sent as `alg ‖ key` encrypted with the
 * client's RSA public key (PKCS #1 v1.5, as Util.encrypt(PublicKey, …) does).
 */
export function encryptSessionKeyFor(rsaPublicKey: Uint8Array, alg: number = EncryptAlg.AES): { data: Uint8Array; sessionKey: Uint8Array } {
  let key: KeyObject;
  try {
    key = decodePublicKey(rsaPublicKey);
  } catch (e) {
    throw sessionFailed(`The exchange public key cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw sessionFailed(`The session key can only be encrypted to an RSA key, got ${key.asymmetricKeyType ?? 'another key'}.`);
  const sessionKey = generateSessionKey(alg);
  const data = publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, concat(u32(alg), sessionKey));
  return { data: new Uint8Array(data), sessionKey };
}

/**
 * Client side of CIPHER_CLIENT: the key the server encrypted to our RSA key. node 20 no longer offers
 * PKCS #1 v1.5 decryption, so the padding is removed here after a raw RSA operation; a client learns
 * nothing from a padding failure an attacker could use (only servers answering arbitrary ciphertexts do).
 */
export function decryptSessionKey(privateKey: KeyObject, data: Uint8Array): { alg: number; sessionKey: Uint8Array } {
  const em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, data);
  // EM = 0x00 0x02 PS (≥ 8 non-zero bytes) 0x00 M
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) throw sessionFailed('The encrypted session key does not decrypt to a PKCS #1 block.');
  const m = em.subarray(sep + 1);
  if (m.length < 4 + 8) throw sessionFailed('The decrypted session key is too short.');
  return { alg: m.readUInt32BE(0), sessionKey: new Uint8Array(m.subarray(4)) };
}

// ---------------------------------------------------------------- message encryption

function cipherOf(alg: number, key: Uint8Array): { name: string; key: Uint8Array; ivBytes: number } {
  checkAlg(alg);
  if (alg === EncryptAlg.AES) {
    if (key.length < AES_CIPHER_KEY_BYTES) throw sessionFailed('The AES session key is shorter than 16 bytes.');
    return { name: 'aes-128-cbc', key: key.subarray(0, AES_CIPHER_KEY_BYTES), ivBytes: 16 };
  }
  if (key.length < DESEDE_KEY_BYTES) throw sessionFailed('The DESede session key is shorter than 24 bytes.');
  return { name: 'des-ede3-cbc', key: key.subarray(0, DESEDE_KEY_BYTES), ivBytes: 8 };
}

/** What follows the envelope of an encrypted message: IV ‖ CBC ciphertext of header, body and credential. */
export function encryptSessionMessage(alg: number, key: Uint8Array, plain: Uint8Array): Buffer {
  const c = cipherOf(alg, key);
  const iv = randomBytes(c.ivBytes);
  const cipher = createCipheriv(c.name, c.key, iv);
  return Buffer.concat([iv, cipher.update(plain), cipher.final()]);
}

/** The inverse of encryptSessionMessage; a wrong key or tampered bytes are HandleError(SESSION_FAILED). */
export function decryptSessionMessage(alg: number, key: Uint8Array, data: Uint8Array): Buffer {
  const c = cipherOf(alg, key);
  if (data.length < c.ivBytes * 2 || (data.length - c.ivBytes) % c.ivBytes !== 0) throw sessionFailed(`An encrypted message of ${data.length} bytes cannot be ${algorithmName(alg)}-CBC output.`);
  try {
    const d = createDecipheriv(c.name, c.key, data.subarray(0, c.ivBytes));
    return Buffer.concat([d.update(data.subarray(c.ivBytes)), d.final()]);
  } catch {
    throw sessionFailed('The message does not decrypt with the session key.');
  }
}

// ---------------------------------------------------------------- the MAC

/** The envelope fields the MAC covers. */
export interface MacFields {
  readonly majorVersion: number;
  readonly minorVersion: number;
  /** 0 = not given; then the message's own version is used, as Handle.Net's envelope decoder does. */
  readonly suggestedMajor: number;
  readonly suggestedMinor: number;
  readonly sessionId: number;
  readonly requestId: number;
  readonly counter: number;
}

/** Protocol versions whose session MAC we compute: 2.7 and later (2.5/2.6 used a broken layout, older ones none). */
export function macSupported(major: number, minor: number): boolean {
  return major > 2 || (major === 2 && minor >= 7);
}

function macInput(f: MacFields, headerAndBody: Uint8Array): Buffer {
  const withSuggested = f.majorVersion > 2 || (f.majorVersion === 2 && f.minorVersion >= 8);
  const head = Buffer.alloc((withSuggested ? 4 : 2) + 12);
  let at = 0;
  head[at++] = f.majorVersion;
  head[at++] = f.minorVersion;
  if (withSuggested) {
    const given = f.suggestedMajor !== 0;
    head[at++] = given ? f.suggestedMajor : f.majorVersion;
    head[at++] = given ? f.suggestedMinor : f.minorVersion;
  }
  at = head.writeUInt32BE(f.sessionId >>> 0, at);
  at = head.writeUInt32BE(f.requestId >>> 0, at);
  head.writeUInt32BE(f.counter >>> 0, at);
  return Buffer.concat([head, headerAndBody]);
}

function hmacName(alg: string): 'sha256' | 'sha1' | undefined {
  // Handle.Net compares these names ignoring case and punctuation (Util.equalsIgnoreCaseAndPunctuation).
  const n = alg.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return n === 'HMACSHA256' ? 'sha256' : n === 'HMACSHA1' ? 'sha1' : undefined;
}

export function computeSessionMac(key: Uint8Array, f: MacFields, headerAndBody: Uint8Array, alg: string = MacAlg.HMAC_SHA256): Uint8Array {
  const name = hmacName(alg);
  if (!name) throw new HandleError(ResponseCode.INVALID_CREDENTIAL, `Session MAC algorithm ${alg} is not supported; use ${MacAlg.HMAC_SHA256}.`, { alg });
  return new Uint8Array(createHmac(name, key).update(macInput(f, headerAndBody)).digest());
}

/** Whether the credential's MAC is the one `key` gives for these fields and bytes. */
export function verifySessionMac(key: Uint8Array, f: MacFields, headerAndBody: Uint8Array, credential: MacCredential): boolean {
  if (!hmacName(credential.alg)) return false;
  const expected = computeSessionMac(key, { ...f, counter: credential.counter }, headerAndBody, credential.alg);
  return expected.length === credential.mac.length && timingSafeEqual(expected, credential.mac);
}
