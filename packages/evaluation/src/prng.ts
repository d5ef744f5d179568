/**
 * A small seeded pseudo-random generator (mulberry32) with the draws the engine needs — uniform, normal
 * (Box–Muller), gamma (Marsaglia–Tsang) and Dirichlet — so that Monte Carlo runs and the synthetic example
 * are reproducible from one integer seed on every platform.
 */
import { Mulberry32 } from '@iip/core';

export class Prng extends Mulberry32 {
  private spare = Number.NaN;

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through the boost Gamma(a+1)·U^(1/a). */
  gamma(shape: number): number {
    if (shape < 1) {
      let u = 0;
      while (u === 0) u = this.next();
      return this.gamma(shape + 1) * u ** (1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Dirichlet(alpha) into out[offset … offset + alpha.length). */
  dirichlet(alpha: ArrayLike<number>, out: Float64Array, offset = 0): void {
    let sum = 0;
    for (let i = 0; i < alpha.length; i++) {
      const g = this.gamma(alpha[i]!);
      out[offset + i] = g;
      sum += g;
    }
    for (let i = 0; i < alpha.length; i++) out[offset + i] = out[offset + i]! / sum;
  }
}
