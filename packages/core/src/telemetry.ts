/**
 * Telemetry payloads: parsing a device's JSON message and validating it, atomically, against the device's
 * thing model. A message is all or nothing: the first broken rule throws an IipError naming the property
 * and the rule, and no point of that message may be stored.
 *
 * Accepted shapes (see docs/reference/telemetry.md):
 *   {"temperature": 21.5, "state": "run"}                 flat, server time
 *   {"ts": 1700000000000, "values": {"temperature": 21.5}}  one timestamp, many properties
 *   [ {"ts": ..., "values": {...}}, ... ]                  a batch of the above (many timestamps)
 * `ts` may be epoch milliseconds or an ISO-8601 string.
 */
import { IipError } from './errors.js';
import type { DeviceId, TenantId } from './ids.js';
import type { DeviceClock } from './telemetry-clock.js';
import { arrayLengthBounds } from './thing-model.js';
import type { ArrayDataType, DataType, ScalarDataType, ThingModel } from './thing-model.js';

/** One value of an array property (a waveform sample, one element of an OPC UA array or matrix). */
export type ScalarValue = number | string | boolean;
/** A property value: a scalar, or an array of scalars (array properties; a matrix is stored flat, row-major). */
export type PointValue = ScalarValue | readonly ScalarValue[];

export interface TelemetryPoint {
  readonly property: string;
  readonly ts: number;
  readonly value: PointValue;
}

/** A validated message: every point passed the thing model. */
export interface TelemetryBatch {
  readonly tenant: TenantId;
  readonly device: DeviceId;
  readonly points: readonly TelemetryPoint[];
  readonly receivedAt: number;
}

/**
 * What a telemetry store made of a batch. A point whose (property, ts) the device already reported is a
 * re-delivery (a gateway resending what was stored before its acknowledgement got lost): it is not stored
 * again, and is reported here so that the sender is told the accepted count that was really stored.
 */
export interface TelemetryWriteResult {
  /** The batch without its duplicates: exactly the points that will be stored. */
  readonly stored: TelemetryBatch;
  /** Points already stored (or repeated within the batch), in message order; none of them is stored again. */
  readonly duplicates: readonly TelemetryPoint[];
}

export interface IngestLimits {
  readonly maxPayloadBytes: number;
  readonly maxPointsPerMessage: number;
  readonly maxFutureSkewMs: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxPayloadBytes: 256 * 1024,
  maxPointsPerMessage: 10_000,
  maxFutureSkewMs: 5 * 60_000,
};

/** 2000-01-01T00:00:00Z: earlier timestamps are almost always an unset device clock. */
export const MIN_TIMESTAMP = 946_684_800_000;

/** A compiled check of one value against its data type: the value as stored, or an IipError naming `property`. */
export type Check = (v: unknown, property: string) => PointValue;

/** A check of one scalar; `index` is set for an element of an array property and named in the error. */
type ScalarCheck = (v: unknown, property: string, index?: number) => ScalarValue;

/** `property "p"`, or `property "p"[3]` for an element of an array property. */
function label(property: string, index: number | undefined): string {
  return index === undefined ? `property "${property}"` : `property "${property}"[${index}]`;
}

/** The details every value error carries: the property, and the element's index for an array property. */
function at(property: string, index: number | undefined): Record<string, unknown> {
  return index === undefined ? { property } : { property, index };
}

function typeError(property: string, expected: string, v: unknown, index?: number): never {
  throw new IipError(
    'IIP_ERR_TELEMETRY_TYPE',
    `${label(property, index)}: expected ${expected}, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v} ${preview(v)}`,
    { ...at(property, index), rule: 'type', expected, value: (Array.isArray(v) ? `array of ${v.length}` : v) as never },
  );
}

/** The offending value in a message, cut short: a wrong value may be a whole waveform. */
function preview(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function rangeCheck(property: string, n: number, min: number | undefined, max: number | undefined, unit?: string, index?: number): void {
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    const u = unit ? ` ${unit}` : '';
    throw new IipError(
      'IIP_ERR_TELEMETRY_OUT_OF_RANGE',
      `${label(property, index)}: ${n}${u} is outside [${min ?? '-∞'}, ${max ?? '+∞'}]${u}`,
      { ...at(property, index), rule: 'range', value: n, min: min ?? null, max: max ?? null },
    );
  }
}

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function compileScalarCheck(dt: ScalarDataType): ScalarCheck {
  switch (dt.type) {
    case 'int':
      return (v, p, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) typeError(p, 'an integer', v, i);
        rangeCheck(p, v, dt.min, dt.max, dt.unit, i);
        return v;
      };
    case 'float':
      return (v, p, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) typeError(p, 'a finite number', v, i);
        rangeCheck(p, v, dt.min, dt.max, dt.unit, i);
        return v;
      };
    case 'bool':
      return (v, p, i) => {
        if (typeof v === 'boolean') return v;
        if (v === 0 || v === 1) return v === 1;
        return typeError(p, 'a boolean (true/false or 0/1)', v, i);
      };
    case 'string':
      return (v, p, i) => {
        if (typeof v !== 'string') typeError(p, 'a string', v, i);
        // maxLength counts code points, as JSON Schema (and so a WoT TD) does; the UTF-16 length is an upper
        // bound, so the slower count runs only for strings that might be too long.
        if (dt.maxLength !== undefined && v.length > dt.maxLength) {
          const length = codePointLength(v);
          if (length > dt.maxLength) {
            throw new IipError(
              'IIP_ERR_TELEMETRY_STRING_TOO_LONG',
              `${label(p, i)}: string of length ${length} exceeds maxLength ${dt.maxLength}`,
              { ...at(p, i), rule: 'maxLength', length, maxLength: dt.maxLength },
            );
          }
        }
        return v;
      };
    case 'enum': {
      const allowed = new Set(dt.values.map((e) => e.value));
      const list = dt.values.map((e) => e.value);
      return (v, p, i) => {
        if (typeof v !== 'string') typeError(p, `one of ${list.join('|')}`, v, i);
        if (!allowed.has(v)) {
          throw new IipError('IIP_ERR_TELEMETRY_ENUM', `${label(p, i)}: "${v}" is not one of ${list.join(', ')}`, {
            ...at(p, i),
            rule: 'enum',
            value: v,
            allowed: list,
          });
        }
        return v;
      };
    }
    default: {
      const never: never = dt;
      throw new Error(`unknown data type ${JSON.stringify(never)}`);
    }
  }
}

/**
 * An array property's value is a JSON array whose length lies within the type's bounds and whose every element
 * passes the item check. The value stored is a new array (booleans sent as 0/1 become true/false).
 */
function compileArrayCheck(dt: ArrayDataType): Check {
  const item = compileScalarCheck(dt.items);
  const { min, max } = arrayLengthBounds(dt);
  const expected = `an array of ${dt.items.type}`;
  return (v, p) => {
    if (!Array.isArray(v)) typeError(p, expected, v);
    if (v.length < min || v.length > max) {
      const wanted = min === max ? `exactly ${min}` : `${min} to ${max}`;
      throw new IipError('IIP_ERR_TELEMETRY_ARRAY_LENGTH', `property "${p}": array of ${v.length} elements, expected ${wanted}`, {
        property: p,
        rule: 'length',
        length: v.length,
        minItems: min,
        maxItems: max,
        ...(dt.dimensions ? { dimensions: [...dt.dimensions] } : {}),
      });
    }
    const out = new Array<ScalarValue>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = item(v[i], p, i);
    return out;
  };
}

export function compileCheck(dt: DataType): Check {
  return dt.type === 'array' ? compileArrayCheck(dt) : compileScalarCheck(dt);
}

/** A thing model compiled for fast validation on the hot path. Build once per product version. */
export class TelemetryValidator {
  private readonly checks = new Map<string, Check>();
  constructor(readonly model: ThingModel) {
    for (const p of model.properties) this.checks.set(p.id, compileCheck(p.dataType));
  }

  /**
   * Parses and validates one raw message. Throws IipError on the first problem; returns the points of
   * the whole message otherwise. Records without `ts` are stamped by `clock` (distinct, increasing
   * timestamps per property) or, without one, with `now`.
   */
  parse(raw: Uint8Array | string, now: number, limits: IngestLimits = DEFAULT_INGEST_LIMITS, clock?: DeviceClock): TelemetryPoint[] {
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
    if (size > limits.maxPayloadBytes) {
      throw new IipError('IIP_ERR_PAYLOAD_TOO_LARGE', `payload of ${size} bytes exceeds the limit of ${limits.maxPayloadBytes}`, {
        size,
        limit: limits.maxPayloadBytes,
      });
    }
    let doc: unknown;
    try {
      const text = typeof raw === 'string' ? raw : utf8.decode(raw);
      doc = JSON.parse(text);
    } catch (e) {
      throw new IipError('IIP_ERR_PAYLOAD_NOT_JSON', `payload is not valid JSON: ${(e as Error).message}`, {});
    }
    return this.validate(doc, now, limits, clock);
  }

  /** Validates an already-parsed JSON document (used by HTTP ingest, whose body Fastify parsed). */
  validate(doc: unknown, now: number, limits: IngestLimits = DEFAULT_INGEST_LIMITS, clock?: DeviceClock): TelemetryPoint[] {
    const out: TelemetryPoint[] = [];
    if (Array.isArray(doc)) {
      if (doc.length === 0) shapeError('an empty batch carries no points', '');
      for (let i = 0; i < doc.length; i++) this.record(doc[i], `[${i}]`, now, limits, out, clock);
    } else {
      this.record(doc, '', now, limits, out, clock);
    }
    return out;
  }

  private record(rec: unknown, path: string, now: number, limits: IngestLimits, out: TelemetryPoint[], clock: DeviceClock | undefined): void {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      shapeError(`expected an object, got ${rec === null ? 'null' : Array.isArray(rec) ? 'an array' : typeof rec}`, path);
    }
    const r = rec as Record<string, unknown>;
    // A record without ts gets its stamp once its values are known: all of them share it.
    const stamped = r.ts === undefined && clock !== undefined;
    const ts = r.ts === undefined ? now : parseTs(r.ts, path, now, limits);
    const first = out.length;
    let values: Record<string, unknown>;
    if (r.values !== undefined) {
      if (r.values === null || typeof r.values !== 'object' || Array.isArray(r.values)) shapeError('"values" must be an object', path);
      for (const k of Object.keys(r)) if (k !== 'ts' && k !== 'values') shapeError(`unexpected key "${k}" beside "values"`, path);
      values = r.values as Record<string, unknown>;
    } else {
      values = r;
    }
    let n = 0;
    // Own keys only (for..in would also walk inherited keys of objects built in code). `values[key]` of an own key
    // reads the own property, also for "__proto__" (a valid member id, an own property when JSON.parse made it).
    // No Object.entries: a [key, value] array per property was ~6 % of what a fleet message allocated (issue 20).
    for (const key in values) {
      if (!Object.hasOwn(values, key) || (values === r && key === 'ts')) continue;
      const value = values[key];
      const check = this.checks.get(key);
      if (!check) {
        throw new IipError('IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', `property "${key}" is not in the thing model`, {
          property: key,
          rule: 'known-property',
          path,
        });
      }
      out.push({ property: key, ts, value: check(value, key) });
      if (clock !== undefined && !stamped) clock.observe(key, ts, now);
      n++;
      if (out.length > limits.maxPointsPerMessage) {
        throw new IipError(
          'IIP_ERR_PAYLOAD_TOO_MANY_POINTS',
          `message carries more than ${limits.maxPointsPerMessage} points`,
          { limit: limits.maxPointsPerMessage },
        );
      }
    }
    if (n === 0) shapeError('a record carries no property values', path);
    if (stamped) {
      const properties: string[] = new Array(out.length - first);
      for (let i = first; i < out.length; i++) properties[i - first] = (out[i] as TelemetryPoint).property;
      const at = clock.stamp(properties, now);
      // The points were made just above: stamped in place, not copied (ten thousand messages a second, issue 20).
      for (let i = first; i < out.length; i++) (out[i] as { ts: number }).ts = at;
    }
  }
}

export const utf8 = new TextDecoder('utf-8', { fatal: true });

export function shapeError(message: string, path: string): never {
  throw new IipError('IIP_ERR_PAYLOAD_SHAPE', path ? `${path}: ${message}` : message, { path });
}

const MAX_DATE_MS = 8.64e15;

export function parseTs(v: unknown, path: string, now: number, limits: IngestLimits): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) ms = Date.parse(v);
  else ms = Number.NaN;
  // Beyond ±8.64e15 ms a number is no longer a representable Date (toISOString would throw a RangeError).
  if (!Number.isFinite(ms) || !Number.isInteger(ms) || ms < MIN_TIMESTAMP || ms > MAX_DATE_MS) {
    throw new IipError('IIP_ERR_TELEMETRY_TS_INVALID', `${path || 'ts'}: timestamp ${JSON.stringify(v)} is not valid`, {
      path,
      rule: 'timestamp',
      value: v as never,
    });
  }
  if (ms > now + limits.maxFutureSkewMs) {
    throw new IipError(
      'IIP_ERR_TELEMETRY_TS_FUTURE',
      `${path || 'ts'}: timestamp ${new Date(ms).toISOString()} is ${Math.round((ms - now) / 1000)} s in the future (allowed skew ${limits.maxFutureSkewMs / 1000} s)`,
      { path, rule: 'future-timestamp', value: ms, now, maxFutureSkewMs: limits.maxFutureSkewMs },
    );
  }
  return ms;
}
