/**
 * Terse builders for thing-model members, so the product files read like a datasheet (id, name, unit,
 * range) rather than nested object literals. Each property's `description` carries its zh-CN name.
 */
import type { AccessMode, EnumValue, ParamSpec, PropertySpec } from '@iip/core';

export function float(id: string, name: string, zh: string, unit: string, min: number, max: number, access: AccessMode = 'r'): PropertySpec {
  return { id, name, description: zh, access, dataType: { type: 'float', unit, min, max } };
}

/** A counter: integer, never negative, no upper bound (it only grows). */
export function counter(id: string, name: string, zh: string, unit: string): PropertySpec {
  return { id, name, description: zh, access: 'r', dataType: { type: 'int', unit, min: 0 } };
}

/** An energy register in kWh: fractional, never negative, monotonic. */
export function energyKwh(zh = '累计电能'): PropertySpec {
  return { id: 'energy', name: 'Energy', description: zh, access: 'r', dataType: { type: 'float', unit: 'kWh', min: 0 } };
}

export const RUN_STATES: readonly EnumValue[] = [
  { value: 'run', text: '运行' },
  { value: 'idle', text: '待机' },
  { value: 'fault', text: '故障' },
];

export function machineState(): PropertySpec {
  return { id: 'state', name: 'Machine state', description: '设备状态', access: 'r', dataType: { type: 'enum', values: RUN_STATES } };
}

/** The fault event every machine announces: a vendor fault code and a readable message. */
export const FAULT_OUTPUTS: readonly ParamSpec[] = [
  { id: 'code', name: 'Fault code', dataType: { type: 'string', maxLength: 16 }, required: true },
  { id: 'message', name: 'Fault message', dataType: { type: 'string', maxLength: 200 }, required: true },
];
