/**
 * Turns one request's bytes into one reply's bytes, the same for UDP and TCP: decode, authenticate admin
 * operations by HS_SECKEY challenge–response, call the HandleService, encode the outcome. Malformed input
 * becomes a protocol-error reply when the envelope can be read and is dropped otherwise; nothing thrown
 * by the codec or the service escapes.
 */
import { type KeyObject, randomBytes } from 'node:crypto';
import { HandleError } from '../model/handle-error.js';
import { prefixHandle } from '../model/handle-name.js';
import type { HandleService } from '../model/handle-service.js';
import type { HandleReference, HandleValue, Identity } from '../model/handle-value.js';
import { OpCode, ResponseCode } from '../model/response-codes.js';
import { handleValueListSize, writeHandleValueList } from '../protocol/handle-value-codec.js';
import { LIMITS } from '../protocol/limits.js';
import { decodeMessage, digestedBytes, encodeMessage } from '../protocol/message-codec.js';
import { DEFAULT_ENVELOPE, DigestAlg, ENVELOPE_SIZE, EnvelopeFlag, HEADER_SIZE, type HandleMessage, type MessageBody, type MessageEnvelope, OpFlag, PROTOCOL_MAJOR, PROTOCOL_MINOR, type RequestDigest } from '../protocol/message-types.js';
import { responseExpiration, responseFlags, RESPONSE_VALIDITY_SECONDS } from '../protocol/response-header.js';
import { signEncodedMessage } from '../protocol/message-credential.js';
import { verifyPublicKeyAnswer } from '../protocol/public-key-auth.js';
import { decodePublicKey } from '../protocol/public-key-codec.js';
import { requestDigest, verifyChallengeAnswer } from '../protocol/secret-key-auth.js';
import { fromHandleSiteInfo } from '../protocol/site-info-codec.js';
import { WireWriter } from '../protocol/wire-writer.js';
import { type PublicAnswerStats, type PublicAnswers, isPublicAnswerSource } from '../service/public-answers.js';
import { PendingChallenges } from './pending-challenges.js';
import { SessionLayer } from './session-layer.js';
import type { ServerSession } from './session-table.js';

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
type ChallengeAnswer = Extract<MessageBody, { kind: 'challenge-answer' }>;
const UNREADABLE_ENCRYPTED = 'The encrypted message cannot be read with the session key.';
const PUBLIC_KEY_AUTH = 'HS_PUBKEY';

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
const FAST_PATH_EXCLUDED_FLAGS = OpFlag.CERTIFY | OpFlag.ENCRYPT;

export interface RequestHandlerOptions {
  /**
   * Answer plain anonymous resolutions from the service's pre-rendered public answers when it keeps them
   * (default true). The replies are byte for byte those of the full path (tested).
   */
  readonly publicAnswers?: boolean;
  /**
   * The server's private key (RSA or DSA): a request with the CERTIFY flag gets its reply signed with it (an
   * HS_SIGNED credential), which clients check with the public key in the node's HS_SITE. Without it replies
   * are never signed.
   */
  readonly serverKey?: KeyObject;
  /** The clock, Unix milliseconds (tests pin it). Default Date.now. */
  readonly now?: () => number;
  /** How long a response is valid: its expiration is the time it is made plus this. Default 12 h, as the reference server. */
  readonly responseValiditySeconds?: number;
}

/**
 * What a reply needs from the message it answers: its envelope (request id, session id, version), op code,
 * flags and recursion count, and — when that message asked for one with REQUEST_DIGEST — its digest. Every
 * reply, errors included, carries the digest of the request it answers when the request asked for it:
 * a strict client refuses a reply without it.
 */
interface ReplyTo {
  readonly envelope: MessageEnvelope;
  readonly opCode: number;
  readonly opFlags: number;
  readonly recursionCount: number;
  readonly digest?: RequestDigest;
  /** The decoded request (absent when it could not be decoded) and the session it came in. */
  readonly request?: HandleMessage;
  readonly session?: ServerSession;
}

/** The request digest algorithm for a peer: SHA-256 from protocol 2.5 on, SHA-1 before (as the reference). */
function digestAlgFor(minorVersion: number): number {
  return minorVersion >= 5 ? DigestAlg.SHA256 : DigestAlg.SHA1;
}

export class RequestHandler {
  readonly stats: HandlerStats = { malformed: 0, dropped: 0, challenges: 0, authFailures: 0, errors: 0 };
  private readonly pending = new PendingChallenges();
  /** Handle.Net sessions (op codes 400–402, session MACs and encryption). */
  readonly sessions: SessionLayer;
  /** The bytes of requests challenged inside a session: their session MAC is checked once the challenge is answered. */
  private readonly heldBytes = new WeakMap<HandleMessage, Uint8Array>();
  private readonly answers: PublicAnswers | undefined;
  private readonly now: () => number;
  private readonly validitySeconds: number;
  private readonly serverKey: KeyObject | undefined;

  constructor(
    private readonly service: HandleService,
    private readonly log: ProtocolLog = () => {},
    opts: RequestHandlerOptions = {},
  ) {
    this.answers = opts.publicAnswers !== false && isPublicAnswerSource(service) ? service.publicAnswers(renderWireValueList) : undefined;
    this.now = opts.now ?? Date.now;
    this.validitySeconds = opts.responseValiditySeconds ?? RESPONSE_VALIDITY_SECONDS;
    this.serverKey = opts.serverKey;
    this.sessions = new SessionLayer(service);
  }

  /** Hits and misses of the pre-rendered answers (undefined when not used). */
  answerStats(): PublicAnswerStats | undefined {
    return this.answers?.stats();
  }

  /** Stops keeping pre-rendered answers (the listener is closing). */
  dispose(): void {
    this.answers?.dispose();
  }

  /**
   * The reply to `buf` (one whole message), or undefined when nothing can be answered: at once (no promise)
   * for a resolution answered from a kept pre-rendered answer and for what cannot be decoded, else a
   * promise (the service reads its store). `buf` must not change until the promise settles.
   */
  handle(buf: Buffer, start = 0, end = buf.length): Buffer | undefined | Promise<Buffer | undefined> {
    if (this.answers) {
      const fast = this.fastResolve(this.answers, buf, start, end);
      if (fast instanceof Promise) return fast.then((reply) => reply ?? this.fullHandle(buf, start, end));
      if (fast !== undefined) return fast;
    }
    return this.fullHandle(buf, start, end);
  }

  /** Decode, dispatch, encode. */
  private fullHandle(buf: Buffer, start: number, end: number): Buffer | undefined | Promise<Buffer | undefined> {
    let req: HandleMessage;
    let opened: Buffer | undefined;
    try {
      // A session-encrypted request is decrypted first; digests and MACs are then over the plaintext.
      opened = this.sessions.openEncrypted(buf, start, end);
      if (opened) {
        const plain = opened;
        req = decodeMessage(plain, 0, plain.length);
        buf = plain;
        start = 0;
        end = plain.length;
      } else req = decodeMessage(buf, start, end);
    } catch (e) {
      this.stats.malformed++;
      // An encrypted request that decrypts but does not decode gets the same answer as one that does not
      // decrypt, and nothing read from its plaintext: telling the two apart would be a padding oracle.
      if (opened || (e instanceof HandleError && e.responseCode === ResponseCode.SESSION_FAILED && ((buf[start + 2] as number) & EnvelopeFlag.ENCRYPTED) !== 0)) return this.refuseEncrypted(buf, start);
      return this.replyToUndecodable(buf, start, end, e);
    }
    if (req.header.responseCode !== 0) {
      // A response sent to a server: there is nothing to answer and answering could loop two servers.
      this.stats.dropped++;
      return undefined;
    }
    let to: ReplyTo = { envelope: req.envelope, opCode: req.header.opCode, opFlags: req.header.opFlags, recursionCount: req.header.recursionCount, request: req, ...this.digestIfAsked(req.header.opFlags, req.envelope.minorVersion, buf, start, end) };
    try {
      const session = this.sessions.sessionFor(req);
      if (session) to = { ...to, session };
    } catch (e) {
      return this.errorReply(to, e);
    }
    const replyTo = to;
    return this.dispatch(req, replyTo, buf.subarray(start, end)).catch((e: unknown) => this.errorReply(replyTo, e));
  }

  /**
   * The common case without decoding into objects: a well-formed anonymous resolution of a printable-ASCII
   * handle asking for all values (with or without a request digest), outside a session, no certification, no
   * credential. Anything else — and any
   * handle the answer cache cannot answer — returns undefined (or a promise of it) and goes through
   * decode/dispatch/encode. A kept answer is sent without a promise; one that must be read first, with one.
   */
  private fastResolve(answers: PublicAnswers, buf: Buffer, start: number, end: number): Buffer | undefined | Promise<Buffer | undefined> {
    const len = end - start;
    const h = start + ENVELOPE_SIZE;
    const b = h + HEADER_SIZE;
    if (len < ENVELOPE_SIZE + HEADER_SIZE + 12 || buf[start] !== PROTOCOL_MAJOR || ((buf[start + 2] as number) & 0xe0) !== 0) return undefined;
    if (buf.readUInt32BE(start + 16) !== len - ENVELOPE_SIZE || buf.readUInt32BE(start + 4) !== 0) return undefined;
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
    if (typeof values !== 'string') return values.then((v) => (v === undefined ? undefined : this.fastReply(v, buf, start, h, b, hl, flags, bodyEnd)));
    return this.fastReply(values, buf, start, h, b, hl, flags, bodyEnd);
  }

  /** The reply fastResolve() sends for the rendered value list `values` (undefined: the full path must answer). */
  private fastReply(values: string, buf: Buffer, start: number, h: number, b: number, hl: number, flags: number, bodyEnd: number): Buffer | undefined {
    const listLength = values.length - 1; // the last char is the restricted marker
    if (values[listLength] === RESTRICTED && (flags & OpFlag.PUBLIC_ONLY) === 0) return undefined;
    // The request digest, when asked for, precedes the body (alg octet + digest), as encodeMessage writes it.
    let digestAlg = 0;
    let digest: Uint8Array | undefined;
    if ((flags & OpFlag.REQUEST_DIGEST) !== 0) {
      digestAlg = digestAlgFor(buf[start + 1] as number);
      digest = requestDigest(digestAlg, buf.subarray(h, bodyEnd));
    }
    const digestLength = digest ? 1 + digest.length : 0;
    const bodyLength = digestLength + 4 + hl + listLength;
    const total = ENVELOPE_SIZE + HEADER_SIZE + bodyLength + 4;
    if (total - ENVELOPE_SIZE > LIMITS.messageBytes) return undefined;
    // Field for field what encodeReply() writes for this reply.
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
    out.writeUInt32BE((responseFlags(flags, true) | (digest ? OpFlag.REQUEST_DIGEST : 0)) >>> 0, 28);
    out.writeUInt16BE(this.service.siteInfo().serialNumber & 0xffff, 32);
    out[34] = buf[h + 14] as number; // recursion count
    out[35] = 0;
    out.writeUInt32BE(responseExpiration(this.now(), this.validitySeconds), 36);
    out.writeUInt32BE(bodyLength, 40);
    let at = 44;
    if (digest) {
      out[at] = digestAlg;
      out.set(digest, at + 1);
      at += digestLength;
    }
    buf.copy(out, at, b, b + 4 + hl); // the handle as asked, with its length
    out.write(values, at + 4 + hl, listLength, 'latin1');
    out.writeUInt32BE(0, total - 4);
    return out;
  }

  /** The one answer to an encrypted request that cannot be read: built from its (clear) envelope only. */
  private refuseEncrypted(buf: Buffer, start: number): Buffer {
    const envelope: MessageEnvelope = { ...DEFAULT_ENVELOPE, minorVersion: buf[start + 1] as number, sessionId: buf.readUInt32BE(start + 4), requestId: buf.readUInt32BE(start + 8) };
    return this.errorReply({ envelope, opCode: 0, opFlags: 0, recursionCount: 0 }, new HandleError(ResponseCode.SESSION_FAILED, UNREADABLE_ENCRYPTED));
  }

  private replyToUndecodable(buf: Buffer, start: number, end: number, e: unknown): Buffer | undefined {
    const len = end - start;
    if (len < ENVELOPE_SIZE) {
      this.stats.dropped++;
      return undefined;
    }
    const h = start + ENVELOPE_SIZE;
    // Never answer something that claims to be a response.
    if (len >= ENVELOPE_SIZE + 8 && buf.readUInt32BE(h + 4) !== 0) {
      this.stats.dropped++;
      return undefined;
    }
    const minorVersion = buf[start + 1] as number;
    const envelope: MessageEnvelope = { ...DEFAULT_ENVELOPE, minorVersion, sessionId: buf.readUInt32BE(start + 4), requestId: buf.readUInt32BE(start + 8) };
    // Whatever of the header can be read is answered in kind, the request digest included when asked for:
    // an unknown op code, say, is still a well-framed request the client must be able to match.
    const hasHeader = len >= ENVELOPE_SIZE + HEADER_SIZE;
    const opFlags = hasHeader ? buf.readUInt32BE(h + 8) : 0;
    const to: ReplyTo = {
      envelope,
      opCode: len >= ENVELOPE_SIZE + 4 ? buf.readUInt32BE(h) : 0,
      opFlags,
      recursionCount: hasHeader ? (buf[h + 14] as number) : 0,
      ...(hasHeader && this.digestIfAsked(opFlags, minorVersion, buf, start, end)),
    };
    return this.errorReply(to, e);
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

  /**
   * Every reply leaves through here: the header fields a strict client checks (expiration in the future,
   * echoed flags, the site serial, the recursion count) and the request digest when the request asked for
   * one. `digest` overrides the request's (a challenge always carries the digest of what it challenges).
   */
  private encodeReply(to: ReplyTo, responseCode: number, body: MessageBody, opts: { readonly digest?: RequestDigest; readonly sessionId?: number } = {}): Buffer {
    const digest = opts.digest ?? to.digest;
    const bytes = encodeMessage({
      envelope: this.replyEnvelope(to.envelope, opts.sessionId),
      header: {
        opCode: to.opCode,
        responseCode,
        opFlags: responseFlags(to.opFlags, true),
        siteInfoSerial: this.service.siteInfo().serialNumber & 0xffff,
        recursionCount: to.recursionCount,
        expiration: responseExpiration(this.now(), this.validitySeconds),
      },
      body,
      ...(digest && { requestDigest: digest }),
    });
    // In a session, CERTIFY asks for the session MAC (and ENCRYPT for encryption), as Handle.Net's server does.
    if (to.request && to.session) return this.sessions.seal(bytes, to.request, to.session);
    // Otherwise CERTIFY: sign the reply (errors and challenges too, as Handle.Net's server does), so a client
    // checking signatures can trust every answer, not only the good news.
    return this.serverKey && (to.opFlags & OpFlag.CERTIFY) !== 0 ? signEncodedMessage(bytes, this.serverKey) : bytes;
  }

  private errorReply(to: ReplyTo, e: unknown): Buffer {
    let code: number = ResponseCode.ERROR;
    let message = 'Internal error.';
    if (e instanceof HandleError) {
      code = e.responseCode;
      message = e.message;
    } else {
      this.stats.errors++;
      this.log('error', 'identifier protocol request failed', { error: e instanceof Error ? e.message : String(e) });
    }
    return this.encodeReply(to, code, { kind: 'error', message });
  }

  /** `{digest}` of the message at `start` when its flags ask for one, else nothing. */
  private digestIfAsked(opFlags: number, minorVersion: number, buf: Buffer, start: number, end: number): { digest?: RequestDigest } {
    if ((opFlags & OpFlag.REQUEST_DIGEST) === 0) return {};
    const alg = digestAlgFor(minorVersion);
    return { digest: { alg, digest: requestDigest(alg, digestedBytes(buf.subarray(0, end), start)) } };
  }

  /** `bytes`: the request as decoded (decrypted when it came encrypted), for digests and session MACs. */
  private async dispatch(req: HandleMessage, to: ReplyTo, bytes: Buffer): Promise<Buffer> {
    const { opCode } = req.header;
    const body = req.body;
    const s = to.session;
    if (opCode === OpCode.RESOLUTION && body.kind === 'resolution-request') {
      // Without PUBLIC_ONLY the client wants every value it may read: values only administrators may read
      // are then worth a challenge, and the answer is given as the identity the client proves (perform()).
      const strict = (req.header.opFlags & OpFlag.PUBLIC_ONLY) === 0;
      let values: HandleValue[];
      try {
        values = await this.service.resolve(body.handle, { types: body.types, indexes: body.indexes, strict }, null);
      } catch (e) {
        if (strict && e instanceof HandleError && e.responseCode === ResponseCode.AUTHENTICATION_NEEDED) return this.authenticated(req, to, bytes);
        throw e;
      }
      return this.encodeReply(to, ResponseCode.SUCCESS, { kind: 'resolution-response', handle: body.handle, values });
    }
    if (opCode === OpCode.GET_SITE_INFO) {
      return this.encodeReply(to, ResponseCode.SUCCESS, { kind: 'site-info', site: fromHandleSiteInfo(this.service.siteInfo()) });
    }
    if (opCode === OpCode.CHALLENGE_RESPONSE && body.kind === 'challenge-answer') return s?.challenge ? this.answerInSession(s, to, body) : this.answer(req, to, body);
    if (opCode === OpCode.VERIFY_RESPONSE && body.kind === 'verify-request') {
      const secret = await this.service.secretKeyOf({ handle: body.handle, index: body.index });
      const valid = secret !== undefined && verifyChallengeAnswer(body.signedResponse, secret, body.nonce, body.requestDigest);
      return this.encodeReply(to, ResponseCode.SUCCESS, { kind: 'verify-response', valid });
    }
    if (opCode === OpCode.SESSION_SETUP) {
      const { body: setup, sessionId } = await this.sessions.setup(req, (id) => this.pending.has(id));
      return this.encodeReply(to, ResponseCode.SUCCESS, setup, { sessionId });
    }
    if (opCode === OpCode.SESSION_TERMINATE) return this.encodeReply(to, ResponseCode.SUCCESS, this.sessions.terminate(req, bytes, s));
    if (opCode === OpCode.SESSION_EXCHANGEKEY) return this.sessions.exchangeKey(s);
    if (needsAuthentication(opCode)) return this.authenticated(req, to, bytes);
    throw new HandleError(ResponseCode.OPERATION_NOT_SUPPORTED, `Op code ${opCode} is not supported by this node.`, { opCode });
  }

  /**
   * An operation that needs a proven identity: outside a session, a challenge; in a session that proved its
   * identity, carried out at once when the request's session MAC and counter check out; in a session that
   * has not yet, a challenge inside the session (answered, it authenticates the session).
   */
  private async authenticated(req: HandleMessage, to: ReplyTo, bytes: Buffer): Promise<Buffer> {
    const s = to.session;
    if (!s) return this.challenge(req, to, bytes);
    const who = this.sessions.authorize(req, bytes, s);
    if (who !== 'challenge') return this.encodeReply(to, ResponseCode.SUCCESS, await this.perform(req, who));
    const digest = this.challengeDigest(req, to, bytes);
    const nonce = randomBytes(16);
    this.heldBytes.set(req, Buffer.from(bytes));
    this.sessions.holdChallenge(s, req, nonce, digest.digest);
    this.stats.challenges++;
    return this.encodeReply(to, ResponseCode.AUTHENTICATION_NEEDED, { kind: 'challenge', nonce }, { digest, sessionId: s.id });
  }

  /** The digest a challenge carries: the request's own when it asked for one, else computed for it. */
  private challengeDigest(req: HandleMessage, to: ReplyTo, bytes: Buffer): RequestDigest {
    const digest = to.digest ?? this.digestIfAsked(OpFlag.REQUEST_DIGEST, req.envelope.minorVersion, bytes, 0, bytes.length).digest;
    if (!digest) throw new Error('unreachable: a digest is always computed for a challenge');
    return digest;
  }

  /** RC 402 with a nonce and the digest of the request it challenges (always, as RFC 3652 §3.5 says). */
  private challenge(req: HandleMessage, to: ReplyTo, bytes: Buffer): Buffer {
    const digest = this.challengeDigest(req, to, bytes);
    const nonce = randomBytes(16);
    const sessionId = this.pending.add({ request: req, nonce, digest: digest.digest, createdAt: Date.now() }, (id) => this.sessions.table.get(id, false) !== undefined);
    this.stats.challenges++;
    return this.encodeReply(to, ResponseCode.AUTHENTICATION_NEEDED, { kind: 'challenge', nonce }, { digest, sessionId });
  }

  /**
   * OC 200: the client proves an identity for a challenged request; the original operation is then carried
   * out as that identity. The reply answers the original operation (its op code and flags) but goes to the
   * answer's request id, which the client awaits, with the digest of the answer when the answer asks for one.
   */
  private async answer(answer: HandleMessage, to: ReplyTo, body: ChallengeAnswer): Promise<Buffer> {
    const pending = this.pending.take(answer.envelope.sessionId, Date.now());
    if (!pending) throw new HandleError(ResponseCode.AUTHEN_TIMEOUT, 'No open challenge for this session id (expired or already answered); send the request again.');
    return this.performAnswered(pending.request, to, await this.verifyAnswer(body, pending.nonce, pending.digest));
  }

  /** OC 200 inside a session: as answer(); a correct answer by the identity named at setup authenticates the session. */
  private async answerInSession(s: ServerSession, to: ReplyTo, body: ChallengeAnswer): Promise<Buffer> {
    const c = this.sessions.takeChallenge(s);
    if (!c) throw new HandleError(ResponseCode.AUTHEN_TIMEOUT, 'No open challenge in this session (expired or already answered); send the request again.');
    const identity = await this.verifyAnswer(body, c.nonce, c.digest);
    this.sessions.challengeAnswered(s, c.request, this.heldBytes.get(c.request) ?? new Uint8Array(0), identity);
    return this.performAnswered(c.request, to, identity);
  }

  private async performAnswered(original: HandleMessage, to: ReplyTo, identity: HandleReference): Promise<Buffer> {
    const replyTo: ReplyTo = { ...to, opCode: original.header.opCode, opFlags: original.header.opFlags, recursionCount: original.header.recursionCount };
    return this.encodeReply(replyTo, ResponseCode.SUCCESS, await this.perform(original, identity));
  }

  /** The identity a challenge answer proves for `nonce` and `digest` (HS_SECKEY or HS_PUBKEY), or a HandleError. */
  private async verifyAnswer(body: ChallengeAnswer, nonce: Uint8Array, digest: Uint8Array): Promise<HandleReference> {
    const claimed = { handle: body.identityHandle, index: body.identityIndex };
    let identity: Identity | undefined;
    if (body.authType === SECRET_KEY_AUTH) {
      const secret = await this.service.secretKeyOf(claimed);
      if (secret && verifyChallengeAnswer(body.signedResponse, secret, nonce, digest)) identity = claimed;
    } else if (body.authType === PUBLIC_KEY_AUTH) {
      identity = await this.publicKeyIdentity(claimed, body.signedResponse, nonce, digest);
    } else {
      this.stats.authFailures++;
      throw new HandleError(ResponseCode.UNABLE_TO_AUTHENTICATE, `Authentication type ${body.authType} is not supported; use HS_SECKEY or HS_PUBKEY.`, { authType: body.authType });
    }
    if (!identity) {
      const what = `${claimed.index}:${claimed.handle}`;
      this.stats.authFailures++;
      this.log('warn', 'identifier admin authentication failed', { identity: what, authType: body.authType });
      throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, `Authentication failed for ${what}.`);
    }
    return identity;
  }

  /**
   * HS_PUBKEY (RFC 3652 §3.5): the identity whose HS_PUBKEY value's key signed nonce ‖ request digest — the
   * claimed index, or with index 0 whichever HS_PUBKEY value of the handle verifies (the identity then takes
   * that index). An HS_PUBKEY value that does not decode proves nothing.
   */
  private async publicKeyIdentity(claimed: { handle: string; index: number }, signed: Uint8Array, nonce: Uint8Array, digest: Uint8Array): Promise<Identity | undefined> {
    for (const v of (await this.service.publicKeysOf?.(claimed)) ?? []) {
      let key: KeyObject;
      try {
        key = decodePublicKey(v.data);
      } catch {
        continue;
      }
      if (verifyPublicKeyAnswer(signed, key, nonce, digest)) return { handle: claimed.handle, index: v.index };
    }
    return undefined;
  }

  private async perform(req: HandleMessage, who: Identity): Promise<MessageBody> {
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
        return { kind: 'resolution-response', handle: b.handle, values: await this.service.resolve(b.handle, { types: b.types, indexes: b.indexes }, who) };
      }
      case OpCode.CREATE_HANDLE: {
        const handle = await this.service.create(handleOf(), valuesOf(), who, { overwrite: (opFlags & OpFlag.OVERWRITE) !== 0, mintNewSuffix: (opFlags & OpFlag.MINT_NEW_SUFFIX) !== 0 });
        return { kind: 'created', handle };
      }
      case OpCode.DELETE_HANDLE:
        await this.service.delete(handleOf(), who);
        return { kind: 'empty' };
      case OpCode.ADD_VALUE:
        await this.service.addValues(handleOf(), valuesOf(), who);
        return { kind: 'empty' };
      case OpCode.MODIFY_VALUE:
        await this.service.modifyValues(handleOf(), valuesOf(), who);
        return { kind: 'empty' };
      case OpCode.REMOVE_VALUE:
        if (b.kind !== 'remove-values') throw new HandleError(ResponseCode.PROTOCOL_ERROR, 'Remove value carries no index list.');
        await this.service.removeValues(b.handle, b.indexes, who);
        return { kind: 'empty' };
      case OpCode.LIST_HANDLES: {
        const prefix = prefixOf(handleOf());
        const handles: string[] = [];
        for (let offset = 0; offset < LIST_MAX; offset += LIST_PAGE) {
          const page = await this.service.listHandles(prefix, who, { offset, limit: LIST_PAGE });
          handles.push(...page.handles);
          if (page.handles.length < LIST_PAGE || offset + LIST_PAGE >= page.total) break;
        }
        return { kind: 'handle-list', handles };
      }
      case OpCode.HOME_NA:
        await this.service.homePrefix(prefixOf(handleOf()), who);
        return { kind: 'empty' };
      case OpCode.UNHOME_NA:
        await this.service.unhomePrefix(prefixOf(handleOf()), who);
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
