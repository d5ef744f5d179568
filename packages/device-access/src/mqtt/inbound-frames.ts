/**
 * The inbound side of a connection, cut into whole MQTT packets (issue 20). The fixed header (§2.2) says how long a
 * packet is; bytes are held only while a packet is incomplete, and a whole packet is handed on as a view of the
 * bytes it came in (no copy when it arrived in one read, as nearly every small PUBLISH does).
 *
 * The packets a device sends all the time — PUBLISH without MQTT 5 properties, PUBACK, PINGREQ — are decoded here
 * in one pass; everything else (and anything here that looks unusual) goes to mqtt-packet's parser whole, which
 * decodes it or reports it malformed as before. Under ten thousand devices the streaming parser's per-packet
 * objects (a buffer list, a Packet kept between packets, debug arguments) were a large part of what each message
 * allocated, and what a connection kept between two messages was promoted to the old generation.
 */

/** A PUBLISH decoded here: the shape mqtt-packet gives it, without properties. */
export class FastPublish {
  readonly cmd = 'publish' as const;
  constructor(
    readonly topic: string,
    readonly payload: Buffer,
    readonly qos: 0 | 1 | 2,
    readonly retain: boolean,
    readonly dup: boolean,
    readonly messageId: number | undefined,
    readonly length: number,
  ) {}
  readonly properties: undefined = undefined;
}

export interface FastAck {
  readonly cmd: 'puback';
  readonly messageId: number;
  readonly length: number;
}

export interface FastPing {
  readonly cmd: 'pingreq';
  readonly length: number;
}

export type FastPacket = FastPublish | FastAck | FastPing;

const PING: FastPing = Object.freeze({ cmd: 'pingreq', length: 0 });

/**
 * Decodes the packet in data[start, end) (its body from `body`) when it is one of the common kinds in its plain form,
 * for a connection of protocol level `version`; undefined means "let mqtt-packet decode it".
 */
export function decodeCommon(data: Buffer, start: number, body: number, end: number, version: number): FastPacket | undefined {
  const first = data[start] as number;
  const type = first >> 4;
  const length = end - body;
  if (type === 3) {
    const qos = (first >> 1) & 3;
    if (qos === 3) return undefined;
    if (length < 2) return undefined;
    const topicLength = ((data[body] as number) << 8) | (data[body + 1] as number);
    let at = body + 2 + topicLength;
    if (at > end) return undefined;
    let messageId: number | undefined;
    if (qos > 0) {
      if (at + 2 > end) return undefined;
      messageId = ((data[at] as number) << 8) | (data[at + 1] as number);
      at += 2;
    }
    if (version === 5) {
      // Only a PUBLISH without properties (property length 0) is decoded here.
      if (at >= end || data[at] !== 0) return undefined;
      at += 1;
    }
    const topic = data.toString('utf8', body + 2, body + 2 + topicLength);
    return new FastPublish(topic, data.subarray(at, end), qos as 0 | 1 | 2, (first & 1) === 1, (first & 8) === 8, messageId, length);
  }
  if (type === 4 && first === 0x40 && length === 2) return { cmd: 'puback', messageId: ((data[body] as number) << 8) | (data[body + 1] as number), length };
  if (first === 0xc0 && length === 0) return PING;
  return undefined;
}

/** What a reader does with the packets it cuts out. */
export interface FrameSink {
  /** A whole packet: data[start, end), its body from `body`. Returns false to stop reading (the connection ends). */
  frame(data: Buffer, start: number, body: number, end: number): boolean;
  /** The remaining length of a packet, as soon as it is known (before its body is held). Returns false to stop. */
  announced(remaining: number): boolean;
  /** The fixed header is malformed (a remaining length of more than four bytes). */
  malformed(): void;
}

/** Cuts a connection's byte stream into packets. */
export class FrameReader {
  /** Bytes of an incomplete packet, as they came. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes the held packet needs in all, once its fixed header is known (0: not yet). */
  private needed = 0;

  /** Whether part of a packet is held (a packet is on its way). */
  get partial(): boolean {
    return this.heldBytes > 0;
  }

  /** Bytes held for an incomplete packet. */
  get heldLength(): number {
    return this.heldBytes;
  }

  feed(chunk: Buffer, sink: FrameSink): void {
    let data = chunk;
    // The held packet's length was announced when its fixed header came; it is not announced again.
    let announced = false;
    if (this.heldBytes > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.needed > 0 && this.heldBytes < this.needed) return;
      announced = this.needed > 0;
      data = this.held.length === 1 ? (this.held[0] as Buffer) : Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
      this.needed = 0;
    }
    let pos = 0;
    while (pos < data.length) {
      // Remaining length: one to four bytes, seven bits each, least significant first (§2.2.3).
      let remaining = 0;
      let factor = 1;
      let at = pos + 1;
      let whole = false;
      for (; at < data.length; ) {
        const b = data[at++] as number;
        remaining += (b & 0x7f) * factor;
        if ((b & 0x80) === 0) {
          whole = true;
          break;
        }
        if (at - pos > 4) {
          sink.malformed();
          return;
        }
        factor *= 128;
      }
      if (!whole) break;
      if (!(announced && pos === 0) && !sink.announced(remaining)) return;
      const end = at + remaining;
      if (end > data.length) {
        this.needed = end - pos;
        break;
      }
      if (!sink.frame(data, pos, at, end)) return;
      pos = end;
    }
    if (pos < data.length) {
      const rest = pos === 0 ? data : data.subarray(pos);
      this.held = [rest];
      this.heldBytes = rest.length;
    }
  }
}
