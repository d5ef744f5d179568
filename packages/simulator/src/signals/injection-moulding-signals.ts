/**
 * Injection-moulding machine signals. Each cycle has its phases — injection (pressure peak), holding,
 * then cooling and plasticising — so injection pressure pulses once per shot; the shot counter and the
 * last cycle time advance only at the end of a completed cycle while running. Barrel heaters hold their
 * set point except in fault, when the barrel cools slowly; a coming nozzle blockage shows as higher
 * injection pressure and longer cycles.
 */
import type { EmitEvent } from './kind-signals.js';
import { MachineSignals } from './machine-signals.js';
import type { MachineProfile, StateChange } from './machine-state.js';
import type { Rng } from './random.js';
import { clamp, lag, round } from './signal-math.js';

const PROFILE: MachineProfile = {
  runS: [30 * 60, 150 * 60],
  idleS: [5 * 60, 25 * 60],
  faultS: [5 * 60, 20 * 60],
  faultChancePerRun: 0.07,
  precursorS: 8 * 60,
  faults: [
    { code: 'M21', message: 'Nozzle blocked' },
    { code: 'M34', message: 'Barrel heater zone 2 failure' },
    { code: 'M40', message: 'Mould protection triggered' },
  ],
};

const AMBIENT_C = 25;
const INJECT_S = 1.5;
const HOLD_END_S = 6;
const PLASTICISE_END_S = 12;

export class InjectionMouldingSignals extends MachineSignals {
  private readonly barrelSet: number;
  private barrel: number;
  private mould = 40;
  private nominalCycleS: number;
  private cycleLenS: number;
  private cyclePosS = 0;
  private lastCycleS: number;
  private shots: number;
  private energy: number;

  constructor(rng: Rng) {
    super(PROFILE, rng);
    this.barrelSet = Math.round(rng.uniform(200, 250));
    this.barrel = this.barrelSet;
    this.nominalCycleS = rng.uniform(22, 40);
    this.cycleLenS = this.nominalCycleS;
    this.lastCycleS = this.nominalCycleS;
    this.shots = Math.floor(rng.uniform(10_000, 400_000));
    this.energy = rng.uniform(10_000, 200_000);
  }

  step(dtS: number, _tMs: number, emit: EmitEvent): void {
    this.onChange(this.machine.step(dtS), emit);
    const state = this.machine.state;
    const pre = this.machine.precursor;
    const running = state === 'run';

    const heatersOn = state !== 'fault';
    this.barrel = lag(this.barrel, heatersOn ? this.barrelSet : AMBIENT_C, dtS, heatersOn ? 600 : 1800);
    this.mould = lag(this.mould, running ? 45 : state === 'idle' ? 38 : AMBIENT_C + 5, dtS, 400);

    let pressure = 0;
    let drivePower = state === 'fault' ? 1.5 : 4;
    if (running) {
      this.cyclePosS += dtS;
      if (this.cyclePosS >= this.cycleLenS) {
        this.shots++;
        this.lastCycleS = this.cycleLenS;
        this.cyclePosS -= this.cycleLenS;
        this.cycleLenS = this.nominalCycleS * (1 + 0.15 * pre) + this.rng.gauss(0.3);
      }
      const pos = this.cyclePosS;
      if (pos < INJECT_S) {
        pressure = 1100 + 450 * pre + this.rng.gauss(25);
        drivePower = 75;
      } else if (pos < HOLD_END_S) {
        pressure = 550 + 150 * pre + this.rng.gauss(12);
        drivePower = 35;
      } else if (pos < PLASTICISE_END_S) {
        pressure = 70 + this.rng.gauss(5); // back pressure while the screw recovers
        drivePower = 22;
      } else {
        drivePower = 8;
      }
    }
    // heater bands draw full power while below set point, a holding share otherwise
    const heaterPower = heatersOn ? (this.barrel < this.barrelSet - 3 ? 18 : 6) : 0;
    const power = clamp(drivePower + heaterPower + this.rng.gauss(0.4), 0, 200);
    this.energy += (power * dtS) / 3600;

    this.out = {
      barrel_temperature: round(clamp(this.barrel + this.rng.gauss(0.4), 0, 400), 1),
      mould_temperature: round(clamp(this.mould + this.rng.gauss(0.2), 0, 150), 1),
      injection_pressure: round(clamp(pressure, 0, 2500), 1),
      cycle_time: round(clamp(this.lastCycleS, 0, 600), 2),
      shot_count: this.shots,
      state,
      power: round(power, 2),
      energy: round(this.energy, 3),
      barrel_temperature_setpoint: this.barrelSet,
    };
  }

  protected onChange(change: StateChange | undefined, emit: EmitEvent): void {
    if (!change) return;
    if (change.to === 'run') {
      this.cyclePosS = 0;
      this.cycleLenS = this.nominalCycleS;
    }
    if (change.fault) emit({ event: 'fault', values: change.fault });
  }
}
