/**
 * `ModbusDriver`: one Modbus channel (a TCP endpoint or a serial line) and the devices behind it, behind
 * the platform's `Driver` interface. Devices are polled in turn — one request at a time, as a serial line
 * requires — each at its own interval, with coalesced reads; a device that keeps failing is demoted to a
 * slow poll so it cannot starve the others, and promoted back on its first answer. A dropped link is
 * reopened with exponential backoff. Every failure is a typed IipError; none of them stops the driver.
 *
 * A sparse register map must not cost a device its readings: when a coalesced read is refused with
 * exception 2 (illegal data address), the driver splits it (first around the holes, then per point),
 * keeps the parts that answer as the device's plan, and reports a point that is itself refused as a
 * per-point failure. A value no thing model can hold (NaN, ±Infinity) is left out the same way. What was
 * learned is forgotten on reconnect and every RELEARN_AFTER_MS, so a reprogrammed PLC is noticed.
 */
import type {
  DeviceHealth,
  Driver,
  DriverFailure,
  DriverHealth,
  DriverReading,
  FailureSink,
  ModbusDeviceConfig,
  PointFailure,
  ModbusPointConfig,
  ModbusRtuChannelConfig,
  ModbusTcpChannelConfig,
  PointValue,
  ReadingSink,
  ReadPlanEntry,
} from '@iip/core';
import { IipError } from '@iip/core';
import { validateModbusChannel } from './config-validation.js';
import { frameError, isLinkFailure } from './modbus-errors.js';
import { ModbusLink } from './modbus-link.js';
import { decodeBit, decodeRegisters, encodeBit, encodeRegisters, losesPrecision, passesDeadband, pointWidth, wordsToBigInt } from './point-codec.js';
import { DEMOTE_AFTER_FAILURES, linkState, nextDue, reconnectDelayMs } from './poll-schedule.js';
import { describeRequest, type ModbusReadRequest, planReads, type ReadLimits, readFunctionOf, splitOnIllegalAddress } from './read-plan.js';

/** A plan learned from exception 2 is dropped after this long and the coalesced plan is tried again. */
export const RELEARN_AFTER_MS = 10 * 60_000;

export type ModbusChannelConfig = ModbusTcpChannelConfig | ModbusRtuChannelConfig;

export interface ModbusDriverOptions {
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: object) => void;
  /** Clock for reading timestamps and scheduling (default Date.now). */
  readonly now?: () => number;
  /**
   * Per-request ceilings below the protocol's (125 registers, 2000 bits), for devices that refuse long
   * reads. 1 turns coalescing off, which the benchmark uses as its baseline.
   */
  readonly limits?: ReadLimits;
}

interface DeviceState {
  readonly cfg: ModbusDeviceConfig;
  /** The coalesced plan from the configuration. */
  readonly base: readonly ModbusReadRequest[];
  /** What is polled: `base`, or the plan learned from illegal-address refusals. */
  requests: readonly ModbusReadRequest[];
  /** When `requests` was learned (null while it is `base`). */
  learnedAt: number | null;
  /** property → why it currently gives no value (refused address or a value no model can hold). */
  readonly pointFailures: Map<string, PointFailure>;
  readonly points: ReadonlyMap<string, ModbusPointConfig>;
  due: number;
  polls: number;
  errors: number;
  consecutiveFailures: number;
  lastLatencyMs: number | null;
  lastError: DriverFailure | null;
  readonly lastReported: Map<string, PointValue>;
}

function toFailure(e: IipError, ts: number): DriverFailure {
  return { code: e.code, message: e.message, ts, details: e.details };
}

/** Exception 2: the device does not have (some of) the addresses read. */
function isIllegalAddress(e: IipError): boolean {
  return e.code === 'IIP_ERR_MODBUS_EXCEPTION' && e.details.exceptionCode === 2;
}

function asIipError(e: unknown, device: string): IipError {
  return e instanceof IipError ? e : new IipError('IIP_ERR_MODBUS_FRAME', String(e), { device });
}

/** What splitting a refused read found: the parts that answered, their readings, and the refused points. */
interface SplitResult {
  readonly plan: ModbusReadRequest[];
  readonly readings: DriverReading[];
  readonly refused: { point: ModbusPointConfig; error: IipError }[];
}

export class ModbusDriver implements Driver {
  readonly channel: string;
  readonly protocol: string;
  private readonly link: ModbusLink;
  private readonly devices = new Map<string, DeviceState>();
  private readonly log: NonNullable<ModbusDriverOptions['log']>;
  private readonly now: () => number;
  private started = false;
  private closed = false;
  private reconnecting: Promise<void> | null = null;
  private loop: Promise<void> | null = null;
  private onReadings: ReadingSink | null = null;
  private onFailure: FailureSink | null = null;
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(config: ModbusChannelConfig, opts: ModbusDriverOptions = {}) {
    validateModbusChannel(config);
    this.channel = config.id;
    this.protocol = config.protocol;
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    for (const d of config.devices) {
      const base = planReads(d, opts.limits);
      this.devices.set(d.id, {
        cfg: d,
        base,
        requests: base,
        learnedAt: null,
        pointFailures: new Map(),
        points: new Map(d.points.map((p) => [p.property, p])),
        due: 0,
        polls: 0,
        errors: 0,
        consecutiveFailures: 0,
        lastLatencyMs: null,
        lastError: null,
        lastReported: new Map(),
      });
    }
    this.link = new ModbusLink(config);
    this.link.onDown((e) => {
      this.log('warn', `modbus channel ${this.channel}: ${e.message}`, { channel: this.channel, code: e.code });
      this.startReconnect();
    });
  }

  async connect(): Promise<void> {
    if (this.closed) throw new IipError('IIP_ERR_DRIVER_CONNECT', `modbus channel ${this.channel} is closed`, { channel: this.channel });
    this.started = true;
    await this.link.open();
    this.log('info', `modbus channel ${this.channel} connected`, { channel: this.channel });
  }

  readPlan(): readonly ReadPlanEntry[] {
    const out: ReadPlanEntry[] = [];
    for (const d of this.devices.values()) {
      for (const r of d.requests) {
        out.push({ device: d.cfg.id, request: describeRequest(d.cfg.unitId, r), properties: r.points.map((p) => p.property) });
      }
    }
    return out;
  }

  async subscribe(onReadings: ReadingSink, onFailure?: FailureSink): Promise<void> {
    if (this.closed) throw new IipError('IIP_ERR_DRIVER_CONNECT', `modbus channel ${this.channel} is closed`, { channel: this.channel });
    this.onReadings = onReadings;
    this.onFailure = onFailure ?? null;
    this.started = true;
    if (!this.link.isOpen) this.startReconnect();
    if (!this.loop) {
      const t = this.now();
      for (const d of this.devices.values()) d.due = t;
      this.loop = this.pollLoop();
    }
  }

  async readOnce(device: string): Promise<DriverReading[]> {
    const d = this.deviceOf(device);
    const out: DriverReading[] = [];
    for (const r of d.requests) out.push(...(await this.readRequest(d, r)));
    return out;
  }

  async write(device: string, property: string, value: PointValue): Promise<void> {
    const d = this.deviceOf(device);
    const p = d.points.get(property);
    if (!p) {
      throw new IipError('IIP_ERR_DRIVER_UNKNOWN_POINT', `device ${device} has no point bound to property "${property}"`, { device, property });
    }
    if (p.area === 'input' || p.area === 'discrete') {
      throw new IipError('IIP_ERR_DRIVER_NOT_WRITABLE', `${device}.${property} is a Modbus ${p.area === 'input' ? 'input register' : 'discrete input'}, which is read-only`, {
        device,
        property,
        area: p.area,
      });
    }
    const unit = d.cfg.unitId;
    if (p.area === 'coil') {
      const state = encodeBit(p, value);
      await this.link.request({ unit, function: 5, address: p.address, count: 1 }, (c) => c.writeCoil(p.address, state));
      return;
    }
    if (p.type === 'bool' && p.bit !== undefined) {
      // One bit of a register: read-modify-write, because FC22 (mask write) is missing on many devices.
      const cur = await this.link.request({ unit, function: 3, address: p.address, count: 1 }, (c) => c.readHoldingRegisters(p.address, 1));
      const words = encodeRegisters(p, value, cur.data[0] ?? 0);
      await this.link.request({ unit, function: 6, address: p.address, count: 1 }, (c) => c.writeRegister(p.address, words[0] ?? 0));
      return;
    }
    const words = encodeRegisters(p, value);
    if (words.length === 1) {
      await this.link.request({ unit, function: 6, address: p.address, count: 1 }, (c) => c.writeRegister(p.address, words[0] ?? 0));
    } else {
      await this.link.request({ unit, function: 16, address: p.address, count: words.length }, (c) => c.writeRegisters(p.address, words));
    }
  }

  health(): DriverHealth {
    const devices: DeviceHealth[] = [...this.devices.values()].map((d) => ({
      device: d.cfg.id,
      state: linkState(d.polls, d.consecutiveFailures),
      lastLatencyMs: d.lastLatencyMs,
      polls: d.polls,
      errors: d.errors,
      consecutiveFailures: d.consecutiveFailures,
      lastError: d.lastError,
      ...(d.pointFailures.size > 0 ? { pointFailures: [...d.pointFailures.values()] } : {}),
    }));
    return { channel: this.channel, protocol: this.protocol, connected: this.link.isOpen, devices };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onReadings = null;
    this.onFailure = null;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleepers.clear();
    await this.link.close();
    await this.loop;
    await this.reconnecting;
  }

  private deviceOf(device: string): DeviceState {
    const d = this.devices.get(device);
    if (!d) throw new IipError('IIP_ERR_DRIVER_UNKNOWN_POINT', `channel ${this.channel} has no device "${device}"`, { device, channel: this.channel });
    return d;
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const s = {
        timer: setTimeout(() => {
          this.sleepers.delete(s);
          resolve();
        }, Math.max(0, ms)),
        resolve,
      };
      this.sleepers.add(s);
    });
  }

  private startReconnect(): void {
    if (this.reconnecting || this.closed || !this.started) return;
    this.reconnecting = (async () => {
      for (let attempt = 0; !this.closed && !this.link.isOpen; attempt++) {
        await this.sleep(reconnectDelayMs(attempt));
        if (this.closed) break;
        try {
          await this.link.open();
          // Another device (or the same one, reprogrammed) may be behind the link now: learn its map again.
          for (const d of this.devices.values()) this.forgetLearned(d);
          this.log('info', `modbus channel ${this.channel} reconnected after ${attempt + 1} attempt(s)`, { channel: this.channel });
        } catch (e) {
          if (attempt === 0) this.log('warn', `modbus channel ${this.channel}: ${(e as Error).message}; retrying with backoff`, { channel: this.channel });
        }
      }
    })().finally(() => {
      this.reconnecting = null;
    });
  }

  /** Reads one coalesced request and decodes its points (no deadband: that is the subscription's business). */
  private async readRequest(d: DeviceState, r: ModbusReadRequest): Promise<DriverReading[]> {
    const ctx = { unit: d.cfg.unitId, function: readFunctionOf(r.area), address: r.start, count: r.count };
    const device = d.cfg.id;
    switch (r.area) {
      case 'coil':
      case 'discrete': {
        const res = await this.link.request(ctx, (c) => (r.area === 'coil' ? c.readCoils(r.start, r.count) : c.readDiscreteInputs(r.start, r.count)));
        if (res.data.length < r.count) throw frameError(`${res.data.length} bits in the response, ${r.count} requested`, ctx);
        const ts = this.now();
        return r.points.map((p) => ({ device, property: p.property, ts, value: decodeBit(res.data[p.address - r.start] === true) }));
      }
      case 'holding':
      case 'input': {
        const res = await this.link.request(ctx, (c) =>
          r.area === 'holding' ? c.readHoldingRegisters(r.start, r.count) : c.readInputRegisters(r.start, r.count),
        );
        // modbus-serial trusts the byte count inside the frame; a short one must not reach the decoder
        if (res.data.length !== r.count) throw frameError(`${res.data.length} registers in the response, ${r.count} requested`, ctx);
        const ts = this.now();
        const out: DriverReading[] = [];
        for (const p of r.points) {
          const from = p.address - r.start;
          const words = res.data.slice(from, from + pointWidth(p));
          const value = decodeRegisters(p, words);
          if (typeof value === 'number' && !Number.isFinite(value)) {
            this.notePointFailure(d, p.property, new IipError('IIP_ERR_DRIVER_BAD_VALUE', `${device}.${p.property}: ${describeRequest(d.cfg.unitId, { area: r.area, start: p.address, count: pointWidth(p) })} holds ${String(value)}, which no thing model can hold; the point is left out of this reading`, {
              device,
              property: p.property,
              raw: String(value),
              registers: words,
            }), ts);
            continue;
          }
          // An unscaled 64-bit counter beyond ±(2^53 − 1) would be stored rounded: refused with its exact value instead.
          if (p.scale === undefined && p.offset === undefined && losesPrecision(p, words)) {
            const exact = (p.type === 'int64' ? wordsToBigInt(p, words, true) : wordsToBigInt(p, words, false)).toString();
            this.notePointFailure(d, p.property, new IipError('IIP_ERR_DRIVER_UNSAFE_INTEGER', `${device}.${p.property}: ${describeRequest(d.cfg.unitId, { area: r.area, start: p.address, count: pointWidth(p) })} holds the ${p.type} ${exact}, beyond ±(2^53 − 1); it is not stored rounded`, {
              device,
              property: p.property,
              value: exact,
              registers: words,
            }), ts);
            continue;
          }
          const stale = d.pointFailures.get(p.property)?.code;
          if (stale === 'IIP_ERR_DRIVER_BAD_VALUE' || stale === 'IIP_ERR_DRIVER_UNSAFE_INTEGER') d.pointFailures.delete(p.property);
          out.push({ device, property: p.property, ts, value });
        }
        return out;
      }
      default: {
        const never: never = r.area;
        throw new Error(`unknown area ${String(never)}`);
      }
    }
  }

  private async pollLoop(): Promise<void> {
    while (!this.closed) {
      if (!this.link.isOpen) {
        await this.sleep(50);
        continue;
      }
      let next: DeviceState | undefined;
      for (const d of this.devices.values()) if (!next || d.due < next.due) next = d;
      if (!next) return;
      const wait = next.due - this.now();
      if (wait > 0) {
        await this.sleep(Math.min(wait, 1000));
        continue;
      }
      await this.pollDevice(next);
    }
  }

  /**
   * One poll cycle of one device: its requests in turn; the first device-level failure ends the cycle. A
   * request refused with exception 2 is split and read again in the same cycle; when some points of the
   * device answer, the parts that answered become its plan and the refused points per-point failures. When
   * none does, the device as a whole is failing (a unit that refuses everything), and nothing is learned.
   */
  private async pollDevice(d: DeviceState): Promise<void> {
    const started = this.now();
    if (d.learnedAt !== null && started - d.learnedAt >= RELEARN_AFTER_MS) this.forgetLearned(d);
    const readings: DriverReading[] = [];
    let failure: IipError | null = null;
    let firstRefusal: IipError | null = null;
    const learned = new Map<ModbusReadRequest, SplitResult>();
    for (const r of d.requests) {
      try {
        readings.push(...(await this.readRequest(d, r)));
      } catch (e) {
        const err = asIipError(e, d.cfg.id);
        if (!isIllegalAddress(err)) {
          failure = err;
          break;
        }
        firstRefusal ??= err;
        const split: SplitResult = { plan: [], readings: [], refused: [] };
        const f = await this.readSplit(d, r, err, split);
        if (f) {
          failure = f;
          break;
        }
        learned.set(r, split);
        readings.push(...split.readings);
      }
    }
    if (this.closed) return;
    if (!failure && firstRefusal) {
      const answered = readings.length > 0 || d.requests.some((r) => !learned.has(r));
      if (answered) this.learn(d, learned);
      else failure = firstRefusal;
    }
    const finished = this.now();
    this.emit(d, readings);
    if (failure && isLinkFailure(failure)) {
      // The channel is down, not the device: keep its schedule and let the reconnect loop work.
      d.due = finished;
      return;
    }
    d.polls++;
    if (failure) {
      d.errors++;
      d.consecutiveFailures++;
      d.lastError = toFailure(failure, finished);
      if (d.consecutiveFailures === 1 || d.consecutiveFailures === DEMOTE_AFTER_FAILURES) {
        const what = d.consecutiveFailures === 1 ? 'failing' : 'demoted to a slow poll';
        this.log('warn', `modbus device ${d.cfg.id} ${what}: ${failure.message}`, { device: d.cfg.id, code: failure.code });
      }
      try {
        this.onFailure?.(d.cfg.id, d.lastError);
      } catch (e) {
        this.log('warn', `failure sink threw: ${String(e)}`, { device: d.cfg.id });
      }
    } else {
      if (d.consecutiveFailures >= DEMOTE_AFTER_FAILURES) this.log('info', `modbus device ${d.cfg.id} answers again; promoted`, { device: d.cfg.id });
      d.consecutiveFailures = 0;
      d.lastLatencyMs = finished - started;
    }
    d.due = nextDue(d.due, finished, d.cfg.pollIntervalMs, d.consecutiveFailures);
  }

  /** Reads the parts of a refused request; returns a failure that is not exception 2 (which ends the poll). */
  private async readSplit(d: DeviceState, r: ModbusReadRequest, refusal: IipError, out: SplitResult): Promise<IipError | null> {
    const parts = splitOnIllegalAddress(r);
    if (parts.length === 0) {
      for (const point of r.points) out.refused.push({ point, error: refusal });
      return null;
    }
    for (const part of parts) {
      try {
        out.readings.push(...(await this.readRequest(d, part)));
        out.plan.push(part);
      } catch (e) {
        const err = asIipError(e, d.cfg.id);
        if (!isIllegalAddress(err)) return err;
        const f = await this.readSplit(d, part, err, out);
        if (f) return f;
      }
    }
    return null;
  }

  /** Replaces refused requests by the parts that answered; the refused points are skipped from now on. */
  private learn(d: DeviceState, learned: ReadonlyMap<ModbusReadRequest, SplitResult>): void {
    if (learned.size === 0) return;
    const ts = this.now();
    d.requests = d.requests.flatMap((r) => learned.get(r)?.plan ?? [r]);
    d.learnedAt ??= ts;
    for (const split of learned.values()) {
      for (const { point, error } of split.refused) {
        this.notePointFailure(d, point.property, new IipError(error.code, `${d.cfg.id}.${point.property}: ${error.message}; the point is skipped until the link reconnects or the configuration changes`, {
          ...error.details,
          device: d.cfg.id,
          property: point.property,
        }), ts);
      }
    }
    this.log('info', `modbus device ${d.cfg.id}: read plan split around illegal addresses`, {
      device: d.cfg.id,
      requests: d.requests.map((r) => describeRequest(d.cfg.unitId, r)),
      refused: [...learned.values()].flatMap((s) => s.refused.map((x) => x.point.property)),
    });
  }

  private forgetLearned(d: DeviceState): void {
    d.requests = d.base;
    d.learnedAt = null;
    for (const [property, f] of d.pointFailures) if (f.code === 'IIP_ERR_MODBUS_EXCEPTION') d.pointFailures.delete(property);
  }

  private notePointFailure(d: DeviceState, property: string, e: IipError, ts: number): void {
    const prev = d.pointFailures.get(property);
    const count = prev && prev.code === e.code ? prev.count + 1 : 1;
    d.pointFailures.set(property, { property, code: e.code, message: e.message, ts, details: e.details, count });
    if (count === 1) this.log('warn', e.message, { device: d.cfg.id, property, code: e.code });
  }

  private emit(d: DeviceState, readings: readonly DriverReading[]): void {
    if (readings.length === 0 || !this.onReadings) return;
    const passed = readings.filter((r) => {
      const p = d.points.get(r.property);
      if (!p || !passesDeadband(p, d.lastReported.get(r.property), r.value)) return false;
      d.lastReported.set(r.property, r.value);
      return true;
    });
    if (passed.length === 0) return;
    try {
      this.onReadings(passed);
    } catch (e) {
      this.log('warn', `reading sink threw: ${String(e)}`, { channel: this.channel });
    }
  }
}
