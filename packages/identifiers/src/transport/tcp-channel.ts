/**
 * One TCP connection to a Handle server for the length of an operation (a request and, for admin
 * operations, the challenge answer): messages are framed by the envelope's length, replies matched by
 * request id.
 */
import { type Socket, connect } from 'node:net';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';
import { LIMITS } from '../protocol/limits.js';
import { decodeMessage } from '../protocol/message-codec.js';
import { ENVELOPE_SIZE, type HandleMessage } from '../protocol/message-types.js';

function unreachable(message: string, details: Record<string, unknown>): HandleError {
  return new HandleError(ResponseCode.ERROR, message, details, 'IIP_ERR_HANDLE_UNREACHABLE');
}

export class TcpChannel {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiters = new Map<number, { resolve(m: HandleMessage): void; reject(e: Error): void }>();
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly where: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(unreachable(`TCP connection to ${where} failed: ${e.message}`, { where })));
    socket.on('close', () => this.fail(unreachable(`TCP connection to ${where} closed before the reply.`, { where })));
  }

  static open(address: string, port: number, timeoutMs: number): Promise<TcpChannel> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(unreachable(`TCP connect to ${address}:${port} timed out after ${timeoutMs} ms.`, { address, port }));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TcpChannel(socket, `${address}:${port}`));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(unreachable(`TCP connect to ${address}:${port} failed: ${e.message}`, { address, port }));
      });
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= ENVELOPE_SIZE) {
      const len = this.buffered.readUInt32BE(16);
      if (len > LIMITS.messageBytes) {
        this.fail(new HandleError(ResponseCode.PROTOCOL_ERROR, `Reply from ${this.where} claims ${len} bytes.`));
        this.socket.destroy();
        return;
      }
      if (this.buffered.length < ENVELOPE_SIZE + len) return;
      const frame = this.buffered.subarray(0, ENVELOPE_SIZE + len);
      this.buffered = this.buffered.subarray(ENVELOPE_SIZE + len);
      let m: HandleMessage;
      try {
        m = decodeMessage(frame);
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        this.socket.destroy();
        return;
      }
      const w = this.waiters.get(m.envelope.requestId);
      if (w) {
        this.waiters.delete(m.envelope.requestId);
        w.resolve(m);
      }
    }
  }

  exchange(requestId: number, bytes: Buffer, timeoutMs: number): Promise<HandleMessage> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(requestId);
        reject(unreachable(`No TCP reply from ${this.where} within ${timeoutMs} ms.`, { where: this.where }));
      }, timeoutMs);
      this.waiters.set(requestId, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
