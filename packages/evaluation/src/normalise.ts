/**
 * Normalisation (无量纲化) of one indicator's values across regions, direction respected (−1: lower is better):
 * - `minmax`: (y − min)/(max − min) × scale; for direction −1, (max − y)/(max − min) × scale. A constant
 *   column has no spread to measure, so every region gets the middle, 0.5 × scale.
 * - `zscore`: (y − mean)/sd (sample sd), sign flipped for direction −1; a constant column gives 0.
 * - `rank`: 1 for the worst … n for the best, ties get their average rank; a constant column gives (n + 1)/2.
 * - `goalposts`: (y − low)/(high − low) × scale clipped to [0, scale] (direction −1: (high − y)/(high − low)).
 * - `target`: min(y/target, 1) × scale (direction −1: min(target/y, 1) × scale).
 * Missing values (NaN) stay missing and do not take part in min, max, mean or rank.
 * The national base-year index is `baseYearIndex`: X = Y_t / Y_base × 100, or Y_base / Y_t × 100 for
 * direction −1 (the inverse ratio, so that a halving of a lower-is-better quantity doubles its index).
 */
import { IipError } from '@iip/core';

export type NormalisationMethod = 'minmax' | 'zscore' | 'rank' | 'goalposts' | 'target';

export const NORMALISATION_METHODS: readonly NormalisationMethod[] = ['minmax', 'zscore', 'rank', 'goalposts', 'target'];

export interface NormaliseSpec {
  method: NormalisationMethod;
  direction: 1 | -1;
  /** Upper end of bounded methods (minmax, goalposts, target): 1 or 100 (default 100). */
  scale?: number;
  goalposts?: readonly [number, number];
  target?: number;
  /** For error messages. */
  indicator?: string;
}

/** Normalises `values` into `out` (allocated when not given); NaN in, NaN out. */
export function normaliseColumn(values: ArrayLike<number>, spec: NormaliseSpec, out?: Float64Array): Float64Array {
  const n = values.length;
  const res = out ?? new Float64Array(n);
  const scale = spec.scale ?? 100;
  const dir = spec.direction;
  switch (spec.method) {
    case 'minmax': {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const range = max - min;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) res[i] = Number.NaN;
        else if (!(range > 0)) res[i] = 0.5 * scale;
        else res[i] = (dir === 1 ? (v - min) / range : (max - v) / range) * scale;
      }
      return res;
    }
    case 'zscore': {
      let sum = 0;
      let cnt = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!Number.isNaN(v)) {
          sum += v;
          cnt++;
        }
      }
      const mean = sum / cnt;
      let ss = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
      }
      const sd = cnt > 1 ? Math.sqrt(ss / (cnt - 1)) : 0;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) res[i] = Number.NaN;
        else res[i] = sd > 0 ? (dir * (v - mean)) / sd : 0;
      }
      return res;
    }
    case 'rank': {
      // Average ranks over the present values, counting how many are worse and how many tie.
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) {
          res[i] = Number.NaN;
          continue;
        }
        let worse = 0;
        let ties = 0;
        for (let j = 0; j < n; j++) {
          const u = values[j]!;
          if (Number.isNaN(u)) continue;
          if (u === v) ties++;
          else if (dir === 1 ? u < v : u > v) worse++;
        }
        res[i] = worse + (ties + 1) / 2;
      }
      return res;
    }
    case 'goalposts': {
      const g = spec.goalposts;
      if (!g) throw missingParam(spec, 'goalposts');
      const lo = Math.min(g[0], g[1]);
      const hi = Math.max(g[0], g[1]);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) {
          res[i] = Number.NaN;
          continue;
        }
        const s = dir === 1 ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo);
        res[i] = Math.min(1, Math.max(0, s)) * scale;
      }
      return res;
    }
    case 'target': {
      const t = spec.target;
      if (t === undefined || !(t > 0)) throw missingParam(spec, 'target');
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) res[i] = Number.NaN;
        else if (dir === 1) res[i] = Math.min(1, Math.max(0, v / t)) * scale;
        else res[i] = (v <= 0 ? 1 : Math.min(1, t / v)) * scale;
      }
      return res;
    }
    default: {
      const never: never = spec.method;
      throw new IipError('IIP_ERR_EVAL_OPTION_INVALID', `unknown normalisation method ${String(never)}`, { option: 'normalisation' });
    }
  }
}

function missingParam(spec: NormaliseSpec, what: 'goalposts' | 'target'): IipError {
  return new IipError(
    'IIP_ERR_EVAL_OPTION_INVALID',
    `normalisation "${spec.method}" needs ${what === 'goalposts' ? 'goalposts [low, high]' : 'a positive target'} on indicator ${spec.indicator ?? '?'}; add it to the framework`,
    { option: 'normalisation', indicator: spec.indicator, missing: what },
  );
}

/**
 * National base-year index of one value: Y_t / Y_base × 100 (direction −1: Y_base / Y_t × 100). NaN when
 * either value is missing or the ratio is undefined (zero or negative base, zero value for direction −1).
 */
export function baseYearIndex(value: number, base: number, direction: 1 | -1): number {
  if (!(base > 0) || Number.isNaN(value)) return Number.NaN;
  // Multiply before dividing: Y·100 is exact for ordinary data, so the one rounding is the division's and
  // hand-computed indices (60 → 120 on a base of 50) come out exactly.
  if (direction === 1) return (value * 100) / base;
  return value > 0 ? (base * 100) / value : Number.NaN;
}
