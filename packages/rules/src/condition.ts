/**
 * Evaluating a rule's condition over one device's samples, as a pure step function: (state, sample) → (state,
 * transition). The state is a small JSON value, so the engine can store it and carry on after a restart or on
 * another worker; evaluating one device's samples in order, one at a time, is what makes "exactly one active alarm
 * per (device, rule)" hold however close together messages arrive.
 *
 * - **threshold**: true when `value op limit`; once raised it clears only when the value is back past the limit by
 *   the deadband (hysteresis), so a value wobbling around the limit does not chatter.
 * - **expression**: the CEL condition over the device's latest values of the properties it reads; it is evaluated
 *   only when all of them have a value.
 * - **count**: raised only after that many true samples in a row; **for**: only once the condition has held for
 *   that long, from its first true sample to the current one (sample-driven; a rule fires at the first sample that
 *   completes the duration).
 * - **window**: an aggregate (avg, min, max, sum, count) of a property over a time window, compared like a threshold.
 *   Sliding: over the last `size` at every sample, kept as WINDOW_SLICES slices of size/20 each (a slice leaves the
 *   window whole, so the window's far edge is as coarse as a slice). Tumbling: over each epoch-aligned window, told
 *   when the first sample of a later window arrives (a window without samples is not evaluated).
 * - **rate**: the change between a sample and the previous one of the property, per `per` (default a minute).
 * - **schedule**: outside the minutes the rule's schedule matches (device time), the condition counts as false.
 * - A sample older than the last one evaluated is ignored (evaluation follows device time).
 */
import type { PointValue } from '@iip/core';
import type { CompiledRule, Threshold, WindowCondition, WindowFn } from './rule.js';

export interface ConditionState {
  /** The rule is raised for this device. */
  readonly active: boolean;
  /** When the current run of true samples began (device time), or null. */
  readonly pendingSince: number | null;
  /** True samples in a row. */
  readonly streak: number;
  /** The device time of the last sample evaluated, or null. */
  readonly lastTs: number | null;
  /** Window rules: the slices [start, n, sum, min, max] (sliding), or the current window's one (tumbling). */
  readonly slices?: ReadonlyArray<readonly [number, number, number, number, number]>;
  /** Rate rules: the previous sample [ts, value]. */
  readonly prev?: readonly [number, number];
  /** No-data rules: when the platform last received a sample of the device (its clock, not the device's). */
  readonly lastSeen?: number;
  /** Rules with alarm.suppressWhen: whether it held at the last sample that told. */
  readonly suppressed?: boolean;
}

/** Slices of a sliding window. */
export const WINDOW_SLICES = 20;

type Slice = readonly [number, number, number, number, number];

function aggregate(fn: WindowFn, slices: readonly Slice[]): number | undefined {
  let n = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const [, sn, ssum, smin, smax] of slices) {
    n += sn;
    sum += ssum;
    if (smin < min) min = smin;
    if (smax > max) max = smax;
  }
  if (n === 0) return undefined;
  switch (fn) {
    case 'avg':
      return sum / n;
    case 'sum':
      return sum;
    case 'count':
      return n;
    case 'min':
      return min;
    case 'max':
      return max;
  }
}

const addTo = (slice: Slice | undefined, start: number, v: number): Slice =>
  slice ? [slice[0], slice[1] + 1, slice[2] + v, Math.min(slice[3], v), Math.max(slice[4], v)] : [start, 1, v, v, v];

/**
 * What a window or rate rule compares for this sample, and its state after it: the value (undefined when there is
 * nothing to compare yet) and the slices or previous sample to keep.
 */
function derive(c: CompiledRule, s: ConditionState, sample: Sample): { value: number | undefined; aux: Partial<ConditionState> } {
  const { window, rate } = c.rule.when;
  const spec = (window ?? rate) as Threshold;
  const v = sample.values[spec.property];
  if (typeof v !== 'number') return { value: undefined, aux: {} };
  if (rate) {
    const prev = s.prev;
    const aux = { prev: [sample.ts, v] as const };
    if (!prev || sample.ts <= prev[0]) return { value: undefined, aux };
    return { value: ((v - prev[1]) / (sample.ts - prev[0])) * rate.perMs, aux };
  }
  const w = window as WindowCondition;
  const slices = s.slices ?? [];
  if (w.kind === 'tumbling') {
    const start = Math.floor(sample.ts / w.sizeMs) * w.sizeMs;
    const current = slices[0];
    if (current && current[0] < start) return { value: aggregate(w.fn, [current]), aux: { slices: [addTo(undefined, start, v)] } };
    return { value: undefined, aux: { slices: [addTo(current, start, v)] } };
  }
  const width = Math.max(1, Math.floor(w.sizeMs / WINDOW_SLICES));
  const start = Math.floor(sample.ts / width) * width;
  // Slices wholly before (ts - size, ts] leave the window.
  const kept = slices.filter((x) => x[0] + width > sample.ts - w.sizeMs);
  const last = kept[kept.length - 1];
  const next = last && last[0] === start ? [...kept.slice(0, -1), addTo(last, start, v)] : [...kept, addTo(undefined, start, v)];
  return { value: aggregate(w.fn, next), aux: { slices: next } };
}

export const INITIAL_CONDITION_STATE: ConditionState = Object.freeze({ active: false, pendingSince: null, streak: 0, lastTs: null });

/** One device's state after a sample: the latest value of every property it reported, at device time `ts`. */
export interface Sample {
  readonly ts: number;
  readonly values: Readonly<Record<string, PointValue>>;
}

export interface Step {
  readonly state: ConditionState;
  readonly transition: 'raise' | 'clear' | null;
}

function crosses(t: Threshold, v: number, active: boolean): boolean {
  // Raised: it stays true until the value is back past the limit by the deadband.
  const limit = active ? (t.op === '>' || t.op === '>=' ? t.value - t.deadband : t.value + t.deadband) : t.value;
  switch (t.op) {
    case '>':
      return v > limit;
    case '>=':
      return v >= limit;
    case '<':
      return v < limit;
    case '<=':
      return v <= limit;
  }
}

/** The condition's truth for the sample, or undefined when it cannot be told yet (a property without a value). */
export function truthOf(c: CompiledRule, values: Readonly<Record<string, PointValue>>, active: boolean): boolean | undefined {
  const t = c.rule.when.threshold;
  if (t) {
    const v = values[t.property];
    return typeof v === 'number' ? crosses(t, v, active) : undefined;
  }
  const e = c.expression;
  if (!e) return undefined;
  for (const p of e.properties) if (!Object.hasOwn(values, p)) return undefined;
  return e.evaluate(values) === true;
}

export function stepCondition(c: CompiledRule, s0: ConditionState, sample: Sample): Step {
  if (s0.lastTs !== null && sample.ts < s0.lastTs) return { state: s0, transition: null };
  let s = s0;
  let truth: boolean | undefined;
  const derived = c.rule.when.window ?? c.rule.when.rate;
  if (derived) {
    const d = derive(c, s0, sample);
    s = { ...s0, ...d.aux };
    truth = d.value === undefined ? undefined : crosses(derived, d.value, s.active);
  } else truth = truthOf(c, sample.values, s.active);
  // Outside the rule's schedule the condition counts as false (an active rule clears).
  if (truth === true && c.inSchedule && !c.inSchedule(sample.ts)) truth = false;
  if (truth === undefined) return { state: { ...s, lastTs: sample.ts }, transition: null };
  if (s.active) {
    if (truth) return { state: { ...s, lastTs: sample.ts }, transition: null };
    return { state: { ...s, active: false, pendingSince: null, streak: 0, lastTs: sample.ts }, transition: 'clear' };
  }
  if (!truth) return { state: { ...s, active: false, pendingSince: null, streak: 0, lastTs: sample.ts }, transition: null };
  const pendingSince = s.pendingSince ?? sample.ts;
  const streak = s.streak + 1;
  const { forMs, count } = c.rule.when;
  if (streak >= count && sample.ts - pendingSince >= forMs) return { state: { ...s, active: true, pendingSince, streak, lastTs: sample.ts }, transition: 'raise' };
  return { state: { ...s, active: false, pendingSince, streak, lastTs: sample.ts }, transition: null };
}
