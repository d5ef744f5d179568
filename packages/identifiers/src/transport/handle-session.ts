/**
 * A client-side Handle.Net session over one TCP connection, as the reference client's default admin path
 * uses it (HandleResolver.setupSessionWithServer): set up with Diffie–Hellman, answer one challenge inside
 * the session to prove the identity named at setup, then send admin requests carrying the session MAC
 * (HS_MAC credential, fresh counter each) with no further challenge, and terminate.
 *
 * It keeps its own socket rather than TcpChannel because a session needs each reply's bytes: to decrypt
 * it (ENCRYPT) and to check its MAC (CERTIFY) before it is decoded. In strict mode every reply must carry
 * a valid session MAC with a counter not seen before (the reference client's checkSignatureIfNeeded).
 */
import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { HandleError, replyRejected } from '../model/handle-error.js';
import { OpCode, ResponseCode } from '../model/response-codes.js';
import { LIMITS } from '../protocol/limits.js';
import { decodeMessage, digestedBytes, encodeMessage } from '../protocol/message-codec.js';
import { DEFAULT_ENVELOPE, DigestAlg, ENVELOPE_SIZE, EnvelopeFlag, HEADER_SIZE, type HandleMessage, type MessageBody, OpFlag } from '../protocol/message-types.js';
import { requestDigest, signChallenge } from '../protocol/secret-key-auth.js';
import { KeyExchange, MacAlg, decodeMacCredential, encodeMacCredential } from '../protocol/session-codec.js';
import { ClientDh, computeSessionMac, decryptSessionMessage, encryptSessionMessage, verifySessionMac } from '../protocol/session-crypto.js';

export interface SessionIdentity {
  readonly identity: { readonly handle: string; readonly index: number };
  readonly secretKey: Uint8Array;
}

export interface HandleSessionOptions {
  /** Per request. Default 2,000 ms. */
  readonly timeoutMs?: number;
  /** Idle timeout to ask the server for, in seconds (0 = the server's default). */
  readonly sessionTimeoutSeconds?: number;
  /** Encrypt every request and ask for encrypted replies. Default false. */
  readonly encrypt?: boolean;
  /** Ask for MACed replies and refuse a reply whose MAC or counter does not check out. Default true. */
  readonly strict?: boolean;
  /** RFC 3526 MODP group for DH. Default modp14. */
  readonly dhGroup?: string;
}

export class HandleSession {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiters = new Map<number, (r: { bytes: Buffer } | { error: Error }) => void>();
  private failure: Error | undefined;
  private counter = 0;
  private readonly seenReplyCounters = new Set<number>();
  private nextId = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  private authenticated = false;
  /** The session id the server assigned. */
  sessionId = 0;
  /** The bytes of the last request sent (diagnostics; a replay of them must be refused). */
  lastSent: Buffer | undefined;
  private key: Uint8Array = new Uint8Array(0);
  private alg = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly auth: SessionIdentity,
    private readonly opts: Required<Omit<HandleSessionOptions, 'dhGroup' | 'sessionTimeoutSeconds'>>,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.onData(c));
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiters.values()) w({ error: e });
      this.waiters.clear();
    };
    socket.on('error', (e) => fail(new HandleError(ResponseCode.ERROR, `Session connection failed: ${e.message}`, {}, 'IIP_ERR_HANDLE_UNREACHABLE')));
    socket.on('close', () => fail(new HandleError(ResponseCode.ERROR, 'Session connection closed.', {}, 'IIP_ERR_HANDLE_UNREACHABLE')));
  }

  /** Connects and sets up a DH session naming `auth.identity`. */
  static async open(address: string, tcpPort: number, auth: SessionIdentity, options: HandleSessionOptions = {}): Promise<HandleSession> {
    const timeoutMs = options.timeoutMs ?? 2000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: address, port: tcpPort });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new HandleError(ResponseCode.ERROR, `TCP connect to ${address}:${tcpPort} timed out.`, {}, 'IIP_ERR_HANDLE_UNREACHABLE'));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new HandleError(ResponseCode.ERROR, `TCP connect to ${address}:${tcpPort} failed: ${e.message}`, {}, 'IIP_ERR_HANDLE_UNREACHABLE'));
      });
    });
    const session = new HandleSession(socket, auth, { timeoutMs, encrypt: options.encrypt === true, strict: options.strict !== false });
    try {
      await session.setup(options.dhGroup ?? 'modp14', options.sessionTimeoutSeconds ?? 0);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    return session;
  }

  private async setup(group: string, timeout: number): Promise<void> {
    const dh = new ClientDh(group);
    const body: MessageBody = { kind: 'session-setup', keyExchangeMode: KeyExchange.DH, timeout, identityHandle: this.auth.identity.handle, identityIndex: this.auth.identity.index, publicKey: dh.publicKey };
    const id = this.requestId();
    const bytes = encodeMessage({ envelope: { ...DEFAULT_ENVELOPE, requestId: id }, header: { opCode: OpCode.SESSION_SETUP, responseCode: 0, opFlags: OpFlag.REQUEST_DIGEST, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body });
    const reply = decodeMessage(await this.send(id, bytes));
    if (reply.header.responseCode !== ResponseCode.SUCCESS || reply.body.kind !== 'session-setup-response') {
      throw new HandleError(reply.header.responseCode, reply.body.kind === 'error' && reply.body.message ? reply.body.message : `Session setup answered response code ${reply.header.responseCode}.`);
    }
    if (this.opts.strict) this.checkDigest(reply, bytes);
    const agreed = dh.agree(reply.body.data);
    this.key = agreed.sessionKey;
    this.alg = agreed.alg;
    this.sessionId = reply.envelope.sessionId;
  }

  private requestId(): number {
    this.nextId = (this.nextId + 1) & 0x7fffffff || 1;
    return this.nextId;
  }

  private checkDigest(reply: HandleMessage, sent: Buffer): void {
    const d = reply.requestDigest;
    if (!d || !Buffer.from(requestDigest(d.alg, digestedBytes(sent))).equals(Buffer.from(d.digest))) throw replyRejected('request-digest', 'The session reply does not carry the digest of our request.');
  }

  /** A request in the session: MAC credential with the next counter; encrypted when the session encrypts. */
  private sessionRequest(opCode: number, body: MessageBody, opFlags: number, sign = true): { id: number; bytes: Buffer } {
    const id = this.requestId();
    const flags = (opFlags | (this.opts.strict ? OpFlag.CERTIFY : 0) | (this.opts.encrypt ? OpFlag.ENCRYPT : 0)) >>> 0;
    const msg: HandleMessage = { envelope: { ...DEFAULT_ENVELOPE, requestId: id, sessionId: this.sessionId }, header: { opCode, responseCode: 0, opFlags: flags, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body };
    let bytes = encodeMessage(msg);
    if (sign) {
      this.counter += 1;
      const hb = bytes.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + HEADER_SIZE + bytes.readUInt32BE(ENVELOPE_SIZE + 20));
      const e = msg.envelope;
      const mac = computeSessionMac(this.key, { majorVersion: e.majorVersion, minorVersion: e.minorVersion, suggestedMajor: e.suggestedMajor, suggestedMinor: e.suggestedMinor, sessionId: e.sessionId, requestId: id, counter: this.counter }, hb);
      bytes = encodeMessage({ ...msg, credential: encodeMacCredential({ counter: this.counter, alg: MacAlg.HMAC_SHA256, mac }) });
    }
    return { id, bytes };
  }

  private wire(bytes: Buffer): Buffer {
    if (!this.opts.encrypt) return bytes;
    const cipher = encryptSessionMessage(this.alg, this.key, bytes.subarray(ENVELOPE_SIZE));
    const out = Buffer.concat([bytes.subarray(0, ENVELOPE_SIZE), cipher]);
    out[2] = ((out[2] as number) | EnvelopeFlag.ENCRYPTED) & 0xff;
    out.writeUInt32BE(cipher.length, 16);
    return out;
  }

  /** Decrypts when encrypted; in strict mode checks the MAC and counter; then decodes. */
  private open(raw: Buffer): HandleMessage {
    let bytes = raw;
    if (((raw[2] as number) & EnvelopeFlag.ENCRYPTED) !== 0) {
      const plain = decryptSessionMessage(this.alg, this.key, raw.subarray(ENVELOPE_SIZE));
      bytes = Buffer.concat([raw.subarray(0, ENVELOPE_SIZE), plain]);
      bytes[2] = (bytes[2] as number) & ~EnvelopeFlag.ENCRYPTED & 0xff;
      bytes.writeUInt32BE(plain.length, 16);
    } else if (this.opts.encrypt) {
      if (this.opts.strict) throw replyRejected('encryption', 'The server answered an encrypted session request in clear text.');
    }
    const reply = decodeMessage(bytes);
    if (!this.opts.strict) return reply;
    if (!reply.credential) {
      // The server could not answer inside the session (unknown, expired or failed): its code is the news.
      const rc = reply.header.responseCode;
      if (rc >= ResponseCode.SESSION_TIMEOUT && rc <= ResponseCode.SESSION_MESSAGE_REJECTED) throw new HandleError(rc, reply.body.kind === 'error' && reply.body.message ? reply.body.message : `Session refused with response code ${rc}.`);
      throw replyRejected('session-mac-missing', 'The session reply carries no MAC although the request asked for one.');
    }
    const cred = decodeMacCredential(reply.credential);
    const hb = bytes.subarray(ENVELOPE_SIZE, ENVELOPE_SIZE + HEADER_SIZE + bytes.readUInt32BE(ENVELOPE_SIZE + 20));
    const e = reply.envelope;
    if (!verifySessionMac(this.key, { majorVersion: e.majorVersion, minorVersion: e.minorVersion, suggestedMajor: e.suggestedMajor, suggestedMinor: e.suggestedMinor, sessionId: e.sessionId, requestId: e.requestId, counter: cred.counter }, hb, cred)) {
      throw replyRejected('session-mac', 'Verification of the session MAC of the reply failed.');
    }
    if (cred.counter !== 0 && this.seenReplyCounters.has(cred.counter)) throw replyRejected('session-counter', `The reply repeats session counter ${cred.counter} (a replay).`);
    this.seenReplyCounters.add(cred.counter);
    return reply;
  }

  /**
   * An operation in the session. The first one that needs authentication is challenged inside the
   * session; we answer as the identity named at setup, which authenticates the session for later ones.
   */
  async request(opCode: number, body: MessageBody, opFlags = 0): Promise<HandleMessage> {
    const first = this.sessionRequest(opCode, body, opFlags);
    const reply = this.open(await this.send(first.id, this.wire(first.bytes)));
    if (reply.header.responseCode !== ResponseCode.AUTHENTICATION_NEEDED) return reply;
    if (reply.body.kind !== 'challenge' || !reply.requestDigest) throw new HandleError(ResponseCode.PROTOCOL_ERROR, 'The challenge carries no nonce or request digest.');
    const ours = requestDigest(reply.requestDigest.alg, digestedBytes(first.bytes));
    if (!Buffer.from(ours).equals(Buffer.from(reply.requestDigest.digest))) throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, 'The server challenged a request we did not send; refusing to sign it.');
    const signed = signChallenge(this.auth.secretKey, reply.body.nonce, reply.requestDigest.digest, DigestAlg.HMAC_SHA256);
    const answer = this.sessionRequest(OpCode.CHALLENGE_RESPONSE, { kind: 'challenge-answer', authType: 'HS_SECKEY', identityHandle: this.auth.identity.handle, identityIndex: this.auth.identity.index, signedResponse: signed }, 0, false);
    const final = this.open(await this.send(answer.id, this.wire(answer.bytes)));
    if (final.header.responseCode === ResponseCode.SUCCESS) this.authenticated = true;
    return final;
  }

  /** Whether a challenge inside this session has been answered (later admin requests go unchallenged). */
  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  /** Ends the session on the server (OC 401, with MAC) and closes the connection. */
  async terminate(): Promise<void> {
    try {
      const t = this.sessionRequest(OpCode.SESSION_TERMINATE, { kind: 'handle', handle: '/' }, 0);
      const reply = this.open(await this.send(t.id, this.wire(t.bytes)));
      if (reply.header.responseCode !== ResponseCode.SUCCESS) throw new HandleError(reply.header.responseCode, reply.body.kind === 'error' ? reply.body.message : 'Session terminate failed.');
    } finally {
      this.close();
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /** Raw request bytes out, raw reply bytes back (matched by request id). */
  send(requestId: number, bytes: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    this.lastSent = bytes;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(requestId);
        reject(new HandleError(ResponseCode.ERROR, `No session reply within ${this.opts.timeoutMs} ms.`, {}, 'IIP_ERR_HANDLE_UNREACHABLE'));
      }, this.opts.timeoutMs);
      this.waiters.set(requestId, (r) => {
        clearTimeout(timer);
        if ('error' in r) reject(r.error);
        else resolve(r.bytes);
      });
      this.socket.write(bytes);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= ENVELOPE_SIZE) {
      const len = this.buffered.readUInt32BE(16);
      if (len > LIMITS.messageBytes) {
        this.socket.destroy();
        return;
      }
      if (this.buffered.length < ENVELOPE_SIZE + len) return;
      const frame = Buffer.from(this.buffered.subarray(0, ENVELOPE_SIZE + len));
      this.buffered = this.buffered.subarray(ENVELOPE_SIZE + len);
      const w = this.waiters.get(frame.readUInt32BE(8));
      if (w) {
        this.waiters.delete(frame.readUInt32BE(8));
        w({ bytes: frame });
      }
    }
  }
}
