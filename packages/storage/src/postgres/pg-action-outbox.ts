/**
 * ActionOutbox on PostgreSQL (action-ports.ts): rule actions stored as jobs, claimed with a lease, completed,
 * retried and purged, by any number of platform processes on one database.
 *
 * A claim is one statement: it locks the first due jobs with FOR UPDATE SKIP LOCKED and sets their leases. A
 * concurrent claim skips the rows this one holds instead of waiting for them, and a row whose lease another
 * claim set and committed meanwhile is re-checked against the WHERE on its newest version (READ COMMITTED) and
 * left out, so no job is claimed twice while its lease lasts. Every other change is one statement whose WHERE
 * holds its condition (complete and retry check the state they start from).
 */
import type { TenantId } from '@iip/core';
import type { ActionJob, ActionJobFilter, ActionJobState, ActionOutbox, ActionOutcome, NewActionJob } from '../action-ports.js';
import { type ActionJobRow, encodeJobs, newSigningSecret, toActionJob } from '../action-rows.js';
import type { PgDb } from './pg-db.js';

export class PgActionOutbox implements ActionOutbox {
  constructor(private readonly db: PgDb) {}

  async enqueue(jobs: readonly NewActionJob[], now: number): Promise<number> {
    const encoded = encodeJobs(jobs);
    if (encoded.length === 0) return 0;
    // One statement, so all or nothing. encodeJobs sorts by (tenant, id): two processes enqueueing the same
    // re-delivered jobs take the unique index's locks in one order, and the second waits instead of deadlocking.
    const { rowCount } = await this.db.query(
      `INSERT INTO action_jobs (tenant, id, rule, device, kind, payload, state, attempts, due_at, created_at, updated_at, last_error, lease_until)
       SELECT t, i, r, d, k, p, 'pending', 0, due, $8::bigint, $8::bigint, NULL, 0
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS u(t, i, r, d, k, p, due)
       ON CONFLICT (tenant, id) DO NOTHING`,
      [
        encoded.map((e) => e.job.tenant),
        encoded.map((e) => e.job.id),
        encoded.map((e) => e.job.rule),
        encoded.map((e) => e.job.device),
        encoded.map((e) => e.job.kind),
        encoded.map((e) => e.payload),
        encoded.map((e) => e.job.dueAt),
        now,
      ],
    );
    return rowCount ?? 0;
  }

  async claimDue(kinds: readonly string[], now: number, leaseMs: number, limit: number): Promise<ActionJob[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    // MATERIALIZED: the locking SELECT runs once, whatever join the planner picks for the UPDATE. RETURNING has
    // no order of its own, hence the outer SELECT.
    const rows = await this.db.rows<ActionJobRow>(
      `WITH due AS MATERIALIZED (
         SELECT tenant, id FROM action_jobs
          WHERE state = 'pending' AND due_at <= $2 AND lease_until <= $2 AND kind = ANY($1::text[])
          ORDER BY due_at, created_at, tenant, id LIMIT $4
          FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE action_jobs j SET lease_until = $3 FROM due WHERE j.tenant = due.tenant AND j.id = due.id RETURNING j.*
       )
       SELECT * FROM claimed ORDER BY due_at, created_at, tenant, id`,
      [kinds, now, now + leaseMs, limit],
    );
    return rows.map(toActionJob);
  }

  async complete(tenant: TenantId, id: string, outcome: ActionOutcome, now: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE action_jobs SET state = $3::text, attempts = attempts + 1, due_at = coalesce($4::bigint, due_at),
         last_error = CASE WHEN $3::text = 'done' THEN last_error ELSE $5::text END, updated_at = $6, lease_until = 0
       WHERE tenant = $1 AND id = $2 AND state = 'pending'`,
      [tenant, id, outcome.state, outcome.state === 'pending' ? outcome.dueAt : null, outcome.state === 'done' ? null : outcome.error, now],
    );
    return (rowCount ?? 0) > 0;
  }

  async get(tenant: TenantId, id: string): Promise<ActionJob | undefined> {
    const [row] = await this.db.rows<ActionJobRow>('SELECT * FROM action_jobs WHERE tenant = $1 AND id = $2', [tenant, id]);
    return row ? toActionJob(row) : undefined;
  }

  async list(tenant: TenantId, f: ActionJobFilter): Promise<ActionJob[]> {
    const rows = await this.db.rows<ActionJobRow>(
      `SELECT * FROM action_jobs WHERE tenant = $1
         AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR rule = $3) AND ($4::text IS NULL OR device = $4)
         AND ($5::bigint IS NULL OR created_at < $5 OR (created_at = $5 AND id < $6::text))
       ORDER BY created_at DESC, id DESC LIMIT $7`,
      [tenant, f.state ?? null, f.rule ?? null, f.device ?? null, f.before?.createdAt ?? null, f.before?.id ?? null, f.limit],
    );
    return rows.map(toActionJob);
  }

  async counts(tenant: TenantId): Promise<Record<ActionJobState, number>> {
    const out: Record<ActionJobState, number> = { pending: 0, done: 0, dead: 0 };
    const rows = await this.db.rows<{ state: ActionJobState; n: number }>('SELECT state, count(*) AS n FROM action_jobs WHERE tenant = $1 GROUP BY state', [tenant]);
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  async retry(tenant: TenantId, id: string, now: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE action_jobs SET state = 'pending', due_at = $3, attempts = 0, lease_until = 0, updated_at = $3
       WHERE tenant = $1 AND id = $2 AND state = 'dead'`,
      [tenant, id, now],
    );
    return (rowCount ?? 0) > 0;
  }

  async purge(before: number): Promise<number> {
    const { rowCount } = await this.db.query("DELETE FROM action_jobs WHERE state IN ('done', 'dead') AND updated_at < $1", [before]);
    return rowCount ?? 0;
  }

  async deleteTenant(tenant: TenantId): Promise<number> {
    return this.db.tx(async (c) => {
      await c.query('DELETE FROM action_signing_secrets WHERE tenant = $1', [tenant]);
      const { rowCount } = await c.query('DELETE FROM action_jobs WHERE tenant = $1', [tenant]);
      return rowCount ?? 0;
    });
  }

  async signingSecret(tenant: TenantId): Promise<string> {
    const read = async () => (await this.db.rows<{ secret: string }>('SELECT secret FROM action_signing_secrets WHERE tenant = $1', [tenant]))[0]?.secret;
    const stored = await read();
    if (stored !== undefined) return stored;
    // Of two processes making the first secret at once, the first insert wins (the second waits for its commit,
    // then does nothing) and both read it.
    await this.db.query('INSERT INTO action_signing_secrets (tenant, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING', [
      tenant,
      newSigningSecret(),
      Date.now(),
    ]);
    return (await read())!;
  }

  async rotateSigningSecret(tenant: TenantId): Promise<string> {
    const secret = newSigningSecret();
    await this.db.query(
      `INSERT INTO action_signing_secrets (tenant, secret, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (tenant) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
      [tenant, secret, Date.now()],
    );
    return secret;
  }
}
