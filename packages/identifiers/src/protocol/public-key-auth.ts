/**
 * HS_PUBKEY challenge–response (RFC 3652 §3.5): the client proves it holds the private key of an HS_PUBKEY
 * value by signing the server's nonce followed by the digest of the request being authorised.
 *
 * The signed response, as Handle.Net's `PublicKeyAuthenticationInfo.authenticate` writes it and its
 * server reads it: the hash algorithm name (4-byte length + bytes: "SHA1" or "SHA-256"; readers also take
 * "SHA-1", "SHA256" and the one-byte digest codes 2 and 3), then the signature (4-byte length + bytes).
 * The signature algorithm is the hash with the key's own algorithm (`Util.getSigIdFromHashAlgId`):
 * SHA1withDSA, SHA256withDSA, SHA1withRSA, SHA256withRSA. DSA signatures are DER SEQUENCE{r, s}, which
 * is what both Java and node produce. MD5 is refused: it is broken, and no Handle.Net release signs with it.
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { PROTOCOL_MAJOR } from './message-types.js';

export type SignatureHash = 'SHA1' | 'SHA256';

/** The names Handle.Net writes for each hash (`Util.getHashAlgIdFromSigId`). */
const HASH_NAME: Record<SignatureHash, string> = { SHA1: 'SHA1', SHA256: 'SHA-256' };
const NODE_HASH: Record<SignatureHash, 'sha1' | 'sha256'> = { SHA1: 'sha1', SHA256: 'sha256' };

/** The hash named in a signature block, or undefined for one we do not accept. */
export function signatureHashOf(name: Uint8Array): SignatureHash | undefined {
  if (name.length === 1) return name[0] === 2 ? 'SHA1' : name[0] === 3 ? 'SHA256' : undefined;
  switch (Buffer.from(name).toString('latin1')) {
    case 'SHA1':
    case 'SHA-1':
      return 'SHA1';
    case 'SHA-256':
    case 'SHA256':
      return 'SHA256';
    default:
      return undefined;
  }
}

export function signatureHashName(hash: SignatureHash): string {
  return HASH_NAME[hash];
}

/**
 * The hash Handle.Net picks for a key and a protocol version (`Util.getDefaultSigId` for challenge
 * answers, the server's `supportsSha256Signature` for certified replies): SHA-256 from 2.7 on, except that
 * DSA keys stay on SHA-1 below 2.11 because older peers cannot verify SHA256withDSA.
 */
export function defaultSignatureHash(key: KeyObject, majorVersion: number, minorVersion: number): SignatureHash {
  const atLeast = (minor: number): boolean => majorVersion > PROTOCOL_MAJOR || (majorVersion === PROTOCOL_MAJOR && minorVersion >= minor);
  if (atLeast(11)) return 'SHA256';
  if (key.asymmetricKeyType === 'dsa') return 'SHA1';
  return atLeast(7) ? 'SHA256' : 'SHA1';
}

function checkKey(key: KeyObject, type: 'private' | 'public'): void {
  if (key.type !== type || (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'dsa')) {
    throw new RangeError(`Expected a DSA or RSA ${type} key, got a ${key.asymmetricKeyType ?? 'secret'} ${key.type} key.`);
  }
}

/** Signs `parts` in order and returns the signature block: hash name, then signature, each length-prefixed. */
export function signatureBlock(privateKey: KeyObject, parts: readonly Uint8Array[], hash: SignatureHash): Uint8Array {
  checkKey(privateKey, 'private');
  const sig = sign(NODE_HASH[hash], Buffer.concat(parts), privateKey);
  const name = Buffer.from(HASH_NAME[hash], 'latin1');
  const out = Buffer.alloc(8 + name.length + sig.length);
  out.writeUInt32BE(name.length, 0);
  name.copy(out, 4);
  out.writeUInt32BE(sig.length, 4 + name.length);
  sig.copy(out, 8 + name.length);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export interface ParsedSignatureBlock {
  readonly hash: SignatureHash;
  readonly signature: Uint8Array;
}

/** The hash and signature of a block; undefined when it is malformed, has trailing bytes or names an unknown hash. */
export function parseSignatureBlock(block: Uint8Array): ParsedSignatureBlock | undefined {
  const b = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
  if (b.length < 4) return undefined;
  const nameLen = b.readUInt32BE(0);
  if (nameLen > 64 || b.length < 8 + nameLen) return undefined;
  const hash = signatureHashOf(b.subarray(4, 4 + nameLen));
  const sigLen = b.readUInt32BE(4 + nameLen);
  if (hash === undefined || sigLen === 0 || b.length !== 8 + nameLen + sigLen) return undefined;
  return { hash, signature: new Uint8Array(b.subarray(8 + nameLen)) };
}

/** Whether the signature block is a valid signature of `parts` (in order) by `publicKey`. */
export function verifySignatureBlock(block: Uint8Array, publicKey: KeyObject, parts: readonly Uint8Array[]): boolean {
  if (publicKey.type !== 'public' || (publicKey.asymmetricKeyType !== 'rsa' && publicKey.asymmetricKeyType !== 'dsa')) return false;
  const parsed = parseSignatureBlock(block);
  if (!parsed) return false;
  try {
    return verify(NODE_HASH[parsed.hash], Buffer.concat(parts), publicKey, parsed.signature);
  } catch {
    // A signature that is not even well-formed DER (DSA) is simply not valid.
    return false;
  }
}

/**
 * The client's answer to a challenge with a private key: a signature block over nonce ‖ request digest.
 * `hash` defaults to what Handle.Net would pick at protocol 2.10 (SHA1withDSA, SHA256withRSA).
 */
export function signChallengeWithKey(privateKey: KeyObject, nonce: Uint8Array, digest: Uint8Array, hash?: SignatureHash): Uint8Array {
  return signatureBlock(privateKey, [nonce, digest], hash ?? defaultSignatureHash(privateKey, PROTOCOL_MAJOR, 10));
}

/** Whether `signedResponse` is `publicKey`'s signature over this nonce and request digest. */
export function verifyPublicKeyAnswer(signedResponse: Uint8Array, publicKey: KeyObject, nonce: Uint8Array, digest: Uint8Array): boolean {
  return verifySignatureBlock(signedResponse, publicKey, [nonce, digest]);
}
