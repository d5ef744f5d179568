/**
 * How a simulated PLC lays out a product's thing-model properties in Modbus memory, the way a PLC
 * programmer would: measured floats and counters in input registers (float32 / uint32, big-endian words),
 * the machine state as a short ASCII string, running flags as discrete inputs, writable set points as
 * holding registers, writable flags as coils. The same layout yields the point map a gateway needs.
 */
import type { ModbusArea, ModbusDataType, ModbusPointConfig, PointValue, ThingModel } from '@iip/core';

/** Characters of an enum value string (the factory's states are run / idle / fault). */
const ENUM_CHARS = 8;

export function registerLayout(model: ThingModel): ModbusPointConfig[] {
  const next: Record<ModbusArea, number> = { coil: 0, discrete: 0, input: 0, holding: 0 };
  const points: ModbusPointConfig[] = [];
  const place = (property: string, area: ModbusArea, type: ModbusDataType, width: number, extra: Partial<ModbusPointConfig> = {}): void => {
    points.push({ property, area, address: next[area], type, ...extra });
    next[area] += width;
  };
  for (const p of model.properties) {
    const rw = p.access === 'rw';
    const t = p.dataType.type;
    if (t === 'float') place(p.id, rw ? 'holding' : 'input', 'float32', 2);
    else if (t === 'int') place(p.id, rw ? 'holding' : 'input', 'uint32', 2);
    else if (t === 'bool') place(p.id, rw ? 'coil' : 'discrete', 'bool', 1);
    else if (t === 'enum' || t === 'string') place(p.id, rw ? 'holding' : 'input', 'string', ENUM_CHARS / 2, { length: ENUM_CHARS });
  }
  return points;
}

/** Big-endian words (Modbus norm: high byte first, high word first) of a value for a point. */
export function encodeWords(p: ModbusPointConfig, value: PointValue): number[] {
  const b = Buffer.alloc(p.type === 'string' ? Math.ceil((p.length ?? 0) / 2) * 2 : p.type === 'float64' ? 8 : 4);
  switch (p.type) {
    case 'float32':
      b.writeFloatBE(Number(value), 0);
      break;
    case 'uint32':
      b.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.round(Number(value)))), 0);
      break;
    case 'string':
      b.write(String(value).slice(0, p.length ?? 0), 'latin1');
      break;
    default:
      throw new Error(`the PLC layout has no ${p.type} registers`);
  }
  const words: number[] = [];
  for (let i = 0; i < b.length; i += 2) words.push(b.readUInt16BE(i));
  return words;
}

export function decodeWords(p: ModbusPointConfig, words: ArrayLike<number>): PointValue {
  const b = Buffer.alloc(words.length * 2);
  for (let i = 0; i < words.length; i++) b.writeUInt16BE(words[i]!, i * 2);
  switch (p.type) {
    case 'float32':
      return b.readFloatBE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'string': {
      const s = b.toString('latin1');
      const nul = s.indexOf('\0');
      return nul >= 0 ? s.slice(0, nul) : s;
    }
    default:
      throw new Error(`the PLC layout has no ${p.type} registers`);
  }
}
