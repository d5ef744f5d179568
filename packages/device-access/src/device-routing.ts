/**
 * Messages to devices across several front doors (issue 11, point 4; ADR 0008). A device may hold its MQTT
 * connection (or its persistent session) on any front door, while the API call that configures or commands it
 * runs in any process. The router is the `GatewayLink` of that process's GatewayManager and carries:
 *
 * - **to the device**: `publishToDevice` puts the message on the bus topic `device.deliver`; every front door
 *   takes it live and hands it to its own MQTT server, which delivers it to the session that matches — the
 *   session lives on one front door at a time (shared sessions, mqtt/front-door.ts), so the device gets it
 *   once. A retained config is kept by every front door, and a gateway's config is pushed again from storage
 *   whenever it connects (to whichever front door), so a gateway that connects later gets it too. Every
 *   process's GatewayManager also learns the config from that push (the child → gateway map).
 * - **back from a gateway**: a command result reaches the front door that holds the gateway's connection. If
 *   this process sent the command, it is handled here; otherwise it goes on `device.reply` (the PUBACK waits
 *   until the bus has it) and the process whose command waits for it takes it.
 *
 * With the in-process bus (one process) the same paths run synchronously in the process.
 */
import type { Bus, Subscription } from '@iip/bus';
import type { GatewayConfig } from '@iip/core';
import type { GatewayLink } from './gateway-manager.js';
import type { GatewayHooks } from './mqtt-broker.js';

/** What the router needs of this process's MQTT server (MqttAccess). */
export interface LocalDelivery {
  publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void>;
}

/** What the router needs of this process's GatewayManager. */
export interface CommandReplies {
  knows(requestId: string): boolean;
  onCommandResult(requestId: string, payload: Buffer): Promise<void>;
  noteConfig(tenant: string, gateway: string, version: number, config: GatewayConfig): void;
}

export interface DeviceRouterStats {
  /** Messages to devices this process put on the bus. */
  sent: number;
  /** Messages to devices this process's MQTT server received from the bus (for whichever device it holds). */
  received: number;
  /** Command results this front door passed on to the other processes. */
  repliesForwarded: number;
  /** Command results from other front doors that answered a command of this process. */
  repliesTaken: number;
  /** Deliveries or replies this process failed to handle (logged). */
  failures: number;
}

export class BusDeviceRouter implements GatewayLink {
  private local: LocalDelivery | undefined;
  private replies: CommandReplies | undefined;
  private readonly subs: Subscription[] = [];
  private readonly counters: DeviceRouterStats = { sent: 0, received: 0, repliesForwarded: 0, repliesTaken: 0, failures: 0 };

  constructor(
    private readonly bus: Bus,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /**
   * Starts taking deliveries and replies from the bus. `local` is this process's MQTT server — omit it in a
   * process without a front door (a worker still sends commands and takes their replies).
   */
  async attach(replies: CommandReplies, local?: LocalDelivery): Promise<void> {
    this.replies = replies;
    this.local = local;
    const deliver = this.bus.subscribe('device.deliver', (m) => this.onDeliver(m));
    const reply = this.bus.subscribe('device.reply', (m) => this.onReply(m));
    this.subs.push(deliver, reply);
    await Promise.all([deliver.ready, reply.ready]);
  }

  /** GatewayLink: resolves once the bus holds the message (NATS: JetStream has it); rejects when it cannot. */
  async publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void> {
    await this.bus.publish('device.deliver', { tenant, device, subtopic, payload, retain: opts.retain, qos: opts.qos });
    this.counters.sent++;
  }

  /** The gateway hooks for MqttAccess: as `inner`'s, with command results for other processes passed on. */
  hooks(inner: GatewayHooks): GatewayHooks {
    return {
      ownerOf: (t, d) => inner.ownerOf(t, d),
      onState: (t, g, p) => inner.onState(t, g, p),
      onConnected: (t, d) => inner.onConnected(t, d),
      onDisconnected: (t, d) => inner.onDisconnected(t, d),
      onCommandResult: async (requestId, payload, tenant, gateway) => {
        if (this.replies?.knows(requestId)) return inner.onCommandResult(requestId, payload, tenant, gateway);
        await this.bus.publish('device.reply', { tenant, device: gateway, requestId, payload: payload.toString('base64') });
        this.counters.repliesForwarded++;
      },
    };
  }

  stats(): DeviceRouterStats {
    return { ...this.counters };
  }

  private async onDeliver(m: { tenant: string; device: string; subtopic: string; payload: string; retain: boolean; qos: 0 | 1 }): Promise<void> {
    if (m.subtopic === 'config' && m.retain) this.learnConfig(m.tenant, m.device, m.payload);
    if (!this.local) return;
    this.counters.received++;
    try {
      await this.local.publishToDevice(m.tenant, m.device, m.subtopic, m.payload, { retain: m.retain, qos: m.qos });
    } catch (e) {
      this.counters.failures++;
      this.log(`device routing: ${m.tenant}/${m.device}/${m.subtopic} not handed to this front door's MQTT server: ${(e as Error).message}`);
    }
  }

  private learnConfig(tenant: string, gateway: string, payload: string): void {
    try {
      const doc = JSON.parse(payload) as { version?: unknown; config?: GatewayConfig };
      if (typeof doc.version === 'number' && doc.config && Array.isArray(doc.config.channels)) this.replies?.noteConfig(tenant, gateway, doc.version, doc.config);
    } catch {
      // Only the GatewayManager publishes configs; one that is not JSON is not a config.
    }
  }

  private async onReply(m: { tenant: string; device: string; requestId: string; payload: string }): Promise<void> {
    const replies = this.replies;
    // Every process sees every reply; only the one that sent the command has it.
    if (!replies?.knows(m.requestId)) return;
    this.counters.repliesTaken++;
    try {
      await replies.onCommandResult(m.requestId, Buffer.from(m.payload, 'base64'));
    } catch (e) {
      this.counters.failures++;
      this.log(`device routing: the answer to command ${m.requestId} of ${m.tenant}/${m.device} was not recorded: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const subs = this.subs.splice(0);
    await Promise.allSettled(subs.map((s) => s.unsubscribe()));
  }
}
