/**
 * ActionOutbox on SQLite (action-ports.ts): rule actions stored as jobs, claimed with a lease, completed, retried
 * and purged. A claim reads the due jobs and sets their leases in one BEGIN IMMEDIATE transaction, which takes the
 * file's write lock before it reads, so of two processes on one file the second waits and then sees the first's
 * leases: a job is never claimed twice while its lease lasts. Every other change is one statement whose WHERE
 * holds its condition (complete and retry check the state they start from).
 */
import type Database from 'better-sqlite3';
import type { TenantId } from '@iip/core';
import type { ActionJob, ActionJobFilter, ActionJobState, ActionOutbox, ActionOutcome, NewActionJob } from '../action-ports.js';
import { type ActionJobRow, encodeJobs, newSigningSecret, toActionJob } from '../action-rows.js';

export class SqliteActionOutbox implements ActionOutbox {
  private readonly s;
  private readonly enqueueTx: (jobs: ReturnType<typeof encodeJobs>, now: number) => number;
  private readonly claimTx: (kinds: string, now: number, leaseUntil: number, limit: number) => ActionJobRow[];
  private readonly deleteTenantTx: (tenant: TenantId) => number;

  constructor(db: Database.Database) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO action_jobs (tenant, id, rule, device, kind, payload, state, attempts, due_at, created_at, updated_at, last_error, lease_until)
         VALUES (@tenant, @id, @rule, @device, @kind, @payload, 'pending', 0, @dueAt, @now, @now, NULL, 0)
         ON CONFLICT (tenant, id) DO NOTHING`,
      ),
      // The literal state = 'pending' lets SQLite use the partial index action_jobs_due, which is in this order.
      due: db.prepare(
        `SELECT * FROM action_jobs
          WHERE state = 'pending' AND due_at <= @now AND lease_until <= @now AND kind IN (SELECT value FROM json_each(@kinds))
          ORDER BY due_at, created_at, tenant, id LIMIT @limit`,
      ),
      lease: db.prepare('UPDATE action_jobs SET lease_until = ? WHERE tenant = ? AND id = ?'),
      complete: db.prepare(
        `UPDATE action_jobs SET state = @state, attempts = attempts + 1, due_at = coalesce(@dueAt, due_at),
           last_error = CASE WHEN @state = 'done' THEN last_error ELSE @error END, updated_at = @now, lease_until = 0
         WHERE tenant = @tenant AND id = @id AND state = 'pending'`,
      ),
      get: db.prepare('SELECT * FROM action_jobs WHERE tenant = ? AND id = ?'),
      list: db.prepare(
        `SELECT * FROM action_jobs WHERE tenant = @tenant
           AND (@state IS NULL OR state = @state) AND (@rule IS NULL OR rule = @rule) AND (@device IS NULL OR device = @device)
           AND (@beforeTs IS NULL OR created_at < @beforeTs OR (created_at = @beforeTs AND id < @beforeId))
         ORDER BY created_at DESC, id DESC LIMIT @limit`,
      ),
      counts: db.prepare('SELECT state, count(*) AS n FROM action_jobs WHERE tenant = ? GROUP BY state'),
      retry: db.prepare(
        `UPDATE action_jobs SET state = 'pending', due_at = @now, attempts = 0, lease_until = 0, updated_at = @now
         WHERE tenant = @tenant AND id = @id AND state = 'dead'`,
      ),
      purge: db.prepare("DELETE FROM action_jobs WHERE state IN ('done', 'dead') AND updated_at < ?"),
      deleteJobs: db.prepare('DELETE FROM action_jobs WHERE tenant = ?'),
      deleteSecret: db.prepare('DELETE FROM action_signing_secrets WHERE tenant = ?'),
      getSecret: db.prepare('SELECT secret FROM action_signing_secrets WHERE tenant = ?').pluck(),
      // Of two processes making the first secret at once, the first insert wins and both read it.
      addSecret: db.prepare('INSERT INTO action_signing_secrets (tenant, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (tenant) DO NOTHING'),
      setSecret: db.prepare(
        `INSERT INTO action_signing_secrets (tenant, secret, created_at) VALUES (?, ?, ?)
         ON CONFLICT (tenant) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
      ),
    };
    this.enqueueTx = db
      .transaction((jobs: ReturnType<typeof encodeJobs>, now: number): number => {
        let added = 0;
        for (const { job, payload } of jobs) {
          added += this.s.insert.run({ tenant: job.tenant, id: job.id, rule: job.rule, device: job.device, kind: job.kind, payload, dueAt: job.dueAt, now }).changes;
        }
        return added;
      })
      .immediate;
    this.claimTx = db
      .transaction((kinds: string, now: number, leaseUntil: number, limit: number): ActionJobRow[] => {
        const rows = this.s.due.all({ kinds, now, limit }) as ActionJobRow[];
        for (const r of rows) this.s.lease.run(leaseUntil, r.tenant, r.id);
        return rows.map((r) => ({ ...r, lease_until: leaseUntil }));
      })
      .immediate;
    this.deleteTenantTx = db
      .transaction((tenant: TenantId): number => {
        this.s.deleteSecret.run(tenant);
        return this.s.deleteJobs.run(tenant).changes;
      })
      .immediate;
  }

  async enqueue(jobs: readonly NewActionJob[], now: number): Promise<number> {
    const encoded = encodeJobs(jobs);
    return encoded.length === 0 ? 0 : this.enqueueTx(encoded, now);
  }

  async claimDue(kinds: readonly string[], now: number, leaseMs: number, limit: number): Promise<ActionJob[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    const json = JSON.stringify(kinds);
    // Looked for first without the write lock: a WAL read never waits, while BEGIN IMMEDIATE waits for the telemetry
    // writer thread's commit on the event loop — once a second for nothing, when no job is due (issue 20).
    if ((this.s.due.all({ kinds: json, now, limit: 1 }) as unknown[]).length === 0) return [];
    return this.claimTx(json, now, now + leaseMs, limit).map(toActionJob);
  }

  async complete(tenant: TenantId, id: string, outcome: ActionOutcome, now: number): Promise<boolean> {
    const { changes } = this.s.complete.run({
      tenant,
      id,
      state: outcome.state,
      dueAt: outcome.state === 'pending' ? outcome.dueAt : null,
      error: outcome.state === 'done' ? null : outcome.error,
      now,
    });
    return changes > 0;
  }

  async get(tenant: TenantId, id: string): Promise<ActionJob | undefined> {
    const row = this.s.get.get(tenant, id) as ActionJobRow | undefined;
    return row ? toActionJob(row) : undefined;
  }

  async list(tenant: TenantId, f: ActionJobFilter): Promise<ActionJob[]> {
    const rows = this.s.list.all({
      tenant,
      state: f.state ?? null,
      rule: f.rule ?? null,
      device: f.device ?? null,
      beforeTs: f.before?.createdAt ?? null,
      beforeId: f.before?.id ?? null,
      limit: f.limit,
    }) as ActionJobRow[];
    return rows.map(toActionJob);
  }

  async counts(tenant: TenantId): Promise<Record<ActionJobState, number>> {
    const out: Record<ActionJobState, number> = { pending: 0, done: 0, dead: 0 };
    for (const r of this.s.counts.all(tenant) as Array<{ state: ActionJobState; n: number }>) out[r.state] = r.n;
    return out;
  }

  async retry(tenant: TenantId, id: string, now: number): Promise<boolean> {
    return this.s.retry.run({ tenant, id, now }).changes > 0;
  }

  async purge(before: number): Promise<number> {
    return this.s.purge.run(before).changes;
  }

  async deleteTenant(tenant: TenantId): Promise<number> {
    return this.deleteTenantTx(tenant);
  }

  async signingSecret(tenant: TenantId): Promise<string> {
    const stored = this.s.getSecret.get(tenant) as string | undefined;
    if (stored !== undefined) return stored;
    this.s.addSecret.run(tenant, newSigningSecret(), Date.now());
    return this.s.getSecret.get(tenant) as string;
  }

  async rotateSigningSecret(tenant: TenantId): Promise<string> {
    const secret = newSigningSecret();
    this.s.setSecret.run(tenant, secret, Date.now());
    return secret;
  }
}
