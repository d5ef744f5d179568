// OPC UA driver against the OPC UA simulator (a real node-opcua server), security mode None: the shared
// driver conformance suite, then browse, deadband and configuration/connection errors on the same server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DriverFailure, DriverReading } from '@iip/core';
import { OpcUaDriver } from '@iip/device-access';
import { type OpcUaSimulatorServer, sampleValue, sampleVariant, startOpcUaServer, typeSampleNodeId } from '@iip/simulator';
import { freePort, runDriverConformance, tempDir, waitFor } from '@iip/testkit';

let server: OpcUaSimulatorServer;
let pkiDir: string;
let removePki: () => Promise<void>;

before(async () => {
  const pki = await tempDir('iip-opcua-none-');
  pkiDir = `${pki.path}/client`;
  removePki = pki.cleanup;
  server = await startOpcUaServer({ port: 0, devices: [{ id: 'em-1', product: 'energy-meter' }, { id: 'ac-1', product: 'air-compressor' }], paused: true, typeSamples: true });
});
after(async () => {
  await server?.close();
  await removePki?.();
});

/** The conformance device em-1 also carries two of the server's type samples: a UInt64 counter and a Double[5]. */
const SAMPLE_POINTS: Readonly<Record<string, string>> = { counter64: 'UInt64', spectrum: 'DoubleArray' };

runDriverConformance('OPC UA (security None)', async () => {
  const base = server.channelConfig('None', { pkiDir });
  const config = {
    ...base,
    devices: base.devices.map((d) =>
      d.id === 'em-1' ? { ...d, points: [...d.points, ...Object.entries(SAMPLE_POINTS).map(([property, name]) => ({ property, nodeId: typeSampleNodeId(name), samplingIntervalMs: 250 }))] } : d,
    ),
  };
  return {
  driver: new OpcUaDriver(config),
  peer: {
    set: async (device, property, value) => {
      const name = SAMPLE_POINTS[property];
      if (name) server.writeNode(typeSampleNodeId(name), sampleVariant(name, value));
      else server.set(device, property, value);
    },
    get: async (device, property) => {
      const name = SAMPLE_POINTS[property];
      return name ? (sampleValue(server.readNode(typeSampleNodeId(name))) as never) : server.get(device, property);
    },
    restart: () => server.restart(),
  },
  device: 'em-1',
  int64: { property: 'counter64', safe: Number.MAX_SAFE_INTEGER, beyond: '18446744073709551615', writable: true },
  array: { property: 'spectrum', values: [[0.5, 1, 1.5, 2, 2.5], [3, 2, 1, 0, -1]], writable: true },
  readable: { property: 'voltage', values: [231.5, 229.25] },
  writable: { property: 'demand_limit', value: 420 },
  readOnly: 'current',
  cleanup: async () => {},
  };
});

describe('OPC UA driver on the simulator', () => {
  let driver: OpcUaDriver;
  before(async () => {
    driver = new OpcUaDriver(server.channelConfig('None', { pkiDir }));
    await driver.connect();
  });
  after(() => driver.close());

  test('browse lists a folder per device and a variable per property', async () => {
    const top = await driver.browse();
    const folder = top.find((e) => e.browseName === 'em-1');
    assert.ok(folder, `Objects has no em-1 folder: ${top.map((e) => e.browseName).join(', ')}`);
    assert.equal(folder.nodeClass, 'Object');
    assert.equal(folder.nodeId, 'ns=1;s=em-1');
    const vars = await driver.browse(folder.nodeId);
    const voltage = vars.find((e) => e.browseName === 'voltage');
    assert.ok(voltage);
    assert.equal(voltage.nodeClass, 'Variable');
    assert.equal(voltage.nodeId, 'ns=1;s=em-1.voltage');
    for (const p of ['current', 'active_power', 'power_factor', 'energy', 'frequency', 'demand_limit']) {
      assert.ok(vars.some((e) => e.browseName === p), `em-1 lacks ${p}`);
    }
  });

  test('browse of a node the server does not have is IIP_ERR_OPCUA_STATUS naming the status', async () => {
    await assert.rejects(driver.browse('ns=1;s=no-such-node'), (e: Error & { code?: string; details?: { statusCode?: string } }) => {
      return e.code === 'IIP_ERR_OPCUA_STATUS' && e.details?.statusCode === 'BadNodeIdUnknown';
    });
  });

  test('a write of a value the node type cannot hold is refused before it reaches the server', async () => {
    await assert.rejects(driver.write('em-1', 'demand_limit', 'lots'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_TYPE');
  });

  test('readPlan names the node, sampling interval and deadband', () => {
    const plan = driver.readPlan();
    const v = plan.find((p) => p.device === 'em-1' && p.properties.includes('voltage'));
    assert.ok(v);
    assert.match(v.request, /ns=1;s=em-1\.voltage/);
    assert.equal(plan.length, server.channelConfig('None').devices.reduce((n, d) => n + d.points.length, 0));
  });
});

describe('OPC UA deadband', () => {
  test('a change smaller than the absolute deadband is not reported, a larger one is', async () => {
    const base = server.channelConfig('None', { pkiDir, id: 'deadband' });
    const em = base.devices.find((d) => d.id === 'em-1');
    assert.ok(em);
    const driver = new OpcUaDriver({
      ...base,
      devices: [
        {
          id: 'em-1',
          points: [
            { property: 'voltage', nodeId: 'ns=1;s=em-1.voltage', samplingIntervalMs: 50, deadband: { type: 'absolute', value: 5 } },
            // a sentinel without deadband: once its later value arrives, the server has sampled voltage since
            { property: 'frequency', nodeId: 'ns=1;s=em-1.frequency', samplingIntervalMs: 50 },
            { property: 'current', nodeId: 'ns=1;s=em-1.current', samplingIntervalMs: 50, deadband: { type: 'percent', value: 10 } },
          ],
        },
      ],
    });
    const readings: DriverReading[] = [];
    const failures: DriverFailure[] = [];
    try {
      server.set('em-1', 'voltage', 230);
      server.set('em-1', 'frequency', 50);
      server.set('em-1', 'current', 100);
      await driver.connect();
      await driver.subscribe(
        (rs) => readings.push(...rs),
        (_d, f) => failures.push(f),
      );
      const seen = (property: string, value: number) => () => readings.some((r) => r.property === property && r.value === value);
      await waitFor(seen('voltage', 230), 'the initial voltage');
      // below the deadband (|232 - 230| = 2 < 5) and below 10 % of current's 0..2000 A range
      server.set('em-1', 'voltage', 232);
      server.set('em-1', 'current', 150);
      server.set('em-1', 'frequency', 50.1);
      await waitFor(seen('frequency', 50.1), 'the first sentinel');
      server.set('em-1', 'frequency', 50.2);
      await waitFor(seen('frequency', 50.2), 'the second sentinel');
      assert.ok(!readings.some((r) => r.property === 'voltage' && r.value === 232), 'a 2 V change passed a 5 V deadband');
      assert.ok(!readings.some((r) => r.property === 'current' && r.value === 150), 'a 2.5 % change passed a 10 % deadband');
      // beyond both deadbands
      server.set('em-1', 'voltage', 240);
      server.set('em-1', 'current', 500);
      await waitFor(() => seen('voltage', 240)() && seen('current', 500)(), 'changes beyond the deadbands');
      assert.deepEqual(failures, []);
    } finally {
      await driver.close();
    }
  });
});

describe('OPC UA monitored items the server refuses', () => {
  test('a percent deadband on a node without EURange is one IIP_ERR_OPCUA_STATUS failure; other points keep reporting', async () => {
    const driver = new OpcUaDriver({
      ...server.channelConfig('None', { pkiDir, id: 'refused' }),
      devices: [
        {
          id: 'em-1',
          points: [
            // energy has no upper bound, so the simulator exposes it as a plain variable without EURange
            { property: 'energy', nodeId: 'ns=1;s=em-1.energy', deadband: { type: 'percent', value: 5 } },
            { property: 'power_factor', nodeId: 'ns=1;s=em-1.power_factor', samplingIntervalMs: 50 },
          ],
        },
      ],
    });
    const readings: DriverReading[] = [];
    const failures: DriverFailure[] = [];
    try {
      await driver.connect();
      await driver.subscribe(
        (rs) => readings.push(...rs),
        (_d, f) => failures.push(f),
      );
      assert.equal(failures.length, 1);
      assert.equal(failures[0]?.code, 'IIP_ERR_OPCUA_STATUS');
      assert.equal(failures[0]?.details?.statusCode, 'BadMonitoredItemFilterUnsupported');
      assert.equal(failures[0]?.details?.property, 'energy');
      server.set('em-1', 'power_factor', 0.93);
      await waitFor(() => readings.some((r) => r.property === 'power_factor' && r.value === 0.93), 'the healthy point');
      assert.equal(driver.health().devices[0]?.lastError?.code, 'IIP_ERR_OPCUA_STATUS');
    } finally {
      await driver.close();
    }
  });
});

describe('OPC UA configuration and connection errors', () => {
  test('duplicate properties and unparsable node ids are IIP_ERR_DRIVER_CONFIG naming the element', () => {
    const base = server.channelConfig('None', { pkiDir });
    assert.throws(
      () => new OpcUaDriver({ ...base, devices: [{ id: 'x', points: [{ property: 'a', nodeId: 'ns=1;s=a' }, { property: 'a', nodeId: 'ns=1;s=b' }] }] }),
      (e: Error & { code?: string; details?: { path?: string } }) => e.code === 'IIP_ERR_DRIVER_CONFIG' && e.details?.path?.endsWith('points[1]') === true,
    );
    assert.throws(
      () => new OpcUaDriver({ ...base, devices: [{ id: 'x', points: [{ property: 'a', nodeId: 'not a node id' }] }] }),
      (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_CONFIG',
    );
    assert.throws(
      () => new OpcUaDriver({ ...server.channelConfig('SignAndEncrypt') }),
      (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_CONFIG',
      'SignAndEncrypt without a PKI folder',
    );
  });

  test('a server that is not there is IIP_ERR_DRIVER_CONNECT', async () => {
    const port = await freePort();
    const driver = new OpcUaDriver({ ...server.channelConfig('None', { pkiDir }), endpointUrl: `opc.tcp://127.0.0.1:${port}` }, { connectAttempts: 1 });
    await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_CONNECT');
    await driver.close();
  });
});
