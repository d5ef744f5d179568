/**
 * `ModbusDriver`: one Modbus channel (a TCP endpoint or a serial line) and the devices behind it, behind
 * the platform's `Driver` interface. Devices are polled in turn — one request at a time, as a serial line
 * requires — each at its own interval, with coalesced reads; a device that keeps failing is demoted to a
 * slow poll so it cannot starve the others, and promoted back on its first answer. A dropped link is
 * reopened with exponential backoff. Every failure is a typed IipError; none of them stops the driver.
 */
import type {
  DeviceHealth,
  Driver,
  DriverFailure,
  DriverHealth,
  DriverReading,
  FailureSink,
  ModbusDeviceConfig,
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
import { decodeBit, decodeRegisters, encodeBit, encodeRegisters, passesDeadband, pointWidth } from './point-codec.js';
import { DEMOTE_AFTER_FAILURES, linkState, nextDue, reconnectDelayMs } from './poll-schedule.js';
import { describeRequest, type ModbusReadRequest, planReads, type ReadLimits, readFunctionOf } from './read-plan.js';

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
  readonly requests: readonly ModbusReadRequest[];
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
      this.devices.set(d.id, {
        cfg: d,
        requests: planReads(d, opts.limits),
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
        return r.points.map((p) => {
          const from = p.address - r.start;
          return { device, property: p.property, ts, value: decodeRegisters(p, res.data.slice(from, from + pointWidth(p))) };
        });
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

  /** One poll cycle of one device: its requests in turn; the first device-level failure ends the cycle. */
  private async pollDevice(d: DeviceState): Promise<void> {
    const started = this.now();
    const readings: DriverReading[] = [];
    let failure: IipError | null = null;
    for (const r of d.requests) {
      try {
        readings.push(...(await this.readRequest(d, r)));
      } catch (e) {
        failure = e instanceof IipError ? e : new IipError('IIP_ERR_MODBUS_FRAME', String(e), { device: d.cfg.id });
        break;
      }
    }
    if (this.closed) return;
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
