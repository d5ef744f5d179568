/**
 * EventLogStore on SQLite (event-log.ts): the seq and hash of an appended event are read and written in one
 * BEGIN IMMEDIATE transaction, so a second process appending to the same file waits and continues the chain.
 */
import type Database from 'better-sqlite3';
import type { TenantId } from '@iip/core';
import { type AuditEvent, type AuditEventFilter, type AuditEventRow, type EventLogStore, eventHash, GENESIS_HASH, type NewAuditEvent, toAuditEvent } from '../event-log.js';


export class SqliteEventLog implements EventLogStore {
  private readonly s;
  private readonly appendTx: (e: NewAuditEvent) => AuditEvent;
  private readonly deleteTx: (tenant: TenantId, cutoff: number) => number;

  constructor(db: Database.Database) {
    this.s = {
      head: db.prepare('SELECT seq, hash FROM audit_events WHERE tenant = ? ORDER BY seq DESC LIMIT 1'),
      anchor: db.prepare('SELECT seq, hash FROM audit_anchors WHERE tenant = ?'),
      insert: db.prepare(
        'INSERT INTO audit_events (tenant, seq, ts, actor, source, action, target, result, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      list: db.prepare(
        `SELECT * FROM audit_events WHERE tenant = @tenant AND seq > @after AND ts >= @from AND ts < @to
           AND (@actor IS NULL OR actor = @actor) AND (@action IS NULL OR action = @action) AND (@result IS NULL OR result = @result)
         ORDER BY seq LIMIT @limit`,
      ),
      lastBefore: db.prepare('SELECT seq, hash FROM audit_events WHERE tenant = ? AND ts < ? ORDER BY seq DESC LIMIT 1'),
      deleteUpTo: db.prepare('DELETE FROM audit_events WHERE tenant = ? AND seq <= ?'),
      setAnchor: db.prepare('INSERT INTO audit_anchors (tenant, seq, hash) VALUES (?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq, hash = excluded.hash'),
      tenants: db.prepare('SELECT DISTINCT tenant FROM audit_events UNION SELECT tenant FROM audit_anchors ORDER BY 1'),
    };
    this.appendTx = db.transaction((e: NewAuditEvent): AuditEvent => {
      const head = (this.s.head.get(e.tenant) ?? this.s.anchor.get(e.tenant)) as { seq: number; hash: string } | undefined;
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      const fields = { ...e, seq };
      const hash = eventHash(prevHash, fields);
      this.s.insert.run(e.tenant, seq, e.ts, e.actor, e.source, e.action, e.target, e.result, JSON.stringify(e.details), prevHash, hash);
      return { ...fields, prevHash, hash };
    }).immediate;
    this.deleteTx = db.transaction((tenant: TenantId, cutoff: number): number => {
      const last = this.s.lastBefore.get(tenant, cutoff) as { seq: number; hash: string } | undefined;
      if (!last) return 0;
      const n = this.s.deleteUpTo.run(tenant, last.seq).changes;
      this.s.setAnchor.run(tenant, last.seq, last.hash);
      return n;
    }).immediate;
  }

  async append(e: NewAuditEvent): Promise<AuditEvent> {
    return this.appendTx(e);
  }

  async list(tenant: TenantId, f: AuditEventFilter): Promise<AuditEvent[]> {
    const rows = this.s.list.all({
      tenant,
      after: f.afterSeq ?? 0,
      from: f.from ?? 0,
      to: f.to ?? Number.MAX_SAFE_INTEGER,
      actor: f.actor ?? null,
      action: f.action ?? null,
      result: f.result ?? null,
      limit: f.limit,
    }) as AuditEventRow[];
    return rows.map(toAuditEvent);
  }

  async deleteBefore(tenant: TenantId, cutoff: number): Promise<number> {
    return this.deleteTx(tenant, cutoff);
  }

  async anchor(tenant: TenantId): Promise<{ seq: number; hash: string } | undefined> {
    const r = this.s.anchor.get(tenant) as { seq: number; hash: string } | undefined;
    return r && { seq: Number(r.seq), hash: r.hash };
  }

  async tenants(): Promise<string[]> {
    return (this.s.tenants.all() as Array<{ tenant: string }>).map((r) => r.tenant);
  }
}
