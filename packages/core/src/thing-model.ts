/**
 * Thing model (物模型): what a product's devices report (properties), announce (events) and accept
 * (services). The platform validates every telemetry message against it on arrival.
 */
import { IipError } from './errors.js';

/** The data type of one value: a number, a boolean, a text or one of a list of texts. */
export type ScalarDataType =
  | { readonly type: 'int'; readonly min?: number; readonly max?: number; readonly unit?: string }
  | { readonly type: 'float'; readonly min?: number; readonly max?: number; readonly unit?: string }
  | { readonly type: 'bool'; readonly trueText?: string; readonly falseText?: string }
  | { readonly type: 'string'; readonly maxLength?: number }
  | { readonly type: 'enum'; readonly values: readonly EnumValue[] };

/**
 * A list of scalars reported as one value: a waveform, an OPC UA array, or a matrix (stored flat, row-major,
 * its shape in `dimensions`). Every element is checked against `items` (whose unit and range are the
 * elements'); the length against minItems/maxItems, or, with dimensions (then without minItems/maxItems),
 * against their product. Without maxItems and dimensions at most DEFAULT_MAX_ARRAY_ITEMS elements are accepted.
 */
export type ArrayDataType = {
  readonly type: 'array';
  readonly items: ScalarDataType;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** Matrix shape, outermost first (e.g. [rows, columns]); the value's length must equal the product. */
  readonly dimensions?: readonly number[];
};

export type DataType = ScalarDataType | ArrayDataType;

/** The most elements an array property may declare (maxItems, or the product of its dimensions). */
export const MAX_ARRAY_ITEMS = 65_536;
/** The most elements an array property without maxItems or dimensions accepts. */
export const DEFAULT_MAX_ARRAY_ITEMS = 4_096;
/** The most dimensions a matrix may have. */
export const MAX_ARRAY_DIMENSIONS = 8;

export interface EnumValue {
  readonly value: string;
  readonly text?: string;
}

export type AccessMode = 'r' | 'rw';

export interface PropertySpec {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly dataType: DataType;
  /** 'r' = reported by the device only; 'rw' = the platform may also write it. */
  readonly access: AccessMode;
}

export interface ParamSpec {
  readonly id: string;
  readonly name?: string;
  readonly dataType: DataType;
  readonly required?: boolean;
}

export interface EventSpec {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly level?: 'info' | 'warn' | 'alert';
  readonly outputs: readonly ParamSpec[];
}

export interface ServiceSpec {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly inputs: readonly ParamSpec[];
  readonly outputs: readonly ParamSpec[];
}

export interface ThingModel {
  readonly properties: readonly PropertySpec[];
  readonly events: readonly EventSpec[];
  readonly services: readonly ServiceSpec[];
}

const MEMBER_ID = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function bad(path: string, message: string): never {
  throw new IipError('IIP_ERR_MODEL_INVALID', `${path}: ${message}`, { path });
}

// Models arrive as JSON from the API and from importers, so the checks below cannot trust the static types:
// a null entry or a missing array must end in IIP_ERR_MODEL_INVALID, never in a TypeError.
function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function optionalString(v: unknown, path: string): void {
  if (v !== undefined && typeof v !== 'string') bad(path, 'must be a string');
}

function checkDataType(dt: DataType, path: string): void {
  if (!isObject(dt)) bad(path, 'must be an object with a "type"');
  switch (dt.type) {
    case 'int':
    case 'float':
      if (dt.min !== undefined && !Number.isFinite(dt.min)) bad(`${path}.min`, 'must be a finite number');
      if (dt.max !== undefined && !Number.isFinite(dt.max)) bad(`${path}.max`, 'must be a finite number');
      if (dt.min !== undefined && dt.max !== undefined && dt.min > dt.max) bad(path, `min ${dt.min} > max ${dt.max}`);
      if (dt.type === 'int' && dt.min !== undefined && !Number.isInteger(dt.min)) bad(`${path}.min`, 'must be an integer');
      if (dt.type === 'int' && dt.max !== undefined && !Number.isInteger(dt.max)) bad(`${path}.max`, 'must be an integer');
      optionalString(dt.unit, `${path}.unit`);
      return;
    case 'bool':
      optionalString(dt.trueText, `${path}.trueText`);
      optionalString(dt.falseText, `${path}.falseText`);
      return;
    case 'string':
      if (dt.maxLength !== undefined && !(Number.isInteger(dt.maxLength) && dt.maxLength >= 0)) {
        bad(`${path}.maxLength`, 'must be a non-negative integer');
      }
      return;
    case 'enum': {
      if (!Array.isArray(dt.values) || dt.values.length === 0) bad(`${path}.values`, 'an enum needs at least one value');
      const seen = new Set<string>();
      for (const [i, v] of dt.values.entries()) {
        if (!isObject(v) || typeof v.value !== 'string' || v.value === '') {
          bad(`${path}.values[${i}]`, 'value must be a non-empty string');
        }
        if (seen.has(v.value)) bad(`${path}.values[${i}]`, `duplicate enum value "${v.value}"`);
        optionalString(v.text, `${path}.values[${i}].text`);
        seen.add(v.value);
      }
      return;
    }
    case 'array':
      checkArrayType(dt, path);
      return;
    default: {
      const never: never = dt;
      bad(path, `unknown data type ${JSON.stringify((never as { type?: unknown }).type)}`);
    }
  }
}

function checkCount(v: unknown, path: string): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_ARRAY_ITEMS)) {
    bad(path, `must be an integer from 0 to ${MAX_ARRAY_ITEMS}`);
  }
}

function checkArrayType(dt: ArrayDataType, path: string): void {
  if (!isObject(dt.items)) bad(`${path}.items`, 'an array needs "items", the data type of its elements');
  // Nested arrays are a matrix: one flat array with dimensions keeps every element addressable as [i].
  if ((dt.items as { type?: unknown }).type === 'array') bad(`${path}.items`, 'an array of arrays is not supported; declare a matrix with "dimensions"');
  checkDataType(dt.items, `${path}.items`);
  checkCount(dt.minItems, `${path}.minItems`);
  checkCount(dt.maxItems, `${path}.maxItems`);
  if (dt.minItems !== undefined && dt.maxItems !== undefined && dt.minItems > dt.maxItems) {
    bad(path, `minItems ${dt.minItems} > maxItems ${dt.maxItems}`);
  }
  if (dt.dimensions === undefined) return;
  // The dimensions fix the length; a second statement of it could only disagree.
  if (dt.minItems !== undefined || dt.maxItems !== undefined) bad(path, 'give either dimensions or minItems/maxItems, not both');
  if (!Array.isArray(dt.dimensions) || dt.dimensions.length === 0 || dt.dimensions.length > MAX_ARRAY_DIMENSIONS) {
    bad(`${path}.dimensions`, `must be a list of 1 to ${MAX_ARRAY_DIMENSIONS} lengths`);
  }
  let product = 1;
  for (const [i, d] of dt.dimensions.entries()) {
    if (!Number.isInteger(d) || d < 1) bad(`${path}.dimensions[${i}]`, 'must be a positive integer');
    product *= d;
    if (product > MAX_ARRAY_ITEMS) bad(`${path}.dimensions`, `describe more than ${MAX_ARRAY_ITEMS} elements`);
  }
}

/**
 * How many elements a value of an array type may have: exactly the product of the dimensions when they are
 * given, else minItems (default 0) to maxItems (default DEFAULT_MAX_ARRAY_ITEMS).
 */
export function arrayLengthBounds(dt: ArrayDataType): { readonly min: number; readonly max: number } {
  if (dt.dimensions !== undefined) {
    const n = dt.dimensions.reduce((a, b) => a * b, 1);
    return { min: n, max: n };
  }
  return { min: dt.minItems ?? 0, max: dt.maxItems ?? DEFAULT_MAX_ARRAY_ITEMS };
}

function checkMembers(list: readonly { id: string }[], path: string): void {
  if (!Array.isArray(list)) bad(path, 'must be an array');
  const seen = new Set<string>();
  for (const [i, m] of list.entries()) {
    if (!isObject(m)) bad(`${path}[${i}]`, 'must be an object');
    if (typeof m.id !== 'string' || !MEMBER_ID.test(m.id)) {
      bad(`${path}[${i}].id`, `${JSON.stringify(m.id)} is not a valid identifier (letters, digits, _; max 64)`);
    }
    if (seen.has(m.id)) bad(`${path}[${i}].id`, `duplicate identifier "${m.id}"`);
    seen.add(m.id);
    const named = m as { name?: unknown; description?: unknown };
    optionalString(named.name, `${path}[${i}].name`);
    optionalString(named.description, `${path}[${i}].description`);
  }
}

function checkParams(list: readonly ParamSpec[], path: string): void {
  checkMembers(list, path);
  for (const [j, p] of list.entries()) {
    checkDataType(p.dataType, `${path}[${j}].dataType`);
    if (p.required !== undefined && typeof p.required !== 'boolean') bad(`${path}[${j}].required`, 'must be a boolean');
  }
}

const EVENT_LEVELS: ReadonlySet<unknown> = new Set(['info', 'warn', 'alert']);

/** Throws IIP_ERR_MODEL_INVALID naming the first offending element; returns the model otherwise. */
export function assertThingModel(m: ThingModel): ThingModel {
  if (!isObject(m) || !Array.isArray(m.properties) || !Array.isArray(m.events) || !Array.isArray(m.services)) {
    bad('model', 'needs properties, events and services arrays');
  }
  checkMembers(m.properties, 'properties');
  for (const [i, p] of m.properties.entries()) {
    checkDataType(p.dataType, `properties[${i}].dataType`);
    if (p.access !== 'r' && p.access !== 'rw') bad(`properties[${i}].access`, 'must be "r" or "rw"');
  }
  checkMembers(m.events, 'events');
  for (const [i, e] of m.events.entries()) {
    if (e.level !== undefined && !EVENT_LEVELS.has(e.level)) bad(`events[${i}].level`, 'must be "info", "warn" or "alert"');
    checkParams(e.outputs, `events[${i}].outputs`);
  }
  checkMembers(m.services, 'services');
  for (const [i, s] of m.services.entries()) {
    checkParams(s.inputs, `services[${i}].inputs`);
    checkParams(s.outputs, `services[${i}].outputs`);
  }
  return m;
}

/** True when a value of this type is stored as a number (and rolled up); never for arrays. */
export function isNumericType(dt: DataType): boolean {
  return dt.type === 'int' || dt.type === 'float' || dt.type === 'bool';
}
