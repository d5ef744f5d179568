/**
 * The Handle protocol listeners (RFC 3652 §2.1): UDP and TCP on the same port number by convention (2641;
 * the caller chooses). On UDP, messages over 512 bytes travel as several 512-byte packets both ways (as
 * Handle.Net's client and server send them, see udp-packets.ts); a reply over `maxUdpPayload` goes out
 * header-only with the truncated flag so the client asks again over TCP. TCP carries any size, several
 * messages per connection.
 */
import type { KeyObject } from 'node:crypto';
import { type SocketOptions as UdpSocketOptions, type Socket as UdpSocket, createSocket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { type Server, type Socket, createServer, isIP } from 'node:net';
import type { HandleService } from '../model/handle-service.js';
import { LIMITS } from '../protocol/limits.js';
import { ENVELOPE_SIZE } from '../protocol/message-types.js';
import { type ProtocolLog, RequestHandler, truncatedReply } from './request-handler.js';
import { UDP_PACKET_BYTES, UdpReassembler, type UdpReassemblerOptions, udpReplyDatagrams } from './udp-packets.js';

export interface HandleProtocolServerOptions {
  readonly service: HandleService;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 = any free port. */
  readonly udpPort: number;
  readonly tcpPort: number;
  /**
   * Largest UDP reply (bytes, envelope included). A reply up to 512 bytes goes as one packet, a longer one
   * as 512-byte packets (what Handle.Net clients read; one bigger datagram reaches them cut short), and one
   * over this bound header-only with the truncated flag, so the client asks again over TCP. Handle.Net's
   * server has no such bound; ours keeps a spoofed 60-byte request from drawing a burst of packets.
   * Default 4,096 (8 packets).
   */
  readonly maxUdpPayload?: number;
  /** Bounds for reassembling multi-packet UDP requests (defaults: see UdpReassemblerOptions). */
  readonly udpReassembly?: UdpReassemblerOptions;
  /** A TCP connection idle this long is closed. Default 60 s. */
  readonly tcpIdleMs?: number;
  readonly maxTcpConnections?: number;
  readonly log?: ProtocolLog;
  /** Answer plain anonymous resolutions from pre-rendered answers when the service keeps them (default true). */
  readonly publicAnswers?: boolean;
  /** The server's private key: replies to CERTIFY requests are signed with it (RequestHandlerOptions.serverKey). */
  readonly serverKey?: KeyObject;
}

/** Requests on one TCP connection whose replies are still being made before the connection is paused. */
const MAX_TCP_IN_FLIGHT = 256;

export interface HandleProtocolServerStats {
  readonly udpRequests: number;
  readonly tcpRequests: number;
  /** Requests that could not be decoded (answered with an error when the envelope was readable). */
  readonly malformed: number;
  /** Packets given no reply at all. */
  readonly dropped: number;
  readonly udpTruncated: number;
  /** Multi-packet UDP requests put back together, and partial ones dropped (too old, no room, inconsistent). */
  readonly udpReassembled: number;
  readonly udpReassemblyExpired: number;
  readonly udpReassemblyEvicted: number;
  readonly udpReassemblyRejected: number;
  /** UDP replies sent as several 512-byte packets. */
  readonly udpMultiPacketReplies: number;
  readonly challenges: number;
  readonly authFailures: number;
  readonly errors: number;
  readonly tcpConnections: number;
  /** Resolutions answered from pre-rendered answers, and those that had to render first (0 when not used). */
  readonly answerHits: number;
  readonly answerMisses: number;
}

export interface HandleProtocolServer {
  readonly udpPort: number;
  readonly tcpPort: number;
  stats(): HandleProtocolServerStats;
  close(): Promise<void>;
}

/**
 * Replies go back to the address a request came from, always an IP literal. dgram resolves every send
 * target through `lookup`, and the default answers even a literal one tick later; this one answers at once
 * (names, which only the bind address could be, still go through the resolver).
 */
const literalLookup = ((address: string, family: number, callback: (err: Error | null, address: string, family: number) => void): void => {
  const kind = isIP(address);
  if (kind !== 0) callback(null, address, kind);
  else dnsLookup(address, family, callback);
}) as unknown as UdpSocketOptions['lookup'];

export async function startHandleProtocolServer(opts: HandleProtocolServerOptions): Promise<HandleProtocolServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const maxUdp = opts.maxUdpPayload ?? 4096;
  const idleMs = opts.tcpIdleMs ?? 60_000;
  const maxConns = opts.maxTcpConnections ?? 1024;
  const handler = new RequestHandler(opts.service, log, { publicAnswers: opts.publicAnswers !== false, ...(opts.serverKey && { serverKey: opts.serverKey }) });
  const counters = { udpRequests: 0, tcpRequests: 0, udpTruncated: 0, tcpDropped: 0, udpMultiPacketReplies: 0 };
  const reassembler = new UdpReassembler(opts.udpReassembly);

  const udp: UdpSocket = createSocket({
    type: host.includes(':') ? 'udp6' : 'udp4',
    recvBufferSize: 4 * 1024 * 1024,
    sendBufferSize: 4 * 1024 * 1024,
    lookup: literalLookup,
  });
  let closing = false;
  const sendUdp = (reply: Buffer, port: number, address: string): void => {
    if (closing) return;
    if (reply.length <= UDP_PACKET_BYTES) {
      udp.send(reply, port, address);
      return;
    }
    const out = udpReplyDatagrams(reply, maxUdp, truncatedReply);
    if (out.kind === 'truncated') counters.udpTruncated++;
    else counters.udpMultiPacketReplies++;
    for (const d of out.datagrams) udp.send(d, port, address);
  };
  const replyFailed = (e: unknown): void => log('error', 'identifier protocol reply failed', { error: e instanceof Error ? e.message : String(e) });

  udp.on('message', (packet, rinfo) => {
    let msg: Buffer = packet;
    // The common case, one packet holding its whole message, costs one length comparison here.
    if (packet.length >= ENVELOPE_SIZE && packet.readUInt32BE(16) !== packet.length - ENVELOPE_SIZE) {
      const r = reassembler.push(packet, rinfo.address, rinfo.port);
      if (r.kind === 'pending' || r.kind === 'rejected') return;
      if (r.kind === 'complete') msg = r.message;
    }
    counters.udpRequests++;
    // A pre-rendered answer comes back at once; anything that reads the store, as a promise.
    const reply = handler.handle(msg);
    if (reply instanceof Promise) {
      reply.then((r) => r && sendUdp(r, rinfo.port, rinfo.address)).catch(replyFailed);
      return;
    }
    if (reply) sendUdp(reply, rinfo.port, rinfo.address);
  });
  udp.on('error', (e) => log('error', 'identifier UDP socket error', { error: e.message }));
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(opts.udpPort, host, () => {
      udp.off('error', reject);
      resolve();
    });
  });

  // One timer for every partial message; between packets it is the only thing that expires them.
  const sweeper = setInterval(() => reassembler.sweep(), Math.max(50, Math.min(1000, (opts.udpReassembly?.maxAgeMs ?? 5000) / 2)));
  sweeper.unref();

  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    if (sockets.size >= maxConns) {
      counters.tcpDropped++;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(idleMs, () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // Replies leave in the order the requests came, whether made at once or after reading the store: once
    // one is awaited, the later ones queue behind it. A client pipelining too far ahead is paused.
    let tail: Promise<void> | undefined;
    let inFlight = 0;
    const send = (reply: Buffer | undefined | Promise<Buffer | undefined>, last = false): void => {
      const out = (r: Buffer | undefined) => {
        if (socket.destroyed) return;
        if (!r) {
          if (last) socket.destroy();
        } else if (last) socket.end(r);
        else socket.write(r);
      };
      if (tail === undefined && !(reply instanceof Promise)) {
        out(reply);
        return;
      }
      inFlight++;
      if (inFlight > MAX_TCP_IN_FLIGHT && !socket.isPaused()) socket.pause();
      const mine: Promise<void> = (tail ?? Promise.resolve())
        .then(() => reply)
        .then(out, (e: unknown) => {
          replyFailed(e);
          socket.destroy();
        })
        .finally(() => {
          inFlight--;
          if (tail === mine) tail = undefined;
          if (socket.isPaused() && inFlight <= MAX_TCP_IN_FLIGHT / 2) socket.resume();
        });
      tail = mine;
    };
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let off = 0;
      while (pending.length - off >= ENVELOPE_SIZE) {
        const len = pending.readUInt32BE(off + 16);
        if (len > LIMITS.messageBytes) {
          // The stream cannot be re-synchronised after a bad length: answer once, then hang up.
          counters.tcpRequests++;
          send(handler.handle(pending, off, off + ENVELOPE_SIZE), true);
          pending = Buffer.alloc(0);
          return;
        }
        if (pending.length - off < ENVELOPE_SIZE + len) break;
        counters.tcpRequests++;
        send(handler.handle(pending, off, off + ENVELOPE_SIZE + len));
        off += ENVELOPE_SIZE + len;
      }
      pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.tcpPort, host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });

  const udpAddr = udp.address();
  const tcpAddr = tcp.address();
  const tcpPort = typeof tcpAddr === 'object' && tcpAddr ? tcpAddr.port : opts.tcpPort;
  log('info', 'identifier protocol server listening', { host, udpPort: udpAddr.port, tcpPort });

  return {
    udpPort: udpAddr.port,
    tcpPort,
    stats: () => {
      const answers = handler.answerStats();
      const udpParts = reassembler.stats();
      return {
        udpRequests: counters.udpRequests,
        tcpRequests: counters.tcpRequests,
        malformed: handler.stats.malformed,
        dropped: handler.stats.dropped + counters.tcpDropped,
        udpTruncated: counters.udpTruncated,
        udpReassembled: udpParts.reassembled,
        udpReassemblyExpired: udpParts.expired,
        udpReassemblyEvicted: udpParts.evicted,
        udpReassemblyRejected: udpParts.rejected,
        udpMultiPacketReplies: counters.udpMultiPacketReplies,
        challenges: handler.stats.challenges,
        authFailures: handler.stats.authFailures,
        errors: handler.stats.errors,
        tcpConnections: sockets.size,
        answerHits: answers?.hits ?? 0,
        answerMisses: answers?.misses ?? 0,
      };
    },
    close: async () => {
      closing = true;
      clearInterval(sweeper);
      reassembler.clear();
      handler.dispose();
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
    },
  };
}
