/**
 * @iip/bus — the message-bus port and its adapters. Device access publishes validated telemetry batches; the
 * historian, the live-update stream and (later) rules subscribe. The in-process adapter serves the embedded
 * platform (`npm start`); the NATS JetStream adapter (./nats) serves several processes. Both pass the same
 * conformance suite (@iip/testkit `runBusConformance`).
 *
 * Two kinds of subscription:
 * - **live** (no `group`): every live subscriber of every process receives each message published while it
 *   is subscribed; nothing is kept for a subscriber that is away (the console's live stream).
 * - **group** (`group: 'historian'`): work-queue delivery. Each message goes to one subscriber of the group
 *   (whichever process), and counts as done only when that subscriber's handler returns (or its promise
 *   resolves); a handler that throws or rejects gets the message again later. With NATS the group is a
 *   durable JetStream consumer, so messages published while no member runs wait for one. Handlers must be
 *   idempotent: a message may arrive more than once (the historian deduplicates on (series, ts)).
 */
import type { TelemetryBatch } from '@iip/core';

/** Topics and the message type each carries. */
export interface BusTopics {
  telemetry: TelemetryBatch;
  'device.status': { tenant: string; device: string; online: boolean; ts: number };
  /**
   * The registry changed (a device created, updated or deleted; `device: '*'` for a product change, which
   * touches all the tenant's devices): every process forgets what it cached of it. A live topic.
   */
  'registry.changed': { tenant: string; device: string };
  /**
   * A message from the platform to a device (a gateway's config, a command), for the MQTT topic
   * `iip/{tenant}/{device}/{subtopic}`. A live topic: every front door takes it and delivers it to the
   * device's session if it holds it (device-access BusDeviceRouter; ADR 0008).
   */
  'device.deliver': { tenant: string; device: string; subtopic: string; payload: string; retain: boolean; qos: 0 | 1 };
  /**
   * A gateway's answer to a command, from the front door that holds the gateway's connection to every
   * process; the one whose command waits for it (or remembers it, for the audit log) takes it. `device` is
   * the gateway; `payload` is the MQTT payload in base64. A live topic.
   */
  'device.reply': { tenant: string; device: string; requestId: string; payload: string };
  /**
   * Device events as stored (issue 13): one message per admitted message of a device, published after the events are
   * stored and before the device is acknowledged; rules take it in their group (event triggers).
   */
  'device.events': { tenant: string; device: string; events: ReadonlyArray<{ event: string; ts: number; level: string; data: Readonly<Record<string, unknown>>; seq: number }> };
}

export type Topic = keyof BusTopics;
export type Handler<T extends Topic> = (msg: BusTopics[T]) => void | Promise<void>;

export interface SubscribeOptions {
  /** Work-queue group (a durable consumer with NATS); see the module comment. Without it: live delivery. */
  readonly group?: string;
}

export interface Subscription {
  /** Resolves when the subscription receives messages (a NATS consumer is created or bound). */
  readonly ready: Promise<void>;
  /** Stops delivery to this handler; a group's durable consumer stays and keeps messages for the group. */
  unsubscribe(): Promise<void>;
}

export interface Bus {
  /**
   * Resolves once the bus holds the message: with NATS after the JetStream ack (the message is on disk in
   * the stream and will reach every group); rejects (IIP_ERR_BUS_UNAVAILABLE) when it cannot be kept, and
   * then nothing may be acknowledged to the sender.
   */
  publish<T extends Topic>(topic: T, msg: BusTopics[T]): Promise<void>;
  subscribe<T extends Topic>(topic: T, handler: Handler<T>, opts?: SubscribeOptions): Subscription;
  close(): Promise<void>;
}

export { InProcessBus } from './in-process.js';
export type { InProcessBusOptions, InProcessBusStats } from './in-process.js';
export { connectNatsBus, decodeSubjectToken, encodeSubjectToken } from './nats.js';
export type { NatsBusOptions } from './nats.js';
export { connectNatsSessionStore } from './nats-sessions.js';
export type { NatsSessionStore, NatsSessionStoreOptions } from './nats-sessions.js';
export { connectNatsLease } from './nats-lease.js';
export type { NatsLease, NatsLeaseOptions } from './nats-lease.js';
