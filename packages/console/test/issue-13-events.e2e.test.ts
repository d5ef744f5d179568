/**
 * End-to-end (issue 13): the device page's Events panel against a real platform in Debian's chromium
 * (playwright-core). A product defines two events (an alert with a float output with a unit, an info without
 * outputs); events are posted the way a device posts them (POST /api/v1/ingest/events with the device's own
 * credential) and must appear newest first with their model names, level badges and formatted values; the level
 * and event filters ask the platform again; a new event appears without a reload and without re-creating the rows
 * already shown; "load older" reaches back past the first 24 h; the panel is in Chinese too; a failing refresh
 * shows its IIP_ERR_* code.
 *
 * Run: node --import tsx --test packages/console/test/issue-13-events.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { formatTimestamp } from '../src/value-format.ts';
import type { Call } from './e2e-api.ts';
import { signIn, text, withScreenshot } from './e2e-browser.ts';
import { type ConsoleE2e, startConsoleE2e } from './e2e-platform.ts';

const PASSWORD = 'harbour-lamp-kettle-7';
const HOUR = 3_600_000;
const OVEN = {
  id: 'oven',
  name: 'Oven',
  model: {
    properties: [{ id: 'temp', access: 'r', dataType: { type: 'float', unit: '°C' } }],
    events: [
      {
        id: 'overheat',
        name: 'Overheat / 过热',
        level: 'alert',
        outputs: [
          { id: 'temperature', name: 'Temperature / 温度', dataType: { type: 'float', unit: '°C' }, required: true },
          { id: 'zone', dataType: { type: 'string' } },
        ],
      },
      { id: 'door_opened', name: 'Door opened', level: 'info', outputs: [] },
    ],
    services: [],
  },
};

let e2e: ConsoleE2e | undefined;
let secret = '';
const call: Call = (method, path, opts) => e2e!.call(method, path, opts);
const now = Date.now();
const T_OVERHEAT = now - 10 * 60_000;
const T_DOOR = now - 5 * 60_000;
const T_OLD = now - 30 * HOUR;

/** What a device does: its own credential, HTTP Basic `{tenant}/{device}:{secret}`. */
async function postEvents(body: unknown): Promise<{ status: number; body: { accepted?: number; seqs?: number[]; code?: string } }> {
  const res = await fetch(`${e2e!.platform.httpUrl}/api/v1/ingest/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/oven-1:${secret}`).toString('base64')}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as never };
}

before(async () => {
  e2e = await startConsoleE2e('events', PASSWORD);
  assert.equal((await call('POST', '/products', { body: OVEN })).status, 201);
  const dev = await call<{ secret: string }>('POST', '/devices', { body: { id: 'oven-1', name: 'Oven 1', product: 'oven' } });
  assert.equal(dev.status, 201);
  secret = dev.body.secret;
  const posted = await postEvents([
    { event: 'door_opened', ts: T_OLD },
    { event: 'overheat', ts: T_OVERHEAT, data: { temperature: 91.5, zone: 'spindle' } },
    { event: 'door_opened', ts: T_DOOR },
  ]);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  assert.equal(posted.body.accepted, 3);
});

after(async () => {
  await e2e?.close();
});

const rows = (page: Page) => page.getByTestId('events-panel').getByTestId('event-row');

async function rowSummary(page: Page): Promise<string[]> {
  return page.getByTestId('events-panel').getByTestId('event-row').evaluateAll((trs) =>
    trs.map((tr) => `${tr.getAttribute('data-event')}/${tr.getAttribute('data-level')}`),
  );
}

test('device events: newest first with names, levels and values; filters; live; older; 中文; errors', { timeout: 180_000 }, async () => {
  assert.ok(e2e, 'platform and browser started');
  const { browser } = e2e;
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'events-open', async () => {
    await signIn(page, e2e!.platform.httpUrl, 'admin', PASSWORD);
    await page.getByTestId('device-row').first().waitFor();
    await page.goto(`${e2e!.platform.httpUrl}/#/devices/oven-1`);
    await page.getByTestId('events-panel').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-panel"] [data-testid="event-row"]').length === 2);
  });

  await withScreenshot(page, 'events-rows', async () => {
    const panel = page.getByTestId('events-panel');
    assert.equal(await text(panel.locator('h3')), 'Events');
    // The last 24 h, newest first; the 30 h old event is not loaded yet.
    assert.deepEqual(await rowSummary(page), ['door_opened/info', 'overheat/alert']);
    const [door, heat] = [rows(page).nth(0), rows(page).nth(1)];
    assert.equal(await text(door.locator('td').first()), formatTimestamp(T_DOOR));
    assert.equal(await text(door.getByTestId('event-name')), 'Door opened door_opened');
    assert.equal(await text(door.getByTestId('event-level')), 'Info');
    assert.match((await door.getByTestId('event-level').getAttribute('class')) ?? '', /badge-info/);
    assert.equal(await text(door.getByTestId('event-values')), 'no values');
    assert.equal(await text(heat.locator('td').first()), formatTimestamp(T_OVERHEAT));
    assert.equal(await text(heat.getByTestId('event-name')), 'Overheat overheat', 'the English half of the name, then the id');
    assert.equal(await text(heat.getByTestId('event-level')), 'Alert');
    assert.match((await heat.getByTestId('event-level').getAttribute('class')) ?? '', /badge-bad/);
    const colour = (l: Locator) => l.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(await colour(heat.getByTestId('event-level')), 'rgb(207, 34, 46)', 'alert is red');
    assert.equal(await colour(door.getByTestId('event-level')), 'rgb(31, 111, 235)', 'info is blue');
    assert.equal(await text(heat.locator('[data-output="temperature"]')), 'Temperature: 91.5 °C');
    assert.equal(await text(heat.locator('[data-output="zone"]')), 'zone: spindle');
    assert.match((await text(panel.getByTestId('events-since'))) ?? '', /^Showing 2 events since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, newest first\.$/);
  });

  await withScreenshot(page, 'events-filter', async () => {
    const level = page.getByTestId('events-filter-level');
    await level.selectOption('alert');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-panel"] [data-testid="event-row"]').length === 1);
    assert.deepEqual(await rowSummary(page), ['overheat/alert']);
    await level.selectOption('warn');
    await page.getByTestId('events-empty').waitFor();
    assert.match((await text(page.getByTestId('events-empty'))) ?? '', /^No matching events since /);
    await level.selectOption('');
    await page.getByTestId('events-filter-event').selectOption('door_opened');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-panel"] [data-testid="event-row"]').length === 1);
    assert.deepEqual(await rowSummary(page), ['door_opened/info']);
    await page.getByTestId('events-filter-event').selectOption('');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-panel"] [data-testid="event-row"]').length === 2);
  });

  await withScreenshot(page, 'events-live', async () => {
    // Marks on the page and on a row: a reload would drop the first, re-created rows the second.
    await page.evaluate(() => {
      (window as unknown as { eventsMark: number }).eventsMark = 1;
      document.querySelector('[data-testid="event-row"][data-event="overheat"]')?.setAttribute('data-mark', 'kept');
    });
    const posted = await postEvents({ event: 'overheat', data: { temperature: 120 } });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-panel"] [data-testid="event-row"]').length === 3);
    assert.deepEqual(await rowSummary(page), ['overheat/alert', 'door_opened/info', 'overheat/alert']);
    assert.equal(await rows(page).nth(0).getAttribute('data-seq'), String(posted.body.seqs?.[0]));
    assert.equal(await text(rows(page).nth(0).getByTestId('event-values')), 'Temperature: 120 °C');
    assert.equal(await page.evaluate(() => (window as unknown as { eventsMark?: number }).eventsMark), 1, 'no page reload');
    assert.equal(await rows(page).nth(2).getAttribute('data-mark'), 'kept', 'the rows already shown were kept, not re-created');
  });

  await withScreenshot(page, 'events-older', async () => {
    await page.getByTestId('events-older').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="events-panel"] [data-testid="event-row"]').length === 4);
    assert.deepEqual(await rowSummary(page), ['overheat/alert', 'door_opened/info', 'overheat/alert', 'door_opened/info']);
    assert.equal(await text(rows(page).nth(3).locator('td').first()), formatTimestamp(T_OLD));
    assert.equal(await text(page.getByTestId('events-since')), `Showing 4 events since ${formatTimestamp(await sinceOf(page))}, newest first.`);
  });

  await withScreenshot(page, 'events-zh', async () => {
    await page.getByTestId('lang-switch').click();
    const panel = page.getByTestId('events-panel');
    await panel.getByText('事件', { exact: true }).first().waitFor();
    assert.equal(await text(panel.locator('h3')), '事件');
    assert.equal(await text(rows(page).nth(0).getByTestId('event-name')), '过热 overheat');
    assert.equal(await text(rows(page).nth(0).getByTestId('event-level')), '告警');
    assert.equal(await text(rows(page).nth(1).getByTestId('event-level')), '信息');
    assert.equal(await text(rows(page).nth(1).getByTestId('event-values')), '无输出值');
    assert.equal(await text(rows(page).nth(2).locator('[data-output="temperature"]')), '温度: 91.5 °C');
    assert.deepEqual(await panel.locator('th').allTextContents(), ['时间', '事件', '级别', '输出值']);
    assert.match((await text(panel.getByTestId('events-since'))) ?? '', /^自 .* 以来共 4 条事件，最新的在前。$/);
    assert.equal(await text(page.getByTestId('events-filter-level').locator('option').first()), '全部级别');
    assert.equal(await text(page.getByTestId('events-filter-event').locator('option').nth(1)), '过热');
    assert.equal(await text(page.getByTestId('events-older')), '加载更早的事件（向前 24 小时）');
  });

  await withScreenshot(page, 'events-error', async () => {
    // The device is deleted behind the page's back: the next refresh is refused, and the panel says with which code.
    assert.equal((await call('DELETE', '/devices/oven-1')).status, 204);
    const err = page.getByTestId('events-error');
    await err.waitFor();
    assert.match((await text(err)) ?? '', /^IIP_ERR_[A-Z_]+ /);
    assert.equal(await rows(page).count(), 4, 'the last good rows stay beside the error');
  });
});

/** The window start the panel shows, read back from its "since" line (the page computed it from its own clock). */
async function sinceOf(page: Page): Promise<number> {
  const m = /since (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)/.exec((await text(page.getByTestId('events-since'))) ?? '');
  assert.ok(m, 'since line has a time');
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const since = new Date(y, mo - 1, d, h, mi, s).getTime();
  assert.ok(Math.abs(since - (now - 48 * HOUR)) < 5 * 60_000, `"load older" moved the window back 24 h (${new Date(since).toISOString()})`);
  return since;
}
