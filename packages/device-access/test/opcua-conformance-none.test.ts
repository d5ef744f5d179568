// The shared driver conformance suite against the OPC UA simulator (node-opcua server), security mode None.
import { after } from 'node:test';
import { OpcUaDriver } from '@iip/device-access';
import { startOpcUaServer } from '@iip/simulator';
import { runDriverConformance, tempDir } from '@iip/testkit';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

runDriverConformance('OPC UA (security None)', async () => {
  const pki = await tempDir('iip-opcua-none-');
  cleanups.push(pki.cleanup);
  const server = await startOpcUaServer({ port: 0, devices: [{ id: 'em-1', product: 'energy-meter' }], paused: true });
  const driver = new OpcUaDriver(server.channelConfig('None', { pkiDir: `${pki.path}/client` }));
  return {
    driver,
    peer: {
      set: async (device, property, value) => server.set(device, property, value),
      get: async (device, property) => server.get(device, property),
      restart: () => server.restart(),
    },
    device: 'em-1',
    readable: { property: 'voltage', values: [231.5, 229.25] },
    writable: { property: 'demand_limit', value: 420 },
    readOnly: 'current',
    cleanup: () => server.close(),
  };
});
