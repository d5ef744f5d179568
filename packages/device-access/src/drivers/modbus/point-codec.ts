/**
 * Pure conversion between Modbus words/bits and engineering values for one point of a device's point map:
 * data type, byte order inside each register, register order of 32/64-bit values, a single bit of a
 * register, scale and offset. Encoding (for writes) is the exact inverse, so a value written and read back
 * comes out as it went in. No I/O here, so every rule is property-tested.
 *
 * 64-bit integers (int64/uint64, four registers) are engineering numbers, i.e. JavaScript doubles: a read
 * beyond ±(2^53 − 1) comes out as the nearest double (exact to about 16 significant digits, the same as a
 * float64 point), and a write beyond it is refused, since no JSON number names such an integer exactly.
 */
import type { ModbusPointConfig, PointValue } from '@iip/core';
import { IipError } from '@iip/core';

/** Registers (16-bit words) or bits a point occupies in its area. */
export function pointWidth(p: ModbusPointConfig): number {
  if (p.area === 'coil' || p.area === 'discrete') return 1;
  switch (p.type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
    case 'string':
      return Math.ceil((p.length ?? 0) / 2);
    default: {
      const never: never = p.type;
      throw new Error(`unknown Modbus data type ${String(never)}`);
    }
  }
}

/** True when the point is a bit area (coils, discrete inputs) rather than 16-bit registers. */
export function isBitArea(area: ModbusPointConfig['area']): boolean {
  return area === 'coil' || area === 'discrete';
}

/** Lays the words out as big-endian bytes, applying the point's word and byte order. */
function wordsToBytes(p: ModbusPointConfig, words: readonly number[]): Buffer {
  const ordered = p.wordOrder === 'LE' && p.type !== 'string' ? [...words].reverse() : words;
  const buf = Buffer.alloc(ordered.length * 2);
  ordered.forEach((w, i) => {
    if (p.byteOrder === 'LE') buf.writeUInt16LE(w & 0xffff, i * 2);
    else buf.writeUInt16BE(w & 0xffff, i * 2);
  });
  return buf;
}

function bytesToWords(p: ModbusPointConfig, buf: Buffer): number[] {
  const words: number[] = [];
  for (let i = 0; i < buf.length; i += 2) words.push(p.byteOrder === 'LE' ? buf.readUInt16LE(i) : buf.readUInt16BE(i));
  return p.wordOrder === 'LE' && p.type !== 'string' ? words.reverse() : words;
}

/** The raw (unscaled) value of a register point. */
function rawFromWords(p: ModbusPointConfig, words: readonly number[]): number | string | boolean {
  if (p.type === 'bool') {
    const w = words[0] ?? 0;
    return p.bit === undefined ? w !== 0 : ((w >> p.bit) & 1) === 1;
  }
  const b = wordsToBytes(p, words);
  switch (p.type) {
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'int64':
      return Number(b.readBigInt64BE(0));
    case 'uint64':
      return Number(b.readBigUInt64BE(0));
    case 'float32':
      return shortestFloat32(b.readFloatBE(0));
    case 'float64':
      return b.readDoubleBE(0);
    case 'string': {
      // Devices pad with NUL (or leave garbage after it); the text ends at the first NUL.
      const s = b.subarray(0, p.length ?? b.length).toString('latin1');
      const nul = s.indexOf('\0');
      return nul >= 0 ? s.slice(0, nul) : s;
    }
    default: {
      const never: never = p.type;
      throw new Error(`unknown Modbus data type ${String(never)}`);
    }
  }
}

/**
 * The shortest decimal that is the same float32: a PLC's 33.9 arrives as 33.900001525878906 in a double,
 * which users read as noise. The result converts back to exactly the same float32, so nothing is lost.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x; // keeps -0 as it is
  for (let d = 1; d <= 9; d++) {
    const s = Number(x.toPrecision(d));
    if (Math.fround(s) === x) return s;
  }
  return x;
}

function scaled(p: ModbusPointConfig, raw: number): number {
  const scale = p.scale ?? 1;
  const offset = p.offset ?? 0;
  return scale === 1 && offset === 0 ? raw : raw * scale + offset;
}

/** Decodes a register point from exactly `pointWidth(p)` words (each 0..65535). */
export function decodeRegisters(p: ModbusPointConfig, words: readonly number[]): PointValue {
  const raw = rawFromWords(p, words);
  return typeof raw === 'number' ? scaled(p, raw) : raw;
}

/** Decodes a coil or discrete input. */
export function decodeBit(bit: boolean): PointValue {
  return bit;
}

const INT_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  // Writes stop at the integers a double holds exactly (see the module comment).
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** A 64-bit point's raw integer, exact. */
export function wordsToBigInt(p: ModbusPointConfig, words: readonly number[], signed: boolean): bigint {
  const b = wordsToBytes(p, words);
  return signed ? b.readBigInt64BE(0) : b.readBigUInt64BE(0);
}

/** True when a 64-bit point's words hold an integer beyond ±(2^53 − 1), so its decoded number is rounded. */
export function losesPrecision(p: ModbusPointConfig, words: readonly number[]): boolean {
  if (p.type !== 'int64' && p.type !== 'uint64') return false;
  const b = wordsToBytes(p, words);
  const v = p.type === 'int64' ? b.readBigInt64BE(0) : b.readBigUInt64BE(0);
  return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER);
}

function typeError(p: ModbusPointConfig, value: PointValue, expected: string): IipError {
  return new IipError('IIP_ERR_TELEMETRY_TYPE', `${p.property}: expected ${expected}, got ${typeof value}`, {
    property: p.property,
    expected,
  });
}

/** Engineering value → raw number for a numeric type (inverse of scale/offset, rounded for integers). */
function rawNumber(p: ModbusPointConfig, value: number): number {
  const scale = p.scale ?? 1;
  const offset = p.offset ?? 0;
  const raw = scale === 1 && offset === 0 ? value : (value - offset) / scale;
  const range = INT_RANGE[p.type];
  if (!range) return raw;
  const r = Math.round(raw);
  if (!Number.isFinite(r) || r < range[0] || r > range[1]) {
    const why = p.type === 'int64' || p.type === 'uint64' ? `is outside ${range[0]}..${range[1]}, the integers a ${p.type} write names exactly` : `does not fit a ${p.type} register`;
    throw new IipError('IIP_ERR_TELEMETRY_OUT_OF_RANGE', `${p.property}: ${value} ${why} (raw ${raw})`, {
      property: p.property,
      value,
      min: range[0] * scale + offset,
      max: range[1] * scale + offset,
    });
  }
  return r;
}

/**
 * Encodes an engineering value into the words to write. For a bool bound to one bit of a register, pass
 * the register's current word as `current` so the other bits stay as they are.
 */
export function encodeRegisters(p: ModbusPointConfig, value: PointValue, current = 0): number[] {
  if (p.type === 'bool') {
    if (typeof value !== 'boolean') throw typeError(p, value, 'bool');
    if (p.bit === undefined) return [value ? 1 : 0];
    const mask = 1 << p.bit;
    return [value ? (current | mask) & 0xffff : current & ~mask & 0xffff];
  }
  if (p.type === 'string') {
    if (typeof value !== 'string') throw typeError(p, value, 'string');
    const length = p.length ?? 0;
    if (value.length > length) {
      throw new IipError('IIP_ERR_TELEMETRY_STRING_TOO_LONG', `${p.property}: ${value.length} characters, the point holds ${length}`, {
        property: p.property,
        maxLength: length,
      });
    }
    const buf = Buffer.alloc(pointWidth(p) * 2);
    buf.write(value, 'latin1');
    return bytesToWords(p, buf);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw typeError(p, value, 'finite number');
  const raw = rawNumber(p, value);
  const b = Buffer.alloc(pointWidth(p) * 2);
  switch (p.type) {
    case 'int16':
      b.writeInt16BE(raw, 0);
      break;
    case 'uint16':
      b.writeUInt16BE(raw, 0);
      break;
    case 'int32':
      b.writeInt32BE(raw, 0);
      break;
    case 'uint32':
      b.writeUInt32BE(raw, 0);
      break;
    case 'int64':
      b.writeBigInt64BE(BigInt(raw), 0);
      break;
    case 'uint64':
      b.writeBigUInt64BE(BigInt(raw), 0);
      break;
    case 'float32':
      b.writeFloatBE(raw, 0);
      break;
    case 'float64':
      b.writeDoubleBE(raw, 0);
      break;
    default: {
      const never: never = p.type;
      throw new Error(`unknown Modbus data type ${String(never)}`);
    }
  }
  return bytesToWords(p, b);
}

/** Encodes a coil value. */
export function encodeBit(p: ModbusPointConfig, value: PointValue): boolean {
  if (typeof value !== 'boolean') throw typeError(p, value, 'bool');
  return value;
}

/**
 * Deadband filter: the first reading always passes; after that a number passes only when it moved by more
 * than the deadband from the last value that passed, other types when they changed. Without a deadband
 * every reading passes (the historian does its own filtering).
 */
export function passesDeadband(p: ModbusPointConfig, last: PointValue | undefined, next: PointValue): boolean {
  if (p.deadband === undefined || last === undefined) return true;
  if (typeof last === 'number' && typeof next === 'number') {
    if (Number.isNaN(last) !== Number.isNaN(next)) return true;
    return Math.abs(next - last) > p.deadband;
  }
  return last !== next;
}
