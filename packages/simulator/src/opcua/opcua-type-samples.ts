/**
 * The OPC UA simulator's type samples: one variable per kind of value a driver must handle, in a folder
 * "types" (`ns=1;s=types.<Name>`), all readable and writable. They are what the driver's type tests and the
 * driver conformance suite read and write: 64-bit integers (also beyond 2^53), one-dimensional arrays, a 2×3
 * matrix, a structure (Range), and the built-in types that are stored as strings or numbers.
 */
import { type AddressSpace, coerceLocalizedText, DataType, Range, resolveNodeId, StatusCodes, type UAObject, Variant, VariantArrayType, type VariantOptions } from 'node-opcua';

export const TYPE_SAMPLES_FOLDER = 'types';

/** Node id of one sample, e.g. typeSampleNodeId('Int64') = 'ns=1;s=types.Int64'. */
export function typeSampleNodeId(name: string): string {
  return `ns=1;s=${TYPE_SAMPLES_FOLDER}.${name}`;
}

interface Sample {
  readonly name: string;
  /** The DataType browse name (a built-in type or a structure such as Range). */
  readonly dataType: string;
  readonly valueRank: number;
  readonly arrayDimensions?: number[];
  readonly initial: () => VariantOptions;
}

/** 2^53 + 15: the value an outside peer saw stored rounded (…207 → …208). */
export const BEYOND_SAFE_UINT64 = 9_007_199_254_741_207n;

function int64Words(v: bigint): [number, number] {
  const u = v < 0n ? (1n << 64n) + v : v;
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}

export const TYPE_SAMPLES: readonly Sample[] = [
  { name: 'Int64', dataType: 'Int64', valueRank: -1, initial: () => ({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: int64Words(-42n) }) },
  { name: 'UInt64', dataType: 'UInt64', valueRank: -1, initial: () => ({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: int64Words(BEYOND_SAFE_UINT64) }) },
  {
    name: 'DoubleArray',
    dataType: 'Double',
    valueRank: 1,
    arrayDimensions: [5],
    initial: () => ({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: new Float64Array([0.5, 1.25, -2, 3.75, 10]) }),
  },
  {
    name: 'Int32Matrix',
    dataType: 'Int32',
    valueRank: 2,
    arrayDimensions: [2, 3],
    initial: () => ({ dataType: DataType.Int32, arrayType: VariantArrayType.Matrix, dimensions: [2, 3], value: new Int32Array([1, 2, 3, 4, 5, 6]) }),
  },
  {
    name: 'Int64Array',
    dataType: 'Int64',
    valueRank: 1,
    initial: () => ({ dataType: DataType.Int64, arrayType: VariantArrayType.Array, value: [int64Words(1n), int64Words(-2n), int64Words(3_000_000_000n)] }),
  },
  { name: 'BooleanArray', dataType: 'Boolean', valueRank: 1, initial: () => ({ dataType: DataType.Boolean, arrayType: VariantArrayType.Array, value: [true, false, true] }) },
  { name: 'StringArray', dataType: 'String', valueRank: 1, initial: () => ({ dataType: DataType.String, arrayType: VariantArrayType.Array, value: ['a', 'b'] }) },
  { name: 'Range', dataType: 'Range', valueRank: -1, initial: () => ({ dataType: DataType.ExtensionObject, value: new Range({ low: -10, high: 120.5 }) }) },
  { name: 'Byte', dataType: 'Byte', valueRank: -1, initial: () => ({ dataType: DataType.Byte, value: 200 }) },
  { name: 'SByte', dataType: 'SByte', valueRank: -1, initial: () => ({ dataType: DataType.SByte, value: -100 }) },
  { name: 'UInt32', dataType: 'UInt32', valueRank: -1, initial: () => ({ dataType: DataType.UInt32, value: 4_000_000_000 }) },
  { name: 'Float', dataType: 'Float', valueRank: -1, initial: () => ({ dataType: DataType.Float, value: 1.5 }) },
  { name: 'DateTime', dataType: 'DateTime', valueRank: -1, initial: () => ({ dataType: DataType.DateTime, value: new Date('2026-01-02T03:04:05.678Z') }) },
  { name: 'Guid', dataType: 'Guid', valueRank: -1, initial: () => ({ dataType: DataType.Guid, value: '72962B91-FA75-4AE6-8D28-B404DC7DAF63' }) },
  { name: 'ByteString', dataType: 'ByteString', valueRank: -1, initial: () => ({ dataType: DataType.ByteString, value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) }) },
  { name: 'LocalizedText', dataType: 'LocalizedText', valueRank: -1, initial: () => ({ dataType: DataType.LocalizedText, value: coerceLocalizedText({ text: '运行', locale: 'zh-CN' }) }) },
  { name: 'QualifiedName', dataType: 'QualifiedName', valueRank: -1, initial: () => ({ dataType: DataType.QualifiedName, value: { namespaceIndex: 1, name: 'Spindle' } }) },
  { name: 'NodeId', dataType: 'NodeId', valueRank: -1, initial: () => ({ dataType: DataType.NodeId, value: resolveNodeId('ns=1;s=types.Int64') }) },
  { name: 'StatusCode', dataType: 'StatusCode', valueRank: -1, initial: () => ({ dataType: DataType.StatusCode, value: StatusCodes.BadSensorFailure }) },
  { name: 'XmlElement', dataType: 'XmlElement', valueRank: -1, initial: () => ({ dataType: DataType.XmlElement, value: '<a>1</a>' }) },
];

/**
 * Adds the samples under Objects/types. Values come from `values` (node id → variant) when present, so a
 * restart keeps what tests and client writes put there; client writes are recorded in it.
 */
export function addTypeSamples(addressSpace: AddressSpace, objects: UAObject, values: Map<string, VariantOptions>): void {
  const ns = addressSpace.getOwnNamespace();
  const folder = ns.addFolder(objects, { browseName: TYPE_SAMPLES_FOLDER, nodeId: `s=${TYPE_SAMPLES_FOLDER}` });
  for (const sample of TYPE_SAMPLES) {
    const nodeId = typeSampleNodeId(sample.name);
    const dataType = addressSpace.findDataType(sample.dataType);
    if (!dataType) throw new Error(`the address space has no data type ${sample.dataType}`);
    const variable = ns.addVariable({
      componentOf: folder,
      browseName: sample.name,
      nodeId: nodeId.replace(/^ns=1;/, ''),
      dataType,
      valueRank: sample.valueRank,
      ...(sample.arrayDimensions ? { arrayDimensions: sample.arrayDimensions } : {}),
      accessLevel: 'CurrentRead | CurrentWrite',
      userAccessLevel: 'CurrentRead | CurrentWrite',
      minimumSamplingInterval: 50,
    });
    variable.setValueFromSource(new Variant(values.get(nodeId) ?? sample.initial()));
    variable.on('value_changed', (dv: { value: Variant }) => {
      const v = dv.value;
      values.set(nodeId, { dataType: v.dataType, arrayType: v.arrayType, value: v.value, ...(v.dimensions ? { dimensions: v.dimensions } : {}) });
    });
  }
}

const NUMERIC: Readonly<Record<string, DataType>> = {
  Int64: DataType.Int64,
  UInt64: DataType.UInt64,
  Double: DataType.Double,
  Float: DataType.Float,
  Int32: DataType.Int32,
  Byte: DataType.Byte,
  SByte: DataType.SByte,
  UInt32: DataType.UInt32,
  Boolean: DataType.Boolean,
  String: DataType.String,
};

/**
 * The variant a test puts into a sample to make it hold `value` (64-bit integers as numbers or exact decimal
 * strings; arrays for array and matrix samples, a matrix flat and row-major). For numeric, boolean and string samples.
 */
export function sampleVariant(name: string, value: unknown): VariantOptions {
  const sample = TYPE_SAMPLES.find((s) => s.name === name);
  const dataType = sample ? NUMERIC[sample.dataType] : undefined;
  if (!sample || dataType === undefined) throw new Error(`no settable type sample "${name}"`);
  const one = (v: unknown): unknown => (dataType === DataType.Int64 || dataType === DataType.UInt64 ? int64Words(BigInt(v as string | number)) : v);
  if (sample.valueRank === -1) return { dataType, arrayType: VariantArrayType.Scalar, value: one(value) };
  const list = (value as unknown[]).map(one);
  if (sample.valueRank === 2) return { dataType, arrayType: VariantArrayType.Matrix, dimensions: sample.arrayDimensions ?? [list.length], value: list };
  return { dataType, arrayType: VariantArrayType.Array, value: list };
}

/** What a sample holds, as a test compares it: 64-bit integers as numbers when safe, else as decimal strings. */
export function sampleValue(variant: Variant): unknown {
  const one = (v: unknown): unknown => {
    if (variant.dataType !== DataType.Int64 && variant.dataType !== DataType.UInt64) return v;
    const [hi, lo] = v as [number, number];
    let big = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    if (variant.dataType === DataType.Int64 && hi >>> 0 >= 0x80000000) big -= 1n << 64n;
    return big >= -BigInt(Number.MAX_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
  };
  if (variant.arrayType === VariantArrayType.Scalar) return one(variant.value);
  return Array.from(variant.value as ArrayLike<unknown>, one);
}
