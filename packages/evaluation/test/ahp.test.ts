/**
 * AHP against the issue's worked example and the checks that guard a judgment matrix: reciprocity, unit
 * diagonal, Saaty scale, size, and CR ≥ 0.1 refused unless allowed; group AHP both ways; the blend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsIipError } from '@iip/testkit';
import { SAATY_RI, ahpWeights, blendWeights, checkJudgmentMatrix, groupAhp } from '@iip/evaluation';

const ISSUE = [
  [1, 3, 5],
  [1 / 3, 1, 3],
  [1 / 5, 1 / 3, 1],
];

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

test('the issue example: w ≈ (0.6370, 0.2583, 0.1047), λmax ≈ 3.0385, CR ≈ 0.033', () => {
  const r = ahpWeights(ISSUE, ['a', 'b', 'c'], { id: 'issue' });
  close(r.weights[0]!, 0.637, 5e-5, 'w1');
  close(r.weights[1]!, 0.2583, 5e-5, 'w2');
  close(r.weights[2]!, 0.1047, 5e-5, 'w3');
  close(r.lambdaMax, 3.0385, 5e-5, 'λmax');
  close(r.ci, (r.lambdaMax - 3) / 2, 1e-12, 'CI');
  assert.equal(r.ri, 0.58);
  close(r.cr, 0.033, 5e-4, 'CR');
  assert.equal(r.accepted, true);
  close(r.weights.reduce((a, b) => a + b, 0), 1, 1e-12, 'sum');
});

test('a perfectly consistent matrix has λmax = n and CR = 0; n ≤ 2 always has CR 0', () => {
  const r = ahpWeights([
    [1, 2, 4],
    [1 / 2, 1, 2],
    [1 / 4, 1 / 2, 1],
  ]);
  close(r.lambdaMax, 3, 1e-9, 'λmax');
  close(r.cr, 0, 1e-9, 'CR');
  close(r.weights[0]!, 4 / 7, 1e-9, 'w1');
  const two = ahpWeights([
    [1, 9],
    [1 / 9, 1],
  ]);
  assert.equal(two.cr, 0);
  close(two.weights[0]!, 0.9, 1e-9, 'w1');
  assert.equal(ahpWeights([[1]]).weights[0], 1);
});

test('a non-reciprocal cell is named (matrix, row, column)', () => {
  const e = throwsIipError(
    () =>
      checkJudgmentMatrix(
        [
          [1, 3, 5],
          [1 / 3, 1, 3],
          [1 / 5, 3, 1],
        ],
        { id: 'ahp:foundation' },
      ),
    'IIP_ERR_EVAL_MATRIX_RECIPROCAL',
    /matrix ahp:foundation, cell \(3, 2\)/,
  );
  assert.deepEqual({ matrix: e.details.matrix, row: e.details.row, column: e.details.column }, { matrix: 'ahp:foundation', row: 3, column: 2 });
});

test('a diagonal other than 1 is refused', () => {
  throwsIipError(
    () =>
      checkJudgmentMatrix(
        [
          [1, 2],
          [1 / 2, 2],
        ],
        { id: 'm' },
      ),
    'IIP_ERR_EVAL_MATRIX_RECIPROCAL',
    /cell \(2, 2\).*diagonal/,
  );
});

test('judgments off the Saaty scale and non-positive judgments are refused', () => {
  throwsIipError(
    () =>
      checkJudgmentMatrix(
        [
          [1, 2.5],
          [0.4, 1],
        ],
        { id: 'm' },
      ),
    'IIP_ERR_EVAL_MATRIX_SCALE',
    /cell \(1, 2\).*Saaty/,
  );
  throwsIipError(
    () =>
      checkJudgmentMatrix(
        [
          [1, 12],
          [1 / 12, 1],
        ],
        { id: 'm' },
      ),
    'IIP_ERR_EVAL_MATRIX_SCALE',
  );
  throwsIipError(
    () =>
      checkJudgmentMatrix(
        [
          [1, -2],
          [-0.5, 1],
        ],
        { id: 'm' },
      ),
    'IIP_ERR_EVAL_MATRIX_SCALE',
  );
  // Hand-typed reciprocals with three decimals pass the reciprocal tolerance.
  checkJudgmentMatrix([
    [1, 3],
    [0.333, 1],
  ]);
});

test('a non-square matrix is refused with IIP_ERR_EVAL_MATRIX_SIZE', () => {
  throwsIipError(() => ahpWeights([[1, 2], [0.5]], undefined, { id: 'm' }), 'IIP_ERR_EVAL_MATRIX_SIZE', /matrix m/);
  throwsIipError(() => ahpWeights(ISSUE, ['a', 'b'], { id: 'm' }), 'IIP_ERR_EVAL_MATRIX_SIZE');
});

const INCONSISTENT = [
  [1, 9, 1 / 9],
  [1 / 9, 1, 9],
  [9, 1 / 9, 1],
];

test('CR ≥ 0.1 is refused naming the matrix, unless allowInconsistent', () => {
  const e = throwsIipError(() => ahpWeights(INCONSISTENT, ['a', 'b', 'c'], { id: 'ahp:overall' }), 'IIP_ERR_EVAL_AHP_INCONSISTENT', /matrix ahp:overall.*CR = /);
  assert.equal(e.details.matrix, 'ahp:overall');
  assert.ok((e.details.cr as number) >= 0.1);
  const r = ahpWeights(INCONSISTENT, ['a', 'b', 'c'], { id: 'ahp:overall', allowInconsistent: true });
  assert.equal(r.accepted, false);
  assert.ok(r.cr >= 0.1);
});

test('the RI table is Saaty\'s and can be replaced', () => {
  assert.deepEqual(SAATY_RI.slice(3, 10), [0.58, 0.9, 1.12, 1.24, 1.32, 1.41, 1.45]);
  const r = ahpWeights(ISSUE, undefined, { ri: [0, 0, 0, 0.52] });
  assert.equal(r.ri, 0.52);
  close(r.cr, r.ci / 0.52, 1e-12, 'CR');
});

test('group AHP: geometric mean of judgments (AIJ) and mean of priorities (AIP)', () => {
  const e1 = [
    [1, 3],
    [1 / 3, 1],
  ];
  const e2 = [
    [1, 1 / 3],
    [3, 1],
  ];
  const aij = groupAhp([e1, e2], ['x', 'y'], 'geometric', { id: 'g' });
  assert.deepEqual(
    aij.map((r) => r.matrixId),
    ['g#1', 'g#2', 'g'],
  );
  // Geometric mean of 3 and 1/3 is 1: equal weights.
  close(aij[2]!.weights[0]!, 0.5, 1e-12, 'AIJ w1');
  const e3 = [
    [1, 2],
    [1 / 2, 1],
  ];
  const aip = groupAhp([e1, e3], ['x', 'y'], 'arithmetic', { id: 'g' });
  close(aip[2]!.weights[0]!, (0.75 + 2 / 3) / 2, 1e-12, 'AIP w1');
  const aij2 = groupAhp([e1, e3], ['x', 'y'], 'geometric', { id: 'g' });
  const gm = Math.sqrt(3 * 2);
  close(aij2[2]!.weights[0]!, gm / (gm + 1), 1e-12, 'AIJ w1');
  // An inconsistent expert is refused by name.
  throwsIipError(() => groupAhp([ISSUE, INCONSISTENT], undefined, 'geometric', { id: 'g' }), 'IIP_ERR_EVAL_AHP_INCONSISTENT', /matrix g#2/);
});

test('blend: w = α·w_ahp + (1 − α)·w_expert', () => {
  const w = blendWeights([0.6, 0.3, 0.1], [0.2, 0.4, 0.4], 0.75);
  close(w[0]!, 0.75 * 0.6 + 0.25 * 0.2, 1e-12, 'w1');
  close(w[2]!, 0.75 * 0.1 + 0.25 * 0.4, 1e-12, 'w3');
});
