/**
 * End-to-end (issue 13, point 3): the Rules page's "Deliveries" panel against a real platform in Debian's chromium
 * (playwright-core). A rule with a webhook action to a real HTTP receiver started here (404 to its first call, 200
 * after) raises when the device posts a hot reading (POST /api/v1/ingest with its own HTTP Basic credential); the
 * delivery is listed as dead with IIP_ERR_ACTION_HTTP_STATUS and the counts say so; the Dead filter shows it, Retry
 * sends it again and it is done (the receiver got a second call with the same delivery id); the panel speaks 中文;
 * the signing secret is shown on request (43 characters, the one the receiver's signature checks with) and rotated
 * after a confirmation. A viewer (rules:read, not rules:edit) sees the deliveries without Retry or the secret.
 *
 * Run: node --import tsx --test packages/console/test/issue-13-rule-actions.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Call } from './e2e-api.ts';
import { signIn, text, withScreenshot } from './e2e-browser.ts';
import { type ConsoleE2e, startConsoleE2e } from './e2e-platform.ts';

const PASSWORD = 'harbour-lamp-kettle-7';
const VIEWER_PASSWORD = 'e2e-Viewer-Pass-42';
const OVEN = {
  id: 'oven',
  name: 'Oven',
  model: { properties: [{ id: 't', access: 'r', dataType: { type: 'float', unit: '°C' } }], events: [], services: [] },
};

let e2e: ConsoleE2e | undefined;
let receiver: Server | undefined;
let hookUrl = '';
/**
 * The receiver's calls, in order: it answers the first with 404 (given up at once) and the rest with 200, except
 * calls to a path ending in "-gone", which are always 404.
 */
const calls: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
let deviceSecret = '';
const call: Call = (method, path, opts) => e2e!.call(method, path, opts);

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      calls.push({ headers: req.headers, body });
      res.statusCode = calls.length === 1 || req.url?.endsWith('-gone') ? 404 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/oven`;

  e2e = await startConsoleE2e('rule-actions', PASSWORD);
  assert.equal((await call('POST', '/products', { body: OVEN })).status, 201);
  const dev = await call<{ secret: string }>('POST', '/devices', { body: { id: 'o1', name: 'Oven 1', product: 'oven' } });
  assert.equal(dev.status, 201);
  deviceSecret = dev.body.secret;
  const rule = await call('POST', '/rules', {
    body: {
      id: 'oven-hot',
      name: 'Oven too hot / 烤炉过热',
      scope: { product: 'oven' },
      when: { threshold: { property: 't', op: '>', value: 200 } },
      alarm: { severity: 'high', message: 'Oven above 200 °C' },
      actions: [{ type: 'webhook', url: hookUrl }],
    },
  });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));
  assert.equal((await call('POST', '/users', { body: { username: 'watcher', password: VIEWER_PASSWORD, grants: [{ role: 'viewer' }] } })).status, 201);
});

after(async () => {
  await e2e?.close();
  await new Promise((r) => receiver?.close(r));
});

let lastTs = Date.now() - 60_000;

/** What the device does: its own credential, HTTP Basic `{tenant}/{device}:{secret}`; times strictly increasing. */
async function sendT(t: number): Promise<void> {
  lastTs = Math.max(lastTs + 1_000, Date.now());
  const res = await fetch(`${e2e!.platform.httpUrl}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/o1:${deviceSecret}`).toString('base64')}` },
    body: JSON.stringify({ ts: lastTs, values: { t } }),
  });
  assert.equal(res.status, 202, await res.text());
}

const rows = (page: Page) => page.getByTestId('rule-action-row');

async function signInAs(page: Page, username: string, password: string): Promise<void> {
  await signIn(page, e2e!.platform.httpUrl, username, password);
  await page.getByTestId('nav-rules').waitFor();
}

/** Waits until the first delivery row is in `state` (the panel reads the list again every few seconds). */
async function rowState(page: Page, state: string): Promise<void> {
  await page.waitForFunction((want) => document.querySelector('[data-testid="rule-action-row"]')?.getAttribute('data-state') === want, state);
}

test('deliveries: a dead webhook call is listed, retried and done; 中文; the signing secret shown and rotated', { timeout: 240_000 }, async () => {
  assert.ok(e2e, 'platform and browser started');
  const { browser } = e2e;
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'rule-actions-signin', async () => {
    await signInAs(page, 'admin', PASSWORD);
    await page.goto(`${e2e!.platform.httpUrl}/#/rules`);
    await page.locator('[data-testid="rule-row"][data-id="oven-hot"]').waitFor();
    await page.getByTestId('rule-actions-empty').waitFor();
    assert.equal(await text(page.getByTestId('rule-actions').locator('h3')), 'Deliveries');
  });

  let id = '';
  await withScreenshot(page, 'rule-actions-dead', async () => {
    await sendT(230);
    // The dispatcher calls at once; the receiver's 404 is not retried, so the delivery is dead after one attempt.
    await rows(page).first().waitFor();
    await rowState(page, 'dead');
    const row = rows(page).first();
    id = (await row.getAttribute('data-id')) ?? '';
    assert.match(id, /^oven-hot:o1:raise:\d+:0$/);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.headers['x-iip-delivery'], id);
    assert.equal(await text(row.getByTestId('rule-action-state')), 'Dead');
    assert.equal(await row.getAttribute('data-attempts'), '1');
    assert.equal(await row.getAttribute('data-kind'), 'webhook');
    assert.equal(await text(row.getByTestId('rule-action-rule')), 'Oven too hot oven-hot');
    assert.equal(await text(row.getByTestId('rule-action-transition')), 'Raise');
    const port = new URL(hookUrl).port;
    assert.equal(await text(row.getByTestId('rule-action-summary')), `Webhook → 127.0.0.1:${port}`);
    assert.equal(await row.getByTestId('rule-action-summary').getAttribute('data-summary'), `webhook → 127.0.0.1:${port}`);
    assert.equal(await row.getByTestId('rule-action-summary').getAttribute('title'), hookUrl);
    assert.equal(await text(row.getByTestId('rule-action-error-code')), 'IIP_ERR_ACTION_HTTP_STATUS');
    assert.match((await text(row.getByTestId('rule-action-error-text'))) ?? '', /hooks\/oven answered 404 \(not retried/);
    // The counts by state, on the filter buttons.
    await page.waitForFunction(() => document.querySelector('[data-testid="rule-actions-filter-dead"]')?.getAttribute('data-count') === '1');
    assert.equal(await text(page.getByTestId('rule-actions-filter-all')), 'All1');
    assert.equal(await text(page.getByTestId('rule-actions-filter-pending')), 'Pending0');
    assert.equal(await text(page.getByTestId('rule-actions-filter-done')), 'Done0');
    assert.equal(await text(page.getByTestId('rule-actions-filter-dead')), 'Dead1');
    assert.equal(await text(page.getByTestId('rule-actions-count')), '1 of 1 shown, newest first.');
    assert.equal(await page.getByTestId('rule-actions-more').count(), 0, 'one row: nothing more to load');
  });

  await withScreenshot(page, 'rule-actions-filter', async () => {
    await page.getByTestId('rule-actions-filter-done').click();
    await page.getByTestId('rule-actions-empty').waitFor();
    assert.equal(await text(page.getByTestId('rule-actions-empty')), 'No deliveries in this state.');
    await page.getByTestId('rule-actions-filter-dead').click();
    assert.equal(await page.getByTestId('rule-actions-filter-dead').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getByTestId('rule-actions-filter-dead').evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(31, 111, 235)', 'the chosen filter stands out');
    await rows(page).first().waitFor();
    assert.equal(await rows(page).count(), 1);
    assert.equal(await rows(page).first().getAttribute('data-id'), id);
  });

  await withScreenshot(page, 'rule-actions-retry', async () => {
    await rows(page).first().getByTestId('rule-action-retry').click();
    await page.getByTestId('rule-actions-status').waitFor();
    assert.equal(await text(page.getByTestId('rule-actions-status')), `Delivery ${id} is pending again and will be tried within a few seconds.`);
    // No longer dead: it leaves the Dead list, and under All it turns done once the receiver has answered 200.
    await page.getByTestId('rule-actions-empty').waitFor();
    await page.getByTestId('rule-actions-filter-all').click();
    await rows(page).first().waitFor();
    await rowState(page, 'done');
    const row = rows(page).first();
    assert.equal(await row.getAttribute('data-id'), id);
    assert.equal(await text(row.getByTestId('rule-action-state')), 'Done');
    assert.equal(await row.getAttribute('data-attempts'), '1', 'a retry counts its attempts from 0');
    assert.equal(await row.getByTestId('rule-action-retry').count(), 0, 'nothing to retry once done');
    assert.equal(calls.length, 2, 'the receiver got the call again');
    assert.equal(calls[1]?.headers['x-iip-delivery'], id, 'with the same delivery id, so a receiver can drop repeats');
    assert.equal(calls[1]?.body, calls[0]?.body);
    assert.deepEqual(
      (({ rule, device, transition, severity, message, values }) => ({ rule, device, transition, severity, message, values }))(JSON.parse(calls[1]?.body ?? '{}')),
      { rule: { id: 'oven-hot', name: 'Oven too hot / 烤炉过热' }, device: 'o1', transition: 'raise', severity: 'high', message: 'Oven above 200 °C', values: { t: 230 } },
    );
    await page.waitForFunction(() => document.querySelector('[data-testid="rule-actions-filter-done"]')?.getAttribute('data-count') === '1');
    assert.equal(await page.getByTestId('rule-actions-filter-dead').getAttribute('data-count'), '0');
    // The Refresh button reads the list again at once (still the same one row).
    await page.getByTestId('rule-actions-refresh').click();
    assert.equal(await rows(page).count(), 1);
  });

  await withScreenshot(page, 'rule-actions-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('动作投递').waitFor();
    assert.equal(await text(page.getByTestId('rule-actions').locator('h3')), '动作投递');
    assert.equal(await text(page.getByTestId('rule-actions-filter-dead')), '死信0');
    assert.equal(await text(page.getByTestId('rule-actions-filter-done')), '已完成1');
    assert.deepEqual(await page.getByTestId('rule-actions-table').locator('th').allTextContents(), ['时间', '规则', '设备', '动作', '触发于', '状态', '尝试次数', '最近错误', '']);
    const row = rows(page).first();
    assert.equal(await text(row.getByTestId('rule-action-state')), '已完成');
    assert.equal(await text(row.getByTestId('rule-action-transition')), '报警');
    assert.equal(await text(row.getByTestId('rule-action-rule')), '烤炉过热 oven-hot');
    assert.match((await text(row.getByTestId('rule-action-summary'))) ?? '', /^Webhook 回调 → 127\.0\.0\.1:\d+$/);
    assert.equal(await text(page.getByTestId('rule-actions-secret-show')), '显示签名密钥');
    await page.getByTestId('lang-switch').click();
    await page.getByText('Deliveries', { exact: true }).waitFor();
  });

  await withScreenshot(page, 'rule-actions-secret', async () => {
    assert.equal(await page.getByTestId('rule-actions-secret').count(), 0, 'hidden until asked for');
    await page.getByTestId('rule-actions-secret-show').click();
    await page.getByTestId('rule-actions-secret').waitFor();
    const secret = (await page.getByTestId('rule-actions-secret').textContent()) ?? '';
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    assert.equal((await call<{ secret: string }>('GET', '/rules/signing-secret')).body.secret, secret);
    // The one the receiver's signature checks with: HMAC-SHA256 of "<X-IIP-Timestamp>.<body>".
    const h = calls[1]?.headers ?? {};
    const expected = `sha256=${createHmac('sha256', secret).update(`${h['x-iip-timestamp']}.${calls[1]?.body}`).digest('hex')}`;
    assert.equal(h['x-iip-signature'], expected);
    // Rotating asks first; Cancel keeps the secret.
    await page.getByTestId('rule-actions-secret-rotate').click();
    await page.getByTestId('rule-actions-secret-confirm').waitFor();
    await page.getByTestId('rule-actions-secret-rotate-no').click();
    assert.equal(await page.getByTestId('rule-actions-secret-confirm').count(), 0);
    assert.equal((await call<{ secret: string }>('GET', '/rules/signing-secret')).body.secret, secret);
    await page.getByTestId('rule-actions-secret-rotate').click();
    await page.getByTestId('rule-actions-secret-rotate-yes').click();
    await page.getByTestId('rule-actions-secret-rotated').waitFor();
    const rotated = (await page.getByTestId('rule-actions-secret').textContent()) ?? '';
    assert.match(rotated, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(rotated, secret);
    assert.equal((await call<{ secret: string }>('GET', '/rules/signing-secret')).body.secret, rotated);
    await page.getByTestId('rule-actions-secret-hide').click();
    assert.equal(await page.getByTestId('rule-actions-secret').count(), 0);
  });
});

test('deliveries: a viewer (rules:read) sees them without Retry or the signing secret', { timeout: 120_000 }, async () => {
  assert.ok(e2e);
  const { browser } = e2e;
  const context = browser.context;
  await context.clearCookies();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(e2e.platform.httpUrl);
  await page.evaluate(() => localStorage.clear());
  // A dead delivery again: the viewer must see it without the button that would retry it.
  const cold = { id: 'oven-cold', scope: { product: 'oven' }, when: { threshold: { property: 't', op: '<', value: 0 } }, actions: [{ type: 'webhook', url: `${hookUrl}-gone` }] };
  assert.equal((await call('POST', '/rules', { body: cold })).status, 201);
  await sendT(-5);
  await withScreenshot(page, 'rule-actions-viewer', async () => {
    await signInAs(page, 'watcher', VIEWER_PASSWORD);
    await page.goto(`${e2e!.platform.httpUrl}/#/rules`);
    await page.getByTestId('rule-actions').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="rule-actions-filter-dead"]')?.getAttribute('data-count') === '1');
    await page.getByTestId('rule-actions-filter-dead').click();
    await rowState(page, 'dead');
    assert.match((await rows(page).first().getAttribute('data-id')) ?? '', /^oven-cold:o1:raise:/);
    assert.equal(await text(rows(page).first().getByTestId('rule-action-error-code')), 'IIP_ERR_ACTION_HTTP_STATUS');
    assert.equal(await page.getByTestId('rule-action-retry').count(), 0, 'retrying needs rules:edit');
    assert.equal(await page.getByTestId('rule-actions-table').locator('th').count(), 8, 'no column for Retry buttons');
    assert.equal(await page.getByTestId('rule-actions-secret-show').count(), 0, 'the secret needs rules:edit');
    await page.getByTestId('rule-actions-filter-done').click();
    await rowState(page, 'done');
    assert.equal(await rows(page).count(), 1);
  });
});

test('deliveries: more than a page — "Load more" continues after the last row, and a refresh keeps the list as long', { timeout: 120_000 }, async () => {
  assert.ok(e2e);
  const { browser } = e2e;
  // 20 actions on raise and on clear, raised, cleared and raised again: 60 more deliveries, dead at once; oven-hot
  // raises twice too (600 °C), its receiver answering 200: 64 in all.
  const many = {
    id: 'oven-many',
    scope: { product: 'oven' },
    when: { threshold: { property: 't', op: '>', value: 500 } },
    actions: Array.from({ length: 20 }, (_, i) => ({ type: 'webhook', url: `${hookUrl}/${i}-gone`, on: ['raise', 'clear'] })),
  };
  assert.equal((await call('POST', '/rules', { body: many })).status, 201);
  for (const t of [600, 100, 600]) await sendT(t);
  const counts = async () => (await call<{ counts: Record<string, number> }>('GET', '/rule-actions?limit=1')).body.counts;
  for (let i = 0; i < 150 && JSON.stringify(await counts()) !== JSON.stringify({ pending: 0, done: 3, dead: 61 }); i++) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await counts(), { pending: 0, done: 3, dead: 61 }, 'oven-cold and the 60 of oven-many dead; oven-hot done');

  const context = browser.context;
  await context.clearCookies();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(e2e.platform.httpUrl);
  await page.evaluate(() => localStorage.clear());
  await withScreenshot(page, 'rule-actions-more', async () => {
    await signInAs(page, 'admin', PASSWORD);
    await page.goto(`${e2e!.platform.httpUrl}/#/rules`);
    await page.getByTestId('rule-actions-more').waitFor();
    assert.equal(await rows(page).count(), 50);
    assert.equal(await text(page.getByTestId('rule-actions-count')), '50 of 64 shown, newest first.');
    await page.getByTestId('rule-actions-more').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="rule-action-row"]').length === 64);
    assert.equal(await page.getByTestId('rule-actions-more').count(), 0, 'the last page was not full: nothing further');
    const ids = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
    assert.equal(new Set(ids).size, 64, 'no row twice');
    assert.equal(await text(rows(page).first().getByTestId('rule-action-rule')), 'oven-many', 'a rule without a name: its id, once');
    // The oldest two are the first test's and the viewer's.
    assert.match(ids[63] ?? '', /^oven-hot:o1:raise:/);
    assert.match(ids[62] ?? '', /^oven-cold:o1:raise:/);
    // A refresh reads as deep as the list goes: still 64 rows, the older pages not dropped.
    await Promise.all([page.waitForResponse((r) => r.url().includes('/api/v1/rule-actions?limit=64')), page.getByTestId('rule-actions-refresh').click()]);
    assert.equal(await rows(page).count(), 64);
    assert.equal(await text(page.getByTestId('rule-actions-count')), '64 of 64 shown, newest first.');
    // A Retry button for each dead one, none for the done ones.
    assert.equal(await page.getByTestId('rule-action-retry').count(), 61);
    assert.equal(await page.locator('[data-testid="rule-action-row"][data-state="done"]').count(), 3);
  });
});
