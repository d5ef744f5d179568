/**
 * `writeReport`: publishes an evaluation result as a folder — `index.html` (self-contained: ECharts and the
 * data inlined, no network), `result.json` (the whole result), and `tables/*.csv` (every table the engine
 * produced plus the report's main tables), so the figures in the page can be checked and re-used.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { EvaluationResult } from '../result.js';
import { csvFileName, type Row, toCsv } from './csv.js';
import { type ReportLang, renderReportHtml } from './report-html.js';
import { reportTables } from './report-tables.js';

export interface WriteReportOptions {
  /** Starting language; 'both' (default) starts in 中文 and shows a switch. */
  readonly lang?: ReportLang;
  /** With lang 'both': the language shown first (default 中文). */
  readonly initial?: 'zh' | 'en';
  /** Label the data as synthetic; by default taken from `result.options.synthetic`. */
  readonly synthetic?: boolean;
  /** Fixed time stamp for reproducible output (default: now). */
  readonly generatedAt?: Date;
}

let echartsSource: Promise<string> | undefined;
let pageAssets: Promise<{ script: string; css: string }> | undefined;

/** Read once per process: the library is 1 MB and the REST API renders reports on demand. */
function loadEcharts(): Promise<string> {
  echartsSource ??= readFile(createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js'), 'utf8');
  return echartsSource;
}

function loadAssets(): Promise<{ script: string; css: string }> {
  pageAssets ??= Promise.all([readFile(new URL('./report-page.js', import.meta.url), 'utf8'), readFile(new URL('./report-page.css', import.meta.url), 'utf8')]).then(
    ([script, css]) => ({ script, css }),
  );
  return pageAssets;
}

export function isSynthetic(result: EvaluationResult): boolean {
  const o = result.options;
  return o.synthetic === true || (typeof o.data === 'object' && o.data !== null && (o.data as { synthetic?: unknown }).synthetic === true);
}

/** The report page as one HTML string (what `index.html` holds); used by the REST API as well. */
export async function renderReport(result: EvaluationResult, opts: WriteReportOptions = {}): Promise<string> {
  const [echarts, assets] = await Promise.all([loadEcharts(), loadAssets()]);
  return renderReportHtml({
    result,
    lang: opts.lang ?? 'both',
    ...(opts.initial ? { initial: opts.initial } : {}),
    synthetic: opts.synthetic ?? isSynthetic(result),
    generatedAt: opts.generatedAt ?? new Date(),
    echarts,
    script: assets.script,
    css: assets.css,
  });
}

/** Every CSV the report folder holds, by file name: the engine's tables first, then the main tables. */
export function reportCsvFiles(result: EvaluationResult): Map<string, string> {
  const files = new Map<string, string>();
  const taken = new Set<string>();
  // "national_index" and "national-index" are the same table to a reader; the engine's is authoritative.
  const key = (file: string) => file.toLowerCase().replace(/[-_\s]/g, '');
  const add = (name: string, rows: readonly Row[]) => {
    const file = csvFileName(name);
    if (taken.has(key(file))) return;
    taken.add(key(file));
    files.set(file, toCsv(rows));
  };
  for (const [name, rows] of Object.entries(result.tables)) add(name, rows);
  for (const [name, rows] of Object.entries(reportTables(result))) add(name, rows);
  return files;
}

export async function writeReport(result: EvaluationResult, outDir: string, opts: WriteReportOptions = {}): Promise<{ files: string[] }> {
  const tablesDir = join(outDir, 'tables');
  await mkdir(tablesDir, { recursive: true });
  const written: string[] = [];
  const put = async (path: string, text: string) => {
    await writeFile(path, text, 'utf8');
    written.push(path);
  };
  await put(join(outDir, 'index.html'), await renderReport(result, opts));
  await put(join(outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  for (const [file, csv] of reportCsvFiles(result)) await put(join(tablesDir, file), csv);
  return { files: written };
}
