/**
 * End-to-end, issue 12: sign-in security in the console against a real platform in Debian's chromium
 * (playwright-core). An administrator turns the second factor on from the Account page (the test computes the
 * codes itself, RFC 6238 with node:crypto, from the key the page shows), signs out, and is asked for a code at the
 * next sign-in; creates a service account and an API token for it on the Users page, reads the token once, uses it
 * against /api/v1/devices and sees it refused after revoking it. A tenant whose policy (set on the Usage page)
 * requires a second factor of administrators sends its administrator to the enrollment page first; the platform
 * administrator then resets that second factor. English and 中文 are checked on the Account and enrollment pages,
 * and an OIDC refusal in the address shows its code on the sign-in page.
 *
 * Run: node --import tsx --test packages/console/test/issue-12-security.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPlatform } from '@iip/server';
import type { Page } from 'playwright-core';
import { apiCaller } from './e2e-api.ts';
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from './e2e-browser.ts';
import { authenticator } from '@iip/testkit';

const PASSWORD = 'harbour-lamp-kettle-7';

let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'iip-console-security-e2e-data-'));
let token = '';
/** The platform administrator's authenticator, once the second factor is on (later sign-ins need it). */
let adminAuth: ReturnType<typeof authenticator> | undefined;
let adminPage: Page | undefined;

const call = apiCaller(() => platform!.httpUrl, () => token);

interface UserItem {
  id: string;
  username: string;
  kind: 'person' | 'service';
  totpEnabled: boolean;
  grants: Array<{ role: string; asset: string | null }>;
}
const findUser = async (username: string, tenant?: string) =>
  (await call<{ items: UserItem[] }>('GET', '/users', tenant ? { tenant } : {})).body.items.find((u) => u.username === username);

before(async () => {
  ensureBuilt();
  platform = await startPlatform({ dataDir, httpPort: 0, mqttPort: 0, adminPassword: PASSWORD, consoleDir: DIST });
  const r = await call<{ token: string }>('POST', '/auth/login', { body: { username: 'admin', password: PASSWORD }, bearer: '' });
  assert.equal(r.status, 200);
  token = r.body.token;
  const tenant = await call('POST', '/tenants', { body: { id: 'acme', name: 'Acme', admin: { username: 'acme-admin', password: PASSWORD } } });
  assert.equal(tenant.status, 201);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

/** A fresh tab (sessionStorage is per tab), in English, on the sign-in form. */
async function openLogin(): Promise<Page> {
  const page = await browser!.context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(platform!.httpUrl);
  await page.evaluate(() => localStorage.setItem('iip.lang', 'en'));
  await page.reload();
  return page;
}

async function typePassword(page: Page, username: string): Promise<void> {
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
}

/** The key the page shows, grouped in fours, back to what an authenticator app is given. */
async function shownSecret(page: Page): Promise<string> {
  const grouped = (await page.getByTestId('totp-secret').textContent()) ?? '';
  assert.match(grouped, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, 'base32 in groups of four');
  const url = new URL((await page.getByTestId('totp-url').textContent()) ?? '');
  assert.equal(url.protocol, 'otpauth:');
  assert.equal(url.searchParams.get('secret'), grouped.replaceAll(' ', ''), 'the link carries the key shown');
  return grouped.replaceAll(' ', '');
}

test('account: an administrator turns the second factor on, and the next sign-in asks for the code', { timeout: 180_000 }, async () => {
  const page = await openLogin();
  adminPage = page;
  await withScreenshot(page, 'security-account', async () => {
    await typePassword(page, 'admin');
    await page.getByTestId('nav-account').click();
    await page.locator('[data-testid="account-totp"][data-totp="off"]').waitFor();
    await page.getByTestId('totp-start').click();
    const auth = authenticator(await shownSecret(page));
    // A wrong code is refused with its code; nothing changes.
    await page.getByTestId('totp-code').fill(auth.wrong());
    await page.getByTestId('totp-enable').click();
    await page.locator('[data-testid="totp-error"][data-code="IIP_ERR_AUTH_TOTP_INVALID"]').waitFor();
    assert.equal((await findUser('admin'))?.totpEnabled, false);
    await page.getByTestId('totp-code').fill(await auth.next());
    await page.getByTestId('totp-enable').click();
    await page.locator('[data-testid="account-totp"][data-totp="on"]').waitFor();
    assert.equal((await page.getByTestId('account-totp-message').textContent())?.trim(), 'Second factor on.');
    assert.equal((await findUser('admin'))?.totpEnabled, true, 'the platform has it on');
    adminAuth = auth;
  });

  await withScreenshot(page, 'security-account-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByRole('heading', { name: '我的账户' }).waitFor();
    assert.match((await page.getByTestId('account-totp-state').textContent()) ?? '', /已开启/);
    await page.getByRole('heading', { name: '修改密码' }).waitFor();
    await page.getByTestId('lang-switch').click();
    await page.getByRole('heading', { name: 'My account' }).waitFor();
  });

  await withScreenshot(page, 'security-second-step', async () => {
    await page.getByTestId('nav-sign-out').click();
    await typePassword(page, 'admin');
    await page.locator('[data-testid="login-form"][data-step="totp"]').waitFor();
    await page.getByTestId('login-totp').fill(adminAuth!.wrong());
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid="login-error"][data-code="IIP_ERR_AUTH_TOTP_INVALID"]').waitFor();
    await page.getByTestId('login-totp').fill(await adminAuth!.next());
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-devices').waitFor();
    // Without the code the platform still refuses the password alone.
    const bare = await call<{ code: string }>('POST', '/auth/login', { body: { username: 'admin', password: PASSWORD }, bearer: '' });
    assert.deepEqual([bare.status, bare.body.code], [401, 'IIP_ERR_AUTH_TOTP_REQUIRED']);
  });
});

test('users: a service account gets an API token, shown once; it works until revoked', { timeout: 180_000 }, async () => {
  const page = adminPage!;
  let tokenText = '';
  await withScreenshot(page, 'security-service-account', async () => {
    await page.getByTestId('nav-users').click();
    const form = page.getByTestId('service-create');
    await form.getByTestId('service-username').fill('line-feeder');
    await form.getByTestId('service-role').selectOption('viewer');
    await form.getByTestId('service-create-submit').click();
    await form.getByTestId('service-created').waitFor();
    const row = page.locator('[data-testid="user-row"][data-user="line-feeder"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-kind'), 'service');
    assert.equal((await row.getByTestId('user-kind').textContent())?.trim(), 'Service');
    assert.equal((await page.locator('[data-testid="user-row"][data-user="admin"]').getByTestId('user-totp').textContent())?.trim(), 'On');
    const u = await findUser('line-feeder');
    assert.deepEqual([u?.kind, u?.grants.map((g) => [g.role, g.asset])], ['service', [['viewer', null]]]);
  });

  const editor = page.locator('[data-testid="user-editor"][data-user="line-feeder"]');
  await withScreenshot(page, 'security-token-create', async () => {
    await page.locator('[data-testid="user-row"][data-user="line-feeder"]').getByTestId('user-edit').click();
    await editor.waitFor();
    assert.equal(await editor.getByTestId('user-reset-password').count(), 0, 'a service account has no password');
    const panel = editor.getByTestId('token-panel');
    await panel.getByTestId('token-none').waitFor();
    // Offered scopes are what the account holds (viewer): devices:read yes, users:manage no.
    await panel.locator('[data-testid="token-scope"][data-permission="devices:read"]').waitFor();
    assert.equal(await panel.locator('[data-testid="token-scope"][data-permission="users:manage"]').count(), 0);
    // No scope picked: the form says so and sends nothing.
    await panel.getByTestId('token-name').fill('mes-sync');
    await panel.getByTestId('token-create').click();
    await panel.getByTestId('token-form-error').waitFor();
    await panel.locator('[data-testid="token-scope"][data-permission="devices:read"]').check();
    await panel.getByTestId('token-days').fill('30');
    await panel.getByTestId('token-create').click();
    tokenText = ((await panel.getByTestId('token-value').textContent()) ?? '').trim();
    assert.ok(tokenText.length > 20, 'the token text is shown');
    await panel.getByText('Copy it now: iip keeps only a hash of it and cannot show it again.').waitFor();
    const row = panel.locator('[data-testid="token-row"][data-name="mes-sync"]');
    await row.waitFor();
    const catalogue = await call<{ items: Array<{ id: string; en: string }> }>('GET', '/permissions');
    const label = catalogue.body.items.find((p) => p.id === 'devices:read')?.en;
    assert.ok(label);
    assert.equal((await row.getByTestId('token-scopes').textContent())?.trim(), label);
    assert.doesNotMatch((await row.textContent()) ?? '', new RegExp(tokenText.slice(-12)), 'the list never shows the text');
  });

  await withScreenshot(page, 'security-token-use', async () => {
    const devices = await call<{ items: unknown[] }>('GET', '/devices', { bearer: tokenText });
    assert.equal(devices.status, 200, 'the token reads devices');
    // Its scope is devices:read only, although the account (viewer) may also read the tenant policy.
    const policy = await call<{ code: string }>('GET', '/tenant/policy', { bearer: tokenText });
    assert.equal(policy.status, 403);
    const listed = await call<{ items: Array<{ name: string; scopes: string[]; lastUsedAt: number | null }> }>('GET', `/users/${(await findUser('line-feeder'))!.id}/api-tokens`);
    assert.deepEqual(listed.body.items.map((t) => [t.name, t.scopes]), [['mes-sync', ['devices:read']]]);
  });

  await withScreenshot(page, 'security-token-once', async () => {
    await editor.getByTestId('token-dismiss').click();
    assert.equal(await editor.getByTestId('token-value').count(), 0);
    // Closing and opening the user again: the list is there, the text is not.
    await page.locator('[data-testid="user-row"][data-user="line-feeder"]').getByTestId('user-edit').click();
    await page.locator('[data-testid="user-row"][data-user="line-feeder"]').getByTestId('user-edit').click();
    await editor.locator('[data-testid="token-row"][data-name="mes-sync"]').waitFor();
    assert.equal(await editor.getByTestId('token-value').count(), 0, 'the token text is never shown again');
    assert.equal(await page.getByText(tokenText).count(), 0);
  });

  await withScreenshot(page, 'security-token-revoke', async () => {
    await editor.locator('[data-testid="token-row"][data-name="mes-sync"]').getByTestId('token-revoke').click();
    await editor.getByTestId('token-none').waitFor();
    const refused = await call<{ code: string }>('GET', '/devices', { bearer: tokenText });
    assert.equal(refused.status, 401, 'a revoked token is refused');
  });
});

test('tenant policy: a tenant requiring a second factor sends its administrator to enrollment first', { timeout: 240_000 }, async () => {
  const page = adminPage!;
  await withScreenshot(page, 'security-policy', async () => {
    await page.getByTestId('tenant-switch').selectOption('acme');
    await page.getByTestId('nav-usage').click();
    await page.locator('[data-testid="security-totp-admins"][data-on="false"]').waitFor();
    // Below 30 days the form refuses the audit retention itself.
    await page.getByTestId('policy-auditDays').fill('7');
    await page.getByTestId('policy-save').click();
    assert.match((await page.getByTestId('policy-message').textContent()) ?? '', /at least 30 days/);
    await page.getByTestId('policy-auditDays').fill('400');
    await page.getByTestId('policy-totpRequiredForAdmins').check();
    await page.getByTestId('policy-save').click();
    await page.locator('[data-testid="security-totp-admins"][data-on="true"]').waitFor();
    assert.equal((await page.getByTestId('retention-audit').textContent())?.trim(), '400 days');
    const r = await call<unknown>('GET', '/tenant/policy', { tenant: 'acme' });
    assert.deepEqual(r.body, {
      retention: { rawDays: null, rollups: {}, auditDays: 400, eventDays: null },
      quotas: { devices: null, pointsPerDay: null, storedBytes: null },
      security: { totpRequiredForAdmins: true },
    });
  });

  const acme = await openLogin();
  await withScreenshot(acme, 'security-enroll', async () => {
    await typePassword(acme, 'acme-admin');
    await acme.getByTestId('enroll-page').waitFor();
    assert.equal(await acme.getByTestId('nav-devices').count(), 0, 'no console before the second factor');
    assert.match((await acme.getByTestId('enroll-why').textContent()) ?? '', /requires administrators to sign in with a second factor/);
    // The platform agrees: this session may only set the factor up.
    const session = await acme.evaluate(() => JSON.parse(sessionStorage.getItem('iip.session') ?? '{}') as { token: string });
    const refused = await call<{ code: string }>('GET', '/devices', { bearer: session.token });
    assert.deepEqual([refused.status, refused.body.code], [403, 'IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED']);
    await acme.getByTestId('lang-switch').click();
    await acme.getByRole('heading', { name: '设置双重验证' }).waitFor();
    assert.match((await acme.getByTestId('enroll-why').textContent()) ?? '', /租户要求管理员/);
    await acme.getByTestId('lang-switch').click();
    await acme.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
  });

  await withScreenshot(acme, 'security-enroll-done', async () => {
    await acme.getByTestId('totp-start').click();
    const auth = authenticator(await shownSecret(acme));
    await acme.getByTestId('totp-code').fill(await auth.next());
    await acme.getByTestId('totp-enable').click();
    await acme.getByTestId('enroll-done').waitFor();
    await acme.getByTestId('enroll-continue').click();
    await acme.getByTestId('nav-devices').waitFor();
    await acme.getByTestId('nav-users').waitFor();
    assert.equal((await findUser('acme-admin', 'acme'))?.totpEnabled, true);
    // The account page says it is required and cannot be turned off.
    await acme.getByTestId('nav-account').click();
    await acme.getByText('Your tenant requires it of administrators.').waitFor();
    await acme.getByTestId('totp-disable-password').fill(PASSWORD);
    await acme.getByTestId('totp-disable').click();
    await acme.locator('[data-testid="account-totp-error"][data-code="IIP_ERR_AUTH_TOTP_REQUIRED_BY_TENANT"]').waitFor();
  });
  await acme.close();

  await withScreenshot(page, 'security-reset-totp', async () => {
    await page.getByTestId('nav-users').click();
    const row = page.locator('[data-testid="user-row"][data-user="acme-admin"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-totp'), 'on');
    await row.getByTestId('user-edit').click();
    const editor = page.locator('[data-testid="user-editor"][data-user="acme-admin"]');
    await editor.getByTestId('user-reset-totp').click();
    await page.locator('[data-testid="user-row"][data-user="acme-admin"][data-totp="off"]').waitFor();
    assert.equal((await findUser('acme-admin', 'acme'))?.totpEnabled, false);
  });
});

test('sign-in page: an OIDC refusal in the address shows its code and leaves the address', { timeout: 60_000 }, async () => {
  const page = await browser!.context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(`${platform!.httpUrl}/?oidc_error=IIP_ERR_AUTH_OIDC_STATE`);
  await page.locator('[data-testid="login-error"][data-code="IIP_ERR_AUTH_OIDC_STATE"]').waitFor();
  assert.equal(new URL(page.url()).search, '', 'the parameter is taken out of the address');
  // Without OIDC configured there is no SSO button, and a code in the address is refused by the platform.
  assert.equal(await page.getByTestId('login-sso').count(), 0);
  await page.goto(`${platform!.httpUrl}/?oidc=not-a-real-code`);
  await page.locator('[data-testid="login-error"][data-code="IIP_ERR_AUTH_OIDC_DISABLED"]').waitFor();
  await page.close();
});

test('account: any user changes its password and signs out everywhere', { timeout: 120_000 }, async () => {
  const NEW_PASSWORD = 'quarry-violet-anchor-5';
  assert.equal((await call('POST', '/users', { body: { username: 'ops', password: PASSWORD, grants: [{ role: 'viewer' }] } })).status, 201);
  const other = await call<{ token: string }>('POST', '/auth/login', { body: { username: 'ops', password: PASSWORD }, bearer: '' });
  assert.equal(other.status, 200);
  const page = await openLogin();
  await withScreenshot(page, 'security-password', async () => {
    await typePassword(page, 'ops');
    await page.getByTestId('nav-account').click();
    await page.getByTestId('password-current').fill(PASSWORD);
    await page.getByTestId('password-new').fill(NEW_PASSWORD);
    await page.getByTestId('password-again').fill(`${NEW_PASSWORD}x`);
    await page.getByTestId('password-submit').click();
    await page.getByTestId('password-mismatch').waitFor();
    // A wrong current password is a refusal shown here, not the end of the session.
    await page.getByTestId('password-current').fill('not-the-password-1');
    await page.getByTestId('password-again').fill(NEW_PASSWORD);
    await page.getByTestId('password-submit').click();
    await page.locator('[data-testid="password-error"][data-code="IIP_ERR_AUTH_LOGIN_FAILED"]').waitFor();
    await page.getByTestId('password-current').fill(PASSWORD);
    await page.getByTestId('password-submit').click();
    await page.getByTestId('password-message').waitFor();
    const fresh = await call<{ token: string }>('POST', '/auth/login', { body: { username: 'ops', password: NEW_PASSWORD }, bearer: '' });
    assert.equal(fresh.status, 200, 'the new password signs in');
    assert.equal((await call('GET', '/auth/me', { bearer: other.body.token })).status, 401, 'the other session ended with the change');
    assert.equal((await call('GET', '/auth/me', { bearer: fresh.body.token })).status, 200);
    await page.getByTestId('logout-all').click();
    await page.getByTestId('login-username').waitFor();
    assert.equal((await call('GET', '/auth/me', { bearer: fresh.body.token })).status, 401, 'every session ended');
  });
  await page.close();
});
