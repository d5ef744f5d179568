/**
 * A bounded MQTT frame guard between a TCP socket and the broker library. It splits the inbound byte stream
 * into packets by their fixed header, holds back only the part of a packet it must check (a whole CONNECT,
 * SUBSCRIBE or UNSUBSCRIBE; the topic of a PUBLISH — never a payload) and passes everything else through as
 * it arrives. A packet that breaks the rules in mqtt-conformance.ts never reaches the broker: the connection
 * is closed, after a CONNACK refusal where the standard asks for one.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import {
  type ConnackRefusal,
  inspectConnect,
  inspectPublish,
  inspectSubscription,
  MQTT_311_LEVELS,
  type PacketVerdict,
  type ProtocolLevels,
} from './mqtt-conformance.js';

export interface FrameGuardOptions {
  /** Protocol names and levels accepted at CONNECT; others get CONNACK 0x01. Default: MQTT 3.1 and 3.1.1. */
  readonly levels?: ProtocolLevels;
  /** Largest SUBSCRIBE/UNSUBSCRIBE/CONNECT body held for checking; a larger one closes the connection. */
  readonly maxInspectBytes?: number;
}

export interface FrameViolation {
  readonly reason: string;
  readonly connack?: ConnackRefusal;
}

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;

/** The incremental part: bytes in, the bytes that may go on out, or the first violation. */
export class MqttFrameGuard {
  /** Bytes of a packet whose checked part is not complete yet, and how many bytes that part needs. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private awaiting = 0;
  /** Body bytes of the current packet that have been checked already and are forwarded as they come. */
  private passthrough = 0;
  private level = 0;
  private violation: FrameViolation | undefined;
  private readonly levels: ProtocolLevels;
  private readonly maxInspect: number;

  constructor(opts: FrameGuardOptions = {}) {
    this.levels = opts.levels ?? MQTT_311_LEVELS;
    this.maxInspect = opts.maxInspectBytes ?? 1024 * 1024;
  }

  get failed(): FrameViolation | undefined {
    return this.violation;
  }

  /** Feeds bytes from the wire. Returns the bytes to hand to the broker; after a violation, nothing more. */
  feed(chunk: Buffer): { forward: Buffer[]; violation?: FrameViolation } {
    if (this.violation) return { forward: [], violation: this.violation };
    let data = chunk;
    if (this.pending.length) {
      // Joined only once the part to check is complete, so a large CONNECT or SUBSCRIBE arriving in many
      // small segments is copied once, not once per segment.
      if (this.pendingLength + chunk.length < this.awaiting) {
        this.pending.push(Buffer.from(chunk)); // a copy: the caller may reuse its chunk
        this.pendingLength += chunk.length;
        return { forward: [] };
      }
      data = Buffer.concat([...this.pending, chunk]);
      this.pending = [];
      this.pendingLength = 0;
    }
    // Everything forwarded is a prefix of `data`, so it goes on as one view of it (usually the chunk as it came).
    let pos = 0;
    for (;;) {
      if (this.passthrough > 0) {
        const n = Math.min(this.passthrough, data.length - pos);
        this.passthrough -= n;
        pos += n;
      }
      if (pos >= data.length) break;
      const taken = this.step(data, pos);
      if (taken < 0) return { forward: pos > 0 ? [data.subarray(0, pos)] : [], violation: this.failed as FrameViolation };
      if (taken === 0) {
        this.pending = [Buffer.from(data.subarray(pos))]; // a copy: the caller may reuse its chunk
        this.pendingLength = data.length - pos;
        break;
      }
      pos += taken;
    }
    return { forward: pos > 0 ? [pos === data.length ? data : data.subarray(0, pos)] : [] };
  }

  private fail(reason: string, connack?: ConnackRefusal): -1 {
    this.violation = connack === undefined ? { reason } : { reason, connack };
    return -1;
  }

  /**
   * Looks at the packet starting at data[at]. Returns how many bytes can be forwarded now (fixed header and
   * checked part; `passthrough` is set to the unchecked rest of the body), 0 when more bytes are needed
   * (`awaiting` is set when known), or -1 on a violation (`violation` is set).
   */
  private step(data: Buffer, at: number): number {
    this.awaiting = 0;
    // Fixed header: one byte, then the remaining length in 1–4 bytes (§2.2.3).
    let remaining = 0;
    let header = 0;
    for (let i = 1; ; i++) {
      if (i > 4) return this.fail('malformed remaining length');
      if (at + i >= data.length) return 0;
      const b = data[at + i] as number;
      remaining += (b & 0x7f) * 128 ** (i - 1);
      if (!(b & 0x80)) {
        header = i + 1;
        break;
      }
    }
    const type = (data[at] as number) >> 4;
    const flags = (data[at] as number) & 0x0f;
    if (this.level === 0 && type !== CONNECT) return this.fail('the first packet is not CONNECT'); // §3.1.0-1
    let need = 0;
    if (type === CONNECT || type === SUBSCRIBE || type === UNSUBSCRIBE) {
      if (remaining > this.maxInspect) return this.fail(`packet of type ${type} larger than ${this.maxInspect} bytes`);
      need = remaining;
    } else if (type === PUBLISH) {
      if (remaining < 2) return this.fail('PUBLISH without a topic');
      if (data.length < at + header + 2) return 0;
      need = 2 + (((data[at + header] as number) << 8) | (data[at + header + 1] as number));
      if (need > remaining) return this.fail('PUBLISH topic runs past the packet');
    }
    if (data.length < at + header + need) {
      this.awaiting = header + need;
      return 0;
    }
    let verdict: PacketVerdict = { ok: true };
    if (type === PUBLISH) {
      verdict = inspectPublish(flags, data.subarray(at + header, at + header + need), remaining, this.level);
    } else if (type === CONNECT) {
      if (this.level !== 0) return this.fail('a second CONNECT'); // §3.1.0-2
      const body = data.subarray(at + header, at + header + need);
      verdict = inspectConnect(body, this.levels);
      if (verdict.ok) this.level = (body[2 + (((body[0] as number) << 8) | (body[1] as number))] as number) & 0x7f;
    } else if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
      verdict = inspectSubscription(type, data.subarray(at + header, at + header + need), this.level);
    }
    if (!verdict.ok) return this.fail(verdict.reason, verdict.connack);
    this.passthrough = remaining - need;
    return header + need;
  }
}

/**
 * Wraps a socket as the stream the broker reads and writes, with the guard on the inbound side. On a
 * violation the broker sees the stream end; the socket gets the CONNACK refusal (if any) and is closed.
 */
export function guardConnection(socket: Socket, opts: FrameGuardOptions, onViolation: (v: FrameViolation) => void): Duplex {
  const guard = new MqttFrameGuard(opts);
  let refusing = false; // a CONNACK refusal is on its way out: let the socket flush it and close by itself
  const conn = new Duplex({
    allowHalfOpen: false,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (socket.destroyed) return cb();
      if (socket.write(chunk)) cb();
      else socket.once('drain', () => cb());
    },
    writev(chunks, cb) {
      if (socket.destroyed) return cb();
      socket.cork();
      let ok = true;
      for (const c of chunks) ok = socket.write(c.chunk as Buffer);
      socket.uncork();
      if (ok) cb();
      else socket.once('drain', () => cb());
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      if (refusing) setTimeout(() => socket.destroy(), 2000).unref();
      else socket.destroy();
      cb(err);
    },
  });
  // The guard is on the inbound side only: the broker's writes go straight to the socket (a second Writable
  // layer would cost on every acknowledgement), and the socket's backpressure is the broker's.
  conn.write = ((chunk: Buffer, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void) =>
    socket.destroyed ? false : socket.write(chunk, encoding as BufferEncoding, cb)) as typeof conn.write;
  conn.cork = () => socket.cork();
  conn.uncork = () => socket.uncork();
  socket.on('drain', () => conn.emit('drain'));
  socket.on('data', (chunk: Buffer) => {
    const { forward, violation } = guard.feed(chunk);
    let more = true;
    for (const piece of forward) more = conn.push(piece) && more;
    if (violation) {
      onViolation(violation);
      socket.removeAllListeners('data');
      // CONNACK (type 2, length 2, no session present, return code) where §3.1.2.2 / §3.1.3-8 ask for one.
      if (violation.connack !== undefined) {
        refusing = true;
        socket.end(Buffer.from([0x20, 0x02, 0x00, violation.connack]));
      } else socket.destroy();
      conn.destroy();
      return;
    }
    if (!more) socket.pause();
  });
  socket.on('end', () => conn.push(null));
  socket.on('error', (err) => conn.destroy(err));
  socket.on('close', () => conn.destroy());
  return conn;
}
