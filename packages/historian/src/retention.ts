/**
 * The retention service: every `intervalMs` (and on `runOnce()`), for each tenant, deletes what its policy says
 * has expired — raw points older than `rawDays`, and for each rollup level named in the policy, the cells that
 * ended more than that many days ago. The stores delete in small batches, each its own short transaction, so
 * ingest is never held up for long. Nothing expires without a policy: the default keeps everything.
 *
 * A failing tenant is logged and reported in the run's report and in `status()`, and the run goes on with the
 * next tenant; the next run tries again.
 */
import { IipError, type TenantId } from '@iip/core';
import { type DeviceEventStore, type EventLogStore, type RegistryStore, type TelemetryStore, normalizeTenantPolicy } from '@iip/storage';

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** Time between runs (default 10 minutes). */
  readonly intervalMs?: number;
  /** Rows per delete batch (default: the store's, 5,000). */
  readonly batchSize?: number;
  readonly now?: () => number;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
  /** The audit event log, for the policy's `auditDays` (absent: audit events are not the service's concern). */
  readonly events?: Pick<EventLogStore, 'deleteBefore'>;
  /** Device events, for the policy's `eventDays` (absent: not the service's concern). */
  readonly deviceEvents?: Pick<DeviceEventStore, 'deleteBefore'>;
}

export interface TenantRetentionReport {
  readonly tenant: TenantId;
  readonly rawCutoff: number | null;
  readonly rawDeleted: number;
  /** Per level (ms, as a string): cells deleted. */
  readonly rollupsDeleted: Readonly<Record<string, number>>;
  /** Audit events deleted (older than the policy's auditDays). */
  readonly auditDeleted: number;
  /** Device events deleted (older than the policy's eventDays). */
  readonly deviceEventsDeleted: number;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface RetentionRunReport {
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly rawDeleted: number;
  readonly rollupsDeleted: number;
  readonly tenants: readonly TenantRetentionReport[];
}

export interface RetentionStatus {
  readonly intervalMs: number;
  readonly running: boolean;
  readonly runs: number;
  readonly lastRun: RetentionRunReport | null;
}

export class RetentionService {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly log: (msg: string, fields: Record<string, unknown>) => void;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<RetentionRunReport> | undefined;
  private last: RetentionRunReport | null = null;
  private runs = 0;
  private closed = false;

  constructor(
    private readonly registry: Pick<RegistryStore, 'listTenants' | 'getTenantPolicy'>,
    private readonly telemetry: TelemetryStore,
    private readonly opts: RetentionOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
  }

  /** Runs every `intervalMs` from now on (the first run after one interval). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      void this.runOnce();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass over all tenants. A call while a pass runs returns that pass. Never rejects: failures are in the report. */
  runOnce(): Promise<RetentionRunReport> {
    if (!this.current) {
      this.current = this.run().finally(() => {
        this.current = undefined;
      });
    }
    return this.current;
  }

  status(): RetentionStatus {
    return { intervalMs: this.intervalMs, running: this.current !== undefined, runs: this.runs, lastRun: this.last };
  }

  /** Stops the timer and waits for a running pass. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private async run(): Promise<RetentionRunReport> {
    const startedAt = this.now();
    const tenants: TenantRetentionReport[] = [];
    let list: TenantId[] = [];
    try {
      list = (await this.registry.listTenants()).map((t) => t.id);
    } catch (e) {
      this.log('retention: cannot list tenants; trying again next run', { err: String(e) });
    }
    for (const tenant of list) {
      if (this.closed) break;
      tenants.push(await this.runTenant(tenant, startedAt));
    }
    const report: RetentionRunReport = {
      startedAt,
      finishedAt: this.now(),
      rawDeleted: tenants.reduce((n, t) => n + t.rawDeleted, 0),
      rollupsDeleted: tenants.reduce((n, t) => n + Object.values(t.rollupsDeleted).reduce((a, b) => a + b, 0), 0),
      tenants,
    };
    this.last = report;
    this.runs++;
    if (report.rawDeleted > 0 || report.rollupsDeleted > 0 || tenants.some((t) => t.error)) {
      this.log('retention: run finished', { rawDeleted: report.rawDeleted, rollupsDeleted: report.rollupsDeleted, tenants: tenants.length, ms: report.finishedAt - startedAt });
    }
    return report;
  }

  private async runTenant(tenant: TenantId, now: number): Promise<TenantRetentionReport> {
    const batch = this.opts.batchSize !== undefined ? { batchSize: this.opts.batchSize } : {};
    let rawCutoff: number | null = null;
    let rawDeleted = 0;
    const rollupsDeleted: Record<string, number> = {};
    let auditDeleted = 0;
    let deviceEventsDeleted = 0;
    try {
      const policy = normalizeTenantPolicy(await this.registry.getTenantPolicy(tenant), this.telemetry.rollupLevels);
      const rawDays = policy.retention.rawDays;
      if (rawDays != null) {
        rawCutoff = now - rawDays * DAY_MS;
        rawDeleted = await this.telemetry.deleteRawBefore(tenant, rawCutoff, batch);
        if (rawDeleted > 0) this.log('retention: raw points deleted', { tenant, cutoff: new Date(rawCutoff).toISOString(), deleted: rawDeleted });
      }
      for (const [level, d] of Object.entries(policy.retention.rollups ?? {})) {
        if (d == null) continue;
        const cutoff = now - d * DAY_MS;
        const n = await this.telemetry.deleteRollupsBefore(tenant, Number(level), cutoff, batch);
        rollupsDeleted[level] = n;
        if (n > 0) this.log('retention: rollup cells deleted', { tenant, level: Number(level), cutoff: new Date(cutoff).toISOString(), deleted: n });
      }
      const auditDays = policy.retention.auditDays;
      if (auditDays != null && this.opts.events) {
        const cutoff = now - auditDays * DAY_MS;
        auditDeleted = await this.opts.events.deleteBefore(tenant, cutoff);
        if (auditDeleted > 0) this.log('retention: audit events deleted', { tenant, cutoff: new Date(cutoff).toISOString(), deleted: auditDeleted });
      }
      const eventDays = policy.retention.eventDays;
      if (eventDays != null && this.opts.deviceEvents) {
        const cutoff = now - eventDays * DAY_MS;
        deviceEventsDeleted = await this.opts.deviceEvents.deleteBefore(tenant, cutoff);
        if (deviceEventsDeleted > 0) this.log('retention: device events deleted', { tenant, cutoff: new Date(cutoff).toISOString(), deleted: deviceEventsDeleted });
      }
      return { tenant, rawCutoff, rawDeleted, rollupsDeleted, auditDeleted, deviceEventsDeleted };
    } catch (e) {
      const code = e instanceof IipError ? e.code : 'IIP_ERR_INTERNAL';
      const message = e instanceof Error ? e.message : String(e);
      this.log('retention: tenant failed; trying again next run', { tenant, code, err: message });
      return { tenant, rawCutoff, rawDeleted, rollupsDeleted, auditDeleted, deviceEventsDeleted, error: { code, message } };
    }
  }
}
