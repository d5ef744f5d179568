/**
 * Tiers (梯队) of regions by their overall score. Every method yields k − 1 descending breaks and a region
 * is in tier i when its score is ≥ breaks[i] but below breaks[i − 1] (tier 0 = the best, 示范引领), so tied
 * scores always share a tier:
 * - `ckmeans` (default, k = 4): optimal natural breaks; breaks[i] = the lowest score of group i.
 * - `thresholds`: the breaks as given (descending).
 * - `quantiles`: k groups of (nearly) equal size by rank.
 * - `counts`: fixed group sizes, best first (e.g. 6/11/10/4); ties at a boundary go to the better tier.
 * `agreement` compares with a reference tiering (tier index 0-based, or tier name): the number of exact
 * matches and the adjusted Rand index.
 */
import { IipError } from '@iip/core';
import { adjustedRandIndex, exactMatches } from './agreement.js';
import { ckmeans } from './ckmeans.js';
import { TIER_NAMES } from './result.js';

export type TierMethod = 'ckmeans' | 'thresholds' | 'quantiles' | 'counts';

export const TIER_METHODS: readonly TierMethod[] = ['ckmeans', 'thresholds', 'quantiles', 'counts'];

export interface TierOptions {
  method?: TierMethod;
  /** Number of tiers for ckmeans and quantiles (default 4, or the length of names/counts/thresholds + 1). */
  k?: number;
  thresholds?: number[];
  counts?: number[];
  /** Tier names, best first (default 示范引领, 快速崛起, 后发追赶, 孕育起步 for k = 4). */
  names?: string[];
  /** Reference tiering to compare with: region → tier index (0 = best) or tier name. */
  reference?: Record<string, number | string>;
}

export interface Tiers {
  method: string;
  names: string[];
  assignments: Array<{ region: string; tier: number }>;
  breaks: number[];
  agreement?: { exact: number; ari: number };
}

function bad(option: string, message: string, extra: Record<string, unknown> = {}): IipError {
  return new IipError('IIP_ERR_EVAL_OPTION_INVALID', `tiers: ${message}`, { option, ...extra });
}

export function computeBreaks(scores: readonly number[], opts: TierOptions): number[] {
  const method = opts.method ?? 'ckmeans';
  const desc = scores.filter((s) => !Number.isNaN(s)).sort((a, b) => b - a);
  const n = desc.length;
  switch (method) {
    case 'ckmeans': {
      const k = opts.k ?? opts.names?.length ?? 4;
      const groups = ckmeans(desc, Math.min(k, Math.max(1, n))).reverse();
      return groups.slice(0, -1).map((g) => g[0]!);
    }
    case 'thresholds': {
      const t = opts.thresholds;
      if (!t || t.length === 0) throw bad('tiers.thresholds', 'method "thresholds" needs a list of thresholds (descending)');
      for (let i = 1; i < t.length; i++) {
        if (!(t[i]! < t[i - 1]!)) throw bad('tiers.thresholds', `thresholds must be strictly descending, got ${t.join(', ')}`, { thresholds: t });
      }
      return [...t];
    }
    case 'quantiles': {
      const k = opts.k ?? opts.names?.length ?? 4;
      if (!Number.isInteger(k) || k < 1 || k > n) throw bad('tiers.k', `cannot make ${k} quantile tiers of ${n} regions`, { k, n });
      const out: number[] = [];
      for (let i = 1; i < k; i++) out.push(desc[Math.ceil((i * n) / k) - 1]!);
      return out;
    }
    case 'counts': {
      const c = opts.counts;
      if (!c || c.length === 0) throw bad('tiers.counts', 'method "counts" needs group sizes, best first (e.g. [6, 11, 10, 4])');
      const sum = c.reduce((a, b) => a + b, 0);
      if (c.some((x) => !Number.isInteger(x) || x < 0) || sum !== n) {
        throw bad('tiers.counts', `counts ${c.join('/')} add up to ${sum}, but there are ${n} regions`, { counts: c, regions: n });
      }
      const out: number[] = [];
      let pos = 0;
      for (let i = 0; i < c.length - 1; i++) {
        pos += c[i]!;
        out.push(pos > 0 ? desc[pos - 1]! : Number.POSITIVE_INFINITY);
      }
      return out;
    }
    default: {
      const never: never = method;
      throw bad('tiers.method', `unknown method ${String(never)}; use ${TIER_METHODS.join(', ')}`);
    }
  }
}

export function tierOf(score: number, breaks: readonly number[]): number {
  for (let i = 0; i < breaks.length; i++) if (score >= breaks[i]!) return i;
  return breaks.length;
}

export function assignTiers(regions: readonly string[], scores: readonly number[], opts: TierOptions = {}): Tiers {
  const method = opts.method ?? 'ckmeans';
  const breaks = computeBreaks(scores, opts);
  const k = breaks.length + 1;
  let names = opts.names;
  if (!names) {
    const wanted = method === 'ckmeans' || method === 'quantiles' ? (opts.k ?? 4) : k;
    names = wanted === TIER_NAMES.length ? [...TIER_NAMES] : Array.from({ length: wanted }, (_, i) => `第${i + 1}梯队`);
  }
  if (names.length < k) throw bad('tiers.names', `${k} tiers need ${k} names, got ${names.length}`, { names });
  const assignments = regions.map((region, i) => ({ region, tier: tierOf(scores[i]!, breaks) }));
  const out: Tiers = { method, names: [...names], assignments, breaks };
  if (opts.reference) {
    const ref = opts.reference;
    const nameIndex = new Map(names.map((nm, i) => [nm, i]));
    const mine: number[] = [];
    const theirs: number[] = [];
    for (const a of assignments) {
      const r = ref[a.region];
      if (r === undefined) continue;
      const t = typeof r === 'number' ? r : nameIndex.get(r);
      if (t === undefined) throw bad('tiers.reference', `reference tier "${String(r)}" of ${a.region} is not one of ${names.join(', ')}`, { region: a.region });
      mine.push(a.tier);
      theirs.push(t);
    }
    out.agreement = { exact: exactMatches(mine, theirs), ari: adjustedRandIndex(mine, theirs) };
  }
  return out;
}
