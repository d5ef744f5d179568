/**
 * End-to-end: the built console against a real platform (embedded storage, MQTT broker and virtual
 * factory) in Debian's chromium driven by playwright-core. Nothing is mocked: the values that must change
 * on screen come from simulated devices over MQTT → historian → WebSocket.
 *
 * Run: node --import tsx --test packages/console/test/console.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPlatform } from '@iip/server';
import type { BrowserContext, Page } from 'playwright-core';
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from './e2e-browser.ts';

const ADMIN_PASSWORD = 'e2e-Console-Pass-42';

let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
let context: BrowserContext | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'iip-console-e2e-data-'));

before(async () => {
  ensureBuilt();
  platform = await startPlatform({
    dataDir,
    httpPort: 0,
    mqttPort: 0,
    adminPassword: ADMIN_PASSWORD,
    consoleDir: DIST,
    simulate: { devices: 4, intervalMs: 500 },
  });
  browser = await launchBrowser();
  context = browser.context;
});

after(async () => {
  await browser?.close();
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Counts canvas pixels close to a colour; proves the chart drew a series, not only axes. */
function countColour(page: Page, rgb: readonly [number, number, number]): Promise<number> {
  return page.evaluate((c) => {
    let n = 0;
    for (const canvas of document.querySelectorAll<HTMLCanvasElement>('[data-testid="trend-chart"] canvas')) {
      const ctx = canvas.getContext('2d');
      if (!ctx || canvas.width === 0) continue;
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3]! > 200 && Math.abs(d[i]! - c[0]) < 40 && Math.abs(d[i + 1]! - c[1]) < 40 && Math.abs(d[i + 2]! - c[2]) < 40) n++;
      }
    }
    return n;
  }, rgb);
}

test('console: sign in, live list, language switch, device trend', { timeout: 180_000 }, async () => {
  assert.ok(platform && context, 'platform and browser started');
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'login', async () => {
    await page.goto(platform!.httpUrl);
    await page.getByTestId('login-username').fill('admin');
    await page.getByTestId('login-password').fill('wrong-password');
    await page.getByTestId('login-submit').click();
    await page.getByText('IIP_ERR_AUTH_LOGIN_FAILED').waitFor();

    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('device-row').first().waitFor();
    assert.ok((await page.getByTestId('device-row').count()) >= 1, 'device rows appear');
    assert.ok(await page.evaluate(() => sessionStorage.getItem('iip.session') !== null), 'token kept in sessionStorage');
  });

  await withScreenshot(page, 'live', async () => {
    await page.waitForFunction(() => /online/i.test(document.querySelector('[data-testid="conn-status"]')?.textContent ?? ''));
    const first = page.getByTestId('live-value').first();
    const device = await first.getAttribute('data-device-id');
    const property = await first.getAttribute('data-property');
    assert.ok(device && property, 'live-value carries data-device-id and data-property');
    const selector = `[data-testid="live-value"][data-device-id="${device}"][data-property="${property}"]`;
    await page.waitForFunction((s) => (document.querySelector(s)?.textContent ?? '—') !== '—', selector);
    const before = await page.locator(selector).first().textContent();
    // The simulator reports every 500 ms; a noisy signal changes its formatted text within a few seconds.
    await page.waitForFunction(([s, b]) => document.querySelector(s!)?.textContent !== b, [selector, before] as const, { timeout: 30_000 });
  });

  await withScreenshot(page, 'language', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('设备列表').waitFor();
    await page.waitForFunction(() => /在线/.test(document.querySelector('[data-testid="conn-status"]')?.textContent ?? ''));
    assert.equal(await page.evaluate(() => localStorage.getItem('iip.lang')), 'zh', 'language choice persisted');
  });

  await withScreenshot(page, 'trend', async () => {
    await page.getByTestId('device-row').first().click();
    const chart = page.getByTestId('trend-chart');
    await chart.locator('canvas').first().waitFor();
    const box = await chart.boundingBox();
    assert.ok(box && box.width > 200 && box.height > 200, `chart has a size (${JSON.stringify(box)})`);
    // Average line (#1f6feb) from the trend API, or live points (#d9480f) appended from the WebSocket.
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="trend-chart"] canvas').length > 0,
    );
    let drawn = 0;
    for (let i = 0; i < 60 && drawn < 30; i++) {
      drawn = (await countColour(page, [0x1f, 0x6f, 0xeb])) + (await countColour(page, [0xd9, 0x48, 0x0f]));
      if (drawn < 30) await page.waitForTimeout(500);
    }
    assert.ok(drawn >= 30, `trend chart drew a series (${drawn} series-coloured pixels)`);
    await page.getByText('趋势').first().waitFor();
  });
});
