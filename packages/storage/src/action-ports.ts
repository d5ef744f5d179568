/**
 * The durable outbox of rule actions (issue 13, point 3): what a rule's raise or clear asks to be done — a webhook
 * call, an e-mail, a property write, a service call, an MQTT publish, possibly after a delay — is stored first and
 * carried out after, by whichever platform process can run it, with retries and a dead-letter state an operator can
 * see and retry. Nothing a rule asked for is lost to a crash or a restart between the transition and the call.
 *
 * Delivery is at least once: a job whose claimant died is claimed again once its lease runs out. A re-delivered
 * transition enqueues jobs with the same ids, which are stored once. Both adapters (SQLite, PostgreSQL) pass one
 * conformance suite (@iip/testkit storage conformance, "action outbox").
 */
import type { DeviceId, TenantId } from '@iip/core';

export type ActionJobState = 'pending' | 'done' | 'dead';

export interface ActionJob {
  readonly tenant: TenantId;
  /** Unique in the tenant (made from the rule, device, transition and action index: a re-delivery repeats it). */
  readonly id: string;
  readonly rule: string;
  readonly device: DeviceId;
  /** The action's kind ("webhook", "email", "write", "invoke", "publish"): a process claims only kinds it can run. */
  readonly kind: string;
  /** What to do, as the dispatcher needs it (JSON). */
  readonly payload: unknown;
  readonly state: ActionJobState;
  /** Attempts made so far (a claim that ends in complete() counts one). */
  readonly attempts: number;
  /** When it may be claimed (epoch ms): its delay, then each retry's backoff. */
  readonly dueAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Why the last attempt failed (an IIP_ERR_* code and text), null when none has. */
  readonly lastError: string | null;
  /** Claimed until this time (epoch ms); 0 when nobody holds it. */
  readonly leaseUntil: number;
}

export type NewActionJob = Pick<ActionJob, 'tenant' | 'id' | 'rule' | 'device' | 'kind' | 'payload' | 'dueAt'>;

export type ActionOutcome =
  | { readonly state: 'done' }
  /** Try again at dueAt. */
  | { readonly state: 'pending'; readonly dueAt: number; readonly error: string }
  /** Given up: kept for an operator (list, retry). */
  | { readonly state: 'dead'; readonly error: string };

export interface ActionJobFilter {
  readonly state?: ActionJobState;
  readonly rule?: string;
  readonly device?: string;
  /** Newest first by (createdAt, id); page with `before` = the last (createdAt, id) seen. */
  readonly before?: { readonly createdAt: number; readonly id: string };
  readonly limit: number;
}

export interface ActionOutbox {
  /**
   * Stores new jobs (state pending, attempts 0, no lease, createdAt = updatedAt = now), all in one transaction. A job
   * whose (tenant, id) is already stored is left as it is. Returns how many were new.
   */
  enqueue(jobs: readonly NewActionJob[], now: number): Promise<number>;
  /**
   * Claims up to `limit` pending jobs of the given kinds with dueAt ≤ now and no live lease (leaseUntil ≤ now), due
   * first (then createdAt, tenant, id): sets their leaseUntil to now + leaseMs and returns them so. Across processes
   * on one database a job is claimed by one of them at a time (SQLite: one IMMEDIATE transaction; PostgreSQL: FOR
   * UPDATE SKIP LOCKED).
   */
  claimDue(kinds: readonly string[], now: number, leaseMs: number, limit: number): Promise<ActionJob[]>;
  /**
   * Ends an attempt of a claimed job: attempts + 1, the new state (and dueAt, lastError as the outcome says; done keeps
   * lastError as it was), updatedAt = now, lease cleared. A job not pending (done, dead, or gone) is left as it is and
   * false returned.
   */
  complete(tenant: TenantId, id: string, outcome: ActionOutcome, now: number): Promise<boolean>;
  get(tenant: TenantId, id: string): Promise<ActionJob | undefined>;
  list(tenant: TenantId, filter: ActionJobFilter): Promise<ActionJob[]>;
  /** Counts of the tenant's jobs by state (pending, done, dead; 0 when none). */
  counts(tenant: TenantId): Promise<Record<ActionJobState, number>>;
  /**
   * An operator's retry of a dead job: pending, due now, attempts 0, lastError kept, lease cleared, updatedAt = now.
   * False if not dead.
   */
  retry(tenant: TenantId, id: string, now: number): Promise<boolean>;
  /** Deletes done and dead jobs (of every tenant) last updated before `before`; returns how many. Pending ones stay. */
  purge(before: number): Promise<number>;
  /**
   * Deletes every job of the tenant and its signing secret (the tenant is deleted: a new tenant of the same id must
   * not sign with the old one's secret); returns how many jobs. RegistryStore.deleteTenant deletes both as well.
   */
  deleteTenant(tenant: TenantId): Promise<number>;
  /**
   * The tenant's webhook signing secret (32 random bytes, base64url), made and stored on first use; the same one
   * until rotated. Receivers check the X-IIP-Signature of a webhook call with it.
   */
  signingSecret(tenant: TenantId): Promise<string>;
  /** Replaces the tenant's signing secret with a new random one and returns it. */
  rotateSigningSecret(tenant: TenantId): Promise<string>;
}
