/**
 * End-to-end (issue 13, point 8): the Alarm KPIs page and the rule editor's backtest against a real platform in
 * Debian's chromium (playwright-core). A threshold rule watches two kilns; each posts five hours of readings with
 * its own timestamps (POST /api/v1/ingest, its own HTTP Basic credential) in which kiln 1 runs hot three times and
 * kiln 2 once, so the rule raises and clears four times. The KPI page shows what GET /alarms/kpis says (the total,
 * the peak 10 minutes, kiln 1 as the top bad actor and a chattering source, the high-severity bar) for 24 hours and
 * 7 days, and reads in 中文. On the Rules page a draft naming an unknown property is refused in place; the saved
 * rule's backtest over 24 hours shows as many alarms as POST /rules/backtest, per device, and the trend of kiln 1
 * with three shaded active spans on its strip (kiln 2: one).
 *
 * Run: node --import tsx --test packages/console/test/issue-13-kpis-backtest.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Call } from './e2e-api.ts';
import { signIn, text, withScreenshot } from './e2e-browser.ts';
import { type ConsoleE2e, startConsoleE2e } from './e2e-platform.ts';

const PASSWORD = 'harbour-lamp-kettle-7';
const KILN = {
  id: 'kiln',
  name: 'Kiln',
  model: { properties: [{ id: 't', access: 'r', dataType: { type: 'float', unit: '°C' } }], events: [], services: [] },
};
const RULE = {
  id: 'kiln-hot',
  name: 'Kiln too hot / 窑炉过热',
  scope: { product: 'kiln' },
  when: { threshold: { property: 't', op: '>', value: 90, deadband: 2 } },
  alarm: { severity: 'high', message: 'Kiln above 90 °C' },
};
const FIVE_MIN = 5 * 60_000;
/** Reading indexes (one every 5 minutes over 5 hours) at which each kiln is hot (95 °C; else 70 °C). */
const HOT: Record<string, ReadonlyArray<readonly [number, number]>> = {
  k1: [
    [10, 15],
    [25, 28],
    [40, 45],
  ],
  k2: [[30, 35]],
};

let e2e: ConsoleE2e | undefined;
const secrets = new Map<string, string>();
const call: Call = (method, path, opts) => e2e!.call(method, path, opts);

/** What a kiln does: five hours of readings, timestamped by the kiln, in one batch with its own credential. */
async function sendHistory(device: string, start: number): Promise<void> {
  const hot = HOT[device] ?? [];
  const records = Array.from({ length: 60 }, (_, i) => ({ ts: start + i * FIVE_MIN, values: { t: hot.some(([a, b]) => i >= a && i <= b) ? 95 : 70 } }));
  const res = await fetch(`${e2e!.platform.httpUrl}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/${device}:${secrets.get(device)}`).toString('base64')}` },
    body: JSON.stringify(records),
  });
  const body = await res.text();
  assert.equal(res.status, 202, body);
  assert.equal((JSON.parse(body) as { accepted: number }).accepted, 60);
}

interface Kpis {
  activations: number;
  per10Min: { mean: number; max: number };
  topBadActors: Array<{ rule: string; device: string; count: number }>;
  chattering: Array<{ rule: string; device: string; maxPerMinute: number }>;
  priorities: Record<string, { count: number }>;
}

async function kpis(range: { from: number; to: number }): Promise<Kpis> {
  const r = await call<Kpis>('GET', `/alarms/kpis?from=${range.from}&to=${range.to}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

before(async () => {
  e2e = await startConsoleE2e('kpis', PASSWORD);
  assert.equal((await call('POST', '/products', { body: KILN })).status, 201);
  for (const id of ['k1', 'k2']) {
    const dev = await call<{ secret: string }>('POST', '/devices', { body: { id, name: `Kiln ${id}`, product: 'kiln' } });
    assert.equal(dev.status, 201);
    secrets.set(id, dev.body.secret);
  }
  assert.equal((await call('POST', '/rules', { body: RULE })).status, 201);
  const start = Date.now() - 5 * 3_600_000;
  for (const id of ['k1', 'k2']) await sendHistory(id, start);
  // The rule engine takes the readings off the bus: wait until all four raises are alarms.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const k = await kpis({ from: Date.now() - 86_400_000, to: Date.now() + 1 });
    if (k.activations === 4) break;
    assert.ok(Date.now() < deadline, `4 activations expected, the KPIs count ${k.activations}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await e2e?.close();
});

/**
 * Waits until the KPI page has loaded the period `ms` long, and asks the API for the very range the page asked for
 * (10-minute periods count from `from`, so a range a second apart could split the peak differently).
 */
async function kpisShown(page: Page, ms: number): Promise<Kpis> {
  await page.waitForFunction((len) => {
    const range = document.querySelector('[data-testid="kpi-range"]');
    return (
      document.querySelector('[data-testid="alarm-kpis-page"]')?.getAttribute('data-loading') === 'false' &&
      Number(range?.getAttribute('data-to')) - Number(range?.getAttribute('data-from')) === len
    );
  }, ms);
  const range = page.getByTestId('kpi-range');
  return kpis({ from: Number(await range.getAttribute('data-from')), to: Number(await range.getAttribute('data-to')) });
}

test('alarm KPIs agree with the API, in English and 中文; the backtest on a trend agrees with the API', { timeout: 240_000 }, async () => {
  assert.ok(e2e, 'platform and browser started');
  const { browser } = e2e;
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);

  await withScreenshot(page, 'kpis-signin', async () => {
    await signIn(page, e2e!.platform.httpUrl, 'admin', PASSWORD);
    await page.getByTestId('device-row').first().waitFor();
    assert.equal(await text(page.getByTestId('nav-alarm-kpis')), 'Alarm KPIs');
    // Beside Alarms in the navigation.
    const nav = await page.locator('.nav a').evaluateAll((as) => as.map((a) => a.getAttribute('data-testid')));
    assert.equal(nav.indexOf('nav-alarm-kpis'), nav.indexOf('nav-alarms') + 1);
  });

  await withScreenshot(page, 'kpis-24h', async () => {
    await page.getByTestId('nav-alarm-kpis').click();
    assert.match(page.url(), /#\/alarm-kpis$/);
    const api = await kpisShown(page, 86_400_000);
    assert.equal(api.activations, 4);
    assert.equal(await page.getByTestId('kpi-total').getAttribute('data-value'), String(api.activations));
    assert.equal(await text(page.getByTestId('kpi-total')), '4 alarms in the period');
    assert.equal(await page.getByTestId('kpi-period-24h').getAttribute('aria-pressed'), 'true');
    // Rates: the mean over 144 periods, the busiest 10 minutes (the four raises came moments apart), and the targets.
    const per10 = page.getByTestId('kpi-per10min');
    assert.equal(Number(await per10.getAttribute('data-value')), api.per10Min.mean);
    assert.equal(await text(per10.getByTestId('kpi-value')), '0.03');
    assert.equal(await per10.getAttribute('data-level'), 'ok');
    assert.equal(await text(per10.getByTestId('kpi-peak')), `Busiest 10 minutes: ${api.per10Min.max}`);
    assert.match((await text(per10.getByTestId('kpi-target'))) ?? '', /^Target ≤ 1 per 10 min — manageable \(EEMUA 191\); 2 at most \(ISA-18.2\)$/);
    const perDay = page.getByTestId('kpi-per-day');
    assert.equal(await text(perDay.getByTestId('kpi-value')), '4');
    assert.match((await text(perDay.getByTestId('kpi-target'))) ?? '', /^Target ≈ 150 per day \(about 6 per hour\) — acceptable/);
    assert.equal(await text(page.getByTestId('kpi-flood').getByTestId('kpi-value')), '0%');
    // Kiln 1 is the top bad actor, with the API's count; kiln 2 next.
    const actors = page.getByTestId('kpi-bad-actor');
    assert.equal(await actors.count(), api.topBadActors.length);
    const top = api.topBadActors[0];
    assert.deepEqual([top?.device, top?.count], ['k1', 3]);
    assert.deepEqual(
      [await actors.first().getAttribute('data-device'), await actors.first().getAttribute('data-count'), await actors.first().getAttribute('data-rule')],
      [top?.device, String(top?.count), 'kiln-hot'],
    );
    // The rule's name comes from the rules list, asked beside the KPIs.
    await actors.first().getByTestId('kpi-rule').getByText('Kiln too hot').waitFor();
    assert.equal(await text(actors.first().getByTestId('kpi-rule')), 'Kiln too hot kiln-hot');
    assert.equal(await actors.first().getByTestId('kpi-device').getAttribute('href'), '#/devices/k1');
    assert.equal(await actors.nth(1).getAttribute('data-device'), 'k2');
    // Three raises of kiln 1 within a minute of each other: chattering, as the API says.
    const chatter = page.getByTestId('kpi-chatter-row');
    assert.deepEqual(
      await chatter.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-device')}:${tr.getAttribute('data-max')}`)),
      api.chattering.map((c) => `${c.device}:${c.maxPerMinute}`),
    );
    assert.ok(api.chattering.some((c) => c.device === 'k1'));
    await page.getByTestId('kpi-stale-empty').waitFor();
    // One bar per severity; all four alarms are high.
    const bars = page.getByTestId('kpi-priority');
    assert.deepEqual(await bars.evaluateAll((ds) => ds.map((d) => `${d.getAttribute('data-severity')}=${d.getAttribute('data-count')}`)), ['critical=0', 'high=4', 'medium=0', 'low=0']);
    assert.equal(api.priorities.high?.count, 4);
    const track = await page.locator('[data-severity="high"] .kpi-bar-track').evaluate((el) => el.getBoundingClientRect().width);
    const bar = await page.locator('[data-severity="high"] [data-testid="kpi-priority-bar"]').evaluate((el) => el.getBoundingClientRect().width);
    assert.ok(Math.abs(bar - track) < 1, `the high bar fills its track (${bar} of ${track})`);
  });

  await withScreenshot(page, 'kpis-7d', async () => {
    await page.getByTestId('kpi-period-7d').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="kpi-period-7d"]')?.getAttribute('aria-pressed') === 'true');
    const api = await kpisShown(page, 7 * 86_400_000);
    assert.equal(await page.getByTestId('kpi-total').getAttribute('data-value'), String(api.activations));
    // The same four alarms over a week: per day a seventh of them.
    assert.equal(Number(await page.getByTestId('kpi-per-day').getAttribute('data-value')), 4 / 7);
    assert.equal(await text(page.getByTestId('kpi-per-day').getByTestId('kpi-value')), '0.57');
  });

  await withScreenshot(page, 'kpis-zh', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('报警管理指标').waitFor();
    assert.equal(await text(page.getByTestId('nav-alarm-kpis')), '报警指标');
    assert.equal(await text(page.locator('.alarm-kpis-page h2')), '报警管理指标');
    assert.equal(await text(page.getByTestId('kpi-total')), '此时间段内共 4 次报警');
    assert.equal(await text(page.getByTestId('kpi-bad-actors').locator('h3')), '前 10 个最频繁报警源');
    assert.equal(await text(page.getByTestId('kpi-period-30d')), '最近 30 天');
    assert.equal(await text(page.locator('[data-testid="kpi-priority"][data-severity="high"]').getByTestId('alarm-severity')), '高');
    assert.equal(await text(page.getByTestId('kpi-bad-actor').first().getByTestId('kpi-rule')), '窑炉过热 kiln-hot');
  });

  await withScreenshot(page, 'backtest-refused', async () => {
    await page.getByTestId('nav-rules').click();
    const row = page.locator('[data-testid="rule-row"][data-id="kiln-hot"]');
    await row.getByTestId('rule-edit').click();
    await page.getByTestId('rule-editor').waitFor();
    assert.equal(await text(page.getByTestId('rule-backtest')), '回测');
    // A draft the platform refuses: shown where Check shows its refusals, with the field.
    await page.getByTestId('rule-json').fill(JSON.stringify({ ...RULE, when: { threshold: { property: 'pressure', op: '>', value: 1 } } }));
    await page.getByTestId('rule-backtest').click();
    const problem = page.getByTestId('rule-editor').getByTestId('rule-problem');
    await problem.waitFor();
    assert.equal(await problem.getAttribute('data-code'), 'IIP_ERR_RULE_UNKNOWN_PROPERTY');
    assert.equal(await problem.getAttribute('data-field'), 'when.threshold.property');
    assert.equal(await page.getByTestId('backtest-result').count(), 0);
  });

  await withScreenshot(page, 'backtest-run', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByTestId('rule-json').fill(JSON.stringify(RULE, null, 2));
    await page.getByTestId('backtest-period-24h').click();
    await page.getByTestId('rule-backtest').click();
    const result = page.getByTestId('backtest-result');
    await result.waitFor();
    assert.equal(await page.getByTestId('rule-problem').count(), 0);
    const to = Date.now();
    const api = await call<{ devices: number; alarms: number; truncated: boolean; results: Array<{ device: string; alarms: number }> }>('POST', '/rules/backtest', {
      body: { rule: RULE, from: to - 86_400_000, to },
    });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    assert.deepEqual([api.body.devices, api.body.alarms, api.body.truncated], [2, 4, false]);
    assert.equal(await result.getAttribute('data-alarms'), String(api.body.alarms));
    assert.equal(await text(page.getByTestId('backtest-summary')), `Over ${api.body.devices} devices the rule would have raised ${api.body.alarms} alarms.`);
    assert.equal(await page.getByTestId('backtest-truncated').count(), 0);
    // Per device, noisiest first, as the API counts them.
    const rows = page.getByTestId('backtest-device-row');
    assert.deepEqual(
      await rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-device')}:${tr.getAttribute('data-alarms')}`)),
      [...api.body.results].sort((a, b) => b.alarms - a.alarms).map((r) => `${r.device}:${r.alarms}`),
    );
    // The trend of kiln 1 (the chart and, beneath it, the strip with three active spans, raises and clears).
    const trend = page.getByTestId('backtest-trend');
    await trend.waitFor();
    assert.deepEqual([await trend.getAttribute('data-device'), await trend.getAttribute('data-property')], ['k1', 't']);
    await trend.locator('[data-testid="trend-chart"] canvas').first().waitFor();
    const strip = trend.getByTestId('backtest-timeline');
    assert.equal(await strip.evaluate((el) => el.tagName.toLowerCase()), 'svg');
    assert.equal(await strip.getAttribute('data-spans'), '3');
    assert.equal(await strip.getByTestId('backtest-span').count(), 3);
    assert.equal(await strip.getByTestId('backtest-raise').count(), 3);
    assert.equal(await strip.getByTestId('backtest-clear').count(), 3);
    // The spans are where kiln 1 was hot: each from its first hot reading to the first cool one after.
    const spans = await strip.getByTestId('backtest-span').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-to')) - Number(r.getAttribute('data-from'))));
    assert.deepEqual(spans, [6, 4, 6].map((n) => n * FIVE_MIN));
    const widths = await strip.getByTestId('backtest-span').evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().width));
    assert.ok(widths.every((w) => w > 1), `spans are visible (${widths.join(', ')} px)`);
    // Kiln 2: one span.
    await rows.nth(1).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="backtest-trend"]')?.getAttribute('data-device') === 'k2');
    assert.equal(await page.getByTestId('backtest-timeline').getByTestId('backtest-span').count(), 1);
  });
});
