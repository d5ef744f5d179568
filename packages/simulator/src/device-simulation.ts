/**
 * One simulated device: a product's signal model advanced on a fixed internal step, so the values at a
 * given time depend only on the seed, the start time and that time — never on how often anyone samples.
 * A short warm-up before the start time means the first sample already looks like a machine mid-shift.
 */
import type { PointValue } from '@iip/core';
import { IipError } from '@iip/core';
import type { FactoryProductId } from './products/product-definition.js';
import { AirCompressorSignals } from './signals/air-compressor-signals.js';
import { CncSignals } from './signals/cnc-signals.js';
import { EnergyMeterSignals } from './signals/energy-meter-signals.js';
import { InjectionMouldingSignals } from './signals/injection-moulding-signals.js';
import type { KindSignals, SignalEvent } from './signals/kind-signals.js';
import { Rng, seedFor } from './signals/random.js';

export interface DeviceSimulationOptions {
  readonly product: string;
  /** Seeds the device's signals; derive it per device with the device id mixed in. */
  readonly seed: number;
  /** Epoch ms at which the simulation starts. */
  readonly startMs: number;
  /** Internal physics step (default 1000 ms, at most 1000). */
  readonly stepMs?: number;
  /** Simulated seconds run before startMs so signals start warm (default 1800). */
  readonly warmUpS?: number;
}

export interface SimulatedSample {
  readonly ts: number;
  readonly values: Readonly<Record<string, PointValue>>;
  /** Events raised since the previous sample, each stamped with the step it happened in. */
  readonly events: readonly (SignalEvent & { readonly ts: number })[];
}

const KNOWN: readonly FactoryProductId[] = ['cnc-machine', 'air-compressor', 'injection-moulding-machine', 'energy-meter'];

function isKnown(product: string): product is FactoryProductId {
  return (KNOWN as readonly string[]).includes(product);
}

function signalsFor(product: FactoryProductId, rng: Rng): KindSignals {
  switch (product) {
    case 'cnc-machine':
      return new CncSignals(rng);
    case 'air-compressor':
      return new AirCompressorSignals(rng);
    case 'injection-moulding-machine':
      return new InjectionMouldingSignals(rng);
    case 'energy-meter':
      return new EnergyMeterSignals(rng);
    default: {
      const never: never = product;
      throw new Error(`no signal model for ${String(never)}`);
    }
  }
}

export class DeviceSimulation {
  readonly product: FactoryProductId;
  private readonly signals: KindSignals;
  private readonly stepMs: number;
  private simMs: number;
  private pending: (SignalEvent & { ts: number })[] = [];

  constructor(opts: DeviceSimulationOptions) {
    if (!isKnown(opts.product)) {
      throw new IipError('IIP_ERR_SIM_UNKNOWN_PRODUCT', `unknown product "${opts.product}"; known: ${KNOWN.join(', ')}`, {
        product: opts.product,
        known: [...KNOWN],
      });
    }
    const stepMs = opts.stepMs ?? 1000;
    if (!(Number.isInteger(stepMs) && stepMs >= 1 && stepMs <= 1000)) {
      throw new IipError('IIP_ERR_SIM_BAD_OPTION', `stepMs must be an integer in [1, 1000], got ${stepMs}`, { stepMs });
    }
    this.product = opts.product;
    this.stepMs = stepMs;
    this.signals = signalsFor(opts.product, new Rng(seedFor(opts.seed, opts.product)));
    const warmUpS = opts.warmUpS ?? 1800;
    // warm-up events happened "before we were switched on": drop them
    this.simMs = opts.startMs - warmUpS * 1000;
    const discard = (): void => {};
    while (this.simMs < opts.startMs) {
      this.simMs += 1000;
      this.signals.step(1, this.simMs, discard);
    }
    this.simMs = opts.startMs;
    this.signals.step(0, this.simMs, discard);
  }

  /** Advances to `toMs` (earlier times are ignored) and returns the values at the last whole step. */
  advance(toMs: number): SimulatedSample {
    const dtS = this.stepMs / 1000;
    while (this.simMs + this.stepMs <= toMs) {
      this.simMs += this.stepMs;
      const at = this.simMs;
      this.signals.step(dtS, at, (e) => this.pending.push({ ...e, ts: at }));
    }
    const events = this.pending;
    this.pending = [];
    return { ts: this.simMs, values: { ...this.signals.values() }, events };
  }

  /** Forces a fault at the current simulated time; it shows in the next sample and raises an event. */
  injectFault(): void {
    const at = this.simMs;
    this.signals.injectFault((e) => this.pending.push({ ...e, ts: at }));
  }
}
