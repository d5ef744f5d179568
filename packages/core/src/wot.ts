/**
 * W3C Web of Things Thing Description 1.1 import and export. A TD is the open, vendor-neutral way to say what
 * a device offers; mapping our thing model onto it lets WoT tooling (node-wot, TD directories) consume iip
 * devices and lets TDs written elsewhere become iip products. Properties map to TD properties, events to TD
 * events with a `data` object schema, services to TD actions with `input`/`output` object schemas. What the
 * TD vocabulary lacks (boolean texts, event levels) travels in `iip:` terms declared in `@context`, so the
 * round trip is lossless (a matrix's shape travels as `iip:dimensions`). Import refuses, with IIP_ERR_MODEL_FORMAT naming the path, schema constraints we
 * could not enforce (patterns, exclusive bounds, nested objects…), rather than silently accepting more.
 */
import { IipError } from './errors.js';
import type { DataType, EnumValue, EventSpec, ParamSpec, PropertySpec, ScalarDataType, ServiceSpec, ThingModel } from './thing-model.js';
import { assertThingModel } from './thing-model.js';

export const WOT_TD_CONTEXT = 'https://www.w3.org/2022/wot/td/v1.1';
/** IRI prefix of the few terms iip adds to a TD; declared as `iip` in the exported `@context`. */
export const IIP_TD_NAMESPACE = 'urn:iip:td:';

export interface WotMeta {
  /** The Thing's URI, e.g. `urn:iip:default:pump-01`. */
  readonly id?: string;
  readonly title: string;
  readonly description?: string;
  /** Base URI that the exported forms' relative hrefs resolve against. */
  readonly base?: string;
}

/** A JSON Schema subset as used by TD DataSchema. */
export interface WotDataSchema {
  readonly type?: 'integer' | 'number' | 'boolean' | 'string' | 'object' | 'array';
  readonly title?: string;
  readonly description?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly unit?: string;
  readonly maxLength?: number;
  readonly enum?: readonly string[];
  readonly oneOf?: readonly { readonly const: string; readonly title?: string }[];
  readonly properties?: Readonly<Record<string, WotDataSchema>>;
  readonly required?: readonly string[];
  readonly items?: WotDataSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** A matrix's shape (the TD has no term for it); minItems = maxItems = their product beside it. */
  readonly 'iip:dimensions'?: readonly number[];
  readonly readOnly?: boolean;
  readonly observable?: boolean;
  readonly 'iip:trueText'?: string;
  readonly 'iip:falseText'?: string;
  readonly forms?: readonly WotForm[];
}

export interface WotForm {
  readonly href: string;
  readonly op: readonly string[];
  readonly contentType?: string;
}

export interface WotThingDescription {
  readonly '@context': readonly [typeof WOT_TD_CONTEXT, { readonly iip: string }];
  readonly id?: string;
  readonly title: string;
  readonly description?: string;
  readonly base?: string;
  readonly securityDefinitions: { readonly nosec_sc: { readonly scheme: 'nosec' } };
  readonly security: 'nosec_sc';
  readonly properties: Readonly<Record<string, WotDataSchema>>;
  readonly actions: Readonly<Record<string, WotAction>>;
  readonly events: Readonly<Record<string, WotEvent>>;
}

export interface WotAction {
  readonly title?: string;
  readonly description?: string;
  readonly input?: WotDataSchema;
  readonly output?: WotDataSchema;
  readonly forms: readonly WotForm[];
}

export interface WotEvent {
  readonly title?: string;
  readonly description?: string;
  readonly data?: WotDataSchema;
  readonly 'iip:level'?: NonNullable<EventSpec['level']>;
  readonly forms: readonly WotForm[];
}

/**
 * Names given to the single parameter when a TD action input or event data (`value`) or an action output
 * (`result`) is a plain value rather than an object.
 */
export const WOT_SCALAR_INPUT_ID = 'value';
export const WOT_SCALAR_OUTPUT_ID = 'result';

type Json = Record<string, unknown>;

function fail(path: string, message: string): never {
  throw new IipError('IIP_ERR_MODEL_FORMAT', `TD ${path}: ${message}`, { path, format: 'wot-td-1.1' });
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function object(v: unknown, path: string): Json {
  if (!isObject(v)) fail(path, 'must be an object');
  return v;
}

function optObject(v: unknown, path: string): Json {
  return v === undefined ? {} : object(v, path);
}

function optString(v: unknown, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(path, 'must be a string');
  return v;
}

function optNumber(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'must be a finite number');
  return v;
}

function withOptional<T extends object>(base: T, extra: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Member ids become object keys; "__proto__" is a valid id, so keys are defined, never assigned. */
function keyed<V>(entries: readonly (readonly [string, V])[]): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

// Constraints that would make the platform's validation stricter than we can express. Dropping them would
// let through values the TD's author meant to refuse, so import stops instead.
const UNSUPPORTED = ['const', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'pattern', 'uniqueItems', 'contains', 'prefixItems'];

function importEnum(s: Json, path: string): EnumValue[] {
  const texts = new Map<string, string>();
  if (s.oneOf !== undefined) {
    if (!Array.isArray(s.oneOf)) fail(`${path}.oneOf`, 'must be an array');
    for (const [i, alt] of s.oneOf.entries()) {
      const a = object(alt, `${path}.oneOf[${i}]`);
      if (typeof a.const !== 'string') fail(`${path}.oneOf[${i}].const`, 'only string constants are supported');
      const title = optString(a.title, `${path}.oneOf[${i}].title`);
      if (title !== undefined) texts.set(a.const, title);
    }
  }
  const raw = s.enum !== undefined ? s.enum : Array.isArray(s.oneOf) ? s.oneOf.map((a: Json) => a.const) : [];
  if (!Array.isArray(raw)) fail(`${path}.enum`, 'must be an array');
  return raw.map((v, i) => {
    if (typeof v !== 'string') fail(`${path}.enum[${i}]`, 'only string enums are supported');
    return withOptional<EnumValue>({ value: v }, { text: texts.get(v) });
  });
}

function importSchema(raw: unknown, path: string): DataType {
  const s = object(raw, path);
  for (const k of UNSUPPORTED) if (s[k] !== undefined) fail(`${path}.${k}`, `"${k}" is not supported`);
  if (s.enum !== undefined || s.oneOf !== undefined) {
    if (s.type !== undefined && s.type !== 'string') fail(`${path}.type`, 'enums must have type "string"');
    return { type: 'enum', values: importEnum(s, path) };
  }
  switch (s.type) {
    case 'integer':
    case 'number':
      return withOptional<DataType>(
        { type: s.type === 'integer' ? 'int' : 'float' },
        {
          min: optNumber(s.minimum, `${path}.minimum`),
          max: optNumber(s.maximum, `${path}.maximum`),
          unit: optString(s.unit, `${path}.unit`),
        },
      );
    case 'boolean':
      return withOptional<DataType>(
        { type: 'bool' },
        {
          trueText: optString(s['iip:trueText'], `${path}.iip:trueText`),
          falseText: optString(s['iip:falseText'], `${path}.iip:falseText`),
        },
      );
    case 'string':
      return withOptional<DataType>({ type: 'string' }, { maxLength: optNumber(s.maxLength, `${path}.maxLength`) });
    case 'array':
      return importArray(s, path);
    default:
      return fail(`${path}.type`, `type ${JSON.stringify(s.type)} cannot be mapped (supported: integer, number, boolean, string, string enum, array of one of them)`);
  }
}

/** `{type: 'array', items: {…}, minItems, maxItems}`; a matrix's shape in `iip:dimensions`. */
function importArray(s: Json, path: string): DataType {
  if (Array.isArray(s.items)) fail(`${path}.items`, 'tuple arrays (a list of item schemas) are not supported');
  const items = object(s.items, `${path}.items`);
  if (items.type === 'array') fail(`${path}.items.type`, 'arrays of arrays are not supported (declare a matrix with iip:dimensions)');
  const itemType = importSchema(items, `${path}.items`) as ScalarDataType;
  const minItems = optNumber(s.minItems, `${path}.minItems`);
  const maxItems = optNumber(s.maxItems, `${path}.maxItems`);
  const rawDims = s['iip:dimensions'];
  if (rawDims === undefined) return withOptional<DataType>({ type: 'array', items: itemType }, { minItems, maxItems });
  if (!Array.isArray(rawDims)) fail(`${path}.iip:dimensions`, 'must be an array of lengths');
  const dimensions = rawDims.map((d, i) => optNumber(d, `${path}.iip:dimensions[${i}]`) as number);
  // Exported beside the dimensions so that plain TD consumers know the length; they must agree with them.
  const product = dimensions.reduce((a, b) => a * b, 1);
  for (const [k, v] of [['minItems', minItems], ['maxItems', maxItems]] as const) {
    if (v !== undefined && v !== product) fail(`${path}.${k}`, `${v} disagrees with iip:dimensions ${dimensions.join('×')} (${product} elements)`);
  }
  return { type: 'array', items: itemType, dimensions };
}

function importParams(raw: unknown, path: string, scalarId: string): ParamSpec[] {
  if (raw === undefined) return [];
  const s = object(raw, path);
  if (s.type !== 'object') {
    return [withOptional<ParamSpec>({ id: scalarId, dataType: importSchema(s, path) }, { name: optString(s.title, `${path}.title`) })];
  }
  const required = s.required === undefined ? [] : s.required;
  if (!Array.isArray(required)) fail(`${path}.required`, 'must be an array of names');
  return Object.entries(optObject(s.properties, `${path}.properties`)).map(([id, f]) => {
    const fp = `${path}.properties.${id}`;
    const field = object(f, fp);
    return withOptional<ParamSpec>(
      { id, dataType: importSchema(field, fp) },
      { name: optString(field.title, `${fp}.title`), required: required.includes(id) ? true : undefined },
    );
  });
}

const LEVELS: ReadonlySet<unknown> = new Set(['info', 'warn', 'alert']);

/**
 * Converts a W3C WoT Thing Description (1.0 or 1.1, already JSON-parsed) to a thing model. Forms, security
 * and links are ignored: they describe how to reach one Thing, not what the product is.
 */
export function wotToModel(td: unknown): ThingModel {
  const t = object(td, '$');
  const properties = Object.entries(optObject(t.properties, 'properties')).map(([id, raw]): PropertySpec => {
    const path = `properties.${id}`;
    const p = object(raw, path);
    if (p.writeOnly === true) fail(`${path}.writeOnly`, 'write-only properties are not supported');
    return withOptional<PropertySpec>(
      { id, dataType: importSchema(p, path), access: p.readOnly === true ? 'r' : 'rw' },
      { name: optString(p.title, `${path}.title`), description: optString(p.description, `${path}.description`) },
    );
  });
  const events = Object.entries(optObject(t.events, 'events')).map(([id, raw]): EventSpec => {
    const path = `events.${id}`;
    const e = object(raw, path);
    const level = e['iip:level'];
    if (level !== undefined && !LEVELS.has(level)) fail(`${path}.iip:level`, 'must be "info", "warn" or "alert"');
    return withOptional<EventSpec>(
      { id, outputs: importParams(e.data, `${path}.data`, WOT_SCALAR_INPUT_ID) },
      {
        name: optString(e.title, `${path}.title`),
        description: optString(e.description, `${path}.description`),
        level: level as EventSpec['level'],
      },
    );
  });
  const services = Object.entries(optObject(t.actions, 'actions')).map(([id, raw]): ServiceSpec => {
    const path = `actions.${id}`;
    const a = object(raw, path);
    return withOptional<ServiceSpec>(
      {
        id,
        inputs: importParams(a.input, `${path}.input`, WOT_SCALAR_INPUT_ID),
        outputs: importParams(a.output, `${path}.output`, WOT_SCALAR_OUTPUT_ID),
      },
      { name: optString(a.title, `${path}.title`), description: optString(a.description, `${path}.description`) },
    );
  });
  return assertThingModel({ properties, events, services });
}

function exportSchema(dt: DataType): WotDataSchema {
  switch (dt.type) {
    case 'int':
    case 'float':
      return withOptional<WotDataSchema>(
        { type: dt.type === 'int' ? 'integer' : 'number' },
        { minimum: dt.min, maximum: dt.max, unit: dt.unit },
      );
    case 'bool':
      return withOptional<WotDataSchema>({ type: 'boolean' }, { 'iip:trueText': dt.trueText, 'iip:falseText': dt.falseText });
    case 'string':
      return withOptional<WotDataSchema>({ type: 'string' }, { maxLength: dt.maxLength });
    case 'enum': {
      // JSON Schema has no labels for enum members; `oneOf` with `const` + `title` is the usual idiom, kept
      // beside `enum` so consumers that only read `enum` still see the allowed values. Every value must be in
      // `oneOf` too, or a schema validator would refuse the unlabelled ones.
      const labelled = dt.values.some((v) => v.text !== undefined);
      return withOptional<WotDataSchema>(
        { type: 'string', enum: dt.values.map((v) => v.value) },
        { oneOf: labelled ? dt.values.map((v) => withOptional({ const: v.value }, { title: v.text })) : undefined },
      );
    }
    case 'array': {
      if (dt.dimensions !== undefined) {
        const n = dt.dimensions.reduce((a, b) => a * b, 1);
        return { type: 'array', items: exportSchema(dt.items), minItems: n, maxItems: n, 'iip:dimensions': dt.dimensions };
      }
      return withOptional<WotDataSchema>({ type: 'array', items: exportSchema(dt.items) }, { minItems: dt.minItems, maxItems: dt.maxItems });
    }
    default: {
      const never: never = dt;
      throw new Error(`unknown data type ${JSON.stringify(never)}`);
    }
  }
}

function exportParams(params: readonly ParamSpec[]): WotDataSchema {
  const required = params.filter((p) => p.required === true).map((p) => p.id);
  return withOptional<WotDataSchema>(
    {
      type: 'object',
      properties: keyed(params.map((p) => [p.id, withOptional(exportSchema(p.dataType), { title: p.name })] as const)),
    },
    { required: required.length > 0 ? required : undefined },
  );
}

function form(kind: string, id: string, op: readonly string[]): WotForm[] {
  return [{ href: `${kind}/${encodeURIComponent(id)}`, op, contentType: 'application/json' }];
}

/**
 * Converts a thing model to a WoT Thing Description 1.1. Forms are minimal placeholders (relative hrefs
 * `properties/{id}`, `actions/{id}`, `events/{id}` against `meta.base`) because bindings depend on how the
 * device is reached; `wotToModel` of the result gives the model back.
 */
export function modelToWot(m: ThingModel, meta: WotMeta): WotThingDescription {
  const properties = keyed(
    m.properties.map(
      (p) =>
        [
          p.id,
          withOptional<WotDataSchema>(
            {
              ...exportSchema(p.dataType),
              readOnly: p.access === 'r',
              observable: true,
              forms: form('properties', p.id, p.access === 'r' ? ['readproperty', 'observeproperty'] : ['readproperty', 'writeproperty', 'observeproperty']),
            },
            { title: p.name, description: p.description },
          ),
        ] as const,
    ),
  );
  const actions = keyed(
    m.services.map(
      (s) =>
        [
          s.id,
          withOptional<WotAction>(
            { forms: form('actions', s.id, ['invokeaction']) },
            {
              title: s.name,
              description: s.description,
              input: s.inputs.length > 0 ? exportParams(s.inputs) : undefined,
              output: s.outputs.length > 0 ? exportParams(s.outputs) : undefined,
            },
          ),
        ] as const,
    ),
  );
  const events = keyed(
    m.events.map(
      (e) =>
        [
          e.id,
          withOptional<WotEvent>(
            { forms: form('events', e.id, ['subscribeevent', 'unsubscribeevent']) },
            {
              title: e.name,
              description: e.description,
              data: e.outputs.length > 0 ? exportParams(e.outputs) : undefined,
              'iip:level': e.level,
            },
          ),
        ] as const,
    ),
  );
  return withOptional<WotThingDescription>(
    {
      '@context': [WOT_TD_CONTEXT, { iip: IIP_TD_NAMESPACE }],
      title: meta.title,
      securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
      security: 'nosec_sc',
      properties,
      actions,
      events,
    },
    { id: meta.id, description: meta.description, base: meta.base },
  );
}
