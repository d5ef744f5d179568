/**
 * The Handle key encodings ⇄ node:crypto KeyObjects: the public keys carried in HS_PUBKEY values and in
 * each server of an HS_SITE record, and the private keys of the key files Handle.Net's tools write
 * (admpriv.bin, serverpriv.bin).
 *
 * Layouts, as Handle.Net's `Util.getBytesFromPublicKey` / `getPublicKeyFromBytes` / `getBytesFromPrivateKey`
 * / `getPrivateKeyFromBytes` write and read them (every field a 4-byte length + bytes; big integers are
 * Java `BigInteger.toByteArray()`, i.e. minimal two's complement with a 0x00 in front when the top bit is
 * set, and are read back as unsigned):
 *   public:  key type ("DSA_PUB_KEY" | "RSA_PUB_KEY" | "DH_PUB_KEY"), 2 reserved flag bytes (0), then
 *            DSA: q, p, g, y · RSA: public exponent, modulus · DH: y, p, g
 *   private: key type, then (no flag bytes)
 *            "DSA_PRIV_KEY": x, p, q, g · "RSA_PRIVCRT_KEY": n, e, d, p, q, dP, dQ, qInv ·
 *            "RSA_PRIV_KEY": n, d (readable only with the CRT parts, which it lacks: refused here)
 * The key file wraps the private key bytes (`Util.encrypt` / `Util.decrypt`): a 4-byte scheme, then for
 * 1 (none) the bytes as they are; for 4 (PBKDF2-HMAC-SHA1 → AES-CBC-PKCS5) salt (len+bytes), iterations
 * (4), key bits (4), IV (len+bytes), ciphertext (len+bytes); 3 is the same with DESede. The DES schemes
 * 0 and 2 (MD5 of the passphrase as the key) are refused.
 *
 * RSA goes through JWK; DSA and DH have no JWK form in node, so their DER structures are built and read
 * with the small helper in asn1-der.ts. Malformed bytes are HandleError(INVALID_VALUE) naming the field.
 */
import { type KeyObject, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, pbkdf2Sync, randomBytes } from 'node:crypto';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { DerTag, Oid, children, expectTag, readElement, readUnsignedInteger, sameBytes, sequence, stripLeadingZeros, tlv, unsignedInteger } from './asn1-der.js';

export const KeyEncoding = {
  DSA_PUBLIC: 'DSA_PUB_KEY',
  RSA_PUBLIC: 'RSA_PUB_KEY',
  DH_PUBLIC: 'DH_PUB_KEY',
  DSA_PRIVATE: 'DSA_PRIV_KEY',
  RSA_PRIVATE: 'RSA_PRIV_KEY',
  RSA_CRT_PRIVATE: 'RSA_PRIVCRT_KEY',
} as const;

/** Key-file wrapping schemes (Handle.Net `Common.ENCRYPT_*`). */
export const KeyFileEncryption = { DES_ECB: 0, NONE: 1, DES_CBC: 2, PBKDF2_DESEDE_CBC: 3, PBKDF2_AES_CBC: 4 } as const;

/** The parameters Handle.Net uses when it encrypts a key file (`Util.encrypt` with scheme 4). */
const KEY_FILE_PBKDF2_ITERATIONS = 10_000;
const KEY_FILE_AES_BITS = 128;
/** A key-file iteration count beyond this is refused rather than computed. */
const MAX_KEY_FILE_ITERATIONS = 10_000_000;
/** Largest big integer accepted (32,768 bits), and largest type string. */
const MAX_INTEGER_BYTES = 4096;
const MAX_TYPE_BYTES = 64;

function invalid(message: string, details: Record<string, unknown> = {}): HandleError {
  return new HandleError(ResponseCode.INVALID_VALUE, message, details);
}

// ---------------------------------------------------------------- field reading and writing

class KeyBytesReader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  private need(n: number, field: string): void {
    if (n > this.buf.length - this.pos) throw invalid(`${this.what}: ${field} is truncated (needs ${n} bytes, ${this.buf.length - this.pos} left).`, { field });
  }

  u16(field: string): number {
    this.need(2, field);
    const v = ((this.buf[this.pos] as number) << 8) | (this.buf[this.pos + 1] as number);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
  }

  bytes(field: string, max: number): Uint8Array {
    const len = this.u32(`${field} length`);
    if (len > max) throw invalid(`${this.what}: ${field} is ${len} bytes, more than the ${max} allowed.`, { field, length: len });
    this.need(len, field);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  text(field: string): string {
    return Buffer.from(this.bytes(field, MAX_TYPE_BYTES)).toString('latin1');
  }

  /** An unsigned big integer; an empty or zero one is refused (no key parameter is 0). */
  integer(field: string): Uint8Array {
    const b = stripLeadingZeros(this.bytes(field, MAX_INTEGER_BYTES));
    if (b.length === 0 || (b.length === 1 && b[0] === 0)) throw invalid(`${this.what}: ${field} is zero or empty.`, { field });
    return b;
  }

  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw invalid(`${this.what}: ${this.buf.length - this.pos} unexpected bytes after the key.`);
  }

  /** Once every field is read: the key `make` builds from them, or INVALID_VALUE saying why it is unusable. */
  key(type: string, make: () => KeyObject): KeyObject {
    this.end();
    try {
      return make();
    } catch (e) {
      throw invalid(`${this.what}: the ${type} parameters do not form a usable key (${e instanceof Error ? e.message : String(e)}).`, { keyType: type });
    }
  }
}

/** Java `BigInteger.toByteArray()` of a positive number given as unsigned big-endian bytes. */
function javaInteger(magnitude: Uint8Array): Uint8Array {
  const m = stripLeadingZeros(magnitude);
  if (((m[0] as number) & 0x80) === 0) return m;
  const out = new Uint8Array(m.length + 1);
  out.set(m, 1);
  return out;
}

function writeFields(type: string, flags: boolean, integers: readonly Uint8Array[]): Uint8Array {
  const t = Buffer.from(type, 'latin1');
  const ints = integers.map(javaInteger);
  let n = 4 + t.length + (flags ? 2 : 0);
  for (const i of ints) n += 4 + i.length;
  const out = Buffer.alloc(n);
  let at = out.writeUInt32BE(t.length, 0);
  at += t.copy(out, at);
  if (flags) at = out.writeUInt16BE(0, at);
  for (const i of ints) {
    at = out.writeUInt32BE(i.length, at);
    out.set(i, at);
    at += i.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const fromB64u = (s: string | undefined, what: string): Uint8Array => {
  if (s === undefined) throw invalid(`The key has no ${what}.`);
  return new Uint8Array(Buffer.from(s, 'base64url'));
};

// ---------------------------------------------------------------- DSA and DH through DER

function dsaParams(p: Uint8Array, q: Uint8Array, g: Uint8Array): Uint8Array {
  return sequence(unsignedInteger(p), unsignedInteger(q), unsignedInteger(g));
}

function dsaPublicKeyObject(p: Uint8Array, q: Uint8Array, g: Uint8Array, y: Uint8Array): KeyObject {
  const bitString = (content: Uint8Array): Uint8Array => {
    const c = new Uint8Array(content.length + 1); // leading 0 = no unused bits
    c.set(content, 1);
    return tlv(DerTag.BIT_STRING, c);
  };
  const spki = sequence(sequence(tlv(DerTag.OID, Oid.DSA), dsaParams(p, q, g)), bitString(unsignedInteger(y)));
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

function dhPublicKeyObject(p: Uint8Array, g: Uint8Array, y: Uint8Array): KeyObject {
  const c = unsignedInteger(y);
  const bits = new Uint8Array(c.length + 1);
  bits.set(c, 1);
  const spki = sequence(sequence(tlv(DerTag.OID, Oid.DH_PKCS3), sequence(unsignedInteger(p), unsignedInteger(g))), tlv(DerTag.BIT_STRING, bits));
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** AlgorithmIdentifier { oid, params } and the key payload of an SPKI or PKCS#8 structure. */
function splitKeyDer(der: Uint8Array, oid: Uint8Array, privateKey: boolean): { params: Uint8Array[]; payload: Uint8Array } {
  const top = children(expectTag(readElement(der), DerTag.SEQUENCE, 'key').content);
  const algIndex = privateKey ? 1 : 0;
  const alg = children(expectTag(top[algIndex], DerTag.SEQUENCE, 'algorithm identifier').content);
  if (!sameBytes(expectTag(alg[0], DerTag.OID, 'algorithm').content, oid)) throw new RangeError('unexpected key algorithm');
  const params = children(expectTag(alg[1], DerTag.SEQUENCE, 'key parameters').content).map((e, i) => readUnsignedInteger(e, `parameter ${i}`));
  let payload: Uint8Array;
  if (privateKey) {
    payload = expectTag(top[2], DerTag.OCTET_STRING, 'private key').content;
  } else {
    const bits = expectTag(top[1], DerTag.BIT_STRING, 'public key').content;
    if (bits[0] !== 0) throw new RangeError('public key bit string has unused bits');
    payload = bits.subarray(1);
  }
  return { params, payload: readUnsignedInteger(readElement(payload), 'key integer') };
}

// ---------------------------------------------------------------- public keys

/** HS_PUBKEY / HS_SITE server key bytes for a DSA, RSA or DH public key (a private key gives its public half). */
export function encodePublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  // @types/node leaves "dh" out of KeyType although node reports it.
  switch (pub.asymmetricKeyType as string | undefined) {
    case 'rsa': {
      const jwk = pub.export({ format: 'jwk' });
      return writeFields(KeyEncoding.RSA_PUBLIC, true, [fromB64u(jwk.e, 'public exponent'), fromB64u(jwk.n, 'modulus')]);
    }
    case 'dsa': {
      const { params, payload } = splitKeyDer(pub.export({ format: 'der', type: 'spki' }), Oid.DSA, false);
      const [p, q, g] = params as [Uint8Array, Uint8Array, Uint8Array];
      return writeFields(KeyEncoding.DSA_PUBLIC, true, [q, p, g, payload]);
    }
    case 'dh': {
      const { params, payload } = splitKeyDer(pub.export({ format: 'der', type: 'spki' }), Oid.DH_PKCS3, false);
      const [p, g] = params as [Uint8Array, Uint8Array];
      return writeFields(KeyEncoding.DH_PUBLIC, true, [payload, p, g]);
    }
    default:
      throw invalid(`A ${pub.asymmetricKeyType ?? 'symmetric'} key has no Handle encoding; use DSA or RSA.`, { keyType: pub.asymmetricKeyType });
  }
}

/** The key type named at the start of HS_PUBKEY bytes, without decoding the rest. */
export function publicKeyTypeOf(data: Uint8Array): string {
  return new KeyBytesReader(data, 'HS_PUBKEY data').text('key type');
}

/** HS_PUBKEY / HS_SITE server key bytes → a public KeyObject. */
export function decodePublicKey(data: Uint8Array): KeyObject {
  const what = 'HS_PUBKEY data';
  const r = new KeyBytesReader(data, what);
  const type = r.text('key type');
  r.u16('flags');
  const build = (make: () => KeyObject): KeyObject => r.key(type, make);
  switch (type) {
    case KeyEncoding.DSA_PUBLIC: {
      const q = r.integer('q');
      const p = r.integer('p');
      const g = r.integer('g');
      const y = r.integer('y');
      return build(() => dsaPublicKeyObject(p, q, g, y));
    }
    case KeyEncoding.RSA_PUBLIC: {
      const e = r.integer('public exponent');
      const n = r.integer('modulus');
      return build(() => createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' }));
    }
    case KeyEncoding.DH_PUBLIC: {
      const y = r.integer('y');
      const p = r.integer('p');
      const g = r.integer('g');
      return build(() => dhPublicKeyObject(p, g, y));
    }
    default:
      throw invalid(`${what}: unknown key type "${type}" (expected ${KeyEncoding.DSA_PUBLIC}, ${KeyEncoding.RSA_PUBLIC} or ${KeyEncoding.DH_PUBLIC}).`, { keyType: type });
  }
}

// ---------------------------------------------------------------- private keys

/** Private key bytes as Handle.Net writes them: DSA_PRIV_KEY, or RSA_PRIVCRT_KEY for RSA. */
export function encodePrivateKey(key: KeyObject): Uint8Array {
  if (key.type !== 'private') throw invalid('encodePrivateKey needs a private key.');
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const j = key.export({ format: 'jwk' });
      return writeFields(KeyEncoding.RSA_CRT_PRIVATE, false, [
        fromB64u(j.n, 'modulus'),
        fromB64u(j.e, 'public exponent'),
        fromB64u(j.d, 'private exponent'),
        fromB64u(j.p, 'prime p'),
        fromB64u(j.q, 'prime q'),
        fromB64u(j.dp, 'exponent dP'),
        fromB64u(j.dq, 'exponent dQ'),
        fromB64u(j.qi, 'CRT coefficient'),
      ]);
    }
    case 'dsa': {
      const { params, payload } = splitKeyDer(key.export({ format: 'der', type: 'pkcs8' }), Oid.DSA, true);
      const [p, q, g] = params as [Uint8Array, Uint8Array, Uint8Array];
      return writeFields(KeyEncoding.DSA_PRIVATE, false, [payload, p, q, g]);
    }
    default:
      throw invalid(`A ${key.asymmetricKeyType} private key has no Handle encoding; use DSA or RSA.`, { keyType: key.asymmetricKeyType });
  }
}

export function decodePrivateKey(data: Uint8Array): KeyObject {
  const what = 'private key';
  const r = new KeyBytesReader(data, what);
  const type = r.text('key type');
  const build = (make: () => KeyObject): KeyObject => r.key(type, make);
  switch (type) {
    case KeyEncoding.DSA_PRIVATE: {
      const x = r.integer('x');
      const p = r.integer('p');
      const q = r.integer('q');
      const g = r.integer('g');
      return build(() => {
        const pkcs8 = sequence(unsignedInteger(Uint8Array.of(0)), sequence(tlv(DerTag.OID, Oid.DSA), dsaParams(p, q, g)), tlv(DerTag.OCTET_STRING, unsignedInteger(x)));
        return createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
      });
    }
    case KeyEncoding.RSA_CRT_PRIVATE: {
      const names = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'] as const;
      const jwk: Record<string, string> = { kty: 'RSA' };
      for (const n of names) jwk[n] = b64u(r.integer(n));
      return build(() => createPrivateKey({ key: jwk, format: 'jwk' }));
    }
    case KeyEncoding.RSA_PRIVATE:
      throw invalid(`${what}: ${KeyEncoding.RSA_PRIVATE} holds only the modulus and private exponent, which cannot be loaded here; export the key again in ${KeyEncoding.RSA_CRT_PRIVATE} form (what Handle.Net's hdl-keygen writes).`, { keyType: type });
    default:
      throw invalid(`${what}: unknown key type "${type}" (expected ${KeyEncoding.DSA_PRIVATE} or ${KeyEncoding.RSA_CRT_PRIVATE}).`, { keyType: type });
  }
}

// ---------------------------------------------------------------- key files

/**
 * Java's PBKDF2WithHmacSHA1 takes a char[]: Handle.Net widens each passphrase byte to one char and the JCE
 * then hashes the chars as UTF-8, so bytes ≥ 0x80 count as two bytes. Doing the same keeps non-ASCII
 * passphrases compatible.
 */
function javaPbkdf2Password(passphrase: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(passphrase).toString('latin1'), 'utf8');
}

function passphraseBytes(p: string | Uint8Array): Uint8Array {
  return typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

/** Whether a key file is encrypted (a passphrase is needed to read it). */
export function keyFileNeedsPassphrase(file: Uint8Array): boolean {
  return new KeyBytesReader(file, 'key file').u32('encryption scheme') !== KeyFileEncryption.NONE;
}

/** A key file as Handle.Net writes it: unencrypted without a passphrase, else PBKDF2 + AES-128-CBC. */
export function encodePrivateKeyFile(key: KeyObject, passphrase?: string | Uint8Array): Uint8Array {
  const clear = encodePrivateKey(key);
  if (passphrase === undefined) {
    const out = Buffer.alloc(4 + clear.length);
    out.writeUInt32BE(KeyFileEncryption.NONE, 0);
    out.set(clear, 4);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const aesKey = pbkdf2Sync(javaPbkdf2Password(passphraseBytes(passphrase)), salt, KEY_FILE_PBKDF2_ITERATIONS, KEY_FILE_AES_BITS / 8, 'sha1');
  const cipher = createCipheriv('aes-128-cbc', aesKey, iv);
  const enc = Buffer.concat([cipher.update(clear), cipher.final()]);
  const out = Buffer.alloc(4 + 4 + salt.length + 4 + 4 + 4 + iv.length + 4 + enc.length);
  let at = out.writeUInt32BE(KeyFileEncryption.PBKDF2_AES_CBC, 0);
  at = out.writeUInt32BE(salt.length, at);
  at += salt.copy(out, at);
  at = out.writeUInt32BE(KEY_FILE_PBKDF2_ITERATIONS, at);
  at = out.writeUInt32BE(KEY_FILE_AES_BITS, at);
  at = out.writeUInt32BE(iv.length, at);
  at += iv.copy(out, at);
  at = out.writeUInt32BE(enc.length, at);
  enc.copy(out, at);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The private key in a Handle.Net key file (e.g. admpriv.bin), decrypting it with `passphrase` when needed. */
export function decodePrivateKeyFile(file: Uint8Array, passphrase?: string | Uint8Array): KeyObject {
  const r = new KeyBytesReader(file, 'key file');
  const scheme = r.u32('encryption scheme');
  if (scheme === KeyFileEncryption.NONE) return decodePrivateKey(r.rest());
  if (scheme !== KeyFileEncryption.PBKDF2_AES_CBC && scheme !== KeyFileEncryption.PBKDF2_DESEDE_CBC) {
    throw invalid(`key file: encryption scheme ${scheme} is not supported (DES schemes 0 and 2 are obsolete); re-encrypt the key with a current Handle.Net tool or store it unencrypted.`, { scheme });
  }
  if (passphrase === undefined) throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, 'key file: the private key is encrypted; give its passphrase.', {}, 'IIP_ERR_HANDLE_AUTH_FAILED');
  const salt = r.bytes('salt', 1024);
  const iterations = r.u32('iterations');
  const bits = r.u32('key length');
  const iv = r.bytes('IV', 64);
  const enc = r.bytes('ciphertext', 1024 * 1024);
  r.end();
  if (iterations < 1 || iterations > MAX_KEY_FILE_ITERATIONS) throw invalid(`key file: ${iterations} PBKDF2 iterations is out of range.`, { iterations });
  const cipherName = scheme === KeyFileEncryption.PBKDF2_DESEDE_CBC ? (bits === 192 ? 'des-ede3-cbc' : undefined) : ({ 128: 'aes-128-cbc', 192: 'aes-192-cbc', 256: 'aes-256-cbc' } as Record<number, string>)[bits];
  if (!cipherName) throw invalid(`key file: a ${bits}-bit key does not fit encryption scheme ${scheme}.`, { bits, scheme });
  const derived = pbkdf2Sync(javaPbkdf2Password(passphraseBytes(passphrase)), salt, iterations, bits / 8, 'sha1');
  let clear: Buffer;
  try {
    const d = createDecipheriv(cipherName, derived, iv);
    clear = Buffer.concat([d.update(enc), d.final()]);
  } catch {
    throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, 'key file: the passphrase is wrong (the key does not decrypt).', {}, 'IIP_ERR_HANDLE_AUTH_FAILED');
  }
  try {
    return decodePrivateKey(clear);
  } catch (e) {
    // A wrong passphrase can still leave valid padding (about 1 in 256); what comes out is then garbage.
    if (e instanceof HandleError) throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, `key file: the passphrase is wrong or the file is damaged (${e.message})`, {}, 'IIP_ERR_HANDLE_AUTH_FAILED');
    throw e;
  }
}
