/**
 * Issue 19 point 4 end to end, as an engineer meets it: a real OPC UA server (the simulator, SignAndEncrypt only)
 * and a real edge gateway (OPC UA driver, fresh PKI) that do not know each other's certificates, and a real
 * platform. Both directions are fixed from what the platform shows, without opening the gateway's disk:
 * GET /api/v1/gateways/{id} says the gateway does not trust the server (trust.kind "server-untrusted", with the
 * server's thumbprint); POST …/trust-server-certificate with that thumbprint trusts it and the channel tries again at
 * once; then the state says the server does not trust the gateway (trust.kind "client-untrusted", with our client
 * certificate's PEM), which is trusted on the server; the channel runs and readings arrive. The outage is closed.
 * (Beside issue-19-opcua-gateway.test.ts: this package depends on the gateway, the simulator and the platform.)
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDriver } from '@iip/device-access';
import { EdgeGateway } from '@iip/edge-gateway';
import { factoryProducts, startOpcUaServer } from '@iip/simulator';
import { tempDir, waitFor } from '@iip/testkit';
import { startTestPlatform } from '../../server/test/fixture.js';

interface TrustView {
  kind: string;
  certificate: { thumbprint: string; subject: string; applicationUri: string | null; pem: string };
  fix: string;
}
interface ChannelView {
  channel: string;
  state: string;
  error: { code: string; message: string } | null;
  trust?: TrustView | null;
  outages?: Array<{ start: number; end: number | null; code: string }>;
}

const thumbprintOf = (der: Buffer) => createHash('sha1').update(der).digest('hex').toUpperCase();

test('issue 19: both certificates are trusted from what the platform shows, one of them with one click; readings then arrive', async (t) => {
  const tp = await startTestPlatform();
  t.after(() => tp.close());
  const dir = await tempDir('iip-issue19-trust-');
  t.after(() => dir.cleanup());
  const meter = factoryProducts().find((p) => p.id === 'energy-meter');
  assert.ok(meter);
  assert.equal((await tp.api('POST', '/api/v1/products', { id: meter.id, name: meter.name, model: meter.model })).status, 201);
  const g = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'em-1', product: 'energy-meter' })).status, 201);

  const server = await startOpcUaServer({ port: 0, devices: [{ id: 'em-1', product: 'energy-meter' }], securityModes: ['SignAndEncrypt'], seed: 7, pkiDir: join(dir.path, 'server-pki') });
  t.after(() => server.close());
  const serverThumbprint = thumbprintOf(server.serverCertificate());
  const channel = server.channelConfig('SignAndEncrypt', { id: 'meter-ua', pkiDir: join(dir.path, 'gateway-pki') });
  const put = await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [channel] });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  const logs: string[] = [];
  const gw = new EdgeGateway({
    platform: { mqttUrl: `mqtt://127.0.0.1:${tp.platform.mqttPort}`, tenant: 'default', gatewayId: 'gw-1', secret: g.body.secret },
    dataDir: join(dir.path, 'edge'),
    driverFactory: (c) => createDriver(c),
    stateIntervalMs: 500,
    reconnectPeriodMs: 200,
    log: (level, msg, fields) => {
      logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
      if (process.env.DEBUG_GW && level !== 'debug') console.error(level, msg, JSON.stringify(fields));
    },
  });
  t.after(() => gw.stop());
  await gw.start();

  const channelState = async (): Promise<ChannelView | undefined> =>
    (await tp.api<{ reported: { state: { channels: ChannelView[] } } | null }>('GET', '/api/v1/gateways/gw-1')).body.reported?.state.channels.find((c) => c.channel === 'meter-ua');

  // 1. The gateway does not trust the server: the platform shows which certificate, and how to fix it.
  const refused = await waitFor(async () => {
    const c = await channelState();
    return c?.trust?.kind === 'server-untrusted' ? c : undefined;
  }, 'server-untrusted in GET /api/v1/gateways/gw-1', 40_000);
  assert.equal(refused.state, 'starting');
  assert.equal(refused.error?.code, 'IIP_ERR_OPCUA_STATUS');
  assert.equal(refused.trust?.certificate.thumbprint, serverThumbprint, "the server's own certificate");
  assert.equal(thumbprintOf(Buffer.from(new X509Certificate(refused.trust?.certificate.pem ?? '').raw)), serverThumbprint, 'the PEM is that certificate');
  assert.match(refused.trust?.fix ?? '', /trust-server-certificate|Trust this server certificate/);
  assert.equal(refused.outages?.at(-1)?.end, null, 'an outage is open');

  // 2. One click (the console posts exactly this): the gateway trusts it and tries again at once.
  const trusted = await tp.api<{ outcome: string; certificate: { thumbprint: string; subject: string } }>('POST', '/api/v1/gateways/gw-1/channels/meter-ua/trust-server-certificate', {
    thumbprint: serverThumbprint,
  });
  assert.equal(trusted.status, 200, JSON.stringify(trusted.body));
  assert.equal(trusted.body.outcome, 'done');
  assert.equal(trusted.body.certificate.thumbprint, serverThumbprint);

  // 3. Now the server refuses the gateway: the platform shows our client certificate to copy to the server.
  const clientRefused = await waitFor(async () => {
    const c = await channelState();
    return c?.trust?.kind === 'client-untrusted' ? c : c?.state === 'running' ? c : undefined;
  }, 'client-untrusted in GET /api/v1/gateways/gw-1', 40_000);
  assert.equal(clientRefused.trust?.kind, 'client-untrusted', `the simulator does not know the gateway yet: ${JSON.stringify(clientRefused)}`);
  const clientPem = clientRefused.trust?.certificate.pem ?? '';
  assert.match(clientPem, /BEGIN CERTIFICATE/);
  assert.match(clientRefused.trust?.certificate.applicationUri ?? '', /:iip:/);
  await server.trustClientCertificate(Buffer.from(new X509Certificate(clientPem).raw));

  // 4. The channel runs (at its next retry), readings arrive at the platform, the outage is closed.
  const running = await waitFor(async () => {
    const c = await channelState();
    return c?.state === 'running' ? c : undefined;
  }, 'the channel running', 60_000);
  assert.equal(running.error, null);
  assert.ok(!running.trust, 'no trust problem left');
  server.set('em-1', 'voltage', 229.5);
  const latest = await waitFor(async () => {
    const v = (await tp.api<{ values: Record<string, { value: unknown }> }>('GET', '/api/v1/devices/em-1/latest')).body.values;
    return v.voltage?.value === 229.5 ? v : undefined;
  }, 'a reading from the OPC UA server at the platform', 30_000);
  assert.equal(latest.voltage?.value, 229.5);
  const closed = await waitFor(async () => {
    const c = await channelState();
    const last = c?.outages?.at(-1);
    return last && last.end !== null ? last : undefined;
  }, 'the outage closed', 20_000);
  assert.ok(closed.end! >= closed.start);

  const audit = await tp.api<{ items: Array<{ action: string; property: string; newValue: { thumbprint: string; subject: string | null }; result: string }> }>('GET', '/api/v1/audit?device=gw-1');
  const entry = audit.body.items.find((e) => e.action === 'gateway.trust-certificate');
  assert.deepEqual([entry?.property, entry?.newValue.thumbprint, entry?.result], ['meter-ua', serverThumbprint, 'ok']);
  assert.equal(entry?.newValue.subject, trusted.body.certificate.subject);
  assert.ok(logs.some((l) => l.includes('server certificate trusted') && l.includes(serverThumbprint)), 'the gateway logged the trust');
});
