/**
 * End to end: `iip eval run --example` (the real CLI in its own process) writes a report folder, and the
 * page opens from file:// in Debian's headless chromium with every chart drawn. "Drawn" is checked on the
 * canvas pixels — each chart must hold coloured (series) pixels, not only grey axes — and the page must make
 * no network request at all. A screenshot is left beside the report.
 *
 * Run: node --import tsx --test packages/evaluation/test/report.e2e.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { run } from '@iip/testkit';
import { chromium, type Page } from 'playwright-core';

const CLI = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
const CHARTS = ['national', 'subindex', 'ranking', 'radar', 'tiers', 'uncertainty'] as const;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const outDir = mkdtempSync(join(tmpdir(), 'iip-eval-e2e-report-'));
const profileDir = mkdtempSync(join(tmpdir(), 'iip-eval-e2e-chromium-'));
after(() => {
  rmSync(profileDir, { recursive: true, force: true });
  // The report and its screenshot stay for a look after a failure.
  if (!process.env.IIP_KEEP_E2E) rmSync(outDir, { recursive: true, force: true });
});

// The root tsconfig has no DOM library (it is shared by Node code); the few browser shapes used in
// page.evaluate are declared here instead.
interface BrowserCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}
interface BrowserGlobals {
  document: { querySelectorAll(selector: string): ArrayLike<BrowserCanvas> };
  __iipReport?: { ready?: boolean };
}

/** Pixels of a chart's canvases: all opaque non-white ("ink") and clearly coloured (series, not grey axes). */
function chartPixels(page: Page, id: string): Promise<{ canvases: number; width: number; ink: number; coloured: number }> {
  return page.evaluate((chartId) => {
    const canvases = Array.from((globalThis as unknown as BrowserGlobals).document.querySelectorAll(`#chart-${chartId} canvas`));
    let ink = 0;
    let coloured = 0;
    let width = 0;
    for (const c of canvases) {
      width = Math.max(width, c.width);
      const ctx = c.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) continue;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        const r = d[i]!;
        const g = d[i + 1]!;
        const b = d[i + 2]!;
        if (d[i + 3]! < 128 || (r > 235 && g > 235 && b > 235)) continue;
        ink++;
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
      }
    }
    return { canvases: canvases.length, width, ink, coloured };
  }, id);
}

test('iip eval run --example writes a report whose charts render in headless chromium', { timeout: 85_000 }, async () => {
  const cli = await run(process.execPath, ['--import', 'tsx', CLI, 'eval', 'run', '--example', '--out', outDir, '--runs', '500', '--seed', '7'], 60_000);
  assert.equal(cli.code, 0, `CLI failed:\n${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stdout, /Monte Carlo/);
  assert.match(cli.stdout, /示范引领/, 'the summary lists the tiers');
  assert.match(cli.stdout, /CR=0\.\d{4}/, 'the summary gives the CR of the matrices');
  for (const f of ['index.html', 'result.json', 'tables/weights.csv', 'tables/tiers.csv', 'tables/coverage.csv', 'tables/imputed.csv']) {
    assert.ok(existsSync(join(outDir, f)), `${f} written`);
  }
  const result = JSON.parse(readFileSync(join(outDir, 'result.json'), 'utf8')) as { regions: string[]; uncertainty: { runs: number } | null };
  assert.equal(result.regions.length, 31);
  assert.equal(result.uncertainty?.runs, 500);

  const context = await chromium.launchPersistentContext(profileDir, { executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 }, args: CHROMIUM_ARGS });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(outDir, 'index.html')).href);
    await page.waitForFunction(() => (globalThis as unknown as BrowserGlobals).__iipReport?.ready === true, null, { timeout: 20_000 });

    const shot = join(outDir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 50_000, 'the screenshot has content');

    assert.ok(await page.getByTestId('synthetic-label').isVisible(), 'the synthetic data is labelled');
    assert.equal(await page.locator('h1 .zh').textContent(), '工业互联网发展成效评价报告');
    for (const id of CHARTS) {
      const px = await chartPixels(page, id);
      assert.ok(px.canvases >= 1 && px.width > 200, `chart ${id} has a canvas (${JSON.stringify(px)})`);
      assert.ok(px.ink > 2000, `chart ${id} is not blank (${JSON.stringify(px)})`);
      assert.ok(px.coloured > 300, `chart ${id} drew its series, not only axes (${JSON.stringify(px)})`);
    }
    const weightRows = await page.locator('#table-weights tbody tr').count();
    assert.ok(weightRows >= 24, `the weights table lists the indicators (${weightRows} rows)`);
    assert.ok((await page.locator('#table-ahp tbody tr').count()) >= 1, 'the AHP table lists the matrices');

    // The language switch: English text shows, Chinese hides, and the charts are redrawn, not lost.
    await page.getByTestId('lang-switch').click();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.ok(await page.locator('h1 .en').isVisible());
    assert.ok(!(await page.locator('h1 .zh').isVisible()));
    const after = await chartPixels(page, 'subindex');
    assert.ok(after.coloured > 300, 'charts still drawn after switching language');
    await page.selectOption('#radar-region', { index: 5 });
    assert.ok((await chartPixels(page, 'radar')).coloured > 300, 'the radar redraws for another region');

    assert.deepEqual(errors, [], 'no script error on the page');
    assert.deepEqual(requests, [], 'the report makes no network request');
  } finally {
    await context.close();
  }
});

test('iip eval run names the file, row and column of bad data, with its IIP_ERR code', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-eval-e2e-bad-'));
  try {
    const csv = join(dir, 'bad.csv');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(csv, 'region,indicator,year,value\n广东,no_such_indicator,2020,1\n');
    const r = await run(process.execPath, ['--import', 'tsx', CLI, 'eval', 'run', 'caict-2024', csv, '--out', join(dir, 'out')], 60_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR/);
    assert.match(r.stderr, /bad\.csv/);
    assert.match(r.stderr, /row 2/i);
    assert.match(r.stderr, /column 2/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
