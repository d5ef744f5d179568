/**
 * What both ActionOutbox adapters share (not part of the port; index.ts exports only action-ports.ts' types): the
 * stored row and its mapping, the JSON text of a payload checked before anything is written, and a new signing
 * secret.
 */
import { randomBytes } from 'node:crypto';
import type { DeviceId, TenantId } from '@iip/core';
import type { ActionJob, ActionJobState, NewActionJob } from './action-ports.js';
import { jsonText } from './rule-ports.js';

/** A job as both adapters store it (payload as JSON text; times as integers, bigint in PostgreSQL). */
export interface ActionJobRow {
  tenant: string;
  id: string;
  rule: string;
  device: string;
  kind: string;
  payload: string;
  state: string;
  attempts: number;
  due_at: number;
  created_at: number;
  updated_at: number;
  last_error: string | null;
  lease_until: number;
}

export const toActionJob = (r: ActionJobRow): ActionJob => ({
  tenant: r.tenant as TenantId,
  id: r.id,
  rule: r.rule,
  device: r.device as DeviceId,
  kind: r.kind,
  payload: JSON.parse(r.payload) as unknown,
  state: r.state as ActionJobState,
  attempts: Number(r.attempts),
  dueAt: Number(r.due_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  lastError: r.last_error,
  leaseUntil: Number(r.lease_until),
});

/**
 * The jobs of one enqueue with their payloads as JSON text — serialised first, so a payload that is not JSON
 * refuses the whole batch (IIP_ERR_VALIDATION) before anything is written — and each (tenant, id) once, the first
 * kept (as the store keeps the first of a re-delivery). Sorted by (tenant, id): writers that insert overlapping
 * batches take their row locks in one order and so cannot deadlock (PostgreSQL).
 */
export function encodeJobs(jobs: readonly NewActionJob[]): Array<{ job: NewActionJob; payload: string }> {
  const seen = new Map<string, { job: NewActionJob; payload: string }>();
  for (const job of jobs) {
    const k = `${job.tenant}\u0000${job.id}`;
    if (!seen.has(k)) seen.set(k, { job, payload: jsonText(job.payload, 'payload') });
  }
  return [...seen.values()].sort((a, b) => cmp(a.job.tenant, b.job.tenant) || cmp(a.job.id, b.job.id));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** 32 random bytes as base64url (43 characters, no padding). */
export const newSigningSecret = (): string => randomBytes(32).toString('base64url');
