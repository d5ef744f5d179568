/**
 * @iip/evaluation — 发展成效评价: computes national and regional industrial-internet development indices
 * from an indicator framework with AHP weights, ranks regions into tiers, analyses sensitivity, and
 * writes reproducible reports.
 */
export type { EvaluationResult, IndicatorNode } from './result.js';
export { TIER_NAMES, TIER_NAMES_EN } from './result.js';
export * from './report/index.js';
