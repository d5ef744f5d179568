// The OPC UA simulator on its own, read and written by a plain node-opcua client (no iip driver): the
// address space, values following the simulated signals, steering with set()/release()/pause(), and
// values surviving restart().
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startOpcUaServer, type OpcUaSimulatorServer, opcUaPropertyNodeId } from '@iip/simulator';
import { tempDir, waitFor } from '@iip/testkit';
import { AttributeIds, type ClientSession, DataType, OPCUAClient, OPCUACertificateManager } from 'node-opcua';

let server: OpcUaSimulatorServer;
let client: OPCUAClient;
let session: ClientSession;
let cleanupDir: () => Promise<void>;

async function read(device: string, property: string): Promise<{ value: unknown; dataType: DataType; good: boolean }> {
  const dv = await session.read({ nodeId: opcUaPropertyNodeId(device, property), attributeId: AttributeIds.Value });
  return { value: dv.value.value, dataType: dv.value.dataType, good: dv.statusCode.isGood() };
}

before(async () => {
  const dir = await tempDir('iip-opcua-sim-');
  cleanupDir = dir.cleanup;
  server = await startOpcUaServer({ port: 0, devices: [{ id: 'cnc-1', product: 'cnc-machine' }, { id: 'em-1', product: 'energy-meter' }], seed: 7 });
  const cm = new OPCUACertificateManager({ rootFolder: `${dir.path}/client`, automaticallyAcceptUnknownCertificate: true });
  client = OPCUAClient.create({ endpointMustExist: false, clientCertificateManager: cm, connectionStrategy: { maxRetry: 1, initialDelay: 100, maxDelay: 500 } });
  await client.connect(server.endpointUrl);
  session = await client.createSession();
});
after(async () => {
  await client?.disconnect();
  await server?.close();
  await cleanupDir?.();
});

test('every property of every device is a variable of the matching type', async () => {
  const v = await read('em-1', 'voltage');
  assert.ok(v.good);
  assert.equal(v.dataType, DataType.Double);
  assert.equal(typeof v.value, 'number');
  const state = await read('cnc-1', 'state');
  assert.equal(state.dataType, DataType.String);
  assert.ok(['run', 'idle', 'fault'].includes(String(state.value)));
  const cfg = server.channelConfig('None');
  assert.deepEqual(
    cfg.devices.map((d) => d.id),
    ['cnc-1', 'em-1'],
  );
  assert.ok(cfg.devices.every((d) => d.points.length >= 6));
});

test('values follow the simulated signals until set() pins them', async () => {
  const first = server.get('em-1', 'energy');
  // energy only grows while the meter runs, so it must move within a few ticks
  await waitFor(() => server.get('em-1', 'energy') !== first, 'energy to move with the signals', 10_000);
  server.set('em-1', 'voltage', 123.5);
  assert.equal((await read('em-1', 'voltage')).value, 123.5);
  const energyNow = server.get('em-1', 'energy');
  await waitFor(async () => (await read('em-1', 'energy')).value !== energyNow, 'energy to keep moving', 10_000);
  assert.equal(server.get('em-1', 'voltage'), 123.5, 'a pinned value stays');
  server.release('em-1', 'voltage');
  await waitFor(() => server.get('em-1', 'voltage') !== 123.5, 'voltage back under the signals', 10_000);
});

test('pause() freezes the signals', async () => {
  server.pause(true);
  const frozen = server.get('em-1', 'energy');
  // longer than one signal tick (1 s): a running meter's energy would have grown
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(server.get('em-1', 'energy'), frozen);
  assert.equal((await read('em-1', 'energy')).value, frozen);
  server.set('em-1', 'frequency', 49.9);
  assert.equal((await read('em-1', 'frequency')).value, 49.9, 'set() still works while paused');
  server.pause(false);
});

test('clients write set points; read-only properties refuse writes', async () => {
  const ok = await session.write({ nodeId: opcUaPropertyNodeId('em-1', 'demand_limit'), attributeId: AttributeIds.Value, value: { value: { dataType: DataType.Double, value: 321 } } });
  assert.ok(ok.isGood(), ok.toString());
  assert.equal(server.get('em-1', 'demand_limit'), 321);
  const refused = await session.write({ nodeId: opcUaPropertyNodeId('em-1', 'voltage'), attributeId: AttributeIds.Value, value: { value: { dataType: DataType.Double, value: 1 } } });
  assert.equal(refused.name, 'BadNotWritable');
});

test('restart keeps the values and the port', async () => {
  server.set('cnc-1', 'spindle_speed', 4321);
  const url = server.endpointUrl;
  await server.restart();
  assert.equal(server.endpointUrl, url);
  assert.equal(server.get('em-1', 'demand_limit'), 321, 'a client-written set point survives');
  assert.equal(server.get('cnc-1', 'spindle_speed'), 4321);
  await waitFor(async () => (await read('cnc-1', 'spindle_speed')).value === 4321, 'the client to reconnect and read the pinned value', 20_000);
});

test('unknown products and unknown points are typed errors', async () => {
  await assert.rejects(startOpcUaServer({ port: 0, devices: [{ id: 'x', product: 'toaster' }] }), (e: Error & { code?: string }) => e.code === 'IIP_ERR_SIM_UNKNOWN_PRODUCT');
  assert.throws(() => server.get('em-1', 'nope'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_SIM_UNKNOWN_DEVICE');
});
