/**
 * Telemetry admission: the single gate every message passes, whatever the transport (MQTT, HTTP, an edge
 * gateway). It validates the whole message against the device's thing model and only then hands the
 * batch to the bus, so a rejected message never leaves a partial trace in storage.
 */
import { DEFAULT_INGEST_LIMITS, IipError, type IngestLimits, type DeviceId, type TelemetryBatch, type TenantId } from '@iip/core';
import type { Bus } from '@iip/bus';
import type { DeviceDirectory } from './directory.js';

export interface AdmissionStats {
  acceptedMessages: number;
  acceptedPoints: number;
  rejectedMessages: number;
  rejectedByCode: Record<string, number>;
}

export class TelemetryAdmission {
  private readonly counters: AdmissionStats = { acceptedMessages: 0, acceptedPoints: 0, rejectedMessages: 0, rejectedByCode: {} };

  constructor(
    private readonly directory: DeviceDirectory,
    private readonly bus: Bus,
    readonly limits: IngestLimits = DEFAULT_INGEST_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Validates raw bytes (MQTT payload, HTTP body) from an already-authenticated device and publishes them. */
  admitRaw(tenant: string, device: string, raw: Uint8Array | string): TelemetryBatch {
    const entry = this.directory.lookup(tenant, device);
    try {
      if (!entry) throw new IipError('IIP_ERR_DEVICE_UNKNOWN', `device "${device}" does not exist in tenant "${tenant}"`, { tenant, device });
      const now = this.now();
      const points = entry.validator.parse(raw, now, this.limits);
      const batch: TelemetryBatch = { tenant: tenant as TenantId, device: device as DeviceId, points, receivedAt: now };
      this.counters.acceptedMessages++;
      this.counters.acceptedPoints += points.length;
      this.bus.publish('telemetry', batch);
      return batch;
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
