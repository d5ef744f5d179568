/**
 * DeviceEventStore on SQLite (device-events.ts): an append advances the tenant's counter in device_event_seqs
 * and inserts its events in one BEGIN IMMEDIATE transaction, so a second process appending to the same file
 * waits and continues after it, and a failing event leaves neither events nor a used seq behind.
 */
import type Database from 'better-sqlite3';
import type { DeviceId, TenantId } from '@iip/core';
import { byTenant, type DeviceEvent, type DeviceEventFilter, type DeviceEventRow, type DeviceEventStore, type NewDeviceEvent, toDeviceEvent } from '../device-events.js';

const FILTER = `ts >= @from AND ts < @to AND seq > @after AND (ts > @afterTs OR (ts = @afterTs AND seq > @afterTsSeq))
  AND (@event IS NULL OR event = @event) AND (@level IS NULL OR level = @level)`;

const filterParams = (f: DeviceEventFilter) => ({
  from: f.from ?? Number.MIN_SAFE_INTEGER,
  to: f.to ?? Number.MAX_SAFE_INTEGER,
  after: f.afterSeq ?? 0,
  afterTs: f.after?.ts ?? Number.MIN_SAFE_INTEGER,
  afterTsSeq: f.after?.seq ?? 0,
  event: f.event ?? null,
  level: f.level ?? null,
  limit: f.limit,
});

export class SqliteDeviceEvents implements DeviceEventStore {
  private readonly s;
  private readonly appendTx: (events: readonly NewDeviceEvent[]) => DeviceEvent[];

  constructor(db: Database.Database) {
    this.s = {
      advance: db.prepare(
        'INSERT INTO device_event_seqs (tenant, seq) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET seq = seq + excluded.seq RETURNING seq',
      ),
      insert: db.prepare('INSERT INTO device_events (tenant, seq, device, event, ts, received_at, level, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      byDevice: db.prepare(`SELECT * FROM device_events WHERE tenant = @tenant AND device = @device AND ${FILTER} ORDER BY ts, seq LIMIT @limit`),
      byTenant: db.prepare(`SELECT * FROM device_events WHERE tenant = @tenant AND ${FILTER} ORDER BY seq LIMIT @limit`),
      deleteDevice: db.prepare('DELETE FROM device_events WHERE tenant = ? AND device = ?'),
      deleteBefore: db.prepare('DELETE FROM device_events WHERE tenant = ? AND ts < ?'),
    };
    this.appendTx = db.transaction((events: readonly NewDeviceEvent[]): DeviceEvent[] => {
      const out: DeviceEvent[] = new Array(events.length);
      for (const [tenant, positions] of byTenant(events)) {
        const last = (this.s.advance.get(tenant, positions.length) as { seq: number }).seq;
        positions.forEach((i, k) => {
          const e = events[i] as NewDeviceEvent;
          const stored: DeviceEvent = { ...e, seq: last - positions.length + 1 + k };
          this.s.insert.run(e.tenant, stored.seq, e.device, e.event, e.ts, e.receivedAt, e.level, JSON.stringify(e.data));
          out[i] = stored;
        });
      }
      return out;
    }).immediate;
  }

  async append(events: readonly NewDeviceEvent[]): Promise<DeviceEvent[]> {
    return events.length === 0 ? [] : this.appendTx(events);
  }

  async listByDevice(tenant: TenantId, device: DeviceId, f: DeviceEventFilter): Promise<DeviceEvent[]> {
    return (this.s.byDevice.all({ tenant, device, ...filterParams(f) }) as DeviceEventRow[]).map(toDeviceEvent);
  }

  async listByTenant(tenant: TenantId, f: DeviceEventFilter): Promise<DeviceEvent[]> {
    return (this.s.byTenant.all({ tenant, ...filterParams(f) }) as DeviceEventRow[]).map(toDeviceEvent);
  }

  async deleteDevice(tenant: TenantId, device: DeviceId): Promise<number> {
    return this.s.deleteDevice.run(tenant, device).changes;
  }

  async deleteBefore(tenant: TenantId, cutoff: number): Promise<number> {
    return this.s.deleteBefore.run(tenant, cutoff).changes;
  }
}
