/**
 * iip's own MQTT server (ADR 0005): MQTT 3.1.1 and 5 on mqtt-packet, the MQTT.js project's codec. It owns the
 * protocol state — sessions (clean start, session expiry, persistent 3.1.1 sessions), QoS 0/1 out and 0/1/2
 * in, retained messages, wills, keep-alive, topic aliases, receive maximum, message expiry, shared
 * subscriptions — and asks a `FrontDoorPolicy` everything about who may do what and what a message means.
 * The policy may answer later (a promise: the platform answers once the reading is committed); a QoS 1
 * PUBACK is sent only then, the PUBACKs of one connection leave in the order their PUBLISHes came (MQTT
 * §4.6), and an MQTT 5 PUBACK carries a refusal's reason code and `IIP_ERR_*` code. While too many answers
 * of one connection are outstanding, reading from it pauses (back-pressure on the client, QoS 0 included).
 *
 * Bounds (docs/reference/mqtt.md "Limits"; issue 20): sessions per server; per session, messages queued and in
 * flight, by count and by bytes (the oldest queued dropped and counted); the outbound inflight window (the
 * client's receive maximum, at most ours); per connection, the bytes waiting in its socket's write buffer (past
 * them QoS 0 is dropped and counted, QoS 1 waits in the session queue, and a client that stays past them for a
 * grace period is disconnected); inbound, PUBLISHes and bytes awaiting an answer (reading pauses), the receive
 * maximum (MQTT 5: exceeding it ends the connection, 0x93), the packet size (checked on the fixed header, before
 * the body is buffered), the time to CONNECT and the time a begun packet may take to complete (a slowloris
 * client is cut); inbound QoS 2 packet ids and topic aliases.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type ISubscribePacket, type Packet } from 'mqtt-packet';
import { decodeCommon, FrameReader } from './inbound-frames.js';
import { matches, sharedSubscription, validFilter } from './topic-filter.js';
import { SubscriptionIndex } from './subscription-index.js';

/** MQTT 5 reason codes used here (MQTT 5 §2.4). */
export const Reason = {
  SUCCESS: 0x00,
  GRANTED_QOS_1: 0x01,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  UNSPECIFIED: 0x80,
  MALFORMED: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_ID_NOT_VALID: 0x85,
  BAD_USER_NAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_ID_IN_USE: 0x91,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  QOS_NOT_SUPPORTED: 0x9b,
} as const;

/** How long after the CONNACK a resumed session's messages start to flow. */
const RESUME_DELAY_MS = 10;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
const V4_CONNACK = { UNACCEPTABLE_PROTOCOL: 1, IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_USER_NAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

export interface FrontDoorIdentity {
  readonly tenant: string;
  readonly device: string;
}

/** What mqtt-packet's parser is told of a connection: its protocol level (set by the CONNECT it reads). */
interface ParserSettings {
  readonly protocolVersion?: number;
  readonly bridgeMode?: boolean;
}

/** A broken rule found in the inbound bytes; `connack` is the MQTT 3.1.1 CONNACK return code to refuse with, if any. */
export interface InboundViolation {
  readonly reason: string;
  readonly connack?: number;
}

/** Checks a connection's inbound bytes as they come: the bytes that may be read, or the first violation. */
export interface InboundInspector {
  feed(chunk: Buffer): { forward: Buffer[]; violation?: InboundViolation };
}

/** What the policy says of an inbound PUBLISH. */
export type PublishOutcome =
  | { readonly accepted: true; readonly forward: boolean }
  /**
   * Refused: `reason` (an MQTT 5 reason code ≥ 0x80) and `message` go into an MQTT 5 PUBACK/PUBREC; an MQTT 3.1.1
   * client, which has no negative acknowledgement, is disconnected when `closeV4` is set (as aedes does for a
   * publish outside the device's topics) and acknowledged otherwise (the refusal reaches it on its errors topic).
   */
  | { readonly accepted: false; readonly reason: number; readonly message: string; readonly closeV4?: boolean }
  /** Not acknowledged at all: the connection is closed and the client sends the message again. */
  | { readonly accepted: false; readonly reason: number; readonly message: string; readonly dropConnection: true };

/** `sessionId`: the key the session is kept under (default: the client id as sent). */
export type AuthResult = { readonly identity: FrontDoorIdentity; readonly sessionId?: string } | { readonly refused: 'credentials' | 'not-authorized' | 'client-id' | 'unavailable'; readonly message: string };

export interface FrontDoorPolicy {
  /** May answer later (a promise); packets that follow the CONNECT wait for the answer, in order. */
  authenticate(username: string | undefined, password: Buffer | undefined, clientId: string): AuthResult | Promise<AuthResult>;
  /**
   * An inbound PUBLISH (topic aliases resolved). A promise defers the message's acknowledgement (and its
   * forwarding to subscribers) until it settles; a rejected promise is taken as "not acknowledged": the
   * connection is closed and the client sends the message again.
   */
  publish(who: FrontDoorIdentity, topic: string, payload: Buffer, qos: 0 | 1 | 2): PublishOutcome | Promise<PublishOutcome>;
  /** Whether `who` may leave a will on `topic` (checked at CONNECT). */
  mayPublishWill(who: FrontDoorIdentity, topic: string): boolean;
  maySubscribe(who: FrontDoorIdentity, filter: string): boolean;
  connected?(who: FrontDoorIdentity): void;
  disconnected?(who: FrontDoorIdentity): void;
}

export interface FrontDoorOptions {
  readonly policy: FrontDoorPolicy;
  readonly host?: string;
  readonly port: number;
  /** Default 10,000. */
  readonly maxSessions?: number;
  /** Messages queued per session for an offline or busy client; default 1,000 (oldest dropped, counted). */
  readonly maxQueuedPerSession?: number;
  /**
   * Payload and topic bytes a session may hold in its queue and in flight; default 1 MiB. A message that does not
   * fit makes room by dropping the oldest queued ones (counted); one that cannot fit at all is dropped (counted).
   */
  readonly maxQueuedBytesPerSession?: number;
  /** QoS 1 messages in flight to one client (sent, not yet acknowledged), at most its receive maximum; default 100. */
  readonly maxInflightPerSession?: number;
  /**
   * Bytes waiting in a connection's socket write buffer (not yet taken by the kernel) past which nothing more is
   * written to it: QoS 0 messages to it are dropped and counted, QoS 1 wait in its session queue, and reading
   * from it pauses until it drains; default 128 KiB.
   */
  readonly maxWriteBufferBytes?: number;
  /** How long a connection's write buffer may stay past `maxWriteBufferBytes` before it is disconnected; default 30 s. */
  readonly slowConsumerGraceMs?: number;
  /** How long a new connection may take to send its CONNECT; default 10 s. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a packet may take to arrive once its first byte has (time while the server itself has paused reading
   * does not count); default 60 s. Keep-alive bounds idle connections; this bounds a packet trickling in.
   */
  readonly packetTimeoutMs?: number;
  /** Payload bytes of inbound PUBLISHes awaiting an answer past which reading from a connection pauses; default 1 MiB. */
  readonly maxPendingBytesPerConnection?: number;
  /**
   * Inbound PUBLISHes awaiting an answer over all connections, and their payload bytes, past which the front door
   * stops reading from every connection that adds one (resumed together at half); default 20,000 and 64 MiB. The
   * per-connection bounds keep one device from growing memory; this keeps a whole fleet sending faster than
   * storage commits from growing it (what waits stays in the clients and the sockets' kernel buffers).
   */
  readonly maxPendingTotal?: number;
  readonly maxPendingBytesTotal?: number;
  /**
   * Retained messages one device's clients may keep set (topics), and their payload and topic bytes; default 32 and
   * 1 MiB. A retained PUBLISH to a new topic past either is delivered but not retained (counted). The platform's
   * own retained messages (a gateway's configuration) are not counted against the device.
   */
  readonly maxRetainedPerDevice?: number;
  readonly maxRetainedBytesPerDevice?: number;
  /** Our receive maximum (QoS 1/2 in flight from a client); default 1,000. */
  readonly receiveMaximum?: number;
  /** Longest session a 3.1.1 client with clean session off, or an MQTT 5 client, may keep; default 7 days. */
  readonly maxSessionExpirySeconds?: number;
  /** Largest packet accepted; default 1 MiB. */
  readonly maximumPacketSize?: number;
  readonly topicAliasMaximum?: number;
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  readonly now?: () => number;
  /**
   * Checks of the inbound bytes before anything is parsed, one checker per connection (MqttFrameGuard of
   * mqtt-frame-guard.ts): what it forwards is read; a violation closes the connection, after the CONNACK refusal
   * it names (if any), and is told to `onViolation`.
   */
  readonly inspect?: () => InboundInspector;
  readonly onViolation?: (violation: InboundViolation, remote: string) => void;
  /**
   * Inbound PUBLISHes of one connection whose policy answer is outstanding before reading from it pauses;
   * default: the receive maximum. QoS 0 messages count too, so a flood of them cannot grow memory.
   */
  readonly maxPendingPerConnection?: number;
  /**
   * Sessions shared with other front doors (several platform processes; ADR 0008). Without it sessions live
   * in this process only (the embedded platform).
   */
  readonly sharedSessions?: SharedSessions;
  /** Bytes of queued and in-flight messages a shared session's saved state may hold (default 512 KiB); the oldest beyond are left out of it, counted. */
  readonly maxSharedSessionBytes?: number;
  /**
   * Called as each QoS 1 PUBACK is written, with the milliseconds since its PUBLISH was read (the platform's
   * load metrics). Without it no clock is read per message.
   */
  readonly onPuback?: (latencyMs: number) => void;
}

/** What waits in the front door now (load metrics); counted when asked, not kept up per message. */
export interface FrontDoorQueueDepths {
  /** Inbound PUBLISHes read and not yet answered, over all connections. */
  readonly inboundPending: number;
  /** Connections whose reading is paused because too many of their PUBLISHes (or of all) wait for an answer. */
  readonly pausedConnections: number;
  /** Outbound messages waiting in session queues (offline clients, or a full inflight window). */
  readonly outboundQueued: number;
  /** Outbound QoS 1 messages sent and not yet acknowledged by their clients. */
  readonly outboundInflight: number;
}

/** A message as a saved session holds it (payload in base64). */
export interface SessionMessage {
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly expiresAt?: number;
}

/** What one front door hands another of a session: enough to resume it there (MQTT §4.1). */
export interface SessionSnapshot {
  readonly clientId: string;
  readonly identity: FrontDoorIdentity;
  readonly expirySeconds: number;
  /** When its last connection ended (Unix ms); 0 while a connection holds it. */
  readonly disconnectedAt: number;
  readonly subs: ReadonlyArray<{ readonly key: string; readonly filter: string; readonly qos: 0 | 1; readonly noLocal: boolean; readonly retainAsPublished: boolean; readonly group?: string }>;
  /** Sent and not acknowledged, with their packet ids: sent again with DUP on resumption. */
  readonly inflight: ReadonlyArray<{ readonly id: number; readonly msg: SessionMessage }>;
  readonly queue: readonly SessionMessage[];
}

/**
 * The cross-process part of sessions (implemented over NATS by @iip/bus `connectNatsSessionStore`). A front
 * door takes a session before it answers a CONNECT — ending the connection another front door holds for the
 * same client id, and resuming what that one kept — and saves a persistent session's state while it changes.
 */
export interface SharedSessions {
  /** Takes the session from whichever front door holds it; resolves with its last state, if any. Rejects when the store is unreachable. */
  take(clientId: string): Promise<SessionSnapshot | undefined>;
  /** Saves a session this front door holds; `false` when another front door has taken it meanwhile. */
  save(clientId: string, state: SessionSnapshot): Promise<boolean>;
  /** The session ended for good (clean, expired, evicted). */
  drop(clientId: string): Promise<void>;
  /** Another front door takes a session: end the local connection (session taken over) and hand over its state. */
  onRelease(handler: (clientId: string) => SessionSnapshot | undefined): void;
}

export interface OutboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** Unix ms after which the message is not delivered (MQTT 5 message expiry; enforced for 3.1.1 clients too). */
  readonly expiresAt?: number;
}

export interface FrontDoorStats {
  readonly connections: number;
  readonly sessions: number;
  readonly queuedDropped: number;
  /** Offline sessions ended early to make room for a new one (with what they had queued). */
  readonly sessionsEvicted: number;
  /** Messages not sent because they exceed the client's maximum packet size. */
  readonly tooLargeDropped: number;
  readonly expiredDropped: number;
  readonly protocolErrors: number;
  /** Sessions taken from, and handed to, other front doors (shared sessions only). */
  readonly sessionsTakenOver?: number;
  readonly sessionsHandedOver?: number;
  /** Messages left out of a shared session's saved state (its byte budget was full); the local session still has them. */
  readonly sharedStateLeftOut?: number;
  /** Saves of shared session state that the store took. */
  readonly sharedSaves?: number;
  /** QoS 0 messages not sent because their client's write buffer was past its cap (a slow consumer). */
  readonly qos0Dropped: number;
  /** Connections ended because their write buffer stayed past its cap for longer than the grace period. */
  readonly slowConsumerDisconnects: number;
  /** MQTT 5 connections ended for sending more unacknowledged QoS 1 PUBLISHes than our receive maximum (0x93). */
  readonly receiveMaximumExceeded: number;
  /** Connections ended for a packet larger than our maximum packet size (MQTT 5: 0x95), refused from its header. */
  readonly packetsTooLarge: number;
  /** Connections ended because a packet, once begun, did not arrive whole within the packet timeout. */
  readonly packetTimeouts: number;
  /** Retained PUBLISHes of devices not retained because the device had its limit of retained messages set. */
  readonly retainedRefused: number;
  /** Times reading from a connection paused because PUBLISHes awaiting an answer over all connections reached maxPendingTotal (or its bytes). */
  readonly fleetBudgetPauses: number;
}

/** What the front door holds for clients now (gauges; computed when asked, O(connections + sessions)). */
export interface FrontDoorBacklog {
  /** Bytes waiting in the socket write buffers of all connections. */
  readonly writeBufferedBytes: number;
  /** Connections whose write buffer is past its cap now (the slow-consumer grace period runs for them). */
  readonly slowConnections: number;
  /** Payload and topic bytes held in session queues and in flight, over all sessions. */
  readonly sessionBytes: number;
}

/** One session's bounds as the front door counts them (for a test, or an operator looking at one client). */
export interface FrontDoorSessionStats {
  readonly connected: boolean;
  /** Bytes waiting in its connection's socket write buffer (0 when offline). */
  readonly writeBufferedBytes: number;
  readonly queuedMessages: number;
  readonly inflightMessages: number;
  /** Payload and topic bytes of its queued and in-flight messages. */
  readonly queuedBytes: number;
  readonly qos0Dropped: number;
  readonly queuedDropped: number;
}

/** Shared subscriptions (group and filter) matching a message, with their members, while it is routed. */
type SharedGroups = Map<string, Array<{ session: Session; sub: Sub }>>;

interface Sub {
  readonly filter: string;
  readonly qos: 0 | 1;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly group?: string;
}

interface Pending {
  readonly msg: OutboundMessage;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/** What a message costs a session's byte budget: its payload and topic (the rest is small and fixed). */
function sizeOf(p: Pending): number {
  return p.msg.payload.length + p.msg.topic.length;
}

/** A session's subscriptions (key: the filter as subscribed, "$share/…" included), mirrored into the door's index. */
class IndexedSubs extends Map<string, Sub> {
  private owner: Session | undefined;
  private index: SubscriptionIndex<Session> | undefined;

  bind(owner: Session, index: SubscriptionIndex<Session>): this {
    this.owner = owner;
    this.index = index;
    return this;
  }

  override set(key: string, sub: Sub): this {
    const old = super.get(key);
    if (this.owner && this.index) {
      if (old) this.index.remove(this.owner, key, old.filter);
      this.index.add(this.owner, key, sub.filter);
    }
    return super.set(key, sub);
  }

  override delete(key: string): boolean {
    const old = super.get(key);
    if (old && this.owner && this.index) this.index.remove(this.owner, key, old.filter);
    return super.delete(key);
  }

  override clear(): void {
    if (this.owner && this.index) this.index.removeOwner(this.owner);
    super.clear();
  }
}

class Session {
  readonly subs: IndexedSubs;
  /** Change only through enqueue/dequeue, and `inflight` through fly/land, so that `bytes` stays true. */
  readonly queue: Pending[] = [];
  readonly inflight = new Map<number, Pending>();
  readonly incomingQos2 = new Set<number>();
  connection: Connection | undefined;
  expirySeconds: number;
  disconnectedAt = 0;
  /** Payload and topic bytes of `queue`, and of `inflight`. */
  queueBytes = 0;
  inflightBytes = 0;
  qos0Dropped = 0;
  queuedDropped = 0;
  /** A drop was logged and the queue has not emptied since (one log line per episode, not per message). */
  dropLogged = false;
  private nextId = 1;

  constructor(
    readonly clientId: string,
    readonly identity: FrontDoorIdentity,
    expirySeconds: number,
    index: SubscriptionIndex<Session>,
  ) {
    this.expirySeconds = expirySeconds;
    this.subs = new IndexedSubs().bind(this, index);
  }

  packetId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextId;
      this.nextId = (this.nextId % 65535) + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new Error('no free packet id');
  }

  get bytes(): number {
    return this.queueBytes + this.inflightBytes;
  }

  enqueue(p: Pending): void {
    this.queue.push(p);
    this.queueBytes += sizeOf(p);
  }

  dequeue(): Pending | undefined {
    const p = this.queue.shift();
    if (p) this.queueBytes -= sizeOf(p);
    if (this.queue.length === 0) this.dropLogged = false;
    return p;
  }

  fly(id: number, p: Pending): void {
    const before = this.inflight.get(id);
    if (before) this.inflightBytes -= sizeOf(before);
    this.inflight.set(id, p);
    this.inflightBytes += sizeOf(p);
  }

  land(id: number): void {
    const p = this.inflight.get(id);
    if (!p) return;
    this.inflight.delete(id);
    this.inflightBytes -= sizeOf(p);
  }
}

/**
 * Whether `head` starts a CONNECT whose protocol name is MQTT (or MQIsdp) and whose level is not one we speak:
 * fixed header 0x10, remaining length (1–4 bytes), protocol name (length-prefixed), level.
 */
function unsupportedLevel(head: Buffer): boolean {
  if (head.length < 2 || head[0] !== 0x10) return false;
  let i = 1;
  while (i < 5 && i < head.length && ((head[i] as number) & 0x80) !== 0) i++;
  i++;
  if (head.length < i + 2) return false;
  const nameLength = head.readUInt16BE(i);
  const name = head.subarray(i + 2, i + 2 + nameLength).toString('latin1');
  const level = head[i + 2 + nameLength];
  return (name === 'MQTT' || name === 'MQIsdp') && level !== undefined && level !== 3 && level !== 4 && level !== 5;
}

function sameIdentity(a: FrontDoorIdentity, b: FrontDoorIdentity): boolean {
  return a.tenant === b.tenant && a.device === b.device;
}

export class MqttFrontDoor {
  private server: Server | undefined;
  private readonly sessions = new Map<string, Session>();
  /** Every held session's subscriptions by topic level, for routing (see subscription-index.ts). */
  private readonly subIndex = new SubscriptionIndex<Session>();
  readonly retained = new Map<string, OutboundMessage>();
  /** Retained topics set by a device's clients (key tenant/device), and who set each: the per-device bound. */
  private readonly retainedBy = new Map<string, { topics: Set<string>; bytes: number; logged: boolean }>();
  private readonly retainedOwner = new Map<string, string>();
  private readonly connections = new Set<Connection>();
  /**
   * Decodes the packets FrameReader does not (CONNECT, SUBSCRIBE, MQTT 5 properties…) for every connection: each is
   * given to it whole, so it is never left holding part of one connection's packet when another's comes.
   */
  private readonly parser = mqttPacket.parser();
  /** The connection whose packet the parser is decoding. */
  private parsing: Connection | undefined;
  private readonly sharedCursor = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly counters = {
    queuedDropped: 0,
    sessionsEvicted: 0,
    tooLargeDropped: 0,
    expiredDropped: 0,
    protocolErrors: 0,
    qos0Dropped: 0,
    slowConsumerDisconnects: 0,
    receiveMaximumExceeded: 0,
    packetsTooLarge: 0,
    packetTimeouts: 0,
    retainedRefused: 0,
    fleetBudgetPauses: 0,
  };
  private readonly sharedCounters = { sessionsTakenOver: 0, sessionsHandedOver: 0, sharedStateLeftOut: 0, sharedSaves: 0 };
  /** Shared sessions: what another front door handed over, by client id, until the CONNECT opens it here. */
  private readonly restoring = new Map<string, { snapshot: SessionSnapshot | undefined; arrived: OutboundMessage[]; dropped: number }>();
  /** Shared sessions whose state changed since they were last saved, and whether a save round runs. */
  private readonly dirty = new Set<Session>();
  private saving = false;
  private boundPort = 0;
  readonly now: () => number;
  readonly maxQueued: number;
  readonly receiveMaximum: number;
  readonly maxSessionExpiry: number;
  readonly maximumPacketSize: number;
  readonly topicAliasMaximum: number;
  readonly maxQueuedBytes: number;
  readonly maxInflight: number;
  readonly maxWriteBuffer: number;
  readonly slowConsumerGraceMs: number;
  readonly connectTimeoutMs: number;
  readonly packetTimeoutMs: number;
  readonly maxPendingBytes: number;
  readonly maxPendingTotal: number;
  readonly maxPendingBytesTotal: number;
  /** Inbound PUBLISHes awaiting an answer over all connections, and their payload bytes. */
  private pendingTotal = 0;
  private pendingBytesTotal = 0;
  /** Connections whose reading paused for the fleet-wide budget, resumed together once it is down to half. */
  private readonly budgetPaused = new Set<Connection>();
  readonly maxRetainedPerDevice: number;
  readonly maxRetainedBytesPerDevice: number;

  constructor(readonly opts: FrontDoorOptions) {
    this.parser.on('packet', (p: Packet) => this.parsing?.packetIn(p));
    this.parser.on('error', () => this.parsing?.parseError());
    this.now = opts.now ?? Date.now;
    this.maxQueued = opts.maxQueuedPerSession ?? 1000;
    this.maxQueuedBytes = opts.maxQueuedBytesPerSession ?? 1024 * 1024;
    this.maxInflight = Math.max(1, opts.maxInflightPerSession ?? 100);
    this.maxWriteBuffer = opts.maxWriteBufferBytes ?? 128 * 1024;
    this.slowConsumerGraceMs = opts.slowConsumerGraceMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.packetTimeoutMs = opts.packetTimeoutMs ?? 60_000;
    this.maxPendingBytes = opts.maxPendingBytesPerConnection ?? 1024 * 1024;
    this.maxPendingTotal = Math.max(1, opts.maxPendingTotal ?? 20_000);
    this.maxPendingBytesTotal = Math.max(1, opts.maxPendingBytesTotal ?? 64 * 1024 * 1024);
    this.maxRetainedPerDevice = opts.maxRetainedPerDevice ?? 32;
    this.maxRetainedBytesPerDevice = opts.maxRetainedBytesPerDevice ?? 1024 * 1024;
    this.receiveMaximum = opts.receiveMaximum ?? 1000;
    this.maxSessionExpiry = opts.maxSessionExpirySeconds ?? 7 * 24 * 3600;
    this.maximumPacketSize = opts.maximumPacketSize ?? 1024 * 1024;
    this.topicAliasMaximum = opts.topicAliasMaximum ?? 64;
    opts.sharedSessions?.onRelease((clientId) => this.release(clientId));
  }

  get port(): number {
    return this.boundPort;
  }

  /**
   * Decodes one whole packet of `c` with mqtt-packet, as a connection of `settings` (its protocol level); the packet or
   * the error goes to `c` before this returns. Returns the settings for the connection's next packets (a CONNECT
   * sets its level).
   */
  parseWhole(c: Connection, packet: Buffer, settings: ParserSettings): ParserSettings {
    const parser = this.parser as unknown as {
      settings: ParserSettings;
      error: unknown;
      _pos: number;
      _stateCounter: number;
      _list: { length: number };
      _resetState(): void;
    };
    // Every packet starts from a clean parser: one that failed mid-packet (another connection's malformed packet)
    // keeps its buffered bytes and read position otherwise, and would misread the next connection's packet.
    if (parser.error || parser._stateCounter !== 0 || parser._list.length > 0) parser._resetState();
    parser._pos = 0;
    parser.settings = settings;
    this.parsing = c;
    let next = settings;
    try {
      this.parser.parse(packet);
    } finally {
      this.parsing = undefined;
      if (parser.settings !== settings) next = { protocolVersion: parser.settings.protocolVersion, ...(parser.settings.bridgeMode && { bridgeMode: true }) };
      // mqtt-packet keeps a CONNECT it read as its settings: its credentials are not kept past this call.
      parser.settings = next;
    }
    return next;
  }

  async listen(): Promise<number> {
    const server = createServer((socket) => {
      // Acknowledgements are small and leave in batches (corked); Nagle would hold them for the peer's ACK.
      socket.setNoDelay(true);
      const c = new Connection(this, socket);
      this.connections.add(c);
      socket.once('close', () => this.connections.delete(c));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
    return this.boundPort;
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const c of this.connections) c.shutdown(Reason.SERVER_SHUTTING_DOWN);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  /** How many devices of `tenant` are connected to this front door now. */
  connectedOf(tenant: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.identity.tenant === tenant && s.connection) n++;
    return n;
  }

  /** Ends the connections of every device of `tenant` (MQTT 5: DISCONNECT with `reason`); returns how many. */
  disconnectTenant(tenant: string, reason: number = Reason.NOT_AUTHORIZED): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.identity.tenant !== tenant || !s.connection) continue;
      s.connection.shutdown(reason);
      n++;
    }
    return n;
  }

  stats(): FrontDoorStats {
    return { connections: this.connections.size, sessions: this.sessions.size, ...this.counters, ...(this.opts.sharedSessions && this.sharedCounters) };
  }

  /** What waits now, over all connections and sessions: O(connections + sessions), for a scrape, not per message. */
  queueDepths(): FrontDoorQueueDepths {
    let inboundPending = 0;
    let pausedConnections = 0;
    for (const c of this.connections) {
      inboundPending += c.pendingInbound;
      if (c.readPaused) pausedConnections++;
    }
    let outboundQueued = 0;
    let outboundInflight = 0;
    for (const s of this.sessions.values()) {
      outboundQueued += s.queue.length;
      outboundInflight += s.inflight.size;
    }
    return { inboundPending, pausedConnections, outboundQueued, outboundInflight };
  }

  /** What is held for clients now: write buffers, slow connections, session bytes (gauges, for a scrape). */
  backlog(): FrontDoorBacklog {
    let writeBufferedBytes = 0;
    let slowConnections = 0;
    for (const c of this.connections) {
      writeBufferedBytes += c.writeBuffered;
      if (c.slow) slowConnections++;
    }
    let sessionBytes = 0;
    for (const s of this.sessions.values()) sessionBytes += s.bytes;
    return { writeBufferedBytes, slowConnections, sessionBytes };
  }

  /** One session's bounds, by the key it is kept under (the client id, scoped to its device by the platform). */
  sessionStats(clientId: string): FrontDoorSessionStats | undefined {
    const s = this.sessions.get(clientId);
    if (!s) return undefined;
    return {
      connected: s.connection !== undefined,
      writeBufferedBytes: s.connection?.writeBuffered ?? 0,
      queuedMessages: s.queue.length,
      inflightMessages: s.inflight.size,
      queuedBytes: s.bytes,
      qos0Dropped: s.qos0Dropped,
      queuedDropped: s.queuedDropped,
    };
  }

  /** A PUBLISH of `bytes` now awaits its answer; true when the fleet-wide budget is full (the caller pauses itself). */
  pendingAdded(bytes: number): boolean {
    this.pendingTotal++;
    this.pendingBytesTotal += bytes;
    return this.pendingTotal >= this.maxPendingTotal || this.pendingBytesTotal >= this.maxPendingBytesTotal;
  }

  /** PUBLISHes (n, of `bytes` in all) no longer await an answer; at half the budget, paused connections read again. */
  pendingRemoved(n: number, bytes: number): void {
    this.pendingTotal -= n;
    this.pendingBytesTotal -= bytes;
    if (this.budgetPaused.size > 0 && this.pendingTotal <= this.maxPendingTotal / 2 && this.pendingBytesTotal <= this.maxPendingBytesTotal / 2) {
      const paused = [...this.budgetPaused];
      this.budgetPaused.clear();
      for (const c of paused) c.budgetResumed();
    }
  }

  /** A connection paused for the fleet-wide budget (counted), or gone (forgotten). */
  budgetPause(c: Connection): void {
    this.budgetPaused.add(c);
    this.counters.fleetBudgetPauses++;
  }

  budgetForget(c: Connection): void {
    this.budgetPaused.delete(c);
  }

  countProtocolError(): void {
    this.counters.protocolErrors++;
  }

  /** A limit a connection broke (counted; the connection says which and ends itself). */
  countLimit(which: 'receiveMaximumExceeded' | 'packetsTooLarge' | 'packetTimeouts' | 'slowConsumerDisconnects'): void {
    this.counters[which]++;
  }

  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields);
  }

  /** The session of `clientId` for `identity`: resumed, or new. Another device's client id is refused. */
  openSession(clientId: string, identity: FrontDoorIdentity, cleanStart: boolean, expirySeconds: number): { session: Session; present: boolean } | undefined {
    const restoring = this.restoring.get(clientId);
    this.restoring.delete(clientId);
    const existing = this.sessions.get(clientId);
    if (existing && !sameIdentity(existing.identity, identity)) return undefined;
    if (!existing && restoring?.snapshot && !sameIdentity(restoring.snapshot.identity, identity)) return undefined;
    if (existing?.connection) existing.connection.takenOver();
    if (existing && !cleanStart && !this.expired(existing)) {
      existing.expirySeconds = expirySeconds;
      this.changed(existing);
      return { session: existing, present: true };
    }
    if (existing) {
      this.sessions.delete(clientId);
      this.subIndex.removeOwner(existing);
    }
    const snap = restoring?.snapshot;
    if (!existing && snap && !cleanStart && snap.expirySeconds > 0 && !(snap.disconnectedAt > 0 && this.now() - snap.disconnectedAt > snap.expirySeconds * 1000)) {
      // Another front door held this session: resume it here with what that one kept, and what came meanwhile.
      const session = this.fromSnapshot(snap, expirySeconds);
      this.sessions.set(clientId, session);
      this.sharedCounters.sessionsTakenOver++;
      for (const msg of restoring.arrived) this.route(msg, undefined, session);
      this.changed(session);
      return { session, present: true };
    }
    while (this.sessions.size >= (this.opts.maxSessions ?? 10_000)) {
      // The oldest offline session makes room (Map order is insertion order); it is counted and logged.
      let victim: Session | undefined;
      for (const s of this.sessions.values()) {
        if (!s.connection) {
          victim = s;
          break;
        }
      }
      if (!victim) break;
      this.forget(victim);
      this.counters.sessionsEvicted++;
      this.log('warn', 'MQTT session limit reached; an offline session ended early', { clientId: victim.clientId, device: victim.identity.device, queued: victim.queue.length + victim.inflight.size });
    }
    const session = new Session(clientId, identity, expirySeconds, this.subIndex);
    this.sessions.set(clientId, session);
    this.changed(session);
    return { session, present: false };
  }

  /**
   * Shared sessions: takes `clientId`'s session from any other front door before the CONNECT is answered.
   * Messages routed here while it travels are kept and offered to it once it is open.
   */
  async takeShared(clientId: string): Promise<void> {
    const shared = this.opts.sharedSessions;
    if (!shared) return;
    const entry = { snapshot: undefined as SessionSnapshot | undefined, arrived: [] as OutboundMessage[], dropped: 0 };
    this.restoring.set(clientId, entry);
    try {
      entry.snapshot = await shared.take(clientId);
    } catch (e) {
      this.restoring.delete(clientId);
      throw e;
    }
  }

  /** A taken session that no CONNECT opened: kept here offline (until it expires) if it can be resumed. */
  keepTaken(clientId: string): void {
    const entry = this.restoring.get(clientId);
    if (!entry) return;
    this.restoring.delete(clientId);
    const snap = entry.snapshot;
    if (!snap || snap.expirySeconds === 0 || this.sessions.has(clientId)) return;
    const session = this.fromSnapshot(snap, snap.expirySeconds);
    session.disconnectedAt = snap.disconnectedAt || this.now();
    this.sessions.set(clientId, session);
    for (const msg of entry.arrived) this.route(msg, undefined, session);
    this.changed(session);
  }

  /** Another front door takes `clientId`: its connection here ends (taken over) and its state goes there. */
  private release(clientId: string): SessionSnapshot | undefined {
    const s = this.sessions.get(clientId);
    if (!s) return undefined;
    const c = s.connection;
    s.connection = undefined;
    if (c) c.takenOver();
    if (!s.disconnectedAt) s.disconnectedAt = this.now();
    this.sessions.delete(clientId);
    this.subIndex.removeOwner(s);
    this.dirty.delete(s);
    this.sharedCounters.sessionsHandedOver++;
    return this.snapshot(s, Number.POSITIVE_INFINITY);
  }

  /** A session's state for another front door; `budget` bounds the bytes of its messages (the oldest queued are left out first). */
  private snapshot(s: Session, budget: number): SessionSnapshot {
    const enc = (m: OutboundMessage): SessionMessage => ({
      topic: m.topic,
      payload: m.payload.toString('base64'),
      qos: m.qos,
      retain: m.retain,
      ...(m.expiresAt !== undefined && { expiresAt: m.expiresAt }),
    });
    const inflight: Array<{ id: number; msg: SessionMessage }> = [];
    let left = budget;
    for (const [id, p] of s.inflight) {
      const msg = enc({ ...p.msg, qos: p.qos, retain: p.retain });
      left -= msg.payload.length + msg.topic.length + 64;
      inflight.push({ id, msg });
    }
    const queue: SessionMessage[] = [];
    for (let i = s.queue.length - 1; i >= 0; i--) {
      const p = s.queue[i] as Pending;
      const size = Math.ceil(p.msg.payload.length / 3) * 4 + p.msg.topic.length + 64;
      if (size > left) {
        this.sharedCounters.sharedStateLeftOut += i + 1;
        this.log('warn', 'MQTT shared session: queued messages beyond its byte budget are not in its saved state', { clientId: s.clientId, leftOut: i + 1 });
        break;
      }
      left -= size;
      queue.unshift(enc({ ...p.msg, qos: p.qos, retain: p.retain }));
    }
    return {
      clientId: s.clientId,
      identity: { tenant: s.identity.tenant, device: s.identity.device },
      expirySeconds: s.expirySeconds,
      disconnectedAt: s.connection ? 0 : s.disconnectedAt,
      subs: [...s.subs].map(([key, sub]) => ({ key, ...sub })),
      inflight,
      queue,
    };
  }

  private fromSnapshot(snap: SessionSnapshot, expirySeconds: number): Session {
    const s = new Session(snap.clientId, snap.identity, expirySeconds, this.subIndex);
    const dec = (m: SessionMessage): Pending => ({
      msg: { topic: m.topic, payload: Buffer.from(m.payload, 'base64'), qos: m.qos, retain: m.retain, ...(m.expiresAt !== undefined && { expiresAt: m.expiresAt }) },
      qos: m.qos,
      retain: m.retain,
    });
    for (const { key, ...sub } of snap.subs) s.subs.set(key, sub);
    for (const { id, msg } of snap.inflight) s.fly(id, dec(msg));
    const over = snap.queue.length - this.maxQueued;
    if (over > 0) {
      this.counters.queuedDropped += over;
      this.log('warn', 'MQTT session handed over with more queued than this front door keeps; oldest dropped', { clientId: snap.clientId, dropped: over });
    }
    for (const m of snap.queue.slice(-this.maxQueued)) this.enqueue(s, dec(m));
    return s;
  }

  /** A shared, persistent session changed: it is saved soon (saves of a burst of changes are coalesced). */
  changed(s: Session): void {
    const shared = this.opts.sharedSessions;
    if (!shared) return;
    this.dirty.add(s);
    if (this.saving) return;
    this.saving = true;
    setImmediate(() => void this.saveDirty(shared));
  }

  private async saveDirty(shared: SharedSessions): Promise<void> {
    const budget = this.opts.maxSharedSessionBytes ?? 512 * 1024;
    while (this.dirty.size > 0) {
      const round = [...this.dirty];
      this.dirty.clear();
      await Promise.all(
        round.map(async (s) => {
          if (this.sessions.get(s.clientId) !== s) return;
          try {
            // A session that ends with its connection is never resumed: its record only says who holds it.
            const state = s.expirySeconds === 0 ? { ...this.snapshot(s, Number.POSITIVE_INFINITY), subs: [], inflight: [], queue: [] } : this.snapshot(s, budget);
            const ok = await shared.save(s.clientId, state);
            if (ok) this.sharedCounters.sharedSaves++;
            if (!ok && this.sessions.get(s.clientId) === s) this.log('warn', 'MQTT shared session: another front door holds it now; not saved', { clientId: s.clientId });
          } catch (e) {
            this.log('warn', 'MQTT shared session not saved', { clientId: s.clientId, err: String(e) });
          }
        }),
      );
    }
    this.saving = false;
  }

  private expired(s: Session): boolean {
    return !s.connection && s.disconnectedAt > 0 && this.now() - s.disconnectedAt > s.expirySeconds * 1000;
  }

  ended(s: Session): void {
    s.connection = undefined;
    s.disconnectedAt = this.now();
    if (s.expirySeconds === 0 && this.sessions.get(s.clientId) === s) this.forget(s);
    else this.changed(s);
  }

  /** The session ends here for good; its shared record goes too. */
  private forget(s: Session): void {
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId);
    this.subIndex.removeOwner(s);
    this.dirty.delete(s);
    this.opts.sharedSessions?.drop(s.clientId).catch((e: unknown) => this.log('warn', 'MQTT shared session record not removed', { clientId: s.clientId, err: String(e) }));
  }

  private sweep(): void {
    for (const s of this.sessions.values()) if (this.expired(s)) this.forget(s);
    const now = Date.now();
    for (const c of this.connections) c.tick(now);
  }

  /** A message into the server (from the platform, a client, or a will): retained, then routed. */
  publish(msg: OutboundMessage, from?: Session): void {
    if (msg.retain) this.retain(msg, from);
    for (const [clientId, r] of this.restoring) {
      if (r.arrived.length < this.maxQueued) r.arrived.push(msg);
      else {
        // Bounded like a session queue, and like it never silently: counted and logged.
        this.counters.queuedDropped++;
        // Once per session in transit (a take-over lasts at most releaseTimeoutMs); the counter has them all.
        if (r.dropped++ === 0) this.log('warn', 'MQTT session in transit: buffer full; later messages not kept for it', { clientId, topic: msg.topic });
      }
    }
    this.route(msg, from);
  }

  /**
   * Delivers a message to the sessions whose subscriptions match (`only`: to that session alone). The index gives
   * the matching subscriptions directly: no walk over every session per message.
   */
  private route(msg: OutboundMessage, from: Session | undefined, only?: Session): void {
    let groups: SharedGroups | undefined;
    if (only) {
      if (!this.expired(only)) for (const sub of only.subs.values()) if (matches(sub.filter, msg.topic)) groups = this.offerTo(only, sub, msg, from, groups);
    } else {
      // The callback inline: a function bound to a name would be renamed at run time on every message (tsx keeps names).
      this.subIndex.match(msg.topic, (s, key) => {
        // only sessions this door holds now (an entry of one that left is removed with it; this is the safety net)
        if (this.sessions.get(s.clientId) !== s || this.expired(s)) return;
        const sub = s.subs.get(key);
        if (sub) groups = this.offerTo(s, sub, msg, from, groups);
      });
    }
    if (!groups) return;
    for (const [key, members] of groups) {
      const online = members.filter((m) => m.session.connection);
      const pool = online.length > 0 ? online : members;
      const i = (this.sharedCursor.get(key) ?? 0) % pool.length;
      this.sharedCursor.set(key, i + 1);
      const pick = pool[i];
      if (pick) this.deliver(pick.session, { msg, qos: Math.min(msg.qos, pick.sub.qos) as 0 | 1, retain: false });
    }
  }

  /** Delivers `msg` to one matching subscription, or notes a shared one in `groups` (returned, created on first use). */
  private offerTo(s: Session, sub: Sub, msg: OutboundMessage, from: Session | undefined, groups: SharedGroups | undefined): SharedGroups | undefined {
    if (sub.group !== undefined) {
      const key = `${sub.group}\u0000${sub.filter}`;
      const g = groups ?? new Map();
      const members = g.get(key) ?? [];
      members.push({ session: s, sub });
      g.set(key, members);
      return g;
    }
    if (!(sub.noLocal && s === from)) this.deliver(s, { msg, qos: Math.min(msg.qos, sub.qos) as 0 | 1, retain: sub.retainAsPublished && msg.retain });
    return groups;
  }

  /**
   * Sets (or, with an empty payload, clears) the retained message of a topic. A device's clients keep at most
   * maxRetainedPerDevice topics and maxRetainedBytesPerDevice bytes retained: past them a new one is not kept
   * (still delivered), counted and logged once until the device has room again.
   */
  private retain(msg: OutboundMessage, from: Session | undefined): void {
    const topic = msg.topic;
    const owner = this.retainedOwner.get(topic);
    const size = msg.payload.length + topic.length;
    if (owner !== undefined) {
      const before = this.retainedBy.get(owner);
      const old = this.retained.get(topic);
      if (before) {
        before.topics.delete(topic);
        before.bytes -= old ? old.payload.length + topic.length : 0;
        before.logged = false;
        if (before.topics.size === 0) this.retainedBy.delete(owner);
      }
      this.retainedOwner.delete(topic);
    }
    if (msg.payload.length === 0) {
      this.retained.delete(topic);
      return;
    }
    if (from) {
      const key = `${from.identity.tenant}/${from.identity.device}`;
      const mine = this.retainedBy.get(key) ?? { topics: new Set<string>(), bytes: 0, logged: false };
      if (mine.topics.size >= this.maxRetainedPerDevice || mine.bytes + size > this.maxRetainedBytesPerDevice) {
        // What the topic held before is gone too: the device asked to replace it.
        this.retained.delete(topic);
        this.counters.retainedRefused++;
        if (!mine.logged) {
          mine.logged = true;
          this.log('warn', 'MQTT retained message not kept: the device has its limit of retained messages set', { device: from.identity.device, topic, retained: mine.topics.size, bytes: mine.bytes });
        }
        if (mine.topics.size > 0) this.retainedBy.set(key, mine);
        return;
      }
      mine.topics.add(topic);
      mine.bytes += size;
      this.retainedBy.set(key, mine);
      this.retainedOwner.set(topic, key);
    }
    this.retained.set(topic, msg);
  }

  /** Retained messages for a new subscription. */
  retainedFor(filter: string): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    for (const m of this.retained.values()) if (matches(filter, m.topic)) out.push(m);
    return out;
  }

  deliver(s: Session, p: Pending): void {
    if (p.msg.expiresAt !== undefined && this.now() > p.msg.expiresAt) {
      this.counters.expiredDropped++;
      return;
    }
    const c = s.connection;
    if (c && p.qos === 0) {
      // QoS 0 may be lost (MQTT §4.3.1): a client this far behind does not get more of it.
      if (c.behind()) this.dropQos0(s, c);
      else c.send(s, p);
      return;
    }
    if (c && s.queue.length === 0 && this.mayFly(s, c, p)) {
      c.send(s, p);
      if (s.expirySeconds > 0) this.changed(s);
      return;
    }
    if (p.qos === 0) return; // QoS 0 is not kept for an offline client (MQTT §4.1)
    this.enqueue(s, p);
    if (s.expirySeconds > 0) this.changed(s);
  }

  /**
   * Queues a QoS 1 message within the session's bounds (count and bytes, in flight included). A full queue drops its
   * oldest messages to make room, as EMQX does (mosquitto and HiveMQ refuse the newest instead): what a device is
   * sent is commands, which expire, and configuration, whose newest version supersedes the older ones. Each drop is
   * counted; the first of an episode is logged.
   */
  private enqueue(s: Session, p: Pending): void {
    const size = sizeOf(p);
    // What is in flight stays (its packet ids are the client's to acknowledge): a message that would not fit
    // beside it even in an empty queue is the one dropped, and the queue is left as it is.
    const fits = this.maxQueued > 0 && s.inflightBytes + size <= this.maxQueuedBytes;
    let dropped = fits ? 0 : 1;
    while (fits && s.queue.length > 0 && (s.queue.length >= this.maxQueued || s.bytes + size > this.maxQueuedBytes)) {
      s.dequeue();
      dropped++;
    }
    if (dropped > 0) {
      s.queuedDropped += dropped;
      this.counters.queuedDropped += dropped;
      if (!s.dropLogged) {
        s.dropLogged = true;
        this.log('warn', fits ? 'MQTT session queue full; oldest messages dropped' : 'MQTT session queue full; a message larger than its room dropped', {
          clientId: s.clientId,
          device: s.identity.device,
          queued: s.queue.length,
          bytes: s.bytes,
        });
      }
    }
    if (fits) s.enqueue(p);
  }

  /**
   * Whether a QoS 1 message may be sent now: within the client's window, within half the session's byte budget (what
   * is in flight is held until acknowledged; one message always may fly — the other half is the queue's, for the
   * newest messages), and while the client keeps up with reading.
   */
  private mayFly(s: Session, c: Connection, p: Pending): boolean {
    if (s.inflight.size >= c.window) return false;
    if (s.inflight.size > 0 && s.inflightBytes + sizeOf(p) > this.maxQueuedBytes / 2) return false;
    return !c.behind();
  }

  private dropQos0(s: Session, c: Connection): void {
    s.qos0Dropped++;
    this.counters.qos0Dropped++;
    if (c.noteQos0Drop()) this.log('warn', 'MQTT client behind on reading; QoS 0 messages to it dropped', { clientId: s.clientId, device: s.identity.device, writeBuffered: c.writeBuffered });
  }

  /** Sends what waits in the session's queue while its client's window allows and its write buffer has room. */
  drain(s: Session): void {
    const c = s.connection;
    if (!c) return;
    if (s.expirySeconds > 0) this.changed(s);
    while (s.queue.length > 0 && this.mayFly(s, c, s.queue[0] as Pending)) {
      const p = s.dequeue() as Pending;
      if (p.msg.expiresAt !== undefined && this.now() > p.msg.expiresAt) {
        this.counters.expiredDropped++;
        continue;
      }
      c.send(s, p);
    }
  }

  countExpired(): void {
    this.counters.expiredDropped++;
  }

  countTooLarge(topic: string): void {
    this.counters.tooLargeDropped++;
    this.log('warn', 'MQTT message larger than the client accepts; not sent', { topic });
  }

}

/** An inbound PUBLISH waiting for its turn: its policy answer, then acknowledgement in arrival order. */
interface InboundPublish {
  readonly p: IPublishPacket;
  readonly session: Session;
  readonly topic: string;
  readonly payload: Buffer;
  readonly expiresAt: number | undefined;
  /** performance.now() when it was read, for a QoS 1 PUBACK's latency (0: not measured). */
  readonly arrivedAt: number;
  outcome: PublishOutcome | undefined;
}

/** One client connection: its protocol version, keep-alive, topic aliases and the session it drives. */
class Connection {
  /** What the front door's mqtt-packet parser needs to know of this connection (its protocol level, once CONNECT is read). */
  private parserSettings: ParserSettings = {};
  private readonly reader: FrameReader;
  private connectTimer: NodeJS.Timeout | undefined;
  /**
   * Packet ids of the successful PUBACKs of this turn of the event loop, written together (see flushAcks): the
   * first `ackCount` entries. The array is kept and reused — a new one per turn lived until the connection's next
   * message (a second), so every connection's array was promoted to the old generation and died there (issue 20).
   */
  private readonly acks: number[] = [];
  private ackCount = 0;
  private version: 3 | 4 | 5 = 4;
  private session: Session | undefined;
  private identity: FrontDoorIdentity | undefined;
  private will: OutboundMessage | undefined;
  private willDelayMs = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private keepAliveMs = 0;
  private readonly aliases = new Map<number, string>();
  private closed = false;
  private cleanDisconnect = false;
  clientReceiveMaximum = 65535;
  private clientMaxPacket = Number.POSITIVE_INFINITY;
  /** The first bytes of the connection, kept until CONNECT is read (to answer an unsupported level). */
  private head: Buffer = Buffer.alloc(0);
  /** PUBLISHes received and not yet answered, oldest first: answered (acknowledged) strictly in this order. */
  private readonly inbound: InboundPublish[] = [];
  private readonly maxPending: number;
  private paused = false;
  /** Reading paused because the front door's fleet-wide budget of unanswered PUBLISHes is full. */
  private fleetPaused = false;
  private corked = false;
  /** Packets that came after a CONNECT whose authentication is still outstanding. */
  private early: Packet[] | undefined;
  /** Shared sessions: the client id whose session this CONNECT took from the other front doors. */
  private takenKey: string | undefined;
  /** QoS 1/2 PUBLISHes read and not yet answered: what counts against our receive maximum (MQTT 5 §3.3.4). */
  private unansweredQos = 0;
  /** Payload bytes of the PUBLISHes in `inbound`. */
  private pendingBytes = 0;
  /** When bytes came after the last whole packet (Date.now()), 0 when none: a packet is on its way. */
  private partialSince = 0;
  /** When the write buffer went past its cap (Date.now()), 0 while it is within it. */
  private behindSince = 0;
  /** Reading paused because the write buffer is past its cap (besides `paused`, for unanswered PUBLISHes). */
  private writePaused = false;
  /** A QoS 0 drop was logged since the write buffer last went past its cap. */
  private qos0DropLogged = false;

  constructor(
    private readonly door: MqttFrontDoor,
    private readonly socket: Socket,
  ) {
    this.maxPending = Math.max(1, door.opts.maxPendingPerConnection ?? door.receiveMaximum);
    const connectTimer = setTimeout(() => {
      if (!this.session) this.door.log('warn', 'MQTT connection closed: no CONNECT within the connect timeout', { remote: socket.remoteAddress, timeoutMs: door.connectTimeoutMs });
      this.destroy();
    }, door.connectTimeoutMs);
    connectTimer.unref();
    this.reader = new FrameReader();
    socket.on('drain', () => this.caughtUp());
    this.connectTimer = connectTimer;
    const inspector = door.opts.inspect?.();
    socket.on('data', (d: Buffer) => {
      if (this.closed) return;
      // Bytes came: a packet is on its way until one is whole (each whole packet sets it back; see the end).
      if (this.partialSince === 0) this.partialSince = Date.now();
      if (!this.session && this.head.length < 16) this.head = Buffer.concat([this.head, d]).subarray(0, 16);
      // The acknowledgements of one chunk's packets leave in one write.
      this.corkForTick();
      if (inspector) {
        const { forward, violation } = inspector.feed(d);
        for (const piece of forward) if (!this.closed) this.reader.feed(piece, this);
        if (violation && !this.closed) this.violated(violation);
      } else this.reader.feed(d, this);
      if (this.reader.partial && this.partialSince === 0 && !this.closed) this.partialSince = Date.now();
    });
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.onClose());
  }

  /** A whole packet from the reader: decoded here when it is a common one, else by mqtt-packet (FrameSink). */
  frame(data: Buffer, start: number, body: number, end: number): boolean {
    const fast = this.session && !this.early ? decodeCommon(data, start, body, end, this.version) : undefined;
    if (fast) this.packetIn(fast as unknown as Packet);
    else this.parserSettings = this.door.parseWhole(this, start === 0 && end === data.length ? data : data.subarray(start, end), this.parserSettings);
    return !this.closed;
  }

  /** mqtt-packet found the packet malformed. */
  parseError(): void {
    // A CONNECT of a protocol level we do not speak still gets its answer (MQTT 3.1.1 §3.1.2.2).
    if (!this.session && unsupportedLevel(this.head)) {
      this.door.countProtocolError();
      this.socket.write(Buffer.from([0x20, 0x02, 0x00, V4_CONNACK.UNACCEPTABLE_PROTOCOL]));
      this.end();
      return;
    }
    this.protocolError(Reason.MALFORMED);
  }

  /** A packet's length is known, before its body is held (FrameSink): one over our maximum ends the connection. */
  announced(remaining: number): boolean {
    return !this.tooLarge(remaining) && !this.closed;
  }

  /** The inspector found a broken rule: nothing more is read; the CONNACK refusal it names leaves first. */
  private violated(v: InboundViolation): void {
    this.door.opts.onViolation?.(v, `${this.socket.remoteAddress}:${this.socket.remotePort}`);
    if (v.connack !== undefined) {
      // CONNACK (type 2, length 2, no session present, return code) where MQTT 3.1.1 §3.1.2.2 / §3.1.3-8 ask for one.
      this.flushAcks();
      this.closed = true;
      this.socket.end(Buffer.from([0x20, 0x02, 0x00, v.connack]));
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else this.destroy();
  }

  /** A fixed header that is not MQTT (FrameSink). */
  malformed(): void {
    this.protocolError(Reason.MALFORMED);
  }

  packetIn(p: Packet): void {
    if (this.connectTimer) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    this.partialSince = 0;
    if (this.closed) return;
    try {
      this.onPacket(p);
    } catch (e) {
      this.door.log('warn', 'MQTT packet handling failed', { err: String(e) });
      this.protocolError(Reason.UNSPECIFIED);
    }
  }

  /** PUBLISHes read and not yet answered (load metrics). */
  get pendingInbound(): number {
    return this.inbound.length;
  }

  /** Whether reading is paused for back-pressure (load metrics). */
  get readPaused(): boolean {
    return this.paused || this.fleetPaused;
  }

  /** The fleet-wide budget is down to half: reading resumes unless this connection's own bounds hold it. */
  budgetResumed(): void {
    if (!this.fleetPaused) return;
    this.fleetPaused = false;
    if (!this.closed && !this.paused && !this.writePaused) this.socket.resume();
  }

  private write(p: Packet): void {
    if (this.closed) return;
    this.flushAcks();
    this.socket.write(mqttPacket.generate(p, { protocolVersion: this.version }));
    this.checkBehind();
  }

  /** After a write: a write buffer past its cap starts the slow-consumer grace period. */
  private checkBehind(): void {
    if (this.behindSince === 0 && this.socket.writableLength > this.door.maxWriteBuffer) this.fallBehind();
  }

  /** Bytes waiting in this connection's socket write buffer. */
  get writeBuffered(): number {
    return this.socket.writableLength;
  }

  /** Whether the write buffer is past its cap now (the slow-consumer grace period runs). */
  get slow(): boolean {
    return this.behindSince !== 0;
  }

  /** The outbound inflight window: the client's receive maximum, at most ours. */
  get window(): number {
    return Math.min(this.clientReceiveMaximum, this.door.maxInflight);
  }

  /** Whether the client is too far behind on reading for more to be written to it; starts the grace period if so. */
  behind(): boolean {
    if (this.socket.writableLength <= this.door.maxWriteBuffer) return false;
    if (this.behindSince === 0) this.fallBehind();
    return true;
  }

  /**
   * The write buffer went past its cap: the grace period starts, and reading pauses — a client that does not read
   * what it is sent (PUBACKs included) is not read from either, so it cannot pile up our answers to it.
   */
  private fallBehind(): void {
    this.behindSince = Date.now();
    this.qos0DropLogged = false;
    if (!this.writePaused && !this.closed) {
      this.writePaused = true;
      this.socket.pause();
    }
  }

  /** The socket's write buffer drained: reading resumes (unless unanswered PUBLISHes hold it) and the queue flows. */
  private caughtUp(): void {
    this.behindSince = 0;
    if (this.closed) return;
    if (this.writePaused) {
      this.writePaused = false;
      if (!this.paused && !this.fleetPaused) this.socket.resume();
    }
    const s = this.session;
    if (s && s.connection === this && s.queue.length > 0) this.door.drain(s);
  }

  /** A QoS 0 message to this client was dropped: whether it is the first since it fell behind (to be logged). */
  noteQos0Drop(): boolean {
    if (this.qos0DropLogged) return false;
    this.qos0DropLogged = true;
    return true;
  }

  /** Once a second (the door's sweep): the packet timeout, and the slow-consumer grace period. */
  tick(now: number): void {
    if (this.closed) return;
    if (this.partialSince !== 0) {
      // Time while we hold reading back is ours, not the client's.
      if (this.paused || this.writePaused || this.fleetPaused) this.partialSince = now;
      else if (now - this.partialSince > this.door.packetTimeoutMs) {
        this.door.countLimit('packetTimeouts');
        this.door.log('warn', 'MQTT connection closed: a packet did not arrive whole within the packet timeout', { clientId: this.session?.clientId, remote: this.socket.remoteAddress, timeoutMs: this.door.packetTimeoutMs });
        this.destroy();
        return;
      }
    }
    if (this.behindSince !== 0) {
      if (this.socket.writableLength <= this.door.maxWriteBuffer) this.caughtUp();
      else if (now - this.behindSince >= this.door.slowConsumerGraceMs) this.tooSlow();
    } else {
      // Safety net: a queue that waits although nothing holds it back (e.g. a cap below the socket's high-water mark, so no 'drain').
      const s = this.session;
      if (s && s.connection === this && s.queue.length > 0 && s.inflight.size < this.window) this.door.drain(s);
    }
  }

  /** The write buffer stayed past its cap for the whole grace period: the client is disconnected (MQTT 5: 0x97). */
  private tooSlow(): void {
    this.door.countLimit('slowConsumerDisconnects');
    this.door.log('warn', 'MQTT client too slow: disconnected (its write buffer stayed past the cap for the grace period)', {
      clientId: this.session?.clientId,
      device: this.identity?.device,
      writeBuffered: this.socket.writableLength,
      capBytes: this.door.maxWriteBuffer,
      graceMs: this.door.slowConsumerGraceMs,
    });
    this.refuse(Reason.QUOTA_EXCEEDED);
  }

  /** Whether a packet of `remaining` bytes after its fixed header is over our maximum packet size; if so the connection is refused. */
  private tooLarge(remaining: number): boolean {
    const header = 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4);
    if (remaining + header <= this.door.maximumPacketSize) return false;
    this.door.countLimit('packetsTooLarge');
    this.door.log('warn', 'MQTT connection closed: a packet larger than the maximum packet size', { clientId: this.session?.clientId, remote: this.socket.remoteAddress, bytes: remaining + header, maximum: this.door.maximumPacketSize });
    this.refuse(Reason.PACKET_TOO_LARGE);
    return true;
  }

  /**
   * Ends the connection for a broken limit: MQTT 5 DISCONNECT with `reason`, flushed (ending uncorks), nothing more
   * read; destroyed a second later if the client has not closed by then. The will is sent (not a clean disconnect).
   */
  private refuse(reason: number): void {
    if (this.closed) return;
    if (this.v5 && this.session) this.write({ cmd: 'disconnect', reasonCode: reason });
    this.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private get v5(): boolean {
    return this.version === 5;
  }

  private refuseConnect(v4Code: number, v5Reason: number, message: string): void {
    this.write(this.v5 ? { cmd: 'connack', reasonCode: v5Reason, sessionPresent: false, properties: { reasonString: message } } : { cmd: 'connack', returnCode: v4Code, sessionPresent: false });
    this.door.log('warn', 'MQTT CONNECT refused', { reason: message });
    this.end();
  }

  private protocolError(reason: number): void {
    this.door.countProtocolError();
    if (this.v5 && this.session) this.write({ cmd: 'disconnect', reasonCode: reason });
    this.destroy();
  }

  private onPacket(p: Packet): void {
    if (this.early) {
      // The CONNECT is being authenticated: what follows waits for it (bounded like unanswered PUBLISHes).
      if (this.early.length >= this.maxPending) this.protocolError(Reason.QUOTA_EXCEEDED);
      else this.early.push(p);
      return;
    }
    if (!this.session) {
      if (p.cmd !== 'connect') {
        this.protocolError(Reason.PROTOCOL_ERROR);
        return;
      }
      this.onConnect(p);
      return;
    }
    this.touch();
    switch (p.cmd) {
      case 'publish':
        this.onPublish(p);
        return;
      case 'puback': {
        const s = this.session;
        if (p.messageId !== undefined) s.land(p.messageId);
        this.door.drain(s);
        return;
      }
      case 'pubrel':
        if (p.messageId !== undefined) this.session.incomingQos2.delete(p.messageId);
        this.write({ cmd: 'pubcomp', messageId: p.messageId, ...(this.v5 && { reasonCode: Reason.SUCCESS }) });
        return;
      case 'subscribe':
        this.onSubscribe(p);
        return;
      case 'unsubscribe': {
        const codes = p.unsubscriptions.map((f) => (this.session?.subs.delete(f) ? Reason.SUCCESS : Reason.NO_SUBSCRIPTION_EXISTED));
        if (this.session.expirySeconds > 0) this.door.changed(this.session);
        this.write({ cmd: 'unsuback', messageId: p.messageId, granted: this.v5 ? codes : [] } as Packet);
        return;
      }
      case 'pingreq':
        this.write({ cmd: 'pingresp' });
        return;
      case 'disconnect': {
        const expiry = p.properties?.sessionExpiryInterval;
        if (this.v5 && expiry !== undefined) {
          // MQTT 5 §3.14.2.2.2: a session that ended at disconnect cannot be extended at disconnect.
          if (this.session.expirySeconds === 0 && expiry > 0) {
            this.protocolError(Reason.PROTOCOL_ERROR);
            return;
          }
          this.session.expirySeconds = Math.min(expiry, this.door.maxSessionExpiry);
        }
        // Reason 0x04 "disconnect with will message" asks for the will to be sent anyway.
        this.cleanDisconnect = !(this.v5 && p.reasonCode === 0x04);
        this.end();
        return;
      }
      case 'auth':
        this.write({ cmd: 'disconnect', reasonCode: Reason.BAD_AUTHENTICATION_METHOD });
        this.end();
        return;
      default:
        this.protocolError(Reason.PROTOCOL_ERROR);
        return;
    }
  }

  private onConnect(p: IConnectPacket): void {
    this.version = p.protocolVersion === 5 ? 5 : p.protocolVersion === 3 ? 3 : 4;
    if (p.protocolVersion !== 3 && p.protocolVersion !== 4 && p.protocolVersion !== 5) {
      this.version = 4;
      this.refuseConnect(V4_CONNACK.UNACCEPTABLE_PROTOCOL, Reason.UNSUPPORTED_PROTOCOL_VERSION, `protocol level ${p.protocolVersion} is not supported`);
      return;
    }
    if (this.v5 && p.properties?.authenticationMethod) {
      this.refuseConnect(V4_CONNACK.NOT_AUTHORIZED, Reason.BAD_AUTHENTICATION_METHOD, 'enhanced authentication is not supported; use user name and password');
      return;
    }
    let clientId = p.clientId;
    const cleanStart = p.clean !== false;
    if (!clientId) {
      // An empty client id: MQTT 3.1.1 allows it only with a clean session (§3.1.3.1); MQTT 5 gets one assigned.
      if (!this.v5 && !cleanStart) {
        this.refuseConnect(V4_CONNACK.IDENTIFIER_REJECTED, Reason.CLIENT_ID_NOT_VALID, 'an empty client id needs a clean session');
        return;
      }
      clientId = '';
    }
    let answer: AuthResult | Promise<AuthResult>;
    try {
      answer = this.door.opts.policy.authenticate(p.username, p.password, clientId);
    } catch (e) {
      answer = Promise.reject(e);
    }
    if (this.door.opts.sharedSessions) {
      // Several front doors: the session is taken from whichever holds it before the CONNECT is answered.
      answer = Promise.resolve(answer).then((auth): AuthResult | Promise<AuthResult> => {
        const key = 'identity' in auth ? (auth.sessionId ?? (clientId || undefined)) : undefined;
        if (key === undefined) return auth;
        this.takenKey = key;
        return this.door.takeShared(key).then(
          () => auth,
          (e: unknown): AuthResult => {
            this.door.log('warn', 'MQTT CONNECT refused: the shared session store is unreachable', { clientId: key, err: String(e) });
            return { refused: 'unavailable', message: 'the session store is unreachable; try again' };
          },
        );
      });
    }
    if (!(answer instanceof Promise)) {
      this.connectAuthenticated(p, clientId, answer);
      return;
    }
    this.early = [];
    answer.then(
      (auth) => {
        if (!this.closed) this.connectAuthenticated(p, clientId, auth);
        // A session taken from another front door for a CONNECT that did not open it (the client left, or was
        // refused) stays here, offline, rather than being lost.
        if (this.takenKey !== undefined) this.door.keepTaken(this.takenKey);
        if (this.closed) return;
        const early = this.early ?? [];
        this.early = undefined;
        for (const q of early) {
          if (this.closed) break;
          this.onPacket(q);
        }
      },
      (e: unknown) => {
        this.early = undefined;
        this.door.log('warn', 'MQTT authentication failed unexpectedly', { err: String(e) });
        this.refuseConnect(V4_CONNACK.NOT_AUTHORIZED, Reason.UNSPECIFIED, 'authentication could not be completed');
      },
    );
  }

  private connectAuthenticated(p: IConnectPacket, sentClientId: string, auth: AuthResult): void {
    let clientId = sentClientId;
    const cleanStart = p.clean !== false;
    let assigned: string | undefined;
    if (!('identity' in auth)) {
      const [v4, v5] =
        auth.refused === 'client-id'
          ? [V4_CONNACK.IDENTIFIER_REJECTED, Reason.CLIENT_ID_NOT_VALID]
          : auth.refused === 'unavailable'
            ? [V4_CONNACK.SERVER_UNAVAILABLE, Reason.SERVER_UNAVAILABLE]
          : auth.refused === 'not-authorized'
            ? [V4_CONNACK.NOT_AUTHORIZED, Reason.NOT_AUTHORIZED]
            : [V4_CONNACK.BAD_USER_NAME_OR_PASSWORD, Reason.BAD_USER_NAME_OR_PASSWORD];
      this.refuseConnect(v4, v5, auth.message);
      return;
    }
    const who = auth.identity;
    if (auth.sessionId !== undefined) {
      if (!clientId) assigned = auth.sessionId;
      clientId = auth.sessionId;
    } else if (!clientId) {
      clientId = `${who.tenant}/${who.device}/${randomBytes(6).toString('hex')}`;
      assigned = clientId;
    }
    if (p.will) {
      if ((p.will.qos ?? 0) > 2 || !this.door.opts.policy.mayPublishWill(who, p.will.topic)) {
        this.refuseConnect(V4_CONNACK.NOT_AUTHORIZED, Reason.NOT_AUTHORIZED, `a will on "${p.will.topic}" is not allowed for device "${who.device}"`);
        return;
      }
      const expiry = p.will.properties?.messageExpiryInterval;
      this.will = {
        topic: p.will.topic,
        payload: Buffer.isBuffer(p.will.payload) ? p.will.payload : Buffer.from(p.will.payload),
        qos: Math.min(p.will.qos ?? 0, 1) as 0 | 1,
        retain: false,
        ...(expiry !== undefined && { expiresAt: this.door.now() + expiry * 1000 }),
      };
      this.willDelayMs = Math.min(p.will.properties?.willDelayInterval ?? 0, 3600) * 1000;
    }
    const expirySeconds = this.v5 ? Math.min(p.properties?.sessionExpiryInterval ?? 0, this.door.maxSessionExpiry) : cleanStart ? 0 : this.door.maxSessionExpiry;
    const opened = this.door.openSession(clientId, who, cleanStart, expirySeconds);
    if (!opened) {
      this.refuseConnect(V4_CONNACK.IDENTIFIER_REJECTED, Reason.CLIENT_ID_NOT_VALID, `client id "${clientId}" belongs to another device`);
      return;
    }
    this.identity = who;
    this.session = opened.session;
    opened.session.connection = this;
    if (this.v5) {
      this.clientReceiveMaximum = p.properties?.receiveMaximum ?? 65535;
      this.clientMaxPacket = p.properties?.maximumPacketSize ?? Number.POSITIVE_INFINITY;
    }
    this.keepAliveMs = (p.keepalive ?? 0) * 1500;
    this.touch();
    this.write(
      this.v5
        ? {
            cmd: 'connack',
            reasonCode: Reason.SUCCESS,
            sessionPresent: opened.present,
            properties: {
              receiveMaximum: this.door.receiveMaximum,
              maximumQoS: 1,
              retainAvailable: true,
              maximumPacketSize: this.door.maximumPacketSize,
              topicAliasMaximum: this.door.topicAliasMaximum,
              wildcardSubscriptionAvailable: true,
              subscriptionIdentifiersAvailable: false,
              sharedSubscriptionAvailable: true,
              ...(assigned !== undefined && { assignedClientIdentifier: assigned }),
              ...(p.properties?.sessionExpiryInterval !== undefined && p.properties.sessionExpiryInterval > this.door.maxSessionExpiry && { sessionExpiryInterval: this.door.maxSessionExpiry }),
            },
          }
        : { cmd: 'connack', returnCode: 0, sessionPresent: opened.present },
    );
    this.door.opts.policy.connected?.(who);
    // A resumed session: what was in flight goes again (DUP), then the queue — a moment (10 ms) after the
    // CONNACK, so a client that starts listening for messages once it is connected does not miss them.
    const session = opened.session;
    // Only what was in flight before this connection is sent again; what it sends itself meanwhile is not.
    const unacknowledged = [...session.inflight];
    setTimeout(() => {
      if (session.connection !== this || this.closed) return;
      for (const [id, pending] of unacknowledged) if (session.inflight.get(id) === pending) this.resend(pending, id);
      this.door.drain(session);
    }, RESUME_DELAY_MS).unref();
  }

  private touch(): void {
    if (this.keepAliveMs <= 0) return;
    if (this.keepAliveTimer) this.keepAliveTimer.refresh();
    else {
      this.keepAliveTimer = setTimeout(() => {
        if (this.v5) this.write({ cmd: 'disconnect', reasonCode: Reason.KEEP_ALIVE_TIMEOUT });
        this.destroy();
      }, this.keepAliveMs);
      this.keepAliveTimer.unref();
    }
  }

  private onPublish(p: IPublishPacket): void {
    const s = this.session as Session;
    const who = this.identity as FrontDoorIdentity;
    let topic = p.topic;
    const alias = p.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > this.door.topicAliasMaximum) {
        this.protocolError(Reason.TOPIC_ALIAS_INVALID);
        return;
      }
      if (topic) this.aliases.set(alias, topic);
      else topic = this.aliases.get(alias) ?? '';
      if (!topic) {
        this.protocolError(Reason.PROTOCOL_ERROR);
        return;
      }
    }
    if (!topic || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) {
      this.protocolError(Reason.TOPIC_NAME_INVALID);
      return;
    }
    if (p.qos === 2 && this.v5) {
      this.protocolError(Reason.QOS_NOT_SUPPORTED);
      return;
    }
    if (p.qos === 2 && p.messageId !== undefined && s.incomingQos2.has(p.messageId)) {
      this.write({ cmd: 'pubrec', messageId: p.messageId });
      return;
    }
    if (p.qos > 0 && ++this.unansweredQos > this.door.receiveMaximum && this.v5) {
      // MQTT 5 §3.3.4: a client may not have more QoS 1/2 PUBLISHes unanswered than our receive maximum.
      this.door.countLimit('receiveMaximumExceeded');
      this.door.log('warn', 'MQTT connection closed: receive maximum exceeded', { clientId: s.clientId, receiveMaximum: this.door.receiveMaximum });
      this.refuse(Reason.RECEIVE_MAXIMUM_EXCEEDED);
      return;
    }
    const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
    const expiry = p.properties?.messageExpiryInterval;
    const arrivedAt = p.qos === 1 && this.door.opts.onPuback ? performance.now() : 0;
    const entry: InboundPublish = { p, session: s, topic, payload, expiresAt: expiry === undefined ? undefined : this.door.now() + expiry * 1000, arrivedAt, outcome: undefined };
    let answer: PublishOutcome | Promise<PublishOutcome>;
    try {
      answer = this.door.opts.policy.publish(who, topic, payload, p.qos);
    } catch (e) {
      answer = Promise.reject(e);
    }
    if (!(answer instanceof Promise)) {
      entry.outcome = answer;
      if (this.inbound.length === 0) {
        this.answer(entry);
        return;
      }
    }
    this.inbound.push(entry);
    this.pendingBytes += payload.length;
    const budgetFull = this.door.pendingAdded(payload.length);
    if (answer instanceof Promise) {
      answer.then(
        (o) => {
          entry.outcome = o;
          this.answerReady();
        },
        (e: unknown) => {
          // No answer means no acknowledgement: the client keeps the message and sends it again.
          this.door.log('warn', 'MQTT publish not acknowledged: the policy failed', { topic, err: String(e) });
          entry.outcome = { accepted: false, reason: Reason.UNSPECIFIED, message: String(e), dropConnection: true };
          this.answerReady();
        },
      );
    }
    if ((this.inbound.length >= this.maxPending || this.pendingBytes >= this.door.maxPendingBytes) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    if (budgetFull && !this.fleetPaused && !this.closed) {
      this.fleetPaused = true;
      this.socket.pause();
      this.door.budgetPause(this);
    }
  }

  /** Answers the PUBLISHes at the head of the line whose outcome is known, in arrival order. */
  private answerReady(): void {
    let n = 0;
    let bytes = 0;
    while (!this.closed && this.inbound.length > 0 && this.inbound[0]?.outcome !== undefined) {
      const e = this.inbound.shift() as InboundPublish;
      this.pendingBytes -= e.payload.length;
      n++;
      bytes += e.payload.length;
      this.answer(e);
    }
    if (this.closed && this.inbound.length > 0) {
      // Answers of a closed connection are not sent: its unanswered PUBLISHes leave the budgets now.
      n += this.inbound.length;
      bytes += this.pendingBytes;
      this.pendingBytes = 0;
      this.inbound.length = 0;
    }
    if (n > 0) this.door.pendingRemoved(n, bytes);
    if (this.paused && !this.closed && this.inbound.length <= this.maxPending / 2 && this.pendingBytes <= this.door.maxPendingBytes / 2) {
      this.paused = false;
      if (!this.writePaused && !this.fleetPaused) this.socket.resume();
    }
  }

  /**
   * Holds this connection's writes until the current run of promise reactions is over: the answers that one
   * commit releases leave in one write, not one segment per PUBACK.
   */
  private corkForTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.flushAcks();
      this.socket.uncork();
    });
  }

  /** Writes the collected PUBACKs as one buffer (before any other packet, so the order on the wire holds). */
  private flushAcks(): void {
    const ids = this.acks;
    const n = this.ackCount;
    if (n === 0) return;
    this.ackCount = 0;
    if (this.closed) return;
    const out = Buffer.allocUnsafe(n * 4);
    for (let i = 0; i < n; i++) {
      const id = ids[i] as number;
      out[i * 4] = 0x40;
      out[i * 4 + 1] = 2;
      out[i * 4 + 2] = id >> 8;
      out[i * 4 + 3] = id & 0xff;
    }
    this.socket.write(out);
    this.checkBehind();
  }

  /** Forwards an accepted message and acknowledges it (QoS 1: PUBACK, with the refusal's reason under MQTT 5). */
  private answer(e: InboundPublish): void {
    this.corkForTick();
    const { p, topic, payload } = e;
    if (p.qos > 0) this.unansweredQos--;
    const outcome = e.outcome as PublishOutcome;
    if (!outcome.accepted && ('dropConnection' in outcome || (outcome.closeV4 && !this.v5))) {
      this.destroy();
      return;
    }
    if (outcome.accepted && outcome.forward) {
      this.door.publish({ topic, payload, qos: Math.min(p.qos, 1) as 0 | 1, retain: p.retain, ...(e.expiresAt !== undefined && { expiresAt: e.expiresAt }) }, e.session);
    }
    if (p.qos === 1) {
      if (outcome.accepted || !this.v5) {
        // Success (and any answer under 3.1.1): four bytes, collected and written once per turn (MQTT 5 §3.4.2.1
        // lets a success PUBACK leave out its reason code), in the order the PUBLISHes came.
        if (!this.closed) this.acks[this.ackCount++] = p.messageId as number;
      } else {
        this.write({ cmd: 'puback', messageId: p.messageId, reasonCode: outcome.reason, properties: { reasonString: outcome.message } } as Packet);
      }
      if (e.arrivedAt !== 0) this.door.opts.onPuback?.(performance.now() - e.arrivedAt);
    } else if (p.qos === 2) {
      if (p.messageId !== undefined && e.session.incomingQos2.size < this.door.receiveMaximum) e.session.incomingQos2.add(p.messageId);
      this.write({ cmd: 'pubrec', messageId: p.messageId });
    }
  }

  private onSubscribe(p: ISubscribePacket): void {
    const s = this.session as Session;
    const who = this.identity as FrontDoorIdentity;
    const granted: number[] = [];
    const retainedToSend: Array<{ msg: OutboundMessage; sub: Sub }> = [];
    for (const req of p.subscriptions) {
      const shared = sharedSubscription(req.topic);
      const filter = shared ? shared.filter : req.topic;
      if (!validFilter(filter) || (req.topic.startsWith('$share/') && !shared)) {
        granted.push(this.v5 ? Reason.TOPIC_FILTER_INVALID : 0x80);
        continue;
      }
      if (!this.door.opts.policy.maySubscribe(who, filter)) {
        granted.push(this.v5 ? Reason.NOT_AUTHORIZED : 0x80);
        continue;
      }
      const qos = Math.min(req.qos, 1) as 0 | 1;
      const existed = s.subs.has(req.topic);
      const sub: Sub = { filter, qos, noLocal: req.nl === true, retainAsPublished: req.rap === true, ...(shared && { group: shared.group }) };
      s.subs.set(req.topic, sub);
      granted.push(qos);
      const handling = req.rh ?? 0;
      if (!shared && (handling === 0 || (handling === 1 && !existed))) for (const msg of this.door.retainedFor(filter)) retainedToSend.push({ msg, sub });
    }
    this.write({ cmd: 'suback', messageId: p.messageId, granted });
    if (s.expirySeconds > 0) this.door.changed(s);
    // Retained messages are sent with the retain flag set (MQTT §3.3.1.3).
    for (const { msg, sub } of retainedToSend) this.door.deliver(s, { msg, qos: Math.min(msg.qos, sub.qos) as 0 | 1, retain: true });
  }

  /** Sends a message of the session to this client (QoS 1: a packet id, kept in flight until PUBACK). */
  send(s: Session, p: Pending): void {
    const m = p.msg;
    if (m.expiresAt !== undefined && m.expiresAt <= this.door.now()) {
      this.door.countExpired();
      return;
    }
    if (m.payload.length + m.topic.length + 16 > this.clientMaxPacket) {
      this.door.countTooLarge(m.topic);
      return;
    }
    if (p.qos === 0) {
      this.writePublish(p, undefined, false);
      return;
    }
    const id = s.packetId();
    s.fly(id, p);
    this.writePublish(p, id, false);
  }

  /** Resends a message that was in flight when the session's last connection ended (DUP set). */
  resend(p: Pending, id: number): void {
    this.writePublish(p, id, true);
  }

  private writePublish(p: Pending, messageId: number | undefined, dup: boolean): void {
    const m = p.msg;
    // MQTT 5 §3.3.2.3.3: the expiry a client sees is what is left of it.
    const properties = this.v5 && m.expiresAt !== undefined ? { messageExpiryInterval: Math.max(1, Math.ceil((m.expiresAt - this.door.now()) / 1000)) } : undefined;
    this.write({ cmd: 'publish', topic: m.topic, payload: m.payload, qos: p.qos, retain: p.retain, dup, ...(messageId !== undefined && { messageId }), ...(properties && { properties }) });
  }

  /**
   * Another connection of the same device took this session over (MQTT §3.1.4). The platform hears of this
   * connection's end now, before it hears of the new one, so a gateway is not marked offline afterwards.
   */
  takenOver(): void {
    if (this.v5) this.write({ cmd: 'disconnect', reasonCode: Reason.SESSION_TAKEN_OVER });
    this.cleanDisconnect = true; // the will is not sent on a take-over
    this.session = undefined;
    if (this.identity) this.door.opts.policy.disconnected?.(this.identity);
    this.identity = undefined;
    this.end();
  }

  shutdown(reason: number): void {
    if (this.v5 && this.session) this.write({ cmd: 'disconnect', reasonCode: reason });
    this.cleanDisconnect = true;
    this.destroy();
  }

  private end(): void {
    if (this.closed) return;
    this.flushAcks();
    this.closed = true;
    this.socket.end();
  }

  private destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.door.budgetForget(this);
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    const s = this.session;
    const who = this.identity;
    if (s && s.connection === this) this.door.ended(s);
    if (who) this.door.opts.policy.disconnected?.(who);
    if (this.will && !this.cleanDisconnect) {
      const will = this.will;
      const fire = () => this.door.publish(will);
      if (this.willDelayMs > 0) setTimeout(fire, this.willDelayMs).unref();
      else fire();
    }
  }
}
