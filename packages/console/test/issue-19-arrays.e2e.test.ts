/**
 * End-to-end (issue 19, point 3): array properties on the device page, against a real platform in Debian's
 * chromium (playwright-core). A fan reports a vibration waveform (floats with a unit), a 2×3 matrix (rw) and a
 * speed over HTTP ingest, as a device does; the page must show each array compactly ("[5] 1.2, 3.4, 5.6 …",
 * "[2×3] …") with the whole list in its tooltip and the unit in the unit column, update it live, offer no trend
 * for arrays (a note says so; the trend shows the speed) and no write input for the rw matrix (a note instead),
 * in English and in Chinese.
 *
 * Run: node --import tsx --test packages/console/test/issue-19-arrays.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPlatform } from '@iip/server';
import type { Locator } from 'playwright-core';
import { apiCaller } from './e2e-api.ts';
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from './e2e-browser.ts';

const PASSWORD = 'harbour-lamp-kettle-19';
const FAN = {
  id: 'fan',
  name: 'Fan',
  model: {
    properties: [
      { id: 'waveform', name: 'Vibration', access: 'r', dataType: { type: 'array', items: { type: 'float', unit: 'mm/s' }, maxItems: 4096 } },
      { id: 'gains', access: 'rw', dataType: { type: 'array', items: { type: 'int' }, dimensions: [2, 3] } },
      { id: 'speed', access: 'r', dataType: { type: 'float', unit: 'rpm' } },
    ],
    events: [],
    services: [],
  },
};

let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'iip-console-arrays-e2e-data-'));
let token = '';
let secret = '';
const call = apiCaller(() => platform!.httpUrl, () => token);

async function ingest(body: unknown): Promise<number> {
  const res = await fetch(`${platform!.httpUrl}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/fan-1:${secret}`).toString('base64')}` },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

before(async () => {
  ensureBuilt();
  platform = await startPlatform({ dataDir, httpPort: 0, mqttPort: 0, adminPassword: PASSWORD, consoleDir: DIST });
  const login = await call<{ token: string }>('POST', '/auth/login', { body: { username: 'admin', password: PASSWORD }, bearer: '' });
  assert.equal(login.status, 200);
  token = login.body.token;
  assert.equal((await call('POST', '/products', { body: FAN })).status, 201);
  const dev = await call<{ secret: string }>('POST', '/devices', { body: { id: 'fan-1', name: 'Fan 1', product: 'fan' } });
  assert.equal(dev.status, 201);
  secret = dev.body.secret;
  assert.equal(await ingest({ ts: Date.now() - 60_000, values: { waveform: [1.2, 3.4, 5.6, 7.8, 9.1], gains: [1, 2, 3, 4, 5, 6], speed: 1480 } }), 202);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

const text = async (l: Locator) => (await l.textContent())?.replace(/\s+/g, ' ').trim();

test('array properties on the device page: compact value, full tooltip, unit, live update, no trend, no write input, 中文', { timeout: 180_000 }, async () => {
  assert.ok(platform && browser, 'platform and browser started');
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);
  const row = (id: string) => page.locator(`[data-testid="property-row"][data-property="${id}"]`);
  const value = (id: string) => row(id).getByTestId('live-value');

  await withScreenshot(page, 'arrays-open', async () => {
    await page.goto(platform!.httpUrl);
    await page.getByTestId('login-username').fill('admin');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('device-row').first().waitFor();
    await page.goto(`${platform!.httpUrl}/#/devices/fan-1`);
    await page.waitForFunction(() => document.querySelector('[data-property="waveform"] [data-testid="live-value"]')?.textContent?.startsWith('[5]'));
  });

  await withScreenshot(page, 'arrays-values', async () => {
    assert.equal(await text(value('waveform')), '[5] 1.2, 3.4, 5.6 …');
    assert.equal(await value('waveform').getAttribute('title'), 'Vibration\n1.2, 3.4, 5.6, 7.8, 9.1');
    assert.equal(await text(row('waveform').locator('td').nth(2)), 'mm/s', 'the items’ unit in the unit column');
    assert.equal(await text(value('gains')), '[2×3] 1, 2, 3 …');
    assert.equal(await value('gains').getAttribute('title'), 'gains\n1, 2, 3\n4, 5, 6');
    assert.equal(await text(value('speed')), '1480 rpm');
  });

  await withScreenshot(page, 'arrays-no-trend-no-write', async () => {
    // The trend shows the only trendable property; array rows are not clickable and a note says why.
    assert.match((await text(page.locator('.trend-panel h3'))) ?? '', /speed/);
    assert.doesNotMatch((await row('waveform').getAttribute('class')) ?? '', /clickable/);
    assert.match((await text(page.getByTestId('array-no-trend'))) ?? '', /^Array values \(waveforms, matrices\) have no trend/);
    // The rw matrix has a note in its write cell, and no input or button.
    const cell = row('gains');
    assert.equal(await cell.getByTestId('write-submit').count(), 0);
    assert.equal(await cell.locator('input, select').count(), 0);
    assert.equal(await text(cell.locator('[data-array-note]')), 'Arrays are not written from the console; use the API.');
  });

  await withScreenshot(page, 'arrays-live', async () => {
    await page.evaluate(() => {
      (window as unknown as { arraysMark: number }).arraysMark = 1;
    });
    assert.equal(await ingest({ waveform: [0.1, 0.4, -0.2] }), 202);
    await page.waitForFunction(() => document.querySelector('[data-property="waveform"] [data-testid="live-value"]')?.textContent === '[3] 0.1, 0.4, -0.2');
    assert.equal(await page.evaluate(() => (window as unknown as { arraysMark?: number }).arraysMark), 1, 'updated live, without a reload');
  });

  await withScreenshot(page, 'arrays-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="array-no-trend"]')?.textContent?.startsWith('数组值'));
    assert.equal(await text(row('gains').locator('[data-array-note]')), '控制台不写入数组，请使用 API。');
    assert.equal(await text(value('waveform')), '[3] 0.1, 0.4, -0.2');
  });
});
