/**
 * DeviceEventStore on PostgreSQL (device-events.ts).
 *
 * Seq: an append advances the tenant's counter row in device_event_seqs (an upsert returning the new last seq)
 * and inserts its events with the seqs below it, in one transaction. The upsert's row lock is held until
 * commit, so it serialises the appends of one tenant across processes the way an advisory lock would (the
 * audit log's LOCK_AUDIT), while appends of different tenants run side by side; a second append of the tenant
 * gets its seqs only after the first has committed, so seq order is commit order and a reader paging with
 * `afterSeq` never skips an event that commits late. A PostgreSQL sequence would not give that (its numbers are
 * handed out outside the transaction: a later seq can commit first), and max(seq)+1 under an advisory lock
 * would hand out again the seqs of the newest events once they are deleted. A batch spanning several tenants
 * takes their rows in sorted order (byTenant), so two such batches cannot deadlock.
 */
import type { DeviceId, TenantId } from '@iip/core';
import { byTenant, type DeviceEvent, type DeviceEventFilter, type DeviceEventRow, type DeviceEventStore, type NewDeviceEvent, toDeviceEvent } from '../device-events.js';
import type { PgDb } from './pg-db.js';

/** The filter's conditions; `ts` and `seq` are the placeholders of the (ts, seq) cursor. */
const filter = (ts: string, seq: string) =>
  `ts >= $2 AND ts < $3 AND seq > $4 AND ($5::text IS NULL OR event = $5) AND ($6::text IS NULL OR level = $6) AND (ts > ${ts} OR (ts = ${ts} AND seq > ${seq}))`;

const filterParams = (f: DeviceEventFilter) => [
  f.from ?? Number.MIN_SAFE_INTEGER,
  f.to ?? Number.MAX_SAFE_INTEGER,
  f.afterSeq ?? 0,
  f.event ?? null,
  f.level ?? null,
  f.limit,
];

export class PgDeviceEvents implements DeviceEventStore {
  constructor(private readonly db: PgDb) {}

  async append(events: readonly NewDeviceEvent[]): Promise<DeviceEvent[]> {
    if (events.length === 0) return [];
    // Serialised before the transaction: data that is not JSON fails here, before anything is written.
    const data = events.map((e) => JSON.stringify(e.data));
    return this.db.tx(async (c) => {
      const out: DeviceEvent[] = new Array(events.length);
      for (const [tenant, positions] of byTenant(events)) {
        const { rows } = await c.query<{ seq: number }>(
          `INSERT INTO device_event_seqs (tenant, seq) VALUES ($1, $2)
           ON CONFLICT (tenant) DO UPDATE SET seq = device_event_seqs.seq + excluded.seq RETURNING seq`,
          [tenant, positions.length],
        );
        const first = Number(rows[0]?.seq) - positions.length + 1;
        positions.forEach((i, k) => {
          out[i] = { ...(events[i] as NewDeviceEvent), seq: first + k };
        });
      }
      await c.query(
        `INSERT INTO device_events (tenant, seq, device, event, ts, received_at, level, data)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[])`,
        [
          out.map((e) => e.tenant),
          out.map((e) => e.seq),
          out.map((e) => e.device),
          out.map((e) => e.event),
          out.map((e) => e.ts),
          out.map((e) => e.receivedAt),
          out.map((e) => e.level),
          data,
        ],
      );
      return out;
    });
  }

  async listByDevice(tenant: TenantId, device: DeviceId, f: DeviceEventFilter): Promise<DeviceEvent[]> {
    const rows = await this.db.rows<DeviceEventRow>(
      `SELECT * FROM device_events WHERE tenant = $1 AND device = $8 AND ${filter('$9', '$10')} ORDER BY ts, seq LIMIT $7`,
      [tenant, ...filterParams(f), device, f.after?.ts ?? Number.MIN_SAFE_INTEGER, f.after?.seq ?? 0],
    );
    return rows.map(toDeviceEvent);
  }

  async listByTenant(tenant: TenantId, f: DeviceEventFilter): Promise<DeviceEvent[]> {
    const rows = await this.db.rows<DeviceEventRow>(`SELECT * FROM device_events WHERE tenant = $1 AND ${filter('$8', '$9')} ORDER BY seq LIMIT $7`, [
      tenant,
      ...filterParams(f),
      f.after?.ts ?? Number.MIN_SAFE_INTEGER,
      f.after?.seq ?? 0,
    ]);
    return rows.map(toDeviceEvent);
  }

  async deleteDevice(tenant: TenantId, device: DeviceId): Promise<number> {
    return (await this.db.query('DELETE FROM device_events WHERE tenant = $1 AND device = $2', [tenant, device])).rowCount ?? 0;
  }

  async deleteBefore(tenant: TenantId, cutoff: number): Promise<number> {
    return (await this.db.query('DELETE FROM device_events WHERE tenant = $1 AND ts < $2', [tenant, cutoff])).rowCount ?? 0;
  }
}
