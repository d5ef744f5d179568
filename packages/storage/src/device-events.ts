/**
 * Device events (issue 13): what a device announced ("overheat" with its output values), validated against its
 * thing model by the caller and stored per tenant. Each event gets the tenant's next seq inside the append
 * transaction; seqs are never handed out twice, not even after the events holding them were deleted (the
 * adapters keep each tenant's last seq in `device_event_seqs`), so a reader paging with `afterSeq` never misses
 * an event or sees one twice.
 */
import type { DeviceId, TenantId } from '@iip/core';

export type DeviceEventLevel = 'info' | 'warn' | 'alert';

/** One event a device announced, validated against its thing model by the caller. */
export interface NewDeviceEvent {
  readonly tenant: TenantId;
  readonly device: DeviceId;
  /** The thing model's event id. */
  readonly event: string;
  /** When it happened (device time, Unix ms). */
  readonly ts: number;
  /** When the platform received it (Unix ms). */
  readonly receivedAt: number;
  readonly level: DeviceEventLevel;
  /** The event's output values, by output id (JSON-serialisable). */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface DeviceEvent extends NewDeviceEvent {
  /** Per-tenant increasing sequence number, assigned by the store. */
  readonly seq: number;
}

export interface DeviceEventFilter {
  /** ts >= from */
  readonly from?: number;
  /** ts < to */
  readonly to?: number;
  readonly event?: string;
  readonly level?: DeviceEventLevel;
  /** Only events with seq > afterSeq (paging in seq order: listByTenant). */
  readonly afterSeq?: number;
  /**
   * Only events after this (ts, seq) in (ts, seq) order (paging listByDevice: an event that arrives late with an
   * older ts still sorts where its ts puts it, so a seq cursor could skip it there).
   */
  readonly after?: { readonly ts: number; readonly seq: number };
  readonly limit: number;
}

export interface DeviceEventStore {
  /** Stores the events in one transaction (all or none) and returns them with their seq, in the given order. */
  append(events: readonly NewDeviceEvent[]): Promise<DeviceEvent[]>;
  /** One device's events, oldest first by (ts, seq), filtered. */
  listByDevice(tenant: TenantId, device: DeviceId, filter: DeviceEventFilter): Promise<DeviceEvent[]>;
  /** A tenant's events of every device, oldest first by seq (for exports and, later, the rule engine). */
  listByTenant(tenant: TenantId, filter: DeviceEventFilter): Promise<DeviceEvent[]>;
  /** Deletes one device's events (the device was deleted); returns how many. */
  deleteDevice(tenant: TenantId, device: DeviceId): Promise<number>;
  /** Deletes a tenant's events with ts < cutoff (retention); returns how many. */
  deleteBefore(tenant: TenantId, cutoff: number): Promise<number>;
}

/** An event as both adapters store it (data as JSON text). */
export interface DeviceEventRow {
  tenant: string;
  seq: number;
  device: string;
  event: string;
  ts: number;
  received_at: number;
  level: DeviceEventLevel;
  data: string;
}

export const toDeviceEvent = (r: DeviceEventRow): DeviceEvent => ({
  tenant: r.tenant as TenantId,
  device: r.device as DeviceId,
  event: r.event,
  ts: Number(r.ts),
  receivedAt: Number(r.received_at),
  level: r.level,
  data: JSON.parse(r.data) as Record<string, unknown>,
  seq: Number(r.seq),
});

/**
 * The events of one append grouped by tenant, tenants sorted (the PostgreSQL adapter takes their counter rows
 * in this one order, so two batches spanning the same tenants cannot deadlock), each with the positions of its
 * events in the batch.
 */
export function byTenant(events: readonly NewDeviceEvent[]): Array<[TenantId, number[]]> {
  const groups = new Map<TenantId, number[]>();
  events.forEach((e, i) => {
    const g = groups.get(e.tenant);
    if (g) g.push(i);
    else groups.set(e.tenant, [i]);
  });
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
