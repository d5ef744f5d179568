/**
 * Up-front validation of a Modbus channel: everything a point map can get wrong (overlapping registers,
 * a string without a length, a unit id out of range, a float in a coil…) is refused before a single frame
 * is sent, with IIP_ERR_DRIVER_CONFIG and `details.path` naming the element, e.g. `devices[1].points[3].length`.
 */
import type { ModbusDeviceConfig, ModbusPointConfig, ModbusRtuChannelConfig, ModbusTcpChannelConfig } from '@iip/core';
import { IipError } from '@iip/core';
import { isBitArea, pointWidth } from './point-codec.js';
import { MODBUS_MAX_REGISTERS_PER_READ } from './read-plan.js';

const AREAS = new Set(['coil', 'discrete', 'input', 'holding']);
const TYPES = new Set(['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'bool', 'string']);
const ORDERS = new Set([undefined, 'BE', 'LE']);

function bad(path: string, message: string, value?: unknown): never {
  throw new IipError('IIP_ERR_DRIVER_CONFIG', `${path}: ${message}`, value === undefined ? { path } : { path, value });
}

const isInt = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function checkPoint(p: ModbusPointConfig, path: string): void {
  if (typeof p.property !== 'string' || p.property.length === 0) bad(`${path}.property`, 'must be a non-empty string', p.property);
  if (!AREAS.has(p.area)) bad(`${path}.area`, 'must be coil, discrete, input or holding', p.area);
  if (!TYPES.has(p.type)) bad(`${path}.type`, 'must be int16, uint16, int32, uint32, int64, uint64, float32, float64, bool or string', p.type);
  if (!isInt(p.address, 0, 0xffff)) bad(`${path}.address`, 'must be an integer in 0..65535 (0-based protocol address)', p.address);
  if (isBitArea(p.area) && p.type !== 'bool') bad(`${path}.type`, `a ${p.area} holds one bit: the type must be bool`, p.type);
  if (p.type === 'string') {
    if (!isInt(p.length, 1, MODBUS_MAX_REGISTERS_PER_READ * 2)) bad(`${path}.length`, `a string needs a length in 1..${MODBUS_MAX_REGISTERS_PER_READ * 2} characters`, p.length);
  } else if (p.length !== undefined) bad(`${path}.length`, 'only string points have a length', p.length);
  if (p.bit !== undefined) {
    if (p.type !== 'bool' || isBitArea(p.area)) bad(`${path}.bit`, 'bit applies only to a bool read from a register', p.bit);
    if (!isInt(p.bit, 0, 15)) bad(`${path}.bit`, 'must be an integer in 0..15', p.bit);
  }
  if (!ORDERS.has(p.byteOrder)) bad(`${path}.byteOrder`, 'must be BE or LE', p.byteOrder);
  if (!ORDERS.has(p.wordOrder)) bad(`${path}.wordOrder`, 'must be BE or LE', p.wordOrder);
  if (p.scale !== undefined && !(Number.isFinite(p.scale) && p.scale !== 0)) bad(`${path}.scale`, 'must be a finite, non-zero number', p.scale);
  if (p.offset !== undefined && !Number.isFinite(p.offset)) bad(`${path}.offset`, 'must be a finite number', p.offset);
  if (p.deadband !== undefined && !(Number.isFinite(p.deadband) && p.deadband >= 0)) bad(`${path}.deadband`, 'must be a number ≥ 0', p.deadband);
  if ((p.scale !== undefined || p.offset !== undefined) && (p.type === 'bool' || p.type === 'string')) {
    bad(`${path}.scale`, `scale and offset apply to numbers, not ${p.type}`);
  }
  if (p.address + pointWidth(p) > 0x10000) bad(`${path}.address`, 'the point runs past address 65535', p.address);
}

/** Two points may share a register only when both are single bits of it, and different bits. */
function overlaps(a: ModbusPointConfig, b: ModbusPointConfig): boolean {
  if (a.area !== b.area) return false;
  const aEnd = a.address + pointWidth(a);
  const bEnd = b.address + pointWidth(b);
  if (a.address >= bEnd || b.address >= aEnd) return false;
  const bothBits = a.type === 'bool' && b.type === 'bool' && a.bit !== undefined && b.bit !== undefined && !isBitArea(a.area);
  return !(bothBits && a.address === b.address && a.bit !== b.bit);
}

function checkDevice(d: ModbusDeviceConfig, path: string, protocol: 'modbus-tcp' | 'modbus-rtu'): void {
  if (typeof d.id !== 'string' || d.id.length === 0) bad(`${path}.id`, 'must be a non-empty string', d.id);
  // RTU addresses 1..247 (0 is broadcast, which never answers); Modbus TCP gateways use 0..255.
  const [lo, hi] = protocol === 'modbus-rtu' ? [1, 247] : [0, 255];
  if (!isInt(d.unitId, lo, hi)) bad(`${path}.unitId`, `must be an integer in ${lo}..${hi} for ${protocol}`, d.unitId);
  if (!isInt(d.pollIntervalMs, 10, 86_400_000)) bad(`${path}.pollIntervalMs`, 'must be an integer number of ms in 10..86400000', d.pollIntervalMs);
  if (d.maxGap !== undefined && !isInt(d.maxGap, 0, MODBUS_MAX_REGISTERS_PER_READ)) bad(`${path}.maxGap`, `must be an integer in 0..${MODBUS_MAX_REGISTERS_PER_READ}`, d.maxGap);
  if (!Array.isArray(d.points) || d.points.length === 0) bad(`${path}.points`, 'a device needs at least one point');
  const seen = new Map<string, number>();
  d.points.forEach((p, i) => {
    const pp = `${path}.points[${i}]`;
    checkPoint(p, pp);
    const dup = seen.get(p.property);
    if (dup !== undefined) bad(`${pp}.property`, `"${p.property}" is already bound by points[${dup}]`, p.property);
    seen.set(p.property, i);
    for (let j = 0; j < i; j++) {
      const q = d.points[j]!;
      if (overlaps(p, q)) bad(`${pp}.address`, `${p.area} ${p.address} overlaps points[${j}] ("${q.property}" at ${q.address})`, p.address);
    }
  });
}

/** Throws IIP_ERR_DRIVER_CONFIG (details.path) for the first problem found. */
export function validateModbusChannel(c: ModbusTcpChannelConfig | ModbusRtuChannelConfig): void {
  if (typeof c.id !== 'string' || c.id.length === 0) bad('id', 'the channel needs a non-empty id', c.id);
  if (c.protocol === 'modbus-tcp') {
    if (typeof c.host !== 'string' || c.host.length === 0) bad('host', 'must be a host name or IP address', c.host);
    if (!isInt(c.port, 1, 65535)) bad('port', 'must be an integer in 1..65535', c.port);
  } else if (c.protocol === 'modbus-rtu') {
    if (typeof c.path !== 'string' || c.path.length === 0) bad('path', 'must be a serial device path such as /dev/ttyUSB0', c.path);
    if (!isInt(c.baudRate, 50, 4_000_000)) bad('baudRate', 'must be an integer baud rate', c.baudRate);
    if (c.parity !== undefined && !['none', 'even', 'odd'].includes(c.parity)) bad('parity', 'must be none, even or odd', c.parity);
    if (c.dataBits !== undefined && c.dataBits !== 7 && c.dataBits !== 8) bad('dataBits', 'must be 7 or 8', c.dataBits);
    if (c.stopBits !== undefined && c.stopBits !== 1 && c.stopBits !== 2) bad('stopBits', 'must be 1 or 2', c.stopBits);
  } else {
    bad('protocol', 'must be modbus-tcp or modbus-rtu', (c as { protocol?: unknown }).protocol);
  }
  if (c.timeoutMs !== undefined && !isInt(c.timeoutMs, 1, 600_000)) bad('timeoutMs', 'must be an integer number of ms in 1..600000', c.timeoutMs);
  if (!Array.isArray(c.devices)) bad('devices', 'must be a list');
  const ids = new Map<string, number>();
  const units = new Map<number, number>();
  c.devices.forEach((d, i) => {
    checkDevice(d, `devices[${i}]`, c.protocol);
    const dupId = ids.get(d.id);
    if (dupId !== undefined) bad(`devices[${i}].id`, `"${d.id}" is already used by devices[${dupId}]`, d.id);
    ids.set(d.id, i);
    const dupUnit = units.get(d.unitId);
    if (dupUnit !== undefined) bad(`devices[${i}].unitId`, `unit ${d.unitId} is already used by devices[${dupUnit}] on this channel`, d.unitId);
    units.set(d.unitId, i);
  });
}
