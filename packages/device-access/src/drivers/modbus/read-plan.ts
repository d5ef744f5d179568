/**
 * The coalesced read plan of one Modbus device: its points are grouped by area and merged into as few
 * requests as the protocol allows — neighbours whose gap is at most `maxGap` share one request, and no
 * request exceeds 125 registers (FC3/FC4) or 2000 bits (FC1/FC2). Reading a few unwanted registers is far
 * cheaper than another round trip, which on a serial line costs a whole turnaround. Pure, property-tested.
 */
import type { ModbusArea, ModbusDeviceConfig, ModbusPointConfig } from '@iip/core';
import { isBitArea, pointWidth } from './point-codec.js';

/** Protocol ceilings (Modbus Application Protocol v1.1b3, FC1/FC2: 2000 bits, FC3/FC4: 125 registers). */
export const MODBUS_MAX_REGISTERS_PER_READ = 125;
export const MODBUS_MAX_BITS_PER_READ = 2000;
export const DEFAULT_MAX_GAP = 8;

export interface ReadLimits {
  /** Registers per FC3/FC4 request (≤ 125; some devices need less). */
  readonly maxRegisters?: number;
  /** Bits per FC1/FC2 request (≤ 2000). */
  readonly maxBits?: number;
}

/** One coalesced request: a contiguous range of one area and the points it carries. */
export interface ModbusReadRequest {
  readonly area: ModbusArea;
  readonly start: number;
  readonly count: number;
  readonly points: readonly ModbusPointConfig[];
}

const AREAS: readonly ModbusArea[] = ['coil', 'discrete', 'holding', 'input'];

/** Groups the device's points into coalesced requests, in area then address order. */
export function planReads(device: Pick<ModbusDeviceConfig, 'points' | 'maxGap'>, limits: ReadLimits = {}): ModbusReadRequest[] {
  const maxGap = device.maxGap ?? DEFAULT_MAX_GAP;
  const out: ModbusReadRequest[] = [];
  for (const area of AREAS) {
    const limit = isBitArea(area)
      ? Math.min(limits.maxBits ?? MODBUS_MAX_BITS_PER_READ, MODBUS_MAX_BITS_PER_READ)
      : Math.min(limits.maxRegisters ?? MODBUS_MAX_REGISTERS_PER_READ, MODBUS_MAX_REGISTERS_PER_READ);
    const pts = device.points.filter((p) => p.area === area).sort((a, b) => a.address - b.address || pointWidth(b) - pointWidth(a));
    let cur: { start: number; end: number; points: ModbusPointConfig[] } | undefined;
    for (const p of pts) {
      const end = p.address + pointWidth(p);
      if (cur && p.address - cur.end <= maxGap && Math.max(cur.end, end) - cur.start <= limit) {
        cur.end = Math.max(cur.end, end);
        cur.points.push(p);
        continue;
      }
      if (cur) out.push({ area, start: cur.start, count: cur.end - cur.start, points: cur.points });
      cur = { start: p.address, end, points: [p] };
    }
    if (cur) out.push({ area, start: cur.start, count: cur.end - cur.start, points: cur.points });
  }
  return out;
}

/**
 * How to retry a coalesced read the device refused with exception 2 (illegal data address): first without
 * the registers between points (the holes a sparse map leaves), then one request per point. Returns [] for
 * a request of one point, which is then itself the illegal address. At most one request per point, so the
 * work a refusal adds to a poll stays bounded by the device's point count.
 */
export function splitOnIllegalAddress(r: ModbusReadRequest): ModbusReadRequest[] {
  if (r.points.length <= 1) return [];
  const runs = planReads({ points: r.points, maxGap: 0 }, { maxRegisters: r.count, maxBits: r.count });
  if (runs.length > 1) return runs;
  return r.points.map((p) => ({ area: r.area, start: p.address, count: pointWidth(p), points: [p] }));
}

const FUNCTION_OF: Readonly<Record<ModbusArea, number>> = { coil: 1, discrete: 2, holding: 3, input: 4 };

/** The read function code of an area (FC1 coils, FC2 discrete inputs, FC3 holding, FC4 input registers). */
export function readFunctionOf(area: ModbusArea): number {
  return FUNCTION_OF[area];
}

/** "unit 1 holding 0..9 (10 registers, FC3)" — how a request shows in readPlan() and in logs. */
export function describeRequest(unitId: number, r: Pick<ModbusReadRequest, 'area' | 'start' | 'count'>): string {
  const unit = isBitArea(r.area) ? 'bits' : 'registers';
  return `unit ${unitId} ${r.area} ${r.start}..${r.start + r.count - 1} (${r.count} ${unit}, FC${readFunctionOf(r.area)})`;
}
