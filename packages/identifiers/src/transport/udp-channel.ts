/**
 * The client's UDP side: one socket shared by all requests, replies matched by request id, a timeout per
 * attempt and a bounded number of resends (UDP may lose either datagram). Requests over 512 bytes go out
 * as 512-byte packets and multi-packet replies are put back together (udp-packets.ts), as Handle.Net's
 * client does.
 */
import { type Socket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { decodeMessage } from '../protocol/message-codec.js';
import { ENVELOPE_SIZE, type HandleMessage } from '../protocol/message-types.js';
import { UDP_PACKET_BYTES, UdpReassembler, type UdpReassemblerStats, splitIntoPackets } from './udp-packets.js';

interface Waiter {
  resolve(m: HandleMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface UdpChannelOptions {
  /**
   * Read every datagram the way Handle.Net's client does, into a 512-byte buffer: a longer datagram is cut
   * to its first 512 bytes and is then a packet of a message whose rest never comes. Off by default (any
   * datagram size is read); on, it checks that a server answers in packets that client can read.
   */
  readonly referencePacketReads?: boolean;
}

export class UdpChannel {
  private sockets = new Map<'udp4' | 'udp6', Socket>();
  private readonly waiters = new Map<number, Waiter>();
  private readonly reassembler = new UdpReassembler({ maxMessages: 256 });
  private readonly cutTo: number;

  constructor(opts: UdpChannelOptions = {}) {
    this.cutTo = opts.referencePacketReads ? UDP_PACKET_BYTES : Number.POSITIVE_INFINITY;
  }

  /** What became of multi-packet replies so far. */
  reassemblyStats(): UdpReassemblerStats {
    return this.reassembler.stats();
  }

  private socketFor(address: string): Socket {
    const type = isIPv6(address) ? 'udp6' : 'udp4';
    let s = this.sockets.get(type);
    if (!s) {
      s = createSocket(type);
      s.on('message', (buf, rinfo) => this.onMessage(buf, rinfo.address, rinfo.port));
      s.on('error', () => {});
      s.unref();
      this.sockets.set(type, s);
    }
    return s;
  }

  private onMessage(datagram: Buffer, address: string, port: number): void {
    if (datagram.length < ENVELOPE_SIZE) return;
    const w = this.waiters.get(datagram.readUInt32BE(8));
    // Packets for requests nobody waits for any more are not worth buffering.
    if (!w) return;
    let buf = datagram.length > this.cutTo ? datagram.subarray(0, this.cutTo) : datagram;
    const r = this.reassembler.push(buf, address, port);
    if (r.kind === 'pending' || r.kind === 'rejected') return;
    if (r.kind === 'complete') buf = r.message;
    let m: HandleMessage;
    try {
      m = decodeMessage(buf);
    } catch {
      // A reply we cannot read is as good as a lost one: the next attempt or the timeout decides.
      return;
    }
    this.waiters.delete(m.envelope.requestId);
    clearTimeout(w.timer);
    w.resolve(m);
  }

  /** Sends `bytes` (whose request id is `requestId`) and resolves with the matching reply. */
  async exchange(address: string, port: number, requestId: number, bytes: Buffer, timeoutMs: number, retries: number): Promise<HandleMessage> {
    const socket = this.socketFor(address);
    const packets = splitIntoPackets(bytes);
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<HandleMessage>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.waiters.delete(requestId);
            reject(new HandleError(ResponseCode.ERROR, `No UDP reply from ${address}:${port} within ${timeoutMs} ms.`, { address, port }, 'IIP_ERR_HANDLE_UNREACHABLE'));
          }, timeoutMs);
          this.waiters.set(requestId, { resolve, reject, timer });
          const sent = (err: Error | null): void => {
            if (!err || this.waiters.get(requestId)?.timer !== timer) return;
            clearTimeout(timer);
            this.waiters.delete(requestId);
            reject(new HandleError(ResponseCode.ERROR, `UDP send to ${address}:${port} failed: ${err.message}`, { address, port }, 'IIP_ERR_HANDLE_UNREACHABLE'));
          };
          // Every packet of every attempt goes out again: the server forgets a partial request after a while.
          for (const p of packets) socket.send(p, port, address, sent);
        });
      } catch (e) {
        if (attempt >= retries) throw e;
      }
    }
  }

  close(): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new HandleError(ResponseCode.ERROR, 'Client closed.', {}, 'IIP_ERR_HANDLE_UNREACHABLE'));
    }
    this.waiters.clear();
    this.reassembler.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
