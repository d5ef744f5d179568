/**
 * Carries out rule actions from the durable outbox (@iip/storage ActionOutbox): claims the due jobs of the kinds this
 * process can run (a lease, so that several processes share the work and a job whose claimant died is claimed again),
 * hands each to its deliverer, and records the outcome — done; failed and retried with exponential backoff; or, when
 * the failure is permanent or the attempts are spent, dead-lettered for an operator to see and retry. Delivery is at
 * least once: a receiver that must not act twice uses the delivery id (a webhook's X-IIP-Delivery header).
 */
import { IipError, type TenantId } from '@iip/core';
import type { ActionJob, ActionOutbox } from '@iip/storage';
import type { ActionKind, ActionPayload } from './actions.js';

/** A failed attempt: its IIP_ERR_* code and text, and whether trying again can help. */
export class ActionFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** true: given up at once (a 4xx answer, a refused recipient); false: retried with backoff. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** Carries out one job (throws ActionFailure, or anything else: retried). */
export type ActionDeliverer = (job: ActionJob, payload: ActionPayload) => Promise<void>;

export interface ActionDispatcherOptions {
  readonly now?: () => number;
  /** How often due jobs are looked for when nobody calls kick() (default 1 s). */
  readonly pollMs?: number;
  /** How long a claim holds a job (default 2 min; longer than any deliverer's own timeout). */
  readonly leaseMs?: number;
  /** Jobs claimed at a time (default 20), and carried out at once (default 8). */
  readonly batch?: number;
  readonly concurrency?: number;
  /** Attempts before a job is dead-lettered (default 8: about 10 minutes of retries with the default backoff). */
  readonly maxAttempts?: number;
  /** The wait before attempt n + 1 after n failed ones (default 5 s · 2^(n−1), at most 10 min). */
  readonly backoffMs?: (attempts: number) => number;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface ActionDispatcherStats {
  delivered: number;
  retried: number;
  dead: number;
  /** Rounds that failed to reach the outbox itself (logged; the next round tries again). */
  outboxFailures: number;
}

export const defaultBackoffMs = (attempts: number): number => Math.min(600_000, 5_000 * 2 ** Math.max(0, attempts - 1));

export class ActionDispatcher {
  private readonly now: () => number;
  private readonly kinds: string[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly counters: ActionDispatcherStats = { delivered: 0, retried: 0, dead: 0, outboxFailures: 0 };

  constructor(
    private readonly outbox: ActionOutbox,
    private readonly deliverers: Partial<Record<ActionKind, ActionDeliverer>>,
    private readonly opts: ActionDispatcherOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.kinds = Object.keys(deliverers);
  }

  /** The kinds this process carries out (others' jobs stay for a process that can). */
  get handles(): readonly string[] {
    return this.kinds;
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.kick(), this.opts.pollMs ?? 1_000);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due jobs now (after an enqueue); a round in progress is followed by another. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.rounds().finally(() => {
      this.running = undefined;
    });
  }

  /** Runs rounds until one finds nothing more to do; resolves then (tests, close). */
  async drain(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running) await this.running;
  }

  stats(): ActionDispatcherStats {
    return { ...this.counters };
  }

  private async rounds(): Promise<void> {
    const batch = this.opts.batch ?? 20;
    for (;;) {
      this.again = false;
      let jobs: ActionJob[];
      try {
        jobs = this.kinds.length === 0 ? [] : await this.outbox.claimDue(this.kinds, this.now(), this.opts.leaseMs ?? 120_000, batch);
      } catch (e) {
        this.counters.outboxFailures++;
        this.opts.log?.('rule actions: the outbox could not be read; trying again shortly', { err: String(e) });
        return;
      }
      await this.runAll(jobs);
      if (this.closed || (jobs.length < batch && !this.again)) return;
    }
  }

  private async runAll(jobs: ActionJob[]): Promise<void> {
    const limit = Math.max(1, this.opts.concurrency ?? 8);
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) await this.runOne(jobs[next++] as ActionJob);
    };
    await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  }

  private async runOne(job: ActionJob): Promise<void> {
    const deliver = this.deliverers[job.kind as ActionKind];
    let failure: ActionFailure | undefined;
    try {
      if (!deliver) throw new ActionFailure('IIP_ERR_RULE_ACTION_UNAVAILABLE', `no deliverer for "${job.kind}" actions in this process`, false);
      await deliver(job, job.payload as ActionPayload);
    } catch (e) {
      failure =
        e instanceof ActionFailure
          ? e
          : e instanceof IipError
            ? new ActionFailure(e.code, e.message, false)
            : new ActionFailure('IIP_ERR_ACTION_NETWORK', e instanceof Error ? e.message : String(e), false);
    }
    const attempts = job.attempts + 1;
    const now = this.now();
    const tenant = job.tenant as TenantId;
    try {
      if (!failure) {
        await this.outbox.complete(tenant, job.id, { state: 'done' }, now);
        this.counters.delivered++;
        return;
      }
      const error = `${failure.code}: ${failure.message}`.slice(0, 2_000);
      if (failure.permanent || attempts >= (this.opts.maxAttempts ?? 8)) {
        await this.outbox.complete(tenant, job.id, { state: 'dead', error }, now);
        this.counters.dead++;
        this.opts.log?.('rule action dead-lettered (IIP_ERR_ACTION_GAVE_UP)', { tenant, id: job.id, rule: job.rule, kind: job.kind, attempts, error });
      } else {
        await this.outbox.complete(tenant, job.id, { state: 'pending', dueAt: now + (this.opts.backoffMs ?? defaultBackoffMs)(attempts), error }, now);
        this.counters.retried++;
      }
    } catch (e) {
      // The outcome could not be stored: the lease runs out and the job is tried again (at least once).
      this.counters.outboxFailures++;
      this.opts.log?.('rule actions: an outcome could not be stored; the job will be tried again', { tenant, id: job.id, err: String(e) });
    }
  }
}
