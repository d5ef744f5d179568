/**
 * The NATS JetStream adapter of the bus port, for the platform in several processes (issue 11; ADR 0007,
 * docs/reference/bus-nats.md).
 *
 * - One file-backed stream per topic: `<prefix>.<tenant>.telemetry.<device>` in `<PREFIX>_TELEMETRY`,
 *   `<prefix>.<tenant>.status.<device>` in `<PREFIX>_DEVICE_STATUS`. Retention is *limits* with no age or
 *   count limit, and every bus instance purges, every `purgeIntervalMs`, what every durable group has
 *   acknowledged (what was delivered, at a moment when no group has a message out; for a stream without
 *   groups, what is older than one interval):
 *   a message stays until every group has it. A full stream (`maxBytes`) refuses new messages (discard new)
 *   instead of dropping old ones — so the publisher is told, never the data lost. *Interest* retention, which
 *   deletes on ack inside the server, lost acknowledged messages across a SIGTERM restart of nats-server
 *   2.9.10 while a consumer was acking (measured: 379 and 523 of ~50,000; none with limits — ADR 0007).
 * - `publish` resolves on the JetStream ack (the message is in the stream's file store); at most
 *   `maxInFlight` publishes wait for their ack at once, the next ones wait for a slot (back-pressure). It
 *   rejects with IIP_ERR_BUS_UNAVAILABLE when NATS is unreachable, does not confirm within
 *   `publishTimeoutMs`, or refuses the message.
 * - Telemetry publishes to one subject (one device) within one event-loop turn travel as one JetStream message
 *   (a JSON array of the batches; at most `maxBundle` of them and about 256 KiB): a front door reading many
 *   PUBLISHes of a device from its socket at once pays one stream write and one PubAck for them, not one each.
 *   Each publisher's promise still resolves only on the JetStream ack of the message that holds its batch. A
 *   consumer hands each batch of a bundle to its handler; the bundle is acknowledged when all of them are done
 *   (and offered again whole when one fails — the historian deduplicates).
 * - A group subscription is a durable pull consumer named after the group (explicit ack): the message is
 *   acknowledged when the handler's promise resolves, and `nak`ed with `retryDelayMs` when it rejects.
 *   Handlers run concurrently (up to `maxAckPending` per group) and may resolve in any order.
 * - A live subscription is a core NATS subscription on the stream's subjects: each subscriber of each
 *   process sees every message published while it is subscribed (at most once; nothing is kept for it).
 */
import { IipError } from '@iip/core';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type Subscription as NatsSubscription,
  createInbox,
  headers,
  nanos,
} from 'nats';
import type { Bus, BusTopics, Handler, SubscribeOptions, Subscription, Topic } from './index.js';
import { SAFE_TOKEN, checkPrefix, openNatsConnection, unavailable } from './nats-connect.js';

export interface NatsBusOptions {
  /** `nats://host:port` (several, comma-separated, for a cluster). */
  readonly url: string;
  /** Connection name shown by the server's monitoring (default `iip`). */
  readonly name?: string;
  /**
   * First subject token and stream-name prefix (default `iip`): several platforms (or tests) can share one
   * server with different prefixes. Letters, digits, `_` and `-` only.
   */
  readonly prefix?: string;
  /** Publishes waiting for their JetStream ack at once (default 1,024); more wait for a slot. */
  readonly maxInFlight?: number;
  /** A publish that is not confirmed within this time rejects (default 5,000 ms). */
  readonly publishTimeoutMs?: number;
  /** Time to connect at start (default 5,000 ms); failing rejects `connectNatsBus`. */
  readonly connectTimeoutMs?: number;
  /** Pause between reconnect attempts (default 500 ms); the client retries forever. */
  readonly reconnectWaitMs?: number;
  /** Group consumers: time a handler has before the message is offered again (default 30,000 ms; kept alive while the handler runs). */
  readonly ackWaitMs?: number;
  /** Group consumers: unacknowledged messages the group may hold at once (default 1,000). */
  readonly maxAckPending?: number;
  /** Group consumers: messages pulled per request (default 256). */
  readonly batch?: number;
  /** Delay before a message whose handler failed is delivered again (default 1,000 ms). */
  readonly retryDelayMs?: number;
  /** Duplicate window of the streams for Nats-Msg-Id (default 120,000 ms). */
  readonly duplicateWindowMs?: number;
  /** Stream limit in bytes (default: none; the server's JetStream limit applies). A full stream refuses publishes. */
  readonly maxBytes?: number;
  /** Groups whose durable consumers are created at connect, so that nothing published before they first subscribe is lost. */
  readonly groups?: { readonly [T in Topic]?: readonly string[] };
  /** Receives handler failures and subscription problems; the default logs them. */
  readonly onError?: (topic: Topic, err: unknown) => void;
  /** How often acknowledged messages are purged from the streams (default 5,000 ms; 0 = never). */
  readonly purgeIntervalMs?: number;
  /** Telemetry batches of one device and one event-loop turn sent as one message, at most (default 32; 1 = never bundle). */
  readonly maxBundle?: number;
}

/**
 * Batches per bundle, at most: a consumer's `maxAckPending` counts bundles, so this bounds what a worker may hold
 * (and what a redelivery carries) to that many times the unbundled amount.
 */
const DEFAULT_MAX_BUNDLE = 32;
/** A bundle is sent at once when its JSON reaches this size (NATS' default max_payload is 1 MiB). */
const MAX_BUNDLE_BYTES = 256 * 1024;

interface Bundle {
  readonly json: string[];
  bytes: number;
  readonly waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

const TOPIC_KIND: Record<Topic, string> = {
  telemetry: 'telemetry',
  'device.status': 'status',
  'registry.changed': 'registry',
  'device.deliver': 'deliver',
  'device.reply': 'reply',
  'device.events': 'events',
};
const STREAM_SUFFIX: Record<Topic, string> = {
  telemetry: 'TELEMETRY',
  'device.status': 'DEVICE_STATUS',
  'registry.changed': 'REGISTRY',
  'device.deliver': 'DEVICE_DELIVER',
  'device.reply': 'DEVICE_REPLY',
  'device.events': 'DEVICE_EVENTS',
};
const TOPICS = Object.keys(TOPIC_KIND) as Topic[];

/**
 * A tenant or device id as one NATS subject token: letters, digits, `_` and `-` stay; every other byte of
 * its UTF-8 form (`.`, `*`, `>`, whitespace, `~`…) becomes `~XX` (hex). Reversible with `decodeSubjectToken`.
 */
export function encodeSubjectToken(id: string): string {
  if (id.length === 0) throw new IipError('IIP_ERR_VALIDATION', 'an empty id cannot be a subject token');
  if (SAFE_TOKEN.test(id)) return id;
  let out = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && /[A-Za-z0-9_-]/.test(c) ? c : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeSubjectToken(token: string): string {
  if (!token.includes('~')) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '~') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

interface AckWaiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  readonly subject: string;
  readonly expires: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** Connects to NATS, creates (or checks) the streams and the declared group consumers, and returns the bus. */
export async function connectNatsBus(opts: NatsBusOptions): Promise<Bus & { readonly connected: boolean }> {
  const prefix = opts.prefix ?? 'iip';
  checkPrefix(prefix, 'bus');
  const nc = await openNatsConnection({
    url: opts.url,
    name: opts.name ?? 'iip',
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.reconnectWaitMs !== undefined ? { reconnectWaitMs: opts.reconnectWaitMs } : {}),
    pingIntervalMs: 10_000,
    maxPingOut: 3,
  });
  const bus = new NatsBus(nc, prefix, opts);
  try {
    await bus.setUp();
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw e instanceof IipError ? e : unavailable(`cannot set up the JetStream streams at ${opts.url} (is nats-server started with -js?)`, e);
  }
  return bus;
}

class NatsBus implements Bus {
  private readonly js: JetStreamClient;
  private jsm!: JetStreamManager;
  private readonly maxInFlight: number;
  private readonly publishTimeoutMs: number;
  private readonly onError: (topic: Topic, err: unknown) => void;
  private inFlight = 0;
  /** Publishes waiting for a slot, oldest first (from `waitHead` on; shift() on a long array would cost O(n)). */
  private waiters: Waiter[] = [];
  private waitHead = 0;
  private readonly pending = new Set<Promise<unknown>>();
  /** Telemetry waiting for the end of the event-loop turn, by subject (see the module comment). */
  private readonly bundles = new Map<string, Bundle>();
  private bundleFlushScheduled = false;
  private readonly ackInbox = createInbox();
  private ackSeq = 0;
  private readonly acks = new Map<string, AckWaiter>();
  private readonly ackSweep: NodeJS.Timeout;
  private readonly subs = new Set<{ stop: () => Promise<void> }>();
  private isConnected = true;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly opts: NatsBusOptions,
  ) {
    this.js = nc.jetstream({ timeout: opts.publishTimeoutMs ?? 5_000 });
    this.maxInFlight = opts.maxInFlight ?? 1_024;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 5_000;
    this.onError = opts.onError ?? ((topic, err) => console.error(`bus: a ${topic} subscriber failed:`, err));
    void this.watchStatus();
    this.nc.subscribe(`${this.ackInbox}.*`, { callback: (err, m) => (err ? undefined : this.onAck(m.subject, m.data, m.headers)) });
    this.ackSweep = setInterval(() => this.sweepAcks(), Math.min(250, Math.max(10, Math.floor(this.publishTimeoutMs / 10))));
    this.ackSweep.unref();
  }

  get connected(): boolean {
    return this.isConnected && !this.closed;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) {
        this.isConnected = false;
        // Whoever waits for a slot would only wait for the timeout: tell them now.
        this.rejectWaiters(unavailable(`lost the connection to NATS at ${this.opts.url}`));
        // Acks of publishes in flight would come on this connection: the message may or may not be kept,
        // so it counts as not kept (the sender sends it again; at least once).
        for (const [reply, w] of this.acks) {
          this.acks.delete(reply);
          w.reject(unavailable(`lost the connection to NATS at ${this.opts.url} before it confirmed the message on ${w.subject}`));
        }
      } else if (s.type === Events.Reconnect) {
        this.isConnected = true;
      }
    }
  }

  streamName(topic: Topic): string {
    return `${this.prefix.toUpperCase()}_${STREAM_SUFFIX[topic]}`;
  }

  private streamSubject(topic: Topic): string {
    return `${this.prefix}.*.${TOPIC_KIND[topic]}.*`;
  }

  private subject<T extends Topic>(topic: T, msg: BusTopics[T]): string {
    const m = msg as { tenant: string; device: string };
    return `${this.prefix}.${encodeSubjectToken(m.tenant)}.${TOPIC_KIND[topic]}.${encodeSubjectToken(m.device)}`;
  }

  async setUp(): Promise<void> {
    this.jsm = await this.nc.jetstreamManager({ timeout: this.publishTimeoutMs });
    for (const topic of TOPICS) {
      const name = this.streamName(topic);
      const subject = this.streamSubject(topic);
      try {
        await this.jsm.streams.add({
          name,
          subjects: [subject],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.New,
          duplicate_window: nanos(this.opts.duplicateWindowMs ?? 120_000),
          max_bytes: this.opts.maxBytes ?? -1,
          num_replicas: 1,
        });
      } catch (e) {
        // It exists with other limits (an operator may have tuned them): keep it if it carries our subject
        // with limits retention and no age or count limit; anything else would change what "acknowledged" means.
        const info = await this.jsm.streams.info(name).catch(() => undefined);
        if (!info) throw e;
        const c = info.config;
        if (!c.subjects?.includes(subject) || c.retention !== RetentionPolicy.Limits || (c.max_age ?? 0) > 0 || (c.max_msgs ?? -1) > 0 || c.discard !== DiscardPolicy.New) {
          throw unavailable(
            `the NATS stream ${name} exists with subjects ${JSON.stringify(c.subjects)}, retention ${c.retention}, max_age ${c.max_age}, max_msgs ${c.max_msgs}, discard ${c.discard}; ` +
              `the bus needs [${subject}] with limits retention, no age or count limit and discard new — delete or fix the stream (nats stream edit/rm ${name})`,
          );
        }
      }
      for (const group of this.opts.groups?.[topic] ?? []) await this.ensureConsumer(topic, group);
    }
    const every = this.opts.purgeIntervalMs ?? 5_000;
    if (every > 0) {
      this.purgeTimer = setInterval(() => void this.purgeAcknowledged(), every);
      this.purgeTimer.unref();
    }
  }

  private purgeTimer: NodeJS.Timeout | undefined;
  private purging = false;
  /** Per stream without groups: its last seq at the previous purge (what is older than one interval). */
  private readonly lastSeqSeen = new Map<string, number>();

  /**
   * Removes what every durable group has acknowledged: when no consumer of the stream has a message out,
   * everything up to the lowest delivered sequence. A stream without consumers (live topics only) loses what is older than one interval. Safe to
   * run from every process at once (each purge only removes what all groups have).
   */
  private async purgeAcknowledged(): Promise<void> {
    if (this.purging || !this.isConnected || this.closed) return;
    this.purging = true;
    try {
      for (const topic of TOPICS) {
        const name = this.streamName(topic);
        const consumers = await this.jsm.consumers.list(name).next();
        let upTo: number;
        if (consumers.length > 0) {
          // Only when no group has a message out: then everything delivered is acknowledged. (Purging below
          // the consumers' reported ack floor lost messages a killed worker held — measured in the scale-out
          // fault test — so the floor is not trusted; under unbroken load the stream is trimmed at lulls.)
          if (consumers.some((c) => c.num_ack_pending > 0 || c.num_redelivered > 0)) continue;
          upTo = Math.min(...consumers.map((c) => c.delivered.stream_seq));
        } else {
          const info = await this.jsm.streams.info(name);
          upTo = this.lastSeqSeen.get(name) ?? 0;
          this.lastSeqSeen.set(name, info.state.last_seq);
        }
        if (upTo > 0) await this.jsm.streams.purge(name, { seq: upTo + 1 });
      }
    } catch (e) {
      if (!this.closed) this.onError('telemetry', new Error(`purging acknowledged messages failed (retried): ${e instanceof Error ? e.message : String(e)}`));
    } finally {
      this.purging = false;
    }
  }

  private consumerName(group: string): string {
    return encodeSubjectToken(group);
  }

  private async ensureConsumer(topic: Topic, group: string): Promise<void> {
    const stream = this.streamName(topic);
    const name = this.consumerName(group);
    try {
      await this.jsm.consumers.add(stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.opts.ackWaitMs ?? 30_000),
        max_deliver: -1,
        max_ack_pending: this.opts.maxAckPending ?? 1_000,
      });
    } catch (e) {
      // Created meanwhile by another process, or with other limits: a durable consumer of that name is all we need.
      const info = await this.jsm.consumers.info(stream, name).catch(() => undefined);
      if (!info) throw e;
    }
  }

  async publish<T extends Topic>(topic: T, msg: BusTopics[T]): Promise<void> {
    if (this.closed) throw unavailable('the bus is closed');
    if (!this.isConnected) throw unavailable(`not connected to NATS at ${this.opts.url} (reconnecting)`);
    const subject = this.subject(topic, msg);
    if (topic === 'telemetry' && (this.opts.maxBundle ?? DEFAULT_MAX_BUNDLE) > 1) return this.bundle(subject, JSON.stringify(msg));
    const data = Buffer.from(JSON.stringify(msg));
    // A device status change has a natural id; a repeat within the duplicate window is kept once. A telemetry
    // batch has none (the historian deduplicates on (series, ts)); hashing it cost a quarter of the throughput.
    const status = topic === 'device.status' ? (msg as BusTopics['device.status']) : undefined;
    const msgId = status ? `${status.tenant}/${status.device}/${status.ts}/${status.online}` : undefined;
    return this.publishData(subject, data, msgId);
  }

  /** Adds a telemetry batch to its subject's bundle; resolves when the bundle's message is acknowledged. */
  private bundle(subject: string, json: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let b = this.bundles.get(subject);
      if (!b) {
        b = { json: [], bytes: 0, waiters: [] };
        this.bundles.set(subject, b);
      }
      b.json.push(json);
      b.bytes += json.length + 1;
      b.waiters.push({ resolve, reject });
      if (b.json.length >= (this.opts.maxBundle ?? DEFAULT_MAX_BUNDLE) || b.bytes >= MAX_BUNDLE_BYTES) {
        this.bundles.delete(subject);
        this.sendBundle(subject, b);
      } else if (!this.bundleFlushScheduled) {
        this.bundleFlushScheduled = true;
        // After the I/O phase: every PUBLISH read from the sockets in this turn has joined its bundle.
        setImmediate(() => this.flushBundles());
      }
    });
  }

  private flushBundles(): void {
    this.bundleFlushScheduled = false;
    const all = [...this.bundles];
    this.bundles.clear();
    for (const [subject, b] of all) this.sendBundle(subject, b);
  }

  private sendBundle(subject: string, b: Bundle): void {
    const data = Buffer.from(b.json.length === 1 ? (b.json[0] as string) : `[${b.json.join(',')}]`);
    const p = this.publishData(subject, data, undefined).then(
      () => {
        for (const w of b.waiters) w.resolve();
      },
      (e: unknown) => {
        for (const w of b.waiters) w.reject(e);
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** One message: a slot among `maxInFlight`, the publish, its PubAck (or timeout). */
  private async publishData(subject: string, data: Buffer, msgId: string | undefined): Promise<void> {
    await this.acquire();
    const p = this.send(subject, data, msgId);
    this.pending.add(p);
    let stuck = false;
    try {
      await p;
    } catch (e) {
      stuck = e instanceof IipError && e.details.timeout === true;
      throw e;
    } finally {
      this.pending.delete(p);
      this.release(stuck);
    }
  }

  /**
   * Publishes with a reply subject on the bus's own ack inbox and waits for the stream's PubAck (what the
   * JetStream clients call asynchronous publishing). One subscription and one timer serve every publish in
   * flight: measured 3–4× the rate of the client's request-per-publish `js.publish` (ADR 0007).
   */
  private send(subject: string, data: Buffer, msgId: string | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const reply = `${this.ackInbox}.${++this.ackSeq}`;
      this.acks.set(reply, { resolve, reject, subject, expires: Date.now() + this.publishTimeoutMs });
      try {
        if (msgId === undefined) this.nc.publish(subject, data, { reply });
        else {
          const h = headers();
          h.set('Nats-Msg-Id', msgId);
          this.nc.publish(subject, data, { reply, headers: h });
        }
      } catch (e) {
        this.acks.delete(reply);
        reject(unavailable(`NATS did not take the message on ${subject}`, e));
      }
    });
  }

  private onAck(reply: string, data: Uint8Array, hdrs: MsgHdrs | undefined): void {
    const w = this.acks.get(reply);
    if (!w) return; // timed out already: the publisher was told it failed (the message may be kept: at least once)
    this.acks.delete(reply);
    if (hdrs?.hasError) {
      // 503 "no responders": no stream takes this subject, or JetStream is off.
      w.reject(unavailable(`no JetStream stream took the message on ${w.subject} (${hdrs.code} ${hdrs.description})`));
      return;
    }
    let ack: { stream?: string; seq?: number; error?: { code?: number; description?: string } };
    try {
      ack = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch (e) {
      w.reject(unavailable(`the stream answered a publish on ${w.subject} with something that is not a PubAck`, e));
      return;
    }
    if (ack.error || typeof ack.seq !== 'number') {
      w.reject(unavailable(`the stream refused the message on ${w.subject} (${ack.error?.code ?? '?'} ${ack.error?.description ?? JSON.stringify(ack)})`));
      return;
    }
    w.resolve();
  }

  /** Rejects every publish whose ack is overdue (the map is in publish order, so the sweep stops at the first live one). */
  private sweepAcks(): void {
    const now = Date.now();
    for (const [reply, w] of this.acks) {
      if (w.expires > now) break;
      this.acks.delete(reply);
      w.reject(
        new IipError('IIP_ERR_BUS_UNAVAILABLE', `NATS did not confirm the message on ${w.subject} within ${this.publishTimeoutMs} ms`, {
          subject: w.subject,
          timeout: true,
        }),
      );
    }
  }

  /**
   * A slot among `maxInFlight`. Waiting for one is back-pressure, not a failure: it lasts while the bus
   * works through the publishes ahead. It ends in a rejection when the connection drops or a publish
   * ahead times out (the server is stuck), so no publish waits longer than about `publishTimeoutMs`.
   */
  private acquire(): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private rejectWaiters(err: IipError): void {
    const ws = this.waiters.slice(this.waitHead);
    this.waiters = [];
    this.waitHead = 0;
    for (const w of ws) w.reject(err);
  }

  private release(stuck: boolean): void {
    if (stuck) this.rejectWaiters(unavailable(`NATS at ${this.opts.url} did not confirm a publish within ${this.publishTimeoutMs} ms`));
    if (this.waitHead < this.waiters.length) {
      const w = this.waiters[this.waitHead] as Waiter;
      this.waiters[this.waitHead++] = undefined as unknown as Waiter;
      if (this.waitHead > 1_024 && this.waitHead * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.waitHead);
        this.waitHead = 0;
      }
      w.resolve(); // the slot passes to the waiter
    } else this.inFlight--;
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>, opts: SubscribeOptions = {}): Subscription {
    if (this.closed) throw unavailable('the bus is closed');
    return opts.group === undefined ? this.subscribeLive(topic, handler) : this.subscribeGroup(topic, handler, opts.group);
  }

  private subscribeLive<T extends Topic>(topic: T, handler: Handler<T>): Subscription {
    let sub: NatsSubscription | undefined = this.nc.subscribe(this.streamSubject(topic), {
      callback: (err, m) => {
        if (err) return this.onError(topic, err);
        let msgs: Array<BusTopics[T]>;
        try {
          msgs = unbundle(JSON.parse(Buffer.from(m.data).toString('utf8')));
        } catch (e) {
          return this.onError(topic, new Error(`a message on ${m.subject} is not JSON: ${String(e)}`));
        }
        for (const msg of msgs) {
          try {
            const r = handler(msg);
            if (r instanceof Promise) r.catch((e) => this.onError(topic, e));
          } catch (e) {
            this.onError(topic, e);
          }
        }
      },
    });
    const entry = {
      stop: async () => {
        sub?.unsubscribe();
        sub = undefined;
        this.subs.delete(entry);
      },
    };
    this.subs.add(entry);
    // The subscription is active once the server has seen it: flush is a round trip after the SUB.
    const ready = this.nc.flush().catch((e) => {
      throw unavailable('the live subscription was not confirmed by NATS', e);
    });
    ready.catch(() => undefined);
    return { ready, unsubscribe: entry.stop };
  }

  private subscribeGroup<T extends Topic>(topic: T, handler: Handler<T>, group: string): Subscription {
    const stream = this.streamName(topic);
    const name = this.consumerName(group);
    const retryDelayMs = this.opts.retryDelayMs ?? 1_000;
    const ackWaitMs = this.opts.ackWaitMs ?? 30_000;
    const running = new Set<JsMsg>();
    const settled = new Set<Promise<void>>();
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    let seen = new Set<JsMsg>();

    // While a handler runs longer than a third of the ack wait, tell the server it is still being worked on.
    const keepAlive = setInterval(
      () => {
        for (const m of seen) if (running.has(m)) m.working();
        seen = new Set(running);
      },
      Math.max(100, Math.floor(ackWaitMs / 3)),
    );
    keepAlive.unref();

    const onMessage = (m: JsMsg): void => {
      if (stopped) {
        m.nak();
        return;
      }
      let msgs: Array<BusTopics[T]>;
      try {
        msgs = unbundle(JSON.parse(Buffer.from(m.data).toString('utf8')));
      } catch (e) {
        // Only this adapter publishes here; a message that is not JSON can never be handled: report it, end its redelivery.
        this.onError(topic, new Error(`message ${m.seq} on ${m.subject} is not JSON (terminated): ${String(e)}`));
        m.term('not JSON');
        return;
      }
      running.add(m);
      const run = (msg: BusTopics[T]): void | Promise<void> => {
        try {
          return handler(msg);
        } catch (e) {
          return Promise.reject(e);
        }
      };
      const r = msgs.length === 1 ? run(msgs[0] as BusTopics[T]) : Promise.all(msgs.map(run));
      const done = Promise.resolve(r).then(
        () => {
          running.delete(m);
          m.ack();
        },
        (e) => {
          running.delete(m);
          this.onError(topic, e);
          m.nak(retryDelayMs);
        },
      );
      settled.add(done);
      void done.finally(() => settled.delete(done));
    };

    const ready = (async () => {
      await this.ensureConsumer(topic, group);
      const consumer = await this.js.consumers.get(stream, name);
      if (stopped) return;
      messages = await consumer.consume({ max_messages: this.opts.batch ?? 256, callback: onMessage });
      void (async () => {
        for await (const s of await messages.status()) {
          if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found' || s.type === 'consumer_deleted') {
            this.onError(topic, new Error(`group ${group}: ${s.type} (${JSON.stringify(s.data)})`));
          }
        }
      })().catch(() => undefined);
    })().catch((e) => {
      throw e instanceof IipError ? e : unavailable(`cannot subscribe group ${group} to ${stream}`, e);
    });
    ready.catch(() => undefined);

    const entry = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.subs.delete(entry);
        clearInterval(keepAlive);
        await ready.catch(() => undefined);
        await messages?.close().catch(() => undefined);
        // Handlers already running finish and acknowledge their messages.
        await Promise.allSettled([...settled]);
      },
    };
    this.subs.add(entry);
    return { ready, unsubscribe: entry.stop };
  }

  /**
   * Waits for the publishes in flight (each ends by its ack or its timeout), stops the subscriptions (running
   * group handlers finish and ack), then drains the connection. Bounded: without a server to drain to
   * (or if draining stalls) the connection is closed after `publishTimeoutMs`; unacknowledged group
   * messages are then simply delivered again to the group later.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Bundles still waiting for the end of the turn go out now (and are waited for below).
    this.flushBundles();
    this.rejectWaiters(unavailable('the bus is closed'));
    await Promise.allSettled([...this.pending]);
    clearInterval(this.ackSweep);
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    const bounded = (p: Promise<unknown>): Promise<unknown> => {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise((resolve) => {
        timer = setTimeout(resolve, this.publishTimeoutMs);
      });
      return Promise.race([p.catch(() => undefined), limit]).finally(() => clearTimeout(timer));
    };
    await bounded(Promise.allSettled([...this.subs].map((s) => s.stop())));
    if (this.isConnected) await bounded(this.nc.drain());
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }
}

/** The batches of a message: a bundle (JSON array) or one batch (an object, as before bundles existed). */
function unbundle<M>(parsed: unknown): M[] {
  return Array.isArray(parsed) ? (parsed as M[]) : [parsed as M];
}
