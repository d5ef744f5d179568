/**
 * The client's UDP side: one socket shared by all requests, replies matched by request id, a timeout per
 * attempt and a bounded number of resends (UDP may lose either datagram).
 */
import { type Socket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { decodeMessage } from '../protocol/message-codec.js';
import type { HandleMessage } from '../protocol/message-types.js';

interface Waiter {
  resolve(m: HandleMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class UdpChannel {
  private sockets = new Map<'udp4' | 'udp6', Socket>();
  private readonly waiters = new Map<number, Waiter>();

  private socketFor(address: string): Socket {
    const type = isIPv6(address) ? 'udp6' : 'udp4';
    let s = this.sockets.get(type);
    if (!s) {
      s = createSocket(type);
      s.on('message', (buf) => this.onMessage(buf));
      s.on('error', () => {});
      s.unref();
      this.sockets.set(type, s);
    }
    return s;
  }

  private onMessage(buf: Buffer): void {
    if (buf.length < 20) return;
    const w = this.waiters.get(buf.readUInt32BE(8));
    if (!w) return;
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
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<HandleMessage>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.waiters.delete(requestId);
            reject(new HandleError(ResponseCode.ERROR, `No UDP reply from ${address}:${port} within ${timeoutMs} ms.`, { address, port }, 'IIP_ERR_HANDLE_UNREACHABLE'));
          }, timeoutMs);
          this.waiters.set(requestId, { resolve, reject, timer });
          socket.send(bytes, port, address, (err) => {
            if (!err) return;
            clearTimeout(timer);
            this.waiters.delete(requestId);
            reject(new HandleError(ResponseCode.ERROR, `UDP send to ${address}:${port} failed: ${err.message}`, { address, port }, 'IIP_ERR_HANDLE_UNREACHABLE'));
          });
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
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
