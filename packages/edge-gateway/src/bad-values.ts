/**
 * The gateway's guard against values no thing model can hold: a NaN or ±Infinity from any driver would
 * become `null` in JSON, and the platform refuses the whole message for it, losing the good values that
 * came with it. Such readings are left out here, counted, and the last one is reported in the gateway
 * state (code IIP_ERR_DRIVER_BAD_VALUE). The Modbus driver already leaves them out per point; this covers
 * every other driver too.
 */
import type { DriverReading } from '@iip/core';

export interface BadValue {
  readonly device: string;
  readonly property: string;
  readonly raw: string;
  readonly ts: number;
  readonly code: 'IIP_ERR_DRIVER_BAD_VALUE';
}

export interface BadValueStats {
  /** Readings left out since start. */
  readonly count: number;
  readonly last: BadValue | null;
}

export class BadValues {
  private count = 0;
  private last: BadValue | null = null;
  /** device\0property of series currently giving bad values: logged once per run of them. */
  private readonly bad = new Set<string>();

  /** The readings that can be sent; each one left out is counted and passed to `onFirst` when a run starts. */
  filter(readings: readonly DriverReading[], onFirst: (b: BadValue) => void): readonly DriverReading[] {
    let out: DriverReading[] | null = null;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const key = `${r.device}\0${r.property}`;
      if (typeof r.value !== 'number' || Number.isFinite(r.value)) {
        if (this.bad.size > 0) this.bad.delete(key);
        out?.push(r);
        continue;
      }
      out ??= readings.slice(0, i);
      this.count++;
      this.last = { device: r.device, property: r.property, raw: String(r.value), ts: r.ts, code: 'IIP_ERR_DRIVER_BAD_VALUE' };
      if (!this.bad.has(key)) {
        this.bad.add(key);
        onFirst(this.last);
      }
    }
    return out ?? readings;
  }

  stats(): BadValueStats {
    return { count: this.count, last: this.last };
  }
}
