/**
 * Simulated Modbus TCP PLCs: one TCP server whose unit ids are factory machines, each driven by the same
 * seeded `DeviceSimulation` as the MQTT devices, so a gateway polling them sees plausible, moving signals.
 * Tests can pin values, read back what a driver wrote, and make a unit answer with an exception or fall
 * silent; `modbusDemoChannel` turns a running PLC into the channel configuration a gateway needs.
 */
import type { ModbusArea, ModbusDeviceConfig, ModbusPointConfig, ModbusTcpChannelConfig, PointValue } from '@iip/core';
import { IipError } from '@iip/core';
import { DeviceSimulation } from '../device-simulation.js';
import { findProduct } from '../products/factory-products.js';
import { ModbusTcpServer, type UnitBehaviour, UnitMemory } from './modbus-tcp-server.js';
import { registerLayout, decodeWords, encodeWords } from './plc-register-map.js';

export interface ModbusPlcUnit {
  readonly unitId: number;
  /** Platform device id this unit stands for. */
  readonly deviceId: string;
  /** A factory product id (cnc-machine, air-compressor, injection-moulding-machine, energy-meter). */
  readonly product: string;
  readonly seed?: number;
}

export interface ModbusPlcOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default: four machines, one of each product, unit ids 1..4. */
  readonly units?: readonly ModbusPlcUnit[];
  /** How often the signals advance into the registers (default 1000 ms). */
  readonly updateMs?: number;
  /** Poll interval written into `pointMap()` (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** Simulation start (default now). */
  readonly startMs?: number;
}

export interface ModbusPlc {
  readonly host: string;
  readonly port: number;
  readonly units: readonly ModbusPlcUnit[];
  /** The point map of one simulated device, ready for a Modbus channel configuration. */
  pointMap(deviceId: string): ModbusDeviceConfig;
  /** Pins a property to a value (the signal no longer moves it) — for tests. */
  set(deviceId: string, property: string, value: PointValue): void;
  /** The value a property holds now (e.g. after a driver wrote it). */
  get(deviceId: string, property: string): PointValue;
  /** Raw memory access for tests: words for registers, 0/1 for bits. */
  setRaw(unitId: number, area: ModbusArea, address: number, values: readonly number[]): void;
  getRaw(unitId: number, area: ModbusArea, address: number, count: number): number[];
  /** Makes a unit answer every request with an exception, stay silent, or (null) behave again. */
  misbehave(unitId: number, behaviour: UnitBehaviour): void;
  /** Requests the server has handled so far. */
  requests(): number;
  close(): Promise<void>;
}

export const DEFAULT_PLC_UNITS: readonly ModbusPlcUnit[] = [
  { unitId: 1, deviceId: 'plc-cnc-01', product: 'cnc-machine' },
  { unitId: 2, deviceId: 'plc-compressor-01', product: 'air-compressor' },
  { unitId: 3, deviceId: 'plc-imm-01', product: 'injection-moulding-machine' },
  { unitId: 4, deviceId: 'plc-meter-01', product: 'energy-meter' },
];

interface SimUnit {
  readonly cfg: ModbusPlcUnit;
  readonly mem: UnitMemory;
  readonly sim: DeviceSimulation;
  readonly points: readonly ModbusPointConfig[];
  readonly pinned: Set<string>;
}

function writePoint(mem: UnitMemory, p: ModbusPointConfig, value: PointValue): void {
  if (p.area === 'coil' || p.area === 'discrete') {
    mem.area(p.area)[p.address] = value === true || value === 1 ? 1 : 0;
    return;
  }
  mem.area(p.area).set(encodeWords(p, value), p.address);
}

function readPoint(mem: UnitMemory, p: ModbusPointConfig): PointValue {
  if (p.area === 'coil' || p.area === 'discrete') return mem.area(p.area)[p.address] === 1;
  const width = p.type === 'string' ? Math.ceil((p.length ?? 0) / 2) : 2;
  return decodeWords(p, mem.area(p.area).subarray(p.address, p.address + width));
}

export async function startModbusPlc(opts: ModbusPlcOptions): Promise<ModbusPlc> {
  const host = opts.host ?? '127.0.0.1';
  const units = opts.units ?? DEFAULT_PLC_UNITS;
  const startMs = opts.startMs ?? Date.now();
  const byDevice = new Map<string, SimUnit>();
  const byUnit = new Map<number, SimUnit>();
  for (const u of units) {
    const product = findProduct(u.product);
    if (!product) {
      throw new IipError('IIP_ERR_SIM_UNKNOWN_PRODUCT', `unknown product "${u.product}" for unit ${u.unitId}`, { product: u.product });
    }
    if (byUnit.has(u.unitId) || byDevice.has(u.deviceId) || !(u.unitId >= 0 && u.unitId <= 255)) {
      throw new IipError('IIP_ERR_SIM_BAD_OPTION', `unit ${u.unitId} / device ${u.deviceId} is duplicated or out of range 0..255`, { unitId: u.unitId });
    }
    const unit: SimUnit = {
      cfg: u,
      mem: new UnitMemory(),
      sim: new DeviceSimulation({ product: u.product, seed: u.seed ?? u.unitId * 7919, startMs }),
      points: registerLayout(product.model),
      pinned: new Set(),
    };
    byDevice.set(u.deviceId, unit);
    byUnit.set(u.unitId, unit);
  }

  const refresh = (now: number): void => {
    for (const u of byUnit.values()) {
      const sample = u.sim.advance(now);
      for (const p of u.points) {
        // set points belong to whoever wrote them last (the gateway), not to the signal model
        if (u.pinned.has(p.property) || p.area === 'holding' || p.area === 'coil') continue;
        const v = sample.values[p.property];
        if (v !== undefined) writePoint(u.mem, p, v);
      }
    }
  };
  // initial set points come from the signal model once
  for (const u of byUnit.values()) {
    const sample = u.sim.advance(startMs);
    for (const p of u.points) {
      const v = sample.values[p.property];
      if (v !== undefined) writePoint(u.mem, p, v);
    }
  }
  refresh(Date.now());

  const server = new ModbusTcpServer();
  for (const [id, u] of byUnit) server.units.set(id, u.mem);
  const port = await server.listen(opts.port, host);
  const timer = setInterval(() => refresh(Date.now()), opts.updateMs ?? 1000);
  timer.unref();

  const unitOf = (deviceId: string): SimUnit => {
    const u = byDevice.get(deviceId);
    if (!u) throw new IipError('IIP_ERR_SIM_UNKNOWN_DEVICE', `no simulated Modbus device "${deviceId}"`, { deviceId });
    return u;
  };
  const pointOf = (u: SimUnit, property: string): ModbusPointConfig => {
    const p = u.points.find((x) => x.property === property);
    if (!p) throw new IipError('IIP_ERR_SIM_BAD_OPTION', `device ${u.cfg.deviceId} has no property "${property}"`, { property });
    return p;
  };
  const memOf = (unitId: number): UnitMemory => {
    const m = server.units.get(unitId);
    if (!m) throw new IipError('IIP_ERR_SIM_UNKNOWN_DEVICE', `no simulated Modbus unit ${unitId}`, { unitId });
    return m;
  };

  let closed = false;
  return {
    host,
    port,
    units,
    pointMap: (deviceId) => {
      const u = unitOf(deviceId);
      return { id: deviceId, unitId: u.cfg.unitId, pollIntervalMs: opts.pollIntervalMs ?? 1000, points: u.points.map((p) => ({ ...p })) };
    },
    set: (deviceId, property, value) => {
      const u = unitOf(deviceId);
      const p = pointOf(u, property);
      u.pinned.add(property);
      writePoint(u.mem, p, value);
    },
    get: (deviceId, property) => {
      const u = unitOf(deviceId);
      return readPoint(u.mem, pointOf(u, property));
    },
    setRaw: (unitId, area, address, values) => memOf(unitId).area(area).set(values, address),
    getRaw: (unitId, area, address, count) => [...memOf(unitId).area(area).subarray(address, address + count)],
    misbehave: (unitId, behaviour) => {
      if (behaviour === null) server.behaviour.delete(unitId);
      else server.behaviour.set(unitId, behaviour);
    },
    requests: () => server.requests,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await server.close();
    },
  };
}

/** A Modbus TCP channel that polls every unit of a running simulated PLC (the `npm start` demo's path). */
export function modbusDemoChannel(plc: Pick<ModbusPlc, 'host' | 'port' | 'units' | 'pointMap'>, opts: { id?: string; pollIntervalMs?: number } = {}): ModbusTcpChannelConfig {
  return {
    id: opts.id ?? `modbus-${plc.port}`,
    protocol: 'modbus-tcp',
    host: plc.host,
    port: plc.port,
    timeoutMs: 1000,
    devices: plc.units.map((u) => ({ ...plc.pointMap(u.deviceId), pollIntervalMs: opts.pollIntervalMs ?? 1000 })),
  };
}
