/**
 * The embedded MQTT front door: iip's own MQTT 3.1.1/5 server (mqtt/front-door.ts, ADR 0005), or aedes
 * (3.1.1) as a fallback, with one set of rules. Every client authenticates as one device with that device's
 * secret, and may then touch only its own subtree `iip/{tenant}/{device}/...`: telemetry published there is
 * admitted (validated, stored, then put on the bus), and a rejected message is answered on `.../errors` with
 * the IIP_ERR_* code instead of disconnecting the device, so one bad reading does not drop a healthy link.
 *
 * Acknowledgement (ADR 0001 §6): a QoS 1 PUBLISH of telemetry, from any device or gateway, is PUBACKed only
 * once the admission says it is committed; a reading that could not be committed gets no PUBACK — the
 * connection is closed, and the client sends it again (a re-delivery is stored once). QoS 0 is best-effort:
 * nothing is acknowledged, and a reading lost before its commit (a crash, a failed commit) is not sent again.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import { IipError } from '@iip/core';
import type { TelemetryAdmission } from './admission.js';
import type { EventAdmission } from './event-admission.js';
import { type DeviceDirectory, type DeviceEntry, parseDeviceUsername } from './directory.js';
import { type ClientIdDecision, clientIdAllowed } from './mqtt-client-id.js';
import { MQTT_311_LEVELS } from './mqtt-conformance.js';
import { guardConnection, MqttFrameGuard } from './mqtt-frame-guard.js';
import type { MqttLimits } from './mqtt-limits.js';
import {
  type AuthResult,
  type FrontDoorBacklog,
  type FrontDoorPolicy,
  type FrontDoorQueueDepths,
  type FrontDoorSessionStats,
  type FrontDoorStats,
  MqttFrontDoor,
  type PublishOutcome,
  Reason,
  type SharedSessions,
} from './mqtt/front-door.js';

interface DeviceIdentity {
  readonly tenant: string;
  readonly device: string;
  readonly prefix: string;
}

/** What the broker hands to the gateway side of the platform (implemented by GatewayManager). */
export interface GatewayHooks {
  ownerOf(tenant: string, device: string): string | undefined;
  /** Resolves once the state is stored; rejects (IIP_ERR_PAYLOAD_NOT_JSON, or a storage error): await it before the PUBACK. */
  onState(tenant: string, gateway: string, payload: Buffer): Promise<void>;
  /**
   * Resolves once the result is handed to the waiting command or audited (several processes: once the bus
   * has it for the process that waits, BusDeviceRouter): await it before the PUBACK. `tenant` and `gateway`
   * name the gateway that answered.
   */
  onCommandResult(requestId: string, payload: Buffer, tenant: string, gateway: string): Promise<void>;
  onConnected(tenant: string, device: string): void;
  onDisconnected(tenant: string, device: string): void;
}

export interface MqttAccessOptions {
  readonly directory: DeviceDirectory;
  readonly gateways?: GatewayHooks;
  readonly admission: TelemetryAdmission;
  /** Stores device events (`…/events`); without it events are refused (IIP_ERR_TOPIC_UNKNOWN), never dropped. */
  readonly events?: EventAdmission;
  readonly defaultTenant: string;
  readonly host?: string;
  readonly port: number;
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Which MQTT server takes the connections: `iip` (default), our own front door on mqtt-packet speaking
   * MQTT 3.1.1 and 5 (ADR 0005), or `aedes` (MQTT 3.1.1 only; kept for one release as a fallback). Both
   * apply the same rules below.
   */
  readonly server?: 'aedes' | 'iip';
  /**
   * Several front doors (platform processes) on one NATS: persistent sessions, and session take-over, span
   * them (@iip/bus connectNatsSessionStore; ADR 0008). `iip` server only.
   */
  readonly sharedSessions?: SharedSessions;
  /**
   * The `iip` server's limits (queues, write buffers, the slow-consumer grace period, packet size, timeouts…;
   * mqtt-limits.ts). aedes keeps its own, which these do not change: a client that does not drain its socket
   * within 60 s is disconnected (drainTimeout), 42 packets may wait for a CONNECT's authentication (queueLimit),
   * and a session's QoS 1 messages not yet acknowledged (online or offline) are kept in memory without a limit.
   */
  readonly limits?: MqttLimits;
  /**
   * Called per QoS 1 PUBLISH acknowledged, with the milliseconds from the PUBLISH being read to its PUBACK being
   * written (`iip`), or to the acknowledgement being handed to aedes (`aedes`, which writes it right after).
   */
  readonly onPuback?: (latencyMs: number) => void;
  /**
   * Called when a device's connection is accepted (the platform loads its telemetry series into the historian's
   * cache then, ahead of its first message). Must not throw; nothing waits for it.
   */
  readonly onDeviceConnected?: (tenant: string, device: string) => void;
}

export interface MqttAccessStats {
  readonly connectedDevices: number;
  readonly authFailures: number;
  readonly aclDenials: number;
  /** CONNECTs refused because the client id belongs to another device (CONNACK 0x02). */
  readonly clientIdRefusals: number;
  /** Connections closed for breaking MQTT 3.1.1 (ill-formed UTF-8, will QoS 3, unsupported level…). */
  readonly protocolViolations: number;
  /** Telemetry that was valid but could not be committed: not acknowledged (QoS 1: the connection was closed). */
  readonly notCommitted: number;
  /** PUBLISHes of authenticated clients handed to the device rules (any QoS, accepted or not). */
  readonly publishesReceived: number;
  /** The front door's own counters (sessions, queued/expired/too-large messages dropped); absent under aedes. */
  readonly frontDoor?: FrontDoorStats;
}

const BAD_CREDENTIALS = 4; // CONNACK return code 4: bad user name or password (MQTT 3.1.1 §3.2.2.3)
const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;

function authError(message: string, returnCode: number): AuthenticateError {
  const e = new Error(message) as AuthenticateError;
  (e as { returnCode: number }).returnCode = returnCode;
  return e;
}

/** The outcome of a publish the front door must refuse outright: outside the device's topics. */
const ACL_CLOSE: PublishOutcome = { accepted: false, reason: Reason.NOT_AUTHORIZED, message: 'IIP_ERR_ACL_DENIED', closeV4: true };

export class MqttAccess {
  private broker: Aedes | undefined;
  private door: MqttFrontDoor | undefined;
  private server: Server | undefined;
  private readonly identities = new WeakMap<Client, DeviceIdentity>();
  /** Payloads that were rejected: they must not be forwarded to any subscriber either. */
  private readonly rejected = new WeakSet<Buffer>();
  /** The client id a CONNECT carried and what the id rule made of it, until authentication decides. */
  private readonly clientIds = new WeakMap<Client, { sent: string; decision: ClientIdDecision }>();
  private authFailures = 0;
  private aclDenials = 0;
  private clientIdRefusals = 0;
  private protocolViolations = 0;
  private notCommitted = 0;
  private publishesReceived = 0;
  /** Under aedes, the answers to one client's PUBLISHes, chained so that its PUBACKs keep their order. */
  private readonly publishChains = new WeakMap<Client, Promise<void>>();
  private boundPort = 0;

  constructor(private readonly opts: MqttAccessOptions) {}

  get port(): number {
    return this.boundPort;
  }

  async listen(): Promise<number> {
    if (this.opts.server !== 'aedes') return this.listenFrontDoor();
    if (this.opts.sharedSessions) {
      throw new IipError('IIP_ERR_VALIDATION', 'sessions shared by several front doors need the iip MQTT server, not aedes (unset IIP_MQTT_SERVER)', { server: 'aedes' });
    }
    const broker = await Aedes.createBroker({
      // Session ids are scoped to the device (mqtt-client-id.ts), so they outgrow MQTT 3.1's 23 characters.
      maxClientsIdLength: 65535,
      preConnect: (client, packet, cb) => this.preConnect(client, packet, cb),
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorizeSubscribe(client, sub, cb),
      authorizeForward: (client, packet) => {
        if (Buffer.isBuffer(packet.payload) && this.rejected.has(packet.payload)) return null;
        // Whatever a session holds (restored subscriptions, queued messages), only the device's own subtree
        // ever reaches it.
        const id = this.identities.get(client);
        return id && packet.topic.startsWith(id.prefix) ? packet : null;
      },
    });
    this.broker = broker;
    broker.on('clientReady', (client) => {
      const id = this.identities.get(client);
      if (id) this.connected(id.tenant, id.device);
    });
    broker.on('clientDisconnect', (client) => {
      const id = this.identities.get(client);
      if (id) this.opts.gateways?.onDisconnected(id.tenant, id.device);
    });
    const server = createServer((socket: Socket) => {
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      const conn = guardConnection(socket, {}, (v) => {
        this.protocolViolations++;
        this.opts.log?.('warn', 'MQTT connection closed: protocol violation', { remote, reason: v.reason, ...(v.connack === undefined ? {} : { connack: v.connack }) });
      });
      broker.handle(conn);
    });
    this.server = server;
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(
            new IipError(
              'IIP_ERR_PORT_IN_USE',
              `MQTT port ${this.opts.port} is already in use / MQTT 端口 ${this.opts.port} 已被占用 — choose another with --mqtt-port <n> or IIP_MQTT_PORT=<n>`,
              { port: this.opts.port, flag: '--mqtt-port', env: 'IIP_MQTT_PORT' },
            ),
          );
        } else reject(err);
      });
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => resolve());
    });
    try {
      await listening;
    } catch (e) {
      await this.close(); // the broker's heartbeat timer would otherwise keep the process alive
      throw e;
    }
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    return this.boundPort;
  }

  /** The front door of ADR 0005 in place of aedes, with the same rules (frame guard, client ids, ACL, errors). */
  private async listenFrontDoor(): Promise<number> {
    const door = new MqttFrontDoor({
      policy: this.policy(),
      host: this.opts.host ?? '0.0.0.0',
      port: this.opts.port,
      ...(this.opts.log && { log: this.opts.log }),
      ...(this.opts.sharedSessions && { sharedSessions: this.opts.sharedSessions }),
      ...this.opts.limits,
      ...(this.opts.onPuback && { onPuback: this.opts.onPuback }),
      inspect: () => new MqttFrameGuard({ levels: { ...MQTT_311_LEVELS, MQTT: [4, 5] } }),
      onViolation: (v, remote) => {
        this.protocolViolations++;
        this.opts.log?.('warn', 'MQTT connection closed: protocol violation', { remote, reason: v.reason, ...(v.connack === undefined ? {} : { connack: v.connack }) });
      },
    });
    try {
      this.boundPort = await door.listen();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new IipError('IIP_ERR_PORT_IN_USE', `MQTT port ${this.opts.port} is already in use / MQTT 端口 ${this.opts.port} 已被占用 — choose another with --mqtt-port <n> or IIP_MQTT_PORT=<n>`, { port: this.opts.port, flag: '--mqtt-port', env: 'IIP_MQTT_PORT' });
      }
      throw err;
    }
    this.door = door;
    return this.boundPort;
  }

  /** The device rules as the front door asks for them. */
  private policy(): FrontDoorPolicy {
    return {
      authenticate: (username, password, clientId) => this.authenticateDevice(username, password, clientId),
      publish: (who, topic, payload, qos) => {
        this.publishesReceived++;
        return this.decide(this.identityOf(who), topic, payload, qos);
      },
      mayPublishWill: (who, topic) => topic.startsWith(this.identityOf(who).prefix),
      maySubscribe: (who, filter) => this.maySubscribe(this.identityOf(who), filter),
      connected: (who) => this.connected(who.tenant, who.device),
      disconnected: (who) => this.opts.gateways?.onDisconnected(who.tenant, who.device),
    };
  }

  private connected(tenant: string, device: string): void {
    this.opts.onDeviceConnected?.(tenant, device);
    this.opts.gateways?.onConnected(tenant, device);
  }

  private identityOf(who: { tenant: string; device: string }): DeviceIdentity {
    return { tenant: who.tenant, device: who.device, prefix: `iip/${who.tenant}/${who.device}/` };
  }

  /** Credentials, then the client id rule (mqtt-client-id.ts); counted and logged as aedes' hooks do. */
  private authenticateDevice(username: string | undefined, password: Buffer | undefined, clientId: string): AuthResult | Promise<AuthResult> {
    const who = username ? parseDeviceUsername(username, this.opts.defaultTenant) : undefined;
    const found = who ? this.opts.directory.lookup(who.tenant, who.device) : undefined;
    // A device not in the directory's cache is looked up in the registry first (a promise).
    if (found instanceof Promise) return found.then((entry) => this.checkDevice(who, entry, username, password, clientId));
    return this.checkDevice(who, found, username, password, clientId);
  }

  private checkDevice(
    who: { tenant: string; device: string } | undefined,
    entry: DeviceEntry | undefined,
    username: string | undefined,
    password: Buffer | undefined,
    clientId: string,
  ): AuthResult {
    if (!who || !entry || !password || !entry.verifySecret(password.toString('utf8'))) {
      this.authFailures++;
      this.opts.log?.('warn', 'MQTT authentication failed', { username: username ?? null, clientId, reason: !entry ? 'unknown device' : 'bad secret' });
      return { refused: 'credentials', message: 'bad device credentials' };
    }
    if (entry.suspended !== undefined) {
      this.opts.log?.('warn', 'MQTT CONNECT refused: the tenant is suspended', { username: username ?? null, clientId, tenant: who.tenant, reason: entry.suspended });
      return { refused: 'not-authorized', message: `IIP_ERR_TENANT_SUSPENDED: tenant "${who.tenant}" is suspended (${entry.suspended})` };
    }
    const decision = clientIdAllowed(who, clientId);
    if (!decision.ok) {
      this.clientIdRefusals++;
      this.opts.log?.('warn', 'MQTT client id refused', { username, clientId, reason: decision.reason });
      return { refused: 'client-id', message: decision.reason };
    }
    return { identity: who, sessionId: decision.sessionId };
  }

  /** Publishes from the platform into a device's subtree (config, commands); QoS 1 waits for the broker. */
  publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void> {
    if (this.door) {
      this.door.publish({ topic: `iip/${tenant}/${device}/${subtopic}`, payload: Buffer.from(payload), qos: opts.qos, retain: opts.retain });
      return Promise.resolve();
    }
    const broker = this.broker;
    if (!broker) return Promise.reject(new Error('the MQTT broker is not running'));
    return new Promise((resolve, reject) => {
      broker.publish(
        { cmd: 'publish', topic: `iip/${tenant}/${device}/${subtopic}`, payload: Buffer.from(payload), qos: opts.qos, retain: opts.retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /**
   * Ends the MQTT connections of a tenant's devices (a suspended tenant): they are refused when they come back.
   * Our own front door only (aedes: they are refused per message instead). Returns how many were ended.
   */
  disconnectTenant(tenant: string): number {
    const n = this.door?.disconnectTenant(tenant) ?? 0;
    if (n > 0) this.opts.log?.('info', 'MQTT connections of a suspended tenant ended', { tenant, connections: n });
    return n;
  }

  /** Devices of `tenant` connected to this process now (our own front door; 0 under aedes). */
  connectedOf(tenant: string): number {
    return this.door?.connectedOf(tenant) ?? 0;
  }

  /** Bytes held for clients now: write buffers, slow connections, session queues (undefined under aedes). */
  backlog(): FrontDoorBacklog | undefined {
    return this.door?.backlog();
  }

  /** One MQTT session's queue and write-buffer figures, by its session key (e.g. `default/gw-1`); undefined under aedes. */
  sessionStats(clientId: string): FrontDoorSessionStats | undefined {
    return this.door?.sessionStats(clientId);
  }

  /** What waits in our own front door now (undefined under aedes, whose queues are its own). */
  queueDepths(): FrontDoorQueueDepths | undefined {
    return this.door?.queueDepths();
  }

  stats(): MqttAccessStats {
    return {
      connectedDevices: this.door?.stats().connections ?? this.broker?.connectedClients ?? 0,
      authFailures: this.authFailures,
      aclDenials: this.aclDenials,
      clientIdRefusals: this.clientIdRefusals,
      protocolViolations: this.protocolViolations,
      notCommitted: this.notCommitted,
      publishesReceived: this.publishesReceived,
      ...(this.door && { frontDoor: this.door.stats() }),
    };
  }

  async close(): Promise<void> {
    const door = this.door;
    this.door = undefined;
    if (door) await door.close();
    const broker = this.broker;
    const server = this.server;
    this.broker = undefined;
    this.server = undefined;
    if (server) {
      server.close();
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }

  /**
   * Runs before aedes takes the client id as its session key: an id the rule accepts is replaced by its
   * scoped session id here, so sessions, takeover and the will are keyed by it. Credentials are checked
   * next, in authenticate, which also refuses an id that belongs to another device.
   */
  private preConnect(client: Client, packet: ConnectPacket, cb: (error: Error | null, success: boolean) => void): void {
    const who = packet.username ? parseDeviceUsername(packet.username, this.opts.defaultTenant) : undefined;
    if (who) {
      const sent = packet.clientId;
      const decision = clientIdAllowed(who, sent);
      this.clientIds.set(client, { sent, decision });
      if (decision.ok) packet.clientId = decision.sessionId;
    }
    cb(null, true);
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const who = username ? parseDeviceUsername(username, this.opts.defaultTenant) : undefined;
    const found = who ? this.opts.directory.lookup(who.tenant, who.device) : undefined;
    if (found instanceof Promise) {
      found.then(
        (entry) => this.authenticateAedes(client, who, entry, username, password, done),
        (e: unknown) => {
          this.opts.log?.('warn', 'MQTT authentication failed unexpectedly', { username: username ?? null, err: String(e) });
          done(authError('authentication could not be completed', NOT_AUTHORIZED), false);
        },
      );
      return;
    }
    this.authenticateAedes(client, who, found, username, password, done);
  }

  private authenticateAedes(
    client: Client,
    who: { tenant: string; device: string } | undefined,
    entry: DeviceEntry | undefined,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    if (!who || !entry || !password || !entry.verifySecret(password.toString('utf8'))) {
      this.authFailures++;
      this.opts.log?.('warn', 'MQTT authentication failed', { username: username ?? null, clientId: client.id, reason: !entry ? 'unknown device' : 'bad secret' });
      done(authError('bad device credentials', BAD_CREDENTIALS), false);
      return;
    }
    const claimed = this.clientIds.get(client);
    if (!claimed?.decision.ok) {
      this.clientIdRefusals++;
      const reason = claimed && !claimed.decision.ok ? claimed.decision.reason : 'no client id decision';
      this.opts.log?.('warn', 'MQTT client id refused', { username, clientId: claimed?.sent ?? client.id, reason });
      done(authError(reason, IDENTIFIER_REJECTED), false);
      return;
    }
    this.identities.set(client, { ...who, prefix: `iip/${who.tenant}/${who.device}/` });
    done(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (error?: Error | null) => void): void {
    if (!client) {
      cb(null); // broker-originated (e.g. a will): already checked when it was set
      return;
    }
    const id = this.identities.get(client);
    if (!id) {
      cb(new Error(`IIP_ERR_ACL_DENIED: ${packet.topic}`));
      return;
    }
    this.publishesReceived++;
    const onPuback = this.opts.onPuback;
    const arrivedAt = packet.qos === 1 && onPuback ? performance.now() : 0;
    const answer = (outcome: PublishOutcome): void => {
      if (outcome.accepted) {
        cb(null);
        if (arrivedAt !== 0) onPuback?.(performance.now() - arrivedAt);
        return;
      }
      // Refused payloads are not forwarded to any subscriber either (authorizeForward).
      if (Buffer.isBuffer(packet.payload)) this.rejected.add(packet.payload);
      if ('dropConnection' in outcome) cb(new IipError('IIP_ERR_TELEMETRY_NOT_COMMITTED', outcome.message));
      else if (outcome.closeV4) cb(new Error(`IIP_ERR_ACL_DENIED: ${packet.topic}`));
      else {
        cb(null);
        if (arrivedAt !== 0) onPuback?.(performance.now() - arrivedAt);
      }
    };
    const outcome = this.decide(id, packet.topic, packet.payload as Buffer, packet.qos);
    const before = this.publishChains.get(client);
    if (!(outcome instanceof Promise) && !before) {
      answer(outcome);
      return;
    }
    // aedes handles the packets of one read concurrently: answers are chained so PUBACKs keep arrival order.
    const settled = Promise.resolve(outcome).catch(
      (e: unknown): PublishOutcome => ({ accepted: false, reason: Reason.UNSPECIFIED, message: String(e), dropConnection: true }),
    );
    const chain = (before ?? Promise.resolve()).then(() => settled).then(answer);
    this.publishChains.set(client, chain);
    void chain.then(() => {
      if (this.publishChains.get(client) === chain) this.publishChains.delete(client);
    });
  }

  /**
   * What a device's PUBLISH means, for either server: telemetry admitted and committed before it is
   * acknowledged (a promise), gateway state and command results handed over, and every refusal reported on
   * the device's errors topic with its IIP_ERR_* code (and, under MQTT 5, in the PUBACK).
   */
  private decide(id: DeviceIdentity, topic: string, payload: Buffer, qos: number): PublishOutcome | Promise<PublishOutcome> {
    if (!topic.startsWith(id.prefix)) {
      this.aclDenials++;
      this.opts.log?.('warn', 'MQTT publish denied by topic ACL', { device: id.device, topic });
      this.sendError(id, new IipError('IIP_ERR_ACL_DENIED', `publishing to "${topic}" is not allowed for device "${id.device}"`, { topic }));
      return ACL_CLOSE;
    }
    const rest = topic.slice(id.prefix.length);
    if (rest === 'telemetry') return this.admit(id, id.device, payload, qos);
    if (rest === 'errors' || rest === 'rules' || rest.startsWith('commands/')) {
      // Platform-to-device topics: a device must not forge them.
      this.aclDenials++;
      return this.refuse(id, new IipError('IIP_ERR_ACL_DENIED', `topic "${topic}" is written by the platform only`, { topic }), Reason.NOT_AUTHORIZED);
    }
    const child = /^devices\/([^/]+)\/(telemetry|events)$/.exec(rest);
    if (child) {
      const device = child[1] as string;
      if (this.opts.gateways?.ownerOf(id.tenant, device) !== id.device) {
        this.aclDenials++;
        return this.refuse(id, new IipError('IIP_ERR_ACL_DENIED', `device "${device}" is not behind gateway "${id.device}"`, { topic, device }), Reason.NOT_AUTHORIZED);
      }
      if (child[2] !== 'telemetry') return this.admitEvents(id, device, payload, qos);
      return this.admit(id, device, payload, qos);
    }
    if (rest === 'state' || rest.startsWith('command-results/')) {
      const gateways = this.opts.gateways;
      if (!gateways) return { accepted: true, forward: true };
      // Acknowledged once stored (state) or handed over / audited (result); a bad document is refused with its
      // code, and a storage failure gets no PUBACK (the gateway sends it again), as for telemetry.
      const handled = rest === 'state' ? gateways.onState(id.tenant, id.device, payload) : gateways.onCommandResult(rest.slice('command-results/'.length), payload, id.tenant, id.device);
      return handled.then(
        (): PublishOutcome => ({ accepted: true, forward: true }),
        (e: unknown): PublishOutcome => {
          if (e instanceof IipError && e.status < 500) return this.refuse(id, e, Reason.PAYLOAD_FORMAT_INVALID);
          this.opts.log?.('warn', 'gateway message not stored; not acknowledging it', { device: id.device, topic, err: String(e) });
          return { accepted: false, reason: Reason.UNSPECIFIED, message: `${e instanceof IipError ? e.code : 'IIP_ERR_INTERNAL'}: ${topic} could not be stored; not acknowledged`, dropConnection: true };
        },
      );
    }
    if (rest === 'events') return this.admitEvents(id, id.device, payload, qos);
    return this.refuse(id, new IipError('IIP_ERR_TOPIC_UNKNOWN', `topic "${topic}" is not handled; publish telemetry to ${id.prefix}telemetry`, { topic }), Reason.NOT_AUTHORIZED);
  }

  private refuse(id: DeviceIdentity, e: unknown, reason: number, childDevice?: string): PublishOutcome {
    this.sendError(id, e, childDevice);
    const code = e instanceof IipError ? e.code : 'IIP_ERR_INTERNAL';
    return { accepted: false, reason, message: `${code}: ${e instanceof Error ? e.message : String(e)}` };
  }

  /**
   * Telemetry of `device` (the publisher itself, or a gateway's child): settles once the admission has
   * committed it (accepted) or refused it (the device's fault, a 4xx code: answered as a refusal). Anything
   * else — a failed commit, a closing platform — is not acknowledged: under QoS 1 the connection is closed so
   * the client sends the message again; under QoS 0 the reading is lost, counted, logged and reported on the
   * errors topic.
   */
  private admit(id: DeviceIdentity, device: string, payload: Buffer, qos: number): Promise<PublishOutcome> {
    const childDevice = device === id.device ? undefined : device;
    return this.opts.admission.admitRaw(id.tenant, device, payload).then(
      (): PublishOutcome => ({ accepted: true, forward: true }),
      (e: unknown): PublishOutcome => {
        // A quota refusal is MQTT 5's "Quota exceeded" (0x97); any other refusal is the payload's fault.
        if (e instanceof IipError && e.status < 500) return this.refuse(id, e, e.code.startsWith('IIP_ERR_QUOTA_') ? Reason.QUOTA_EXCEEDED : Reason.PAYLOAD_FORMAT_INVALID, childDevice);
        this.notCommitted++;
        this.opts.log?.('warn', 'MQTT telemetry not committed; not acknowledging it', { device: id.device, ...(childDevice && { child: childDevice }), qos, err: String(e) });
        const message = `IIP_ERR_TELEMETRY_NOT_COMMITTED: telemetry of ${device} could not be committed; not acknowledged`;
        if (qos === 0) {
          this.sendError(id, new IipError('IIP_ERR_TELEMETRY_NOT_COMMITTED', `telemetry of ${device} could not be committed (QoS 0: it is lost): ${e instanceof Error ? e.message : String(e)}`, {}), childDevice);
          return { accepted: false, reason: Reason.UNSPECIFIED, message };
        }
        return { accepted: false, reason: Reason.UNSPECIFIED, message, dropConnection: true };
      },
    );
  }

  /**
   * Events of `device` (the publisher, or a gateway's child): acknowledged once stored, refused with their code on
   * the errors topic (and in an MQTT 5 PUBACK), and — when they could not be stored — not acknowledged (QoS 1:
   * the connection closes so the client sends them again; QoS 0: lost, counted, logged and reported).
   */
  private admitEvents(id: DeviceIdentity, device: string, payload: Buffer, qos: number): PublishOutcome | Promise<PublishOutcome> {
    const childDevice = device === id.device ? undefined : device;
    const events = this.opts.events;
    if (!events) {
      return this.refuse(id, new IipError('IIP_ERR_TOPIC_UNKNOWN', 'this server does not store device events', { topic: `${id.prefix}events` }), Reason.NOT_AUTHORIZED, childDevice);
    }
    return events.admitRaw(id.tenant, device, payload, childDevice ? id.device : undefined).then(
      (): PublishOutcome => ({ accepted: true, forward: true }),
      (e: unknown): PublishOutcome => {
        if (e instanceof IipError && e.status < 500) return this.refuse(id, e, Reason.PAYLOAD_FORMAT_INVALID, childDevice);
        this.notCommitted++;
        this.opts.log?.('warn', 'MQTT events not stored; not acknowledging them', { device: id.device, ...(childDevice && { child: childDevice }), qos, err: String(e) });
        const message = `IIP_ERR_TELEMETRY_NOT_COMMITTED: events of ${device} could not be stored; not acknowledged`;
        if (qos === 0) {
          this.sendError(id, new IipError('IIP_ERR_TELEMETRY_NOT_COMMITTED', `events of ${device} could not be stored (QoS 0: they are lost): ${e instanceof Error ? e.message : String(e)}`, {}), childDevice);
          return { accepted: false, reason: Reason.UNSPECIFIED, message };
        }
        return { accepted: false, reason: Reason.UNSPECIFIED, message, dropConnection: true };
      },
    );
  }

  private maySubscribe(id: DeviceIdentity, filter: string): boolean {
    if (filter.startsWith(id.prefix) || filter === id.prefix.slice(0, -1)) return true;
    this.aclDenials++;
    this.opts.log?.('warn', 'MQTT subscribe denied by topic ACL', { device: id.device, topic: filter });
    return false;
  }

  private authorizeSubscribe(client: Client, sub: Subscription, cb: (error: Error | null, subscription?: Subscription | null) => void): void {
    const id = this.identities.get(client);
    // A refused filter gets SUBACK failure (0x80); the connection stays up.
    cb(null, id && this.maySubscribe(id, sub.topic) ? sub : null);
  }

  private sendError(id: DeviceIdentity, e: unknown, childDevice?: string): void {
    const base =
      e instanceof IipError
        ? e.toJSON()
        : { code: 'IIP_ERR_INTERNAL', message: 'internal error while admitting the message', details: {} };
    // Errors about a gateway's child device name that device, so the gateway can tell which one is wrong.
    const body = childDevice ? { ...base, details: { ...base.details, device: childDevice } } : base;
    if (!(e instanceof IipError)) this.opts.log?.('warn', 'unexpected admission error', { err: String(e) });
    // Through the broker, not to the publishing connection alone: every connection of this device that
    // subscribed to its errors topic (only its own may) sees why a message was refused.
    const topic = `${id.prefix}errors`;
    const bytes = Buffer.from(JSON.stringify(body));
    if (this.door) this.door.publish({ topic, payload: bytes, qos: 0, retain: false });
    else this.broker?.publish({ cmd: 'publish', topic, payload: bytes, qos: 0, retain: false, dup: false }, () => {});
  }
}

export { BAD_CREDENTIALS, IDENTIFIER_REJECTED, NOT_AUTHORIZED };
