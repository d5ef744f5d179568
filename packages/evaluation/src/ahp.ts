/**
 * Analytic hierarchy process (层次分析法): principal-eigenvector weights of a pairwise judgment matrix by power
 * iteration, λmax, CI = (λmax − n)/(n − 1), CR = CI/RI with Saaty's random index table, checks of the
 * matrix itself (reciprocal, unit diagonal, Saaty 1–9 scale), and group AHP — the geometric mean of the
 * experts' judgments (AIJ) or the mean of their priorities (AIP). CR ≥ 0.1 is refused unless allowed.
 */
import { IipError } from '@iip/core';

/**
 * Saaty's random consistency index RI by matrix size n (index = n). n = 1…10 from Saaty (1980); 11–15 from
 * the same random-matrix procedure as commonly tabulated. Override with `AhpOptions.ri`.
 */
export const SAATY_RI: readonly number[] = [0, 0, 0, 0.58, 0.9, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59];

export const CR_THRESHOLD = 0.1;

export interface AhpOptions {
  /** Matrix id for results and errors. */
  id?: string;
  /** Accept CR ≥ 0.1 (the result says accepted: false). */
  allowInconsistent?: boolean;
  /** Random index table by n (replaces Saaty's). */
  ri?: readonly number[];
  /** Check that every judgment is 1…9 or 1/2…1/9 (default true). Combined group matrices skip it. */
  saatyScale?: boolean;
  /** Relative tolerance of the reciprocal check a_ij·a_ji = 1 (default 0.01, so 0.33 passes for 1/3). */
  tolerance?: number;
}

export interface AhpResult {
  matrixId: string;
  ids: string[];
  weights: number[];
  lambdaMax: number;
  ci: number;
  cr: number;
  ri: number;
  accepted: boolean;
}

function cellError(code: string, id: string, i: number, j: number, message: string, value: number): IipError {
  return new IipError(code, `matrix ${id}, cell (${i + 1}, ${j + 1}): ${message}`, {
    matrix: id,
    row: i + 1,
    column: j + 1,
    value,
  });
}

function onSaatyScale(x: number, tol: number): boolean {
  const v = x >= 1 ? x : 1 / x;
  const r = Math.round(v);
  return r >= 1 && r <= 9 && Math.abs(v - r) <= tol * r;
}

/** Throws IIP_ERR_EVAL_MATRIX_* naming the matrix and the first bad cell. */
export function checkJudgmentMatrix(a: readonly (readonly number[])[], opts: AhpOptions = {}): void {
  const id = opts.id ?? 'matrix';
  const tol = opts.tolerance ?? 0.01;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const row = a[i]!;
    if (row.length !== n) {
      throw new IipError('IIP_ERR_EVAL_MATRIX_SIZE', `matrix ${id}: row ${i + 1} has ${row.length} cells, expected ${n}`, {
        matrix: id,
        row: i + 1,
        expected: n,
      });
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = a[i]![j]!;
      if (!Number.isFinite(x) || x <= 0) throw cellError('IIP_ERR_EVAL_MATRIX_SCALE', id, i, j, `${x} is not a positive number`, x);
      if (i === j && Math.abs(x - 1) > 1e-9) {
        throw cellError('IIP_ERR_EVAL_MATRIX_RECIPROCAL', id, i, j, `a diagonal judgment must be 1, got ${x}`, x);
      }
      if (opts.saatyScale !== false && !onSaatyScale(x, tol)) {
        throw cellError('IIP_ERR_EVAL_MATRIX_SCALE', id, i, j, `${x} is not on Saaty's 1–9 scale (1…9 or 1/2…1/9)`, x);
      }
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const p = a[i]![j]! * a[j]![i]!;
      if (Math.abs(p - 1) > tol) {
        throw cellError(
          'IIP_ERR_EVAL_MATRIX_RECIPROCAL',
          id,
          j,
          i,
          `expected 1/${fmt(a[i]![j]!)} (the reciprocal of cell (${i + 1}, ${j + 1})), got ${fmt(a[j]![i]!)}`,
          a[j]![i]!,
        );
      }
    }
  }
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

/**
 * Principal eigenvector by power iteration: w ← A·w / Σ(A·w) until no component moves by more than 1e-13.
 * A positive reciprocal matrix has a simple dominant eigenvalue (Perron), so this converges.
 */
export function principalEigenvector(a: readonly (readonly number[])[]): { weights: number[]; lambdaMax: number } {
  const n = a.length;
  let w = new Float64Array(n).fill(1 / n);
  let next = new Float64Array(n);
  for (let iter = 0; iter < 10_000; iter++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const row = a[i]!;
      for (let j = 0; j < n; j++) s += row[j]! * w[j]!;
      next[i] = s;
      sum += s;
    }
    let delta = 0;
    for (let i = 0; i < n; i++) {
      next[i] = next[i]! / sum;
      delta = Math.max(delta, Math.abs(next[i]! - w[i]!));
    }
    [w, next] = [next, w];
    if (delta < 1e-13) break;
  }
  // λmax = mean over i of (A·w)_i / w_i — exact at the fixed point, robust to the last rounding.
  let lambda = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i]![j]! * w[j]!;
    lambda += s / w[i]!;
  }
  return { weights: Array.from(w), lambdaMax: lambda / n };
}

function consistency(n: number, lambdaMax: number, riTable: readonly number[]): { ci: number; cr: number; ri: number } {
  if (n <= 2) return { ci: 0, cr: 0, ri: 0 };
  const ri = riTable[n];
  if (ri === undefined) {
    throw new IipError('IIP_ERR_EVAL_OPTION_INVALID', `no random index RI for a ${n} × ${n} matrix; pass options.ri`, {
      option: 'ri',
      n,
    });
  }
  const ci = Math.max(0, (lambdaMax - n) / (n - 1));
  return { ci, ri, cr: ri > 0 ? ci / ri : 0 };
}

/** The cell whose judgment departs most from the ratio of the derived weights — where to start revising. */
function worstCell(a: readonly (readonly number[])[], w: readonly number[]): { row: number; column: number; judgment: number; implied: number } {
  let best = { row: 1, column: 1, judgment: 1, implied: 1 };
  let dev = -1;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a.length; j++) {
      const implied = w[i]! / w[j]!;
      const d = Math.abs(Math.log(a[i]![j]! / implied));
      if (d > dev) {
        dev = d;
        best = { row: i + 1, column: j + 1, judgment: a[i]![j]!, implied: Number(implied.toFixed(3)) };
      }
    }
  }
  return best;
}

/** AHP weights of one judgment matrix (weights sum to 1). Throws on a bad matrix or CR ≥ 0.1 unless allowed. */
export function ahpWeights(a: readonly (readonly number[])[], ids?: readonly string[], opts: AhpOptions = {}): AhpResult {
  const id = opts.id ?? 'matrix';
  checkJudgmentMatrix(a, opts);
  const n = a.length;
  const names = ids ? [...ids] : Array.from({ length: n }, (_, i) => String(i + 1));
  if (names.length !== n) {
    throw new IipError('IIP_ERR_EVAL_MATRIX_SIZE', `matrix ${id} is ${n} × ${n} but weighs ${names.length} indicators`, {
      matrix: id,
      size: n,
      expected: names.length,
    });
  }
  const { weights, lambdaMax } = principalEigenvector(a);
  const { ci, cr, ri } = consistency(n, lambdaMax, opts.ri ?? SAATY_RI);
  const accepted = cr < CR_THRESHOLD;
  if (!accepted && !opts.allowInconsistent) {
    const worst = worstCell(a, weights);
    throw new IipError(
      'IIP_ERR_EVAL_AHP_INCONSISTENT',
      `matrix ${id}: consistency ratio CR = ${cr.toFixed(4)} ≥ ${CR_THRESHOLD}; revise its judgments (start with cell (${worst.row}, ${worst.column}): ${fmt(worst.judgment)}, the weights imply ${worst.implied}) or allow inconsistent matrices`,
      { matrix: id, cr, ci, lambdaMax, ri, worstCell: worst },
    );
  }
  return { matrixId: id, ids: names, weights, lambdaMax, ci, cr, ri, accepted };
}

export type GroupCombine = 'geometric' | 'arithmetic';

/**
 * Group AHP. `geometric` (AIJ): each cell is the geometric mean of the experts' judgments — the only mean
 * that keeps the combined matrix reciprocal — and the weights are its eigenvector. `arithmetic` (AIP): each
 * expert's weights are derived separately and averaged. Every expert matrix is checked and reported; the
 * combined entry (id `<id>`) comes last. For AIP its λmax, CI and CR are those of the least consistent expert.
 */
export function groupAhp(
  matrices: readonly (readonly (readonly number[])[])[],
  ids: readonly string[] | undefined,
  combine: GroupCombine,
  opts: AhpOptions = {},
): AhpResult[] {
  const id = opts.id ?? 'matrix';
  if (matrices.length === 0) throw new IipError('IIP_ERR_EVAL_MATRIX_SIZE', `group ${id}: no expert matrices`, { matrix: id });
  const n = matrices[0]!.length;
  const each = matrices.map((m, k) => {
    if (m.length !== n) {
      throw new IipError('IIP_ERR_EVAL_MATRIX_SIZE', `matrix ${id}#${k + 1} is ${m.length} × ${m.length}, expert 1's is ${n} × ${n}`, {
        matrix: `${id}#${k + 1}`,
        size: m.length,
        expected: n,
      });
    }
    return ahpWeights(m, ids, { ...opts, id: `${id}#${k + 1}` });
  });
  if (combine === 'geometric') {
    const g = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => {
        let logSum = 0;
        for (const m of matrices) logSum += Math.log(m[i]![j]!);
        return Math.exp(logSum / matrices.length);
      }),
    );
    return [...each, ahpWeights(g, ids, { ...opts, id, saatyScale: false })];
  }
  const w = new Array<number>(n).fill(0);
  for (const r of each) for (let i = 0; i < n; i++) w[i] = w[i]! + r.weights[i]! / each.length;
  const worst = each.reduce((a, b) => (b.cr > a.cr ? b : a));
  return [...each, { ...worst, matrixId: id, weights: w, accepted: each.every((r) => r.accepted) }];
}
