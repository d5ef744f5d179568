/**
 * What the three machine kinds (CNC, air compressor, injection moulding) share: a run/idle/fault state
 * machine driven by the kind's profile, the latest values, and fault injection that goes through the same
 * state-change handling as a natural fault.
 */
import type { EmitEvent, KindSignals, SignalValues } from './kind-signals.js';
import { type MachineProfile, MachineStateMachine, type StateChange } from './machine-state.js';
import type { Rng } from './random.js';

export abstract class MachineSignals implements KindSignals {
  protected readonly machine: MachineStateMachine;
  protected out: SignalValues = {};

  constructor(
    profile: MachineProfile,
    protected readonly rng: Rng,
  ) {
    this.machine = new MachineStateMachine(profile, rng);
  }

  abstract step(dtS: number, tMs: number, emit: EmitEvent): void;

  /** Reacts to a state change (new cycle on run, fault event…). */
  protected abstract onChange(change: StateChange | undefined, emit: EmitEvent): void;

  values(): SignalValues {
    return this.out;
  }

  injectFault(emit: EmitEvent): void {
    this.onChange(this.machine.injectFault(), emit);
  }
}
