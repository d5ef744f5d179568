/**
 * The result contract between the evaluation engine and its outputs (HTML report, CSV/JSON, REST, console).
 * The engine fills an `EvaluationResult`; everything downstream reads only this shape. Fields may be added,
 * never removed or renamed, so that saved results and report templates keep working.
 */
import type { AhpResult } from './ahp.js';
import type { FrameworkIndicator } from './framework.js';

/** One indicator of the framework tree, flattened (children listed by id). */
export type IndicatorNode = Pick<FrameworkIndicator, 'id' | 'nameZh' | 'nameEn' | 'level' | 'parent' | 'direction' | 'unit' | 'source'> & {
  children: string[];
};

export interface EvaluationResult {
  framework: { id: string; nameZh: string; nameEn: string; indicators: IndicatorNode[] };
  /** The options the run used (normalisation, aggregation, missing, tiers, monteCarlo…), defaults filled in. */
  options: Record<string, unknown>;
  years: number[];
  /** Region names as given in the data (e.g. 广东). */
  regions: string[];
  /** local sums to 100 among siblings; global = share of the overall index (sums to 100 per level). */
  weights: Array<{ id: string; local: number; global: number }>;
  ahp: AhpResult[];
  /** 'overall' + every indicator, one value per year (base year = 100). */
  national: { baseYear: number; index: Array<{ id: string; values: number[] }> };
  regional: Array<{
    year: number;
    scores: Array<{ region: string; overall: number; byIndicator: Record<string, number>; rank: number }>;
  }>;
  /** Growth of the national index; yoy[0] is null (no previous year). */
  growth: Array<{ id: string; yoy: Array<number | null>; cagr: number | null }>;
  /** Share of the parent's change, in %. */
  contributions: Array<{
    parent: string;
    fromYear: number;
    toYear: number;
    shares: Array<{ id: string; share: number }>;
  }>;
  correlation: { ids: string[]; matrix: number[][] };
  cronbach: Array<{ group: string; alpha: number | null }>;
  uncertainty: {
    runs: number;
    ranks: Array<{ region: string; median: number; p5: number; p95: number; min: number; max: number }>;
  } | null;
  tiers: {
    method: string;
    /** Index 0 = best: 示范引领, 快速崛起, 后发追赶, 孕育起步. */
    names: string[];
    assignments: Array<{ region: string; tier: number }>;
    breaks: number[];
    agreement?: { exact: number; ari: number };
  };
  coverage: Array<{ indicator: string; year: number; present: number; missing: number }>;
  imputed: Array<{ region: string; indicator: string; year: number; method: string; value: number }>;
  /** Every intermediate table, for CSV/JSON output. */
  tables: Record<string, Array<Record<string, string | number | null>>>;
}

/** Tier names, best first (示范引领 leading, 快速崛起 rising fast, 后发追赶 catching up, 孕育起步 starting). */
export const TIER_NAMES: readonly string[] = ['示范引领', '快速崛起', '后发追赶', '孕育起步'];
export const TIER_NAMES_EN: readonly string[] = ['leading', 'rising fast', 'catching up', 'starting'];
