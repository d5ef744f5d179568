/**
 * The rule editor's backtest, the part without React: the periods it offers, the document it sends (POST
 * /rules/backtest, rulesApi.backtest), the devices in the order worth looking at, the spans a device's alarm
 * would have been active (from its raises and clears), where those spans sit on the trend's time axis, and what
 * of the rule can be drawn on a trend (its property, its limit). Pure, so it is unit-tested in Node.
 */
import type { PropertySpec } from '@iip/core';
import { type BacktestDeviceResult, type RuleDoc, withoutStoredFields } from '../alarms/alarms-model';
import { isTrendable } from '../key-properties';

export const BACKTEST_PERIODS = ['24h', '7d'] as const;
export type BacktestPeriod = (typeof BACKTEST_PERIODS)[number];
export const BACKTEST_PERIOD_MS: Record<BacktestPeriod, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000 };

/** The platform sends at most this many transitions per device; a list this long may have been cut. */
export const TRANSITIONS_SENT = 1_000;

/** The editor's document as the backtest wants it: without what the platform adds to a stored rule. */
export function backtestRule(doc: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return withoutStoredFields(doc);
}

export function periodRange(period: BacktestPeriod, now: number): { from: number; to: number } {
  const to = Math.floor(now);
  return { from: to - BACKTEST_PERIOD_MS[period], to };
}

/** Devices with most alarms first, then the one active longest, then by id: the noisy ones are what a backtest is for. */
export function sortedResults(results: readonly BacktestDeviceResult[]): BacktestDeviceResult[] {
  return [...results].sort((a, b) => b.alarms - a.alarms || b.activeMs - a.activeMs || a.device.localeCompare(b.device));
}

export interface ActiveSpan {
  readonly from: number;
  readonly to: number;
  /** No clear came before the period's end: the alarm would still be active (or the transition list was cut). */
  readonly open: boolean;
}

/**
 * The spans the rule would have held for a device: each raise to the clear after it. A raise with no clear runs to
 * the period's end. A clear with no raise before it (not sent by a fresh backtest, but a list starting mid-way
 * would) is taken as active from the period's start.
 */
export function activeSpans(transitions: BacktestDeviceResult['transitions'], from: number, to: number): ActiveSpan[] {
  const spans: ActiveSpan[] = [];
  let since: number | undefined;
  let first = true;
  for (const tr of [...transitions].sort((a, b) => a.ts - b.ts)) {
    if (tr.kind === 'raise') {
      if (since === undefined) since = tr.ts;
    } else if (since !== undefined) {
      spans.push({ from: since, to: tr.ts, open: false });
      since = undefined;
    } else if (first) {
      spans.push({ from, to: tr.ts, open: false });
    }
    first = false;
  }
  if (since !== undefined) spans.push({ from: since, to: Math.max(since, to), open: true });
  return spans;
}

/**
 * Positions on a time axis `width` units wide from `from` to `to` (an SVG viewBox): spans clipped to the axis, each
 * at least `minWidth` wide so that a one-sample alarm still shows; moments as x positions.
 */
export function spanLayout(spans: readonly ActiveSpan[], from: number, to: number, width: number, minWidth = 2): Array<{ x: number; w: number; span: ActiveSpan }> {
  const x = (ts: number) => momentX(ts, from, to, width);
  return spans
    .filter((s) => s.to >= from && s.from <= to)
    .map((s) => {
      const x0 = x(s.from);
      const w = Math.max(minWidth, x(s.to) - x0);
      return { x: Math.min(x0, width - w), w, span: s };
    });
}

/** Where a moment sits on that axis (clipped to it). */
export function momentX(ts: number, from: number, to: number, width: number): number {
  const range = Math.max(1, to - from);
  return (Math.min(Math.max(ts, from), to) - from) * (width / range);
}

/** The property a rule's condition is about (threshold, window, rate), to show its trend; undefined for an expression or an event. */
export function conditionProperty(doc: RuleDoc): string | undefined {
  const w = doc.when;
  return w?.threshold?.property ?? w?.window?.property ?? w?.rate?.property;
}

/**
 * Levels of a threshold rule to draw across the trend: the limit, and the level it clears at when a deadband holds
 * it (above 90 with deadband 2 clears below 88). Only thresholds: a window's or rate's limit is not on the value's scale.
 */
export function limitLines(doc: RuleDoc): Array<{ readonly kind: 'limit' | 'clear'; readonly value: number }> {
  const t = doc.when?.threshold;
  if (!t || typeof t.value !== 'number') return [];
  const lines: Array<{ kind: 'limit' | 'clear'; value: number }> = [{ kind: 'limit', value: t.value }];
  const db = t.deadband ?? 0;
  if (db > 0) lines.push({ kind: 'clear', value: t.op === '>' || t.op === '>=' ? t.value - db : t.value + db });
  return lines;
}

/** Conditions the backtest cannot replay (it runs stored telemetry, not events or the platform's clock). */
export function backtestCaveat(doc: RuleDoc & { readonly when?: { readonly noData?: unknown } }): 'event' | 'noData' | undefined {
  if (doc.when?.event) return 'event';
  if (doc.when?.noData) return 'noData';
  return undefined;
}

/**
 * The properties whose trend the backtest can show, the condition's own first: of those the rule reads (as the
 * platform's check lists them, or just the condition's when the check was refused), the ones with a trend (numbers
 * and booleans) in the product's model.
 */
export function trendProperties(doc: RuleDoc, reads: readonly string[] | undefined, specs: readonly PropertySpec[]): string[] {
  const first = conditionProperty(doc);
  const ids = [...new Set([...(first ? [first] : []), ...(reads ?? [])])];
  return ids.filter((id) => {
    const spec = specs.find((p) => p.id === id);
    return spec !== undefined && isTrendable(spec);
  });
}
