/**
 * End to end through the platform: the /api/v1/evaluation REST API on a real server (sign-in required,
 * AHP answers for live CR, runs and their report, the bounds), and the console's evaluation page in
 * headless chromium — editing a judgment matrix turns the live CR red, and a run shows the report.
 *
 * Run: node --import tsx --test packages/evaluation/test/evaluation-api.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
// The platform is the composition root that serves this package's API; the test drives it as a user would.
import { startPlatform } from '@iip/server';
// The console's own e2e helpers: build the bundle when stale, launch chromium with a fresh profile.
import { DIST, ensureBuilt, launchBrowser, withScreenshot } from '../../console/test/e2e-browser.js';

const PASSWORD = 'eval-e2e-Pass-42';
const dataDir = mkdtempSync(join(tmpdir(), 'iip-eval-e2e-platform-'));
let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
let token = '';

before(async () => {
  ensureBuilt();
  platform = await startPlatform({ dataDir, httpPort: 0, mqttPort: 0, adminPassword: PASSWORD, consoleDir: DIST });
  const r = await fetch(`${platform.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
  token = ((await r.json()) as { token: string }).token;
});

after(async () => {
  await platform?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; json: Record<string, unknown>; text: string; type: string | null }> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${platform!.httpUrl}/api/v1/evaluation${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // HTML answers (the report) are not JSON.
  }
  return { status: r.status, json, text, type: r.headers.get('content-type') };
}

test('REST: sign-in required; frameworks; AHP with live CR; runs, their result and report', { timeout: 60_000 }, async () => {
  assert.equal((await api('GET', '/frameworks', undefined, false)).status, 401);

  const list = await api('GET', '/frameworks');
  assert.equal(list.status, 200);
  assert.ok((list.json.items as Array<{ id: string }>).some((f) => f.id === 'caict-2024'));
  const fw = await api('GET', '/frameworks/caict-2024');
  assert.equal(fw.status, 200);
  assert.ok(Array.isArray(fw.json.indicators) && Array.isArray(fw.json.groups));
  assert.equal((await api('GET', '/frameworks/nope')).json.code, 'IIP_ERR_EVAL_FRAMEWORK_UNKNOWN');

  // Issue 5's worked example, with judgments written as analysts type them.
  const ahp = await api('POST', '/ahp', { matrix: [[1, 3, 5], ['1/3', 1, 3], ['1/5', '1/3', 1]], ids: ['a', 'b', 'c'] });
  assert.equal(ahp.status, 200, ahp.text);
  const w = ahp.json.weights as number[];
  assert.ok(Math.abs(w[0]! - 0.637) < 1e-3 && Math.abs(w[1]! - 0.2583) < 1e-3 && Math.abs(w[2]! - 0.1047) < 1e-3, `weights ${w}`);
  assert.ok(Math.abs((ahp.json.cr as number) - 0.033) < 1e-3);
  assert.equal(ahp.json.accepted, true);
  // Inconsistent judgments are answered (for the editor), marked not accepted.
  const bad = await api('POST', '/ahp', { matrix: [[1, 9, '1/9'], ['1/9', 1, 9], [9, '1/9', 1]] });
  assert.equal(bad.status, 200);
  assert.equal(bad.json.accepted, false);
  assert.ok((bad.json.cr as number) >= 0.1);
  assert.equal((await api('POST', '/ahp', { matrix: [[1, 3], [3, 1]] })).json.code, 'IIP_ERR_EVAL_MATRIX_RECIPROCAL');

  const created = await api('POST', '/runs', { example: true, framework: 'caict-2024', options: { runs: 200, seed: 3 } });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id as string;
  const result = created.json.result as { regions: string[]; uncertainty: { runs: number }; options: Record<string, unknown> };
  assert.equal(result.regions.length, 31);
  assert.equal(result.uncertainty.runs, 200);
  assert.equal(result.options.synthetic, true);
  const again = await api('GET', `/runs/${id}`);
  assert.deepEqual(again.json.result, created.json.result);
  const report = await api('GET', `/runs/${id}/report`);
  assert.equal(report.status, 200);
  assert.match(report.type ?? '', /text\/html/);
  assert.match(report.text, /id="chart-uncertainty"/);

  // CSV upload: the error names the upload, row and column.
  const csv = await api('POST', '/runs', { framework: 'caict-2024', data: { csv: 'region,indicator,year,value\n广东,nope,2020,1\n', name: 'mine.csv' } });
  assert.equal(csv.status, 422);
  assert.equal(csv.json.code, 'IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR');
  assert.match(String(csv.json.message), /mine\.csv: row 2, column 2/);

  // Bounds: Monte Carlo runs per request, and unknown runs.
  assert.equal((await api('POST', '/runs', { example: true, options: { runs: 1_000_000 } })).json.code, 'IIP_ERR_VALIDATION');
  assert.equal((await api('GET', '/runs/00000000-0000-0000-0000-000000000000')).status, 404);
});

test('console: #/evaluation — an inconsistent matrix turns the live CR red; a run shows the report', { timeout: 85_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    await withScreenshot(page, 'evaluation', async () => {
      await page.goto(platform!.httpUrl);
      await page.getByTestId('login-username').fill('admin');
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('nav-evaluation').click();
      await page.waitForURL(/#\/evaluation/);

      const cr = page.getByTestId('eval-cr');
      await page.locator('[data-testid="eval-cr"][data-state="ok"]').waitFor();
      // Row 1 strongly over 2, 2 strongly over 3, yet 3 strongly over 1: a contradiction.
      await page.locator('[data-testid="eval-matrix-cell"][data-row="1"][data-col="2"]').selectOption('9');
      await page.locator('[data-testid="eval-matrix-cell"][data-row="2"][data-col="3"]').selectOption('9');
      await page.locator('[data-testid="eval-matrix-cell"][data-row="1"][data-col="3"]').selectOption('1/9');
      await page.locator('[data-testid="eval-cr"][data-state="bad"]').waitFor();
      const style = await cr.evaluate((el) => {
        const s = (globalThis as unknown as { getComputedStyle(e: unknown): { color: string; backgroundColor: string } }).getComputedStyle(el);
        return { color: s.color, background: s.backgroundColor };
      });
      const [r, g, b] = (/rgba?\((\d+), (\d+), (\d+)/.exec(style.background) ?? []).slice(1).map(Number);
      assert.ok(r! > 150 && g! < 90 && b! < 90, `the CR badge is red (${JSON.stringify(style)})`);
      assert.ok(Number(await cr.getAttribute('data-cr')) >= 0.1);

      // Back to the framework's consistent judgments, then run with the example data.
      await page.getByRole('button', { name: /Reset|还原/ }).click();
      await page.locator('[data-testid="eval-cr"][data-state="ok"]').waitFor();
      await page.getByTestId('eval-run').click();
      const frame = page.frameLocator('[data-testid="eval-report"]');
      await frame.locator('#chart-ranking canvas').first().waitFor();
      await page.getByTestId('eval-summary').waitFor();
      // Reset and untouched groups (one is group AHP of several experts) must weigh exactly as the framework does.
      const rest = await api('POST', '/runs', { example: true, framework: 'caict-2024', options: { runs: 0 } });
      const latest = (rest.json.result as { regional: Array<{ scores: Array<{ region: string; overall: number; rank: number }> }> }).regional.at(-1)!;
      const first = latest.scores.find((x) => x.rank === 1)!;
      assert.equal(await page.locator('[data-testid="eval-summary"] li').first().textContent(), `${first.region} ${first.overall.toFixed(2)}`);
      // The report opens in the console's language and follows a switch of it (it still carries both).
      const consoleLang = async () => ((await page.locator('html').getAttribute('lang')) ?? '').startsWith('zh') ? 'zh' : 'en';
      const reportLang = async () => ((await frame.locator('html').getAttribute('class')) ?? '').includes('lang-en') ? 'en' : 'zh';
      const before = await consoleLang();
      assert.equal(await reportLang(), before);
      await page.getByTestId('lang-switch').first().click();
      await page.waitForFunction((was) => !(globalThis as unknown as { document: { documentElement: { lang: string } } }).document.documentElement.lang.startsWith(was), before);
      const after = await consoleLang();
      assert.notEqual(after, before);
      await frame.locator(`html.lang-${after}`).waitFor();
      await frame.locator('#chart-ranking canvas').first().waitFor();
      await page.screenshot({ path: join(tmpdir(), 'iip-eval-console.png'), fullPage: true });
    });
  } finally {
    await browser.close();
  }
});
