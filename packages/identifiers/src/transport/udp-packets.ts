/**
 * Handle protocol messages over UDP as several packets (RFC 3652 §2.2.1, and how Handle.Net's client and
 * server do it): a message longer than one 512-byte packet travels as packets that each carry a copy of the
 * 20-byte envelope — same request id and session id, the sequence number counting packets from 0, the
 * message length of the WHOLE message — followed by the next slice of the message (header + body +
 * credential), 492 bytes per packet except the last. The receiver places packet n at byte n × 492 and has
 * the message when every packet up to ⌈length / 492⌉ has arrived. `splitIntoPackets` cuts a message this
 * way; `UdpReassembler` puts received packets back together, in any order, within fixed bounds of memory
 * and time.
 */
import { LIMITS } from '../protocol/limits.js';
import { ENVELOPE_SIZE, EnvelopeFlag } from '../protocol/message-types.js';

/**
 * Largest UDP packet, envelope included. Handle.Net's Common.MAX_UDP_PACKET_SIZE is 512; its server reads
 * every datagram into a buffer of that size and its client into one of 492 + 20, so a longer datagram
 * reaches them cut short.
 */
export const UDP_PACKET_BYTES = 512;

/**
 * Largest message Handle.Net sends or accepts (Common.MAX_MESSAGE_LENGTH, 256 KiB): the default bound on a
 * message reassembled from UDP packets (≈ 533 packets).
 */
export const UDP_MESSAGE_BYTES = 256 * 1024;

/** Handle.Net's server waits 5 s for the rest of a multi-packet request, then forgets it. */
export const UDP_REASSEMBLY_MS = 5000;

const TRUNCATED = EnvelopeFlag.TRUNCATED;

/**
 * The packets that carry `message` (one whole encoded message, envelope first) over UDP. A message that
 * fits one packet is returned as is. Otherwise every packet gets the envelope with its sequence number.
 * `markTruncated` sets the truncated flag on them: Handle.Net's client marks the packets of a multi-packet
 * request that way, and its server reassembles only packets so marked — so requests need it. Its server
 * answers with the flag as the request had it (clear for a one-packet request) and its client ignores the
 * flag and goes by the lengths, as `UdpReassembler` does; a reply leaves it clear, because to a reader
 * that honours RFC 3652's meaning a marked reply says "ask again over TCP".
 */
export function splitIntoPackets(message: Buffer, maxPacket = UDP_PACKET_BYTES, markTruncated = true): Buffer[] {
  if (message.length <= maxPacket) return [message];
  if (!Number.isInteger(maxPacket) || maxPacket <= ENVELOPE_SIZE) throw new RangeError(`A UDP packet must hold more than the ${ENVELOPE_SIZE}-byte envelope (got ${maxPacket}).`);
  const slice = maxPacket - ENVELOPE_SIZE;
  const body = message.length - ENVELOPE_SIZE;
  const count = Math.ceil(body / slice);
  const packets: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const from = ENVELOPE_SIZE + i * slice;
    const to = Math.min(from + slice, message.length);
    const p = Buffer.allocUnsafe(ENVELOPE_SIZE + to - from);
    message.copy(p, 0, 0, ENVELOPE_SIZE);
    if (markTruncated) p[2] = ((p[2] as number) | TRUNCATED) & 0xff;
    p.writeUInt32BE(i, 12);
    // Bytes 16–19 keep the length of the whole message, as the receiver needs it to know when it is done.
    p.writeUInt32BE(body, 16);
    message.copy(p, ENVELOPE_SIZE, from, to);
    packets[i] = p;
  }
  return packets;
}

/**
 * The datagrams that carry `reply` back to a UDP client: the reply itself when it fits one packet, its
 * 512-byte packets when it fits `maxUdpBytes`, and otherwise `truncated(reply)` — header only, truncated
 * flag — after which the client asks again over TCP. Every UDP front end (node, resolver) answers this way.
 */
export function udpReplyDatagrams(reply: Buffer, maxUdpBytes: number, truncated: (full: Buffer) => Buffer): { readonly kind: 'single' | 'packets' | 'truncated'; readonly datagrams: readonly Buffer[] } {
  if (reply.length <= UDP_PACKET_BYTES) return { kind: 'single', datagrams: [reply] };
  if (reply.length > maxUdpBytes) return { kind: 'truncated', datagrams: [truncated(reply)] };
  return { kind: 'packets', datagrams: splitIntoPackets(reply, UDP_PACKET_BYTES, false) };
}

/** True when `packet` carries its whole message (the envelope's length is what follows it). */
export function isWholeMessage(packet: Buffer): boolean {
  return packet.length < ENVELOPE_SIZE || packet.readUInt32BE(16) === packet.length - ENVELOPE_SIZE;
}

export interface UdpReassemblerOptions {
  /** Packet size the sender split by (envelope included); slices are this minus 20. Default 512. */
  readonly packetBytes?: number;
  /** Largest message accepted (bytes after the envelope). Default 256 KiB, at most LIMITS.messageBytes. */
  readonly maxMessageBytes?: number;
  /** Partial messages kept at once; the oldest goes first. Default 1024. */
  readonly maxMessages?: number;
  /** Bytes of slices kept over all partial messages; the oldest messages go first. Default 8 MiB. */
  readonly maxBufferedBytes?: number;
  /** A partial message older than this is discarded. Default 5,000 ms. */
  readonly maxAgeMs?: number;
}

export interface UdpReassemblerStats {
  /** Messages completed and handed out. */
  readonly reassembled: number;
  /** Partial messages discarded because the rest did not arrive in time. */
  readonly expired: number;
  /** Partial messages discarded to make room (message count or buffered bytes at their bound). */
  readonly evicted: number;
  /** Messages dropped because a packet contradicted the others or the message was over the size bound. */
  readonly rejected: number;
  /** Packets that repeated one already held (ignored). */
  readonly duplicates: number;
  /** Partial messages held now, and the bytes they hold. */
  readonly inFlight: number;
  readonly bufferedBytes: number;
}

/**
 * What became of one packet:
 * - `whole`: it carries a whole message; nothing was buffered (the caller handles it directly);
 * - `malformed`: it claims more bytes than it carries but is no packet of a proper split, and no message
 *   from its sender with its request id is pending (the caller may answer it as a malformed message);
 * - `pending`: held (or a duplicate), the message is not complete yet;
 * - `rejected`: the message it belongs to was dropped (see `UdpReassemblerStats.rejected`);
 * - `complete`: `message` is the whole message, envelope first (sequence number 0, truncated flag clear).
 */
export type UdpPacketResult =
  | { readonly kind: 'whole' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'pending' }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'complete'; readonly message: Buffer };

interface Partial {
  readonly key: string;
  readonly createdAt: number;
  /** The first packet's envelope; the message goes out with it. */
  readonly envelope: Buffer;
  readonly messageLength: number;
  readonly slices: (Buffer | undefined)[];
  received: number;
  bytes: number;
}

const WHOLE: UdpPacketResult = { kind: 'whole' };
const MALFORMED: UdpPacketResult = { kind: 'malformed' };
const PENDING: UdpPacketResult = { kind: 'pending' };
const REJECTED: UdpPacketResult = { kind: 'rejected' };

/**
 * Collects the packets of multi-packet messages per sender (address, port) and request id — Handle.Net
 * keys its pending requests by address and request id; the port keeps two clients on one host apart.
 * Packets may come in any order and more than once. A packet whose total length differs from the
 * message's, whose sequence number is past the last packet, or whose slice is not the size its position
 * calls for drops the message. Memory is bounded by message size, messages in flight and buffered bytes;
 * time by `maxAgeMs`, enforced on every insert and by `sweep()` (call it from one timer; no timer per
 * message).
 */
export class UdpReassembler {
  private readonly slice: number;
  private readonly maxMessageBytes: number;
  private readonly maxMessages: number;
  private readonly maxBufferedBytes: number;
  private readonly maxAgeMs: number;
  /** In creation order (a key is never re-inserted while present), so the oldest is always first. */
  private readonly partials = new Map<string, Partial>();
  private buffered = 0;
  private counts = { reassembled: 0, expired: 0, evicted: 0, rejected: 0, duplicates: 0 };

  constructor(opts: UdpReassemblerOptions = {}) {
    const packetBytes = opts.packetBytes ?? UDP_PACKET_BYTES;
    if (!Number.isInteger(packetBytes) || packetBytes <= ENVELOPE_SIZE) throw new RangeError(`packetBytes must be an integer above ${ENVELOPE_SIZE} (got ${packetBytes}).`);
    this.slice = packetBytes - ENVELOPE_SIZE;
    this.maxMessageBytes = Math.min(opts.maxMessageBytes ?? UDP_MESSAGE_BYTES, LIMITS.messageBytes);
    this.maxMessages = Math.max(1, opts.maxMessages ?? 1024);
    this.maxBufferedBytes = Math.max(0, opts.maxBufferedBytes ?? 8 * 1024 * 1024);
    this.maxAgeMs = opts.maxAgeMs ?? UDP_REASSEMBLY_MS;
  }

  stats(): UdpReassemblerStats {
    return { ...this.counts, inFlight: this.partials.size, bufferedBytes: this.buffered };
  }

  /** Drops partial messages older than the age limit. */
  sweep(now = Date.now()): void {
    for (const p of this.partials.values()) {
      if (now - p.createdAt <= this.maxAgeMs) break;
      this.drop(p);
      this.counts.expired++;
    }
  }

  /** Forgets everything held (not counted). */
  clear(): void {
    this.partials.clear();
    this.buffered = 0;
  }

  /** Takes one received datagram from `address`:`port`. Never throws. */
  push(packet: Buffer, address: string, port: number, now = Date.now()): UdpPacketResult {
    if (packet.length < ENVELOPE_SIZE) return WHOLE;
    const messageLength = packet.readUInt32BE(16);
    const carried = packet.length - ENVELOPE_SIZE;
    if (messageLength <= carried) return WHOLE;
    this.sweep(now);
    const key = `${address}|${port}|${packet.readUInt32BE(8)}`;
    const held = this.partials.get(key);
    const seq = packet.readUInt32BE(12);
    const count = Math.ceil(messageLength / this.slice);
    const shaped = seq < count && carried === (seq < count - 1 ? this.slice : messageLength - (count - 1) * this.slice);
    if (!shaped) {
      if (!held) return MALFORMED;
      return this.reject(held);
    }
    if (held) {
      if (held.messageLength !== messageLength) return this.reject(held);
      if (held.slices[seq] !== undefined) {
        this.counts.duplicates++;
        return PENDING;
      }
      return this.add(held, seq, packet, carried);
    }
    if (messageLength > this.maxMessageBytes || carried + ENVELOPE_SIZE > this.maxBufferedBytes) {
      this.counts.rejected++;
      return REJECTED;
    }
    while (this.partials.size >= this.maxMessages) this.evictOldest();
    const p: Partial = { key, createdAt: now, envelope: Buffer.from(packet.subarray(0, ENVELOPE_SIZE)), messageLength, slices: new Array(count), received: 0, bytes: ENVELOPE_SIZE };
    this.partials.set(key, p);
    this.buffered += ENVELOPE_SIZE;
    return this.add(p, seq, packet, carried);
  }

  private add(p: Partial, seq: number, packet: Buffer, carried: number): UdpPacketResult {
    // The last missing slice is copied straight into the message, never buffered.
    if (p.received + 1 === p.slices.length) return this.complete(p, seq, packet);
    // Make room first; never evict the message this packet belongs to.
    while (this.buffered + carried > this.maxBufferedBytes) {
      const oldest = this.partials.values().next().value as Partial;
      if (oldest === p) {
        const next = this.secondOldest();
        if (!next) return this.reject(p);
        this.drop(next);
      } else {
        this.drop(oldest);
      }
      this.counts.evicted++;
    }
    p.slices[seq] = Buffer.from(packet.subarray(ENVELOPE_SIZE));
    p.received++;
    p.bytes += carried;
    this.buffered += carried;
    return PENDING;
  }

  private complete(p: Partial, lastSeq: number, lastPacket: Buffer): UdpPacketResult {
    this.drop(p);
    this.counts.reassembled++;
    const out = Buffer.allocUnsafe(ENVELOPE_SIZE + p.messageLength);
    p.envelope.copy(out, 0);
    // The flag said "in several packets"; the message handed on is whole.
    out[2] = (out[2] as number) & ~TRUNCATED & 0xff;
    out.writeUInt32BE(0, 12);
    for (let i = 0; i < p.slices.length; i++) {
      const at = ENVELOPE_SIZE + i * this.slice;
      if (i === lastSeq) lastPacket.copy(out, at, ENVELOPE_SIZE);
      else (p.slices[i] as Buffer).copy(out, at);
    }
    return { kind: 'complete', message: out };
  }

  private reject(p: Partial): UdpPacketResult {
    this.drop(p);
    this.counts.rejected++;
    return REJECTED;
  }

  private evictOldest(): void {
    const oldest = this.partials.values().next().value as Partial;
    this.drop(oldest);
    this.counts.evicted++;
  }

  private secondOldest(): Partial | undefined {
    const it = this.partials.values();
    it.next();
    return it.next().value;
  }

  private drop(p: Partial): void {
    this.partials.delete(p.key);
    this.buffered -= p.bytes;
  }
}
