/**
 * Bodies of the Handle.Net session messages (protocol ≥ 2.1; not in RFC 3652) and the HS_MAC credential
 * that authenticates a message inside a session. message-codec.ts calls these for op codes 400 (setup)
 * and 402 (exchange key); 401 (terminate) carries a plain handle body ("/"), like get-site-info.
 *
 * Layouts, as Handle.Net's Encoder writes and reads them (encode/decodeSessionSetupRequest,
 * encodeSessionSetupResponse / decodeSetupSessionResponse, encode/decodeSessionExchangeKeyRequest):
 *   setup request:  mode (2 bytes), timeout in seconds (4), identity handle (4-byte length + bytes; empty
 *                   when anonymous), identity index (4; -1 when anonymous), then for modes CIPHER_CLIENT (1)
 *                   and DH (4) the client's public key (length + bytes), for CIPHER_HDL (3) a key handle
 *                   (length + bytes) and index (4), for CIPHER_SERVER (2) nothing.
 *   setup response: mode (2 bytes), data (length + bytes).
 *   exchange key:   the encrypted session key (length + bytes).
 * Handle.Net sizes both setup bodies as if the mode took 4 bytes but writes 2, so its bodies end in two
 * zero bytes that no field covers. Its decoders never look at them; we write them too (byte-for-byte the
 * same messages) and accept a body with or without them.
 *
 * The HS_MAC credential (AbstractMessage.signMessage(byte[]) / verifyMessage(byte[])) is the credential
 * layout of message-credential.ts with type "HS_MAC", the session counter in the signer index, and as
 * signed info the digest algorithm name ("HMAC-SHA256" from protocol 2.7 on) and the MAC.
 */
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { LIMITS } from './limits.js';
import { CredentialType, type MessageCredential, decodeCredential, encodeCredential } from './message-credential.js';
import type { MessageBody } from './message-types.js';
import { WireReader, protocolError } from './wire-reader.js';
import { WireWriter, utf8Length } from './wire-writer.js';

/** Session key exchange modes (Handle.Net Common.KEY_EXCHANGE_*). */
export const KeyExchange = { NONE: 0, CIPHER_CLIENT: 1, CIPHER_SERVER: 2, CIPHER_HDL: 3, DH: 4 } as const;

/** The digest algorithm names a MAC credential may carry (Handle.Net Common.HASH_ALG_*). */
export const MacAlg = { HMAC_SHA256: 'HMAC-SHA256', HMAC_SHA1: 'HMAC-SHA1' } as const;

/** Largest public key / encrypted key we read from a setup message (a 16,384-bit RSA or DH key fits). */
const MAX_KEY_BYTES = 8 * 1024;
/** The two bytes Handle.Net leaves at the end of both setup bodies. */
const SETUP_PAD = 2;

type SetupRequest = Extract<MessageBody, { kind: 'session-setup' }>;
type SetupResponse = Extract<MessageBody, { kind: 'session-setup-response' }>;
type ExchangeKey = Extract<MessageBody, { kind: 'session-exchange-key' }>;
export type SessionBody = SetupRequest | SetupResponse | ExchangeKey;

function hasPublicKey(mode: number): boolean {
  return mode === KeyExchange.CIPHER_CLIENT || mode === KeyExchange.DH;
}

function checkMode(mode: number): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0xffff) throw new HandleError(ResponseCode.INVALID_VALUE, `Key exchange mode ${mode} is not a 16-bit number.`, { mode });
}

/** Encoded size of a session body. */
export function sessionBodySize(b: SessionBody): number {
  switch (b.kind) {
    case 'session-setup': {
      let n = 2 + 4 + 4 + utf8Length(b.identityHandle) + 4;
      if (hasPublicKey(b.keyExchangeMode)) n += 4 + (b.publicKey?.length ?? 0);
      else if (b.keyExchangeMode === KeyExchange.CIPHER_HDL) n += 4 + utf8Length(b.exchangeKeyHandle ?? '') + 4;
      return n + SETUP_PAD;
    }
    case 'session-setup-response':
      return 2 + 4 + b.data.length + SETUP_PAD;
    case 'session-exchange-key':
      return 4 + b.encryptedKey.length;
  }
}

export function writeSessionBody(w: WireWriter, b: SessionBody): void {
  switch (b.kind) {
    case 'session-setup': {
      checkMode(b.keyExchangeMode);
      w.u16(b.keyExchangeMode);
      w.u32(b.timeout);
      w.utf8(b.identityHandle, utf8Length(b.identityHandle));
      w.u32(b.identityIndex >>> 0);
      if (hasPublicKey(b.keyExchangeMode)) {
        if (!b.publicKey) throw new HandleError(ResponseCode.INVALID_VALUE, `Key exchange mode ${b.keyExchangeMode} needs the client's public key.`);
        w.bytes(b.publicKey);
      } else if (b.keyExchangeMode === KeyExchange.CIPHER_HDL) {
        const h = b.exchangeKeyHandle ?? '';
        w.utf8(h, utf8Length(h));
        w.u32((b.exchangeKeyIndex ?? 0) >>> 0);
      }
      w.u16(0);
      return;
    }
    case 'session-setup-response':
      checkMode(b.keyExchangeMode);
      w.u16(b.keyExchangeMode);
      w.bytes(b.data);
      w.u16(0);
      return;
    case 'session-exchange-key':
      w.bytes(b.encryptedKey);
      return;
  }
}

/** Skips the unused tail Handle.Net leaves after a setup body (none or two zero bytes). */
function skipSetupPad(r: WireReader, what: string): void {
  if (r.remaining === 0) return;
  if (r.remaining === SETUP_PAD && r.buf[r.pos] === 0 && r.buf[r.pos + 1] === 0) {
    r.pos += SETUP_PAD;
    return;
  }
  throw protocolError(`${r.remaining} unexpected bytes after ${what}.`, { what });
}

export function readSessionSetupRequest(r: WireReader): SetupRequest {
  const keyExchangeMode = r.u16('key exchange mode');
  const timeout = r.u32('session timeout');
  const identityHandle = r.utf8('identity handle', LIMITS.handleBytes);
  // Java writes -1 for "no identity"; keep the sign so anonymous sessions read as -1.
  const identityIndex = r.u32('identity index') | 0;
  let body: SetupRequest = { kind: 'session-setup', keyExchangeMode, timeout, identityHandle, identityIndex };
  if (hasPublicKey(keyExchangeMode)) {
    body = { ...body, publicKey: r.bytesCopy('exchange public key', MAX_KEY_BYTES) };
  } else if (keyExchangeMode === KeyExchange.CIPHER_HDL) {
    body = { ...body, exchangeKeyHandle: r.utf8('exchange key handle', LIMITS.handleBytes), exchangeKeyIndex: r.u32('exchange key index') };
  }
  skipSetupPad(r, 'the session setup request');
  return body;
}

export function readSessionSetupResponse(r: WireReader): SetupResponse {
  const keyExchangeMode = r.u16('key exchange mode');
  const data = r.bytesCopy('session setup data', MAX_KEY_BYTES);
  skipSetupPad(r, 'the session setup response');
  return { kind: 'session-setup-response', keyExchangeMode, data };
}

export function readSessionExchangeKey(r: WireReader): ExchangeKey {
  return { kind: 'session-exchange-key', encryptedKey: r.bytesCopy('encrypted session key', MAX_KEY_BYTES) };
}

// ---------------------------------------------------------------- the HS_MAC credential

export interface MacCredential {
  /** The sender's session counter (replay defence); 0 = none. */
  readonly counter: number;
  /** Digest algorithm name, e.g. "HMAC-SHA256". */
  readonly alg: string;
  readonly mac: Uint8Array;
}

export function encodeMacCredential(c: MacCredential): Uint8Array {
  const name = Buffer.from(c.alg, 'utf8');
  const signedInfo = Buffer.alloc(4 + name.length + 4 + c.mac.length);
  const w = new WireWriter(signedInfo);
  w.bytes(name);
  w.bytes(c.mac);
  return encodeCredential({ version: 0, flags: 0, signer: { handle: '', index: c.counter >>> 0 }, type: CredentialType.MAC, signedInfo });
}

/** Reads an HS_MAC credential; anything else (another type, bad lengths) is a HandleError(INVALID_CREDENTIAL). */
export function decodeMacCredential(credential: Uint8Array): MacCredential {
  let c: MessageCredential;
  try {
    c = decodeCredential(credential);
  } catch (e) {
    throw new HandleError(ResponseCode.INVALID_CREDENTIAL, `The session MAC credential is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (c.type !== CredentialType.MAC) throw new HandleError(ResponseCode.INVALID_CREDENTIAL, `The credential is ${c.type || 'untyped'}, not ${CredentialType.MAC}; a session message must carry a MAC.`, { type: c.type });
  try {
    const r = new WireReader(Buffer.from(c.signedInfo.buffer, c.signedInfo.byteOffset, c.signedInfo.byteLength));
    const alg = r.utf8('MAC algorithm', 64);
    const mac = r.bytesCopy('MAC', 1024);
    r.expectEnd('the MAC');
    return { counter: c.signer.index, alg, mac };
  } catch (e) {
    throw new HandleError(ResponseCode.INVALID_CREDENTIAL, `The session MAC credential is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
