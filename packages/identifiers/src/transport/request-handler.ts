/**
 * Turns one request's bytes into one reply's bytes, the same for UDP and TCP: decode, authenticate admin
 * operations by HS_SECKEY challenge–response, call the HandleService, encode the outcome. Malformed input
 * becomes a protocol-error reply when the envelope can be read and is dropped otherwise; nothing thrown
 * by the codec or the service escapes.
 */
import { randomBytes } from 'node:crypto';
import { HandleError } from '../model/handle-error.js';
import { prefixHandle } from '../model/handle-name.js';
import type { HandleService } from '../model/handle-service.js';
import type { HandleValue, Identity } from '../model/handle-value.js';
import { OpCode, ResponseCode } from '../model/response-codes.js';
import { handleValueListSize, writeHandleValueList } from '../protocol/handle-value-codec.js';
import { LIMITS } from '../protocol/limits.js';
import { decodeMessage, digestedBytes, encodeMessage } from '../protocol/message-codec.js';
import { DEFAULT_ENVELOPE, DigestAlg, ENVELOPE_SIZE, HEADER_SIZE, type HandleMessage, type MessageBody, type MessageEnvelope, OpFlag, PROTOCOL_MAJOR, PROTOCOL_MINOR, type RequestDigest } from '../protocol/message-types.js';
import { requestDigest, verifyChallengeAnswer } from '../protocol/secret-key-auth.js';
import { fromHandleSiteInfo } from '../protocol/site-info-codec.js';
import { WireWriter } from '../protocol/wire-writer.js';
import { type PublicAnswerStats, type PublicAnswers, isPublicAnswerSource } from '../service/public-answers.js';
import { PendingChallenges } from './pending-challenges.js';

export interface HandlerStats {
  malformed: number;
  dropped: number;
  challenges: number;
  authFailures: number;
  errors: number;
}

export type ProtocolLog = (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) => void;

const NA_PREFIX = '0.na/';
const LIST_PAGE = 10_000;
const LIST_MAX = 1_000_000;
const SECRET_KEY_AUTH = 'HS_SECKEY';

function prefixOf(handle: string): string {
  return handle.slice(0, NA_PREFIX.length).toLowerCase() === NA_PREFIX ? handle.slice(NA_PREFIX.length) : handle;
}

function needsAuthentication(opCode: number): boolean {
  switch (opCode) {
    case OpCode.CREATE_HANDLE:
    case OpCode.DELETE_HANDLE:
    case OpCode.ADD_VALUE:
    case OpCode.REMOVE_VALUE:
    case OpCode.MODIFY_VALUE:
    case OpCode.LIST_HANDLES:
    case OpCode.HOME_NA:
    case OpCode.UNHOME_NA:
    case OpCode.LIST_HOMED_NAS:
      return true;
    default:
      return false;
  }
}

const RESTRICTED = '\u0001';
const UNRESTRICTED = '\u0000';

/**
 * What the answer cache keeps for the binary protocol: the value list as RFC 3652 encodes it (count, then
 * each value), one byte per char, followed by one marker char saying whether the handle also has values
 * only administrators may read (then a request without PUBLIC_ONLY is challenged by the full path).
 */
export function renderWireValueList(values: readonly HandleValue[], restricted: boolean): string {
  // The marker is written into the same buffer: concatenating it to the string would keep a cons string
  // (two objects) per entry that V8 flattens on first use.
  const size = handleValueListSize(values);
  const buf = Buffer.allocUnsafe(size + 1);
  writeHandleValueList(new WireWriter(buf), values);
  buf[size] = (restricted ? RESTRICTED : UNRESTRICTED).charCodeAt(0);
  return buf.toString('latin1');
}

/** Resolution request flags the pre-rendered answer does not honour; such requests take the full path. */
const FAST_PATH_EXCLUDED_FLAGS = OpFlag.REQUEST_DIGEST | OpFlag.CERTIFY | OpFlag.ENCRYPT;

export interface RequestHandlerOptions {
  /**
   * Answer plain anonymous resolutions from the service's pre-rendered public answers when it keeps them
   * (default true). The replies are byte for byte those of the full path (tested).
   */
  readonly publicAnswers?: boolean;
}

export class RequestHandler {
  readonly stats: HandlerStats = { malformed: 0, dropped: 0, challenges: 0, authFailures: 0, errors: 0 };
  private readonly pending = new PendingChallenges();
  private readonly answers: PublicAnswers | undefined;

  constructor(
    private readonly service: HandleService,
    private readonly log: ProtocolLog = () => {},
    opts: RequestHandlerOptions = {},
  ) {
    this.answers = opts.publicAnswers !== false && isPublicAnswerSource(service) ? service.publicAnswers(renderWireValueList) : undefined;
  }

  /** Hits and misses of the pre-rendered answers (undefined when not used). */
  answerStats(): PublicAnswerStats | undefined {
    return this.answers?.stats();
  }

  /** Stops keeping pre-rendered answers (the listener is closing). */
  dispose(): void {
    this.answers?.dispose();
  }

  /** The reply to `buf` (one whole message), or undefined when nothing can be answered. */
  handle(buf: Buffer, start = 0, end = buf.length): Buffer | undefined {
    const fast = this.answers && this.fastResolve(this.answers, buf, start, end);
    if (fast) return fast;
    let req: HandleMessage;
    try {
      req = decodeMessage(buf, start, end);
    } catch (e) {
      this.stats.malformed++;
      return this.replyToUndecodable(buf, start, end, e);
    }
    if (req.header.responseCode !== 0) {
      // A response sent to a server: there is nothing to answer and answering could loop two servers.
      this.stats.dropped++;
      return undefined;
    }
    try {
      return this.dispatch(req, buf, start);
    } catch (e) {
      return this.errorReply(req.envelope, req.header.opCode, e);
    }
  }

  /**
   * The common case without decoding into objects: a well-formed anonymous resolution of a printable-ASCII
   * handle asking for all values, no digest, no certification, no credential. Anything else — and any
   * handle the answer cache cannot answer — returns undefined and goes through decode/dispatch/encode.
   */
  private fastResolve(answers: PublicAnswers, buf: Buffer, start: number, end: number): Buffer | undefined {
    const len = end - start;
    const h = start + ENVELOPE_SIZE;
    const b = h + HEADER_SIZE;
    if (len < ENVELOPE_SIZE + HEADER_SIZE + 12 || buf[start] !== PROTOCOL_MAJOR || ((buf[start + 2] as number) & 0xe0) !== 0) return undefined;
    if (buf.readUInt32BE(start + 16) !== len - ENVELOPE_SIZE) return undefined;
    const flags = buf.readUInt32BE(h + 8);
    if (buf.readUInt32BE(h) !== OpCode.RESOLUTION || buf.readUInt32BE(h + 4) !== 0 || (flags & FAST_PATH_EXCLUDED_FLAGS) !== 0) return undefined;
    const hl = buf.readUInt32BE(b);
    if (hl === 0 || hl > LIMITS.handleBytes || buf.readUInt32BE(h + 20) !== hl + 12) return undefined;
    const bodyEnd = b + hl + 12;
    // The credential section: absent (old peers) or empty.
    if (bodyEnd !== end && !(bodyEnd + 4 === end && buf.readUInt32BE(bodyEnd) === 0)) return undefined;
    if (buf.readUInt32BE(b + 4 + hl) !== 0 || buf.readUInt32BE(b + 8 + hl) !== 0) return undefined;
    for (let i = b + 4; i < b + 4 + hl; i++) {
      const c = buf[i] as number;
      if (c < 0x20 || c > 0x7e) return undefined;
    }
    const values = answers.get(buf.toString('latin1', b + 4, b + 4 + hl));
    if (values === undefined) return undefined;
    const listLength = values.length - 1; // the last char is the restricted marker
    if (values[listLength] === RESTRICTED && (flags & OpFlag.PUBLIC_ONLY) === 0) return undefined;
    const bodyLength = 4 + hl + listLength;
    const total = ENVELOPE_SIZE + HEADER_SIZE + bodyLength + 4;
    if (total - ENVELOPE_SIZE > LIMITS.messageBytes) return undefined;
    // Field for field what encodeMessage writes for this reply (see reply() and replyEnvelope()).
    const out = Buffer.allocUnsafe(total);
    out[0] = PROTOCOL_MAJOR;
    out[1] = Math.min(buf[start + 1] as number, PROTOCOL_MINOR);
    out[2] = 0;
    out[3] = 0;
    buf.copy(out, 4, start + 4, start + 12); // session id, request id
    out.writeUInt32BE(0, 12);
    out.writeUInt32BE(total - ENVELOPE_SIZE, 16);
    out.writeUInt32BE(OpCode.RESOLUTION, 20);
    out.writeUInt32BE(ResponseCode.SUCCESS, 24);
    out.writeUInt32BE(OpFlag.AUTHORITATIVE, 28);
    out.writeUInt16BE(0, 32);
    out[34] = buf[h + 14] as number; // recursion count
    out[35] = 0;
    out.writeUInt32BE(0, 36);
    out.writeUInt32BE(bodyLength, 40);
    buf.copy(out, 44, b, b + 4 + hl); // the handle as asked, with its length
    out.write(values, 48 + hl, listLength, 'latin1');
    out.writeUInt32BE(0, total - 4);
    return out;
  }

  private replyToUndecodable(buf: Buffer, start: number, end: number, e: unknown): Buffer | undefined {
    if (end - start < ENVELOPE_SIZE) {
      this.stats.dropped++;
      return undefined;
    }
    const envelope: MessageEnvelope = { ...DEFAULT_ENVELOPE, sessionId: buf.readUInt32BE(start + 4), requestId: buf.readUInt32BE(start + 8) };
    const opCode = end - start >= ENVELOPE_SIZE + 4 ? buf.readUInt32BE(start + ENVELOPE_SIZE) : 0;
    // Never answer something that claims to be a response.
    if (end - start >= ENVELOPE_SIZE + 8 && buf.readUInt32BE(start + ENVELOPE_SIZE + 4) !== 0) {
      this.stats.dropped++;
      return undefined;
    }
    return this.errorReply(envelope, opCode, e);
  }

  private replyEnvelope(req: MessageEnvelope, sessionId = req.sessionId): MessageEnvelope {
    return {
      majorVersion: PROTOCOL_MAJOR,
      minorVersion: req.majorVersion === PROTOCOL_MAJOR ? Math.min(req.minorVersion, PROTOCOL_MINOR) : PROTOCOL_MINOR,
      compressed: false,
      encrypted: false,
      truncated: false,
      suggestedMajor: 0,
      suggestedMinor: 0,
      sessionId,
      requestId: req.requestId,
      sequenceNumber: 0,
    };
  }

  private reply(req: HandleMessage, responseCode: number, body: MessageBody, digest?: RequestDigest, sessionId?: number): Buffer {
    return encodeMessage({
      envelope: this.replyEnvelope(req.envelope, sessionId),
      header: { opCode: req.header.opCode, responseCode, opFlags: OpFlag.AUTHORITATIVE, siteInfoSerial: 0, recursionCount: req.header.recursionCount, expiration: 0 },
      body,
      ...(digest && { requestDigest: digest }),
    });
  }

  private errorReply(envelope: MessageEnvelope, opCode: number, e: unknown): Buffer {
    let code: number = ResponseCode.ERROR;
    let message = 'Internal error.';
    if (e instanceof HandleError) {
      code = e.responseCode;
      message = e.message;
    } else {
      this.stats.errors++;
      this.log('error', 'identifier protocol request failed', { error: e instanceof Error ? e.message : String(e) });
    }
    return encodeMessage({
      envelope: this.replyEnvelope(envelope),
      header: { opCode, responseCode: code, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'error', message },
    });
  }

  private digestFor(req: HandleMessage, buf: Buffer, start: number): RequestDigest | undefined {
    if ((req.header.opFlags & OpFlag.REQUEST_DIGEST) === 0) return undefined;
    const alg = req.envelope.minorVersion >= 5 ? DigestAlg.SHA256 : DigestAlg.SHA1;
    return { alg, digest: requestDigest(alg, digestedBytes(buf, start)) };
  }

  private dispatch(req: HandleMessage, buf: Buffer, start: number): Buffer {
    const { opCode } = req.header;
    const body = req.body;
    if (opCode === OpCode.RESOLUTION && body.kind === 'resolution-request') {
      // Without PUBLIC_ONLY the client wants every value it may read: values only administrators may read
      // are then worth a challenge, and the answer is given as the identity the client proves (perform()).
      const strict = (req.header.opFlags & OpFlag.PUBLIC_ONLY) === 0;
      let values: HandleValue[];
      try {
        values = this.service.resolve(body.handle, { types: body.types, indexes: body.indexes, strict }, null);
      } catch (e) {
        if (strict && e instanceof HandleError && e.responseCode === ResponseCode.AUTHENTICATION_NEEDED) return this.challenge(req, buf, start);
        throw e;
      }
      return this.reply(req, ResponseCode.SUCCESS, { kind: 'resolution-response', handle: body.handle, values }, this.digestFor(req, buf, start));
    }
    if (opCode === OpCode.GET_SITE_INFO) {
      return this.reply(req, ResponseCode.SUCCESS, { kind: 'site-info', site: fromHandleSiteInfo(this.service.siteInfo()) }, this.digestFor(req, buf, start));
    }
    if (opCode === OpCode.CHALLENGE_RESPONSE && body.kind === 'challenge-answer') return this.answer(req, body);
    if (opCode === OpCode.VERIFY_RESPONSE && body.kind === 'verify-request') {
      const secret = this.service.secretKeyOf({ handle: body.handle, index: body.index });
      const valid = secret !== undefined && verifyChallengeAnswer(body.signedResponse, secret, body.nonce, body.requestDigest);
      return this.reply(req, ResponseCode.SUCCESS, { kind: 'verify-response', valid });
    }
    if (needsAuthentication(opCode)) return this.challenge(req, buf, start);
    throw new HandleError(ResponseCode.OPERATION_NOT_SUPPORTED, `Op code ${opCode} is not supported by this node.`, { opCode });
  }

  private challenge(req: HandleMessage, buf: Buffer, start: number): Buffer {
    const alg = req.envelope.minorVersion >= 5 ? DigestAlg.SHA256 : DigestAlg.SHA1;
    const digest = requestDigest(alg, Buffer.from(digestedBytes(buf, start)));
    const nonce = randomBytes(16);
    const sessionId = this.pending.add({ request: req, nonce, digest, createdAt: Date.now() });
    this.stats.challenges++;
    return this.reply(req, ResponseCode.AUTHENTICATION_NEEDED, { kind: 'challenge', nonce }, { alg, digest }, sessionId);
  }

  private answer(answer: HandleMessage, body: Extract<MessageBody, { kind: 'challenge-answer' }>): Buffer {
    const pending = this.pending.take(answer.envelope.sessionId, Date.now());
    if (!pending) throw new HandleError(ResponseCode.AUTHEN_TIMEOUT, 'No open challenge for this session id (expired or already answered); send the request again.');
    const identity = { handle: body.identityHandle, index: body.identityIndex };
    if (body.authType !== SECRET_KEY_AUTH) {
      this.stats.authFailures++;
      throw new HandleError(ResponseCode.UNABLE_TO_AUTHENTICATE, `Authentication type ${body.authType} is not supported; use HS_SECKEY.`, { authType: body.authType });
    }
    const secret = this.service.secretKeyOf(identity);
    if (!secret || !verifyChallengeAnswer(body.signedResponse, secret, pending.nonce, pending.digest)) {
      this.stats.authFailures++;
      this.log('warn', 'identifier admin authentication failed', { identity: `${identity.index}:${identity.handle}` });
      throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, `Authentication failed for ${identity.index}:${identity.handle}.`);
    }
    // The reply answers the original operation but goes to the answer's request id, which the client awaits.
    const original: HandleMessage = { ...pending.request, envelope: { ...pending.request.envelope, requestId: answer.envelope.requestId, sessionId: answer.envelope.sessionId } };
    return this.reply(original, ResponseCode.SUCCESS, this.perform(original, identity));
  }

  private perform(req: HandleMessage, who: Identity): MessageBody {
    const { opCode, opFlags } = req.header;
    const b = req.body;
    const handleOf = (): string => {
      if (b.kind === 'handle' || b.kind === 'values' || b.kind === 'remove-values') return b.handle;
      throw new HandleError(ResponseCode.PROTOCOL_ERROR, `Op code ${opCode} carries the wrong body.`);
    };
    const valuesOf = (): readonly HandleValue[] => {
      if (b.kind === 'values') return b.values;
      throw new HandleError(ResponseCode.PROTOCOL_ERROR, `Op code ${opCode} carries no values.`);
    };
    switch (opCode) {
      case OpCode.RESOLUTION: {
        if (b.kind !== 'resolution-request') throw new HandleError(ResponseCode.PROTOCOL_ERROR, 'A resolution carries the wrong body.');
        return { kind: 'resolution-response', handle: b.handle, values: this.service.resolve(b.handle, { types: b.types, indexes: b.indexes }, who) };
      }
      case OpCode.CREATE_HANDLE: {
        const handle = this.service.create(handleOf(), valuesOf(), who, { overwrite: (opFlags & OpFlag.OVERWRITE) !== 0, mintNewSuffix: (opFlags & OpFlag.MINT_NEW_SUFFIX) !== 0 });
        return { kind: 'created', handle };
      }
      case OpCode.DELETE_HANDLE:
        this.service.delete(handleOf(), who);
        return { kind: 'empty' };
      case OpCode.ADD_VALUE:
        this.service.addValues(handleOf(), valuesOf(), who);
        return { kind: 'empty' };
      case OpCode.MODIFY_VALUE:
        this.service.modifyValues(handleOf(), valuesOf(), who);
        return { kind: 'empty' };
      case OpCode.REMOVE_VALUE:
        if (b.kind !== 'remove-values') throw new HandleError(ResponseCode.PROTOCOL_ERROR, 'Remove value carries no index list.');
        this.service.removeValues(b.handle, b.indexes, who);
        return { kind: 'empty' };
      case OpCode.LIST_HANDLES: {
        const prefix = prefixOf(handleOf());
        const handles: string[] = [];
        for (let offset = 0; offset < LIST_MAX; offset += LIST_PAGE) {
          const page = this.service.listHandles(prefix, who, { offset, limit: LIST_PAGE });
          handles.push(...page.handles);
          if (page.handles.length < LIST_PAGE || offset + LIST_PAGE >= page.total) break;
        }
        return { kind: 'handle-list', handles };
      }
      case OpCode.HOME_NA:
        this.service.homePrefix(prefixOf(handleOf()), who);
        return { kind: 'empty' };
      case OpCode.UNHOME_NA:
        this.service.unhomePrefix(prefixOf(handleOf()), who);
        return { kind: 'empty' };
      case OpCode.LIST_HOMED_NAS:
        return { kind: 'handle-list', handles: this.service.listHomedPrefixes().map(prefixHandle) };
      default:
        throw new HandleError(ResponseCode.OPERATION_NOT_SUPPORTED, `Op code ${opCode} is not supported by this node.`, { opCode });
    }
  }
}

/** A header-only reply with the truncated flag: what a UDP client gets when the real reply is too big. */
export function truncatedReply(full: Buffer): Buffer {
  const out = Buffer.alloc(ENVELOPE_SIZE + HEADER_SIZE + 4);
  full.copy(out, 0, 0, ENVELOPE_SIZE + HEADER_SIZE);
  out[2] = ((out[2] as number) | 0x20) & 0xff;
  out.writeUInt32BE(HEADER_SIZE + 4, 16);
  // Keep only the flags that do not promise a body (no request digest), and say the body is empty.
  out.writeUInt32BE((full.readUInt32BE(ENVELOPE_SIZE + 8) & ~OpFlag.REQUEST_DIGEST) >>> 0, ENVELOPE_SIZE + 8);
  out.writeUInt32BE(0, ENVELOPE_SIZE + 20);
  return out;
}
