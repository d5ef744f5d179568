/**
 * Retention and quotas per tenant (issue 11, point 6), in one object the platform constructs once:
 *
 * - the policy (GET/PUT through the API), validated against the rollup levels the store maintains;
 * - usage: devices (the registry's count) and what the telemetry store reports (points of the UTC day, rows,
 *   an estimate of stored bytes);
 * - the quota tracker the admission gate and the registry service consult: devices are counted at creation;
 *   points per day are counted in memory per tenant and UTC day, seeded from the store and re-read every
 *   `usageRefreshMs` (so several processes converge on the larger count); stored bytes are checked against the
 *   last usage reading plus the points admitted since (RAW_ROW_BYTES each) — never a storage read per message;
 * - the retention service (historian), started with its interval.
 */
import { IipError, type TenantId } from '@iip/core';
import type { AdmissionQuota, TelemetryAdmission } from '@iip/device-access/platform';
import { RetentionService, type RetentionOptions, type RetentionStatus } from '@iip/historian';
import { RAW_ROW_BYTES, type RegistryStore, type Storage, type TelemetryStore, type TenantPolicy, normalizeTenantPolicy, utcDay } from '@iip/storage';
import type { RegistryService } from './registry-service.js';

export interface TenantUsage {
  readonly tenant: TenantId;
  readonly devices: number;
  /** Points counted against pointsPerDay in the current UTC day. */
  readonly pointsToday: number;
  readonly day: string;
  readonly series: number;
  readonly rawPoints: number;
  readonly rollupRows: number;
  /** Estimate (see docs/reference/retention-and-quotas.md). */
  readonly storedBytes: number;
  readonly measuredAt: number;
}

interface TenantState {
  policy: TenantPolicy;
  /** Start of the UTC day pointsToday counts. */
  day: number;
  pointsToday: number;
  /** Points of messages being stored right now. */
  reserved: number;
  storedBytes: number;
  /** Points stored since the storedBytes reading. */
  sinceReading: number;
  loaded: Promise<void> | undefined;
}

export interface TenantQuotaOptions {
  /** How often every known tenant's policy and usage are re-read (default 60 s). */
  readonly usageRefreshMs?: number;
  readonly now?: () => number;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
}

export class TenantQuotas implements AdmissionQuota {
  private readonly states = new Map<string, TenantState>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: RegistryStore,
    private readonly telemetry: TelemetryStore,
    private readonly opts: TenantQuotaOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads every tenant, then re-reads them every `usageRefreshMs`. */
  async start(): Promise<void> {
    for (const t of await this.registry.listTenants()) await this.keepUp(t.id);
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const tenant of this.states.keys()) {
        this.keepUp(tenant as TenantId).catch((e: unknown) => this.opts.log?.('quotas: usage refresh failed', { tenant, err: String(e) }));
      }
    }, this.opts.usageRefreshMs ?? 60_000);
    this.timer.unref();
  }

  /**
   * The periodic reading: the policy always; the telemetry usage (which counts the tenant's rows, a scan) only
   * when a points or bytes quota needs it. Setting such a quota reads it at once (policyChanged), and
   * GET /tenant/usage reads it on demand.
   */
  private async keepUp(tenant: TenantId): Promise<void> {
    const policy = normalizeTenantPolicy(await this.registry.getTenantPolicy(tenant), this.telemetry.rollupLevels);
    if (policy.quotas.pointsPerDay != null || policy.quotas.storedBytes != null) {
      await this.refresh(tenant);
      return;
    }
    const s = this.state(tenant);
    s.policy = policy;
    const day = utcDay(this.now()).from;
    if (s.day !== day) {
      s.day = day;
      s.pointsToday = 0;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the tenant's policy and telemetry usage. */
  async refresh(tenant: TenantId): Promise<TenantUsage> {
    const policy = normalizeTenantPolicy(await this.registry.getTenantPolicy(tenant), this.telemetry.rollupLevels);
    const now = this.now();
    const [u, devices] = await Promise.all([this.telemetry.usage(tenant, now), this.countDevices(tenant)]);
    const day = utcDay(now).from;
    const s = this.state(tenant);
    s.policy = policy;
    if (s.day !== day) {
      s.day = day;
      s.pointsToday = 0;
    }
    // Another process may have stored points today too: its points are in the store, ours may not be yet.
    s.pointsToday = Math.max(s.pointsToday, u.pointsToday);
    s.storedBytes = u.storedBytes;
    s.sinceReading = 0;
    return {
      tenant,
      devices,
      pointsToday: s.pointsToday,
      day: new Date(day).toISOString().slice(0, 10),
      series: u.series,
      rawPoints: u.rawPoints,
      rollupRows: u.rollupRows,
      storedBytes: u.storedBytes,
      measuredAt: now,
    };
  }

  private state(tenant: string): TenantState {
    let s = this.states.get(tenant);
    if (!s) {
      s = { policy: normalizeTenantPolicy(undefined, []), day: utcDay(this.now()).from, pointsToday: 0, reserved: 0, storedBytes: 0, sinceReading: 0, loaded: undefined };
      this.states.set(tenant, s);
    }
    return s;
  }

  private async countDevices(tenant: TenantId): Promise<number> {
    return (await this.registry.listDevices(tenant, {}, { limit: 1, offset: 0 })).total;
  }

  /** Sets a tenant's policy in the tracker at once (the API stored it), and re-reads its usage. */
  async policyChanged(tenant: TenantId): Promise<void> {
    await this.refresh(tenant);
  }

  reserve(tenant: string, points: number): void | Promise<void> {
    let s = this.states.get(tenant);
    if (!s) {
      // A tenant created since start: read its policy and usage once; messages arriving meanwhile wait for it.
      s = this.state(tenant);
      const fresh = s;
      fresh.loaded = this.refresh(tenant as TenantId).then(
        () => {
          fresh.loaded = undefined;
        },
        (e: unknown) => {
          this.states.delete(tenant);
          throw e;
        },
      );
    }
    const st = s;
    if (st.loaded) return st.loaded.then(() => this.check(st, tenant, points));
    this.check(st, tenant, points);
  }

  private check(s: TenantState, tenant: string, points: number): void {
    const day = utcDay(this.now()).from;
    if (s.day !== day) {
      s.day = day;
      s.pointsToday = 0;
    }
    const q = s.policy.quotas;
    if (q.pointsPerDay != null && s.pointsToday + s.reserved + points > q.pointsPerDay) {
      throw new IipError(
        'IIP_ERR_QUOTA_POINTS_PER_DAY',
        `tenant "${tenant}" has stored ${s.pointsToday} of its ${q.pointsPerDay} points today (UTC ${new Date(day).toISOString().slice(0, 10)}); this message of ${points} points would pass the quota`,
        { tenant, limit: q.pointsPerDay, usage: s.pointsToday + s.reserved, points, quota: 'pointsPerDay' },
      );
    }
    const bytes = s.storedBytes + (s.sinceReading + s.reserved) * RAW_ROW_BYTES;
    if (q.storedBytes != null && bytes >= q.storedBytes) {
      throw new IipError(
        'IIP_ERR_QUOTA_STORED_BYTES',
        `tenant "${tenant}" stores about ${bytes} bytes of telemetry, its quota is ${q.storedBytes} bytes; nothing more is stored until retention or an administrator makes room`,
        { tenant, limit: q.storedBytes, usage: bytes, quota: 'storedBytes' },
      );
    }
    s.reserved += points;
  }

  settle(tenant: string, reserved: number, stored: number): void {
    const s = this.states.get(tenant);
    if (!s) return;
    s.reserved = Math.max(0, s.reserved - reserved);
    s.pointsToday += stored;
    s.sinceReading += stored;
  }

  /** For the registry service: rejects with IIP_ERR_QUOTA_DEVICES when `adding` devices would pass the quota. */
  async checkDevices(tenant: TenantId, adding: number): Promise<void> {
    const policy = normalizeTenantPolicy(await this.registry.getTenantPolicy(tenant), this.telemetry.rollupLevels);
    const limit = policy.quotas.devices;
    if (limit == null) return;
    const count = await this.countDevices(tenant);
    if (count + adding > limit) {
      throw new IipError(
        'IIP_ERR_QUOTA_DEVICES',
        `tenant "${tenant}" has ${count} of its ${limit} devices; creating ${adding} more would pass the quota`,
        { tenant, limit, usage: count, adding, quota: 'devices' },
      );
    }
  }
}

/** What the API needs (routes/tenant-policy.ts). */
export interface TenantPolicyApi {
  readonly rollupLevels: readonly number[];
  getPolicy(tenant: TenantId): Promise<TenantPolicy>;
  setPolicy(tenant: TenantId, input: unknown): Promise<TenantPolicy>;
  usage(tenant: TenantId): Promise<TenantUsage>;
  retentionStatus(): RetentionStatus;
}

export interface TenantGovernance extends TenantPolicyApi {
  readonly quotas: TenantQuotas;
  readonly retention: RetentionService;
  close(): Promise<void>;
}

export interface TenantGovernanceOptions {
  readonly storage: Pick<Storage, 'registry' | 'telemetry'> & Partial<Pick<Storage, 'events' | 'deviceEvents'>>;
  readonly registry: RegistryService;
  readonly admission: TelemetryAdmission;
  readonly retention?: RetentionOptions;
  /** false: no retention timer (runOnce() still works). Default true. */
  readonly retentionTimer?: boolean;
  readonly quotas?: TenantQuotaOptions;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
}

/** Builds the quota tracker and the retention service, hooks them into admission and the registry, starts them. */
export async function startTenantGovernance(o: TenantGovernanceOptions): Promise<TenantGovernance> {
  const { registry: store, telemetry } = o.storage;
  const log = o.log ?? (() => {});
  const quotas = new TenantQuotas(store, telemetry, { log, ...o.quotas });
  await quotas.start();
  o.admission.useQuota(quotas);
  o.registry.useDeviceQuota((tenant, adding) => quotas.checkDevices(tenant, adding));
  const retention = new RetentionService(store, telemetry, {
    log,
    ...(o.storage.events && { events: o.storage.events }),
    ...(o.storage.deviceEvents && { deviceEvents: o.storage.deviceEvents }),
    ...o.retention,
  });
  if (o.retentionTimer !== false) retention.start();
  return {
    quotas,
    retention,
    rollupLevels: telemetry.rollupLevels,
    async getPolicy(tenant) {
      return normalizeTenantPolicy(await store.getTenantPolicy(tenant), telemetry.rollupLevels);
    },
    async setPolicy(tenant, input) {
      const policy = normalizeTenantPolicy(input, telemetry.rollupLevels);
      await store.setTenantPolicy(tenant, policy);
      await quotas.policyChanged(tenant);
      log('tenant policy changed', { tenant, policy });
      return policy;
    },
    usage: (tenant) => quotas.refresh(tenant),
    retentionStatus: () => retention.status(),
    async close() {
      quotas.close();
      o.admission.useQuota(undefined);
      o.registry.useDeviceQuota(undefined);
      await retention.close();
    },
  };
}
