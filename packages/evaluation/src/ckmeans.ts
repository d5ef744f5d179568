/**
 * Optimal univariate k-means (Ckmeans.1d.dp, Wang & Song 2011): the partition of sorted values into k
 * contiguous groups that minimises the total within-group sum of squared deviations, by dynamic
 * programming — D[m][i] = min_j D[m−1][j−1] + SSQ(j…i), with SSQ from prefix sums in O(1). O(k·n²) time,
 * which is nothing for 31 provinces, and exact (unlike Jenks' iterative heuristics). Groups come back in
 * ascending order, as simple-statistics' `ckmeans` returns them.
 */
import { IipError } from '@iip/core';

export function ckmeans(data: readonly number[], k: number): number[][] {
  if (!Number.isInteger(k) || k < 1) {
    throw new IipError('IIP_ERR_EVAL_OPTION_INVALID', `ckmeans: k must be a positive integer, got ${k}`, { option: 'tiers.k', k });
  }
  const x = [...data].sort((a, b) => a - b);
  const n = x.length;
  if (n === 0) return [];
  if (k > n) {
    throw new IipError('IIP_ERR_EVAL_OPTION_INVALID', `ckmeans: cannot make ${k} groups of ${n} values`, { option: 'tiers.k', k, n });
  }
  // Identical values cannot be told apart; ask for no more groups than there are distinct values.
  let distinct = 1;
  for (let i = 1; i < n; i++) if (x[i] !== x[i - 1]) distinct++;
  const K = Math.min(k, distinct);

  // Shift by the median before summing squares so that large values do not lose precision.
  const shift = x[n >> 1]!;
  const s1 = new Float64Array(n + 1);
  const s2 = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const v = x[i]! - shift;
    s1[i + 1] = s1[i]! + v;
    s2[i + 1] = s2[i]! + v * v;
  }
  // SSQ of x[j..i] inclusive.
  const ssq = (j: number, i: number): number => {
    const m = i - j + 1;
    const a = s1[i + 1]! - s1[j]!;
    return Math.max(0, s2[i + 1]! - s2[j]! - (a * a) / m);
  };
  const D = Array.from({ length: K }, () => new Float64Array(n));
  const B = Array.from({ length: K }, () => new Int32Array(n));
  for (let i = 0; i < n; i++) {
    D[0]![i] = ssq(0, i);
    B[0]![i] = 0;
  }
  for (let m = 1; m < K; m++) {
    const prev = D[m - 1]!;
    const cur = D[m]!;
    const back = B[m]!;
    for (let i = m; i < n; i++) {
      let best = Number.POSITIVE_INFINITY;
      let arg = i;
      // Last group is x[j..i]; the first m groups need at least m values, so j ≥ m.
      for (let j = i; j >= m; j--) {
        const c = prev[j - 1]! + ssq(j, i);
        if (c < best) {
          best = c;
          arg = j;
        }
      }
      cur[i] = best;
      back[i] = arg;
    }
  }
  const groups: number[][] = [];
  let end = n - 1;
  for (let m = K - 1; m >= 0; m--) {
    const start = B[m]![end]!;
    groups.unshift(x.slice(start, end + 1));
    end = start - 1;
  }
  return groups;
}
