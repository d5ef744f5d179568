/**
 * The message credential (RFC 3652 §2.2.4): the section after the body that signs a message, which is how
 * a server certifies a reply (the request's CERTIFY flag) and a client checks it with the server's public
 * key from HS_SITE.
 *
 * Layout, as RFC 3652 gives it and Handle.Net's `AbstractMessage.signMessage` / `verifyMessage` write and
 * read it: version (1 byte, 0), reserved (1), flags (2), signer (UTF8-String handle + 4-byte index —
 * Handle.Net leaves the handle empty and puts its session counter in the index), type (UTF8-String:
 * "HS_SIGNED" for a public-key signature, "HS_DSAPUBKEY" its old name, "HS_MAC" for session MACs),
 * signed-info length (4), then the signed info: digest algorithm (UTF8-String) and signature (4-byte
 * length + bytes).
 *
 * What is signed: the RFC says the header and body. Handle.Net (≥ 2.6, and every peer we meet speaks
 * ≥ 2.7) first feeds the envelope fields a replay would change: major and minor version, from 2.8 on the
 * suggested major and minor version, then session id, request id and the session counter (4 bytes each);
 * then the header and body. 2.6 wrote those three integers over each other (a bug its successors
 * keep reading); we reproduce that so a 2.6 peer's signatures still verify.
 */
import type { KeyObject } from 'node:crypto';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { LIMITS } from './limits.js';
import { ENVELOPE_SIZE, HEADER_SIZE, PROTOCOL_MAJOR } from './message-types.js';
import { type SignatureHash, defaultSignatureHash, parseSignatureBlock, signatureBlock, verifySignatureBlock } from './public-key-auth.js';
import { WireReader, protocolError } from './wire-reader.js';
import { WireWriter, assertU32, utf8Length } from './wire-writer.js';

export const CredentialType = { SIGNED: 'HS_SIGNED', OLD_SIGNED: 'HS_DSAPUBKEY', MAC: 'HS_MAC' } as const;

export interface MessageCredential {
  readonly version: number;
  readonly flags: number;
  /** Handle.Net: empty handle, and the index holds the session counter. */
  readonly signer: { readonly handle: string; readonly index: number };
  readonly type: string;
  /** The signed info: digest algorithm name followed by the signature, both length-prefixed. */
  readonly signedInfo: Uint8Array;
}

export function encodeCredential(c: MessageCredential): Uint8Array {
  const hLen = utf8Length(c.signer.handle);
  const tLen = utf8Length(c.type);
  const buf = Buffer.alloc(4 + 4 + hLen + 4 + 4 + tLen + 4 + c.signedInfo.length);
  const w = new WireWriter(buf);
  w.u8(c.version);
  w.u8(0);
  w.u16(c.flags);
  w.utf8(c.signer.handle, hLen);
  w.u32(assertU32(c.signer.index, 'signer index'));
  w.utf8(c.type, tLen);
  w.bytes(c.signedInfo);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** The credential bytes (without their 4-byte length) → fields; PROTOCOL_ERROR when malformed. */
export function decodeCredential(bytes: Uint8Array): MessageCredential {
  const r = new WireReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const version = r.u8('credential version');
  r.u8('credential reserved byte');
  const flags = r.u16('credential flags');
  const handle = r.utf8('credential signer handle', LIMITS.handleBytes);
  const index = r.u32('credential signer index');
  const type = r.utf8('credential type', 256);
  const signedInfo = r.bytesCopy('credential signed info', LIMITS.credentialBytes);
  r.expectEnd('the credential');
  return { version, flags, signer: { handle, index }, type, signedInfo };
}

/** Offsets of the parts of one encoded message, checked against its length. */
function layout(message: Uint8Array): { bodyEnd: number; credential: Uint8Array | undefined } {
  if (message.length < ENVELOPE_SIZE + HEADER_SIZE) throw protocolError('A message shorter than envelope and header cannot be signed or verified.');
  const b = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (b.readUInt32BE(16) !== b.length - ENVELOPE_SIZE) throw protocolError('The envelope length does not match the message.');
  const bodyEnd = ENVELOPE_SIZE + HEADER_SIZE + b.readUInt32BE(ENVELOPE_SIZE + 20);
  if (bodyEnd > b.length) throw protocolError('The body runs past the end of the message.');
  if (bodyEnd === b.length) return { bodyEnd, credential: undefined };
  if (bodyEnd + 4 > b.length || b.readUInt32BE(bodyEnd) !== b.length - bodyEnd - 4) throw protocolError('The credential length does not match the message.');
  return { bodyEnd, credential: b.length > bodyEnd + 4 ? message.subarray(bodyEnd + 4) : undefined };
}

/**
 * The envelope fields Handle.Net signs ahead of the header and body, for the message's protocol version.
 * `sessionCounter` is the value carried in the credential's signer index.
 */
export function signedEnvelopePrefix(message: Uint8Array, sessionCounter: number): Uint8Array {
  const b = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const major = b[0] as number;
  const minor = b[1] as number;
  const atLeast = (m: number): boolean => major > PROTOCOL_MAJOR || (major === PROTOCOL_MAJOR && minor >= m);
  if (!atLeast(6)) return new Uint8Array(0);
  const suggest = atLeast(8);
  const out = Buffer.alloc((suggest ? 4 : 2) + 12);
  out[0] = major;
  out[1] = minor;
  let at = 2;
  if (suggest) {
    // Handle.Net reads a suggested version of 0.0 as "none" and verifies over the message's own version.
    const given = ((b[2] as number) & 0x03) !== 0;
    out[2] = given ? (b[2] as number) & 0x03 : major;
    out[3] = given ? (b[3] as number) : minor;
    at = 4;
  }
  const sessionId = b.readUInt32BE(4);
  const requestId = b.readUInt32BE(8);
  if (atLeast(7)) {
    out.writeUInt32BE(sessionId, at);
    out.writeUInt32BE(requestId, at + 4);
    out.writeUInt32BE(sessionCounter >>> 0, at + 8);
  } else {
    // 2.6 kept the running offset as the return value of each 4-byte write: all three land at offset 4,
    // after the session id's first write at 2; the last four bytes stay zero.
    out.writeUInt32BE(sessionId, 2);
    out.writeUInt32BE(requestId, 4);
    out.writeUInt32BE(sessionCounter >>> 0, 4);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * A copy of the encoded `message` with its credential replaced by an HS_SIGNED signature by `privateKey`
 * (a certified reply). `hash` defaults to Handle.Net's choice for the key and the message's version.
 */
export function signEncodedMessage(message: Uint8Array, privateKey: KeyObject, hash?: SignatureHash): Buffer {
  const { bodyEnd } = layout(message);
  const sessionCounter = 0;
  const h = hash ?? defaultSignatureHash(privateKey, message[0] as number, message[1] as number);
  const headerAndBody = message.subarray(ENVELOPE_SIZE, bodyEnd);
  const signedInfo = signatureBlock(privateKey, [signedEnvelopePrefix(message, sessionCounter), headerAndBody], h);
  const cred = encodeCredential({ version: 0, flags: 0, signer: { handle: '', index: sessionCounter }, type: CredentialType.SIGNED, signedInfo });
  const out = Buffer.allocUnsafe(bodyEnd + 4 + cred.length);
  out.set(message.subarray(0, bodyEnd), 0);
  out.writeUInt32BE(cred.length, bodyEnd);
  out.set(cred, bodyEnd + 4);
  if (out.length - ENVELOPE_SIZE > LIMITS.messageBytes) throw new HandleError(ResponseCode.ERROR, `The signed message of ${out.length} bytes exceeds the ${LIMITS.messageBytes}-byte limit.`);
  out.writeUInt32BE(out.length - ENVELOPE_SIZE, 16);
  return out;
}

export type SignedMessageCheck = { readonly valid: true; readonly hash: SignatureHash } | { readonly valid: false; readonly reason: string };

/**
 * Whether the encoded `message` carries an HS_SIGNED credential that `publicKey` verifies over what
 * Handle.Net signs. Never throws for bad input: the reason says what was wrong.
 */
export function checkSignedMessage(message: Uint8Array, publicKey: KeyObject): SignedMessageCheck {
  let bodyEnd: number;
  let credential: Uint8Array | undefined;
  try {
    ({ bodyEnd, credential } = layout(message));
  } catch (e) {
    return { valid: false, reason: e instanceof Error ? e.message : String(e) };
  }
  if (!credential) return { valid: false, reason: 'The message carries no credential (it is not signed).' };
  let c: MessageCredential;
  try {
    c = decodeCredential(credential);
  } catch (e) {
    return { valid: false, reason: `The credential is malformed: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (c.type !== CredentialType.SIGNED && c.type !== CredentialType.OLD_SIGNED) return { valid: false, reason: `The credential is of type "${c.type}", not a public-key signature.` };
  const parts = [signedEnvelopePrefix(message, c.signer.index), message.subarray(ENVELOPE_SIZE, bodyEnd)];
  const block = parseSignatureBlock(c.signedInfo);
  if (!block) return { valid: false, reason: 'The signed info is malformed or names a digest algorithm other than SHA-1 or SHA-256.' };
  if (!verifySignatureBlock(c.signedInfo, publicKey, parts)) return { valid: false, reason: 'The signature does not verify with the server public key.' };
  return { valid: true, hash: block.hash };
}

export function verifySignedMessage(message: Uint8Array, publicKey: KeyObject): boolean {
  return checkSignedMessage(message, publicKey).valid;
}
