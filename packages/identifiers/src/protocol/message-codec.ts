/**
 * Encodes and decodes whole Handle protocol messages (RFC 3652 §2.2): envelope, header, body, credential.
 * Decoding never trusts a length: every field is checked against the bytes that remain, counts are
 * bounded, and anything wrong is a HandleError (PROTOCOL_ERROR, INVALID_HANDLE for an over-long handle,
 * OPERATION_NOT_SUPPORTED for an unknown op code).
 */
import { HandleError } from '../model/handle-error.js';
import { OpCode, ResponseCode } from '../model/response-codes.js';
import { handleValueListSize, readHandleValueList, writeHandleValueList } from './handle-value-codec.js';
import { LIMITS } from './limits.js';
import { DigestAlg, ENVELOPE_SIZE, EnvelopeFlag, HEADER_SIZE, type HandleMessage, type MessageBody, type MessageEnvelope, type MessageHeader, OpFlag, PROTOCOL_MAJOR, type RequestDigest } from './message-types.js';
import { readSessionExchangeKey, readSessionSetupRequest, readSessionSetupResponse, sessionBodySize, writeSessionBody } from './session-codec.js';
import { readSiteInfo, siteInfoSize, writeSiteInfo } from './site-info-codec.js';
import { WireReader, protocolError } from './wire-reader.js';
import { WireWriter, assertU32, utf8Length } from './wire-writer.js';

const DIGEST_SIZES: Record<number, number> = { [DigestAlg.MD5]: 16, [DigestAlg.SHA1]: 20, [DigestAlg.SHA256]: 32 };

export function digestSize(alg: number): number | undefined {
  return DIGEST_SIZES[alg];
}

// ---------------------------------------------------------------- envelope

export interface DecodedEnvelope extends MessageEnvelope {
  /** Bytes after the envelope: header + body + credential. */
  readonly messageLength: number;
}

export function decodeEnvelope(buf: Buffer, offset = 0): DecodedEnvelope {
  if (buf.length - offset < ENVELOPE_SIZE) throw protocolError(`Message of ${buf.length - offset} bytes is shorter than the 20-byte envelope.`);
  const flags = buf[offset + 2] as number;
  const messageLength = buf.readUInt32BE(offset + 16);
  if (messageLength > LIMITS.messageBytes) throw protocolError(`Message length ${messageLength} exceeds ${LIMITS.messageBytes}.`, { messageLength });
  return {
    majorVersion: buf[offset] as number,
    minorVersion: buf[offset + 1] as number,
    compressed: (flags & EnvelopeFlag.COMPRESSED) !== 0,
    encrypted: (flags & EnvelopeFlag.ENCRYPTED) !== 0,
    truncated: (flags & EnvelopeFlag.TRUNCATED) !== 0,
    suggestedMajor: flags & 0x03,
    suggestedMinor: buf[offset + 3] as number,
    sessionId: buf.readUInt32BE(offset + 4),
    requestId: buf.readUInt32BE(offset + 8),
    sequenceNumber: buf.readUInt32BE(offset + 12),
    messageLength,
  };
}

function writeEnvelope(w: WireWriter, e: MessageEnvelope, messageLength: number): void {
  w.u8(e.majorVersion);
  w.u8(e.minorVersion);
  w.u8((e.compressed ? EnvelopeFlag.COMPRESSED : 0) | (e.encrypted ? EnvelopeFlag.ENCRYPTED : 0) | (e.truncated ? EnvelopeFlag.TRUNCATED : 0) | (e.suggestedMajor & 0x03));
  w.u8(e.suggestedMinor);
  w.u32(e.sessionId);
  w.u32(e.requestId);
  w.u32(e.sequenceNumber);
  w.u32(messageLength);
}

// ---------------------------------------------------------------- body sizes and writers

function strSize(s: string): number {
  return 4 + utf8Length(s);
}

function handleBytes(handle: string): number {
  const n = utf8Length(handle);
  if (n > LIMITS.handleBytes) throw new HandleError(ResponseCode.INVALID_HANDLE, `Handle is ${n} bytes (max ${LIMITS.handleBytes}).`, { length: n });
  return n;
}

function bodySize(b: MessageBody): number {
  switch (b.kind) {
    case 'resolution-request': {
      let n = 4 + handleBytes(b.handle) + 4 + 4 * b.indexes.length + 4;
      for (const t of b.types) n += strSize(t);
      return n;
    }
    case 'handle':
    case 'created':
      return 4 + handleBytes(b.handle);
    case 'values':
      return 4 + handleBytes(b.handle) + handleValueListSize(b.values);
    case 'remove-values':
      return 4 + handleBytes(b.handle) + 4 + 4 * b.indexes.length;
    case 'challenge-answer':
      return strSize(b.authType) + 4 + handleBytes(b.identityHandle) + 4 + 4 + b.signedResponse.length;
    case 'verify-request':
      return 4 + handleBytes(b.handle) + 4 + 4 + b.nonce.length + 1 + (b.digestAlg === DigestAlg.MD5_OLD_FORMAT ? 3 : 0) + b.requestDigest.length + 4 + b.signedResponse.length;
    case 'resolution-response':
      return 4 + handleBytes(b.handle) + handleValueListSize(b.values);
    case 'site-info':
      return siteInfoSize(b.site);
    case 'handle-list': {
      let n = 4;
      for (const h of b.handles) n += 4 + handleBytes(h);
      return n;
    }
    case 'verify-response':
      return 1;
    case 'empty':
    case 'truncated':
      return 0;
    case 'challenge':
      return 4 + b.nonce.length;
    case 'referral':
      return 4 + handleBytes(b.handle) + (b.values ? handleValueListSize(b.values) : 0);
    case 'error':
      return strSize(b.message);
    case 'session-setup':
    case 'session-setup-response':
    case 'session-exchange-key':
      return sessionBodySize(b);
  }
}

function writeStr(w: WireWriter, s: string): void {
  w.utf8(s, utf8Length(s));
}

function writeBody(w: WireWriter, b: MessageBody): void {
  switch (b.kind) {
    case 'resolution-request':
      writeStr(w, b.handle);
      w.u32(b.indexes.length);
      for (const i of b.indexes) w.u32(assertU32(i, 'requested index'));
      w.u32(b.types.length);
      for (const t of b.types) writeStr(w, t);
      return;
    case 'handle':
    case 'created':
      writeStr(w, b.handle);
      return;
    case 'values':
      writeStr(w, b.handle);
      writeHandleValueList(w, b.values);
      return;
    case 'remove-values':
      writeStr(w, b.handle);
      w.u32(b.indexes.length);
      for (const i of b.indexes) w.u32(assertU32(i, 'index'));
      return;
    case 'challenge-answer':
      writeStr(w, b.authType);
      writeStr(w, b.identityHandle);
      w.u32(assertU32(b.identityIndex, 'identity index'));
      w.bytes(b.signedResponse);
      return;
    case 'verify-request':
      writeStr(w, b.handle);
      w.u32(assertU32(b.index, 'identity index'));
      w.bytes(b.nonce);
      if (b.digestAlg === DigestAlg.MD5_OLD_FORMAT) {
        // The old format is a plain length-prefixed digest; its first length byte doubles as "alg 0".
        w.bytes(b.requestDigest);
      } else {
        w.u8(b.digestAlg);
        w.raw(b.requestDigest);
      }
      w.bytes(b.signedResponse);
      return;
    case 'resolution-response':
      writeStr(w, b.handle);
      writeHandleValueList(w, b.values);
      return;
    case 'site-info':
      writeSiteInfo(w, b.site);
      return;
    case 'handle-list':
      w.u32(b.handles.length);
      for (const h of b.handles) writeStr(w, h);
      return;
    case 'verify-response':
      w.u8(b.valid ? 1 : 0);
      return;
    case 'empty':
    case 'truncated':
      return;
    case 'challenge':
      w.bytes(b.nonce);
      return;
    case 'referral':
      writeStr(w, b.handle);
      if (b.values) writeHandleValueList(w, b.values);
      return;
    case 'error':
      writeStr(w, b.message);
      return;
    case 'session-setup':
    case 'session-setup-response':
    case 'session-exchange-key':
      writeSessionBody(w, b);
      return;
  }
}

/** Bytes of the encoded message (envelope included). */
export function messageSize(m: HandleMessage): number {
  return ENVELOPE_SIZE + HEADER_SIZE + (m.requestDigest ? 1 + m.requestDigest.digest.length : 0) + bodySize(m.body) + 4 + (m.credential?.length ?? 0);
}

export function encodeMessage(m: HandleMessage): Buffer {
  const digestLen = m.requestDigest ? 1 + m.requestDigest.digest.length : 0;
  const bLen = digestLen + bodySize(m.body);
  const credLen = m.credential?.length ?? 0;
  const total = ENVELOPE_SIZE + HEADER_SIZE + bLen + 4 + credLen;
  if (total - ENVELOPE_SIZE > LIMITS.messageBytes) throw new HandleError(ResponseCode.ERROR, `Message of ${total} bytes exceeds the ${LIMITS.messageBytes}-byte limit.`, { size: total });
  const buf = Buffer.allocUnsafe(total);
  const w = new WireWriter(buf);
  writeEnvelope(w, m.envelope, total - ENVELOPE_SIZE);
  const h = m.header;
  w.u32(h.opCode);
  w.u32(h.responseCode);
  const flags = m.requestDigest ? (h.opFlags | OpFlag.REQUEST_DIGEST) >>> 0 : h.responseCode !== 0 ? (h.opFlags & ~OpFlag.REQUEST_DIGEST) >>> 0 : h.opFlags;
  w.u32(flags);
  w.u16(h.siteInfoSerial);
  w.u8(h.recursionCount);
  w.u8(0);
  w.u32(h.expiration);
  w.u32(bLen);
  if (m.requestDigest) {
    w.u8(m.requestDigest.alg);
    w.raw(m.requestDigest.digest);
  }
  writeBody(w, m.body);
  w.u32(credLen);
  if (m.credential) w.raw(m.credential);
  return buf;
}

// ---------------------------------------------------------------- decoding

function readHandle(r: WireReader, what: string): string {
  const len = r.u32(what);
  if (len > LIMITS.handleBytes) throw new HandleError(ResponseCode.INVALID_HANDLE, `${what} is ${len} bytes (max ${LIMITS.handleBytes}).`, { length: len });
  r.pos -= 4;
  return r.utf8(what, LIMITS.handleBytes);
}

function readIndexes(r: WireReader, what: string, max: number): number[] {
  const n = r.count(what, 4, max);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.u32(what);
  return out;
}

function readHandleList(r: WireReader): string[] {
  const n = r.count('handle count', 4, LIMITS.handlesPerList);
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readHandle(r, 'listed handle');
  return out;
}

function readRequestBody(r: WireReader, opCode: number): MessageBody {
  switch (opCode) {
    case OpCode.RESOLUTION: {
      const handle = readHandle(r, 'handle');
      const indexes = readIndexes(r, 'requested index count', LIMITS.indexesPerRequest);
      const nTypes = r.count('requested type count', 4, LIMITS.typesPerRequest);
      const types: string[] = new Array(nTypes);
      for (let i = 0; i < nTypes; i++) types[i] = r.utf8('requested type', LIMITS.typeBytes);
      return { kind: 'resolution-request', handle, indexes, types };
    }
    case OpCode.GET_SITE_INFO:
    case OpCode.DELETE_HANDLE:
    case OpCode.LIST_HANDLES:
    case OpCode.HOME_NA:
    case OpCode.UNHOME_NA:
    case OpCode.LIST_HOMED_NAS:
    case OpCode.SESSION_TERMINATE:
      return { kind: 'handle', handle: readHandle(r, 'handle') };
    case OpCode.SESSION_SETUP:
      return readSessionSetupRequest(r);
    case OpCode.SESSION_EXCHANGEKEY:
      return readSessionExchangeKey(r);
    case OpCode.CREATE_HANDLE:
    case OpCode.ADD_VALUE:
    case OpCode.MODIFY_VALUE:
      return { kind: 'values', handle: readHandle(r, 'handle'), values: readHandleValueList(r) };
    case OpCode.REMOVE_VALUE:
      return { kind: 'remove-values', handle: readHandle(r, 'handle'), indexes: readIndexes(r, 'index count', LIMITS.valuesPerMessage) };
    case OpCode.CHALLENGE_RESPONSE:
      return {
        kind: 'challenge-answer',
        authType: r.utf8('authentication type', 256),
        identityHandle: readHandle(r, 'identity handle'),
        identityIndex: r.u32('identity index'),
        signedResponse: r.bytesCopy('signed response', LIMITS.digestBytes),
      };
    case OpCode.VERIFY_RESPONSE: {
      const handle = readHandle(r, 'identity handle');
      const index = r.u32('identity index');
      const nonce = r.bytesCopy('nonce', LIMITS.nonceBytes);
      const digestAlg = r.u8('digest algorithm');
      let requestDigest: Uint8Array;
      if (digestAlg === DigestAlg.MD5_OLD_FORMAT) {
        r.pos -= 1;
        requestDigest = r.bytesCopy('request digest', LIMITS.digestBytes);
      } else {
        const size = digestSize(digestAlg);
        if (size === undefined) throw protocolError(`Unknown digest algorithm ${digestAlg}.`, { digestAlg });
        requestDigest = new Uint8Array(r.fixed(size, 'request digest'));
      }
      return { kind: 'verify-request', handle, index, nonce, digestAlg, requestDigest, signedResponse: r.bytesCopy('signed response', LIMITS.digestBytes) };
    }
    default:
      throw new HandleError(ResponseCode.OPERATION_NOT_SUPPORTED, `Unknown op code ${opCode}.`, { opCode });
  }
}

function readResponseBody(r: WireReader, opCode: number, responseCode: number): MessageBody {
  if (responseCode === ResponseCode.SUCCESS) {
    switch (opCode) {
      case OpCode.RESOLUTION:
        return { kind: 'resolution-response', handle: readHandle(r, 'handle'), values: readHandleValueList(r) };
      case OpCode.GET_SITE_INFO:
        return { kind: 'site-info', site: readSiteInfo(r) };
      case OpCode.LIST_HANDLES:
      case OpCode.LIST_HOMED_NAS:
        return { kind: 'handle-list', handles: readHandleList(r) };
      case OpCode.VERIFY_RESPONSE:
        return { kind: 'verify-response', valid: (r.u8('verify result') & 0x01) !== 0 };
      case OpCode.CREATE_HANDLE:
        return r.remaining === 0 ? { kind: 'empty' } : { kind: 'created', handle: readHandle(r, 'handle') };
      case OpCode.DELETE_HANDLE:
      case OpCode.ADD_VALUE:
      case OpCode.REMOVE_VALUE:
      case OpCode.MODIFY_VALUE:
      case OpCode.HOME_NA:
      case OpCode.UNHOME_NA:
      case OpCode.SESSION_TERMINATE:
      case OpCode.SESSION_EXCHANGEKEY:
        return { kind: 'empty' };
      case OpCode.SESSION_SETUP:
        return readSessionSetupResponse(r);
      default:
        throw new HandleError(ResponseCode.OPERATION_NOT_SUPPORTED, `Unknown op code ${opCode} in a success response.`, { opCode });
    }
  }
  switch (responseCode) {
    case ResponseCode.AUTHENTICATION_NEEDED:
      return { kind: 'challenge', nonce: r.bytesCopy('nonce', LIMITS.nonceBytes) };
    case ResponseCode.SERVICE_REFERRAL:
    case ResponseCode.PREFIX_REFERRAL: {
      const handle = readHandle(r, 'referral handle');
      return r.remaining === 0 ? { kind: 'referral', handle } : { kind: 'referral', handle, values: readHandleValueList(r) };
    }
    default:
      return { kind: 'error', message: r.remaining === 0 ? '' : r.utf8('error message', LIMITS.errorMessageBytes) };
  }
}

export function decodeHeader(buf: Buffer, offset: number): MessageHeader & { readonly bodyLength: number } {
  return {
    opCode: buf.readUInt32BE(offset),
    responseCode: buf.readUInt32BE(offset + 4),
    opFlags: buf.readUInt32BE(offset + 8),
    siteInfoSerial: buf.readUInt16BE(offset + 12),
    recursionCount: buf[offset + 14] as number,
    expiration: buf.readUInt32BE(offset + 16),
    bodyLength: buf.readUInt32BE(offset + 20),
  };
}

/**
 * Decodes one message that starts at `offset` and must end exactly where its envelope says. Only
 * protocol major version 2 is accepted; compressed or encrypted messages are refused (we never ask for them).
 */
export function decodeMessage(buf: Buffer, offset = 0, end = buf.length): HandleMessage {
  const env = decodeEnvelope(buf, offset);
  if (env.majorVersion !== PROTOCOL_MAJOR) throw protocolError(`Protocol version ${env.majorVersion}.${env.minorVersion} is not supported; this node speaks 2.x.`, { majorVersion: env.majorVersion, minorVersion: env.minorVersion });
  if (env.compressed || env.encrypted) throw protocolError('Compressed or encrypted messages are not supported.');
  const msgStart = offset + ENVELOPE_SIZE;
  if (env.messageLength !== end - msgStart) throw protocolError(`Envelope says ${env.messageLength} bytes follow, ${end - msgStart} do.`, { messageLength: env.messageLength });
  if (env.messageLength < HEADER_SIZE) throw protocolError(`Message of ${env.messageLength} bytes has no room for the 24-byte header.`);
  const { bodyLength, ...header } = decodeHeader(buf, msgStart);
  const bodyStart = msgStart + HEADER_SIZE;
  if (bodyLength > end - bodyStart) throw protocolError(`Body length ${bodyLength} exceeds the ${end - bodyStart} bytes left.`, { bodyLength });
  const bodyEnd = bodyStart + bodyLength;
  const envelope: MessageEnvelope = { majorVersion: env.majorVersion, minorVersion: env.minorVersion, compressed: false, encrypted: false, truncated: env.truncated, suggestedMajor: env.suggestedMajor, suggestedMinor: env.suggestedMinor, sessionId: env.sessionId, requestId: env.requestId, sequenceNumber: env.sequenceNumber };

  const r = new WireReader(buf, bodyStart, bodyEnd);
  let requestDigest: RequestDigest | undefined;
  let body: MessageBody;
  if (env.truncated) {
    r.pos = bodyEnd;
    body = { kind: 'truncated' };
  } else {
    if (header.responseCode !== 0 && (header.opFlags & OpFlag.REQUEST_DIGEST) !== 0) {
      const alg = r.u8('request digest algorithm');
      const size = digestSize(alg);
      if (size === undefined) throw protocolError(`Unknown request digest algorithm ${alg}.`, { alg });
      requestDigest = { alg, digest: new Uint8Array(r.fixed(size, 'request digest')) };
    }
    body = header.responseCode === 0 ? readRequestBody(r, header.opCode) : readResponseBody(r, header.opCode, header.responseCode);
    r.expectEnd('the message body');
  }

  // The credential section: 4-byte length + bytes. Old peers leave it out entirely.
  let credential: Uint8Array | undefined;
  const cr = new WireReader(buf, bodyEnd, end);
  if (cr.remaining > 0) {
    const c = cr.bytes('credential', LIMITS.credentialBytes);
    cr.expectEnd('the credential');
    if (c.length > 0) credential = new Uint8Array(c);
  }
  return { envelope, header, body, ...(requestDigest && { requestDigest }), ...(credential && { credential }) };
}

/** The bytes a request digest covers: the header and body of the message at `offset` (RFC 3652 §3.5). */
export function digestedBytes(buf: Buffer, offset = 0): Buffer {
  const start = offset + ENVELOPE_SIZE;
  const bodyLength = buf.readUInt32BE(start + 20);
  return buf.subarray(start, Math.min(buf.length, start + HEADER_SIZE + bodyLength));
}
