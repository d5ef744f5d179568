/**
 * Statistics of indicator scores across regions: Pearson correlation (pairwise-complete: a region missing
 * either value is left out of that pair) and Cronbach's alpha of a group of indicators,
 * α = k/(k − 1) · (1 − Σ var(x_i) / var(Σ x_i)), over the regions that have every indicator of the group.
 */

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!) || Number.isNaN(y[i]!)) continue;
    n++;
    sx += x[i]!;
    sy += y[i]!;
  }
  if (n < 2) return null;
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!) || Number.isNaN(y[i]!)) continue;
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

function variance(xs: readonly number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, b) => a + (b - m) * (b - m), 0) / (xs.length - 1);
}

/** items[i] = one indicator's values across regions. Null when k < 2, fewer than 2 regions, or no variance. */
export function cronbachAlpha(items: ReadonlyArray<ArrayLike<number>>): number | null {
  const k = items.length;
  if (k < 2) return null;
  const n = items[0]!.length;
  const rows: number[] = [];
  for (let r = 0; r < n; r++) if (items.every((it) => !Number.isNaN(it[r]!))) rows.push(r);
  if (rows.length < 2) return null;
  let sumVar = 0;
  for (const it of items) sumVar += variance(rows.map((r) => it[r]!));
  const totals = rows.map((r) => items.reduce((a, it) => a + it[r]!, 0));
  const vt = variance(totals);
  if (!(vt > 0)) return null;
  return (k / (k - 1)) * (1 - sumVar / vt);
}
