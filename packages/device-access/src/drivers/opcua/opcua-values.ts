/**
 * Conversions between OPC UA variants and the platform's point values (see docs/reference/opcua.md, "Type
 * mapping", for every built-in type). Reads turn what a thing model can hold into numbers, booleans, strings
 * or arrays of them (a matrix flat, row-major); 64-bit integers stay exact or are refused, never rounded; a
 * structure yields the field the point names. What cannot be stored is a per-point failure with the reason,
 * never a silent drop. Writes build a variant of the node's own built-in type and shape, because servers answer
 * BadTypeMismatch when a Double arrives for an Int16 node or a scalar for an array.
 */
import type { OpcUaPointConfig, PointValue, ScalarValue } from '@iip/core';
import { IipError } from '@iip/core';
import { DataType, type Variant, VariantArrayType } from 'node-opcua';

/** What a read made of a variant: the value to store, or why the point yields none this time. */
export type ReadOutcome = { readonly ok: true; readonly value: PointValue } | { readonly ok: false; readonly error: IipError };

type PointOptions = Pick<OpcUaPointConfig, 'valueAs' | 'field' | 'nodeId'>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The shape of a node's value, learnt from a read: writes must send the same. */
export interface NodeShape {
  readonly dataType: DataType;
  readonly arrayType: VariantArrayType;
  readonly dimensions: readonly number[] | null;
}

export function shapeOf(variant: Variant): NodeShape {
  return { dataType: variant.dataType, arrayType: variant.arrayType, dimensions: variant.dimensions ? [...variant.dimensions] : null };
}

function int64Of(v: unknown, signed: boolean): bigint {
  if (typeof v === 'bigint') return v;
  if (Array.isArray(v)) {
    const [hi = 0, lo = 0] = v as number[];
    const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return signed && hi >>> 0 >= 0x80000000 ? u - (1n << 64n) : u;
  }
  return BigInt(Math.trunc(Number(v)));
}

function unsupported(what: string, details: Record<string, unknown>): IipError {
  return new IipError('IIP_ERR_OPCUA_VALUE_UNSUPPORTED', what, details);
}

/** Field names of a decoded structure (node-opcua keeps them as lowerCamelCase own properties). */
function fieldsOf(o: object): string[] {
  const schema = (o as { schema?: { fields?: Array<{ name?: string }> } }).schema;
  const names = schema?.fields?.map((f) => f.name).filter((n): n is string => typeof n === 'string');
  if (names && names.length > 0) return names.map((n) => n.charAt(0).toLowerCase() + n.slice(1));
  return Object.keys(o).filter((k) => !k.startsWith('_') && typeof (o as Record<string, unknown>)[k] !== 'function');
}

function isOpaque(o: object): boolean {
  return o.constructor?.name === 'OpaqueStructure';
}

/** Follows a dot path ("limits.high") into a decoded structure; the name is tried as written and lowerCamelCase. */
function pick(o: object, path: string, details: Record<string, unknown>): unknown {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') throw unsupported(`field "${path}": "${part}" is not inside a structure`, details);
    const rec = cur as Record<string, unknown>;
    const name = part in rec ? part : part.charAt(0).toLowerCase() + part.slice(1);
    if (!(name in rec)) {
      throw unsupported(`the structure has no field "${part}" (fields: ${fieldsOf(cur).join(', ') || 'none'})`, { ...details, field: path, fields: fieldsOf(cur) });
    }
    cur = rec[name];
  }
  return cur;
}

/** A JavaScript value found inside a structure (node-opcua has decoded it already) as a scalar. */
function plainScalar(v: unknown, details: Record<string, unknown>): ScalarValue {
  if (typeof v === 'number') return finite(v, details);
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v.toString();
  if (v instanceof Date) return v.getTime();
  if (v && typeof v === 'object') {
    if ('text' in v) return String((v as { text: unknown }).text ?? '');
    if ('name' in v && 'namespaceIndex' in v) return String((v as { name: unknown }).name ?? '');
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return plainScalar(int64Of(v, true), details);
  }
  throw unsupported(`the field holds ${v === null ? 'null' : typeof v === 'object' ? `a ${v.constructor?.name ?? 'structure'}` : typeof v}, not a number, boolean or string`, details);
}

function finite(n: number, details: Record<string, unknown>): number {
  if (Number.isFinite(n)) return n;
  throw new IipError('IIP_ERR_DRIVER_BAD_VALUE', `the node holds ${String(n)}, which no thing model can hold; the point is left out of this reading`, { ...details, raw: String(n) });
}

/** One element (or the scalar) of a variant as a stored scalar; throws an IipError saying why not. */
function scalarOf(dataType: DataType, v: unknown, opts: PointOptions, details: Record<string, unknown>): ScalarValue {
  switch (dataType) {
    case DataType.Boolean:
      return Boolean(v);
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double:
      return finite(Number(v), details);
    case DataType.Int64:
    case DataType.UInt64: {
      const big = int64Of(v, dataType === DataType.Int64);
      if (opts.valueAs === 'string') return big.toString();
      if (big > MAX_SAFE || big < -MAX_SAFE) {
        throw new IipError(
          'IIP_ERR_DRIVER_UNSAFE_INTEGER',
          `the ${DataType[dataType]} value ${big.toString()} is beyond ±(2^53 − 1) and would be stored rounded; bind the point with "valueAs": "string" to a string property to keep every digit`,
          { ...details, value: big.toString(), dataType: DataType[dataType] },
        );
      }
      return Number(big);
    }
    case DataType.String:
    case DataType.XmlElement:
    case DataType.Guid:
      return String(v ?? '');
    case DataType.DateTime:
      return v instanceof Date ? v.getTime() : finite(Number(v), details);
    case DataType.ByteString:
      return Buffer.isBuffer(v) ? v.toString('base64') : '';
    case DataType.NodeId:
    case DataType.ExpandedNodeId:
      return v && typeof v === 'object' && 'toString' in v ? String(v) : String(v ?? '');
    case DataType.StatusCode:
      return v && typeof v === 'object' && 'name' in v ? String((v as { name: unknown }).name) : String(v);
    case DataType.LocalizedText:
      return v && typeof v === 'object' && 'text' in v ? String((v as { text: unknown }).text ?? '') : '';
    case DataType.QualifiedName:
      return v && typeof v === 'object' && 'name' in v ? String((v as { name: unknown }).name ?? '') : '';
    case DataType.ExtensionObject: {
      if (v === null || typeof v !== 'object') throw unsupported('the node holds an empty structure', details);
      if (isOpaque(v)) {
        const typeId = String((v as { nodeId?: unknown }).nodeId ?? 'unknown');
        throw unsupported(`the node holds a structure of a data type this client cannot decode (encoding ${typeId}); the server does not describe it in its type dictionary`, { ...details, encoding: typeId });
      }
      const typeName = v.constructor?.name ?? 'structure';
      if (!opts.field) {
        const fields = fieldsOf(v);
        throw unsupported(`the node holds a ${typeName} structure; bind one field per point with "field" (fields: ${fields.join(', ')})`, { ...details, structure: typeName, fields });
      }
      return plainScalar(pick(v, opts.field, { ...details, structure: typeName }), { ...details, structure: typeName, field: opts.field });
    }
    default:
      throw unsupported(`the node holds a ${DataType[dataType] ?? `type ${dataType}`} value, which has no stored kind`, { ...details, dataType: DataType[dataType] ?? dataType });
  }
}

/** A read variant as the value to store, or the reason it yields none. `details` names device, property, node. */
export function readValue(variant: Variant, opts: PointOptions, details: Record<string, unknown>): ReadOutcome {
  try {
    const v: unknown = variant.value;
    if (variant.dataType === DataType.Null || v === null || v === undefined) {
      return { ok: false, error: new IipError('IIP_ERR_OPCUA_VALUE_UNSUPPORTED', 'the node holds no value (Null)', { ...details, dataType: 'Null' }) };
    }
    if (variant.arrayType === VariantArrayType.Scalar) return { ok: true, value: scalarOf(variant.dataType, v, opts, details) };
    // Array or Matrix: node-opcua hands typed arrays for numeric types; a matrix is flat, row-major.
    const items = ArrayLike(v);
    const out: ScalarValue[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) out[i] = scalarOf(variant.dataType, items[i], opts, { ...details, index: i });
    return { ok: true, value: out };
  } catch (e) {
    if (e instanceof IipError) return { ok: false, error: e };
    return { ok: false, error: unsupported(`the value could not be converted: ${String(e)}`, details) };
  }
}

function ArrayLike(v: unknown): ArrayLike<unknown> {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return v as unknown as ArrayLike<unknown>;
  return [v];
}

const INT_RANGES: Partial<Record<DataType, readonly [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
};

const INT64_RANGES: Partial<Record<DataType, readonly [bigint, bigint]>> = {
  [DataType.Int64]: [-(1n << 63n), (1n << 63n) - 1n],
  [DataType.UInt64]: [0n, (1n << 64n) - 1n],
};

function badValue(what: string, details: Record<string, unknown>, code = 'IIP_ERR_TELEMETRY_TYPE'): IipError {
  return new IipError(code, what, details);
}

/** One element's wire value for a node of `dataType`; rejects what the type cannot hold before it hits the wire. */
function elementFor(dataType: DataType, value: ScalarValue, details: Record<string, unknown>): unknown {
  const asNumber = (): number => {
    const n = typeof value === 'boolean' ? Number(value) : typeof value === 'number' ? value : Number(value);
    if (typeof value === 'string' && value.trim() === '') throw badValue(`cannot write an empty string to a ${DataType[dataType]} node`, details);
    if (!Number.isFinite(n)) throw badValue(`cannot write ${JSON.stringify(value)} to a ${DataType[dataType]} node`, details);
    return n;
  };
  const range = INT_RANGES[dataType];
  if (range) {
    const n = asNumber();
    if (!Number.isInteger(n) || n < range[0] || n > range[1]) {
      throw badValue(`${String(value)} does not fit the node's ${DataType[dataType]} type`, details, Number.isInteger(n) ? 'IIP_ERR_TELEMETRY_OUT_OF_RANGE' : 'IIP_ERR_TELEMETRY_TYPE');
    }
    return n;
  }
  const range64 = INT64_RANGES[dataType];
  if (range64) {
    // Exact: a decimal string carries any 64-bit value; a number only a safe integer (a bigger double is already rounded).
    let big: bigint;
    if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) big = BigInt(value.trim());
    else {
      const n = asNumber();
      if (!Number.isSafeInteger(n)) {
        throw badValue(`${String(value)} is not an integer a ${DataType[dataType]} write can name exactly; send integers beyond ±(2^53 − 1) as a decimal string`, details);
      }
      big = BigInt(n);
    }
    if (big < range64[0] || big > range64[1]) throw badValue(`${big.toString()} does not fit the node's ${DataType[dataType]} type`, details, 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    const u = big < 0n ? (1n << 64n) + big : big;
    return [Number(u >> 32n), Number(u & 0xffffffffn)];
  }
  switch (dataType) {
    case DataType.Float:
    case DataType.Double:
      return asNumber();
    case DataType.Boolean:
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      throw badValue(`cannot write ${JSON.stringify(value)} to a Boolean node`, details);
    case DataType.String:
    case DataType.XmlElement:
      return String(value);
    case DataType.LocalizedText:
      return { text: String(value) };
    case DataType.DateTime:
      return new Date(typeof value === 'string' && Number.isNaN(Number(value)) ? Date.parse(value) : asNumber());
    default:
      throw badValue(`writing ${DataType[dataType]} nodes is not supported`, details, 'IIP_ERR_DRIVER_CONFIG');
  }
}

/** The variant options to write `value` to a node of the given shape. */
export function variantFor(shape: NodeShape, value: PointValue, where: Record<string, unknown>): { dataType: DataType; arrayType: VariantArrayType; value: unknown; dimensions?: number[] } {
  const details = { ...where, dataType: DataType[shape.dataType], value: Array.isArray(value) ? `[${(value as readonly ScalarValue[]).length} values]` : value };
  if (shape.arrayType === VariantArrayType.Scalar) {
    if (Array.isArray(value)) throw badValue(`the node holds a single ${DataType[shape.dataType]}, not an array`, details);
    return { dataType: shape.dataType, arrayType: VariantArrayType.Scalar, value: elementFor(shape.dataType, value as ScalarValue, details) };
  }
  if (!Array.isArray(value)) throw badValue(`the node holds an array of ${DataType[shape.dataType]}; write an array`, details);
  const list = value as readonly ScalarValue[];
  const elements = list.map((x, i) => elementFor(shape.dataType, x, { ...details, index: i }));
  if (shape.arrayType === VariantArrayType.Matrix) {
    const dims = shape.dimensions ?? [];
    const size = dims.reduce((a, b) => a * b, 1);
    if (dims.length === 0 || size !== list.length) {
      throw badValue(`the node holds a ${dims.join('×')} matrix (${size} values, row-major); got ${list.length}`, details, 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    }
    return { dataType: shape.dataType, arrayType: VariantArrayType.Matrix, value: elements, dimensions: [...dims] };
  }
  return { dataType: shape.dataType, arrayType: VariantArrayType.Array, value: elements };
}
