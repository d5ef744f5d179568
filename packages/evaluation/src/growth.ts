/**
 * Growth of an index series: year-on-year growth (v_t / v_{t−1} − 1) × 100 and the compound annual growth
 * rate CAGR = ((v_last / v_first)^(1/(years spanned)) − 1) × 100, both in %. The span is measured in calendar
 * years, so a gap in the series is not mistaken for one year. Undefined ratios (missing or non-positive
 * values) give null rather than a misleading number.
 */

export function yoyGrowth(values: readonly number[]): Array<number | null> {
  return values.map((v, i) => {
    if (i === 0) return null;
    const prev = values[i - 1]!;
    return prev > 0 && Number.isFinite(v) ? (v / prev - 1) * 100 : null;
  });
}

export function cagr(first: number, last: number, years: number): number | null {
  if (!(first > 0) || !(last >= 0) || !(years > 0)) return null;
  return ((last / first) ** (1 / years) - 1) * 100;
}

/**
 * Each child's share of its parent's change between two years, in %: w_c·Δx_c / Σ_k w_k·Δx_k × 100. Under
 * the arithmetic mean the parent's change is exactly Σ w·Δx / Σ w, so the shares add up to 100 (a child
 * that fell gets a negative share). When the weighted changes cancel to 0 every share is 0.
 */
export function contributionShares(weights: readonly number[], from: readonly number[], to: readonly number[]): number[] {
  const parts = weights.map((w, i) => {
    const d = to[i]! - from[i]!;
    return Number.isFinite(d) ? w * d : 0;
  });
  const total = parts.reduce((a, b) => a + b, 0);
  return parts.map((p) => (total !== 0 ? (p / total) * 100 : 0));
}
