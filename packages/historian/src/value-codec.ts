/**
 * How telemetry values map onto stored rows: numbers keep kind 'n', booleans are stored as 1/0 under kind
 * 'b' (so they roll up: the average is the share of time "true"), strings are kept verbatim under kind 's',
 * and arrays (waveforms, OPC UA arrays and matrices, flat) are stored as JSON text under kind 'a' — in the
 * string column, so that, like strings, they are never rolled up.
 */
import { IipError } from '@iip/core';
import type { DataType, PointValue, ScalarValue } from '@iip/core';
import type { RawRow, SeriesKind } from '@iip/storage';

function unstorable(property: string, value: unknown, what: string): never {
  throw new IipError('IIP_ERR_HISTORIAN_VALUE', `property "${property}": cannot store ${what}`, {
    property,
    value: typeof value === 'number' ? String(value) : typeof value,
  });
}

/** A scalar that survives JSON text unchanged: a finite number, a boolean or a string. */
function storableScalar(v: unknown): v is ScalarValue {
  return typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean' || typeof v === 'string';
}

/** The kind a property of this data type is stored under: what kindOf() makes of every value the model admits. */
export function kindOfDataType(dt: DataType): SeriesKind {
  switch (dt.type) {
    case 'int':
    case 'float':
      return 'n';
    case 'bool':
      return 'b';
    case 'array':
      return 'a';
    default:
      return 's';
  }
}

export function kindOf(value: PointValue, property: string): SeriesKind {
  switch (typeof value) {
    case 'number':
      if (Number.isFinite(value)) return 'n';
      break;
    case 'boolean':
      return 'b';
    case 'string':
      return 's';
    case 'object':
      if (Array.isArray(value)) {
        // JSON.stringify would turn NaN or Infinity into null and read back something else than was sent.
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (!storableScalar(v)) unstorable(property, v, `element [${i}] ${String(v)} (${typeof v}) of an array`);
        }
        return 'a';
      }
      break;
  }
  return unstorable(property, value, `${String(value)} (${typeof value})`);
}

export function encode(series: number, ts: number, value: PointValue): RawRow {
  if (typeof value === 'string') return { series, ts, num: null, str: value };
  if (typeof value === 'object') return { series, ts, num: null, str: JSON.stringify(value) };
  return { series, ts, num: typeof value === 'boolean' ? (value ? 1 : 0) : value, str: null };
}

export function decode(row: RawRow, kind: SeriesKind): PointValue {
  switch (kind) {
    case 'n':
      return row.num ?? Number.NaN;
    case 'b':
      return row.num !== 0;
    case 's':
      return row.str ?? '';
    case 'a':
      return row.str === null ? [] : (JSON.parse(row.str) as ScalarValue[]);
    default: {
      const never: never = kind;
      throw new Error(`unknown series kind ${String(never)}`);
    }
  }
}
