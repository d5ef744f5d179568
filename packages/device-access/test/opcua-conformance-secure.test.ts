// OPC UA driver against the OPC UA simulator with security mode SignAndEncrypt (Basic256Sha256): the
// shared conformance suite with certificates trusted both ways, and the typed errors when either side
// does not trust the other. Certificates are created once, in one temp dir, for the whole file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureOpcUaClientCertificate, OpcUaDriver, trustOpcUaServerCertificate } from '@iip/device-access';
import { type OpcUaSimulatorServer, startOpcUaServer } from '@iip/simulator';
import { runDriverConformance, tempDir } from '@iip/testkit';

let server: OpcUaSimulatorServer;
let dir: string;
let removeDir: () => Promise<void>;
const logs: string[] = [];

before(async () => {
  const t = await tempDir('iip-opcua-secure-');
  dir = t.path;
  removeDir = t.cleanup;
  server = await startOpcUaServer({
    port: 0,
    devices: [{ id: 'ac-1', product: 'air-compressor' }],
    securityModes: ['SignAndEncrypt'],
    pkiDir: `${dir}/server`,
    paused: true,
  });
  // the trusted client: each side gets the other's certificate
  const { certificate } = await ensureOpcUaClientCertificate(`${dir}/client`);
  await server.trustClientCertificate(certificate);
  await trustOpcUaServerCertificate(`${dir}/client`, server.serverCertificate());
});
after(async () => {
  await server?.close();
  await removeDir?.();
});

describe('OPC UA SignAndEncrypt trust', () => {
  test('a client the server does not trust fails with IIP_ERR_OPCUA_STATUS and is told which certificate to trust', async () => {
    const stranger = `${dir}/stranger`;
    await ensureOpcUaClientCertificate(stranger);
    await trustOpcUaServerCertificate(stranger, server.serverCertificate());
    const driver = new OpcUaDriver(server.channelConfig('SignAndEncrypt', { pkiDir: stranger }), { connectAttempts: 1 });
    await assert.rejects(driver.connect(), (e: Error & { code?: string; details?: { statusCode?: string; certificateFile?: string } }) => {
      assert.equal(e.code, 'IIP_ERR_OPCUA_STATUS', e.message);
      assert.match(String(e.details?.statusCode), /^Bad/);
      assert.ok(e.details?.certificateFile?.startsWith(stranger));
      assert.match(e.message, /trust/);
      return true;
    });
    await driver.close();
  });

  test('a client that does not trust the server refuses it with IIP_ERR_OPCUA_STATUS BadCertificateUntrusted', async () => {
    const wary = `${dir}/wary`;
    const { certificate } = await ensureOpcUaClientCertificate(wary);
    await server.trustClientCertificate(certificate);
    const driver = new OpcUaDriver(server.channelConfig('SignAndEncrypt', { pkiDir: wary }), { connectAttempts: 1 });
    await assert.rejects(driver.connect(), (e: Error & { code?: string; details?: { statusCode?: string } }) => {
      assert.equal(e.code, 'IIP_ERR_OPCUA_STATUS', e.message);
      assert.equal(e.details?.statusCode, 'BadCertificateUntrusted');
      assert.match(e.message, /trusted\/certs/);
      return true;
    });
    await driver.close();
  });

  test('a client asking for security None on a SignAndEncrypt-only server is refused', async () => {
    const driver = new OpcUaDriver(server.channelConfig('None', { pkiDir: `${dir}/client` }), { connectAttempts: 1 });
    await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_OPCUA_STATUS' || e.code === 'IIP_ERR_DRIVER_CONNECT');
    await driver.close();
  });
});

runDriverConformance('OPC UA (SignAndEncrypt, Basic256Sha256)', async () => ({
  driver: new OpcUaDriver(server.channelConfig('SignAndEncrypt', { pkiDir: `${dir}/client` }), { log: (level, msg) => logs.push(`${level} ${msg}`) }),
  peer: {
    set: async (device, property, value) => server.set(device, property, value),
    get: async (device, property) => server.get(device, property),
    restart: () => server.restart(),
  },
  device: 'ac-1',
  readable: { property: 'discharge_pressure', values: [7.25, 6.5] },
  writable: { property: 'pressure_setpoint', value: 7.5 },
  readOnly: 'motor_current',
  skips: {
    int64: 'value types do not depend on the security mode; the security-None run covers them on the same driver (opcua-conformance-none)',
    array: 'value types do not depend on the security mode; the security-None run covers them on the same driver (opcua-conformance-none)',
  },
  cleanup: async () => {
    console.log(logs.join('\n'));
  },
}));
