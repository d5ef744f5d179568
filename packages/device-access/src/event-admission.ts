/**
 * The one gate for device events (issue 13, point 1), for every transport (MQTT `…/events`, a gateway's
 * `…/devices/{id}/events`, HTTP): the device is looked up, its message validated against the thing model's event
 * definitions (all or nothing), and the events stored. `admitRaw` resolves once they are durable, so a transport
 * acknowledges only what is stored; a refusal (4xx IipError) stores nothing and tells the sender why; a failed
 * store (5xx) must not be acknowledged.
 */
import { type DeviceId, DEFAULT_INGEST_LIMITS, EventValidator, IipError, type IngestLimits, type TelemetryValidator, type TenantId } from '@iip/core';
import type { Bus } from '@iip/bus';
import type { DeviceEvent, DeviceEventStore } from '@iip/storage';
import type { DeviceDirectory } from './directory.js';

export interface EventAdmissionStats {
  acceptedMessages: number;
  acceptedEvents: number;
  rejectedMessages: number;
  rejectedByCode: Record<string, number>;
}

/** `{"event": "iip.rule", …}` parsed, or undefined for any other message (a cheap look before parsing). */
function edgeRuleBody(raw: Uint8Array | string): unknown {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  if (!text.includes('"iip.rule"')) return undefined;
  try {
    const v = JSON.parse(text) as { event?: unknown } | null;
    return v !== null && typeof v === 'object' && !Array.isArray(v) && v.event === 'iip.rule' ? v : undefined;
  } catch {
    return undefined;
  }
}

export class EventAdmission {
  private readonly counters: EventAdmissionStats = { acceptedMessages: 0, acceptedEvents: 0, rejectedMessages: 0, rejectedByCode: {} };
  /** One event validator per product version (the directory keeps one telemetry validator per version). */
  private readonly validators = new WeakMap<TelemetryValidator, EventValidator>();

  constructor(
    private readonly directory: DeviceDirectory,
    private readonly store: Pick<DeviceEventStore, 'append'>,
    readonly limits: IngestLimits = DEFAULT_INGEST_LIMITS,
    private readonly now: () => number = Date.now,
    /** Stored events go onto this bus (`device.events`) for rules' event triggers, before the sender is acknowledged. */
    private readonly bus?: Pick<Bus, 'publish'>,
    /**
     * An edge rule's raise or clear (`{"event": "iip.rule", …}`), sent by a gateway for its child device: applied by
     * the platform (the alarm, the rule's actions) before the gateway is acknowledged. Without it such messages are
     * refused like any event the thing model does not have.
     */
    private readonly edgeRule?: (tenant: string, device: string, gateway: string, body: unknown) => Promise<void>,
  ) {}

  /**
   * Validates and stores the events of one message of an already-authenticated device; `gateway` is the gateway that
   * sent it for its child device, if one did (only a gateway reports edge rules' transitions).
   */
  async admitRaw(tenant: string, device: string, raw: Uint8Array | string, gateway?: string): Promise<DeviceEvent[]> {
    try {
      if (gateway !== undefined && this.edgeRule) {
        const body = edgeRuleBody(raw);
        if (body !== undefined) {
          await this.edgeRule(tenant, device, gateway, body);
          this.counters.acceptedMessages++;
          return [];
        }
      }
      const entry = await this.directory.lookup(tenant, device);
      if (!entry) throw new IipError('IIP_ERR_DEVICE_UNKNOWN', `device "${device}" does not exist in tenant "${tenant}"`, { tenant, device });
      if (entry.suspended !== undefined) throw new IipError('IIP_ERR_TENANT_SUSPENDED', `tenant "${tenant}" is suspended (${entry.suspended}); nothing is stored`, { tenant, reason: entry.suspended });
      let validator = this.validators.get(entry.validator);
      if (!validator) {
        validator = new EventValidator(entry.validator.model);
        this.validators.set(entry.validator, validator);
      }
      const receivedAt = this.now();
      const parsed = validator.parse(raw, receivedAt, this.limits);
      const stored = await this.store.append(parsed.map((e) => ({ tenant: tenant as TenantId, device: device as DeviceId, receivedAt, ...e })));
      // Not acknowledged unless the bus holds them too: when it cannot take them (a 5xx), the device sends again and
      // the events are stored a second time — a repeat in the history rather than a rule that never heard of them.
      if (this.bus && stored.length > 0) {
        await this.bus.publish('device.events', { tenant, device, events: stored.map((e) => ({ event: e.event, ts: e.ts, level: e.level, data: e.data, seq: e.seq })) });
      }
      this.counters.acceptedMessages++;
      this.counters.acceptedEvents += stored.length;
      return stored;
    } catch (e) {
      const code = e instanceof IipError ? e.code : 'IIP_ERR_INTERNAL';
      this.counters.rejectedMessages++;
      this.counters.rejectedByCode[code] = (this.counters.rejectedByCode[code] ?? 0) + 1;
      throw e;
    }
  }

  stats(): EventAdmissionStats {
    return { ...this.counters, rejectedByCode: { ...this.counters.rejectedByCode } };
  }
}
