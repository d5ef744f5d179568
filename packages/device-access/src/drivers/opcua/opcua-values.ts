/**
 * Conversions between OPC UA variants and the platform's point values. Reads flatten what a thing model
 * can hold (numbers, booleans, strings); writes build a variant of the node's own built-in type, because
 * servers answer BadTypeMismatch when a Double arrives for an Int16 node.
 */
import type { PointValue } from '@iip/core';
import { IipError } from '@iip/core';
import { DataType, type Variant } from 'node-opcua';

function int64ToNumber(v: readonly number[], signed: boolean): number {
  const [hi = 0, lo = 0] = v;
  const high = signed && hi >= 0x80000000 ? hi - 0x100000000 : hi;
  return high * 0x100000000 + lo;
}

/** A variant's value as a point value; null when the variant holds nothing a thing model can carry. */
export function pointValueOf(variant: Variant): PointValue | null {
  const v: unknown = variant.value;
  if (v === null || v === undefined) return null;
  switch (variant.dataType) {
    case DataType.Int64:
    case DataType.UInt64:
      return Array.isArray(v) ? int64ToNumber(v as number[], variant.dataType === DataType.Int64) : Number(v);
    case DataType.DateTime:
      return v instanceof Date ? v.getTime() : null;
    case DataType.LocalizedText:
      return typeof v === 'object' && v !== null && 'text' in v ? String((v as { text: unknown }).text ?? '') : null;
    case DataType.QualifiedName:
      return typeof v === 'object' && v !== null && 'name' in v ? String((v as { name: unknown }).name ?? '') : null;
    default:
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
      return null;
  }
}

const INT_RANGES: Partial<Record<DataType, readonly [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
};

function badValue(what: string, details: Record<string, unknown>, code = 'IIP_ERR_TELEMETRY_TYPE'): IipError {
  return new IipError(code, what, details);
}

/** The value to put in a variant of `dataType`; rejects values the type cannot hold before they hit the wire. */
export function variantValueFor(dataType: DataType, value: PointValue, where: Record<string, unknown>): { dataType: DataType; value: unknown } {
  const details = { ...where, dataType: DataType[dataType], value };
  const asNumber = (): number => {
    const n = typeof value === 'boolean' ? Number(value) : typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) throw badValue(`cannot write ${JSON.stringify(value)} to a ${DataType[dataType]} node`, details);
    return n;
  };
  const range = INT_RANGES[dataType];
  if (range) {
    const n = asNumber();
    if (!Number.isInteger(n) || n < range[0] || n > range[1]) {
      throw badValue(`${String(value)} does not fit the node's ${DataType[dataType]} type`, details, Number.isInteger(n) ? 'IIP_ERR_TELEMETRY_OUT_OF_RANGE' : 'IIP_ERR_TELEMETRY_TYPE');
    }
    return { dataType, value: n };
  }
  switch (dataType) {
    case DataType.Float:
    case DataType.Double:
      return { dataType, value: asNumber() };
    case DataType.Int64:
    case DataType.UInt64: {
      const n = asNumber();
      if (!Number.isSafeInteger(n) || (dataType === DataType.UInt64 && n < 0)) {
        throw badValue(`${String(value)} is not a safe integer for a ${DataType[dataType]} node`, details);
      }
      const hi = Math.floor(n / 0x100000000);
      return { dataType, value: [hi < 0 ? hi + 0x100000000 : hi, n - hi * 0x100000000] };
    }
    case DataType.Boolean:
      if (typeof value === 'boolean') return { dataType, value };
      if (value === 0 || value === 1) return { dataType, value: value === 1 };
      throw badValue(`cannot write ${JSON.stringify(value)} to a Boolean node`, details);
    case DataType.String:
      return { dataType, value: String(value) };
    case DataType.LocalizedText:
      return { dataType, value: { text: String(value) } };
    case DataType.DateTime:
      return { dataType, value: new Date(asNumber()) };
    default:
      throw badValue(`writing ${DataType[dataType]} nodes is not supported`, details, 'IIP_ERR_DRIVER_CONFIG');
  }
}
