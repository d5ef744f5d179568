/**
 * Missing values: coverage per indicator and year, and the explicit treatments — `omit` (leave the cell out
 * and re-weight its siblings during aggregation), `mean` and `median` (of the other regions in that year),
 * `groupMean` (of the other regions of the same group, e.g. 东部/中部/西部/东北; when the group has no value
 * the overall mean is used and the cell says so). Every imputed cell is listed, so no number in a report
 * is silently invented.
 */
import type { Cube } from './cube.js';

export type MissingMethod = 'omit' | 'mean' | 'median' | 'groupMean';

export const MISSING_METHODS: readonly MissingMethod[] = ['omit', 'mean', 'median', 'groupMean'];

export interface ImputedCell {
  region: string;
  indicator: string;
  year: number;
  /** The method that produced the value ('groupMean', or 'mean' when the group had no value). */
  method: string;
  value: number;
}

export function coverage(c: Cube): Array<{ indicator: string; year: number; present: number; missing: number }> {
  const out: Array<{ indicator: string; year: number; present: number; missing: number }> = [];
  const R = c.regions.length;
  const L = c.leaves.length;
  c.leaves.forEach((indicator, l) => {
    c.years.forEach((year, y) => {
      let present = 0;
      for (let r = 0; r < R; r++) if (!Number.isNaN(c.values[(y * R + r) * L + l]!)) present++;
      out.push({ indicator, year, present, missing: R - present });
    });
  });
  return out;
}

function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Fills missing cells of `c.values` in place (except for `omit`) and lists what it filled. */
export function imputeMissing(c: Cube, method: MissingMethod, regionGroups: Record<string, string> = {}): ImputedCell[] {
  if (method === 'omit') return [];
  const out: ImputedCell[] = [];
  const R = c.regions.length;
  const L = c.leaves.length;
  for (let y = 0; y < c.years.length; y++) {
    for (let l = 0; l < L; l++) {
      const present: number[] = [];
      const gaps: number[] = [];
      for (let r = 0; r < R; r++) {
        const v = c.values[(y * R + r) * L + l]!;
        if (Number.isNaN(v)) gaps.push(r);
        else present.push(r);
      }
      if (gaps.length === 0 || present.length === 0) continue;
      const vals = present.map((r) => c.values[(y * R + r) * L + l]!);
      const overall = method === 'median' ? median(vals) : mean(vals);
      for (const r of gaps) {
        let value = overall;
        let used: string = method;
        if (method === 'groupMean') {
          const g = regionGroups[c.regions[r]!];
          const same = g === undefined ? [] : present.filter((p) => regionGroups[c.regions[p]!] === g);
          if (same.length > 0) value = mean(same.map((p) => c.values[(y * R + p) * L + l]!));
          else used = 'mean';
        }
        c.values[(y * R + r) * L + l] = value;
        out.push({ region: c.regions[r]!, indicator: c.leaves[l]!, year: c.years[y]!, method: used, value });
      }
    }
  }
  return out;
}
