/**
 * Telemetry admission: the single gate every message passes, whatever the transport (MQTT, HTTP, an edge
 * gateway). It validates the whole message against the device's thing model, stamps records sent without
 * a timestamp (distinct stamps per series, see ServerClock), hands the batch to the store, which says
 * which points were re-deliveries of stored ones, and only then puts what is stored on the bus. A rejected
 * message never leaves a partial trace in storage, and the accepted count is the stored count.
 *
 * admitRaw() resolves once the sink says the batch is durable (the historian: committed), so a transport
 * acknowledges only what is stored (MQTT PUBACK, HTTP 2xx — ADR 0001 §6). The stored points then go on the bus
 * for the live stream without holding that acknowledgement; a bus failure there is counted and logged. Without
 * a sink the bus is where the batch is kept, and its publish is awaited.
 */
import {
  DEFAULT_INGEST_LIMITS,
  IipError,
  type IngestLimits,
  type DeviceId,
  ServerClock,
  type TelemetryBatch,
  type TelemetryPoint,
  type TelemetryWriteResult,
  type TenantId,
} from '@iip/core';
import type { Bus } from '@iip/bus';
import type { DeviceDirectory } from './directory.js';

export interface AdmissionStats {
  acceptedMessages: number;
  /** Points stored (duplicates excluded). */
  acceptedPoints: number;
  /** Points of accepted messages that were already stored (re-deliveries), reported to the sender. */
  duplicatePoints: number;
  rejectedMessages: number;
  rejectedByCode: Record<string, number>;
  /** Stored batches the bus could not take for the live stream (they are stored; only live delivery missed them). */
  busFailures: number;
}

/**
 * Where admitted telemetry is stored (in the platform: the historian). It resolves once the batch is durable
 * and says which points it already had, or rejects: a refusal (4xx code) stores nothing of the batch; a
 * failed commit (5xx code) means the batch must not be acknowledged.
 */
export interface TelemetrySink {
  ingest(batch: TelemetryBatch): Promise<TelemetryWriteResult>;
}

/**
 * Per-tenant limits checked before a message is stored (the platform's quota tracker). `reserve` refuses (throws
 * or rejects with a 4xx IipError) when the message's points would pass a limit, and otherwise holds them until
 * `settle` says how many were stored (0 when the message failed).
 */
export interface AdmissionQuota {
  reserve(tenant: string, points: number): void | Promise<void>;
  settle(tenant: string, reserved: number, stored: number): void;
}

/** What became of an admitted message. */
export interface Admitted {
  /** The points stored: the message without its duplicates (what the bus carries). */
  readonly batch: TelemetryBatch;
  /** How many points were stored; equals `batch.points.length`. */
  readonly accepted: number;
  /** Points not stored because the device had already reported the same (property, ts). */
  readonly duplicates: readonly TelemetryPoint[];
}

export class TelemetryAdmission {
  private readonly counters: AdmissionStats = { acceptedMessages: 0, acceptedPoints: 0, duplicatePoints: 0, rejectedMessages: 0, rejectedByCode: {}, busFailures: 0 };
  private readonly clock = new ServerClock();
  private quota: AdmissionQuota | undefined;

  /**
   * Without a `sink` the batch only goes on the bus, and nothing can tell a duplicate: then every valid
   * point counts as accepted. The platform passes its historian.
   */
  constructor(
    private readonly directory: DeviceDirectory,
    private readonly bus: Bus,
    readonly limits: IngestLimits = DEFAULT_INGEST_LIMITS,
    private readonly now: () => number = Date.now,
    private readonly sink?: TelemetrySink,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void = (msg, fields) => console.error(msg, fields),
  ) {}

  /** Checks every message against per-tenant quotas from now on (undefined: no quotas). */
  useQuota(quota: AdmissionQuota | undefined): void {
    this.quota = quota;
  }

  /**
   * Validates raw bytes (MQTT payload, HTTP body) from an already-authenticated device, stores them and
   * publishes what was stored. Resolves once the message is durable; rejects with an IipError if it is
   * refused (nothing of it is stored) or could not be committed (it must not be acknowledged).
   */
  async admitRaw(tenant: string, device: string, raw: Uint8Array | string): Promise<Admitted> {
    try {
      // The directory answers from its cache without a promise: awaited only on a miss (one promise and one
      // microtask less per message on the hot path).
      const found = this.directory.lookup(tenant, device);
      const entry = found instanceof Promise ? await found : found;
      if (!entry) throw new IipError('IIP_ERR_DEVICE_UNKNOWN', `device "${device}" does not exist in tenant "${tenant}"`, { tenant, device });
      if (entry.suspended !== undefined) throw new IipError('IIP_ERR_TENANT_SUSPENDED', `tenant "${tenant}" is suspended (${entry.suspended}); nothing is stored`, { tenant, reason: entry.suspended });
      const now = this.now();
      const points = entry.validator.parse(raw, now, this.limits, this.clock.device(`${tenant}/${device}`, now));
      const batch: TelemetryBatch = { tenant: tenant as TenantId, device: device as DeviceId, points, receivedAt: now };
      const quota = this.quota;
      if (quota) await quota.reserve(tenant, points.length);
      let r: TelemetryWriteResult;
      if (this.sink) {
        let stored = 0;
        try {
          r = await this.sink.ingest(batch);
          stored = r.stored.points.length;
        } finally {
          quota?.settle(tenant, points.length, stored);
        }
        if (r.stored.points.length > 0) {
          const stored = r.stored;
          this.bus.publish('telemetry', stored).catch((e: unknown) => {
            this.counters.busFailures++;
            this.log('admission: stored telemetry could not be published for live delivery', { tenant, device, points: stored.points.length, err: String(e) });
          });
        }
      } else {
        r = { stored: batch, duplicates: [] };
        try {
          await this.bus.publish('telemetry', batch);
        } catch (e) {
          quota?.settle(tenant, points.length, 0);
          throw e;
        }
        quota?.settle(tenant, points.length, points.length);
      }
      this.counters.acceptedMessages++;
      this.counters.acceptedPoints += r.stored.points.length;
      this.counters.duplicatePoints += r.duplicates.length;
      return { batch: r.stored, accepted: r.stored.points.length, duplicates: r.duplicates };
    } catch (e) {
      this.countRejection(e);
      throw e;
    }
  }

  countRejection(e: unknown): void {
    const code = e instanceof IipError ? e.code : 'IIP_ERR_INTERNAL';
    this.counters.rejectedMessages++;
    this.counters.rejectedByCode[code] = (this.counters.rejectedByCode[code] ?? 0) + 1;
  }

  stats(): AdmissionStats {
    return { ...this.counters, rejectedByCode: { ...this.counters.rejectedByCode } };
  }
}
