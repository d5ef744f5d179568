/**
 * Small physical building blocks shared by the per-kind signal models: first-order lags (thermal mass,
 * motor inertia), clamping to physical limits, and rounding to what a real sensor would report.
 */

/** First-order lag: moves `current` toward `target` with time constant `tauS`, exact for any step. */
export function lag(current: number, target: number, dtS: number, tauS: number): number {
  return target + (current - target) * Math.exp(-dtS / tauS);
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** Rounds to a sensor's resolution; `+ 0` turns -0 into 0 so payloads never carry "-0". */
export function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f + 0;
}

/** √3 for three-phase power: P = √3 · U_LL · I · cosφ. */
export const SQRT3 = Math.sqrt(3);
