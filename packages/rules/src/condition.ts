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
 * - A sample older than the last one evaluated is ignored (evaluation follows device time).
 */
import type { PointValue } from '@iip/core';
import type { CompiledRule, Threshold } from './rule.js';

export interface ConditionState {
  /** The rule is raised for this device. */
  readonly active: boolean;
  /** When the current run of true samples began (device time), or null. */
  readonly pendingSince: number | null;
  /** True samples in a row. */
  readonly streak: number;
  /** The device time of the last sample evaluated, or null. */
  readonly lastTs: number | null;
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

export function stepCondition(c: CompiledRule, s: ConditionState, sample: Sample): Step {
  if (s.lastTs !== null && sample.ts < s.lastTs) return { state: s, transition: null };
  const truth = truthOf(c, sample.values, s.active);
  if (truth === undefined) return { state: { ...s, lastTs: sample.ts }, transition: null };
  if (s.active) {
    if (truth) return { state: { ...s, lastTs: sample.ts }, transition: null };
    return { state: { active: false, pendingSince: null, streak: 0, lastTs: sample.ts }, transition: 'clear' };
  }
  if (!truth) return { state: { active: false, pendingSince: null, streak: 0, lastTs: sample.ts }, transition: null };
  const pendingSince = s.pendingSince ?? sample.ts;
  const streak = s.streak + 1;
  const { forMs, count } = c.rule.when;
  if (streak >= count && sample.ts - pendingSince >= forMs) return { state: { active: true, pendingSince, streak, lastTs: sample.ts }, transition: 'raise' };
  return { state: { active: false, pendingSince, streak, lastTs: sample.ts }, transition: null };
}
