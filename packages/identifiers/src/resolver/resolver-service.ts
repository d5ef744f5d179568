/**
 * A recursive resolver as a network service for clients that do not walk the hierarchy themselves: Handle
 * protocol resolution requests (op 1) on UDP and TCP, and `GET /api/handles/{handle}` on HTTP, all answered
 * through one `RecursiveResolver` and its cache. It has its own small listener rather than the node's
 * protocol server because it answers for other nodes' handles (it may ask them), while a node's protocol
 * server answers from its own `HandleService` and its pre-rendered answers.
 */
import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { type Server as TcpServer, type Socket, createServer } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import { OpCode, ResponseCode, httpStatusFor } from '../model/response-codes.js';
import { decodeMessage, digestedBytes, encodeMessage } from '../protocol/message-codec.js';
import { DigestAlg, ENVELOPE_SIZE, type HandleMessage, type MessageBody, OpFlag, PROTOCOL_MAJOR, PROTOCOL_MINOR, type RequestDigest } from '../protocol/message-types.js';
import { responseExpiration, responseFlags } from '../protocol/response-header.js';
import { requestDigest } from '../protocol/secret-key-auth.js';
import { valueToJson } from '../rest/value-json.js';
import { truncatedReply } from '../transport/request-handler.js';
import { UdpReassembler, isWholeMessage, udpReplyDatagrams } from '../transport/udp-packets.js';
import type { RecursiveResolver } from './recursive-resolver.js';

export interface ResolverServiceOptions {
  readonly resolver: RecursiveResolver;
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly httpPort: number;
  /**
   * Largest UDP reply (default 4,096 bytes): up to 512 bytes it goes as one packet, above as 512-byte
   * packets; larger ones are sent truncated so the client asks again over TCP.
   */
  readonly maxUdpPayload?: number;
}

export interface ResolverService {
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly httpPort: number;
  close(): Promise<void>;
}

const MAX_TCP_MESSAGE = 4 * 1024 * 1024;

function reply(req: HandleMessage, responseCode: number, body: MessageBody, digest: RequestDigest | undefined): Buffer {
  return encodeMessage({
    envelope: {
      majorVersion: PROTOCOL_MAJOR,
      minorVersion: PROTOCOL_MINOR,
      compressed: false,
      encrypted: false,
      truncated: false,
      suggestedMajor: 0,
      suggestedMinor: 0,
      sessionId: req.envelope.sessionId,
      requestId: req.envelope.requestId,
      sequenceNumber: 0,
    },
    // Not authoritative: the answer may come from the cache.
    header: { opCode: req.header.opCode, responseCode, opFlags: responseFlags(req.header.opFlags, false), siteInfoSerial: 0, recursionCount: req.header.recursionCount, expiration: responseExpiration(Date.now()) },
    body,
    ...(digest && { requestDigest: digest }),
  });
}

async function answer(resolver: RecursiveResolver, buf: Buffer): Promise<Buffer | undefined> {
  let req: HandleMessage;
  try {
    req = decodeMessage(buf);
  } catch {
    return undefined; // Undecodable: dropped (a resolver is not the place to debug a client).
  }
  if (req.header.responseCode !== 0) return undefined;
  let digest: RequestDigest | undefined;
  if ((req.header.opFlags & OpFlag.REQUEST_DIGEST) !== 0) {
    const alg = req.envelope.minorVersion >= 5 ? DigestAlg.SHA256 : DigestAlg.SHA1;
    digest = { alg, digest: requestDigest(alg, digestedBytes(buf)) };
  }
  const body = req.body;
  if (req.header.opCode !== OpCode.RESOLUTION || body.kind !== 'resolution-request') {
    return reply(req, ResponseCode.OPERATION_NOT_SUPPORTED, { kind: 'error', message: 'A resolver answers resolution requests only.' }, digest);
  }
  try {
    const values = await resolver.resolve(body.handle, { types: body.types, indexes: body.indexes });
    return reply(req, ResponseCode.SUCCESS, { kind: 'resolution-response', handle: body.handle, values }, digest);
  } catch (e) {
    const rc = e instanceof HandleError ? e.responseCode : ResponseCode.ERROR;
    return reply(req, rc, { kind: 'error', message: e instanceof Error ? e.message : String(e) }, digest);
  }
}

function serveTcpConnection(resolver: RecursiveResolver, sock: Socket): void {
  let buffered = Buffer.alloc(0);
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= ENVELOPE_SIZE) {
      const len = buffered.readUInt32BE(16);
      if (len > MAX_TCP_MESSAGE) {
        sock.destroy();
        return;
      }
      if (buffered.length < ENVELOPE_SIZE + len) break;
      const msg = buffered.subarray(0, ENVELOPE_SIZE + len);
      buffered = buffered.subarray(ENVELOPE_SIZE + len);
      void answer(resolver, Buffer.from(msg)).then((out) => {
        if (out && !sock.destroyed) sock.write(out);
      });
    }
  });
}

export async function startResolverService(opts: ResolverServiceOptions): Promise<ResolverService> {
  const host = opts.host ?? '127.0.0.1';
  const maxUdp = opts.maxUdpPayload ?? 4096;
  const udp: UdpSocket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  // Requests and replies over 512 bytes travel as 512-byte packets, as at a node (transport/udp-packets.ts).
  const reassembler = new UdpReassembler();
  const sweeper = setInterval(() => reassembler.sweep(), 1000);
  sweeper.unref();
  udp.on('message', (packet, rinfo) => {
    let msg: Buffer = packet;
    if (!isWholeMessage(packet)) {
      const r = reassembler.push(packet, rinfo.address, rinfo.port);
      if (r.kind !== 'complete') return;
      msg = r.message;
    }
    void answer(opts.resolver, msg).then((out) => {
      if (!out) return;
      for (const d of udpReplyDatagrams(out, maxUdp, truncatedReply).datagrams) udp.send(d, rinfo.port, rinfo.address);
    });
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(opts.udpPort, host, () => resolve());
  });
  const sockets = new Set<Socket>();
  const tcp: TcpServer = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    serveTcpConnection(opts.resolver, sock);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.tcpPort, host, () => resolve());
  });
  const http: FastifyInstance = Fastify({ logger: false });
  http.get('/api/handles/*', async (req, res) => {
    const handle = (req.params as { '*': string })['*'];
    const q = req.query as Record<string, string | string[] | undefined>;
    const list = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
    try {
      const values = await opts.resolver.resolve(handle, { types: list(q.type), indexes: list(q.index).map(Number) });
      return res.send({ responseCode: ResponseCode.SUCCESS, handle, values: values.map((v) => valueToJson(v)) });
    } catch (e) {
      const rc = e instanceof HandleError ? e.responseCode : ResponseCode.ERROR;
      if (rc === ResponseCode.VALUES_NOT_FOUND) return res.send({ responseCode: rc, handle, values: [] });
      const status = e instanceof HandleError && e.code === 'IIP_ERR_HANDLE_UNREACHABLE' ? 502 : httpStatusFor(rc, 'resolution');
      return res.status(status).send({ responseCode: rc, handle, message: e instanceof Error ? e.message : String(e) });
    }
  });
  http.get('/api/resolver/stats', async () => opts.resolver.stats());
  await http.listen({ host, port: opts.httpPort });
  const udpPort = udp.address().port;
  const tcpAddr = tcp.address();
  const httpAddr = http.server.address();
  return {
    udpPort,
    tcpPort: typeof tcpAddr === 'object' && tcpAddr ? tcpAddr.port : opts.tcpPort,
    httpPort: typeof httpAddr === 'object' && httpAddr ? httpAddr.port : opts.httpPort,
    async close() {
      clearInterval(sweeper);
      await http.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => udp.close(() => r()));
    },
  };
}
