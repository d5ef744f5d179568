/**
 * Issue 19, points 1–3: every OPC UA value type against a real node-opcua server (the simulator's type samples).
 * 64-bit integers are written (today: IIP_ERR_INTERNAL, nothing reaches the server) and read exactly or refused
 * with a reason — never rounded; arrays and a matrix are delivered as arrays; a structure yields the field a point
 * names or a point failure listing its fields — never a silent drop. Each check reads what the server holds with
 * node-opcua's own API, independent of the driver's conversions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DriverFailure, DriverReading, OpcUaPointConfig } from '@iip/core';
import { OpcUaDriver } from '@iip/device-access';
import { BEYOND_SAFE_UINT64, type OpcUaSimulatorServer, startOpcUaServer, TYPE_SAMPLES, typeSampleNodeId } from '@iip/simulator';
import { tempDir, waitFor } from '@iip/testkit';
import { DataType, VariantArrayType } from 'node-opcua';

let server: OpcUaSimulatorServer;
let pkiDir: string;
let cleanup: () => Promise<void>;

before(async () => {
  const t = await tempDir('iip-opcua-types-');
  pkiDir = `${t.path}/client`;
  cleanup = t.cleanup;
  server = await startOpcUaServer({ port: 0, devices: [], paused: true, typeSamples: true });
});
after(async () => {
  await server?.close();
  await cleanup?.();
});

const sample = (name: string, extra: Partial<OpcUaPointConfig> = {}): OpcUaPointConfig => ({ property: name, nodeId: typeSampleNodeId(name), samplingIntervalMs: 50, ...extra });

function driverFor(points: OpcUaPointConfig[]): OpcUaDriver {
  return new OpcUaDriver({ ...server.channelConfig('None', { pkiDir, id: `types-${points.length}` }), devices: [{ id: 'types', points }] });
}

/** A 64-bit variant value ([high, low] words) as a bigint, read the way the OPC UA encoding defines it. */
function int64Of(v: unknown, signed: boolean): bigint {
  const [hi, lo] = v as [number, number];
  const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  return signed && hi >>> 0 >= 0x80000000 ? u - (1n << 64n) : u;
}

describe('64-bit integers', () => {
  let driver: OpcUaDriver;
  before(async () => {
    driver = driverFor([sample('Int64'), sample('UInt64'), sample('UInt64', { property: 'UInt64Exact', valueAs: 'string' }), sample('Int64Array')]);
    await driver.connect();
  });
  after(() => driver.close());

  test('an Int64 write reaches the server: safe integers as numbers, any 64-bit value as a decimal string', async () => {
    await driver.write('types', 'Int64', -9_007_199_254_740_991);
    let v = server.readNode(typeSampleNodeId('Int64'));
    assert.equal(v.dataType, DataType.Int64);
    assert.equal(int64Of(v.value, true), -9_007_199_254_740_991n);
    await driver.write('types', 'Int64', '-9223372036854775808');
    v = server.readNode(typeSampleNodeId('Int64'));
    assert.equal(int64Of(v.value, true), -(1n << 63n));
    await driver.write('types', 'UInt64', '18446744073709551615');
    assert.equal(int64Of(server.readNode(typeSampleNodeId('UInt64')).value, false), (1n << 64n) - 1n);
    const [r] = (await driver.readOnce('types')).filter((x) => x.property === 'UInt64Exact');
    assert.equal(r?.value, '18446744073709551615');
  });

  test('writes a 64-bit node cannot take exactly are refused before they reach the server', async () => {
    const before = int64Of(server.readNode(typeSampleNodeId('Int64')).value, true);
    for (const bad of [2 ** 60, 1.5, '9223372036854775808', 'twelve']) {
      await assert.rejects(driver.write('types', 'Int64', bad), (e: Error & { code?: string }) => /^IIP_ERR_TELEMETRY_(TYPE|OUT_OF_RANGE)$/.test(String(e.code)), String(bad));
    }
    await assert.rejects(driver.write('types', 'UInt64', -1), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    assert.equal(int64Of(server.readNode(typeSampleNodeId('Int64')).value, true), before);
  });

  test('a UInt64 beyond 2^53 is never stored rounded: refused per point with its exact value, or kept exact as a string', async () => {
    server.writeNode(typeSampleNodeId('UInt64'), { dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [Number(BEYOND_SAFE_UINT64 >> 32n), Number(BEYOND_SAFE_UINT64 & 0xffffffffn)] });
    server.writeNode(typeSampleNodeId('Int64'), { dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [0, 12] });
    const readings = await driver.readOnce('types');
    assert.equal(readings.find((r) => r.property === 'Int64')?.value, 12);
    assert.equal(readings.find((r) => r.property === 'UInt64'), undefined, 'a rounded number was delivered');
    assert.equal(readings.find((r) => r.property === 'UInt64Exact')?.value, '9007199254741207');
    const health = driver.health().devices[0];
    const failure = health?.pointFailures?.find((f) => f.property === 'UInt64');
    assert.equal(failure?.code, 'IIP_ERR_DRIVER_UNSAFE_INTEGER');
    assert.equal(failure?.details?.value, '9007199254741207');
    assert.match(failure?.message ?? '', /valueAs/);
    assert.ok((health?.errors ?? 0) > 0, 'the refused point counts as an error in health');
  });

  test('an Int64 array is delivered element by element', async () => {
    const readings = await driver.readOnce('types');
    assert.deepEqual(readings.find((r) => r.property === 'Int64Array')?.value, [1, -2, 3_000_000_000]);
  });
});

describe('arrays and matrices', () => {
  let driver: OpcUaDriver;
  const readings: DriverReading[] = [];
  before(async () => {
    driver = driverFor([sample('DoubleArray'), sample('Int32Matrix'), sample('BooleanArray'), sample('StringArray')]);
    await driver.connect();
    await driver.subscribe((rs) => readings.push(...rs));
  });
  after(() => driver.close());

  test('a Double[5], an Int32 2×3 matrix (flat, row-major), Boolean[] and String[] are read as arrays', async () => {
    const r = await driver.readOnce('types');
    const of = (p: string) => r.find((x) => x.property === p)?.value;
    assert.deepEqual(of('DoubleArray'), [0.5, 1.25, -2, 3.75, 10]);
    assert.deepEqual(of('Int32Matrix'), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(of('BooleanArray'), [true, false, true]);
    assert.deepEqual(of('StringArray'), ['a', 'b']);
    assert.deepEqual(driver.health().devices[0]?.pointFailures ?? [], []);
  });

  test('the subscription delivers a changed array whole', async () => {
    server.writeNode(typeSampleNodeId('DoubleArray'), { dataType: DataType.Double, arrayType: VariantArrayType.Array, value: new Float64Array([9, 8, 7, 6, 5]) });
    await waitFor(() => readings.some((x) => x.property === 'DoubleArray' && JSON.stringify(x.value) === '[9,8,7,6,5]'), 'the changed array', 10_000);
  });

  test('arrays and matrices are written in the node’s shape; a wrong shape is refused before the wire', async () => {
    await driver.write('types', 'DoubleArray', [0.1, 0.2, 0.3, 0.4, 0.5]);
    const a = server.readNode(typeSampleNodeId('DoubleArray'));
    assert.equal(a.arrayType, VariantArrayType.Array);
    assert.deepEqual([...(a.value as Float64Array)], [0.1, 0.2, 0.3, 0.4, 0.5]);
    await driver.write('types', 'Int32Matrix', [6, 5, 4, 3, 2, 1]);
    const m = server.readNode(typeSampleNodeId('Int32Matrix'));
    assert.equal(m.arrayType, VariantArrayType.Matrix);
    assert.deepEqual(m.dimensions, [2, 3]);
    assert.deepEqual([...(m.value as Int32Array)], [6, 5, 4, 3, 2, 1]);
    await assert.rejects(driver.write('types', 'Int32Matrix', [1, 2, 3]), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    await assert.rejects(driver.write('types', 'DoubleArray', 1.5), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_TYPE');
    await assert.rejects(driver.write('types', 'Int32Matrix', [1, 2, 3, 4, 5, 2 ** 40]), (e: Error & { code?: string; details?: { index?: number } }) => e.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE' && e.details?.index === 5);
    assert.deepEqual([...(server.readNode(typeSampleNodeId('Int32Matrix')).value as Int32Array)], [6, 5, 4, 3, 2, 1]);
  });
});

describe('structures', () => {
  test('a Range without "field" is a point failure naming its fields; with "field" each field is a value', async () => {
    const driver = driverFor([sample('Range'), sample('Range', { property: 'range_low', field: 'low' }), sample('Range', { property: 'range_high', field: 'high' }), sample('Float')]);
    const failures: Array<{ device: string; failure: DriverFailure }> = [];
    const readings: DriverReading[] = [];
    try {
      await driver.connect();
      await driver.subscribe(
        (rs) => readings.push(...rs),
        (device, failure) => failures.push({ device, failure }),
      );
      await waitFor(() => readings.some((r) => r.property === 'range_high'), 'the Range fields', 10_000);
      assert.equal(readings.find((r) => r.property === 'range_low')?.value, -10);
      assert.equal(readings.find((r) => r.property === 'range_high')?.value, 120.5);
      assert.ok(!readings.some((r) => r.property === 'Range'), 'a structure without a field was delivered');
      const pf = driver.health().devices[0]?.pointFailures?.find((f) => f.property === 'Range');
      assert.equal(pf?.code, 'IIP_ERR_OPCUA_VALUE_UNSUPPORTED');
      assert.deepEqual(pf?.details?.fields, ['low', 'high']);
      assert.ok(failures.some((f) => f.failure.code === 'IIP_ERR_OPCUA_VALUE_UNSUPPORTED'), 'the failure reached the failure sink (gateway log and state)');
      await assert.rejects(driver.write('types', 'range_low', 0), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_NOT_WRITABLE');
    } finally {
      await driver.close();
    }
  });

  test('a field the structure does not have is a point failure, not a silent drop', async () => {
    const driver = driverFor([sample('Range', { property: 'range_mid', field: 'middle' })]);
    try {
      await driver.connect();
      await assert.rejects(driver.readOnce('types'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_VALUE_UNSUPPORTED' && /no field "middle"/.test(e.message));
      assert.equal(driver.health().devices[0]?.pointFailures?.[0]?.property, 'range_mid');
    } finally {
      await driver.close();
    }
  });
});

describe('the other built-in types', () => {
  test('each is stored as the kind docs/reference/opcua.md names', async () => {
    const names = ['Byte', 'SByte', 'UInt32', 'Float', 'DateTime', 'Guid', 'ByteString', 'LocalizedText', 'QualifiedName', 'NodeId', 'StatusCode', 'XmlElement'];
    assert.ok(names.every((n) => TYPE_SAMPLES.some((s) => s.name === n)));
    const driver = driverFor(names.map((n) => sample(n)));
    try {
      await driver.connect();
      const r = await driver.readOnce('types');
      const got = Object.fromEntries(r.map((x) => [x.property, x.value]));
      assert.deepEqual(got, {
        Byte: 200,
        SByte: -100,
        UInt32: 4_000_000_000,
        Float: 1.5,
        DateTime: Date.parse('2026-01-02T03:04:05.678Z'),
        Guid: '72962B91-FA75-4AE6-8D28-B404DC7DAF63',
        ByteString: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64'),
        LocalizedText: '运行',
        QualifiedName: 'Spindle',
        NodeId: 'ns=1;s=types.Int64',
        StatusCode: 'BadSensorFailure',
        XmlElement: '<a>1</a>',
      });
      assert.deepEqual(driver.health().devices[0]?.pointFailures ?? [], []);
    } finally {
      await driver.close();
    }
  });
});

describe('configuration', () => {
  test('valueAs and field are checked up front', () => {
    assert.throws(() => driverFor([sample('UInt64', { valueAs: 'bigint' as never })]), (e: Error & { code?: string; details?: { path?: string } }) => e.code === 'IIP_ERR_DRIVER_CONFIG' && /points\[0\]/.test(String(e.details?.path)));
    assert.throws(() => driverFor([sample('Range', { field: 'low..x' })]), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_CONFIG');
  });
});
