/**
 * JetLinks-style TSL (device metadata JSON) import and export. Many Chinese IoT platforms exchange thing
 * models in this shape — `properties`, `events`, `functions`, each member with a `valueType` — so a product
 * defined elsewhere can be brought into iip and taken back out. Import refuses, with IIP_ERR_MODEL_FORMAT
 * naming the path, anything our thing model cannot hold (object properties, arrays of objects or of arrays,
 * dates, files, unusual boolean encodings) instead of silently weakening validation; the mapping and what it loses are listed in
 * docs/reference/thing-models.md.
 */
import { IipError } from './errors.js';
import type { DataType, EventSpec, ParamSpec, PropertySpec, ScalarDataType, ServiceSpec, ThingModel } from './thing-model.js';
import { assertThingModel } from './thing-model.js';

export interface TslEnumElement {
  readonly value: string;
  readonly text?: string;
  readonly description?: string;
}

/** A JetLinks `valueType`; which fields apply depends on `type`. */
export interface TslValueType {
  readonly type: string;
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  readonly scale?: number;
  readonly elements?: readonly TslEnumElement[];
  readonly trueValue?: string;
  readonly falseValue?: string;
  readonly trueText?: string;
  readonly falseText?: string;
  readonly properties?: readonly TslParam[];
  /** For `array`: the type of its elements (JetLinks also accepts just the type's name). */
  readonly elementType?: TslValueType;
  readonly expands?: Readonly<Record<string, unknown>>;
}

/** A property, an event field or a function input: JetLinks uses one shape for all three. */
export interface TslParam {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly valueType: TslValueType;
  readonly expands?: Readonly<Record<string, unknown>>;
}

export interface TslEvent {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly valueType: TslValueType;
  readonly expands?: Readonly<Record<string, unknown>>;
}

export interface TslFunction {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly async: boolean;
  readonly inputs: readonly TslParam[];
  readonly output?: TslValueType;
  readonly expands?: Readonly<Record<string, unknown>>;
}

export interface TslDocument {
  readonly properties: readonly TslParam[];
  readonly events: readonly TslEvent[];
  readonly functions: readonly TslFunction[];
  readonly tags: readonly TslParam[];
}

/** Name given to the single output of a function whose TSL `output` is a plain value, not an object. */
export const TSL_SCALAR_OUTPUT_ID = 'result';

type Json = Record<string, unknown>;

function fail(path: string, message: string): never {
  throw new IipError('IIP_ERR_MODEL_FORMAT', `TSL ${path}: ${message}`, { path, format: 'jetlinks-tsl' });
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function object(v: unknown, path: string): Json {
  if (!isObject(v)) fail(path, 'must be an object');
  return v;
}

/** JetLinks serialises absent fields as null, so null and missing mean the same here. */
function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(path, 'must be an array');
  return v;
}

function optString(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(path, 'must be a string');
  return v;
}

const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** JetLinks' UI stores ranges as numbers or as numeric strings; both are accepted. */
function optNumber(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && NUMERIC.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) fail(path, `${JSON.stringify(v)} is not a finite number`);
  return n;
}

function flag(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  return fail(path, `${JSON.stringify(v)} is not true or false`);
}

function withOptional<T extends object>(base: T, extra: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as T;
}

// Our validator accepts true/false and 0/1 for booleans, so only those device encodings can be imported.
const TRUE_VALUES: ReadonlySet<unknown> = new Set([undefined, null, true, 1, 'true', '1']);
const FALSE_VALUES: ReadonlySet<unknown> = new Set([undefined, null, false, 0, 'false', '0']);

function importType(raw: unknown, path: string): DataType {
  const vt = object(raw, path);
  const type = vt.type;
  switch (type) {
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
    case 'float':
    case 'double': {
      const integral = type !== 'float' && type !== 'double';
      return withOptional<DataType>(
        { type: integral ? 'int' : 'float' },
        {
          min: optNumber(vt.min ?? vt.minValue, `${path}.min`),
          max: optNumber(vt.max ?? vt.maxValue, `${path}.max`),
          unit: optString(vt.unit, `${path}.unit`),
        },
      );
    }
    case 'boolean':
      if (!TRUE_VALUES.has(vt.trueValue)) fail(`${path}.trueValue`, `${JSON.stringify(vt.trueValue)} is not supported (use "true" or "1")`);
      if (!FALSE_VALUES.has(vt.falseValue)) fail(`${path}.falseValue`, `${JSON.stringify(vt.falseValue)} is not supported (use "false" or "0")`);
      return withOptional<DataType>(
        { type: 'bool' },
        { trueText: optString(vt.trueText, `${path}.trueText`), falseText: optString(vt.falseText, `${path}.falseText`) },
      );
    case 'string': {
      const expands = vt.expands === undefined || vt.expands === null ? {} : object(vt.expands, `${path}.expands`);
      const maxLength = optNumber(expands.maxLength, `${path}.expands.maxLength`);
      return withOptional<DataType>({ type: 'string' }, { maxLength });
    }
    case 'enum': {
      if (vt.multi === true || vt.multi === 'true') fail(`${path}.multi`, 'multi-valued enums are not supported');
      const values = list(vt.elements, `${path}.elements`).map((e, i) => {
        const el = object(e, `${path}.elements[${i}]`);
        if (typeof el.value !== 'string') fail(`${path}.elements[${i}].value`, 'must be a string');
        return withOptional({ value: el.value }, { text: optString(el.text, `${path}.elements[${i}].text`) });
      });
      return { type: 'enum', values };
    }
    case 'array':
      return importArray(vt, path);
    default:
      return fail(`${path}.type`, `type ${JSON.stringify(type)} cannot be mapped (supported: int, long, float, double, boolean, string, enum, array)`);
  }
}

/**
 * A JetLinks array: `elementType` (an object, or just a type name) gives the elements' type; the length bounds
 * and a matrix shape, which JetLinks has no field for, travel in `expands` (minItems, maxItems, dimensions).
 */
function importArray(vt: Json, path: string): DataType {
  const raw = vt.elementType;
  if (raw === undefined || raw === null) fail(`${path}.elementType`, 'an array needs an elementType');
  const elementPath = `${path}.elementType`;
  const element = typeof raw === 'string' ? { type: raw } : object(raw, elementPath);
  if (element.type === 'array') fail(`${elementPath}.type`, 'arrays of arrays are not supported (declare a matrix with expands.dimensions)');
  const items = importType(element, elementPath) as ScalarDataType;
  const expands = vt.expands === undefined || vt.expands === null ? {} : object(vt.expands, `${path}.expands`);
  const dims = expands.dimensions === undefined || expands.dimensions === null
    ? undefined
    : list(expands.dimensions, `${path}.expands.dimensions`).map((d, i) => optNumber(d, `${path}.expands.dimensions[${i}]`) as number);
  return withOptional<DataType>(
    { type: 'array', items },
    {
      minItems: optNumber(expands.minItems, `${path}.expands.minItems`),
      maxItems: optNumber(expands.maxItems, `${path}.expands.maxItems`),
      dimensions: dims,
    },
  );
}

function importAccess(raw: unknown, path: string): PropertySpec['access'] {
  const expands = raw === undefined || raw === null ? {} : object(raw, path);
  // JetLinks 2.x lists the allowed operations; older documents only carry readOnly.
  if (expands.type !== undefined && expands.type !== null) {
    const ops = list(expands.type, `${path}.type`);
    return ops.includes('write') ? 'rw' : 'r';
  }
  const readOnly = flag(expands.readOnly, `${path}.readOnly`);
  // A property that does not say it is writable is treated as read-only: the platform must not write to a
  // device that never declared it accepts writes.
  return readOnly === false ? 'rw' : 'r';
}

function importParam(raw: unknown, path: string): ParamSpec {
  const p = object(raw, path);
  const expands = p.expands === undefined || p.expands === null ? {} : object(p.expands, `${path}.expands`);
  return withOptional<ParamSpec>(
    { id: p.id as string, dataType: importType(p.valueType, `${path}.valueType`) },
    {
      name: optString(p.name, `${path}.name`),
      required: flag(expands.required, `${path}.expands.required`),
    },
  );
}

function importProperty(raw: unknown, path: string): PropertySpec {
  const p = object(raw, path);
  return withOptional<PropertySpec>(
    {
      id: p.id as string,
      dataType: importType(p.valueType, `${path}.valueType`),
      access: importAccess(p.expands, `${path}.expands`),
    },
    { name: optString(p.name, `${path}.name`), description: optString(p.description, `${path}.description`) },
  );
}

const LEVEL_IN: Readonly<Record<string, EventSpec['level']>> = { ordinary: 'info', warn: 'warn', urgent: 'alert' };
const LEVEL_OUT: Readonly<Record<NonNullable<EventSpec['level']>, string>> = { info: 'ordinary', warn: 'warn', alert: 'urgent' };

function objectFields(raw: unknown, path: string): ParamSpec[] {
  const vt = object(raw, path);
  if (vt.type !== 'object') fail(`${path}.type`, `expected "object", got ${JSON.stringify(vt.type)}`);
  return list(vt.properties, `${path}.properties`).map((f, i) => importParam(f, `${path}.properties[${i}]`));
}

function importEvent(raw: unknown, path: string): EventSpec {
  const e = object(raw, path);
  const expands = e.expands === undefined || e.expands === null ? {} : object(e.expands, `${path}.expands`);
  const levelRaw = optString(expands.level, `${path}.expands.level`);
  let level: EventSpec['level'];
  if (levelRaw !== undefined) {
    level = Object.hasOwn(LEVEL_IN, levelRaw) ? LEVEL_IN[levelRaw] : undefined;
    if (!level) fail(`${path}.expands.level`, `"${levelRaw}" is not one of ordinary, warn, urgent`);
  }
  return withOptional<EventSpec>(
    { id: e.id as string, outputs: objectFields(e.valueType, `${path}.valueType`) },
    { name: optString(e.name, `${path}.name`), description: optString(e.description, `${path}.description`), level },
  );
}

function importFunction(raw: unknown, path: string): ServiceSpec {
  const f = object(raw, path);
  const inputs = list(f.inputs, `${path}.inputs`).map((p, i) => importParam(p, `${path}.inputs[${i}]`));
  let outputs: ParamSpec[] = [];
  const out = f.output;
  if (out !== undefined && out !== null && !(isObject(out) && (out.type === undefined || out.type === 'unknown'))) {
    outputs = isObject(out) && out.type === 'object'
      ? objectFields(out, `${path}.output`)
      : [{ id: TSL_SCALAR_OUTPUT_ID, dataType: importType(out, `${path}.output`) }];
  }
  return withOptional<ServiceSpec>(
    { id: f.id as string, inputs, outputs },
    { name: optString(f.name, `${path}.name`), description: optString(f.description, `${path}.description`) },
  );
}

/**
 * Converts a JetLinks-style TSL document (already JSON-parsed) to a thing model. Throws IIP_ERR_MODEL_FORMAT
 * for what cannot be mapped and IIP_ERR_MODEL_INVALID when the result breaks a thing-model rule.
 */
export function tslToModel(doc: unknown): ThingModel {
  const d = object(doc, '$');
  const model: ThingModel = {
    properties: list(d.properties, 'properties').map((p, i) => importProperty(p, `properties[${i}]`)),
    events: list(d.events, 'events').map((e, i) => importEvent(e, `events[${i}]`)),
    services: list(d.functions, 'functions').map((f, i) => importFunction(f, `functions[${i}]`)),
  };
  return assertThingModel(model);
}

function exportType(dt: DataType): TslValueType {
  switch (dt.type) {
    case 'int': {
      // JetLinks' int is 32-bit; wider ranges need long so JetLinks does not overflow them.
      const wide = (dt.min ?? 0) < -(2 ** 31) || (dt.max ?? 0) > 2 ** 31 - 1;
      return withOptional<TslValueType>({ type: wide ? 'long' : 'int' }, { min: dt.min, max: dt.max, unit: dt.unit });
    }
    case 'float':
      return withOptional<TslValueType>({ type: 'double' }, { min: dt.min, max: dt.max, unit: dt.unit });
    case 'bool':
      return withOptional<TslValueType>(
        { type: 'boolean', trueValue: 'true', falseValue: 'false' },
        { trueText: dt.trueText, falseText: dt.falseText },
      );
    case 'string':
      return dt.maxLength === undefined ? { type: 'string' } : { type: 'string', expands: { maxLength: dt.maxLength } };
    case 'enum':
      return { type: 'enum', elements: dt.values.map((v) => withOptional<TslEnumElement>({ value: v.value }, { text: v.text })) };
    case 'array': {
      const expands = withOptional<Record<string, unknown>>({}, { minItems: dt.minItems, maxItems: dt.maxItems, dimensions: dt.dimensions });
      return withOptional<TslValueType>(
        { type: 'array', elementType: exportType(dt.items) },
        { expands: Object.keys(expands).length > 0 ? expands : undefined },
      );
    }
    default: {
      const never: never = dt;
      throw new Error(`unknown data type ${JSON.stringify(never)}`);
    }
  }
}

function exportParam(p: ParamSpec): TslParam {
  return withOptional<TslParam>(
    { id: p.id, valueType: exportType(p.dataType) },
    { name: p.name, expands: p.required ? { required: true } : undefined },
  );
}

/** Converts a thing model to a JetLinks-style TSL document; `tslToModel` of the result gives the model back. */
export function modelToTsl(m: ThingModel): TslDocument {
  return {
    properties: m.properties.map((p) =>
      withOptional<TslParam>(
        {
          id: p.id,
          valueType: exportType(p.dataType),
          expands: {
            readOnly: p.access === 'r' ? 'true' : 'false',
            type: p.access === 'r' ? ['read', 'report'] : ['read', 'write', 'report'],
          },
        },
        { name: p.name, description: p.description },
      ),
    ),
    events: m.events.map((e) =>
      withOptional<TslEvent>(
        { id: e.id, valueType: { type: 'object', properties: e.outputs.map(exportParam) } },
        { name: e.name, description: e.description, expands: e.level ? { level: LEVEL_OUT[e.level] } : undefined },
      ),
    ),
    functions: m.services.map((s) =>
      withOptional<TslFunction>(
        { id: s.id, async: false, inputs: s.inputs.map(exportParam) },
        {
          name: s.name,
          description: s.description,
          output: s.outputs.length > 0 ? { type: 'object', properties: s.outputs.map(exportParam) } : undefined,
        },
      ),
    ),
    tags: [],
  };
}
