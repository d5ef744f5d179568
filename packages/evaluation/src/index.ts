/**
 * @iip/evaluation — 发展成效评价: computes national and regional industrial-internet development indices
 * from an indicator framework with AHP weights, ranks regions into tiers, analyses sensitivity, and
 * writes reproducible reports. The entry point is `runEvaluation(framework, data, options)`, which returns
 * an `EvaluationResult` (result.ts) that the report, the CLI and the API all read; the building blocks
 * (AHP, normalisation, ckmeans, ARI…) are exported for use on their own.
 */
export type { EvaluationResult, IndicatorNode } from './result.js';
export { TIER_NAMES, TIER_NAMES_EN } from './result.js';
export { EVALUATION_ERRORS, type EvaluationErrorCode } from './errors.js';
export {
  type Framework,
  type FrameworkIndicator,
  type WeightingGroup,
  OVERALL,
  indicatorNodes,
  parseFramework,
  parseJudgment,
  validateFramework,
} from './framework.js';
export { BUILTIN_FRAMEWORKS, builtinFramework, builtinFrameworkPath } from './builtin-frameworks.js';
export { loadFrameworkFile } from './framework-file.js';
export { type Tree, compileTree } from './tree.js';
export {
  type AhpOptions,
  type AhpResult,
  type GroupCombine,
  CR_THRESHOLD,
  SAATY_RI,
  ahpWeights,
  checkJudgmentMatrix,
  groupAhp,
  principalEigenvector,
} from './ahp.js';
export { type ResolvedWeights, type WeightOptions, blendWeights, normaliseToOne, resolveWeights } from './weights.js';
export { type CsvRecord, readCsv } from './csv-reader.js';
export {
  type Cell,
  type DataOptions,
  type Dataset,
  type Observation,
  type Table,
  type TableRecord,
  NATIONAL_NAMES,
  datasetFromObservations,
  datasetFromTable,
  isNationalName,
} from './dataset.js';
export { type DataFileOptions, columnLetter, csvTable, parseDataCsv, parseDataXlsx, readDataFile, xlsxTable } from './data-files.js';
export { type Cube, buildCube } from './cube.js';
export { type ImputedCell, type MissingMethod, MISSING_METHODS, coverage, imputeMissing } from './missing-values.js';
export {
  type NormalisationMethod,
  type NormaliseSpec,
  NORMALISATION_METHODS,
  baseYearIndex,
  normaliseColumn,
} from './normalise.js';
export { type AggregationMethod, AGGREGATION_METHODS, aggregateTree } from './aggregate.js';
export { cagr, contributionShares, yoyGrowth } from './growth.js';
export { cronbachAlpha, pearson } from './statistics.js';
export { Prng } from './prng.js';
export { type MonteCarloOptions, type RankInterval, quantileSorted, runMonteCarlo } from './monte-carlo.js';
export { ckmeans } from './ckmeans.js';
export { adjustedRandIndex, exactMatches } from './agreement.js';
export { type TierMethod, type TierOptions, type Tiers, TIER_METHODS, assignTiers, computeBreaks, tierOf } from './tiers.js';
export { type EvaluationOptions, runEvaluation } from './run-evaluation.js';
export { EXAMPLE_LABEL, EXAMPLE_SEED, EXAMPLE_YEARS, exampleCsv, exampleData, exampleObservations } from './example/example-data.js';
export { PROVINCES, type Province } from './example/provinces.js';
export * from './report/index.js';
