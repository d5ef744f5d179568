/**
 * The tenant policy's defaults and its validation, shared by the API (which refuses a bad policy) and the
 * services that read it. The default keeps everything for ever and limits nothing: the embedded platform never
 * deletes anyone's data unless an administrator configured it.
 */
import { IipError } from '@iip/core';
import type { QuotaPolicy, RetentionPolicy, TenantPolicy } from './ports.js';

export const DEFAULT_TENANT_POLICY: TenantPolicy = Object.freeze({
  retention: Object.freeze({ rawDays: null, rollups: Object.freeze({}), auditDays: null, eventDays: null }),
  quotas: Object.freeze({ devices: null, pointsPerDay: null, storedBytes: null }),
  security: Object.freeze({ totpRequiredForAdmins: false }),
});

/** Shortest audit retention accepted, in days: evidence of what happened is not erased in a hurry. */
export const MIN_AUDIT_DAYS = 30;

/** Longest retention accepted, in days (1,000 years: "for ever" is null). */
const MAX_DAYS = 365_000;

function bad(field: string, message: string, value: unknown): IipError {
  return new IipError('IIP_ERR_VALIDATION', `${field}: ${message}`, { field, value: value === undefined ? null : (value as never) });
}

function limit(field: string, v: unknown, max: number): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(field, `must be null (unlimited) or an integer from 0 to ${max}`, v);
  return v;
}

function days(field: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_DAYS) throw bad(field, `must be null (keep for ever) or a number of days above 0, at most ${MAX_DAYS}`, v);
  return v;
}

/**
 * Checks a policy from outside (API body, stored JSON) and returns it complete: every field present, null meaning
 * "for ever" / "unlimited". `rollupLevels` are the levels the telemetry store maintains; a retention for any other
 * level is refused. Throws IIP_ERR_VALIDATION naming the field.
 */
export function normalizeTenantPolicy(input: unknown, rollupLevels: readonly number[]): TenantPolicy {
  if (input === undefined || input === null) return DEFAULT_TENANT_POLICY;
  if (typeof input !== 'object' || Array.isArray(input)) throw bad('policy', 'must be an object {retention, quotas}', input);
  const p = input as { retention?: unknown; quotas?: unknown; security?: unknown };
  const r = (p.retention ?? {}) as Record<string, unknown>;
  const q = (p.quotas ?? {}) as Record<string, unknown>;
  if (typeof r !== 'object' || Array.isArray(r)) throw bad('retention', 'must be an object', r);
  if (typeof q !== 'object' || Array.isArray(q)) throw bad('quotas', 'must be an object', q);
  const rollupsIn = (r.rollups ?? {}) as Record<string, unknown>;
  if (typeof rollupsIn !== 'object' || Array.isArray(rollupsIn)) throw bad('retention.rollups', 'must be an object keyed by level (ms)', rollupsIn);
  const rollups: Record<string, number | null> = {};
  for (const [level, v] of Object.entries(rollupsIn)) {
    if (!rollupLevels.includes(Number(level)) || String(Number(level)) !== level) {
      throw new IipError('IIP_ERR_VALIDATION', `retention.rollups: level "${level}" is not maintained; use one of ${rollupLevels.join(', ')} (ms)`, {
        field: `retention.rollups.${level}`,
        levels: [...rollupLevels],
      });
    }
    rollups[level] = days(`retention.rollups.${level}`, v);
  }
  const auditDays = days('retention.auditDays', r.auditDays);
  if (auditDays !== null && auditDays < MIN_AUDIT_DAYS) throw bad('retention.auditDays', `must be null (keep for ever) or at least ${MIN_AUDIT_DAYS} days`, auditDays);
  const retention: RetentionPolicy = { rawDays: days('retention.rawDays', r.rawDays), rollups, auditDays, eventDays: days('retention.eventDays', r.eventDays) };
  const sec = (p.security ?? {}) as Record<string, unknown>;
  if (typeof sec !== 'object' || Array.isArray(sec)) throw bad('security', 'must be an object', sec);
  const totp = sec.totpRequiredForAdmins ?? false;
  if (typeof totp !== 'boolean') throw bad('security.totpRequiredForAdmins', 'must be true or false', totp);
  const quotas: QuotaPolicy = {
    devices: limit('quotas.devices', q.devices, 1e9),
    pointsPerDay: limit('quotas.pointsPerDay', q.pointsPerDay, 1e15),
    storedBytes: limit('quotas.storedBytes', q.storedBytes, 1e18),
  };
  return { retention, quotas, security: { totpRequiredForAdmins: totp } };
}
