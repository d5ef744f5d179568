/**
 * Backtest (issue 13, point 7): a rule — saved or a draft — run over a device's stored history, to see when it
 * would have raised and cleared and how many alarms it would have made, before it is enabled. The history of the
 * properties the rule reads is merged into samples in time order (the device's latest value of each property at
 * every timestamp), and evaluated with the same step as live data, from a fresh state.
 */
import type { PointValue } from '@iip/core';
import { INITIAL_CONDITION_STATE, stepCondition } from './condition.js';
import type { CompiledRule } from './rule.js';

export interface HistoryPoint {
  readonly property: string;
  readonly ts: number;
  readonly value: PointValue;
}

export interface BacktestResult {
  readonly samples: number;
  /** Alarms the rule would have raised (raises). */
  readonly alarms: number;
  readonly transitions: ReadonlyArray<{ readonly kind: 'raise' | 'clear'; readonly ts: number }>;
  /** Time the condition held (raised) within the history, ms. */
  readonly activeMs: number;
  /** Still raised at the end of the history. */
  readonly activeAtEnd: boolean;
}

/** Runs `rule` over one device's `points` (any order). */
export function backtest(rule: CompiledRule, points: readonly HistoryPoint[]): BacktestResult {
  const sorted = [...points].sort((a, b) => a.ts - b.ts);
  const values: Record<string, PointValue> = {};
  let state = INITIAL_CONDITION_STATE;
  const transitions: Array<{ kind: 'raise' | 'clear'; ts: number }> = [];
  let samples = 0;
  let raisedAt: number | null = null;
  let activeMs = 0;
  for (let i = 0; i < sorted.length; ) {
    const ts = (sorted[i] as HistoryPoint).ts;
    for (; i < sorted.length && (sorted[i] as HistoryPoint).ts === ts; i++) values[(sorted[i] as HistoryPoint).property] = (sorted[i] as HistoryPoint).value;
    samples++;
    const step = stepCondition(rule, state, { ts, values: { ...values } });
    state = step.state;
    if (step.transition === 'raise') raisedAt = ts;
    if (step.transition === 'clear' && raisedAt !== null) {
      activeMs += ts - raisedAt;
      raisedAt = null;
    }
    if (step.transition) transitions.push({ kind: step.transition, ts });
  }
  const last = sorted[sorted.length - 1];
  if (raisedAt !== null && last) activeMs += last.ts - raisedAt;
  return { samples, alarms: transitions.filter((t) => t.kind === 'raise').length, transitions, activeMs, activeAtEnd: state.active };
}
