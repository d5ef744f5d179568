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
  publishTopicSpan,
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
    const forward: Buffer[] = [];
    if (this.violation) return { forward, violation: this.violation };
    let data = chunk;
    for (;;) {
      if (this.passthrough > 0) {
        const n = Math.min(this.passthrough, data.length);
        if (n > 0) forward.push(data.subarray(0, n));
        this.passthrough -= n;
        data = data.subarray(n);
      }
      if (data.length === 0) return { forward };
      if (this.pending.length) {
        // Joined only once the part to check is complete, so a large CONNECT or SUBSCRIBE arriving in many
        // small segments is copied once, not once per segment.
        if (this.pendingLength + data.length < this.awaiting) {
          this.pending.push(Buffer.from(data)); // a copy: the caller may reuse its chunk
          this.pendingLength += data.length;
          return { forward };
        }
        data = Buffer.concat([...this.pending, data]);
        this.pending = [];
        this.pendingLength = 0;
      }
      const step = this.step(data);
      if (step.violation) {
        this.violation = step.violation;
        return { forward, violation: step.violation };
      }
      if (step.take === undefined) {
        this.pending = [Buffer.from(data)]; // a copy: the caller may reuse its chunk
        this.pendingLength = data.length;
        this.awaiting = step.awaiting ?? 0;
        return { forward };
      }
      forward.push(data.subarray(0, step.take));
      this.passthrough = step.passthrough;
      data = data.subarray(step.take);
    }
  }

  /**
   * Looks at the packet starting at data[0]: how many bytes can be forwarded now (header and checked part)
   * and how many body bytes follow unchecked, or undefined `take` when more bytes are needed.
   */
  private step(data: Buffer): { take?: number; passthrough: number; awaiting?: number; violation?: FrameViolation } {
    const wait = { passthrough: 0 };
    // Fixed header: one byte, then the remaining length in 1–4 bytes (§2.2.3).
    let remaining = 0;
    let header = 0;
    for (let i = 1; ; i++) {
      if (i > 4) return { ...wait, violation: { reason: 'malformed remaining length' } };
      if (i >= data.length) return wait;
      const b = data[i] as number;
      remaining += (b & 0x7f) * 128 ** (i - 1);
      if (!(b & 0x80)) {
        header = i + 1;
        break;
      }
    }
    const type = (data[0] as number) >> 4;
    const flags = (data[0] as number) & 0x0f;
    if (this.level === 0 && type !== CONNECT) return { ...wait, violation: { reason: 'the first packet is not CONNECT' } }; // §3.1.0-1
    let need = 0;
    if (type === CONNECT || type === SUBSCRIBE || type === UNSUBSCRIBE) {
      if (remaining > this.maxInspect) return { ...wait, violation: { reason: `packet of type ${type} larger than ${this.maxInspect} bytes` } };
      need = remaining;
    } else if (type === PUBLISH) {
      if (remaining < 2) return { ...wait, violation: { reason: 'PUBLISH without a topic' } };
      if (data.length < header + 2) return wait;
      need = publishTopicSpan(data.subarray(header, header + 2)) as number;
      if (need > remaining) return { ...wait, violation: { reason: 'PUBLISH topic runs past the packet' } };
    }
    if (data.length < header + need) return { passthrough: 0, awaiting: header + need };
    const body = data.subarray(header, header + need);
    let verdict: PacketVerdict = { ok: true };
    if (type === CONNECT) {
      if (this.level !== 0) return { ...wait, violation: { reason: 'a second CONNECT' } }; // §3.1.0-2
      verdict = inspectConnect(body, this.levels);
      if (verdict.ok) this.level = (body[2 + (((body[0] as number) << 8) | (body[1] as number))] as number) & 0x7f;
    } else if (type === PUBLISH) {
      verdict = inspectPublish(flags, body, remaining);
    } else if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
      verdict = inspectSubscription(type, body, this.level);
    }
    if (!verdict.ok) return { ...wait, violation: verdict.connack === undefined ? { reason: verdict.reason } : { reason: verdict.reason, connack: verdict.connack } };
    return { take: header + need, passthrough: remaining - need };
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
