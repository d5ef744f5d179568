/**
 * Formatting of telemetry values for people: numbers with a sensible number of decimals and their unit,
 * booleans and enums with their thing-model texts, arrays (waveforms, matrices) compactly with their length
 * and first elements. Pure (no DOM), so it is unit-tested in Node.
 */
import type { ArrayDataType, DataType, PointValue, ScalarDataType, ScalarValue } from '@iip/core';
import type { Lang } from './i18n-dictionary';

/** Shown where a value is missing, so an empty cell is never mistaken for zero. */
export const NO_VALUE = '—';

/**
 * Decimals that keep about four significant digits without showing float noise (41.2000001): a
 * 0.0123 bar pressure needs four decimals, a 1480 rpm spindle speed needs none.
 */
export function decimalsFor(n: number): number {
  const a = Math.abs(n);
  if (a === 0 || a >= 1000) return 0;
  if (a >= 100) return 1;
  if (a >= 1) return 2;
  if (a >= 0.01) return 4;
  return 6;
}

export function formatNumber(n: number, lang: Lang, decimals?: number): string {
  if (!Number.isFinite(n)) return String(n);
  const d = decimals ?? decimalsFor(n);
  return new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', {
    minimumFractionDigits: 0,
    maximumFractionDigits: d,
    useGrouping: Math.abs(n) >= 10_000,
  }).format(n);
}

/** Units that read better glued to the number ("45%", "21.5°C" is also common, but SI puts a space there). */
const GLUED_UNITS = new Set(['%', '°', '‰']);

export function withUnit(text: string, unit: string | undefined): string {
  if (!unit) return text;
  return GLUED_UNITS.has(unit) ? `${text}${unit}` : `${text} ${unit}`;
}

/** The unit of a number, or of the numbers an array holds. */
export function unitOf(dt: DataType | undefined): string | undefined {
  if (!dt) return undefined;
  const scalar = dt.type === 'array' ? dt.items : dt;
  return scalar.type === 'int' || scalar.type === 'float' ? scalar.unit : undefined;
}

function isScalar(v: unknown): v is ScalarValue {
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

/** A value as the API returns it: a scalar, or an array of scalars (an array property). */
export function isPointValue(v: unknown): v is PointValue {
  return isScalar(v) || (Array.isArray(v) && v.every(isScalar));
}

const BOOL_TEXT: Record<Lang, readonly [string, string]> = { en: ['true', 'false'], zh: ['是', '否'] };

/**
 * Formats a value as the thing model describes it. Without a data type (a property the model no longer
 * lists) the value is shown as it came, so nothing the device sent is hidden.
 */
export function formatValue(value: PointValue | null | undefined, dt: DataType | undefined, lang: Lang): string {
  if (value === null || value === undefined) return NO_VALUE;
  if (Array.isArray(value)) return formatArray(value, dt?.type === 'array' ? dt : undefined, lang);
  return formatScalar(value as ScalarValue, dt, lang);
}

function formatScalar(value: ScalarValue, dt: DataType | undefined, lang: Lang): string {
  if (!dt) return typeof value === 'number' ? formatNumber(value, lang) : String(value);
  switch (dt.type) {
    case 'int':
      return typeof value === 'number' ? withUnit(formatNumber(value, lang, 0), dt.unit) : String(value);
    case 'float':
      return typeof value === 'number' ? withUnit(formatNumber(value, lang), dt.unit) : String(value);
    case 'bool': {
      const on = value === true || value === 1 || value === 'true';
      const [t, f] = BOOL_TEXT[lang];
      return on ? (dt.trueText ?? t) : (dt.falseText ?? f);
    }
    case 'enum': {
      const hit = dt.values.find((v) => v.value === String(value));
      return hit?.text ?? String(value);
    }
    case 'string':
      return String(value);
    case 'array':
      // A scalar where the model says array (an older series): shown as it came.
      return typeof value === 'number' ? formatNumber(value, lang) : String(value);
    default: {
      const never: never = dt;
      return String(never);
    }
  }
}

/** Elements an array shows inline; the whole list is in formatArrayFull (a title). */
export const ARRAY_PREVIEW = 3;
/** Elements formatArrayFull lists at most: a 65,536-element matrix would make a tooltip no one can read. */
export const ARRAY_FULL_MAX = 1_000;

/** One element without its unit (the unit column, or the property's, names it once for all). */
function formatElement(v: ScalarValue, items: ScalarDataType | undefined, lang: Lang): string {
  if (items?.type === 'int' && typeof v === 'number') return formatNumber(v, lang, 0);
  if ((items?.type === 'float' || items === undefined) && typeof v === 'number') return formatNumber(v, lang);
  return formatScalar(v, items, lang);
}

/** "[5] 1.2, 3.4, 5.6 …": the length (a matrix's shape, "[2×3]") and the first elements. */
export function formatArray(values: readonly ScalarValue[], dt: ArrayDataType | undefined, lang: Lang): string {
  const shape = dt?.dimensions && shapeMatches(values, dt.dimensions) ? dt.dimensions.join('×') : String(values.length);
  const shown = values.slice(0, ARRAY_PREVIEW).map((v) => formatElement(v, dt?.items, lang));
  const more = values.length > ARRAY_PREVIEW ? ' …' : '';
  return shown.length === 0 ? `[${shape}]` : `[${shape}] ${shown.join(', ')}${more}`;
}

/**
 * Every element (up to ARRAY_FULL_MAX, then how many more), for a tooltip; a two-dimensional matrix one row
 * per line.
 */
export function formatArrayFull(values: readonly ScalarValue[], dt: ArrayDataType | undefined, lang: Lang): string {
  const head = values.slice(0, ARRAY_FULL_MAX).map((v) => formatElement(v, dt?.items, lang));
  const rest = values.length > ARRAY_FULL_MAX ? ` … (+${values.length - ARRAY_FULL_MAX})` : '';
  const dims = dt?.dimensions;
  if (dims?.length === 2 && shapeMatches(values, dims) && rest === '') {
    const cols = dims[1] as number;
    const rows: string[] = [];
    for (let r = 0; r < head.length; r += cols) rows.push(head.slice(r, r + cols).join(', '));
    return rows.join('\n');
  }
  return `${head.join(', ')}${rest}`;
}

function shapeMatches(values: readonly ScalarValue[], dims: readonly number[]): boolean {
  return dims.reduce((a, b) => a * b, 1) === values.length;
}

/** A short "x s ago" for the freshness of a value; absolute time is shown beside it where space allows. */
export function formatAge(ms: number, lang: Lang): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (lang === 'zh') {
    if (s < 60) return `${s} 秒前`;
    if (s < 3600) return `${Math.floor(s / 60)} 分钟前`;
    if (s < 86400) return `${Math.floor(s / 3600)} 小时前`;
    return `${Math.floor(s / 86400)} 天前`;
  }
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/**
 * A span of time in its two largest whole units ("3 d 4 h", "2 h 5 min", "40 s"): how long an alarm has been or
 * would have been active. Seconds only when under a minute, since a minute's precision is enough beyond.
 */
export function formatDuration(ms: number, lang: Lang): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const u = lang === 'zh' ? { d: '天', h: '小时', m: '分钟', s: '秒' } : { d: 'd', h: 'h', m: 'min', s: 's' };
  if (s < 60) return `${s} ${u.s}`;
  const min = Math.floor(s / 60);
  const parts: Array<[number, string]> = [
    [Math.floor(min / 1440), u.d],
    [Math.floor((min % 1440) / 60), u.h],
    [min % 60, u.m],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ');
}

/**
 * ISO-like local time: it reads the same in both languages and sorts as text, and engineers compare it
 * with PLC and gateway logs that use the same shape.
 */
export function formatTimestamp(ts: number): string {
  const d = new Date(ts);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Buffer sizes: binary steps (a gateway's disk buffer is sized in MiB), one decimal above a KiB. */
export function formatBytes(n: number, lang: Lang): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.max(0, n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${formatNumber(v, lang, i === 0 ? 0 : 1)} ${units[i]}`;
}
