/**
 * Server timestamps that never collide. A reading sent without `ts` is stamped with the server's time, and
 * two such readings of one property in the same millisecond would otherwise share (series, ts) — which the
 * store treats as a re-delivery and keeps only once. A `DeviceClock` stamps one device's records: a record's
 * stamp is the server time, or one millisecond after the latest stamp of any of its properties if that is
 * later, so every stamped point of a series is strictly later than the previous one and all properties of
 * one record still share one timestamp. The clock runs ahead of real time only while a device sends more
 * than 1,000 untimestamped records of one property per second, and falls back to real time as soon as it
 * slows down. See docs/reference/telemetry.md, "Timestamps".
 */

/** Stamps the records of one device that carry no `ts`. Pure: the caller passes the server time. */
export class DeviceClock {
  /**
   * Latest stamp (or client timestamp at or before the server time) per property: the property's slot in `stamps`
   * (NaN: none yet). Kept unboxed — a map of numbers stores each new timestamp as a heap object, six per message of
   * every device, all promoted with the long-lived map (issue 20).
   */
  private readonly slots = new Map<string, number>();
  private stamps = new Float64Array(8);
  private newest = Number.NEGATIVE_INFINITY;
  /** Client timestamps matter only to a device that also sends untimestamped records. */
  private stamping = false;

  /** The timestamp for a record of these properties received at `now`; later than any earlier stamp of them. */
  stamp(properties: readonly string[], now: number): number {
    this.stamping = true;
    if (now > this.newest) {
      // Every earlier stamp is before now (newest is the largest): the server time it is.
      for (const p of properties) this.stamps[this.slot(p)] = now;
      this.newest = now;
      return now;
    }
    let ts = now;
    for (const p of properties) {
      const l = this.stamps[this.slot(p)] as number;
      // NaN (no stamp yet) compares false.
      if (l >= ts) ts = l + 1;
    }
    for (const p of properties) this.stamps[this.slot(p)] = ts;
    if (ts > this.newest) this.newest = ts;
    return ts;
  }

  /** The slot of `property` in `stamps`, made on first use. */
  private slot(property: string): number {
    const i = this.slots.get(property);
    if (i !== undefined) return i;
    const n = this.slots.size;
    if (n === this.stamps.length) {
      const grown = new Float64Array(n * 2);
      grown.set(this.stamps);
      this.stamps = grown;
    }
    this.stamps[n] = Number.NaN;
    this.slots.set(property, n);
    return n;
  }

  /**
   * Notes a point the device timestamped itself, so that a stamp in the same millisecond does not land on
   * it. Timestamps after the server time are not followed: a device clock that runs ahead must not drag
   * server stamps into the future (such a point, if hit, is reported as a duplicate, never lost silently).
   */
  observe(property: string, ts: number, now: number): void {
    if (!this.stamping || ts > now) return;
    const i = this.slot(property);
    const l = this.stamps[i] as number;
    if (Number.isNaN(l) || ts > l) this.stamps[i] = ts;
    if (ts > this.newest) this.newest = ts;
  }

  /** True once every stamp is before `at`: the clock holds nothing a stamp from then on could collide with. */
  idleAt(at: number): boolean {
    return this.newest < at;
  }
}

/**
 * The device clocks of a front door, dropped once idle for a sweep period, so memory follows the devices active
 * lately — and a device sending every second keeps its clock instead of making a new one after every sweep.
 */
export class ServerClock {
  private readonly devices = new Map<string, DeviceClock>();
  private nextSweep = 0;

  constructor(private readonly sweepEveryMs = 10_000) {}

  /** The clock of one device (created on first use). */
  device(key: string, now: number): DeviceClock {
    if (now >= this.nextSweep) this.sweep(now);
    let c = this.devices.get(key);
    if (!c) {
      c = new DeviceClock();
      this.devices.set(key, c);
    }
    return c;
  }

  /** Device clocks held (for tests and stats). */
  get size(): number {
    return this.devices.size;
  }

  private sweep(now: number): void {
    this.nextSweep = now + this.sweepEveryMs;
    const since = now - this.sweepEveryMs;
    for (const [k, c] of this.devices) if (c.idleAt(since)) this.devices.delete(k);
  }
}
