/**
 * Judgment-matrix editing for the evaluation page: Saaty's 1–9 scale as the choices of a cell, the
 * reciprocal fill of the lower triangle, and how a judgment is written ("1/3", not 0.333…). Pure.
 */

/** The scale, strongest preference for the row first: 9 … 2, 1, 1/2 … 1/9. */
export const SAATY_CHOICES: readonly number[] = [9, 8, 7, 6, 5, 4, 3, 2, 1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6, 1 / 7, 1 / 8, 1 / 9];

export function formatJudgment(v: number): string {
  if (v >= 1) return String(Math.round(v * 1000) / 1000);
  const inv = 1 / v;
  return Math.abs(inv - Math.round(inv)) < 1e-6 ? `1/${Math.round(inv)}` : String(Math.round(v * 1000) / 1000);
}

/** The scale choice nearest to a judgment (a framework may hold 0.33 for 1/3). */
export function nearestChoice(v: number): number {
  let best = 1;
  for (const c of SAATY_CHOICES) if (Math.abs(Math.log(c) - Math.log(v)) < Math.abs(Math.log(best) - Math.log(v))) best = c;
  return best;
}

export function identityMatrix(n: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: n }, () => 1));
}

/** Sets a_ij (i < j) and its reciprocal a_ji; returns a new matrix. */
export function setJudgment(m: readonly (readonly number[])[], i: number, j: number, v: number): number[][] {
  const next = m.map((row) => [...row]);
  next[i]![j] = v;
  next[j]![i] = 1 / v;
  return next;
}
