/**
 * The edge gateway runtime: runs the protocol drivers of its applied configuration (built by an injected
 * factory, so this package needs no protocol code), evaluates edge rules on every reading, commits every
 * reading to the disk buffer before anything is sent, and forwards the buffer to the platform over MQTT
 * QoS 1. It takes its configuration from the platform (retained `config` topic), reports its state, and
 * carries out write commands. See docs/reference/edge-gateway.md for the guarantees and the topics.
 */
import { join } from 'node:path';
import {
  type CertificateInfo,
  type ChannelConfig,
  type ChannelOutage,
  type Driver,
  type DriverFailure,
  type DriverHealth,
  type DriverReading,
  IipError,
  type PointValue,
  type VersionedGatewayConfig,
  isIipError,
} from '@iip/core';
import mqtt, { type MqttClient } from 'mqtt';
import { BufferDrain, DEFAULT_DRAIN } from './buffer-drain.js';
import { type BadValueStats, BadValues } from './bad-values.js';
import { BUFFER_FILE, type BufferStats, type DeadLetterStats, DiskBuffer, type PendingEvent } from './disk-buffer.js';
import { compilePushed, EdgeRules, type PushedRule } from './edge-rules.js';
import { type GatewayTopics, gatewayTopics } from './topics.js';

export type EdgeLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type EdgeLog = (level: EdgeLogLevel, msg: string, fields?: Record<string, unknown>) => void;
export type DriverFactory = (channel: ChannelConfig) => Driver;

export interface EdgeGatewayOptions {
  readonly platform: { readonly mqttUrl: string; readonly tenant: string; readonly gatewayId: string; readonly secret: string };
  /** Holds the disk buffer and the last applied configuration. */
  readonly dataDir: string;
  readonly driverFactory: DriverFactory;
  /** Runs until the platform pushes a newer version (a newer configuration persisted in dataDir wins). */
  readonly initialConfig?: VersionedGatewayConfig;
  readonly buffer?: { readonly maxBytes?: number; readonly maxAgeMs?: number; readonly synchronous?: 'FULL' | 'NORMAL' };
  readonly drain?: { readonly maxPointsPerSec?: number; readonly maxInFlight?: number };
  readonly stateIntervalMs?: number;
  /** Delay between reconnect attempts to the platform (default 1000 ms). */
  readonly reconnectPeriodMs?: number;
  readonly log?: EdgeLog;
}

export interface EdgeGatewayStats {
  readonly appliedVersion: number | null;
  readonly buffer: BufferStats;
  readonly uplink: {
    readonly connected: boolean;
    /** Points acknowledged by the platform since start. */
    readonly sentPoints: number;
    readonly inFlightMessages: number;
    readonly lastConnectedAt: number | null;
    /** Messages the platform answered on `.../errors` since start. */
    readonly rejected: number;
  };
  /** Points taken from the drivers and committed to the buffer since start. */
  readonly collectedPoints: number;
  readonly channels: readonly ChannelReport[];
  /** Rules fired (both kinds: legacy threshold events, platform rule raises); the platform's rules pushed: version and how many run. */
  readonly rules: { readonly fired: number; readonly pushedVersion?: number; readonly pushed?: number };
  /** Rows the platform refused, kept in the buffer file's dead-letter table (`iip edge dead-letter`). */
  readonly deadLetter: DeadLetterStats;
  /** Readings left out because no thing model can hold their value (NaN, ±Infinity), from any driver. */
  readonly badValues: BadValueStats;
}

/** The state message the gateway publishes on `iip/{tenant}/{gatewayId}/state`. */
export interface EdgeStateMessage {
  readonly ts: number;
  readonly appliedVersion: number | null;
  readonly buffer: { readonly points: number; readonly bytes: number; readonly oldestTs: number | null; readonly dropped: number };
  readonly uplink: { readonly connected: boolean; readonly sentPoints: number; readonly lastConnectedAt: number | null; readonly rejected: number };
  readonly channels: readonly ChannelReport[];
  /** Rules fired (both kinds: legacy threshold events, platform rule raises); the platform's rules pushed: version and how many run. */
  readonly rules: { readonly fired: number; readonly pushedVersion?: number; readonly pushed?: number };
  readonly deadLetter: DeadLetterStats;
  readonly badValues: BadValueStats;
}

/**
 * A channel of the applied configuration: `running` once its driver connected and polls; `starting` while it
 * retries a link that does not come up (the error says why); `failed` when it cannot run with this
 * configuration at all (the driver refused it) — then it stays down until a new version is pushed.
 */
export type ChannelRunState = 'starting' | 'running' | 'failed';

export interface ChannelReport extends DriverHealth {
  readonly state: ChannelRunState;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface WriteCommand {
  readonly type: 'write';
  readonly device: string;
  readonly property: string;
  readonly value: PointValue;
  /** Absolute expiry (ms since the epoch, platform clock): after it the gateway refuses the command unexecuted. */
  readonly expiresAt: number;
}

/** A thing-model service carried out as point writes, in order (the platform resolved the binding). */
export interface WritesCommand {
  readonly type: 'writes';
  readonly device: string;
  readonly service?: string;
  readonly writes: ReadonlyArray<{ readonly property: string; readonly value: PointValue }>;
  readonly expiresAt: number;
}

/**
 * Trusts the server certificate a channel's driver rejected (its state reports `trust.kind: 'server-untrusted'`),
 * named by thumbprint so a stale request cannot trust another certificate; then the channel retries at once.
 */
export interface TrustServerCertificateCommand {
  readonly type: 'trust-server-certificate';
  readonly channel: string;
  /** SHA-1 of the certificate's DER, 40 hex digits (upper-cased on arrival). */
  readonly thumbprint: string;
  readonly expiresAt: number;
}

export type GatewayCommand = WriteCommand | WritesCommand | TrustServerCertificateCommand;

/** A command's answer; a trusted certificate is sent back so the platform can say (and audit) which one it was. */
export type CommandResult =
  | { readonly ok: true; readonly certificate?: CertificateInfo }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string; readonly details: Readonly<Record<string, unknown>> } };

interface RunningChannel {
  readonly config: ChannelConfig;
  readonly driver: Driver;
  cancelled: boolean;
  state: ChannelRunState;
  error: { code: string; message: string } | null;
  /** Ends the retry loop's current wait (set while it waits). */
  wake: (() => void) | null;
  /** Set when something changed that may let the link come up (a certificate trusted): the next wait is skipped. */
  retryNow: boolean;
}

const CONFIG_META_KEY = 'applied-config';
/** The platform's rules last received (`{version, rules}`), kept so a restart while offline runs them. */
const RULES_META_KEY = 'applied-rules';
/** Outages of earlier drivers of each channel (a new configuration or a restart builds new drivers), by channel id. */
const OUTAGES_META_KEY = 'channel-outages';
/** Outages kept per channel across drivers. */
const MAX_OUTAGES = 50;
/** Answers to recent commands, by request id: a redelivered command (QoS 1) is answered again, not run again. */
const REMEMBERED_COMMANDS = 1000;

export class EdgeGateway {
  private readonly topics: GatewayTopics;
  private readonly log: EdgeLog;
  private buffer: DiskBuffer | null = null;
  private drain: BufferDrain | null = null;
  private client: MqttClient | null = null;
  private applied: VersionedGatewayConfig | null = null;
  private channels: RunningChannel[] = [];
  /** Channels of the applied configuration whose driver could not even be built. */
  private failedChannels: ChannelReport[] = [];
  private readonly commandResults = new Map<string, CommandResult | 'running'>();
  private owners = new Map<string, RunningChannel>();
  private pastOutages = new Map<string, ChannelOutage[]>();
  private rules = new EdgeRules();
  private firedBefore = 0;
  /** The platform's rules as pushed (version and the compiled ones), evaluated beside the configuration's. */
  private pushed: { version: number; text: string; compiled: ReturnType<typeof compilePushed> } = { version: 0, text: '[]', compiled: [] };
  private pendingReadings: (readonly DriverReading[])[] = [];
  private pendingEvents: PendingEvent[] = [];
  private flushScheduled = false;
  private collected = 0;
  private rejected = 0;
  private readonly badValues = new BadValues();
  private lastConnectedAt: number | null = null;
  private stateTimer: NodeJS.Timeout | null = null;
  private applying: Promise<unknown> = Promise.resolve();
  private running = false;

  constructor(private readonly opts: EdgeGatewayOptions) {
    this.topics = gatewayTopics(opts.platform.tenant, opts.platform.gatewayId);
    this.log = opts.log ?? (() => {});
  }

  /** Opens the buffer, runs the last applied (or initial) configuration, and connects to the platform. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const buffer = new DiskBuffer({
      path: join(this.opts.dataDir, BUFFER_FILE),
      maxBytes: this.opts.buffer?.maxBytes ?? 512 * 1024 * 1024,
      maxAgeMs: this.opts.buffer?.maxAgeMs ?? 7 * 24 * 3600 * 1000,
      synchronous: this.opts.buffer?.synchronous ?? 'FULL',
      log: this.log,
    });
    this.buffer = buffer;
    this.drain = new BufferDrain(
      buffer,
      this.topics,
      {
        connected: () => this.client?.connected === true,
        publish: (topic, payload, done) => {
          const c = this.client;
          if (!c) return done(new Error('uplink closed'));
          c.publish(topic, payload, { qos: 1 }, (err) => done(err ?? undefined));
        },
      },
      {
        ...DEFAULT_DRAIN,
        maxPointsPerSec: this.opts.drain?.maxPointsPerSec ?? DEFAULT_DRAIN.maxPointsPerSec,
        maxInFlight: this.opts.drain?.maxInFlight ?? DEFAULT_DRAIN.maxInFlight,
      },
      this.log,
    );
    try {
      const kept = JSON.parse(buffer.getMeta(OUTAGES_META_KEY) ?? '{}') as Record<string, ChannelOutage[]>;
      this.pastOutages = new Map(Object.entries(kept).filter(([, v]) => Array.isArray(v)));
    } catch {
      this.pastOutages = new Map();
    }
    const keptRules = buffer.getMeta(RULES_META_KEY);
    if (keptRules) this.applyRules(JSON.parse(keptRules) as { version: number; rules: PushedRule[] }, false);
    const stored = buffer.getMeta(CONFIG_META_KEY);
    const persisted = stored ? (JSON.parse(stored) as VersionedGatewayConfig) : null;
    const initial = this.opts.initialConfig;
    const first = persisted && (!initial || persisted.version >= initial.version) ? persisted : initial;
    if (first) await this.applyConfig(first);
    const b = buffer.stats();
    if (b.points > 0) this.log('info', 'edge buffer holds data from before the restart; it drains once the uplink is up', { points: b.points, oldestTs: b.oldestTs });
    this.connect();
    this.requeueDeadLetter();
    this.stateTimer = setInterval(() => {
      // Also applies the age bound when no readings arrive (all devices down) to trigger it.
      this.buffer?.enforceLimits();
      this.requeueDeadLetter();
      this.publishState();
    }, this.opts.stateIntervalMs ?? 10_000);
    this.stateTimer.unref();
  }

  /** Stops drivers, commits what they delivered, and closes the uplink and the buffer; buffered data stays on disk. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.stateTimer) clearInterval(this.stateTimer);
    this.stateTimer = null;
    await this.applying.catch(() => {});
    await this.closeChannels();
    this.flush();
    this.drain?.stop();
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync(true).catch(() => {});
    this.drain?.stop();
    this.buffer?.close();
  }

  /**
   * Applies a configuration if it is newer than the applied one: stops the old drivers, starts new ones
   * through the factory, persists it (a restart while offline runs it again) and reports state.
   * Resolves to false when the version is not newer.
   */
  applyConfig(v: VersionedGatewayConfig): Promise<boolean> {
    const next = this.applying.then(() => this.doApply(v));
    this.applying = next.catch(() => {});
    return next;
  }

  stats(): EdgeGatewayStats {
    const buffer = this.buffer?.stats() ?? { points: 0, rows: 0, bytes: 0, oldestTs: null, dropped: 0 };
    return {
      appliedVersion: this.applied?.version ?? null,
      buffer,
      uplink: {
        connected: this.client?.connected === true,
        sentPoints: this.drain?.sentPoints ?? 0,
        inFlightMessages: this.drain?.inFlightMessages ?? 0,
        lastConnectedAt: this.lastConnectedAt,
        rejected: this.rejected,
      },
      collectedPoints: this.collected,
      channels: [...this.channels.map((c) => this.report(c)), ...this.failedChannels],
      rules: { fired: this.firedBefore + this.rules.fired, pushedVersion: this.pushed.version, pushed: this.pushed.compiled.length },
      deadLetter: this.buffer?.deadLetterStats() ?? { points: 0, rows: 0, bytes: 0, total: 0, dropped: 0, last: null },
      badValues: this.badValues.stats(),
    };
  }

  /** Rows marked for retry (`iip edge dead-letter retry`, possibly from another process) go back into the buffer. */
  private requeueDeadLetter(): void {
    if (this.buffer && this.buffer.requeueRetried() > 0) this.drain?.kick();
  }

  private async doApply(v: VersionedGatewayConfig): Promise<boolean> {
    if (!this.running || !this.buffer) return false;
    if (this.applied && v.version <= this.applied.version) {
      this.log('debug', 'configuration version is not newer than the applied one; ignored', { version: v.version, applied: this.applied.version });
      return false;
    }
    await this.closeChannels();
    // Readings the old drivers delivered belong to the old rules; commit them before switching.
    this.flush();
    this.firedBefore += this.rules.fired;
    this.rules = new EdgeRules(v.config.rules ?? [], this.pushed.compiled);
    this.buffer.setMeta(CONFIG_META_KEY, JSON.stringify(v));
    this.applied = v;
    const channels: RunningChannel[] = [];
    const failed: ChannelReport[] = [];
    const owners = new Map<string, RunningChannel>();
    for (const config of v.config.channels) {
      let driver: Driver;
      try {
        driver = this.opts.driverFactory(config);
      } catch (e) {
        const error = errorOf(e);
        this.log('error', 'cannot create the driver of a channel; the channel does not run', { channel: config.id, code: error.code, err: error.message });
        failed.push({ channel: config.id, protocol: config.protocol, connected: false, devices: [], state: 'failed', error });
        continue;
      }
      const ch: RunningChannel = { config, driver, cancelled: false, state: 'starting', error: null, wake: null, retryNow: false };
      channels.push(ch);
      for (const d of config.devices) owners.set(d.id, ch);
    }
    this.channels = channels;
    this.failedChannels = failed;
    this.owners = owners;
    for (const ch of channels) void this.runChannel(ch);
    this.log('info', 'configuration applied', { version: v.version, channels: channels.length, rules: v.config.rules?.length ?? 0 });
    this.publishState();
    return true;
  }

  /**
   * Connects and subscribes a channel's driver, retrying with backoff until it succeeds or the channel stops.
   * `retryChannelNow` ends a wait early (a certificate was trusted: the next attempt may succeed).
   */
  private async runChannel(ch: RunningChannel): Promise<void> {
    let delay = 500;
    while (!ch.cancelled) {
      ch.retryNow = false;
      try {
        await ch.driver.connect();
        if (ch.cancelled) return;
        await ch.driver.subscribe(
          (readings) => this.onReadings(ch, readings),
          (device, failure) => this.onFailure(ch, device, failure),
        );
        ch.state = 'running';
        ch.error = null;
        this.publishState();
        return;
      } catch (e) {
        if (ch.cancelled) return;
        const before = ch.error;
        ch.error = errorOf(e);
        if (ch.error.code === 'IIP_ERR_DRIVER_CONFIG') {
          // Retrying cannot help: the driver refuses this configuration. Reported until a new version comes.
          ch.state = 'failed';
          this.log('error', 'driver refuses the channel configuration; the channel does not run', { channel: ch.config.id, code: ch.error.code, err: ch.error.message });
          this.publishState();
          return;
        }
        // A new reason (e.g. the first certificate refusal) is reported at once, not at the next state interval.
        if (before?.code !== ch.error.code || before.message !== ch.error.message) this.publishState();
        if (ch.retryNow) {
          delay = 500;
          continue;
        }
        this.log('warn', 'driver cannot start; retrying', { channel: ch.config.id, err: errText(e), retryInMs: delay });
        const woken = await new Promise<boolean>((resolve) => {
          // Unref'd: a gateway being stopped must not wait for a channel's next retry.
          const timer = setTimeout(() => resolve(false), delay).unref();
          ch.wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        ch.wake = null;
        delay = woken ? 500 : Math.min(delay * 2, 30_000);
      }
    }
  }

  /** Makes a starting channel try again now instead of at the end of its backoff (or right after a try in progress). */
  private retryChannelNow(ch: RunningChannel): void {
    ch.retryNow = true;
    ch.wake?.();
  }

  private async closeChannels(): Promise<void> {
    const old = this.channels;
    // The history outlives the driver: what the old drivers recorded is kept, an outage still open ends now.
    const now = Date.now();
    for (const ch of old) {
      const list = this.history(ch).map((o) => (o.end === null ? { ...o, end: now } : o));
      if (list.length > 0) this.pastOutages.set(ch.config.id, list);
    }
    this.savePastOutages();
    this.channels = [];
    this.failedChannels = [];
    this.owners = new Map();
    for (const ch of old) {
      ch.cancelled = true;
      ch.wake?.();
    }
    await Promise.all(
      old.map((ch) =>
        ch.driver.close().catch((e: unknown) => this.log('warn', 'driver did not close cleanly', { channel: ch.config.id, err: errText(e) })),
      ),
    );
  }

  private onReadings(ch: RunningChannel, all: readonly DriverReading[]): void {
    if (ch.cancelled || !this.running || all.length === 0) return;
    const readings = this.badValues.filter(all, (bad) => this.log('warn', 'a reading holds a value no thing model can hold; left out', { channel: ch.config.id, ...bad }));
    if (readings.length === 0) return;
    for (const t of this.rules.transitions(readings)) {
      this.log('warn', `edge rule ${t.body.transition === 'raise' ? 'raised' : 'cleared'}`, { rule: t.body.rule, device: t.device, values: t.body.values });
      this.pendingEvents.push({ device: t.device, ts: t.ts, body: JSON.stringify(t.body) });
    }
    for (const ev of this.rules.evaluate(readings)) {
      this.log('warn', 'edge rule fired', { rule: ev.rule, device: ev.device, property: ev.property, value: ev.value, severity: ev.severity });
      const { device, ...message } = ev;
      this.pendingEvents.push({ device, ts: ev.ts, body: JSON.stringify(message) });
    }
    this.pendingReadings.push(readings);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Group commit: everything delivered in this turn of the event loop shares one transaction (one fsync).
      setImmediate(() => this.flush());
    }
  }

  private onFailure(ch: RunningChannel, device: string, f: DriverFailure): void {
    this.log('warn', 'device read failed', { channel: ch.config.id, device, code: f.code, message: f.message });
  }

  /** Commits pending readings and events to disk, then lets the drain send them. */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.buffer || (this.pendingReadings.length === 0 && this.pendingEvents.length === 0)) return;
    const batches = this.pendingReadings;
    const events = this.pendingEvents;
    this.pendingReadings = [];
    this.pendingEvents = [];
    const readings = batches.length === 1 ? batches[0]! : batches.flat();
    try {
      this.collected += this.buffer.append(readings, events);
    } catch (e) {
      this.log('error', 'readings could not be written to the disk buffer and are lost', { points: readings.length, err: errText(e) });
      return;
    }
    this.drain?.kick();
  }

  private connect(): void {
    const id = `${this.opts.platform.tenant}/${this.opts.platform.gatewayId}`;
    const client = mqtt.connect(this.opts.platform.mqttUrl, {
      clientId: id,
      username: id,
      password: this.opts.platform.secret,
      clean: false,
      // Subscriptions are renewed on every connect by us, so the retained config is delivered each time.
      resubscribe: false,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: 10_000,
      keepalive: 30,
    });
    this.client = client;
    client.on('connect', () => {
      this.lastConnectedAt = Date.now();
      this.log('info', 'connected to the platform', { url: this.opts.platform.mqttUrl, buffered: this.buffer?.stats().points ?? 0 });
      client.subscribe([this.topics.config, this.topics.rules, this.topics.commands, this.topics.errors], { qos: 1 }, (err) => {
        if (err) this.log('warn', 'subscribe failed', { err: err.message });
      });
      this.publishState();
      this.drain?.kick();
    });
    let wasConnected = false;
    client.on('connect', () => {
      wasConnected = true;
    });
    client.on('close', () => {
      if (this.running && wasConnected) this.log('warn', 'uplink lost; collecting into the disk buffer', { buffered: this.buffer?.stats().points ?? 0 });
      wasConnected = false;
    });
    client.on('error', (err) => this.log('warn', 'uplink error', { err: err.message }));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /**
   * The platform's rules: a newer version replaces the ones running (their states start over) and is kept in the
   * buffer file; an equal or older one is ignored. A rule that does not compile here is logged and left out.
   */
  private applyRules(v: { version: number; rules: PushedRule[] }, persist: boolean): void {
    if (typeof v?.version !== 'number' || !Array.isArray(v.rules)) {
      this.log('warn', 'pushed rules lack "version" or "rules"; ignored', {});
      return;
    }
    if (v.version <= this.pushed.version) return;
    // The platform pushes again whenever any rule or the gateway's configuration changes: the same rules keep running
    // with their states (runs of true samples, windows), only the version moves.
    const text = JSON.stringify(v.rules);
    if (text === this.pushed.text) {
      this.pushed = { ...this.pushed, version: v.version };
      if (persist) this.buffer?.setMeta(RULES_META_KEY, JSON.stringify(v));
      return;
    }
    const compiled = compilePushed(v.rules, (rule, err) => this.log('warn', 'a pushed rule does not compile here; it does not run', { rule, err }));
    this.flush();
    this.firedBefore += this.rules.fired;
    this.pushed = { version: v.version, text, compiled };
    this.rules = new EdgeRules(this.applied?.config.rules ?? [], compiled);
    if (persist) this.buffer?.setMeta(RULES_META_KEY, JSON.stringify(v));
    this.log('info', 'edge rules applied', { version: v.version, rules: compiled.length });
    this.publishState();
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.topics.rules) {
      if (payload.length === 0) return;
      try {
        this.applyRules(JSON.parse(payload.toString('utf8')) as { version: number; rules: PushedRule[] }, true);
      } catch (e) {
        this.log('warn', 'pushed rules are not JSON; ignored', { err: errText(e) });
      }
      return;
    }
    if (topic === this.topics.config) {
      if (payload.length === 0) return;
      let v: VersionedGatewayConfig;
      try {
        v = JSON.parse(payload.toString('utf8')) as VersionedGatewayConfig;
      } catch {
        this.log('warn', 'pushed configuration is not JSON; ignored', { topic });
        return;
      }
      if (typeof v?.version !== 'number' || !Array.isArray(v.config?.channels)) {
        this.log('warn', 'pushed configuration lacks "version" or "config.channels"; ignored', { topic });
        return;
      }
      this.applyConfig(v).catch((e: unknown) => this.log('error', 'applying the pushed configuration failed', { version: v.version, err: errText(e) }));
      return;
    }
    if (topic === this.topics.errors) {
      // The platform acknowledges a refused message too (PUBACK); this answer comes first, so the drain can
      // tell which buffered rows it is about and keep them in the dead-letter table instead of deleting them.
      this.rejected++;
      let body: unknown;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch {
        body = payload.toString('utf8');
      }
      const e = body as { code?: unknown; message?: unknown; details?: { device?: unknown; property?: unknown; value?: unknown } } | null;
      const d = e?.details;
      const device = typeof d?.device === 'string' ? d.device : null;
      const scope = typeof d?.property === 'string' ? { property: d.property, ...(d.value !== undefined ? { value: d.value } : {}) } : {};
      const kept = device !== null && this.drain?.rejected(device, { code: String(e?.code ?? 'IIP_ERR_INTERNAL'), message: String(e?.message ?? '') }, scope) === true;
      this.log('warn', 'platform rejected a message', { error: body, deadLettered: kept });
      return;
    }
    const requestId = this.topics.commandId(topic);
    if (requestId !== null) void this.runCommand(requestId, payload);
  }

  private async runCommand(requestId: string, payload: Buffer): Promise<void> {
    const seen = this.commandResults.get(requestId);
    if (seen === 'running') return; // a redelivery while it runs: the answer follows
    if (seen) {
      this.log('info', 'command delivered again; answered again, not carried out again', { requestId });
      this.sendResult(requestId, seen);
      return;
    }
    this.commandResults.set(requestId, 'running');
    let result: CommandResult;
    let type: string | undefined;
    try {
      const cmd = parseCommand(payload);
      type = cmd.type;
      // Checked before the device is touched: a command queued while the gateway was offline, or delayed past
      // the time the platform waits for it, must not run — the platform may have told its caller it did not.
      if (Date.now() >= cmd.expiresAt) {
        throw new IipError('IIP_ERR_EDGE_COMMAND_EXPIRED', `the command expired at ${new Date(cmd.expiresAt).toISOString()}, before it reached the device; not carried out`, {
          expiresAt: cmd.expiresAt,
          receivedAt: Date.now(),
        });
      }
      result = cmd.type === 'trust-server-certificate' ? await this.trustServerCertificate(requestId, cmd) : await this.runWrites(requestId, cmd);
    } catch (e) {
      const err = isIipError(e) ? e.toJSON() : { code: 'IIP_ERR_INTERNAL', message: errText(e), details: {} };
      this.log('warn', 'command failed', { requestId, type: type ?? null, code: err.code, message: err.message });
      result = { ok: false, error: err };
    }
    this.commandResults.set(requestId, result);
    if (this.commandResults.size > REMEMBERED_COMMANDS) {
      const oldest = this.commandResults.keys().next().value;
      if (oldest !== undefined) this.commandResults.delete(oldest);
    }
    this.sendResult(requestId, result);
  }

  /** A write or a service's writes, in order, stopping at the first failure (which names its step). */
  private async runWrites(requestId: string, cmd: WriteCommand | WritesCommand): Promise<CommandResult> {
    const ch = this.owners.get(cmd.device);
    if (!ch) {
      throw new IipError('IIP_ERR_EDGE_DEVICE_UNKNOWN', `device "${cmd.device}" is not on any channel of this gateway`, { device: cmd.device });
    }
    if (cmd.type === 'write') {
      await ch.driver.write(cmd.device, cmd.property, cmd.value);
      this.log('info', 'write command carried out', { requestId, device: cmd.device, property: cmd.property, value: cmd.value });
      return { ok: true };
    }
    for (const [step, w] of cmd.writes.entries()) {
      try {
        await ch.driver.write(cmd.device, w.property, w.value);
      } catch (e) {
        const err = isIipError(e) ? e.toJSON() : { code: 'IIP_ERR_INTERNAL', message: errText(e), details: {} };
        throw new IipError(err.code, `step ${step + 1} of ${cmd.writes.length} (${w.property} ← ${JSON.stringify(w.value)}) failed: ${err.message}`, {
          ...err.details,
          service: cmd.service ?? null,
          step,
          property: w.property,
          done: step,
        });
      }
    }
    this.log('info', 'service carried out', { requestId, device: cmd.device, service: cmd.service, writes: cmd.writes.length });
    return { ok: true };
  }

  /**
   * Has the channel's driver trust the server certificate it rejected (the driver checks the thumbprint against
   * the certificate it holds and refuses another with its own code), then lets the channel try again at once.
   */
  private async trustServerCertificate(requestId: string, cmd: TrustServerCertificateCommand): Promise<CommandResult> {
    const ch = this.channels.find((c) => c.config.id === cmd.channel);
    if (!ch) {
      const failed = this.failedChannels.find((c) => c.channel === cmd.channel);
      if (failed) {
        throw new IipError(
          'IIP_ERR_EDGE_TRUST_UNSUPPORTED',
          `channel "${cmd.channel}" has no driver to trust a certificate with: it failed to start (${failed.error?.code ?? 'IIP_ERR_INTERNAL'}: ${failed.error?.message ?? ''})`,
          { channel: cmd.channel, protocol: failed.protocol },
        );
      }
      throw new IipError('IIP_ERR_EDGE_CHANNEL_UNKNOWN', `channel "${cmd.channel}" is not in the configuration this gateway runs (version ${this.applied?.version ?? 'none'})`, {
        channel: cmd.channel,
        appliedVersion: this.applied?.version ?? null,
        channels: this.channels.map((c) => c.config.id),
      });
    }
    if (typeof ch.driver.trustServerCertificate !== 'function') {
      throw new IipError('IIP_ERR_EDGE_TRUST_UNSUPPORTED', `channel "${cmd.channel}" (${ch.config.protocol}) has no server certificates to trust`, {
        channel: cmd.channel,
        protocol: ch.config.protocol,
      });
    }
    const certificate = await ch.driver.trustServerCertificate(cmd.thumbprint);
    this.log('info', 'server certificate trusted; the channel connects again now', {
      requestId,
      channel: cmd.channel,
      thumbprint: certificate.thumbprint,
      subject: certificate.subject,
      notAfter: certificate.notAfter,
    });
    if (!ch.cancelled && ch.state === 'starting') this.retryChannelNow(ch);
    this.publishState();
    return { ok: true, certificate };
  }

  private sendResult(requestId: string, result: CommandResult): void {
    this.client?.publish(this.topics.commandResult(requestId), JSON.stringify(result), { qos: 1 }, (err) => {
      if (err) this.log('warn', 'command result not delivered', { requestId, err: err.message });
    });
  }

  private report(ch: RunningChannel): ChannelReport {
    let health: DriverHealth;
    try {
      health = ch.driver.health();
    } catch {
      health = { channel: ch.config.id, protocol: ch.config.protocol, connected: false, devices: [] };
    }
    const outages = this.history(ch, health);
    return { ...health, ...(outages.length > 0 || health.outages ? { outages } : {}), state: ch.state, error: ch.error };
  }

  /** A channel's outages: those of its earlier drivers (kept across configurations and restarts), then its driver's. */
  private history(ch: RunningChannel, health?: DriverHealth): ChannelOutage[] {
    let own: readonly ChannelOutage[] = [];
    try {
      own = (health ?? ch.driver.health()).outages ?? [];
    } catch {}
    const past = this.pastOutages.get(ch.config.id) ?? [];
    const all = past.length === 0 ? [...own] : [...past, ...own];
    return all.length > MAX_OUTAGES ? all.slice(all.length - MAX_OUTAGES) : all;
  }

  private savePastOutages(): void {
    try {
      this.buffer?.setMeta(OUTAGES_META_KEY, JSON.stringify(Object.fromEntries(this.pastOutages)));
    } catch (e) {
      this.log('warn', 'could not keep the channel outage history', { err: errText(e) });
    }
  }

  /** State is not buffered: while offline only the latest matters, and it is sent again on connect. */
  private publishState(): void {
    const c = this.client;
    if (!c?.connected) return;
    const s = this.stats();
    const msg: EdgeStateMessage = {
      ts: Date.now(),
      appliedVersion: s.appliedVersion,
      buffer: { points: s.buffer.points, bytes: s.buffer.bytes, oldestTs: s.buffer.oldestTs, dropped: s.buffer.dropped },
      uplink: { connected: true, sentPoints: s.uplink.sentPoints, lastConnectedAt: s.uplink.lastConnectedAt, rejected: s.uplink.rejected },
      channels: s.channels,
      rules: s.rules,
      deadLetter: s.deadLetter,
      badValues: s.badValues,
    };
    c.publish(this.topics.state, JSON.stringify(msg), { qos: 1 }, () => {});
  }
}

function parseCommand(payload: Buffer): GatewayCommand {
  let c: unknown;
  try {
    c = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command is not JSON', {});
  }
  const tr = c as Partial<TrustServerCertificateCommand> | null;
  if (tr && typeof tr === 'object' && tr.type === 'trust-server-certificate') {
    if (typeof tr.channel !== 'string' || tr.channel.length === 0) throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "channel" must be a non-empty string', { field: 'channel' });
    if (typeof tr.thumbprint !== 'string' || !/^[0-9A-Fa-f]{40}$/.test(tr.thumbprint)) {
      throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "thumbprint" must be the certificate\'s SHA-1 thumbprint: 40 hex digits', { field: 'thumbprint' });
    }
    checkExpiry(tr);
    return { type: tr.type, channel: tr.channel, thumbprint: tr.thumbprint.toUpperCase(), expiresAt: tr.expiresAt as number };
  }
  const w = c as Partial<WritesCommand> | null;
  if (w && typeof w === 'object' && w.type === 'writes') {
    if (typeof w.device !== 'string' || w.device.length === 0) throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "device" must be a non-empty string', { field: 'device' });
    if (!Array.isArray(w.writes) || w.writes.length === 0) throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "writes" must be a non-empty array', { field: 'writes' });
    for (const [i, x] of w.writes.entries()) {
      if (!x || typeof x.property !== 'string' || !['number', 'boolean', 'string'].includes(typeof x.value)) {
        throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', `writes[${i}] must be {"property": string, "value": number | boolean | string}`, { field: `writes[${i}]` });
      }
    }
    checkExpiry(w);
    return w as WritesCommand;
  }
  const o = c as Partial<WriteCommand> | null;
  if (!o || typeof o !== 'object' || o.type !== 'write') {
    throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "type" must be "write", "writes" or "trust-server-certificate"', { field: 'type' });
  }
  for (const f of ['device', 'property'] as const) {
    if (typeof o[f] !== 'string' || o[f].length === 0) throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', `command "${f}" must be a non-empty string`, { field: f });
  }
  if (!['number', 'boolean', 'string'].includes(typeof o.value)) {
    throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "value" must be a number, boolean or string', { field: 'value' });
  }
  checkExpiry(o);
  return o as WriteCommand;
}

/** Every command carries its absolute expiry; one without it could run at any later time, so it is refused. */
function checkExpiry(c: { expiresAt?: unknown }): void {
  if (typeof c.expiresAt !== 'number' || !Number.isFinite(c.expiresAt)) {
    throw new IipError('IIP_ERR_EDGE_COMMAND_INVALID', 'command "expiresAt" must be a time in ms since the epoch', { field: 'expiresAt' });
  }
}

function errorOf(e: unknown): { code: string; message: string } {
  return isIipError(e) ? { code: e.code, message: e.message } : { code: 'IIP_ERR_INTERNAL', message: errText(e) };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
