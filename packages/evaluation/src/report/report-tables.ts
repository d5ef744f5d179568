/**
 * The main tables of a result, flattened to rows for CSV: weights (with the CR of the matrix that set them),
 * AHP checks, the national index, regional scores, growth, contributions, tiers, rank uncertainty, coverage
 * and imputed cells. The engine's own `result.tables` are written beside these, unchanged.
 */
import type { EvaluationResult, IndicatorNode } from '../result.js';
import type { Row } from './csv.js';
import { TIER_EN } from './report-text.js';

/** The AHP matrix whose weights a node's local weight came from (the one listing the node among its ids). */
export function matrixOf(result: EvaluationResult, id: string): EvaluationResult['ahp'][number] | undefined {
  const all = result.ahp.filter((m) => m.ids.includes(id));
  // Group AHP lists each expert's matrix ("…#1", "…#2") beside the combined one, which is what set the weights.
  return all.find((m) => !m.matrixId.includes('#')) ?? all.at(-1);
}

export function indicatorMap(result: EvaluationResult): Map<string, IndicatorNode> {
  return new Map(result.framework.indicators.map((n) => [n.id, n]));
}

/** Tier name in English: the engine's names are Chinese; unknown names (custom tiers) stay as given. */
export function tierNameEn(name: string): string {
  return TIER_EN[name] ?? name;
}

export function reportTables(result: EvaluationResult): Record<string, Row[]> {
  const nodes = indicatorMap(result);
  const name = (id: string, lang: 'zh' | 'en'): string => {
    if (id === 'overall') return lang === 'zh' ? '总指数' : 'Overall index';
    const n = nodes.get(id);
    return n ? (lang === 'zh' ? n.nameZh : n.nameEn) : id;
  };
  const latest = result.regional.at(-1);
  const tierOf = new Map(result.tiers.assignments.map((a) => [a.region, a.tier]));
  const firstLevel = result.framework.indicators.filter((n) => n.level === 1).map((n) => n.id);

  const weights: Row[] = result.weights.map((w) => {
    const n = nodes.get(w.id);
    const m = matrixOf(result, w.id);
    return {
      id: w.id,
      name_zh: name(w.id, 'zh'),
      name_en: name(w.id, 'en'),
      level: n?.level ?? null,
      parent: n?.parent ?? null,
      direction: n?.direction ?? null,
      local_weight: w.local,
      global_weight: w.global,
      matrix: m?.matrixId ?? null,
      cr: m?.cr ?? null,
    };
  });
  const ahp: Row[] = result.ahp.map((m) => ({
    matrix: m.matrixId,
    n: m.ids.length,
    ids: m.ids.join(' '),
    weights: m.weights.map((x) => x.toFixed(6)).join(' '),
    lambda_max: m.lambdaMax,
    ci: m.ci,
    ri: m.ri,
    cr: m.cr,
    accepted: m.accepted ? 'yes' : 'no',
  }));
  const national: Row[] = result.national.index.map((s) => {
    const row: Record<string, string | number | null> = { id: s.id, name_zh: name(s.id, 'zh'), name_en: name(s.id, 'en') };
    result.years.forEach((y, i) => {
      row[String(y)] = s.values[i] ?? null;
    });
    return row;
  });
  const regional: Row[] = result.regional.flatMap((y) =>
    y.scores.map((s) => {
      const row: Record<string, string | number | null> = { year: y.year, region: s.region, rank: s.rank, overall: s.overall };
      for (const id of firstLevel) row[id] = s.byIndicator[id] ?? null;
      return row;
    }),
  );
  const growth: Row[] = result.growth.map((g) => {
    const row: Record<string, string | number | null> = { id: g.id, name_zh: name(g.id, 'zh'), name_en: name(g.id, 'en') };
    result.years.forEach((y, i) => {
      row[`yoy_${y}`] = g.yoy[i] ?? null;
    });
    row.cagr = g.cagr;
    return row;
  });
  const contributions: Row[] = result.contributions.flatMap((c) =>
    c.shares.map((s) => ({ parent: c.parent, from_year: c.fromYear, to_year: c.toYear, id: s.id, name_zh: name(s.id, 'zh'), name_en: name(s.id, 'en'), share: s.share })),
  );
  const tiers: Row[] = result.tiers.assignments.map((a) => {
    const s = latest?.scores.find((x) => x.region === a.region);
    const tierName = result.tiers.names[a.tier] ?? String(a.tier);
    return { region: a.region, tier: a.tier + 1, tier_zh: tierName, tier_en: tierNameEn(tierName), score: s?.overall ?? null, rank: s?.rank ?? null };
  });
  tiers.sort((a, b) => Number(a.rank ?? Infinity) - Number(b.rank ?? Infinity));
  const uncertainty: Row[] = (result.uncertainty?.ranks ?? []).map((r) => ({
    region: r.region,
    tier: (tierOf.get(r.region) ?? -1) + 1 || null,
    median_rank: r.median,
    p5: r.p5,
    p95: r.p95,
    min: r.min,
    max: r.max,
  }));
  const coverage: Row[] = result.coverage.map((c) => ({
    indicator: c.indicator,
    year: c.year,
    present: c.present,
    missing: c.missing,
    coverage_pct: c.present + c.missing > 0 ? (100 * c.present) / (c.present + c.missing) : null,
  }));
  const imputed: Row[] = result.imputed.map((c) => ({ region: c.region, indicator: c.indicator, year: c.year, method: c.method, value: c.value }));
  const cronbach: Row[] = result.cronbach.map((c) => ({ group: c.group, name_zh: name(c.group, 'zh'), name_en: name(c.group, 'en'), alpha: c.alpha }));
  const correlation: Row[] = result.correlation.ids.map((id, i) => {
    const row: Record<string, string | number | null> = { id };
    result.correlation.ids.forEach((other, j) => {
      row[other] = result.correlation.matrix[i]?.[j] ?? null;
    });
    return row;
  });
  return {
    weights,
    ahp,
    'national-index': national,
    'regional-scores': regional,
    growth,
    contributions,
    tiers,
    uncertainty,
    coverage,
    imputed,
    cronbach,
    correlation,
  };
}
