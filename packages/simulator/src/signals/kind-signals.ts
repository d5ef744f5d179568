/**
 * The contract every per-kind signal model fulfils: advance the physics by a step, report the current
 * values (already rounded to sensor resolution and within the product's thing model), and raise events.
 */
import type { PointValue } from '@iip/core';

export type SignalValues = Record<string, PointValue>;

export interface SignalEvent {
  /** Event id from the product's thing model (e.g. "fault"). */
  readonly event: string;
  readonly values: { readonly code: string; readonly message: string };
}

export type EmitEvent = (e: SignalEvent) => void;

export interface KindSignals {
  /** Advances by `dtS` seconds ending at wall time `tMs` (used for daily load profiles). */
  step(dtS: number, tMs: number, emit: EmitEvent): void;
  /** The values after the last step; the same object shape every time. */
  values(): SignalValues;
  /** Forces the kind's fault (or, for a meter, a power-quality event) now. */
  injectFault(emit: EmitEvent): void;
}
