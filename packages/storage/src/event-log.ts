/**
 * The audit event log (issue 12): every state-changing request and every security event, per tenant, append-only
 * and hash-chained. Each event's hash is SHA-256 over the previous event's hash and the event's own fields in a
 * fixed order, so changing, inserting or removing an event anywhere but at the end breaks the chain at that
 * point (`verifyEventChain`). Retention deletes the oldest events and keeps an anchor — the seq and hash of the
 * last one deleted — so the rest still verifies. The stores compute seq and hash inside their own transaction
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: a per-tenant advisory lock), so concurrent writers keep one chain.
 */
import { createHash } from 'node:crypto';
import type { TenantId } from '@iip/core';

export type AuditResult = 'ok' | 'denied' | 'failed';

export interface AuditEvent {
  readonly tenant: TenantId;
  /** 1, 2, 3… within the tenant, assigned by the store. */
  readonly seq: number;
  /** Unix ms (shown as UTC). */
  readonly ts: number;
  /** The user name, `device:<id>`, or `-` when nobody was identified. */
  readonly actor: string;
  /** The source address. */
  readonly source: string;
  /** What was attempted: `POST /api/v1/devices/:id/properties/:prop/write`, `auth.login`… */
  readonly action: string;
  /** What it was attempted on (ids), or ''. */
  readonly target: string;
  readonly result: AuditResult;
  /** HTTP status, error code, and whatever else the writer adds. */
  readonly details: Readonly<Record<string, unknown>>;
  readonly prevHash: string;
  readonly hash: string;
}

export type NewAuditEvent = Omit<AuditEvent, 'seq' | 'prevHash' | 'hash'>;

export interface AuditEventFilter {
  readonly from?: number;
  readonly to?: number;
  readonly actor?: string;
  readonly action?: string;
  readonly result?: AuditResult;
  /** Events after this seq (paging). */
  readonly afterSeq?: number;
  readonly limit: number;
}

export interface EventLogStore {
  /** Appends with the tenant's next seq and the chained hash; returns the event as stored. */
  append(e: NewAuditEvent): Promise<AuditEvent>;
  /** The tenant's events in seq order (oldest first), filtered. */
  list(tenant: TenantId, filter: AuditEventFilter): Promise<AuditEvent[]>;
  /** Deletes the tenant's events older than `cutoff` (Unix ms), keeping the anchor; returns how many. */
  deleteBefore(tenant: TenantId, cutoff: number): Promise<number>;
  /** Where the tenant's chain starts after retention (seq and hash of the last deleted event), if anything was deleted. */
  anchor(tenant: TenantId): Promise<{ seq: number; hash: string } | undefined>;
  /** Tenants that have events. */
  tenants(): Promise<string[]>;
}

/** An event as both adapters store it (details as JSON text). */
export interface AuditEventRow {
  tenant: string;
  seq: number;
  ts: number;
  actor: string;
  source: string;
  action: string;
  target: string;
  result: AuditResult;
  details: string;
  prev_hash: string;
  hash: string;
}

export const toAuditEvent = (r: AuditEventRow): AuditEvent => ({
  tenant: r.tenant as TenantId,
  seq: Number(r.seq),
  ts: Number(r.ts),
  actor: r.actor,
  source: r.source,
  action: r.action,
  target: r.target,
  result: r.result,
  details: JSON.parse(r.details) as Record<string, unknown>,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** The hash of the empty chain's predecessor. */
export const GENESIS_HASH = '0'.repeat(64);

/** The canonical bytes of an event (without its hashes): fields in a fixed order, details with sorted keys. */
function canonical(e: Omit<AuditEvent, 'prevHash' | 'hash'>): string {
  const details = Object.keys(e.details)
    .sort()
    .map((k) => [k, e.details[k]]);
  return JSON.stringify([e.tenant, e.seq, e.ts, e.actor, e.source, e.action, e.target, e.result, details]);
}

export function eventHash(prevHash: string, e: Omit<AuditEvent, 'prevHash' | 'hash'>): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical(e)).digest('hex');
}

export interface ChainReport {
  readonly tenant: string;
  readonly events: number;
  readonly ok: boolean;
  /** The first event that does not verify, and why. */
  readonly brokenAt?: { readonly seq: number; readonly reason: string };
  readonly headSeq: number;
  readonly headHash: string;
}

/** Checks a tenant's chain: consecutive seqs from the anchor, each prevHash the previous hash, each hash recomputed. */
export function verifyEventChain(tenant: string, events: readonly AuditEvent[], anchor?: { seq: number; hash: string }): ChainReport {
  let prevSeq = anchor?.seq ?? 0;
  let prevHash = anchor?.hash ?? GENESIS_HASH;
  for (const e of events) {
    const broken = (reason: string): ChainReport => ({ tenant, events: events.length, ok: false, brokenAt: { seq: e.seq, reason }, headSeq: prevSeq, headHash: prevHash });
    if (e.seq !== prevSeq + 1) return broken(`expected seq ${prevSeq + 1}, found ${e.seq} (events missing or inserted)`);
    if (e.prevHash !== prevHash) return broken('its previous-hash does not match the event before it');
    const { prevHash: _p, hash: _h, ...fields } = e;
    if (eventHash(prevHash, fields) !== e.hash) return broken('its content does not match its hash (changed after it was written)');
    prevSeq = e.seq;
    prevHash = e.hash;
  }
  return { tenant, events: events.length, ok: true, headSeq: prevSeq, headHash: prevHash };
}
