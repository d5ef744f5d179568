/**
 * End-to-end: the Usage & retention page (用量与保留) against a real platform in Debian's chromium (playwright-core).
 * The admin sees usage against the quotas, edits the policy (a bad number is refused in the form, a policy the
 * platform refuses shows its code), and the platform enforces what was saved; a viewer sees the page read-only;
 * the page is in Chinese too.
 *
 * Run: node --import tsx --test packages/console/test/usage.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPlatform } from '@iip/server';
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from './e2e-browser.ts';

const ADMIN_PASSWORD = 'e2e-Usage-Pass-42';
const VIEWER_PASSWORD = 'e2e-Viewer-Pass-42';

let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'iip-console-usage-e2e-data-'));
let token = '';

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${platform!.httpUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
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
  await api('POST', '/products', { id: 'meter', name: 'Meter', model: { properties: [{ id: 'kw', access: 'r', dataType: { type: 'float' } }], events: [], services: [] } });
  for (const id of ['m1', 'm2']) assert.equal((await api('POST', '/devices', { id, product: 'meter' })).status, 201);
  assert.equal((await api('POST', '/users', { username: 'watcher', password: VIEWER_PASSWORD, grants: [{ role: 'viewer' }] })).status, 201);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(page: import('playwright-core').Page, username: string, password: string): Promise<void> {
  await page.goto(platform!.httpUrl);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-usage').waitFor();
}

test('usage & retention: an admin sees usage against quotas and changes the policy; the platform enforces it', { timeout: 180_000 }, async () => {
  assert.ok(platform && browser, 'platform and browser started');
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'usage-login', () => signIn(page, 'admin', ADMIN_PASSWORD));

  await withScreenshot(page, 'usage-view', async () => {
    await page.getByTestId('nav-usage').click();
    const devices = page.getByTestId('usage-devices');
    await devices.waitFor();
    assert.equal((await devices.getByTestId('used').textContent())?.trim(), '2');
    assert.equal((await devices.getByTestId('limit').textContent())?.trim(), 'Unlimited');
    assert.equal((await page.getByTestId('retention-raw').textContent())?.trim(), 'Kept for ever');
    assert.equal((await page.getByTestId('retention-last-run').textContent())?.trim(), 'No run yet');
  });

  await withScreenshot(page, 'usage-bad-number', async () => {
    await page.getByTestId('policy-devices').fill('-2');
    await page.getByTestId('policy-save').click();
    assert.match((await page.getByTestId('policy-message').textContent()) ?? '', /Devices: enter a number/);
    const r = await api<{ quotas: { devices: number | null } }>('GET', '/tenant/policy');
    assert.equal(r.body.quotas.devices, null, 'nothing was sent');
  });

  await withScreenshot(page, 'usage-save', async () => {
    await page.getByTestId('policy-devices').fill('2');
    await page.getByTestId('policy-rawDays').fill('30');
    await page.getByTestId('policy-60000').fill('365');
    await page.getByTestId('policy-save').click();
    await page.getByText('Policy saved.').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="usage-devices"] [data-testid="limit"]')?.textContent?.trim() === '2');
    assert.equal((await page.getByTestId('retention-raw').textContent())?.trim(), '30 days');
    assert.equal((await page.getByTestId('retention-60000').textContent())?.trim(), '365 days');
    assert.equal((await page.getByTestId('retention-3600000').textContent())?.trim(), 'Kept for ever');
    const r = await api<unknown>('GET', '/tenant/policy');
    // The form owns every field of the policy, the audit retention and the sign-in rule included (left as they were).
    assert.deepEqual(r.body, {
      retention: { rawDays: 30, rollups: { '60000': 365 }, auditDays: null, eventDays: null },
      quotas: { devices: 2, pointsPerDay: null, storedBytes: null },
      security: { totpRequiredForAdmins: false },
    });
    // What the page saved is enforced: a third device is refused with the quota's code.
    const third = await api<{ code: string }>('POST', '/devices', { id: 'm3', product: 'meter' });
    assert.equal(third.status, 403);
    assert.equal(third.body.code, 'IIP_ERR_QUOTA_DEVICES');
  });

  await withScreenshot(page, 'usage-refused', async () => {
    // Days must be above 0: the form lets 0 through, the platform refuses it and the page shows its code.
    await page.getByTestId('policy-rawDays').fill('0');
    await page.getByTestId('policy-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="policy-message"]')?.textContent?.includes('IIP_ERR_VALIDATION'));
    const r = await api<{ retention: { rawDays: number | null } }>('GET', '/tenant/policy');
    assert.equal(r.body.retention.rawDays, 30, 'the refused policy changed nothing');
  });

  await withScreenshot(page, 'usage-retention-run', async () => {
    await platform!.tenants.retention.runOnce();
    await page.reload();
    await page.getByTestId('retention-last-run').waitFor();
    await page.waitForFunction(() => /raw points and \d+ rollup cells deleted/.test(document.querySelector('[data-testid="retention-last-run"]')?.textContent ?? ''));
  });

  await withScreenshot(page, 'usage-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('用量与数据保留').waitFor();
    assert.equal((await page.getByTestId('retention-raw').textContent())?.trim(), '30 天');
    assert.equal((await page.getByTestId('usage-pointsToday').getByTestId('limit').textContent())?.trim(), '不限');
    await page.getByTestId('lang-switch').click();
  });
});

test('usage & retention: a viewer sees the page without the form', { timeout: 120_000 }, async () => {
  assert.ok(platform && browser);
  const context = browser.context;
  await context.clearCookies();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(platform.httpUrl);
  await page.evaluate(() => localStorage.clear());
  await withScreenshot(page, 'usage-viewer', async () => {
    await signIn(page, 'watcher', VIEWER_PASSWORD);
    await page.getByTestId('nav-usage').click();
    await page.getByTestId('usage-devices').waitFor();
    await page.getByText('Only an administrator can change the policy.').waitFor();
    assert.equal(await page.getByTestId('policy-form').count(), 0);
  });
  await page.close();
});
