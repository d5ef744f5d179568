/**
 * Feeder energy-meter signals. Active power follows the workshop's day: two shifts on weekdays (China
 * Standard Time), a lunch dip, a low night and weekend base load. Voltage sags slightly under load and,
 * rarely, dips hard (a power-quality event); current is derived from P = √3·U·I·cosφ so the four
 * electrical values always agree; the kWh register integrates power.
 */
import type { EmitEvent, KindSignals, SignalValues } from './kind-signals.js';
import type { Rng } from './random.js';
import { clamp, lag, round, SQRT3 } from './signal-math.js';

const NOMINAL_V = 380;
const CST_OFFSET_H = 8;
/** Mean time between spontaneous voltage sags. */
const SAG_EVERY_S = 8 * 3600;

function shiftFactor(tMs: number): number {
  const hours = tMs / 3_600_000 + CST_OFFSET_H;
  const hour = ((hours % 24) + 24) % 24;
  // 1970-01-01 was a Thursday: day 0 → 4 (Mon = 1 … Sun = 7)
  const weekday = ((Math.floor(hours / 24) + 3) % 7) + 1;
  const weekend = weekday >= 6;
  let f: number;
  if (hour >= 8 && hour < 12) f = 1;
  else if (hour >= 12 && hour < 13) f = 0.6;
  else if (hour >= 13 && hour < 17.5) f = 1;
  else if (hour >= 17.5 && hour < 22) f = 0.7;
  else f = 0.2;
  return weekend ? f * 0.35 : f;
}

export class EnergyMeterSignals implements KindSignals {
  private readonly ratedKw: number;
  private power: number;
  private voltOffset = 0;
  private freq = 50;
  private sagLeftS = 0;
  private sagDepth = 1;
  private energy: number;
  private readonly demandLimit: number;
  private out: SignalValues = {};

  constructor(private readonly rng: Rng) {
    this.ratedKw = rng.uniform(150, 450);
    this.power = this.ratedKw * 0.3;
    this.energy = rng.uniform(100_000, 3_000_000);
    this.demandLimit = Math.round(this.ratedKw * 1.1);
  }

  step(dtS: number, tMs: number, emit: EmitEvent): void {
    if (this.sagLeftS > 0) this.sagLeftS -= dtS;
    else if (this.rng.chance(dtS / SAG_EVERY_S)) this.startSag(emit);

    const target = this.ratedKw * (0.12 + 0.88 * shiftFactor(tMs));
    this.power = lag(this.power, target, dtS, 180);
    const p = clamp(this.power + this.rng.gauss(0.02 * this.ratedKw), 0, 1000);
    this.energy += (p * dtS) / 3600;

    this.voltOffset = clamp(this.voltOffset + this.rng.gauss(0.3) * Math.sqrt(dtS) - 0.01 * this.voltOffset * dtS, -8, 8);
    const sag = this.sagLeftS > 0 ? this.sagDepth : 1;
    const v = clamp((NOMINAL_V + this.voltOffset - 0.02 * p) * sag, 0, 480);
    const pf = clamp(0.8 + 0.15 * (p / this.ratedKw) + this.rng.gauss(0.005), 0.5, 0.99);
    const current = clamp((p * 1000) / (SQRT3 * v * pf), 0, 2000);
    this.freq = clamp(this.freq + this.rng.gauss(0.004) * Math.sqrt(dtS) - 0.05 * (this.freq - 50) * dtS, 49.8, 50.2);

    this.out = {
      voltage: round(v, 1),
      current: round(current, 1),
      active_power: round(p, 2),
      power_factor: round(pf, 3),
      energy: round(this.energy, 3),
      frequency: round(this.freq, 3),
      demand_limit: this.demandLimit,
    };
  }

  values(): SignalValues {
    return this.out;
  }

  injectFault(emit: EmitEvent): void {
    this.startSag(emit);
  }

  private startSag(emit: EmitEvent): void {
    this.sagLeftS = this.rng.uniform(2, 20);
    this.sagDepth = this.rng.uniform(0.6, 0.85);
    emit({
      event: 'power_quality',
      values: { code: 'SAG', message: `Voltage sag to ${Math.round(this.sagDepth * 100)}% of nominal` },
    });
  }
}
