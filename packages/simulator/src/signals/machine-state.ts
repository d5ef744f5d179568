/**
 * The run / idle / fault life of a machine. Runs end either in idle (the job is done) or, occasionally, in a
 * fault that was decided when the run began, so the signal models can show the fault's precursor (rising
 * vibration, current or temperature) during the minutes before it. A fault clears after a while and the
 * machine returns to idle, as it would after a technician's reset.
 */
import type { Rng } from './random.js';

export type MachineStateName = 'run' | 'idle' | 'fault';

export interface FaultKind {
  readonly code: string;
  readonly message: string;
}

export interface MachineProfile {
  /** Dwell ranges in seconds [min, max]. */
  readonly runS: readonly [number, number];
  readonly idleS: readonly [number, number];
  readonly faultS: readonly [number, number];
  /** Probability that a run ends in a fault instead of idle. */
  readonly faultChancePerRun: number;
  /** How long before a coming fault its precursor becomes visible. */
  readonly precursorS: number;
  readonly faults: readonly FaultKind[];
}

export interface StateChange {
  readonly from: MachineStateName;
  readonly to: MachineStateName;
  /** Set when the change is into 'fault'. */
  readonly fault?: FaultKind;
}

export class MachineStateMachine {
  private current: MachineStateName = 'idle';
  private remainingS: number;
  private endsInFault = false;
  private activeFault: FaultKind | undefined;
  private inStateS = 0;

  constructor(
    private readonly profile: MachineProfile,
    private readonly rng: Rng,
  ) {
    this.remainingS = rng.uniform(profile.idleS[0], profile.idleS[1]);
  }

  get state(): MachineStateName {
    return this.current;
  }

  /** Seconds spent in the current state. */
  get timeInState(): number {
    return this.inStateS;
  }

  get fault(): FaultKind | undefined {
    return this.activeFault;
  }

  /** 0 while healthy, rising to 1 over the last `precursorS` of a run that will end in a fault. */
  get precursor(): number {
    if (this.current !== 'run' || !this.endsInFault) return 0;
    const p = 1 - this.remainingS / this.profile.precursorS;
    return Math.min(Math.max(p, 0), 1);
  }

  /** Advances by `dtS` seconds; returns the state change that happened, if any. */
  step(dtS: number): StateChange | undefined {
    this.inStateS += dtS;
    this.remainingS -= dtS;
    if (this.remainingS > 0) return undefined;
    switch (this.current) {
      case 'run':
        return this.endsInFault ? this.enterFault(this.rng.pick(this.profile.faults)) : this.enter('idle');
      case 'idle':
        return this.enter('run');
      case 'fault':
        return this.enter('idle');
      default: {
        const never: never = this.current;
        throw new Error(`unknown machine state ${String(never)}`);
      }
    }
  }

  /** Forces a fault now (demo and test hook); a machine already in fault stays in its current one. */
  injectFault(fault?: FaultKind): StateChange | undefined {
    if (this.current === 'fault') return undefined;
    return this.enterFault(fault ?? this.rng.pick(this.profile.faults));
  }

  private enter(to: 'run' | 'idle'): StateChange {
    const from = this.current;
    const range = to === 'run' ? this.profile.runS : this.profile.idleS;
    this.current = to;
    this.inStateS = 0;
    this.remainingS = this.rng.uniform(range[0], range[1]);
    this.endsInFault = to === 'run' && this.rng.chance(this.profile.faultChancePerRun);
    this.activeFault = undefined;
    return { from, to };
  }

  private enterFault(fault: FaultKind): StateChange {
    const from = this.current;
    this.current = 'fault';
    this.inStateS = 0;
    this.remainingS = this.rng.uniform(this.profile.faultS[0], this.profile.faultS[1]);
    this.endsInFault = false;
    this.activeFault = fault;
    return { from, to: 'fault', fault };
  }
}
