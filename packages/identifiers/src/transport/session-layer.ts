/**
 * The server side of Handle.Net sessions, between the transports and the request handler: decrypts
 * encrypted requests, refuses unknown or expired session ids, answers session setup (400), exchange key
 * (402) and terminate (401), decides whether an admin request in a session is already authenticated (its
 * MAC and counter check out) or needs a challenge inside the session, and seals replies (MAC credential
 * when the request asked for CERTIFY, encryption when it asked for ENCRYPT).
 *
 * Behaviour follows Handle.Net's HandleServer (processRequest, doSessionSetup, doKeyExchange,
 * doSessionTerminate, verifyIdentityAndGetIndex, sendResponse) and HdlTcpRequestHandler, with these
 * response codes: unknown/expired session id → 500 SESSION_TIMEOUT; a setup or key exchange that cannot
 * be done → 501 SESSION_FAILED; a MAC that does not verify → 502 (Handle.Net RC_INVALID_SESSION_KEY);
 * a session request without MAC → 404 INVALID_CREDENTIAL; a replayed counter → 505 SESSION_MESSAGE_REJECTED.
 * Where the reference marks a session authenticated before checking the original request's MAC, we mark
 * it only after the MAC passed.
 */
import { HandleError } from '../model/handle-error.js';
import type { HandleService } from '../model/handle-service.js';
import { HS_PUBKEY, type HandleReference } from '../model/handle-value.js';
import { OpCode, ResponseCode } from '../model/response-codes.js';
import { ENVELOPE_SIZE, EnvelopeFlag, HEADER_SIZE, type HandleMessage, type MessageBody, OpFlag } from '../protocol/message-types.js';
import { KeyExchange, MacAlg, decodeMacCredential, encodeMacCredential } from '../protocol/session-codec.js';
import { EncryptAlg, computeSessionMac, decryptSessionMessage, encryptSessionKeyFor, encryptSessionMessage, macSupported, serverDhAgree, verifySessionMac } from '../protocol/session-crypto.js';
import { type ServerSession, SessionTable, type SessionTableOptions } from './session-table.js';

export interface SessionLayerOptions extends SessionTableOptions {
  /** Session cipher the server picks: EncryptAlg.AES (default, as Handle.Net) or EncryptAlg.DESEDE. */
  readonly alg?: number;
  /** How long a challenge sent inside a session stays answerable. Default 60 s. */
  readonly challengeTtlMs?: number;
}

const NO_SESSION = 'Invalid session id or session time out. Please try again.';

function sessionError(code: number, message: string, details: Record<string, unknown> = {}): HandleError {
  return new HandleError(code, message, details);
}

/** Version the client says it speaks: the suggested one, or the message's own when none is given. */
function clientVersion(e: HandleMessage['envelope']): [number, number] {
  return e.suggestedMajor !== 0 ? [e.suggestedMajor, e.suggestedMinor] : [e.majorVersion, e.minorVersion];
}

/** Header and body of an encoded message (what the MAC covers), and where the body ends. */
function headerAndBody(bytes: Uint8Array): { hb: Uint8Array; bodyEnd: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyEnd = Math.min(b.length, ENVELOPE_SIZE + HEADER_SIZE + b.readUInt32BE(ENVELOPE_SIZE + 20));
  return { hb: b.subarray(ENVELOPE_SIZE, bodyEnd), bodyEnd };
}

export class SessionLayer {
  readonly table: SessionTable;
  private readonly alg: number;
  private readonly challengeTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly service: HandleService,
    opts: SessionLayerOptions = {},
  ) {
    this.table = new SessionTable(opts);
    this.alg = opts.alg ?? EncryptAlg.AES;
    this.challengeTtlMs = opts.challengeTtlMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * A request whose envelope says ENCRYPTED, decrypted: a new buffer holding the same envelope (flag
   * cleared, length fixed) and the plaintext. undefined when the request is not encrypted.
   */
  openEncrypted(buf: Buffer, start: number, end: number): Buffer | undefined {
    if (end - start < ENVELOPE_SIZE || ((buf[start + 2] as number) & EnvelopeFlag.ENCRYPTED) === 0) return undefined;
    const sessionId = buf.readUInt32BE(start + 4);
    if (sessionId === 0) throw sessionError(ResponseCode.SESSION_FAILED, 'An encrypted request needs a session id; set up a session first (op code 400).');
    const s = this.table.get(sessionId);
    if (!s) throw sessionError(ResponseCode.SESSION_TIMEOUT, 'Session information not available or timed out; unable to decrypt the request.', { sessionId });
    const plain = decryptSessionMessage(s.alg, s.key, buf.subarray(start + ENVELOPE_SIZE, end));
    const out = Buffer.allocUnsafe(ENVELOPE_SIZE + plain.length);
    buf.copy(out, 0, start, start + ENVELOPE_SIZE);
    out[2] = (out[2] as number) & ~EnvelopeFlag.ENCRYPTED & 0xff;
    out.writeUInt32BE(plain.length, 16);
    plain.copy(out, ENVELOPE_SIZE);
    return out;
  }

  /**
   * The session a request belongs to. A non-zero session id that is neither a live session nor (for a
   * challenge answer, op code 200) a pending challenge is refused with SESSION_TIMEOUT, as Handle.Net does.
   */
  sessionFor(req: HandleMessage): ServerSession | undefined {
    const id = req.envelope.sessionId;
    if (id === 0) return undefined;
    const s = this.table.get(id);
    if (s) return s;
    if (req.header.opCode === OpCode.CHALLENGE_RESPONSE) return undefined;
    if (req.header.opCode === OpCode.SESSION_SETUP) return undefined;
    throw sessionError(ResponseCode.SESSION_TIMEOUT, NO_SESSION, { sessionId: id });
  }

  /** OC 400: agree a key, open the session; the reply goes out under the new session id. */
  async setup(req: HandleMessage, reserved: (id: number) => boolean = () => false): Promise<{ body: MessageBody; sessionId: number }> {
    const b = req.body;
    if (b.kind !== 'session-setup') throw sessionError(ResponseCode.PROTOCOL_ERROR, 'A session setup request carries the wrong body.');
    const [major, minor] = clientVersion(req.envelope);
    if (!macSupported(major, minor)) throw sessionError(ResponseCode.SESSION_FAILED, `Sessions need protocol 2.7 or later (the client speaks ${major}.${minor}); older session MACs and DES keys are not supported.`, { major, minor });
    let data: Uint8Array;
    let key: Uint8Array;
    switch (b.keyExchangeMode) {
      case KeyExchange.DH: {
        if (!b.publicKey) throw sessionError(ResponseCode.SESSION_FAILED, 'Key exchange DH needs the client public key.');
        ({ data, sessionKey: key } = serverDhAgree(b.publicKey, this.alg));
        break;
      }
      case KeyExchange.CIPHER_CLIENT: {
        if (!b.publicKey) throw sessionError(ResponseCode.SESSION_FAILED, 'Key exchange CIPHER_CLIENT needs the client RSA public key.');
        ({ data, sessionKey: key } = encryptSessionKeyFor(b.publicKey, this.alg));
        break;
      }
      case KeyExchange.CIPHER_HDL: {
        const pub = await this.exchangeKeyFromHandle(b.exchangeKeyHandle ?? '', b.exchangeKeyIndex ?? 0);
        ({ data, sessionKey: key } = encryptSessionKeyFor(pub, this.alg));
        break;
      }
      case KeyExchange.CIPHER_SERVER:
        throw sessionError(ResponseCode.SESSION_FAILED, 'KEY_EXCHANGE_CIPHER_SERVER (2) is not supported by this node; use DH (4), CIPHER_CLIENT (1) or CIPHER_HDL (3).', { mode: b.keyExchangeMode });
      default:
        throw sessionError(ResponseCode.SESSION_FAILED, `Unrecognized key exchange mode ${b.keyExchangeMode}; use DH (4), CIPHER_CLIENT (1) or CIPHER_HDL (3).`, { mode: b.keyExchangeMode });
    }
    const claimed: HandleReference | undefined = b.identityHandle !== '' && b.identityIndex >= 0 ? { handle: b.identityHandle, index: b.identityIndex } : undefined;
    const s = this.table.create({ keyExchangeMode: b.keyExchangeMode, alg: this.alg, key, claimed, timeoutSeconds: b.timeout }, reserved);
    return { body: { kind: 'session-setup-response', keyExchangeMode: b.keyExchangeMode, data }, sessionId: s.id };
  }

  /** The HS_PUBKEY value a CIPHER_HDL setup names (HandleServer resolves it the same way). */
  private async exchangeKeyFromHandle(handle: string, index: number): Promise<Uint8Array> {
    let values: Awaited<ReturnType<HandleService['resolve']>>;
    try {
      values = await this.service.resolve(handle, { indexes: [index], types: [] }, null);
    } catch (e) {
      throw sessionError(ResponseCode.SESSION_FAILED, `The exchange key ${index}:${handle} cannot be resolved: ${e instanceof Error ? e.message : String(e)}`);
    }
    const v = values.find((x) => x.type === HS_PUBKEY);
    if (!v) throw sessionError(ResponseCode.SESSION_FAILED, `No key found in key exchange handle ${index}:${handle} (no HS_PUBKEY value at that index).`);
    return v.data;
  }

  /** OC 402: only CIPHER_SERVER sessions use it, and this node does not offer them. */
  exchangeKey(s: ServerSession | undefined): never {
    if (!s) throw sessionError(ResponseCode.SESSION_TIMEOUT, NO_SESSION);
    throw sessionError(ResponseCode.SESSION_FAILED, 'This session was not set up with KEY_EXCHANGE_CIPHER_SERVER; there is no key to exchange.', { sessionId: s.id });
  }

  /** OC 401: the request must carry the session's MAC; then the session is gone. */
  terminate(req: HandleMessage, bytes: Uint8Array, s: ServerSession | undefined): MessageBody {
    if (!s) throw sessionError(ResponseCode.SESSION_TIMEOUT, 'Can not get session info.');
    const counter = this.verifyMac(req, bytes, s, 'Invalid session key.');
    this.table.acceptCounter(s, counter, false);
    this.table.remove(s.id);
    return { kind: 'empty' };
  }

  /**
   * An operation that needs an authenticated requester, in session `s`: the identity when the session
   * is authenticated and the request's MAC and counter check out; 'challenge' when the session has not
   * proved an identity yet (the handler then challenges inside the session).
   */
  authorize(req: HandleMessage, bytes: Uint8Array, s: ServerSession): HandleReference | 'challenge' {
    if (!s.authenticated || !s.claimed) return 'challenge';
    const counter = this.verifyMac(req, bytes, s, 'Session authentication failed.');
    if (!this.table.acceptCounter(s, counter, true)) throw sessionError(ResponseCode.SESSION_MESSAGE_REJECTED, `Duplicate session counter ${counter} in session ${s.id}.`, { counter, sessionId: s.id });
    return s.claimed;
  }

  /** Keeps the request a challenge inside session `s` was sent for. */
  holdChallenge(s: ServerSession, request: HandleMessage, nonce: Uint8Array, digest: Uint8Array): void {
    s.challenge = { request, nonce, digest, createdAt: this.now() };
  }

  /** The open challenge of session `s` (taken: one answer per challenge), or undefined when none or expired. */
  takeChallenge(s: ServerSession): ServerSession['challenge'] {
    const c = s.challenge;
    s.challenge = undefined;
    return c && this.now() - c.createdAt <= this.challengeTtlMs ? c : undefined;
  }

  /**
   * After a challenge inside session `s` was answered correctly by `who`: the original request must carry
   * the session's MAC (it was not checked when it came in); then, when `who` is the identity named at
   * setup, the session is authenticated and later requests need no challenge.
   */
  challengeAnswered(s: ServerSession, original: HandleMessage, originalBytes: Uint8Array, who: HandleReference): void {
    const counter = this.verifyMac(original, originalBytes, s, 'The session key authentication failed.');
    this.table.acceptCounter(s, counter, false);
    if (s.claimed && s.claimed.handle === who.handle && s.claimed.index === who.index) s.authenticated = true;
  }

  private verifyMac(req: HandleMessage, bytes: Uint8Array, s: ServerSession, failure: string): number {
    if (!req.credential) throw sessionError(ResponseCode.INVALID_CREDENTIAL, 'Session request missing MAC code.', { sessionId: s.id });
    const cred = decodeMacCredential(req.credential);
    const e = req.envelope;
    const fields = { majorVersion: e.majorVersion, minorVersion: e.minorVersion, suggestedMajor: e.suggestedMajor, suggestedMinor: e.suggestedMinor, sessionId: e.sessionId, requestId: e.requestId, counter: cred.counter };
    if (!macSupported(e.majorVersion, e.minorVersion) || !verifySessionMac(s.key, fields, headerAndBody(bytes).hb, cred)) {
      throw sessionError(ResponseCode.NO_SESSION_KEY, failure, { sessionId: s.id });
    }
    return cred.counter;
  }

  /**
   * A reply in session `s` as it goes out: with the session MAC as its credential when the request asked
   * for CERTIFY (not for setup or key exchange, whose replies the client needs before it has the key), then
   * encrypted when the request asked for ENCRYPT.
   */
  seal(reply: Buffer, request: HandleMessage, s: ServerSession | undefined): Buffer {
    // The session the request came in, even when the request ended it (terminate): its reply is still sealed.
    if (!s) return reply;
    const op = request.header.opCode;
    let out = reply;
    if ((request.header.opFlags & OpFlag.CERTIFY) !== 0 && op !== OpCode.SESSION_SETUP && op !== OpCode.SESSION_EXCHANGEKEY) {
      const { hb, bodyEnd } = headerAndBody(out);
      const counter = this.table.nextReplyCounter(s);
      const e = { majorVersion: out[0] as number, minorVersion: out[1] as number, suggestedMajor: (out[2] as number) & 0x03, suggestedMinor: out[3] as number, sessionId: out.readUInt32BE(4), requestId: out.readUInt32BE(8), counter };
      const cred = encodeMacCredential({ counter, alg: MacAlg.HMAC_SHA256, mac: computeSessionMac(s.key, e, hb) });
      const signed = Buffer.allocUnsafe(bodyEnd + 4 + cred.length);
      out.copy(signed, 0, 0, bodyEnd);
      signed.writeUInt32BE(cred.length, bodyEnd);
      signed.set(cred, bodyEnd + 4);
      signed.writeUInt32BE(signed.length - ENVELOPE_SIZE, 16);
      out = signed;
    }
    if ((request.header.opFlags & OpFlag.ENCRYPT) !== 0) {
      const cipher = encryptSessionMessage(s.alg, s.key, out.subarray(ENVELOPE_SIZE));
      const enc = Buffer.allocUnsafe(ENVELOPE_SIZE + cipher.length);
      out.copy(enc, 0, 0, ENVELOPE_SIZE);
      enc[2] = ((enc[2] as number) | EnvelopeFlag.ENCRYPTED) & 0xff;
      enc.writeUInt32BE(cipher.length, 16);
      cipher.copy(enc, ENVELOPE_SIZE);
      out = enc;
    }
    return out;
  }
}
