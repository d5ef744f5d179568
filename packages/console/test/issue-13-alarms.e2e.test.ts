/**
 * End-to-end (issue 13): the Rules and Alarms pages and the header's alarm banner against a real platform in
 * Debian's chromium (playwright-core). A rule is typed into the Rules page (Check shows the refusal of an unknown
 * property with its code and field, then the good rule checks and saves; a save over someone else's newer version
 * says IIP_ERR_CONFLICT); telemetry is posted the way a device posts it (POST /api/v1/ingest with its own HTTP
 * Basic credential); on the Alarms page the alarm appears with the banner at 1, is acknowledged with a comment
 * (Acknowledged, banner 0, the history in the detail view), is assigned in the detail view to the admin (the list's
 * Assignee column, "assigned to me", the assign entry in the history) and to nobody, clears and shows in History as
 * normal (CSV export of the loaded rows), is raised again and shelved one-shot (Shelved, a beep with the sound on),
 * and clears; the pages' texts switch to 中文; an operator, who may not list the users, assigns by name (a name
 * that is no user of the tenant refused in place) and to nobody. Rules are shown by the name the platform sends.
 *
 * Run: node --import tsx --test packages/console/test/issue-13-alarms.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Call } from './e2e-api.ts';
import { signIn, text, withScreenshot } from './e2e-browser.ts';
import { type ConsoleE2e, startConsoleE2e } from './e2e-platform.ts';

const PASSWORD = 'harbour-lamp-kettle-7';
const OP_PASSWORD = 'lantern-quay-otter-42';
const BOILER = {
  id: 'boiler',
  name: 'Boiler',
  model: { properties: [{ id: 't', access: 'r', dataType: { type: 'float', unit: '°C' } }], events: [], services: [] },
};
const RULE = {
  id: 'boiler-hot',
  name: 'Boiler too hot / 锅炉过热',
  scope: { product: 'boiler' },
  when: { threshold: { property: 't', op: '>', value: 90, deadband: 2 } },
  alarm: { severity: 'high', message: 'Boiler above 90 °C' },
};

let e2e: ConsoleE2e | undefined;
let secret = '';
const call: Call = (method, path, opts) => e2e!.call(method, path, opts);
let lastTs = Date.now() - 60_000;

/** What the device does: its own credential, HTTP Basic `{tenant}/{device}:{secret}`; times strictly increasing. */
async function sendT(t: number): Promise<void> {
  lastTs = Math.max(lastTs + 1_000, Date.now());
  const res = await fetch(`${e2e!.platform.httpUrl}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/b1:${secret}`).toString('base64')}` },
    body: JSON.stringify({ ts: lastTs, values: { t } }),
  });
  assert.equal(res.status, 202, await res.text());
}

before(async () => {
  e2e = await startConsoleE2e('alarms', PASSWORD);
  assert.equal((await call('POST', '/products', { body: BOILER })).status, 201);
  const dev = await call<{ secret: string }>('POST', '/devices', { body: { id: 'b1', name: 'Boiler 1', product: 'boiler' } });
  assert.equal(dev.status, 201);
  secret = dev.body.secret;
  // alarms:ack without users:read: the Assign form falls back to a typed name.
  assert.equal((await call('POST', '/users', { body: { username: 'op1', password: OP_PASSWORD, grants: [{ role: 'operator' }] } })).status, 201);
});

after(async () => {
  await e2e?.close();
});

const rows = (page: Page) => page.getByTestId('alarm-row');

async function bannerCount(page: Page, n: number): Promise<void> {
  await page.waitForFunction((want) => document.querySelector('[data-testid="alarm-banner-link"]')?.getAttribute('data-count') === String(want), n);
  assert.equal(await text(page.getByTestId('alarm-banner-count')), String(n));
}

async function typeRule(page: Page, doc: unknown): Promise<void> {
  await page.getByTestId('rule-json').fill(JSON.stringify(doc, null, 2));
}

test('rules page, alarms page and banner: check, save, raise, acknowledge, assign, clear, history, shelve; 中文; an operator assigns by name', { timeout: 240_000 }, async () => {
  assert.ok(e2e, 'platform and browser started');
  const { browser } = e2e;
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'alarms-signin', async () => {
    await signIn(page, e2e!.platform.httpUrl, 'admin', PASSWORD);
    await page.getByTestId('device-row').first().waitFor();
    assert.equal(await text(page.getByTestId('nav-alarms')), 'Alarms');
    assert.equal(await text(page.getByTestId('nav-rules')), 'Rules');
    await bannerCount(page, 0);
  });

  await withScreenshot(page, 'alarms-rule', async () => {
    await page.getByTestId('nav-rules').click();
    await page.getByTestId('rules-empty').waitFor();
    await page.getByTestId('rule-new').click();
    // A property the product does not have: the platform's refusal, shown in place with its field.
    await typeRule(page, { ...RULE, when: { threshold: { property: 'pressure', op: '>', value: 90 } } });
    await page.getByTestId('rule-check').click();
    const problem = page.getByTestId('rule-editor').getByTestId('rule-problem');
    await problem.waitFor();
    assert.equal(await problem.getAttribute('data-code'), 'IIP_ERR_RULE_UNKNOWN_PROPERTY');
    assert.equal(await text(problem.getByTestId('rule-problem-field')), 'Field: when.threshold.property');
    assert.match((await text(problem.getByTestId('rule-problem-message'))) ?? '', /pressure/);
    // Broken JSON is said so before anything is sent.
    await page.getByTestId('rule-json').fill('{"id": ');
    await page.getByTestId('rule-check').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="rule-problem"]')?.getAttribute('data-code') === 'IIP_ERR_CONSOLE_JSON');
    // The good rule checks, then saves.
    await typeRule(page, RULE);
    await page.getByTestId('rule-check').click();
    await page.getByTestId('rule-status').waitFor();
    assert.equal(await text(page.getByTestId('rule-status')), 'The rule is valid; it reads: t.');
    assert.equal(await page.getByTestId('rule-problem').count(), 0);
    assert.equal((await call<{ items: unknown[] }>('GET', '/rules')).body.items.length, 0, 'Check saved nothing');
    await page.getByTestId('rule-save').click();
    await page.getByText('Rule boiler-hot saved (version 1).').waitFor();
    const row = page.locator('[data-testid="rule-row"][data-id="boiler-hot"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-version'), '1');
    assert.equal(await text(row.getByTestId('rule-condition')), 't > 90 ±2');
    assert.equal(await text(row.getByTestId('alarm-severity')), 'High');
    const stored = await call<{ version: number; alarm: { severity: string } }>('GET', '/rules/boiler-hot');
    assert.equal(stored.status, 200);
    assert.deepEqual([stored.body.version, stored.body.alarm.severity], [1, 'high']);
    // Someone else saves meanwhile: saving over it is refused, and the page says so.
    assert.equal((await call('PUT', '/rules/boiler-hot', { body: { ...RULE, version: 1 } })).status, 200);
    await page.getByTestId('rule-save').click();
    await page.getByTestId('rule-conflict').waitFor();
    assert.equal(await page.getByTestId('rule-problem').getAttribute('data-code'), 'IIP_ERR_CONFLICT');
    assert.match((await text(page.getByTestId('rule-conflict'))) ?? '', /now at version 2/);
    await page.getByTestId('rule-cancel').click();
  });

  await withScreenshot(page, 'alarms-raise', async () => {
    await page.getByTestId('nav-alarms').click();
    await page.getByTestId('alarms-empty').waitFor();
    await sendT(95);
    await rows(page).first().waitFor();
    assert.equal(await rows(page).count(), 1);
    const row = rows(page).first();
    assert.equal(await row.getAttribute('data-state'), 'unacked');
    assert.equal(await text(row.getByTestId('alarm-state')), 'Unacknowledged');
    assert.equal(await text(row.getByTestId('alarm-severity')), 'High');
    assert.equal(await row.getByTestId('alarm-severity').evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(207, 34, 46)', 'high is red');
    assert.equal(await text(row.getByTestId('alarm-device')), 'b1');
    assert.equal(await row.getByTestId('alarm-device').getAttribute('href'), '#/devices/b1');
    // The rule's name as the platform sends it (the English half of "Boiler too hot / 锅炉过热"), the id as the tooltip.
    assert.equal(await text(row.getByTestId('alarm-rule')), 'Boiler too hot');
    assert.equal(await row.getByTestId('alarm-rule').getAttribute('title'), 'boiler-hot');
    assert.equal(await text(row.getByTestId('alarm-message')), 'Boiler above 90 °C');
    assert.equal(await text(row.getByTestId('alarm-assignee')), '—');
    assert.deepEqual((await page.getByTestId('alarms-table').locator('th').allTextContents()).slice(3, 8), ['Rule', 'Message', 'Since', 'Assignee', 'Last action']);
    await bannerCount(page, 1);
    assert.equal(await page.getByTestId('alarm-banner-link').getAttribute('data-severity'), 'high');
    assert.match((await page.getByTestId('alarm-banner-count').getAttribute('class')) ?? '', /sev-high/);
  });

  await withScreenshot(page, 'alarms-ack', async () => {
    const row = rows(page).first();
    await row.getByTestId('alarm-ack').click();
    await page.getByTestId('alarm-comment').fill('checking the burner');
    await page.getByTestId('alarm-action-submit').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="alarm-row"]')?.getAttribute('data-state') === 'acked');
    assert.equal(await text(row.getByTestId('alarm-state')), 'Acknowledged');
    assert.match((await text(row.getByTestId('alarm-last-action'))) ?? '', /^Acknowledged · admin · .* “checking the burner”$/);
    assert.equal(await row.getByTestId('alarm-ack').count(), 0, 'nothing left to acknowledge');
    await bannerCount(page, 0);
    // The row opens the detail view with the history.
    await row.getByTestId('alarm-message').click();
    const detail = page.getByTestId('alarm-detail');
    await detail.getByTestId('alarm-history-entry').nth(1).waitFor();
    assert.deepEqual(await detail.getByTestId('alarm-history-entry').evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-type')}/${tr.getAttribute('data-state')}`)), [
      'activate/unacked',
      'ack/acked',
    ]);
    assert.equal(await text(detail.getByTestId('alarm-history-entry').nth(1).getByTestId('alarm-history-comment')), 'checking the burner');
    assert.deepEqual((await detail.getByTestId('alarm-history-entry').nth(1).locator('td').allTextContents()).slice(1), ['Acknowledged', 'admin', 'checking the burner', 'Acknowledged']);
  });

  await withScreenshot(page, 'alarms-assign', async () => {
    const row = rows(page).first();
    const id = (await row.getAttribute('data-id')) ?? '';
    const detail = page.getByTestId('alarm-detail');
    assert.equal(await text(detail.getByTestId('alarm-detail-rule')), 'Boiler too hot boiler-hot', 'the name, and the id beside it');
    assert.equal(await text(detail.getByTestId('alarm-detail-rule-id')), 'boiler-hot');
    assert.equal(await text(detail.getByTestId('alarm-detail-assignee')), '—');
    // The admin may list the users: a picker of the tenant's people, Nobody first, the signed-in user chosen.
    await detail.getByTestId('alarm-assign').click();
    await page.locator('[data-testid="alarm-assign-form"][data-mode="pick"]').waitFor();
    const picker = detail.getByTestId('alarm-assignee-select');
    assert.deepEqual(await picker.locator('option').allTextContents(), ['Nobody', 'admin', 'op1']);
    assert.equal(await picker.inputValue(), 'admin');
    await detail.getByTestId('alarm-assign-comment').fill('yours until the burner is back');
    await detail.getByTestId('alarm-assign-submit').click();
    await detail.locator('[data-testid="alarm-detail-assignee"][data-assignee="admin"]').waitFor();
    assert.equal(await text(detail.getByTestId('alarm-assign-done')), 'Assign: done.');
    assert.equal(await detail.getByTestId('alarm-assign-form').count(), 0, 'the form closes');
    const entry = detail.locator('[data-testid="alarm-history-entry"][data-type="assign"]');
    await entry.waitFor();
    assert.deepEqual((await entry.locator('td').allTextContents()).slice(1), ['Assigned', 'admin', 'yours until the burner is back', 'Acknowledged'], 'the state stays as it was');
    // The list shows it at its next refresh; "assigned to me" keeps it.
    await page.locator(`[data-testid="alarm-row"][data-id="${id}"] [data-testid="alarm-assignee"][data-assignee="admin"]`).waitFor();
    assert.equal(await text(row.getByTestId('alarm-assignee')), 'admin');
    assert.match((await text(row.getByTestId('alarm-last-action'))) ?? '', /^Assigned · admin · .* “yours until the burner is back”$/);
    await page.getByTestId('alarms-filter-mine').check();
    assert.equal(await rows(page).count(), 1);
    const stored = await call<{ assignee: string | null; isaState: string; ruleName: string }>('GET', `/alarms/${encodeURIComponent(id)}`);
    assert.deepEqual([stored.body.assignee, stored.body.isaState, stored.body.ruleName], ['admin', 'acked', RULE.name]);
    // To nobody: the picker's first choice; "assigned to me" then shows nothing.
    await detail.getByTestId('alarm-assign').click();
    await page.locator('[data-testid="alarm-assign-form"][data-mode="pick"]').waitFor();
    assert.equal(await picker.inputValue(), 'admin', 'the current assignee first');
    await picker.selectOption('');
    await detail.getByTestId('alarm-assign-submit').click();
    await detail.locator('[data-testid="alarm-detail-assignee"][data-assignee=""]').waitFor();
    assert.equal(await text(detail.getByTestId('alarm-detail-assignee')), '—');
    assert.equal(await detail.locator('[data-testid="alarm-history-entry"][data-type="assign"]').count(), 2);
    await page.getByTestId('alarms-empty').waitFor();
    assert.equal(await text(page.getByTestId('alarms-empty')), 'No open alarms match the filter.');
    await page.getByTestId('alarms-filter-mine').uncheck();
    await page.locator(`[data-testid="alarm-row"][data-id="${id}"] [data-testid="alarm-assignee"][data-assignee=""]`).waitFor();
    assert.equal(await text(row.getByTestId('alarm-assignee')), '—');
    assert.equal((await call<{ assignee: string | null }>('GET', `/alarms/${encodeURIComponent(id)}`)).body.assignee, null);
  });

  let firstId = '';
  await withScreenshot(page, 'alarms-clear', async () => {
    firstId = (await rows(page).first().getAttribute('data-id')) ?? '';
    await sendT(60);
    await page.getByTestId('alarms-empty').waitFor();
    assert.equal(await rows(page).count(), 0, 'the cleared alarm left the open list');
    await page.getByTestId('alarms-tab-history').click();
    const h = page.locator(`[data-testid="history-row"][data-id="${firstId}"]`);
    await h.waitFor();
    assert.equal(await h.getAttribute('data-state'), 'normal');
    assert.equal(await h.getAttribute('data-open'), 'false');
    assert.equal(await text(h.getByTestId('alarm-state')), 'Normal');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('history-export').click()]);
    const csv = readFileSync((await download.path()) ?? '', 'utf8').split('\r\n');
    assert.equal(csv[0], 'raised,device,rule,severity,message,state,last change');
    assert.match(csv[1] ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+Z,b1,boiler-hot,high,Boiler above 90 °C,normal,\d{4}-/);
  });

  await withScreenshot(page, 'alarms-shelve', async () => {
    // Sound on (remembered), then a new activation: a new alarm, the banner at 1 again, and a beep.
    await page.getByTestId('alarm-sound').click();
    assert.equal(await page.evaluate(() => localStorage.getItem('iip.console.alarmSound')), 'on');
    await page.getByTestId('alarms-tab-open').click();
    await sendT(97);
    await rows(page).first().waitFor();
    const row = rows(page).first();
    assert.notEqual(await row.getAttribute('data-id'), firstId, 'a new alarm for the new activation');
    assert.equal(await row.getAttribute('data-state'), 'unacked');
    await bannerCount(page, 1);
    await page.waitForFunction(() => ((window as unknown as { iipAlarmBeeps?: number }).iipAlarmBeeps ?? 0) >= 1);
    await row.getByTestId('alarm-shelve').click();
    await page.getByTestId('alarm-shelve-duration').selectOption('oneShot');
    await page.getByTestId('alarm-comment').fill('burner service');
    await page.getByTestId('alarm-action-submit').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="alarm-row"]')?.getAttribute('data-state') === 'shelved');
    assert.equal(await text(row.getByTestId('alarm-state')), 'Shelved until normal');
    await row.getByTestId('alarm-unshelve').waitFor();
    await bannerCount(page, 0);
    // Shelving twice one-shot is refused, and the row says with which code.
    await row.getByTestId('alarm-shelve').click();
    await page.getByTestId('alarm-shelve-duration').selectOption('oneShot');
    await page.getByTestId('alarm-action-submit').click();
    const refused = page.getByTestId('alarm-action-error');
    await refused.waitFor();
    assert.equal(await refused.getAttribute('data-code'), 'IIP_ERR_ALARM_ALREADY_SHELVED');
    await page.getByTestId('alarm-action-cancel').click();
    await sendT(60);
    await page.getByTestId('alarms-empty').waitFor();
  });

  await withScreenshot(page, 'alarms-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('没有未关闭的报警。').waitFor();
    assert.equal(await text(page.getByTestId('nav-alarms')), '报警');
    assert.equal(await text(page.getByTestId('nav-rules')), '规则');
    assert.equal(await text(page.locator('.alarms-page h2')), '报警');
    assert.equal(await text(page.getByTestId('alarms-tab-history')), '历史');
    assert.equal(await text(page.getByTestId('alarms-filter-severity').locator('option').nth(2)), '高');
    assert.equal(await text(page.getByTestId('alarms-filter-state').locator('option').nth(1)), '未确认');
    await page.getByTestId('alarms-tab-history').click();
    await page.getByTestId('history-row').nth(1).waitFor();
    assert.deepEqual(await page.getByTestId('history-table').locator('th').allTextContents(), ['产生时间', '设备', '规则', '严重度', '消息', '状态', '处理人', '最近变化']);
    assert.deepEqual(await page.getByTestId('history-row').getByTestId('alarm-state').allTextContents(), ['正常', '正常']);
    assert.equal(await text(page.getByTestId('history-row').first().getByTestId('alarm-severity')), '高');
    assert.equal(await text(page.getByTestId('history-row').first().getByTestId('alarm-rule')), '锅炉过热');
    assert.deepEqual(await page.getByTestId('history-row').getByTestId('alarm-assignee').allTextContents(), ['—', '—']);
    // The first alarm's history names its assignments.
    await page.getByTestId('history-row').nth(1).click();
    await page.getByTestId('alarm-detail').getByTestId('alarm-history-entry').nth(4).waitFor();
    assert.deepEqual(await page.getByTestId('alarm-detail').getByTestId('alarm-history-entry').locator('td:nth-child(2)').allTextContents(), ['产生', '确认', '指派', '指派', '恢复正常']);
    assert.equal(await text(page.getByTestId('alarm-detail').getByTestId('alarm-assign')), '指派');
    await page.getByTestId('history-row').first().click();
    await page.getByTestId('alarm-detail').getByTestId('alarm-history-entry').nth(2).waitFor();
    assert.deepEqual(await page.getByTestId('alarm-detail').getByTestId('alarm-history-entry').locator('td:nth-child(2)').allTextContents(), ['产生', '搁置', '恢复正常']);
    await page.getByTestId('nav-rules').click();
    await page.locator('[data-testid="rule-row"][data-id="boiler-hot"]').waitFor();
    assert.equal(await text(page.locator('.rules-page h2')), '规则');
    assert.equal(await text(page.getByTestId('rule-new')), '新建规则');
    assert.equal(await text(page.getByTestId('rule-edit')), '编辑');
  });

  await withScreenshot(page, 'alarms-assign-operator', async () => {
    // An operator acts on alarms but may not list the users: a name is typed in, and the platform checks it.
    await page.getByTestId('nav-sign-out').click();
    await page.getByTestId('login-username').fill('op1');
    await page.getByTestId('login-password').fill(OP_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-alarms').click();
    await page.getByTestId('alarms-empty').waitFor();
    await sendT(96);
    await rows(page).first().waitFor();
    const row = rows(page).first();
    await row.getByTestId('alarm-message').click();
    const detail = page.getByTestId('alarm-detail');
    await detail.getByTestId('alarm-assign').click();
    await page.locator('[data-testid="alarm-assign-form"][data-mode="type"]').waitFor();
    const name = detail.getByTestId('alarm-assignee-input');
    assert.equal(await name.inputValue(), 'op1', 'the signed-in user first');
    await name.fill('nobody-here');
    await detail.getByTestId('alarm-assign-submit').click();
    const refused = detail.getByTestId('alarm-assign-error');
    await refused.waitFor();
    assert.equal(await refused.getAttribute('data-code'), 'IIP_ERR_VALIDATION');
    assert.match((await text(refused)) ?? '', /nobody-here/);
    assert.equal(await detail.getByTestId('alarm-assign-form').count(), 1, 'the form stays for another try');
    await name.fill('op1');
    await detail.getByTestId('alarm-assign-submit').click();
    await detail.locator('[data-testid="alarm-detail-assignee"][data-assignee="op1"]').waitFor();
    assert.equal(await refused.count(), 0);
    await page.locator('[data-testid="alarm-row"] [data-testid="alarm-assignee"][data-assignee="op1"]').waitFor();
    assert.equal(await text(page.getByTestId('alarms-filter-mine').locator('..')), '指派给我');
    await page.getByTestId('alarms-filter-mine').check();
    assert.equal(await rows(page).count(), 1);
    assert.deepEqual((await page.getByTestId('alarms-table').locator('th').allTextContents()).slice(6, 7), ['处理人']);
    // Nobody, typed: the box beside the name.
    await detail.getByTestId('alarm-assign').click();
    await detail.getByTestId('alarm-assign-nobody').check();
    assert.equal(await name.isDisabled(), true);
    await detail.getByTestId('alarm-assign-submit').click();
    await detail.locator('[data-testid="alarm-detail-assignee"][data-assignee=""]').waitFor();
    await page.getByText('没有符合筛选条件的报警。').waitFor();
    await sendT(60);
  });
});
