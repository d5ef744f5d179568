/**
 * A hand-made EvaluationResult for the report tests: the CAICT first-level indicators with two children each,
 * 31 regions, 2020–2023, AHP matrices, tiers, Monte Carlo ranks and a few imputed cells. Values are invented
 * and deterministic; the report must render any result of this shape, not reproduce numbers.
 */
import type { EvaluationResult, IndicatorNode } from '@iip/evaluation';

const FIRST = [
  ['foundation', '基础能力', 'Foundation'],
  ['innovation', '技术创新', 'Technology innovation'],
  ['industry', '产业发展', 'Industry development'],
  ['application', '应用推广', 'Application & adoption'],
  ['environment', '发展环境', 'Development environment'],
] as const;

export const REGIONS = [
  '北京', '天津', '河北', '山西', '内蒙古', '辽宁', '吉林', '黑龙江', '上海', '江苏', '浙江', '安徽', '福建', '江西', '山东', '河南',
  '湖北', '湖南', '广东', '广西', '海南', '重庆', '四川', '贵州', '云南', '西藏', '陕西', '甘肃', '青海', '宁夏', '新疆',
];

export function fixtureResult(overrides: Partial<EvaluationResult> = {}): EvaluationResult {
  const indicators: IndicatorNode[] = [];
  for (const [id, zh, en] of FIRST) {
    indicators.push({ id, nameZh: zh, nameEn: en, level: 1, parent: null, direction: 1, children: [`${id}.a`, `${id}.b`] });
    indicators.push({ id: `${id}.a`, nameZh: `${zh}甲`, nameEn: `${en} A`, level: 2, parent: id, direction: 1, unit: '%', children: [] });
    indicators.push({ id: `${id}.b`, nameZh: `${zh}乙`, nameEn: `${en} B`, level: 2, parent: id, direction: -1, children: [] });
  }
  const years = [2020, 2021, 2022, 2023];
  const firstIds: string[] = FIRST.map((f) => f[0]);
  const firstW = [0.3, 0.25, 0.2, 0.15, 0.1];
  const score = (r: number, y: number, k: number) => Math.round((0.9 - r * 0.025 + y * 0.02 + Math.sin(r * (k + 1)) * 0.05) * 1e4) / 1e4;
  const regional = years.map((year, y) => {
    const rows = REGIONS.map((region, r) => {
      const byIndicator: Record<string, number> = {};
      firstIds.forEach((id, k) => {
        byIndicator[id] = score(r, y, k);
        byIndicator[`${id}.a`] = score(r, y, k + 5);
        byIndicator[`${id}.b`] = score(r, y, k + 9);
      });
      const overall = firstIds.reduce((s, id, k) => s + byIndicator[id]! * firstW[k]!, 0);
      return { region, overall, byIndicator, rank: 0 };
    });
    [...rows].sort((a, b) => b.overall - a.overall).forEach((row, i) => {
      row.rank = i + 1;
    });
    return { year, scores: rows };
  });
  const latest = regional.at(-1)!.scores;
  const tierOfRank = (rank: number) => (rank <= 6 ? 0 : rank <= 17 ? 1 : rank <= 27 ? 2 : 3);
  const series = (growth: number) => years.map((_, i) => Math.round(100 * (1 + growth) ** i * 100) / 100);
  const national = [{ id: 'overall', values: series(0.12) }, ...indicators.map((n, i) => ({ id: n.id, values: series(0.05 + (i % 5) * 0.03) }))];
  const result: EvaluationResult = {
    framework: { id: 'caict-2024', nameZh: '中国工业互联网发展成效评价指标体系（2024）', nameEn: 'CAICT industrial-internet evaluation framework (2024)', indicators },
    options: { normalisation: 'min-max', aggregation: 'arithmetic', missing: 'reweight', tiers: { method: 'ckmeans', k: 4 }, monteCarlo: { runs: 200, seed: 7 }, synthetic: true },
    years,
    regions: REGIONS,
    weights: indicators.map((n) => ({
      id: n.id,
      local: n.level === 1 ? firstW[firstIds.indexOf(n.id)]! * 100 : n.id.endsWith('.a') ? 60 : 40,
      global: n.level === 1 ? firstW[firstIds.indexOf(n.id)]! * 100 : firstW[firstIds.indexOf(n.parent!)]! * (n.id.endsWith('.a') ? 60 : 40),
    })),
    ahp: [
      { matrixId: 'root', ids: firstIds, weights: firstW, lambdaMax: 5.12, ci: 0.03, cr: 0.0268, ri: 1.12, accepted: true },
      { matrixId: 'foundation', ids: ['foundation.a', 'foundation.b'], weights: [0.6, 0.4], lambdaMax: 2, ci: 0, cr: 0, ri: 0, accepted: true },
    ],
    national: { baseYear: 2020, index: national },
    regional,
    growth: national.map((s) => ({
      id: s.id,
      yoy: s.values.map((v, i) => (i === 0 ? null : (100 * (v - s.values[i - 1]!)) / s.values[i - 1]!)),
      cagr: 100 * ((s.values.at(-1)! / s.values[0]!) ** (1 / 3) - 1),
    })),
    contributions: firstIds.map((id) => ({ parent: id, fromYear: 2020, toYear: 2023, shares: [{ id: `${id}.a`, share: 62.5 }, { id: `${id}.b`, share: 37.5 }] })),
    correlation: { ids: firstIds, matrix: firstIds.map((_, i) => firstIds.map((__, j) => (i === j ? 1 : 0.5))) },
    cronbach: firstIds.map((id, i) => ({ group: id, alpha: i === 4 ? null : 0.7 + i * 0.05 })),
    uncertainty: {
      runs: 200,
      ranks: latest.map((s) => ({ region: s.region, median: s.rank, p5: Math.max(1, s.rank - 2), p95: Math.min(31, s.rank + 3), min: Math.max(1, s.rank - 4), max: Math.min(31, s.rank + 5) })),
    },
    tiers: {
      method: 'ckmeans',
      names: ['示范引领', '快速崛起', '后发追赶', '孕育起步'],
      assignments: latest.map((s) => ({ region: s.region, tier: tierOfRank(s.rank) })),
      breaks: [0.8, 0.6, 0.45],
      agreement: { exact: 0.9, ari: 0.81 },
    },
    coverage: indicators.flatMap((n) => years.map((year) => ({ indicator: n.id, year, present: n.id === 'industry.b' && year === 2021 ? 29 : 31, missing: n.id === 'industry.b' && year === 2021 ? 2 : 0 }))),
    imputed: [
      { region: '西藏', indicator: 'industry.b', year: 2021, method: 'mean', value: 0.4321 },
      { region: '青海', indicator: 'industry.b', year: 2021, method: 'mean', value: 0.4321 },
    ],
    tables: {
      'normalised-2023': latest.map((s) => ({ region: s.region, 'foundation.a': s.byIndicator['foundation.a'] ?? null, note: s.region === '北京' ? 'has, a "comma"' : null })),
    },
  };
  return { ...result, ...overrides };
}
