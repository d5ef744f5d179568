/**
 * Error codes of @iip/evaluation: malformed frameworks and judgment matrices, inconsistent AHP judgments,
 * data files that cannot be read or do not match the framework (each naming file, row and column), and
 * option combinations the engine refuses rather than guess at.
 */
import { defineErrors } from '@iip/core';

export const EVALUATION_ERRORS = defineErrors({
  IIP_ERR_EVAL_FRAMEWORK_INVALID: {
    status: 400,
    meaning: 'An indicator framework is malformed (missing id or name, bad level, direction or weight).',
    fix: 'Correct the framework file; details.path names the offending element.',
  },
  IIP_ERR_EVAL_FRAMEWORK_DUPLICATE_ID: {
    status: 400,
    meaning: 'Two indicators of a framework share one id.',
    fix: 'Give every indicator a unique id; details.id names the duplicate.',
  },
  IIP_ERR_EVAL_FRAMEWORK_UNKNOWN_PARENT: {
    status: 400,
    meaning: "An indicator's parent, or a weighting group, names an indicator that is not in the framework.",
    fix: 'Add the parent indicator or correct the id; details name the indicator and the missing parent.',
  },
  IIP_ERR_EVAL_FRAMEWORK_CYCLE: {
    status: 400,
    meaning: 'The parent links of a framework form a cycle, so the indicators are not a tree.',
    fix: 'Make every chain of parents end at a first-level indicator (parent: null); details.cycle lists it.',
  },
  IIP_ERR_EVAL_FRAMEWORK_UNKNOWN: {
    status: 404,
    meaning: 'No built-in framework has the requested id.',
    fix: 'Use one of the ids in details.known, or load your own framework file.',
  },
  IIP_ERR_EVAL_MATRIX_SIZE: {
    status: 400,
    meaning: "A judgment matrix is not square, or its size differs from the number of indicators it weighs.",
    fix: 'Give an n × n matrix for the n siblings, rows and columns in the order of the group\'s ids.',
  },
  IIP_ERR_EVAL_MATRIX_RECIPROCAL: {
    status: 400,
    meaning: 'A judgment matrix is not reciprocal: a diagonal cell is not 1, or a_ji is not 1/a_ij.',
    fix: 'Set a_ii = 1 and a_ji = 1/a_ij; details name the matrix and the cell (row, column, 1-based).',
  },
  IIP_ERR_EVAL_MATRIX_SCALE: {
    status: 400,
    meaning: "A judgment is not on Saaty's 1–9 scale (1…9 or 1/2…1/9) or is not a positive number.",
    fix: 'Use 1, 2, …, 9 or their reciprocals (write "1/3" or 0.3333); details name the matrix and cell.',
  },
  IIP_ERR_EVAL_AHP_INCONSISTENT: {
    status: 422,
    meaning: 'A judgment matrix has a consistency ratio CR ≥ 0.1, so its judgments contradict each other.',
    fix: 'Revise the judgments of the matrix named in details (CR and the most inconsistent cell are given), or pass allowInconsistent.',
  },
  IIP_ERR_EVAL_WEIGHTS_INVALID: {
    status: 400,
    meaning: 'Direct weights or expert scores are negative, not finite, all zero, or do not match the siblings.',
    fix: 'Give one non-negative weight per sibling with a positive sum; details name the group.',
  },
  IIP_ERR_EVAL_DATA_FORMAT: {
    status: 400,
    meaning: 'A data file cannot be read: unknown file type, bad CSV quoting, or a header that is neither long nor wide form.',
    fix: 'Give CSV (UTF-8) or XLSX with columns region, indicator, year, value (long) or region, year, <indicator>… (wide).',
  },
  IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR: {
    status: 422,
    meaning: 'A data row or column names an indicator that is not a leaf of the framework.',
    fix: 'Use the id or name of a lowest-level indicator; details name the file, row and column.',
  },
  IIP_ERR_EVAL_DATA_UNKNOWN_REGION: {
    status: 422,
    meaning: 'A data row names a region that is not in the given region list.',
    fix: 'Correct the region name or add it to the region list; details name the file, row and column.',
  },
  IIP_ERR_EVAL_DATA_NOT_NUMERIC: {
    status: 422,
    meaning: 'A value or year in the data is not a number.',
    fix: 'Write plain numbers (no units or thousands separators); leave the cell empty for a missing value.',
  },
  IIP_ERR_EVAL_DATA_DUPLICATE: {
    status: 422,
    meaning: 'The data holds two values for the same region, indicator and year.',
    fix: 'Remove one of the rows; details name the file and both rows.',
  },
  IIP_ERR_EVAL_DATA_MISSING_BASE_YEAR: {
    status: 422,
    meaning: 'The base year of the national index has no data, or an indicator has no usable base-year value.',
    fix: 'Add base-year rows, or choose a base year the data covers (option baseYear).',
  },
  IIP_ERR_EVAL_OPTION_INVALID: {
    status: 400,
    meaning: 'An evaluation option is invalid or conflicts with another (e.g. tier counts that do not add up).',
    fix: 'Correct the option named in details.option.',
  },
});

export type EvaluationErrorCode = keyof typeof EVALUATION_ERRORS;
