/**
 * `runEvaluation(framework, data, options)`: the whole pipeline, deterministic for given inputs and seed —
 * weights (direct, AHP, group AHP, blended), missing values (coverage, imputation), the national index
 * (base year = 100, aggregated with the weights), regional scores per year (normalised across regions,
 * aggregated up the tree, ranked), growth, contributions, correlation and Cronbach's alpha, Monte Carlo
 * rank intervals, tiers — returned as one `EvaluationResult` with every intermediate table.
 */
import { IipError } from '@iip/core';
import { AGGREGATION_METHODS, type AggregationMethod, aggregateTree } from './aggregate.js';
import { type Cube, buildCube } from './cube.js';
import type { Dataset } from './dataset.js';
import { type Framework, indicatorNodes } from './framework.js';
import { cagr, contributionShares, yoyGrowth } from './growth.js';
import { MISSING_METHODS, type MissingMethod, coverage, imputeMissing } from './missing-values.js';
import { type MonteCarloOptions, runMonteCarlo } from './monte-carlo.js';
import { NORMALISATION_METHODS, type NormalisationMethod, type NormaliseSpec, baseYearIndex, normaliseColumn } from './normalise.js';
import type { EvaluationResult } from './result.js';
import { cronbachAlpha, pearson } from './statistics.js';
import { type TierOptions, assignTiers } from './tiers.js';
import { compileTree } from './tree.js';
import { type WeightOptions, resolveWeights } from './weights.js';

export interface EvaluationOptions {
  /** Base year of the national index (default the first year of the data). */
  baseYear?: number;
  /** Year whose regional scores are tiered, correlated and put through Monte Carlo (default the last). */
  year?: number;
  /** Regional normalisation (default min-max on 0–100, the report's method). */
  normalisation?: { method?: NormalisationMethod; scale?: number };
  /** Aggregation up the tree (default arithmetic). */
  aggregation?: AggregationMethod;
  /** Missing values (default omit = leave out and re-weight). */
  missing?: MissingMethod;
  /** Accept judgment matrices with CR ≥ 0.1. */
  allowInconsistent?: boolean;
  weights?: WeightOptions;
  tiers?: TierOptions;
  /** Monte Carlo uncertainty (default 1000 runs, ±20 % uniform weights); false to skip. */
  monteCarlo?: MonteCarloOptions | false;
}

type Row = Record<string, string | number | null>;

function cell(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function optionError(option: string, message: string, extra: Record<string, unknown> = {}): IipError {
  return new IipError('IIP_ERR_EVAL_OPTION_INVALID', `option ${option}: ${message}`, { option, ...extra });
}

export function runEvaluation(fw: Framework, data: Dataset, options: EvaluationOptions = {}): EvaluationResult {
  const tree = compileTree(fw);
  const normMethod = options.normalisation?.method ?? 'minmax';
  const scale = options.normalisation?.scale ?? 100;
  const aggregation = options.aggregation ?? 'arithmetic';
  const missing = options.missing ?? 'omit';
  if (!NORMALISATION_METHODS.includes(normMethod)) throw optionError('normalisation.method', `unknown method "${normMethod}"`, { allowed: NORMALISATION_METHODS });
  if (!AGGREGATION_METHODS.includes(aggregation)) throw optionError('aggregation', `unknown method "${aggregation}"`, { allowed: AGGREGATION_METHODS });
  if (!MISSING_METHODS.includes(missing)) throw optionError('missing', `unknown method "${missing}"`, { allowed: MISSING_METHODS });
  if (!(scale > 0)) throw optionError('normalisation.scale', `must be positive, got ${scale}`);
  if (normMethod === 'zscore' && aggregation === 'geometric') {
    throw optionError('aggregation', 'z-scores are negative for below-average regions; aggregate them arithmetically');
  }

  const weightOpts: WeightOptions = { ...options.weights };
  if (options.allowInconsistent) weightOpts.allowInconsistent = true;
  const w = resolveWeights(fw, tree, weightOpts);

  const cube: Cube = buildCube(tree, data);
  const { regions, years } = cube;
  if (regions.length === 0 || years.length === 0) {
    throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${data.source}: no data rows for the indicators of framework ${fw.id}`, { file: data.source });
  }
  const baseYear = options.baseYear ?? years[0]!;
  const by = years.indexOf(baseYear);
  if (by < 0) {
    throw new IipError(
      'IIP_ERR_EVAL_DATA_MISSING_BASE_YEAR',
      `${data.source}: no row has the base year ${baseYear} (the data covers ${years.join(', ')})`,
      { file: data.source, baseYear, years },
    );
  }
  const evalYear = options.year ?? years[years.length - 1]!;
  const ey = years.indexOf(evalYear);
  if (ey < 0) throw optionError('year', `${evalYear} is not in the data (${years.join(', ')})`);

  const cov = coverage(cube);
  const imputed = imputeMissing(cube, missing, data.regionGroups);
  const R = regions.length;
  const L = cube.leaves.length;
  const N = tree.ids.length;
  const Y = years.length;
  const byId = new Map(fw.indicators.map((i) => [i.id, i]));
  const floor = scale * 0.001;

  // National raw values: the 全国 rows where present, else the regions' sum or mean.
  const nationalRaw = new Float64Array(Y * L).fill(Number.NaN);
  for (let y = 0; y < Y; y++) {
    for (let l = 0; l < L; l++) {
      const given = cube.national?.[y * L + l];
      if (given !== undefined && !Number.isNaN(given)) {
        nationalRaw[y * L + l] = given;
        continue;
      }
      let s = 0;
      let c = 0;
      for (let r = 0; r < R; r++) {
        const v = cube.values[(y * R + r) * L + l]!;
        if (!Number.isNaN(v)) {
          s += v;
          c++;
        }
      }
      if (c > 0) nationalRaw[y * L + l] = byId.get(cube.leaves[l]!)!.nationalAggregate === 'sum' ? s : s / c;
    }
  }
  const national = Array.from({ length: Y }, () => new Float64Array(N));
  for (let l = 0; l < L; l++) {
    const base = nationalRaw[by * L + l]!;
    if (!(base > 0)) {
      const id = cube.leaves[l]!;
      throw new IipError(
        'IIP_ERR_EVAL_DATA_MISSING_BASE_YEAR',
        `${data.source}: indicator ${id} has ${Number.isNaN(base) ? 'no value' : `the value ${base}`} in the base year ${baseYear}; the national index needs a positive base`,
        { file: data.source, indicator: id, baseYear },
      );
    }
    const dir = tree.direction[tree.leaves[l]!] as 1 | -1;
    for (let y = 0; y < Y; y++) national[y]![tree.leaves[l]!] = baseYearIndex(nationalRaw[y * L + l]!, base, dir);
  }
  for (let y = 0; y < Y; y++) aggregateTree(tree, w.local, national[y]!, aggregation, 0.1);

  // Regional scores per year.
  const spec = (l: number, method: NormalisationMethod): NormaliseSpec => {
    const ind = byId.get(cube.leaves[l]!)!;
    const s: NormaliseSpec = { method, direction: ind.direction, scale, indicator: ind.id };
    if (ind.goalposts) s.goalposts = ind.goalposts;
    if (ind.target !== undefined) s.target = ind.target;
    return s;
  };
  const regionalNodes: Float64Array[][] = [];
  const column = new Float64Array(R);
  const normCol = new Float64Array(R);
  for (let y = 0; y < Y; y++) {
    const perRegion = Array.from({ length: R }, () => new Float64Array(N));
    for (let l = 0; l < L; l++) {
      for (let r = 0; r < R; r++) column[r] = cube.values[(y * R + r) * L + l]!;
      normaliseColumn(column, spec(l, normMethod), normCol);
      for (let r = 0; r < R; r++) perRegion[r]![tree.leaves[l]!] = normCol[r]!;
    }
    for (const nodes of perRegion) aggregateTree(tree, w.local, nodes, aggregation, floor);
    regionalNodes.push(perRegion);
  }
  const rankOf = (scores: number[]): number[] => scores.map((s) => 1 + scores.filter((q) => q > s).length);
  const indicatorIds = tree.ids.slice(1);
  const regional = years.map((year, y) => {
    const overall = regionalNodes[y]!.map((n) => n[0]!);
    const ranks = rankOf(overall);
    return {
      year,
      scores: regions.map((region, r) => {
        const byIndicator: Record<string, number> = {};
        for (let i = 1; i < N; i++) byIndicator[tree.ids[i]!] = regionalNodes[y]![r]![i]!;
        return { region, overall: overall[r]!, byIndicator, rank: ranks[r]! };
      }),
    };
  });

  // Growth and contributions of the national index.
  const series = (i: number): number[] => national.map((n) => n[i]!);
  const growth = tree.ids.map((id, i) => {
    const v = series(i);
    return { id, yoy: yoyGrowth(v), cagr: Y > 1 ? cagr(v[0]!, v[Y - 1]!, years[Y - 1]! - years[0]!) : null };
  });
  const contributions: EvaluationResult['contributions'] = [];
  const pairs: Array<[number, number]> = [];
  if (Y > 1) {
    pairs.push([0, Y - 1]);
    for (let y = 1; y < Y; y++) if (!(y === Y - 1 && Y === 2)) pairs.push([y - 1, y]);
  }
  for (const p of tree.bottomUp) {
    const kids = tree.children[p]!;
    for (const [a, b] of pairs) {
      const shares = contributionShares(
        kids.map((k) => w.local[k]!),
        kids.map((k) => national[a]![k]!),
        kids.map((k) => national[b]![k]!),
      );
      contributions.push({
        parent: tree.ids[p]!,
        fromYear: years[a]!,
        toYear: years[b]!,
        shares: kids.map((k, i) => ({ id: tree.ids[k]!, share: shares[i]! })),
      });
    }
  }

  // Correlation and internal consistency across regions in the evaluation year.
  const scoresOf = (i: number): Float64Array => Float64Array.from(regionalNodes[ey]!, (n) => n[i]!);
  const cols = indicatorIds.map((_, k) => scoresOf(k + 1));
  const matrix = cols.map((a, i) => cols.map((b, j) => (i === j ? 1 : (pearson(a, b) ?? Number.NaN))));
  const cronbach = tree.bottomUp.map((p) => ({
    group: tree.ids[p]!,
    alpha: cronbachAlpha(tree.children[p]!.map((k) => scoresOf(k))),
  }));

  // Monte Carlo over weights and methods, for the evaluation year.
  let uncertainty: EvaluationResult['uncertainty'] = null;
  const mcOpts = options.monteCarlo === undefined ? {} : options.monteCarlo;
  if (mcOpts !== false) {
    const raw = new Float64Array(R * L);
    for (let r = 0; r < R; r++) for (let l = 0; l < L; l++) raw[r * L + l] = cube.values[(ey * R + r) * L + l]!;
    uncertainty = runMonteCarlo({ tree, regions, raw, weights: w.local, spec, scale }, mcOpts, {
      normalisation: normMethod,
      aggregation,
    });
  }

  const finalScores = regional[ey]!.scores.map((s) => s.overall);
  const tiers = assignTiers(regions, finalScores, options.tiers ?? {});

  const weights = indicatorIds.map((id, k) => ({ id, local: w.local[k + 1]! * 100, global: w.global[k + 1]! * 100 }));
  const ahp = w.ahp.map((a) => ({ ...a, ids: [...a.ids], weights: [...a.weights] }));

  const filledOptions: Record<string, unknown> = {
    baseYear,
    year: evalYear,
    normalisation: { method: normMethod, scale },
    aggregation,
    missing,
    allowInconsistent: weightOpts.allowInconsistent === true,
    weights: weightOpts,
    tiers: { method: tiers.method, k: tiers.breaks.length + 1, ...options.tiers },
    monteCarlo:
      mcOpts === false
        ? false
        : {
            runs: mcOpts.runs ?? 1000,
            seed: mcOpts.seed ?? 1,
            weights: mcOpts.weights ?? { mode: 'uniform', range: 0.2 },
            normalisations: mcOpts.normalisations ?? [normMethod],
            aggregations: mcOpts.aggregations ?? [aggregation],
          },
  };

  const nameZh = (id: string): string => byId.get(id)?.nameZh ?? '总指数';
  const tables: Record<string, Row[]> = {
    weights: weights.map((x) => {
      const ind = byId.get(x.id)!;
      return { id: x.id, nameZh: ind.nameZh, nameEn: ind.nameEn, level: ind.level, parent: ind.parent, local: round(x.local), global: round(x.global) };
    }),
    ahp: ahp.map((a) => ({
      matrixId: a.matrixId,
      ids: a.ids.join(' '),
      weights: a.weights.map((x) => round(x)).join(' '),
      lambdaMax: round(a.lambdaMax),
      ci: round(a.ci),
      cr: round(a.cr),
      ri: a.ri,
      accepted: a.accepted ? 'yes' : 'no',
    })),
    raw: [],
    national_raw: [],
    national_index: tree.ids.map((id, i) => {
      const row: Row = { id, nameZh: nameZh(id) };
      for (let y = 0; y < Y; y++) row[String(years[y])] = cell(national[y]![i]!);
      return row;
    }),
    regional_scores: [],
    growth: growth.flatMap((g) => years.map((yr, y) => ({ id: g.id, year: yr, yoy: g.yoy[y] ?? null, cagr: g.cagr }))),
    contributions: contributions.flatMap((c) =>
      c.shares.map((s) => ({ parent: c.parent, fromYear: c.fromYear, toYear: c.toYear, id: s.id, share: round(s.share) })),
    ),
    correlation: indicatorIds.map((id, i) => {
      const row: Row = { id };
      for (let j = 0; j < indicatorIds.length; j++) row[indicatorIds[j]!] = cell(round(matrix[i]![j]!));
      return row;
    }),
    cronbach: cronbach.map((c) => ({ group: c.group, alpha: c.alpha === null ? null : round(c.alpha) })),
    uncertainty: uncertainty ? uncertainty.ranks.map((r) => ({ ...r })) : [],
    tiers: tiers.assignments.map((a, r) => ({ region: a.region, score: cell(finalScores[r]!), tier: a.tier, tierName: tiers.names[a.tier] ?? null })),
    coverage: cov.map((c) => ({ ...c })),
    imputed: imputed.map((c) => ({ ...c })),
  };
  const imputedKey = new Set(imputed.map((c) => `${c.region}\u0000${c.indicator}\u0000${c.year}`));
  for (let y = 0; y < Y; y++) {
    for (let l = 0; l < L; l++) {
      tables.national_raw!.push({ indicator: cube.leaves[l]!, year: years[y]!, value: cell(nationalRaw[y * L + l]!) });
      for (let r = 0; r < R; r++) {
        const key = `${regions[r]}\u0000${cube.leaves[l]}\u0000${years[y]}`;
        tables.raw!.push({
          region: regions[r]!,
          indicator: cube.leaves[l]!,
          year: years[y]!,
          value: cell(cube.values[(y * R + r) * L + l]!),
          imputed: imputedKey.has(key) ? 'yes' : 'no',
        });
      }
    }
  }
  for (const yr of regional) {
    for (const s of yr.scores) {
      const row: Row = { year: yr.year, region: s.region, overall: cell(round(s.overall)), rank: s.rank };
      for (const id of indicatorIds) row[id] = cell(round(s.byIndicator[id]!));
      tables.regional_scores!.push(row);
    }
  }

  return {
    framework: { id: fw.id, nameZh: fw.nameZh, nameEn: fw.nameEn, indicators: indicatorNodes(fw) },
    options: filledOptions,
    years: [...years],
    regions: [...regions],
    weights,
    ahp,
    national: { baseYear, index: tree.ids.map((id, i) => ({ id, values: series(i) })) },
    regional,
    growth,
    contributions,
    correlation: { ids: indicatorIds, matrix },
    cronbach,
    uncertainty,
    tiers,
    coverage: cov,
    imputed,
    tables,
  };
}
