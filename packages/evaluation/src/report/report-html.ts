/**
 * Renders the self-contained HTML report: tables are rendered here as static HTML in both languages (they
 * read without script and print well), while the charts are drawn in the browser by the inlined ECharts
 * from a JSON payload. Nothing is fetched over the network, so the file can be mailed or archived as is.
 */
import type { EvaluationResult, IndicatorNode } from '../result.js';
import { indicatorMap, matrixOf, tierNameEn } from './report-tables.js';
import { type Bilingual, REPORT_TEXT as T } from './report-text.js';

export type ReportLang = 'zh' | 'en' | 'both';

export interface ReportHtmlInput {
  readonly result: EvaluationResult;
  readonly lang: ReportLang;
  /** With lang 'both': the language shown first (default 中文); the page's switch changes it. */
  readonly initial?: 'zh' | 'en';
  readonly synthetic: boolean;
  readonly generatedAt: Date;
  /** The ECharts library source, inlined. */
  readonly echarts: string;
  /** The browser script that draws the charts from the payload. */
  readonly script: string;
  readonly css: string;
}

/** What the browser script needs; a trimmed view of the result so the page stays small. */
export interface ReportPayload {
  lang: 'zh' | 'en';
  years: number[];
  baseYear: number;
  latestYear: number | null;
  names: Record<string, Bilingual>;
  firstLevel: string[];
  national: Record<string, number[]>;
  scores: Array<{ region: string; overall: number; rank: number; tier: number | null; byIndicator: Record<string, number> }>;
  tierNames: Bilingual[];
  breaks: number[];
  uncertainty: { runs: number; ranks: Array<{ region: string; median: number; p5: number; p95: number; min: number; max: number }> } | null;
  text: Record<string, Bilingual>;
}

/** Row cap for long tables in the page; the CSV beside it always has every row. */
const MAX_ROWS = 400;

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Both languages in the markup; a class on <html> shows one (CSS), so switching needs no re-render. */
function bi(b: Bilingual): string {
  if (b.zh === b.en) return esc(b.zh);
  return `<span class="zh">${esc(b.zh)}</span><span class="en">${esc(b.en)}</span>`;
}

function fill(b: Bilingual, params: Record<string, string | number>): Bilingual {
  const f = (s: string) => s.replace(/\{(\w+)\}/g, (w, k: string) => (k in params ? String(params[k]) : w));
  return { zh: f(b.zh), en: f(b.en) };
}

function num(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

/** JSON that is safe inside <script>: no "</script>", no "<!--", and no U+2028/2029 line breaks. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Inline JavaScript must not close its own <script> element early. */
function scriptSource(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function table(head: Bilingual[], rows: string[][], opts: { id: string; numeric?: number[]; file?: string; total?: number }): string {
  const numeric = new Set(opts.numeric ?? []);
  const th = head.map((h, i) => `<th${numeric.has(i) ? ' class="num"' : ''}>${bi(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('\n');
  const note =
    opts.total !== undefined && opts.total > rows.length && opts.file ? `<p class="note">${bi(fill(T.truncated, { n: rows.length, file: opts.file }))}</p>` : '';
  return `<div class="table-wrap"><table id="${opts.id}" data-testid="${opts.id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>${note}`;
}

/** Tree order (depth first, children in framework order) so the weights table reads like the framework. */
function treeOrder(indicators: readonly IndicatorNode[]): IndicatorNode[] {
  const byId = new Map(indicators.map((n) => [n.id, n]));
  const out: IndicatorNode[] = [];
  const seen = new Set<string>();
  const visit = (n: IndicatorNode) => {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    out.push(n);
    for (const c of n.children) {
      const child = byId.get(c);
      if (child) visit(child);
    }
  };
  for (const n of indicators) if (n.parent === null || !byId.has(n.parent)) visit(n);
  for (const n of indicators) visit(n);
  return out;
}

export function buildPayload(result: EvaluationResult, lang: 'zh' | 'en'): ReportPayload {
  const nodes = result.framework.indicators;
  const firstLevel = nodes.filter((n) => n.level === 1).map((n) => n.id);
  const names: Record<string, Bilingual> = { overall: T.overall };
  for (const n of nodes) names[n.id] = { zh: n.nameZh, en: n.nameEn };
  const national: Record<string, number[]> = {};
  for (const s of result.national.index) if (s.id === 'overall' || firstLevel.includes(s.id)) national[s.id] = s.values;
  const latest = result.regional.at(-1);
  const tierOf = new Map(result.tiers.assignments.map((a) => [a.region, a.tier]));
  const scores = (latest?.scores ?? []).map((s) => {
    const byIndicator: Record<string, number> = {};
    for (const id of firstLevel) {
      const v = s.byIndicator[id];
      if (v !== undefined) byIndicator[id] = v;
    }
    return { region: s.region, overall: s.overall, rank: s.rank, tier: tierOf.get(s.region) ?? null, byIndicator };
  });
  const text: Record<string, Bilingual> = {};
  for (const [k, v] of Object.entries(T)) if ('zh' in v && typeof v.zh === 'string') text[k] = v as Bilingual;
  text.tierCol = T.col.tier;
  text.scoreCol = T.col.score;
  text.rankCol = T.col.rank;
  text.median = T.col.median;
  return {
    lang,
    years: result.years,
    baseYear: result.national.baseYear,
    latestYear: latest?.year ?? null,
    names,
    firstLevel,
    national,
    scores,
    tierNames: result.tiers.names.map((n) => ({ zh: n, en: tierNameEn(n) })),
    breaks: result.tiers.breaks,
    uncertainty: result.uncertainty,
    text,
  };
}

/** `exact` may be a share (0–1) or a count of regions; both read as "k / n (p %)". */
function exactText(exact: number, n: number): string {
  const count = exact <= 1 && !(Number.isInteger(exact) && n <= 1) ? Math.round(exact * n) : exact;
  return n > 0 ? `${count} / ${n} (${num((100 * count) / n, 1)} %)` : String(exact);
}

function optionRows(options: Record<string, unknown>): string[][] {
  return Object.entries(options).map(([k, v]) => [esc(k), `<code>${esc(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}</code>`]);
}

function chart(id: string, title: Bilingual, extra = ''): string {
  return `<section class="card"><h3>${bi(title)}</h3>${extra}<div class="chart" id="chart-${id}" data-testid="chart-${id}" data-chart="${id}"></div></section>`;
}

export function renderReportHtml(input: ReportHtmlInput): string {
  const { result } = input;
  const initial: 'zh' | 'en' = input.lang === 'both' ? (input.initial ?? 'zh') : input.lang;
  const nodes = indicatorMap(result);
  const nm = (id: string): Bilingual => (id === 'overall' ? T.overall : nodes.has(id) ? { zh: nodes.get(id)!.nameZh, en: nodes.get(id)!.nameEn } : { zh: id, en: id });
  const latest = result.regional.at(-1);
  const scoreOf = new Map((latest?.scores ?? []).map((s) => [s.region, s]));
  const yesNo = (b: boolean) => (b ? `<span class="ok">${bi(T.yes)}</span>` : `<span class="bad">${bi(T.no)}</span>`);

  const weightOf = new Map(result.weights.map((w) => [w.id, w]));
  const weightRows = treeOrder(result.framework.indicators).map((n) => {
    const w = weightOf.get(n.id);
    const m = matrixOf(result, n.id);
    return [
      `<span class="indent-${n.level}">${bi(nm(n.id))}</span> <span class="muted mono">${esc(n.id)}</span>`,
      String(n.level),
      n.parent ? bi(nm(n.parent)) : '—',
      bi(n.direction === 1 ? T.higherBetter : T.lowerBetter),
      num(w?.local, 2),
      num(w?.global, 2),
      m ? `<span class="${m.accepted ? 'ok' : 'bad'}">${num(m.cr, 4)}</span>` : '—',
    ];
  });
  const ahpRows = result.ahp.map((m) => [
    `<span class="mono">${esc(m.matrixId)}</span>`,
    String(m.ids.length),
    num(m.lambdaMax, 4),
    num(m.ci, 4),
    num(m.ri, 2),
    `<span class="${m.accepted ? 'ok' : 'bad'}">${num(m.cr, 4)}</span>`,
    yesNo(m.accepted),
  ]);
  const tierRows = result.tiers.names.map((name, i) => {
    const members = result.tiers.assignments
      .filter((a) => a.tier === i)
      .map((a) => a.region)
      .sort((a, b) => (scoreOf.get(a)?.rank ?? 0) - (scoreOf.get(b)?.rank ?? 0));
    const list = members.map((r) => `${esc(r)} <span class="muted">${num(scoreOf.get(r)?.overall, 2)}</span>`).join('、');
    return [`<span class="tier-dot t${i}"></span>${bi({ zh: name, en: tierNameEn(name) })}`, String(members.length), list || '—'];
  });
  const agreement = result.tiers.agreement
    ? `<h3>${bi(T.agreement)}</h3>${table([T.col.exact, T.col.ari], [[exactText(result.tiers.agreement.exact, result.tiers.assignments.length), num(result.tiers.agreement.ari, 4)]], { id: 'table-agreement', numeric: [0, 1] })}`
    : '';
  const contributionRows = result.contributions.flatMap((c) =>
    c.shares.map((s) => [bi(nm(c.parent)), String(c.fromYear), String(c.toYear), bi(nm(s.id)), num(s.share, 1)]),
  );
  const growthRows = result.growth
    .filter((g) => g.id === 'overall' || nodes.get(g.id)?.level === 1)
    .map((g) => [bi(nm(g.id)), ...result.years.map((_, i) => num(g.yoy[i], 2)), num(g.cagr, 2)]);
  const coverageRows = result.coverage.map((c) => {
    const total = c.present + c.missing;
    return [bi(nm(c.indicator)), String(c.year), String(c.present), c.missing > 0 ? `<span class="bad">${c.missing}</span>` : '0', total > 0 ? num((100 * c.present) / total, 1) : '—'];
  });
  const imputedRows = result.imputed.map((c) => [esc(c.region), bi(nm(c.indicator)), String(c.year), esc(c.method), num(c.value, 4)]);
  const cronbachRows = result.cronbach.map((c) => [bi(nm(c.group)), num(c.alpha, 3)]);

  const payload = buildPayload(result, initial);
  const regionOptions = (latest?.scores ?? [])
    .slice()
    .sort((a, b) => a.rank - b.rank)
    .map((s) => `<option value="${esc(s.region)}">${esc(s.region)}</option>`)
    .join('');
  const synthetic = input.synthetic ? `<div class="synthetic" role="note" data-testid="synthetic-label">⚠ ${bi(T.synthetic)}</div>` : '';
  const langSwitch =
    input.lang === 'both' ? `<button type="button" id="lang-switch" data-testid="lang-switch" class="lang-switch">${bi(T.switchLang)}</button>` : '';
  const yearsText = result.years.length ? `${result.years[0]}–${result.years.at(-1)}` : '—';

  return `<!doctype html>
<html lang="${initial === 'zh' ? 'zh-CN' : 'en'}" class="lang-${initial}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="iip evaluation">
<title>${esc(T.title[initial])} — ${esc(initial === 'zh' ? result.framework.nameZh : result.framework.nameEn)}</title>
<style>${input.css}</style>
</head>
<body>
<header class="head">
  <div>
    <h1>${bi(T.title)}</h1>
    <p class="meta">${bi(T.framework)}: ${bi({ zh: result.framework.nameZh, en: result.framework.nameEn })} <span class="mono muted">(${esc(result.framework.id)})</span>
    · ${bi(T.years)}: ${esc(yearsText)} · ${bi(T.regions)}: ${result.regions.length}
    · ${bi(T.generated)}: ${esc(input.generatedAt.toISOString().replace('T', ' ').slice(0, 16))} UTC</p>
  </div>
  ${langSwitch}
</header>
${synthetic}
<main>
<div class="charts">
${chart('national', T.nationalTrend)}
${chart('subindex', T.subIndexTrend)}
${chart('ranking', T.ranking)}
${chart('radar', T.radar, `<label class="picker">${bi(T.radarRegion)} <select id="radar-region" data-testid="radar-region">${regionOptions}</select></label>`)}
${chart('tiers', T.tierChart)}
${result.uncertainty ? chart('uncertainty', T.uncertainty) : `<section class="card"><h3>${bi(T.uncertainty)}</h3><p class="note">${bi(T.noUncertainty)}</p></section>`}
</div>

<section class="block" id="section-tiers"><h2>${bi(T.tiers)} <span class="muted small mono">${esc(result.tiers.method)}</span></h2>
${table([T.col.tier, T.col.regions, T.col.score], tierRows, { id: 'table-tiers', numeric: [1] })}
${agreement}
</section>

<section class="block" id="section-weights"><h2>${bi(T.weights)}</h2>
${table([T.col.indicator, T.col.level, T.col.parent, T.col.direction, T.col.local, T.col.global, T.col.cr], weightRows, { id: 'table-weights', numeric: [1, 4, 5, 6] })}
<h3>${bi(T.ahp)}</h3>
${table([T.col.matrix, T.col.size, T.col.lambdaMax, T.col.ci, T.col.ri, T.col.crValue, T.col.accepted], ahpRows, { id: 'table-ahp', numeric: [1, 2, 3, 4, 5] })}
</section>

<section class="block" id="section-growth"><h2>${bi(T.growth)}</h2>
${table([T.col.indicator, ...result.years.map((y) => ({ zh: `${y} 同比 %`, en: `${y} YoY %` })), T.col.cagr], growthRows, { id: 'table-growth', numeric: result.years.map((_, i) => i + 1).concat(result.years.length + 1) })}
</section>

<section class="block" id="section-contributions"><h2>${bi(T.contributions)}</h2>
${table([T.col.parent, T.col.from, T.col.to, T.col.indicator, T.col.share], contributionRows.slice(0, MAX_ROWS), { id: 'table-contributions', numeric: [1, 2, 4], file: 'tables/contributions.csv', total: contributionRows.length })}
</section>

<section class="block" id="section-reliability"><h2>${bi(T.reliability)}</h2>
${table([T.col.group, T.col.alpha], cronbachRows, { id: 'table-cronbach', numeric: [1] })}
</section>

<section class="block" id="section-coverage"><h2>${bi(T.coverage)}</h2>
${table([T.col.indicator, T.col.year, T.col.present, T.col.missing, T.col.coverage], coverageRows.slice(0, MAX_ROWS), { id: 'table-coverage', numeric: [1, 2, 3, 4], file: 'tables/coverage.csv', total: coverageRows.length })}
</section>

<section class="block" id="section-imputed"><h2>${bi(T.imputed)} <span class="muted small">(${result.imputed.length})</span></h2>
${imputedRows.length ? table([T.col.region, T.col.indicator, T.col.year, T.col.methodName, T.col.value], imputedRows.slice(0, MAX_ROWS), { id: 'table-imputed', numeric: [2, 4], file: 'tables/imputed.csv', total: imputedRows.length }) : `<p class="note" data-testid="table-imputed">${bi(T.noImputed)}</p>`}
</section>

<section class="block" id="section-method"><h2>${bi(T.method)}</h2>
${table([T.col.option, T.col.setting], optionRows(result.options), { id: 'table-options' })}
<p class="note">${bi(T.files)}: ${bi(T.filesNote)}</p>
</section>
</main>
<script type="application/json" id="iip-report-data">${scriptJson(payload)}</script>
<script>${scriptSource(input.echarts)}</script>
<script>${scriptSource(input.script)}</script>
</body>
</html>
`;
}
