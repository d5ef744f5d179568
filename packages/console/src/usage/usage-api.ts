/** The tenant's usage and its retention and quota policy, as GET/PUT /api/v1/tenant/* return them. */
export interface TenantPolicy {
  readonly retention: {
    readonly rawDays: number | null;
    readonly rollups: Readonly<Record<string, number | null>>;
    /** Audit events older than this many days are deleted (at least 30); null = kept for ever. Absent from an older platform. */
    readonly auditDays?: number | null;
  };
  readonly quotas: { readonly devices: number | null; readonly pointsPerDay: number | null; readonly storedBytes: number | null };
  /** Sign-in rules (absent from an older platform). */
  readonly security?: { readonly totpRequiredForAdmins: boolean };
}

/** The fewest days the platform keeps audit events for when a limit is set. */
export const MIN_AUDIT_DAYS = 30;

export interface TenantUsageReply {
  readonly usage: {
    readonly tenant: string;
    readonly devices: number;
    readonly pointsToday: number;
    readonly day: string;
    readonly rawPoints: number;
    readonly rollupRows: number;
    readonly storedBytes: number;
    readonly measuredAt: number;
  };
  readonly policy: TenantPolicy;
  readonly rollupLevels: readonly number[];
  readonly retention: {
    readonly intervalMs: number;
    readonly lastRun: null | { readonly finishedAt: number; readonly rawDeleted: number; readonly rollupsDeleted: Readonly<Record<string, number>>; readonly error: null | { readonly code: string; readonly message: string } };
  };
}

/** Share of a limit in percent (0–100), or undefined when unlimited. */
export function shareOf(used: number, limit: number | null): number | undefined {
  if (limit === null) return undefined;
  if (limit <= 0) return 100;
  return Math.min(100, Math.round((used / limit) * 1000) / 10);
}

/** A form field: empty = null (unlimited / for ever); otherwise a number ≥ 0 (integers for quotas), or an error key. */
export function parseLimit(text: string, integer: boolean): { value: number | null } | { error: true } {
  const s = text.trim();
  if (s === '') return { value: null };
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) return { error: true };
  return { value: n };
}
