/**
 * An OPC UA driver closed while its first connect is still retrying (an edge gateway stopping or reconfigured while
 * the server is unreachable): connect() ends with IIP_ERR_DRIVER_CONNECT saying so, its retries stop, and nothing of
 * the client — retry timer, secure channel, session keep-alive — keeps the process alive (this file would then not
 * exit, which the test runner reports as a failure).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { OpcUaDriver } from '@iip/device-access';
import { tempDir } from '@iip/testkit';

async function unusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test('closed while the first connect retries: connect() says so and nothing is left running', async (t) => {
  const dir = await tempDir('iip-opcua-close-');
  t.after(() => dir.cleanup());
  const driver = new OpcUaDriver(
    {
      id: 'ua-1',
      protocol: 'opcua',
      endpointUrl: `opc.tcp://127.0.0.1:${await unusedPort()}`,
      securityMode: 'None',
      pkiDir: join(dir.path, 'pki'),
      devices: [{ id: 'm-1', points: [{ property: 'v', nodeId: 'ns=1;s=v' }] }],
    },
    { connectAttempts: 50 },
  );
  const connecting = driver.connect();
  const outcome = connecting.then(
    () => 'connected',
    (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
  );
  // Let it get into its retries (the certificate is made first), then close it.
  await new Promise((r) => setTimeout(r, 1_500));
  await driver.close();
  assert.match(await outcome, /^IIP_ERR_DRIVER_CONNECT: OPC UA channel ua-1 was closed while it connected$/);
});
