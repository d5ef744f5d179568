/**
 * How telemetry values map onto stored rows: numbers keep kind 'n', booleans are stored as 1/0 under kind
 * 'b' (so they roll up: the average is the share of time "true"), strings are kept verbatim under kind 's'.
 */
import { IipError } from '@iip/core';
import type { PointValue } from '@iip/core';
import type { RawRow, SeriesKind } from '@iip/storage';

export function kindOf(value: PointValue, property: string): SeriesKind {
  switch (typeof value) {
    case 'number':
      if (Number.isFinite(value)) return 'n';
      break;
    case 'boolean':
      return 'b';
    case 'string':
      return 's';
  }
  throw new IipError('IIP_ERR_HISTORIAN_VALUE', `property "${property}": cannot store ${String(value)} (${typeof value})`, {
    property,
    value: typeof value === 'number' ? String(value) : typeof value,
  });
}

export function encode(series: number, ts: number, value: PointValue): RawRow {
  if (typeof value === 'string') return { series, ts, num: null, str: value };
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
    default: {
      const never: never = kind;
      throw new Error(`unknown series kind ${String(never)}`);
    }
  }
}
