/**
 * Agreement between two partitions of the same regions: exact matches (same tier) and the adjusted Rand
 * index of Hubert and Arabie (1985), ARI = (Σ C(n_ij,2) − E) / (½(Σ C(a_i,2) + Σ C(b_j,2)) − E) with
 * E = Σ C(a_i,2)·Σ C(b_j,2) / C(n,2) — 1 for identical partitions, about 0 for chance, negative below chance.
 */

function choose2(n: number): number {
  return (n * (n - 1)) / 2;
}

export function adjustedRandIndex(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  const n = a.length;
  const cells = new Map<string, number>();
  const rows = new Map<number | string, number>();
  const cols = new Map<number | string, number>();
  for (let i = 0; i < n; i++) {
    const key = `${String(a[i])}\u0000${String(b[i])}`;
    cells.set(key, (cells.get(key) ?? 0) + 1);
    rows.set(a[i]!, (rows.get(a[i]!) ?? 0) + 1);
    cols.set(b[i]!, (cols.get(b[i]!) ?? 0) + 1);
  }
  let index = 0;
  for (const v of cells.values()) index += choose2(v);
  let sa = 0;
  for (const v of rows.values()) sa += choose2(v);
  let sb = 0;
  for (const v of cols.values()) sb += choose2(v);
  const total = choose2(n);
  const expected = total > 0 ? (sa * sb) / total : 0;
  const max = (sa + sb) / 2;
  // Both partitions trivial (all in one group, or all singletons): they agree perfectly.
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}

export function exactMatches(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) k++;
  return k;
}
