/**
 * End-to-end: the Gateways pages and property writes against a real platform, with a real mqtt.js client
 * playing the edge gateway (its device credentials, its topics). The gateway reports its state, answers
 * write commands, and the browser (Debian's chromium via playwright-core) must show what it said.
 *
 * Run: node --import tsx --test packages/console/test/gateways.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPlatform } from '@iip/server';
import mqtt, { type MqttClient } from 'mqtt';
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from './e2e-browser.ts';

const ADMIN_PASSWORD = 'e2e-Gateways-Pass-42';
const GATEWAY = 'gw-1';
const CHILD = 'press-1';
const PRODUCT = 'e2e-press';
/** The fake gateway refuses this set point, as a real one would pass on a Modbus exception. */
const REFUSED_SETPOINT = 99;

let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
let gateway: MqttClient | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'iip-console-gw-e2e-data-'));
const commands: Array<{ id: string; body: Record<string, unknown> }> = [];
let token = '';

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${platform!.httpUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

function publish(client: MqttClient, topic: string, doc: unknown): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, JSON.stringify(doc), { qos: 1 }, (e) => (e ? reject(e) : resolve())));
}

before(async () => {
  ensureBuilt();
  platform = await startPlatform({ dataDir, httpPort: 0, mqttPort: 0, adminPassword: ADMIN_PASSWORD, consoleDir: DIST });
  const login = await fetch(`${platform.httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  token = ((await login.json()) as { token: string }).token;

  await api('POST', '/products', {
    id: PRODUCT,
    name: 'E2E press',
    category: 'press',
    model: {
      properties: [
        { id: 'pressure', name: 'Pressure', access: 'r', dataType: { type: 'float', unit: 'bar' } },
        { id: 'setpoint', name: 'Set point', access: 'rw', dataType: { type: 'float', min: 0, max: 100, unit: 'bar' } },
      ],
      events: [],
      services: [
        { id: 'hold', name: 'Hold pressure', inputs: [{ id: 'target', name: 'Target', required: true, dataType: { type: 'float', min: 0, max: 100 } }], outputs: [] },
        { id: 'purge', name: 'Purge', inputs: [], outputs: [] },
      ],
    },
  });
  await api('POST', '/devices', { id: CHILD, name: 'Press 1', product: PRODUCT });
  const { secret } = await api<{ secret: string }>('POST', '/devices', { id: GATEWAY, name: 'Line gateway', product: 'iip-edge-gateway' });
  await api('PUT', `/gateways/${GATEWAY}/config`, {
    channels: [
      {
        id: 'line-1',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: 5020,
        devices: [{ id: CHILD, unitId: 1, pollIntervalMs: 1000, points: [{ property: 'setpoint', area: 'holding', address: 0, type: 'float32' }] }],
      },
    ],
    // `hold` is bound to a point write; `purge` is in the model but not bound here.
    services: [{ device: CHILD, service: 'hold', writes: [{ property: 'setpoint', input: 'target' }] }],
  });

  const client = await mqtt.connectAsync(platform.mqttUrl, {
    username: `default/${GATEWAY}`,
    password: secret,
    clientId: `e2e-${GATEWAY}`,
    reconnectPeriod: 0,
  });
  gateway = client;
  const prefix = `iip/default/${GATEWAY}/`;
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(`${prefix}commands/`)) return;
    const id = topic.slice(`${prefix}commands/`.length);
    const body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    commands.push({ id, body });
    const answer =
      body.value === REFUSED_SETPOINT
        ? { ok: false, error: { code: 'IIP_ERR_MODBUS_EXCEPTION', message: 'illegal data value (exception 3)' } }
        : { ok: true };
    void publish(client, `${prefix}command-results/${id}`, answer);
  });
  await client.subscribeAsync(`${prefix}commands/+`, { qos: 1 });
  await publish(client, `${prefix}state`, {
    ts: Date.now(),
    appliedVersion: 1,
    buffer: { points: 250, bytes: 16_384, oldestTs: Date.now() - 30_000, dropped: 0 },
    uplink: { connected: true, sentPoints: 1234, lastConnectedAt: Date.now() - 60_000 },
    channels: [
      {
        channel: 'line-1',
        protocol: 'modbus-tcp',
        connected: true,
        devices: [
          {
            device: CHILD,
            state: 'ok',
            lastLatencyMs: 37,
            polls: 812,
            errors: 3,
            consecutiveFailures: 0,
            lastError: { code: 'IIP_ERR_MODBUS_TIMEOUT', message: 'unit 1 did not answer within 1000 ms', ts: Date.now() - 120_000 },
          },
        ],
      },
    ],
    rules: { fired: 0 },
  });
  // Give the child a current value, sent the way a gateway forwards its devices' readings.
  await publish(client, `${prefix}devices/${CHILD}/telemetry`, { values: { pressure: 6.2, setpoint: 40 } });

  browser = await launchBrowser();
});

after(async () => {
  await gateway?.endAsync().catch(() => undefined);
  await browser?.close();
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

test('gateways: list and detail show what the gateway reported; a write goes through it and is audited', { timeout: 180_000 }, async () => {
  assert.ok(platform && browser, 'platform and browser started');
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'gw-login', async () => {
    await page.goto(platform!.httpUrl);
    await page.getByTestId('login-username').fill('admin');
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-gateways').waitFor();
  });

  await withScreenshot(page, 'gw-list', async () => {
    await page.getByTestId('nav-gateways').click();
    const row = page.locator(`[data-testid="gateway-row"][data-gateway-id="${GATEWAY}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId('gateway-online').getAttribute('data-online'), 'true', 'gateway online');
    const sync = row.getByTestId('gateway-sync');
    assert.equal(await sync.getAttribute('data-sync'), 'inSync');
    assert.match((await sync.textContent()) ?? '', /in sync/i);
    const buffer = row.getByTestId('gateway-buffer');
    await page.waitForFunction(
      (gw) => document.querySelector(`[data-gateway-id="${gw}"] [data-testid="gateway-buffer"]`)?.getAttribute('data-points') === '250',
      GATEWAY,
    );
    assert.match((await buffer.textContent()) ?? '', /250 points.*oldest \d+ s ago/);
  });

  await withScreenshot(page, 'gw-detail', async () => {
    await page.locator(`[data-testid="gateway-row"][data-gateway-id="${GATEWAY}"]`).click();
    const health = page.locator(`[data-testid="gateway-device-health"][data-device-id="${CHILD}"]`);
    await health.waitFor();
    assert.equal(await health.getAttribute('data-state'), 'ok');
    assert.equal((await health.getByTestId('gateway-device-latency').textContent())?.trim(), '37');
    const text = (await health.textContent()) ?? '';
    assert.match(text, /812/, 'polls');
    assert.match(text, /IIP_ERR_MODBUS_TIMEOUT/, 'last error code');
    assert.match(text, /did not answer within 1000 ms/, 'last error message');
    assert.match((await page.getByTestId('gateway-buffer').textContent()) ?? '', /250 points · 16 KiB/);
    assert.equal(await page.getByTestId('gateway-channel').getAttribute('data-connected'), 'true');
  });

  await withScreenshot(page, 'gw-detail-refresh', async () => {
    // A new report must appear without a reload: the page polls every 5 s.
    await publish(gateway!, `iip/default/${GATEWAY}/state`, {
      appliedVersion: 1,
      buffer: { points: 0, bytes: 0, oldestTs: null, dropped: 0 },
      channels: [{ channel: 'line-1', protocol: 'modbus-tcp', connected: false, devices: [{ device: CHILD, state: 'failing', lastLatencyMs: null, polls: 813, errors: 4, consecutiveFailures: 1, lastError: { code: 'IIP_ERR_MODBUS_CONNECT', message: 'ECONNREFUSED', ts: Date.now() } }] }],
    });
    await page.waitForFunction(
      (d) => document.querySelector(`[data-testid="gateway-device-health"][data-device-id="${d}"]`)?.getAttribute('data-state') === 'failing',
      CHILD,
      { timeout: 15_000 },
    );
    assert.match((await page.locator(`[data-testid="gateway-device-health"][data-device-id="${CHILD}"]`).textContent()) ?? '', /IIP_ERR_MODBUS_CONNECT/);
  });

  await withScreenshot(page, 'gw-write', async () => {
    await page.locator(`[data-testid="gateway-device-health"][data-device-id="${CHILD}"] a`).click();
    const input = page.locator('[data-testid="write-input"][data-property="setpoint"]');
    await input.waitFor();
    assert.equal(await page.locator('[data-testid="write-input"][data-property="pressure"]').count(), 0, 'read-only property has no write control');

    // Out of the model's range: refused in the browser, nothing sent.
    await input.fill('150');
    await page.locator('[data-testid="write-submit"][data-property="setpoint"]').click();
    const result = page.locator('[data-testid="write-result"][data-property="setpoint"]');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-result'), 'invalid');
    assert.match((await result.textContent()) ?? '', /at most 100/);
    assert.equal(commands.length, 0, 'an invalid value is not sent');

    await input.fill('42.5');
    await page.locator('[data-testid="write-submit"][data-property="setpoint"]').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="write-result"][data-property="setpoint"]')?.getAttribute('data-result') === 'ok',
    );
    assert.match((await result.textContent()) ?? '', /40 bar → 42\.5 bar/);
    assert.deepEqual(commands.at(-1)?.body, { type: 'write', device: CHILD, property: 'setpoint', value: 42.5, expiresAt: commands.at(-1)?.body.expiresAt });

    const audit = page.getByTestId('audit-row').first();
    await page.waitForFunction(() => document.querySelector('[data-testid="audit-row"]')?.getAttribute('data-result') === 'ok');
    assert.match((await audit.textContent()) ?? '', /admin.*Set point.*40 bar → 42\.5 bar/);

    // The gateway refuses: the platform's error code is shown, and the failed attempt is audited too.
    await input.fill(String(REFUSED_SETPOINT));
    await page.locator('[data-testid="write-submit"][data-property="setpoint"]').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="write-result"][data-property="setpoint"]')?.getAttribute('data-result') === 'error',
    );
    assert.equal(await result.getAttribute('data-code'), 'IIP_ERR_COMMAND_FAILED');
    assert.match((await result.textContent()) ?? '', /IIP_ERR_MODBUS_EXCEPTION: illegal data value/, "the gateway's reason is shown");
    await page.waitForFunction(() => document.querySelector('[data-testid="audit-row"]')?.getAttribute('data-result') === 'error');
    assert.match((await page.getByTestId('audit-row').first().textContent()) ?? '', /IIP_ERR_MODBUS_EXCEPTION/, "the audit keeps the gateway's code");
    assert.equal(await page.getByTestId('audit-row').count(), 2);
  });

  await withScreenshot(page, 'gw-service', async () => {
    await page.getByTestId('services-panel').waitFor();
    const target = page.locator('[data-testid="service-input"][data-service="hold"][data-input="target"]');
    const result = page.locator('[data-testid="service-result"][data-service="hold"]');
    const sent = commands.length;
    await target.fill('150');
    await page.locator('[data-testid="service-submit"][data-service="hold"]').click();
    await result.waitFor();
    assert.equal(await result.getAttribute('data-result'), 'invalid');
    assert.match((await result.textContent()) ?? '', /Target: Must be at most 100/);
    assert.equal(commands.length, sent, 'an invalid input is not sent');

    await target.fill('55');
    await page.locator('[data-testid="service-submit"][data-service="hold"]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="service-result"][data-service="hold"]')?.getAttribute('data-result') === 'ok');
    assert.match((await result.textContent()) ?? '', /setpoint ← 55/);
    assert.deepEqual(commands.at(-1)?.body, { type: 'writes', device: CHILD, service: 'hold', writes: [{ property: 'setpoint', value: 55 }], expiresAt: commands.at(-1)?.body.expiresAt });

    // In the model, not bound by the gateway's configuration: the console says so and offers no button.
    const purge = page.locator('[data-testid="service-unavailable"][data-service="purge"]');
    assert.equal(await purge.getAttribute('data-state'), 'not-bound');
    assert.match((await purge.textContent()) ?? '', /Not bound by the gateway configuration/);
    assert.equal(await page.locator('[data-testid="service-submit"][data-service="purge"]').isDisabled(), true);
    assert.equal(await page.locator('[data-testid="service-unavailable"][data-service="hold"]').count(), 0);
    assert.equal(commands.length, sent + 1);
    await page.waitForFunction(() => document.querySelector('[data-testid="audit-row"]')?.getAttribute('data-property') === 'hold');
    assert.match((await page.getByTestId('audit-row').first().textContent()) ?? '', /Service.*hold/);
  });

  await withScreenshot(page, 'gw-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('审计日志').waitFor();
    await page.getByTestId('nav-gateways').click();
    await page.locator(`[data-testid="gateway-row"][data-gateway-id="${GATEWAY}"]`).waitFor();
    await page.getByText('边缘网关').first().waitFor();
    assert.match((await page.getByTestId('gateway-sync').first().textContent()) ?? '', /已同步/);
  });
});
