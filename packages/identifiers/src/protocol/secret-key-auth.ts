/**
 * HS_SECKEY challenge–response (RFC 3652 §3.5): the server sends a nonce and a digest of the request it
 * wants authorised; the client answers with `alg (1 byte) + MAC(secret, nonce ‖ requestDigest)`.
 * RFC 3652 defines the keyed digest `H(secret ‖ nonce ‖ digest ‖ secret)` with MD5 or SHA-1; Handle.Net
 * added SHA-256, HMAC-SHA1/256 and PBKDF2-HMAC-SHA1 (what its clients ≥ 2.7 send). We accept all of those
 * except MD5, which is broken and which the RFC does not make mandatory; the client signs with HMAC-SHA256.
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { DigestAlg } from './message-types.js';

/** PBKDF2 work factors we agree to compute for a peer; beyond this an answer is refused (CPU bound). */
const MAX_PBKDF2_ITERATIONS = 100_000;
const MAX_PBKDF2_KEY_BITS = 512;

export function requestDigest(alg: number, bytes: Uint8Array): Uint8Array {
  const name = alg === DigestAlg.SHA256 ? 'sha256' : alg === DigestAlg.SHA1 ? 'sha1' : alg === DigestAlg.MD5 ? 'md5' : undefined;
  if (!name) throw new RangeError(`No request digest algorithm ${alg}.`);
  return createHash(name).update(bytes).digest();
}

function keyedDigest(name: 'sha1' | 'sha256', secret: Uint8Array, nonce: Uint8Array, digest: Uint8Array): Buffer {
  return createHash(name).update(secret).update(nonce).update(digest).update(secret).digest();
}

function hmac(name: 'sha1' | 'sha256', key: Uint8Array, nonce: Uint8Array, digest: Uint8Array): Buffer {
  return createHmac(name, key).update(nonce).update(digest).digest();
}

/** The client's answer: `alg + MAC`. */
export function signChallenge(secret: Uint8Array, nonce: Uint8Array, digest: Uint8Array, alg: number = DigestAlg.HMAC_SHA256): Uint8Array {
  let mac: Buffer;
  switch (alg) {
    case DigestAlg.SHA1:
      mac = keyedDigest('sha1', secret, nonce, digest);
      break;
    case DigestAlg.SHA256:
      mac = keyedDigest('sha256', secret, nonce, digest);
      break;
    case DigestAlg.HMAC_SHA1:
      mac = hmac('sha1', secret, nonce, digest);
      break;
    case DigestAlg.HMAC_SHA256:
      mac = hmac('sha256', secret, nonce, digest);
      break;
    default:
      throw new RangeError(`The client does not sign with algorithm ${alg}.`);
  }
  const out = new Uint8Array(1 + mac.length);
  out[0] = alg;
  out.set(mac, 1);
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Handle.Net's PBKDF2 form: salt (4-byte length + bytes), iterations (4), key bits (4), then the MAC. */
function verifyPbkdf2(body: Buffer, secret: Uint8Array, nonce: Uint8Array, digest: Uint8Array): boolean {
  if (body.length < 4) return false;
  const saltLen = body.readUInt32BE(0);
  if (saltLen > 1024 || body.length < 4 + saltLen + 8) return false;
  const salt = body.subarray(4, 4 + saltLen);
  const iterations = body.readUInt32BE(4 + saltLen);
  const keyBits = body.readUInt32BE(8 + saltLen);
  if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS || keyBits < 8 || keyBits > MAX_PBKDF2_KEY_BITS || keyBits % 8 !== 0) return false;
  let mac = body.subarray(12 + saltLen);
  // Handle.Net length-prefixes the MAC; accept it bare as well.
  if (mac.length === 4 + 20 && mac.readUInt32BE(0) === 20) mac = mac.subarray(4);
  const derived = pbkdf2Sync(secret, salt, iterations, keyBits / 8, 'sha1');
  return same(mac, hmac('sha1', derived, nonce, digest));
}

/** Whether `signedResponse` proves knowledge of `secret` for this nonce and request digest. */
export function verifyChallengeAnswer(signedResponse: Uint8Array, secret: Uint8Array, nonce: Uint8Array, digest: Uint8Array): boolean {
  if (signedResponse.length < 2) return false;
  const alg = signedResponse[0] as number;
  const mac = Buffer.from(signedResponse.buffer, signedResponse.byteOffset + 1, signedResponse.byteLength - 1);
  switch (alg) {
    case DigestAlg.SHA1:
      return same(mac, keyedDigest('sha1', secret, nonce, digest));
    case DigestAlg.SHA256:
      return same(mac, keyedDigest('sha256', secret, nonce, digest));
    case DigestAlg.HMAC_SHA1:
      return same(mac, hmac('sha1', secret, nonce, digest));
    case DigestAlg.HMAC_SHA256:
      return same(mac, hmac('sha256', secret, nonce, digest));
    case DigestAlg.PBKDF2_HMAC_SHA1:
      return verifyPbkdf2(mac, secret, nonce, digest);
    default:
      return false;
  }
}
