/**
 * Moves rows from the disk buffer to the platform: oldest first, consecutive rows of one device merged into
 * one message (≤ 1000 points, ≤ 64 KiB), rate-limited in points per second, with a bounded number of
 * messages awaiting PUBACK. Live readings take the same path (they are simply the newest rows), so they can
 * never overtake older buffered data of the same device, and they are reached as soon as the backlog ahead
 * of them is sent. Rows are deleted only after the PUBACK of the message that carried them.
 *
 * A message the platform refuses is acknowledged too (MQTT 3.1.1 has no negative PUBACK), with the reason on
 * `.../errors` naming the device (and, for a bad value, the property and value). Errors come in the order of
 * the messages they are about, but may arrive just before or just after that message's PUBACK. So a refusal
 * is matched to the oldest not yet judged message of that device whose records hold the named property and
 * value — among those awaiting PUBACK first, else among the last few acknowledged ones (kept in memory for
 * RECENT_MS). A match awaiting PUBACK goes to the dead-letter table on PUBACK; an acknowledged one from its
 * in-memory payload. When several messages awaiting PUBACK match, none of them is deleted: the drain
 * rewinds and sends them again one at a time (the platform ignores points it already has), which pins the
 * next refusal exactly. An MQTT 5 PUBACK with a reason code ≥ 0x80 names its message itself.
 */
import type { AckSpan, BufferedRow, DiskBuffer, Rejection } from './disk-buffer.js';
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

/** How long, and how many, acknowledged messages are kept in memory for a refusal that arrives after its PUBACK. */
export const RECENT_MS = 5000;
const RECENT_MAX = 64;

/** What a refusal names beside the device: the property and value it objects to, when it says. */
export interface RefusalScope {
  readonly property?: string;
  readonly value?: unknown;
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
  /** Set by a refusal on `.../errors`: `exact` when this message is the only candidate. */
  verdict?: { readonly exact: boolean; readonly rejection: Rejection };
  ackedAt?: number;
}

/** True when one of the message's records holds the property (and value) the refusal names. */
function holds(m: OutMessage, scope: RefusalScope): boolean {
  if (scope.property === undefined) return true;
  let records: unknown;
  try {
    records = JSON.parse(m.payload);
  } catch {
    return false;
  }
  const list = Array.isArray(records) ? records : [records];
  return list.some((r) => {
    const values = (r as { values?: Record<string, unknown> } | null)?.values ?? (r as Record<string, unknown> | null);
    if (!values || typeof values !== 'object' || !(scope.property! in values)) return false;
    return scope.value === undefined || values[scope.property!] === scope.value;
  });
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
  /** Published, awaiting PUBACK, in publish order. */
  private readonly awaiting = new Set<OutMessage>();
  /** Acknowledged recently (newest last): a refusal may arrive just after its PUBACK. */
  private recent: OutMessage[] = [];
  private dead: { span: AckSpan; rejection: Rejection; payload?: string }[] = [];
  /** While > 0: one message in flight at a time until the rows up to this id are resent (pins refusals). */
  private serialUntil = 0;
  private deadLetteredTotal = 0;

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

  /** Points moved to the dead-letter table since start. */
  get deadLetteredPoints(): number {
    return this.deadLetteredTotal;
  }

  /**
   * The platform refused a message of `device` (an answer on `.../errors` naming it). Returns false when no
   * message of that device awaits its PUBACK, i.e. the refusal is not about buffered rows.
   */
  rejected(device: string, rejection: Rejection, scope: RefusalScope = {}): boolean {
    const open = (m: OutMessage) => m.span.device === device && !m.verdict && holds(m, scope);
    const now = performance.now();
    const acked = this.recent.find((m) => open(m) && now - (m.ackedAt ?? 0) <= RECENT_MS);
    if (acked) {
      // Errors come in message order: an acknowledged match is older than any still awaiting PUBACK.
      acked.verdict = { exact: true, rejection };
      // Counted as sent already unless its acknowledgement is still waiting to be written.
      if (!this.acks.includes(acked)) this.sentPointsTotal -= acked.points;
      this.dead.push({ span: acked.span, rejection, payload: acked.payload });
      this.scheduleFlush();
      return true;
    }
    const candidates = [...this.awaiting].filter(open);
    if (candidates.length === 0) return false;
    const exact = candidates.length === 1;
    for (const m of candidates) m.verdict = { exact, rejection };
    if (!exact) this.log('warn', 'a refusal matches several messages awaiting PUBACK; they will be sent again one at a time', { device, messages: candidates.length });
    return true;
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
    while (this.publisher.connected() && this.inFlight < (this.serialUntil > 0 ? 1 : this.opts.maxInFlight)) {
      if (this.queue.length === 0) {
        this.fill();
        if (this.queue.length === 0) return;
      }
      const m = this.queue[0]!;
      if (!this.take(Math.max(1, m.points))) return;
      this.queue.shift();
      this.inFlight++;
      this.awaiting.add(m);
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
    this.awaiting.delete(m);
    if (this.stopped) return;
    const reasonCode = (err as { code?: unknown } | undefined)?.code;
    if (err && typeof reasonCode === 'number' && reasonCode >= 0x80) {
      // MQTT 5: a negative PUBACK names its own message.
      this.settle(m, { code: m.verdict?.rejection.code ?? `MQTT_REASON_0x${reasonCode.toString(16)}`, message: m.verdict?.rejection.message ?? err.message });
    } else if (err) {
      this.log('debug', 'publish not acknowledged; will resend from the buffer', { err: err.message });
      this.rewindPending = true;
    } else if (m.verdict && !m.verdict.exact) {
      // Keep its rows: they are sent again, one message at a time, so the next refusal is exact.
      this.serialUntil = Math.max(this.serialUntil, m.span.toId);
      this.rewindPending = true;
    } else if (m.verdict) {
      this.settle(m, m.verdict.rejection);
    } else {
      this.settle(m, null);
    }
    if (this.serialUntil > 0 && !err && !m.verdict && m.span.toId >= this.serialUntil) this.serialUntil = 0;
    this.kick();
  }

  private settle(m: OutMessage, rejection: Rejection | null): void {
    if (rejection) this.dead.push({ span: m.span, rejection });
    else {
      this.acks.push(m);
      if (m.span.kind === 'telemetry') {
        m.ackedAt = performance.now();
        this.recent.push(m);
        if (this.recent.length > RECENT_MAX) this.recent = this.recent.slice(-RECENT_MAX / 2);
      }
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(() => this.flushAcks());
    }
  }

  private flushAcks(): void {
    this.ackScheduled = false;
    if (this.dead.length > 0) {
      const dead = this.dead;
      this.dead = [];
      const moved = this.buffer.deadLetter(dead);
      this.deadLetteredTotal += moved;
      for (const d of dead) {
        this.log('warn', 'platform refused a message; its rows are kept in the dead-letter table', { device: d.span.device, code: d.rejection.code, message: d.rejection.message });
      }
    }
    if (this.acks.length === 0) return;
    const acks = this.acks.filter((m) => !m.verdict);
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
    // Rows up to serialUntil are gone (acknowledged or dropped by the bounds): back to pipelining.
    if (this.serialUntil > 0 && rows[0]!.id > this.serialUntil) this.serialUntil = 0;
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
