/**
 * EventLogStore on PostgreSQL (event-log.ts): an append takes the tenant's audit lock (a transaction-scoped
 * advisory lock), reads the chain's head and inserts the next event, so processes appending at once keep one
 * chain.
 */
import type { TenantId } from '@iip/core';
import { type AuditEvent, type AuditEventFilter, type AuditEventRow, type EventLogStore, eventHash, GENESIS_HASH, type NewAuditEvent, toAuditEvent } from '../event-log.js';
import type { PgDb } from './pg-db.js';
import { LOCK_AUDIT } from './pg-migrations.js';


export class PgEventLog implements EventLogStore {
  constructor(private readonly db: PgDb) {}

  append(e: NewAuditEvent): Promise<AuditEvent> {
    return this.db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [LOCK_AUDIT, e.tenant]);
      const head =
        (await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_events WHERE tenant = $1 ORDER BY seq DESC LIMIT 1', [e.tenant])).rows[0] ??
        (await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_anchors WHERE tenant = $1', [e.tenant])).rows[0];
      const seq = Number(head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      const fields = { ...e, seq };
      const hash = eventHash(prevHash, fields);
      await c.query(
        'INSERT INTO audit_events (tenant, seq, ts, actor, source, action, target, result, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
        [e.tenant, seq, e.ts, e.actor, e.source, e.action, e.target, e.result, JSON.stringify(e.details), prevHash, hash],
      );
      return { ...fields, prevHash, hash };
    });
  }

  async list(tenant: TenantId, f: AuditEventFilter): Promise<AuditEvent[]> {
    const rows = await this.db.rows<AuditEventRow>(
      `SELECT * FROM audit_events WHERE tenant = $1 AND seq > $2 AND ts >= $3 AND ts < $4
         AND ($5::text IS NULL OR actor = $5) AND ($6::text IS NULL OR action = $6) AND ($7::text IS NULL OR result = $7)
       ORDER BY seq LIMIT $8`,
      [tenant, f.afterSeq ?? 0, f.from ?? 0, f.to ?? Number.MAX_SAFE_INTEGER, f.actor ?? null, f.action ?? null, f.result ?? null, f.limit],
    );
    return rows.map(toAuditEvent);
  }

  deleteBefore(tenant: TenantId, cutoff: number): Promise<number> {
    return this.db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [LOCK_AUDIT, tenant]);
      const last = (await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_events WHERE tenant = $1 AND ts < $2 ORDER BY seq DESC LIMIT 1', [tenant, cutoff])).rows[0];
      if (!last) return 0;
      const n = (await c.query('DELETE FROM audit_events WHERE tenant = $1 AND seq <= $2', [tenant, last.seq])).rowCount ?? 0;
      await c.query('INSERT INTO audit_anchors (tenant, seq, hash) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash', [tenant, last.seq, last.hash]);
      return n;
    });
  }

  async anchor(tenant: TenantId): Promise<{ seq: number; hash: string } | undefined> {
    const [r] = await this.db.rows<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_anchors WHERE tenant = $1', [tenant]);
    return r && { seq: Number(r.seq), hash: r.hash };
  }

  async tenants(): Promise<string[]> {
    return (await this.db.rows<{ tenant: string }>('SELECT tenant FROM audit_events UNION SELECT tenant FROM audit_anchors ORDER BY 1')).map((r) => r.tenant);
  }
}
