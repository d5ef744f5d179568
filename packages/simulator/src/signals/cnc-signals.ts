/**
 * CNC machining centre signals. The spindle follows the NC program's speed segments with motor inertia;
 * spindle temperature follows load with the long lag of the spindle's thermal mass; vibration grows with
 * speed and load, climbs during a coming bearing or tool fault and rings down after the machine trips;
 * parts are counted only while cutting.
 */
import type { EmitEvent } from './kind-signals.js';
import { MachineSignals } from './machine-signals.js';
import type { MachineProfile, StateChange } from './machine-state.js';
import type { Rng } from './random.js';
import { clamp, lag, round } from './signal-math.js';

const PROFILE: MachineProfile = {
  runS: [15 * 60, 90 * 60],
  idleS: [2 * 60, 20 * 60],
  faultS: [3 * 60, 15 * 60],
  faultChancePerRun: 0.12,
  precursorS: 8 * 60,
  faults: [
    { code: 'E1021', message: 'Spindle bearing vibration high' },
    { code: 'E2010', message: 'Tool breakage detected' },
    { code: 'E3005', message: 'Spindle overload' },
  ],
};

const SPEEDS = [4000, 6000, 8000, 10000, 12000, 15000, 18000] as const;
const AMBIENT_C = 22;

export class CncSignals extends MachineSignals {
  private speed = 0;
  private speedTarget = 0;
  private load = 0;
  private cutLoad = 40;
  private segmentLeftS = 0;
  private temp = AMBIENT_C;
  private vib = 0.2;
  private power = 2;
  private energy: number;
  private parts: number;
  private partCycleS = 120;
  private partProgressS = 0;
  private readonly feedOverride = 100;

  constructor(rng: Rng) {
    super(PROFILE, rng);
    this.energy = rng.uniform(5_000, 60_000);
    this.parts = Math.floor(rng.uniform(1_000, 50_000));
  }

  step(dtS: number, _tMs: number, emit: EmitEvent): void {
    this.onChange(this.machine.step(dtS), emit);
    const state = this.machine.state;
    const pre = this.machine.precursor;
    const running = state === 'run';

    if (running) {
      this.segmentLeftS -= dtS;
      if (this.segmentLeftS <= 0) {
        this.speedTarget = this.rng.pick(SPEEDS);
        this.cutLoad = this.rng.uniform(25, 70);
        this.segmentLeftS = this.rng.uniform(30, 180);
      }
    }
    this.speed = lag(this.speed, running ? this.speedTarget : 0, dtS, 1.5);
    // a coming spindle fault shows as extra load (friction) before it trips
    const loadTarget = running ? this.cutLoad + 30 * pre : state === 'idle' ? 1.5 : 0;
    this.load = lag(this.load, loadTarget, dtS, 2);
    this.temp = lag(this.temp, AMBIENT_C + 0.35 * this.load + 10 * pre, dtS, 900);
    const speedFrac = this.speed / 24000;
    const vibTarget = running ? 0.6 + 1.5 * speedFrac + 0.015 * this.load + 10 * pre * pre : 0.1;
    this.vib = lag(this.vib, vibTarget, dtS, state === 'fault' ? 25 : 3);
    const powerTarget = state === 'fault' ? 1.0 : running ? 3.5 + 0.35 * this.load + 4 * speedFrac : 2.2;
    this.power = lag(this.power, powerTarget, dtS, 1);
    this.energy += (this.power * dtS) / 3600;

    if (running) {
      this.partProgressS += (dtS * this.feedOverride) / 100;
      if (this.partProgressS >= this.partCycleS) {
        this.parts++;
        this.partProgressS -= this.partCycleS;
      }
    }

    const noisy = running ? 1 : 0;
    this.out = {
      spindle_speed: round(clamp(this.speed * (1 + noisy * this.rng.gauss(0.002)), 0, 24000), 0),
      spindle_load: round(clamp(this.load + noisy * this.rng.gauss(2), 0, 150), 1),
      temperature: round(clamp(this.temp + this.rng.gauss(0.1), -20, 150), 1),
      vibration: round(clamp(this.vib * (1 + this.rng.gauss(0.05)), 0, 50), 2),
      part_count: this.parts,
      state,
      power: round(clamp(this.power + noisy * this.rng.gauss(0.3), 0, 80), 2),
      energy: round(this.energy, 3),
      feed_override: this.feedOverride,
    };
  }

  protected onChange(change: StateChange | undefined, emit: EmitEvent): void {
    if (!change) return;
    if (change.to === 'run') {
      this.partCycleS = this.rng.uniform(60, 240);
      this.partProgressS = 0;
      this.segmentLeftS = 0;
    }
    if (change.fault) {
      // the trip itself: the spindle brakes hard, which shakes the machine before it rings down
      this.vib = Math.max(this.vib, this.rng.uniform(8, 16));
      emit({ event: 'fault', values: change.fault });
    }
  }
}
