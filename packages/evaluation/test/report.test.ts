/**
 * The report writer against a hand-made result: the folder's files, a self-contained page (no network,
 * ECharts and data inlined, both languages, the synthetic label), CSV quoting, and a hostile region name
 * that must not break out of the inlined <script>.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { reportCsvFiles, reportTables, toCsv, writeReport } from '@iip/evaluation';
import { fixtureResult, REGIONS } from './report-fixture.js';

function payloadOf(html: string): Record<string, unknown> {
  const m = /<script type="application\/json" id="iip-report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'payload script present');
  return JSON.parse(m[1]!) as Record<string, unknown>;
}

test('writeReport writes index.html, result.json and one CSV per table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-report-'));
  try {
    const result = fixtureResult();
    const { files } = await writeReport(result, dir, { generatedAt: new Date('2024-05-01T00:00:00Z') });
    assert.ok(files.includes(join(dir, 'index.html')));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')), result);
    const csvs = readdirSync(join(dir, 'tables')).sort();
    for (const name of ['normalised-2023.csv', 'weights.csv', 'tiers.csv', 'contributions.csv', 'coverage.csv', 'imputed.csv', 'ahp.csv', 'national-index.csv', 'uncertainty.csv']) {
      assert.ok(csvs.includes(name), `tables/${name} written (have ${csvs.join(', ')})`);
    }
    assert.equal(files.length, 2 + csvs.length);
    const tiers = readFileSync(join(dir, 'tables', 'tiers.csv'), 'utf8');
    assert.ok(tiers.startsWith('\uFEFFregion,tier,tier_zh,tier_en,score,rank\r\n'), 'BOM + header');
    assert.equal(tiers.trimEnd().split('\r\n').length, 1 + REGIONS.length);
    assert.match(tiers, /示范引领,Leading/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the page is self-contained and bilingual, with every chart container and table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-report-'));
  try {
    await writeReport(fixtureResult(), dir);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    // No network: no external script, stylesheet, image or font.
    // (Inline script bodies are left out: ECharts' own source holds markup strings such as its save-as-image <img>.)
    const markup = html.replace(/<script>[\s\S]*?<\/script>/g, '<script></script>');
    assert.doesNotMatch(markup, /<(script|img|iframe|source|video|audio)[^>]+src=/i);
    assert.doesNotMatch(markup, /<link[^>]+href=/i);
    assert.doesNotMatch(markup, /url\(/i, 'no CSS url() either');
    assert.ok(html.length > 1_000_000, 'ECharts is inlined');
    for (const id of ['national', 'subindex', 'ranking', 'radar', 'tiers', 'uncertainty']) assert.match(html, new RegExp(`id="chart-${id}"`));
    for (const id of ['table-weights', 'table-ahp', 'table-tiers', 'table-contributions', 'table-coverage', 'table-imputed']) assert.match(html, new RegExp(`id="${id}"`));
    assert.match(html, /data-testid="synthetic-label"/);
    assert.match(html, /<span class="zh">工业互联网发展成效评价报告<\/span><span class="en">Industrial Internet/);
    assert.match(html, /id="lang-switch"/);
    const payload = payloadOf(html);
    assert.equal(payload.lang, 'zh');
    assert.deepEqual(payload.firstLevel, ['foundation', 'innovation', 'industry', 'application', 'environment']);
    assert.equal((payload.scores as unknown[]).length, 31);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('English only: starts in English, no switch; no Monte Carlo: a note instead of the chart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-report-'));
  try {
    await writeReport(fixtureResult({ uncertainty: null, options: {} }), dir, { lang: 'en' });
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.match(html, /<html lang="en" class="lang-en">/);
    assert.doesNotMatch(html, /id="lang-switch"/);
    assert.doesNotMatch(html, /id="chart-uncertainty"/);
    assert.match(html, /No Monte Carlo analysis in this run/);
    assert.doesNotMatch(html, /data-testid="synthetic-label"/, 'not labelled synthetic unless it is');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a region name holding markup stays data: escaped in tables, inert in the payload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-report-'));
  try {
    const evil = '</script><script>alert(1)</script>';
    const base = fixtureResult();
    const result = fixtureResult({
      regions: base.regions.map((r) => (r === '北京' ? evil : r)),
      regional: base.regional.map((y) => ({ ...y, scores: y.scores.map((s) => (s.region === '北京' ? { ...s, region: evil } : s)) })),
      tiers: { ...base.tiers, assignments: base.tiers.assignments.map((a) => (a.region === '北京' ? { ...a, region: evil } : a)) },
    });
    await writeReport(result, dir);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.equal(html.split('<script>alert(1)').length, 1, 'no injected script element');
    const scores = payloadOf(html).scores as Array<{ region: string }>;
    assert.ok(scores.some((s) => s.region === evil), 'the name survives the round trip');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: quoting, empty cells for null, full precision, and the engine table wins a name clash', () => {
  const csv = toCsv([{ a: 'x,y', b: 'say "hi"', c: null, d: 1 / 3 }, { a: ' pad', e: 'late column' }]);
  assert.equal(csv, '\uFEFFa,b,c,d,e\r\n"x,y","say ""hi""",,0.3333333333333333,\r\n" pad",,,,late column\r\n');
  const own = [{ mine: 1 }];
  const files = reportCsvFiles(fixtureResult({ tables: { weights: own } }));
  assert.equal(files.get('weights.csv'), toCsv(own));
  assert.ok(files.has('tiers.csv'));
  const tables = reportTables(fixtureResult());
  const w = tables.weights!.find((r) => r.id === 'foundation');
  assert.deepEqual({ local: w?.local_weight, cr: w?.cr, matrix: w?.matrix }, { local: 30, cr: 0.0268, matrix: 'root' });
});
