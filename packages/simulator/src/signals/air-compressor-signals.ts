/**
 * Screw air compressor signals. While running it loads until the network reaches set point + 0.4 bar,
 * then unloads until it falls to set point − 0.4 bar (the saw-tooth every compressor room shows); plant
 * air demand wanders. Current and power step between loaded and unloaded; discharge temperature follows
 * with a lag and climbs before the typical over-temperature trip.
 */
import type { EmitEvent } from './kind-signals.js';
import { MachineSignals } from './machine-signals.js';
import type { MachineProfile, StateChange } from './machine-state.js';
import type { Rng } from './random.js';
import { clamp, lag, round, SQRT3 } from './signal-math.js';

const PROFILE: MachineProfile = {
  runS: [20 * 60, 120 * 60],
  idleS: [5 * 60, 30 * 60],
  faultS: [3 * 60, 15 * 60],
  faultChancePerRun: 0.08,
  precursorS: 10 * 60,
  faults: [
    { code: 'A01', message: 'Discharge temperature high' },
    { code: 'A02', message: 'Main motor overload' },
    { code: 'A07', message: 'Oil filter differential pressure high' },
  ],
};

const LINE_VOLTAGE = 380;
const AMBIENT_C = 25;
const HYSTERESIS_BAR = 0.4;

export class AirCompressorSignals extends MachineSignals {
  private readonly setpoint: number;
  private pressure: number;
  private demand: number;
  private loaded = false;
  private current = 0;
  private temp = AMBIENT_C;
  private energy: number;

  constructor(rng: Rng) {
    super(PROFILE, rng);
    this.setpoint = round(rng.uniform(6.5, 8), 1);
    this.pressure = this.setpoint;
    this.demand = rng.uniform(0.02, 0.04);
    this.energy = rng.uniform(20_000, 300_000);
  }

  step(dtS: number, _tMs: number, emit: EmitEvent): void {
    this.onChange(this.machine.step(dtS), emit);
    const state = this.machine.state;
    const pre = this.machine.precursor;
    const running = state === 'run';

    if (!running) this.loaded = false;
    else if (this.pressure >= this.setpoint + HYSTERESIS_BAR) this.loaded = false;
    else if (this.pressure <= this.setpoint - HYSTERESIS_BAR) this.loaded = true;

    // demand is a random walk (bar/s at 7 bar); consumption scales with network pressure
    this.demand = clamp(this.demand + this.rng.gauss(0.0008) * Math.sqrt(dtS), 0.01, 0.05);
    const supply = this.loaded ? 0.07 : 0;
    this.pressure = clamp(this.pressure + (supply - (this.demand * this.pressure) / 7) * dtS, 0, 16);

    // a failing motor or clogged separator draws more current under load before it trips
    const currentTarget = !running ? 0 : this.loaded ? 128 * (1 + 0.12 * pre) : 42;
    this.current = lag(this.current, currentTarget, dtS, 0.5);
    const pf = this.loaded ? 0.87 : 0.45;
    const current = this.current < 0.5 ? 0 : clamp(this.current + this.rng.gauss(1.2), 0, 400);
    const power = (SQRT3 * LINE_VOLTAGE * current * pf) / 1000;
    this.energy += (power * dtS) / 3600;

    const tempTarget = AMBIENT_C + (this.loaded ? 60 : running ? 42 : 0) + 25 * pre;
    this.temp = lag(this.temp, tempTarget, dtS, 240);

    this.out = {
      discharge_pressure: round(clamp(this.pressure + this.rng.gauss(0.01), 0, 16), 2),
      temperature: round(clamp(this.temp + this.rng.gauss(0.2), -20, 130), 1),
      motor_current: round(current, 1),
      power: round(clamp(power, 0, 110), 2),
      energy: round(this.energy, 3),
      running,
      state,
      pressure_setpoint: this.setpoint,
    };
  }

  protected onChange(change: StateChange | undefined, emit: EmitEvent): void {
    if (change?.fault) emit({ event: 'fault', values: change.fault });
  }
}
