/**
 * End-to-end (issue 19): the gateway page's certificate-trust panel and outage history against a real platform in
 * Debian's chromium (playwright-core), with a real mqtt.js client playing the edge gateway (its credentials, its
 * topics). The gateway reports one OPC UA channel refused over an untrusted server certificate and one whose
 * server refuses our client certificate; the page must show the certificates, the fixes, the channel states and
 * the outage history; "Trust this server certificate" asks for confirmation, shows a refusal with the gateway's
 * code, then trusts — the gateway receives exactly the thumbprint shown — and the panel gives way to a running
 * channel. The client certificate's PEM is there to copy or download; the panel is in Chinese too.
 *
 * Run: node --import tsx --test packages/console/test/issue-19-gateway-trust.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPlatform } from '@iip/server';
import mqtt, { type MqttClient } from 'mqtt';
import { apiCaller } from './e2e-api.ts';
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from './e2e-browser.ts';

const PASSWORD = 'quartz-ferry-lantern-4';
const GATEWAY = 'gw-1';
const SERVER_CERT = {
  thumbprint: 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678',
  subject: 'CN=Filler PLC, O=Plant 1',
  issuer: 'CN=Filler PLC, O=Plant 1',
  notBefore: '2025-01-01T00:00:00.000Z',
  notAfter: '2035-01-01T00:00:00.000Z',
  applicationUri: 'urn:filler-plc:opcua-server',
  pem: '-----BEGIN CERTIFICATE-----\nMIIBserver\n-----END CERTIFICATE-----\n',
};
const CLIENT_CERT = {
  thumbprint: 'FFEEDDCCBBAA99887766554433221100FFEEDDCC',
  subject: 'CN=iip-edge@gw-1',
  issuer: 'CN=iip-edge@gw-1',
  notBefore: '2025-06-01T00:00:00.000Z',
  notAfter: '2035-06-01T00:00:00.000Z',
  applicationUri: 'urn:gw-1:iip:iip-edge',
  pem: '-----BEGIN CERTIFICATE-----\nMIIBclientcertificate\nAAAA\n-----END CERTIFICATE-----\n',
};
const SERVER_FIX = 'Check that thumbprint A1B2… is the server’s, then trust it from the console’s gateway page.';
const CLIENT_FIX = 'Add /var/lib/iip/pki/own/certs/client_certificate.pem to the server’s trusted certificates.';

let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
let gateway: MqttClient | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'iip-console-trust-e2e-data-'));
let token = '';
const call = apiCaller(() => platform!.httpUrl, () => token);
const commands: Array<{ id: string; body: Record<string, unknown> }> = [];
/** How the stand-in gateway answers the next trust commands (then: ok). */
const replies: Array<Record<string, unknown>> = [];
const t0 = Date.now();

function channelConfig(id: string, device: string) {
  return {
    id,
    protocol: 'opcua',
    endpointUrl: `opc.tcp://10.0.4.12:4840/${id}`,
    securityMode: 'SignAndEncrypt',
    pkiDir: '/var/lib/iip/pki',
    identity: { type: 'username', username: 'operator', password: 'never-shown-pw-1' },
    devices: [{ id: device, points: [{ property: 'temperature', nodeId: `ns=1;s=${device}.temperature` }] }],
  };
}

function state(trusted: boolean) {
  return {
    ts: Date.now(),
    appliedVersion: 1,
    buffer: { points: 0, bytes: 0, oldestTs: null, dropped: 0 },
    uplink: { connected: true, sentPoints: 10, lastConnectedAt: t0 },
    channels: [
      {
        channel: 'filler',
        protocol: 'opcua',
        connected: trusted,
        devices: [],
        state: trusted ? 'running' : 'starting',
        error: trusted ? null : { code: 'IIP_ERR_OPCUA_STATUS', message: 'this client does not trust the certificate of opc.tcp://10.0.4.12:4840/filler (BadCertificateUntrusted)' },
        trust: trusted ? null : { kind: 'server-untrusted', certificate: SERVER_CERT, fix: SERVER_FIX, since: t0 - 3_600_000 },
        outages: [
          { start: t0 - 86_400_000, end: t0 - 86_400_000 + 125_000, code: 'IIP_ERR_DRIVER_CONNECT', message: 'connect ECONNREFUSED 10.0.4.12:4840' },
          { start: t0 - 3_600_000, end: trusted ? Date.now() : null, code: 'IIP_ERR_OPCUA_STATUS', message: 'BadCertificateUntrusted' },
        ],
      },
      {
        channel: 'press',
        protocol: 'opcua',
        connected: false,
        devices: [],
        state: 'starting',
        error: { code: 'IIP_ERR_OPCUA_STATUS', message: 'opc.tcp://10.0.4.12:4840/press rejected the secure channel (BadSecurityChecksFailed)' },
        trust: { kind: 'client-untrusted', certificate: CLIENT_CERT, fix: CLIENT_FIX, since: t0 - 600_000 },
        outages: [{ start: t0 - 600_000, end: null, code: 'IIP_ERR_OPCUA_STATUS', message: 'BadSecurityChecksFailed' }],
      },
    ],
    rules: { fired: 0 },
  };
}

function publish(topic: string, doc: unknown): Promise<void> {
  return new Promise((resolve, reject) => gateway!.publish(topic, JSON.stringify(doc), { qos: 1 }, (e) => (e ? reject(e) : resolve())));
}

before(async () => {
  ensureBuilt();
  platform = await startPlatform({ dataDir, httpPort: 0, mqttPort: 0, adminPassword: PASSWORD, consoleDir: DIST });
  const login = await call<{ token: string }>('POST', '/auth/login', { body: { username: 'admin', password: PASSWORD }, bearer: '' });
  assert.equal(login.status, 200);
  token = login.body.token;
  const product = await call('POST', '/products', {
    body: { id: 'filler', name: 'Filler', model: { properties: [{ id: 'temperature', access: 'r', dataType: { type: 'float', unit: '°C' } }], events: [], services: [] } },
  });
  assert.equal(product.status, 201);
  for (const id of ['filler-1', 'press-1']) assert.equal((await call('POST', '/devices', { body: { id, product: 'filler' } })).status, 201);
  const gw = await call<{ secret: string }>('POST', '/devices', { body: { id: GATEWAY, name: 'Line gateway', product: 'iip-edge-gateway' } });
  assert.equal(gw.status, 201);
  const put = await call('PUT', `/gateways/${GATEWAY}/config`, { body: { channels: [channelConfig('filler', 'filler-1'), channelConfig('press', 'press-1')] } });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  gateway = await mqtt.connectAsync(platform.mqttUrl, { username: `default/${GATEWAY}`, password: gw.body.secret, clientId: `default/${GATEWAY}`, reconnectPeriod: 0 });
  const prefix = `iip/default/${GATEWAY}/`;
  gateway.on('message', (topic, payload) => {
    if (!topic.startsWith(`${prefix}commands/`)) return;
    const id = topic.slice(`${prefix}commands/`.length);
    const body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    commands.push({ id, body });
    const reply = replies.shift() ?? { ok: true, certificate: SERVER_CERT };
    void (async () => {
      await publish(`${prefix}command-results/${id}`, reply);
      // What the gateway does after trusting: the channel connects and the state says so at once.
      if (reply.ok === true) await publish(`${prefix}state`, state(true));
    })();
  });
  await gateway.subscribeAsync(`${prefix}commands/+`, { qos: 1 });
  await publish(`${prefix}state`, state(false));
  browser = await launchBrowser();
});

after(async () => {
  await gateway?.endAsync().catch(() => undefined);
  await browser?.close();
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

test('the trust panel shows the rejected certificate and trusts it in one click (with confirmation); outages; client PEM; 中文', { timeout: 180_000 }, async () => {
  assert.ok(platform && browser, 'platform and browser started');
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);
  const filler = page.locator('[data-testid="gateway-channel"][data-channel="filler"]');
  const press = page.locator('[data-testid="gateway-channel"][data-channel="press"]');

  await withScreenshot(page, 'trust-login', async () => {
    await page.goto(platform!.httpUrl);
    await page.getByTestId('login-username').fill('admin');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-gateways').waitFor();
    await page.goto(`${platform!.httpUrl}/#/gateways/${GATEWAY}`);
  });

  await withScreenshot(page, 'trust-server-panel', async () => {
    const panel = filler.getByTestId('trust-panel');
    await panel.waitFor();
    assert.equal(await panel.getAttribute('data-kind'), 'server-untrusted');
    assert.equal(await filler.getByTestId('gateway-channel-state').getAttribute('data-state'), 'starting');
    assert.match((await filler.getByTestId('gateway-channel-state').textContent()) ?? '', /Starting/);
    assert.match((await filler.getByTestId('gateway-channel-error').textContent()) ?? '', /IIP_ERR_OPCUA_STATUS.*BadCertificateUntrusted/);
    assert.match((await panel.textContent()) ?? '', /does not trust this server’s certificate/);
    assert.equal(await panel.getByTestId('cert-subject').textContent(), SERVER_CERT.subject);
    assert.equal(await panel.getByTestId('cert-thumbprint').textContent(), SERVER_CERT.thumbprint.match(/../g)!.join(':'));
    assert.equal(await panel.getByTestId('cert-application-uri').textContent(), SERVER_CERT.applicationUri);
    assert.equal(await panel.getByTestId('cert-validity').getAttribute('data-validity'), 'valid');
    assert.match((await panel.getByTestId('cert-validity').textContent()) ?? '', /2025-01-01.*2035-01-01/);
    assert.equal(await panel.getByTestId('trust-fix').textContent(), SERVER_FIX);
  });

  await withScreenshot(page, 'trust-outages', async () => {
    const rows = filler.locator('[data-testid="outage-row"]');
    assert.equal(await rows.count(), 2);
    // Newest first: the ongoing outage (1 h so far), then yesterday's of 2 min 5 s.
    assert.equal(await rows.nth(0).getAttribute('data-ongoing'), 'true');
    assert.match((await rows.nth(0).textContent()) ?? '', /ongoing.*IIP_ERR_OPCUA_STATUS/);
    assert.match((await rows.nth(0).getByTestId('outage-duration').textContent()) ?? '', /^1 h( \d+ min)?$/);
    assert.equal(await rows.nth(1).getAttribute('data-ongoing'), 'false');
    assert.equal(await rows.nth(1).getByTestId('outage-duration').textContent(), '2 min 5 s');
    assert.match((await rows.nth(1).textContent()) ?? '', /IIP_ERR_DRIVER_CONNECT.*ECONNREFUSED/);
  });

  await withScreenshot(page, 'trust-client-panel', async () => {
    const panel = press.getByTestId('trust-panel');
    assert.equal(await panel.getAttribute('data-kind'), 'client-untrusted');
    assert.match((await panel.textContent()) ?? '', /server does not trust this gateway’s certificate/);
    assert.equal(await panel.getByTestId('cert-subject').textContent(), CLIENT_CERT.subject);
    assert.equal(await panel.getByTestId('trust-fix').textContent(), CLIENT_FIX);
    assert.equal(await panel.getByTestId('client-pem').inputValue(), CLIENT_CERT.pem);
    assert.equal(await panel.getByTestId('trust-button').count(), 0, 'nothing to trust on our side');
    const download = page.waitForEvent('download');
    await panel.getByTestId('pem-download').click();
    const file = await download;
    assert.equal(file.suggestedFilename(), 'iip-client-ffeeddcc.pem');
    assert.equal(readFileSync((await file.path())!, 'utf8'), CLIENT_CERT.pem);
  });

  await withScreenshot(page, 'trust-refused', async () => {
    // The gateway refuses the first request (its state moved on to another certificate, say): the code is shown.
    replies.push({ ok: false, error: { code: 'IIP_ERR_OPCUA_TRUST_MISMATCH', message: 'thumbprint is not the rejected certificate’s', details: {} } });
    const panel = filler.getByTestId('trust-panel');
    await panel.getByTestId('trust-button').click();
    assert.match((await panel.getByTestId('trust-confirm').textContent()) ?? '', /A1:B2:C3.*filler/);
    await panel.getByTestId('trust-confirm-cancel').click();
    assert.equal(commands.length, 0, 'cancel sends nothing');
    await panel.getByTestId('trust-button').click();
    await panel.getByTestId('trust-confirm-yes').click();
    const result = panel.getByTestId('trust-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-result'), 'error');
    assert.equal(await result.getAttribute('data-code'), 'IIP_ERR_OPCUA_TRUST_MISMATCH');
    assert.match((await result.textContent()) ?? '', /IIP_ERR_COMMAND_FAILED.*IIP_ERR_OPCUA_TRUST_MISMATCH/);
    assert.equal(commands.length, 1);
  });

  await withScreenshot(page, 'trust-done', async () => {
    const panel = filler.getByTestId('trust-panel');
    await panel.getByTestId('trust-button').click();
    await panel.getByTestId('trust-confirm-yes').click();
    const result = filler.getByTestId('trust-result');
    await page.waitForFunction(() => document.querySelector('[data-channel="filler"] [data-testid="trust-result"]')?.getAttribute('data-result') === 'ok');
    assert.match((await result.textContent()) ?? '', new RegExp(`Trusted: ${SERVER_CERT.subject}`));
    assert.deepEqual(
      commands.map((c) => [c.body.type, c.body.channel, c.body.thumbprint]),
      [
        ['trust-server-certificate', 'filler', SERVER_CERT.thumbprint],
        ['trust-server-certificate', 'filler', SERVER_CERT.thumbprint],
      ],
      'the gateway got exactly the thumbprint shown',
    );
    // The page reloads the state: the problem is gone, the channel runs, the outage is closed; the result stays.
    await page.waitForFunction(() => document.querySelector('[data-channel="filler"] [data-testid="gateway-channel-state"]')?.getAttribute('data-state') === 'running');
    assert.equal(await filler.getByTestId('trust-panel').count(), 0);
    assert.equal(await filler.getByTestId('trust-result').getAttribute('data-result'), 'ok');
    assert.equal(await filler.locator('[data-testid="outage-row"][data-ongoing="true"]').count(), 0);
    const audit = await call<{ items: Array<{ action: string; result: string; newValue: unknown }> }>('GET', `/audit?device=${GATEWAY}`);
    assert.deepEqual(
      audit.body.items.filter((e) => e.action === 'gateway.trust-certificate').map((e) => [e.result, e.newValue]),
      [
        ['ok', { thumbprint: SERVER_CERT.thumbprint, subject: SERVER_CERT.subject }],
        ['error', { thumbprint: SERVER_CERT.thumbprint, subject: SERVER_CERT.subject }],
      ],
    );
  });

  await withScreenshot(page, 'trust-zh', async () => {
    await publish(`iip/default/${GATEWAY}/state`, state(false));
    await page.getByTestId('lang-switch').click();
    const button = filler.getByTestId('trust-button');
    await button.waitFor({ timeout: 15_000 });
    assert.equal(await button.textContent(), '信任此服务器证书');
    assert.match((await press.getByTestId('trust-panel').textContent()) ?? '', /服务器不信任本网关的证书/);
    assert.match((await filler.getByTestId('outage-history').textContent()) ?? '', /中断记录.*仍在中断/);
    assert.ok(!(await page.content()).includes('never-shown-pw-1'), 'the identity password is nowhere on the page');
  });
});
