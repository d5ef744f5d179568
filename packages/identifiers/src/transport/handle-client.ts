/**
 * A Handle protocol client: resolution over UDP first (TCP when the reply comes back truncated or the
 * server has no UDP port), site info, and the admin operations, each authenticated by answering the
 * server's challenge as an HS_SECKEY or an HS_PUBKEY identity; with `certify`, every reply must be signed
 * by the server key. Error replies become HandleError with the server's response code;
 * referrals are returned (responseCode 302/303 with the values to follow), not thrown.
 */
import { type KeyObject, randomBytes } from 'node:crypto';
import { HandleError, replyRejected } from '../model/handle-error.js';
import type { ResolveQuery } from '../model/handle-service.js';
import type { HandleReference, HandleValue } from '../model/handle-value.js';
import { OpCode, ResponseCode } from '../model/response-codes.js';
import { digestedBytes, encodeMessage } from '../protocol/message-codec.js';
import { DEFAULT_ENVELOPE, DigestAlg, type HandleMessage, type MessageBody, OpFlag } from '../protocol/message-types.js';
import { responseExpiration } from '../protocol/response-header.js';
import { checkSignedMessage } from '../protocol/message-credential.js';
import { type SignatureHash, signChallengeWithKey } from '../protocol/public-key-auth.js';
import { requestDigest, signChallenge } from '../protocol/secret-key-auth.js';
import type { SiteInfoRecord } from '../protocol/site-info-codec.js';
import { TcpChannel } from './tcp-channel.js';
import { UdpChannel } from './udp-channel.js';

export interface HandleServerAddress {
  readonly address: string;
  readonly udpPort?: number;
  readonly tcpPort?: number;
}

/** Who the client proves to be when a server challenges it: an HS_SECKEY or an HS_PUBKEY identity. */
export type HandleAuth = HandleSecretKeyAuth | HandlePrivateKeyAuth;

export interface HandleSecretKeyAuth {
  readonly identity: HandleReference;
  readonly secretKey: Uint8Array;
  /** Digest algorithm for the answer; default HMAC-SHA256 (DigestAlg). */
  readonly alg?: number;
}

/** An HS_PUBKEY identity: the challenge is answered with a signature by the matching private key (DSA or RSA). */
export interface HandlePrivateKeyAuth {
  readonly identity: HandleReference;
  readonly privateKey: KeyObject;
  /** Default: what Handle.Net picks at 2.10 — SHA1withDSA for DSA keys, SHA256withRSA for RSA. */
  readonly hash?: SignatureHash;
}

export interface ResolveResult {
  /** 1 on success; 302/303 when the server refers us elsewhere (values then hold HS_SITE/HS_SERV). */
  readonly responseCode: number;
  readonly values: HandleValue[];
}

export interface HandleClientOptions {
  /** Per attempt. Default 2,000 ms. */
  readonly timeoutMs?: number;
  /** UDP resends after a timeout. Default 2. */
  readonly retries?: number;
  /**
   * Certified replies: every request carries CERTIFY and every reply must carry an HS_SIGNED credential that
   * verifies with `publicKey` (the server's key from its HS_SITE, e.g. `decodePublicKey(site.servers[0].publicKey)`);
   * any other reply is refused (IIP_ERR_HANDLE_REPLY_REJECTED, `details.check` = "signature").
   */
  readonly certify?: { readonly publicKey: KeyObject };
  /** Read UDP replies as Handle.Net's client does, in 512-byte packets (UdpChannelOptions). Default false. */
  readonly referencePacketReads?: boolean;
  /**
   * Check every reply as the reference client does (default true): each request asks for the request digest
   * (REQUEST_DIGEST) and a reply is refused (IIP_ERR_HANDLE_REPLY_REJECTED, `details.check`) when its
   * expiration has passed, when it lacks the digest, or when the digest is not that of the request sent.
   */
  readonly strict?: boolean;
  /** The clock, Unix milliseconds (tests move it). Default Date.now. */
  readonly now?: () => number;
}

function failure(m: HandleMessage): HandleError {
  const message = m.body.kind === 'error' && m.body.message ? m.body.message : `Handle server answered response code ${m.header.responseCode}.`;
  return new HandleError(m.header.responseCode, message, { opCode: m.header.opCode });
}

export class HandleClient {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly udp: UdpChannel;
  private nextId = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  private readonly certifyKey: KeyObject | undefined;
  private readonly strict: boolean;
  private readonly now: () => number;

  constructor(opts: HandleClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retries = opts.retries ?? 2;
    this.certifyKey = opts.certify?.publicKey;
    this.udp = new UdpChannel({ referencePacketReads: opts.referencePacketReads === true });
    this.strict = opts.strict ?? true;
    this.now = opts.now ?? Date.now;
  }

  private requestId(): number {
    this.nextId = (this.nextId + 1) & 0x7fffffff || 1;
    return this.nextId;
  }

  private request(opCode: number, body: MessageBody, opFlags = 0, sessionId = 0): { id: number; bytes: Buffer } {
    const id = this.requestId();
    const flags = ((this.strict ? opFlags | OpFlag.REQUEST_DIGEST : opFlags) | (this.certifyKey ? OpFlag.CERTIFY : 0)) >>> 0;
    const header = { opCode, responseCode: 0, opFlags: flags, siteInfoSerial: 0, recursionCount: 0, expiration: responseExpiration(this.now()) };
    const bytes = encodeMessage({ envelope: { ...DEFAULT_ENVELOPE, requestId: id, sessionId }, header, body });
    return { id, bytes };
  }

  /**
   * The strict client's checks of a reply to `sent` (see HandleClientOptions.strict). A truncated reply
   * carries no body, so no digest: it only sends us to TCP, where the full reply is checked.
   */
  private checked(reply: HandleMessage, sent: Buffer): HandleMessage {
    if (this.certifyKey && !reply.envelope.truncated) this.verifyCertified(reply, this.certifyKey);
    if (!this.strict) return reply;
    const rejected = (check: string, message: string) => replyRejected(check, message, { opCode: reply.header.opCode });
    const nowSeconds = Math.floor(this.now() / 1000);
    if (reply.header.expiration < nowSeconds) throw rejected('expiration', `The reply expired at ${reply.header.expiration} (Unix seconds); it is now ${nowSeconds}.`);
    if (reply.envelope.truncated) return reply;
    const d = reply.requestDigest;
    if (!d) throw rejected('request-digest-missing', 'The reply carries no request digest although the request asked for one.');
    const ours = requestDigest(d.alg, digestedBytes(sent));
    if (!Buffer.from(ours).equals(Buffer.from(d.digest))) throw rejected('request-digest-mismatch', 'The reply carries the digest of another request than the one sent.');
    return reply;
  }

  /**
   * A certified reply's HS_SIGNED credential must verify with the server key. The channels hand over decoded
   * messages, so the signed bytes are those of the reply encoded again; our codec writes back exactly what it
   * read for every message it accepts, and a reply altered on the way fails either way. A truncated UDP reply
   * carries no body to sign; the client asks again over TCP and checks that reply.
   */
  private verifyCertified(reply: HandleMessage, publicKey: KeyObject): void {
    let bytes: Buffer;
    try {
      bytes = encodeMessage(reply);
    } catch (e) {
      throw replyRejected('signature', `The reply cannot be checked: ${e instanceof Error ? e.message : String(e)}`, { opCode: reply.header.opCode });
    }
    const result = checkSignedMessage(bytes, publicKey);
    if (!result.valid) throw replyRejected('signature', `Certified reply refused: ${result.reason}`, { opCode: reply.header.opCode });
  }

  /** One request/reply, UDP first when the server has a UDP port, TCP when it has not or the reply was truncated. */
  private async exchange(server: HandleServerAddress, opCode: number, body: MessageBody, opFlags = 0): Promise<HandleMessage> {
    if (server.udpPort !== undefined) {
      const { id, bytes } = this.request(opCode, body, opFlags);
      const reply = this.checked(await this.udp.exchange(server.address, server.udpPort, id, bytes, this.timeoutMs, this.retries), bytes);
      if (!reply.envelope.truncated) return reply;
      if (server.tcpPort === undefined) throw new HandleError(ResponseCode.ERROR, `The reply from ${server.address} was truncated and the server has no TCP port to ask again.`);
    }
    if (server.tcpPort === undefined) throw new HandleError(ResponseCode.ERROR, 'The server address has neither a UDP nor a TCP port.');
    const tcp = await TcpChannel.open(server.address, server.tcpPort, this.timeoutMs);
    try {
      const { id, bytes } = this.request(opCode, body, opFlags);
      return this.checked(await tcp.exchange(id, bytes, this.timeoutMs), bytes);
    } finally {
      tcp.close();
    }
  }

  /**
   * Resolves `handle`. Without `auth` the request carries PUBLIC_ONLY and gets the public values; with
   * `auth` it does not, and when the handle has values only administrators may read the server challenges,
   * the client answers as `auth.identity`, and the reply holds every value that identity may read.
   */
  async resolve(server: HandleServerAddress, handle: string, query: ResolveQuery = {}, auth?: HandleAuth): Promise<ResolveResult> {
    const body: MessageBody = { kind: 'resolution-request', handle, indexes: query.indexes ?? [], types: query.types ?? [] };
    const reply = auth ? await this.admin(server, OpCode.RESOLUTION, body, auth) : await this.exchange(server, OpCode.RESOLUTION, body, OpFlag.PUBLIC_ONLY);
    const b = reply.body;
    if (reply.header.responseCode === ResponseCode.SUCCESS && b.kind === 'resolution-response') return { responseCode: ResponseCode.SUCCESS, values: [...b.values] };
    if (b.kind === 'referral') return { responseCode: reply.header.responseCode, values: b.values ? [...b.values] : [] };
    throw failure(reply);
  }

  async getSiteInfo(server: HandleServerAddress): Promise<SiteInfoRecord> {
    const reply = await this.exchange(server, OpCode.GET_SITE_INFO, { kind: 'handle', handle: '/' });
    if (reply.header.responseCode === ResponseCode.SUCCESS && reply.body.kind === 'site-info') return reply.body.site;
    throw failure(reply);
  }

  /**
   * An admin operation: send it, answer the challenge on the same channel, return the final reply. Admin
   * traffic goes over TCP when the server has a TCP port (bodies can be large), else over UDP.
   */
  private async admin(server: HandleServerAddress, opCode: number, body: MessageBody, auth: HandleAuth, opFlags = 0): Promise<HandleMessage> {
    const useTcp = server.tcpPort !== undefined;
    if (!useTcp && server.udpPort === undefined) throw new HandleError(ResponseCode.ERROR, 'The server address has neither a UDP nor a TCP port.');
    const tcp = useTcp ? await TcpChannel.open(server.address, server.tcpPort as number, this.timeoutMs) : undefined;
    const send = async (id: number, bytes: Buffer): Promise<HandleMessage> =>
      this.checked(await (tcp ? tcp.exchange(id, bytes, this.timeoutMs) : this.udp.exchange(server.address, server.udpPort as number, id, bytes, this.timeoutMs, this.retries)), bytes);
    try {
      const first = this.request(opCode, body, opFlags);
      const reply = await send(first.id, first.bytes);
      if (reply.header.responseCode !== ResponseCode.AUTHENTICATION_NEEDED) return reply;
      if (reply.body.kind !== 'challenge' || !reply.requestDigest) throw new HandleError(ResponseCode.PROTOCOL_ERROR, 'The challenge carries no nonce or request digest.');
      // Sign only what we sent: the server's digest must be the digest of our own request.
      const ours = requestDigest(reply.requestDigest.alg, digestedBytes(first.bytes));
      if (!Buffer.from(ours).equals(Buffer.from(reply.requestDigest.digest))) throw new HandleError(ResponseCode.AUTHENTICATION_FAILED, 'The server challenged a request we did not send; refusing to sign it.');
      const byKey = 'privateKey' in auth;
      const signed = byKey
        ? signChallengeWithKey(auth.privateKey, reply.body.nonce, reply.requestDigest.digest, auth.hash)
        : signChallenge(auth.secretKey, reply.body.nonce, reply.requestDigest.digest, auth.alg ?? DigestAlg.HMAC_SHA256);
      const answer = this.request(
        OpCode.CHALLENGE_RESPONSE,
        { kind: 'challenge-answer', authType: byKey ? 'HS_PUBKEY' : 'HS_SECKEY', identityHandle: auth.identity.handle, identityIndex: auth.identity.index, signedResponse: signed },
        0,
        reply.envelope.sessionId,
      );
      return await send(answer.id, answer.bytes);
    } finally {
      tcp?.close();
    }
  }

  private async adminOk(server: HandleServerAddress, opCode: number, body: MessageBody, auth: HandleAuth, opFlags = 0): Promise<HandleMessage> {
    const reply = await this.admin(server, opCode, body, auth, opFlags);
    if (reply.header.responseCode !== ResponseCode.SUCCESS) throw failure(reply);
    return reply;
  }

  /** Creates the handle; returns the name the server created (it differs when a suffix was minted). */
  async create(server: HandleServerAddress, handle: string, values: readonly HandleValue[], auth: HandleAuth, opts: { overwrite?: boolean; mintNewSuffix?: boolean } = {}): Promise<string> {
    const flags = (opts.overwrite ? OpFlag.OVERWRITE : 0) | (opts.mintNewSuffix ? OpFlag.MINT_NEW_SUFFIX : 0);
    const reply = await this.adminOk(server, OpCode.CREATE_HANDLE, { kind: 'values', handle, values }, auth, flags);
    return reply.body.kind === 'created' ? reply.body.handle : handle;
  }

  async delete(server: HandleServerAddress, handle: string, auth: HandleAuth): Promise<void> {
    await this.adminOk(server, OpCode.DELETE_HANDLE, { kind: 'handle', handle }, auth);
  }

  async addValues(server: HandleServerAddress, handle: string, values: readonly HandleValue[], auth: HandleAuth): Promise<void> {
    await this.adminOk(server, OpCode.ADD_VALUE, { kind: 'values', handle, values }, auth);
  }

  async removeValues(server: HandleServerAddress, handle: string, indexes: readonly number[], auth: HandleAuth): Promise<void> {
    await this.adminOk(server, OpCode.REMOVE_VALUE, { kind: 'remove-values', handle, indexes }, auth);
  }

  async modifyValues(server: HandleServerAddress, handle: string, values: readonly HandleValue[], auth: HandleAuth): Promise<void> {
    await this.adminOk(server, OpCode.MODIFY_VALUE, { kind: 'values', handle, values }, auth);
  }

  /** Handles under `prefix` (given as `88.118` or `0.NA/88.118`). */
  async listHandles(server: HandleServerAddress, prefix: string, auth: HandleAuth): Promise<string[]> {
    const reply = await this.adminOk(server, OpCode.LIST_HANDLES, { kind: 'handle', handle: prefix.toUpperCase().startsWith('0.NA/') ? prefix : `0.NA/${prefix}` }, auth);
    return reply.body.kind === 'handle-list' ? [...reply.body.handles] : [];
  }

  async homePrefix(server: HandleServerAddress, prefix: string, auth: HandleAuth): Promise<void> {
    await this.adminOk(server, OpCode.HOME_NA, { kind: 'handle', handle: `0.NA/${prefix}` }, auth);
  }

  async unhomePrefix(server: HandleServerAddress, prefix: string, auth: HandleAuth): Promise<void> {
    await this.adminOk(server, OpCode.UNHOME_NA, { kind: 'handle', handle: `0.NA/${prefix}` }, auth);
  }

  /** Prefixes the server homes (without the `0.NA/`). */
  async listHomedPrefixes(server: HandleServerAddress, auth: HandleAuth): Promise<string[]> {
    const reply = await this.adminOk(server, OpCode.LIST_HOMED_NAS, { kind: 'handle', handle: '/' }, auth);
    if (reply.body.kind !== 'handle-list') return [];
    return reply.body.handles.map((h) => (h.toUpperCase().startsWith('0.NA/') ? h.slice(5) : h));
  }

  close(): void {
    this.udp.close();
  }
}
