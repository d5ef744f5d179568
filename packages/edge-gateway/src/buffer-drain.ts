/**
 * Moves rows from the disk buffer to the platform: oldest first, consecutive rows of one device merged into
 * one message (≤ 1000 points, ≤ 64 KiB), rate-limited in points per second, with a bounded number of
 * messages awaiting PUBACK. Live readings take the same path (they are simply the newest rows), so they can
 * never overtake older buffered data of the same device, and they are reached as soon as the backlog ahead
 * of them is sent. Rows are deleted only after the PUBACK of the message that carried them.
 */
import type { AckSpan, BufferedRow, DiskBuffer } from './disk-buffer.js';
import type { GatewayTopics } from './topics.js';

export interface DrainPublisher {
  connected(): boolean;
  /** QoS 1 publish; `done` runs on PUBACK, or with an error when the message will not be acknowledged. */
  publish(topic: string, payload: string, done: (err?: Error) => void): void;
}

export interface DrainOptions {
  /** Points per second; Infinity for no limit. */
  readonly maxPointsPerSec: number;
  /** Messages published and not yet acknowledged. */
  readonly maxInFlight: number;
  readonly maxPointsPerMessage: number;
  readonly maxBytesPerMessage: number;
  /** Rows read from disk at a time; bounds the memory of the drain. */
  readonly readRows: number;
}

export const DEFAULT_DRAIN: DrainOptions = {
  maxPointsPerSec: 100_000,
  maxInFlight: 32,
  maxPointsPerMessage: 1000,
  maxBytesPerMessage: 64 * 1024,
  readRows: 4000,
};

interface OutMessage {
  readonly topic: string;
  readonly payload: string;
  readonly points: number;
  readonly span: AckSpan;
}

interface Open {
  readonly device: string;
  readonly fromId: number;
  toId: number;
  points: number;
  bytes: number;
  readonly parts: string[];
}

/** `[` + `{"ts":…,"values":` + `}` + `,` around each record body. */
const RECORD_FRAME_BYTES = 32;

export class BufferDrain {
  private cursor = 0;
  private queue: OutMessage[] = [];
  private inFlight = 0;
  private rewindPending = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private tokens: number;
  private lastRefill = performance.now();
  private acks: OutMessage[] = [];
  private ackScheduled = false;
  private sentPointsTotal = 0;
  private sentMessagesTotal = 0;

  constructor(
    private readonly buffer: DiskBuffer,
    private readonly topics: GatewayTopics,
    private readonly publisher: DrainPublisher,
    private readonly opts: DrainOptions,
    private readonly log: (level: 'debug' | 'warn', msg: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    this.tokens = this.capacity();
  }

  /** Points whose messages were acknowledged by the platform. */
  get sentPoints(): number {
    return this.sentPointsTotal;
  }

  get sentMessages(): number {
    return this.sentMessagesTotal;
  }

  get inFlightMessages(): number {
    return this.inFlight;
  }

  /** Asks for a pump on the next turn (new rows, a PUBACK, a reconnect); calls in one turn coalesce. */
  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }

  /** Stops publishing and writes pending acknowledgements to disk. Unacknowledged rows stay buffered. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushAcks();
  }

  private capacity(): number {
    // A burst of a tenth of a second, but always room for one full message.
    return Number.isFinite(this.opts.maxPointsPerSec) ? Math.max(this.opts.maxPointsPerSec / 10, this.opts.maxPointsPerMessage) : Number.POSITIVE_INFINITY;
  }

  private pump(): void {
    this.scheduled = false;
    if (this.stopped) return;
    if (this.rewindPending) {
      if (this.inFlight > 0) return;
      // Some message will never be acknowledged: start again from the oldest row still on disk.
      this.flushAcks();
      this.cursor = 0;
      this.queue = [];
      this.rewindPending = false;
    }
    while (this.publisher.connected() && this.inFlight < this.opts.maxInFlight) {
      if (this.queue.length === 0) {
        this.fill();
        if (this.queue.length === 0) return;
      }
      const m = this.queue[0]!;
      if (!this.take(Math.max(1, m.points))) return;
      this.queue.shift();
      this.inFlight++;
      this.publisher.publish(m.topic, m.payload, (err) => this.done(m, err));
    }
  }

  /** Token bucket; when short, schedules the pump for when enough tokens will have accrued. */
  private take(n: number): boolean {
    if (!Number.isFinite(this.opts.maxPointsPerSec)) return true;
    const now = performance.now();
    this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.lastRefill) / 1000) * this.opts.maxPointsPerSec);
    this.lastRefill = now;
    const need = Math.min(n, this.capacity());
    if (this.tokens >= need) {
      this.tokens -= need;
      return true;
    }
    if (!this.timer) {
      const waitMs = Math.max(1, Math.ceil(((need - this.tokens) / this.opts.maxPointsPerSec) * 1000));
      this.timer = setTimeout(() => {
        this.timer = null;
        this.kick();
      }, waitMs);
    }
    return false;
  }

  private done(m: OutMessage, err: Error | undefined): void {
    this.inFlight--;
    if (this.stopped) return;
    if (err) {
      this.log('debug', 'publish not acknowledged; will resend from the buffer', { err: err.message });
      this.rewindPending = true;
    } else {
      this.acks.push(m);
      if (!this.ackScheduled) {
        this.ackScheduled = true;
        setImmediate(() => this.flushAcks());
      }
    }
    this.kick();
  }

  private flushAcks(): void {
    this.ackScheduled = false;
    if (this.acks.length === 0) return;
    const acks = this.acks;
    this.acks = [];
    this.buffer.ack(acks.map((m) => m.span));
    for (const m of acks) {
      this.sentPointsTotal += m.points;
      this.sentMessagesTotal++;
    }
  }

  /** Reads the next rows after the cursor and turns them into messages, oldest first. */
  private fill(): void {
    const rows = this.buffer.readAfter(this.cursor, this.opts.readRows);
    if (rows.length === 0) return;
    this.cursor = rows[rows.length - 1]!.id;
    const out: OutMessage[] = [];
    const open = new Map<string, Open>();
    const close = (o: Open): void => {
      open.delete(o.device);
      out.push({
        topic: this.topics.telemetry(o.device),
        payload: `[${o.parts.join(',')}]`,
        points: o.points,
        span: { kind: 'telemetry', device: o.device, fromId: o.fromId, toId: o.toId },
      });
    };
    for (const r of rows) {
      if (r.kind === 'event') {
        // A device's telemetry message must not span its event: acks delete id ranges per device and kind,
        // and per-device order must hold across both.
        const o = open.get(r.device);
        if (o) close(o);
        out.push({ topic: this.topics.events(r.device), payload: r.body, points: 0, span: { kind: 'event', device: r.device, fromId: r.id, toId: r.id } });
        continue;
      }
      let o = open.get(r.device);
      const size = r.bytes + RECORD_FRAME_BYTES;
      if (o && (o.points + r.points > this.opts.maxPointsPerMessage || o.bytes + size > this.opts.maxBytesPerMessage)) {
        close(o);
        o = undefined;
      }
      if (!o) {
        o = { device: r.device, fromId: r.id, toId: r.id, points: 0, bytes: 2, parts: [] };
        open.set(r.device, o);
      }
      o.parts.push(record(r));
      o.toId = r.id;
      o.points += r.points;
      o.bytes += size;
    }
    for (const o of [...open.values()]) close(o);
    out.sort((a, b) => a.span.fromId - b.span.fromId);
    this.queue = out;
  }
}

function record(r: BufferedRow): string {
  return `{"ts":${r.ts},"values":${r.body}}`;
}
