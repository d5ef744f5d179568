/**
 * Rules evaluated at the edge on every reading, online or offline, so alarms still fire while the uplink is down.
 *
 * - **The platform's rules** (issue 13, point 4): rules with `runAt: "edge"` in the platform's own format
 *   (docs/reference/rules.md), pushed by the platform on the gateway's retained `rules` topic with the thing model
 *   they are checked against and the devices behind this gateway they cover. They are evaluated with the same code
 *   as in the platform (@iip/rules: thresholds with deadband, expressions, windows, rates, for, count, schedules),
 *   and each raise or clear becomes an `iip.rule` message on the device's events topic, buffered on disk like
 *   telemetry: the platform opens and clears the alarm (and runs the rule's actions) when it arrives.
 * - **Legacy threshold rules** of the gateway configuration (`rules`): a rule fires on the transition into its
 *   condition (not on every reading) and re-arms when it clears; a fired rule becomes a `threshold` event.
 *
 * Evaluation state is in memory: a restart inside a condition raises once more (the platform's open alarm absorbs it).
 */
import type { DriverReading, EdgeRuleConfig, PointValue, ThingModel } from '@iip/core';
import { type CompiledRule, type ConditionState, compileRule, INITIAL_CONDITION_STATE, stepCondition } from '@iip/rules';

/** One platform rule as pushed: the rule document, the model it is checked against, the devices it covers here. */
export interface PushedRule {
  readonly rule: unknown;
  readonly model: ThingModel;
  readonly devices: readonly string[];
}

/** What the gateway sends for a platform rule's raise or clear (the `iip.rule` event). */
export interface EdgeRuleTransition {
  readonly device: string;
  readonly ts: number;
  readonly body: { readonly event: 'iip.rule'; readonly rule: string; readonly transition: 'raise' | 'clear'; readonly ts: number; readonly values: Readonly<Record<string, PointValue>> };
}

/** Compiles pushed rules; one that does not compile is reported and left out (the rest still run). */
export function compilePushed(rules: readonly PushedRule[], onBad: (id: string, err: string) => void): Array<{ readonly compiled: CompiledRule; readonly devices: ReadonlySet<string> }> {
  const out: Array<{ compiled: CompiledRule; devices: ReadonlySet<string> }> = [];
  for (const r of rules) {
    try {
      out.push({ compiled: compileRule(r.rule, r.model), devices: new Set(r.devices) });
    } catch (e) {
      onBad(String((r.rule as { id?: unknown } | null)?.id ?? '?'), e instanceof Error ? e.message : String(e));
    }
  }
  return out;
}

export interface EdgeRuleEvent {
  readonly device: string;
  readonly ts: number;
  readonly event: 'threshold';
  readonly rule: string;
  readonly severity: EdgeRuleConfig['severity'];
  readonly property: string;
  readonly value: number;
  readonly message: string;
}

function holds(op: EdgeRuleConfig['op'], value: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

export class EdgeRules {
  /** device\0property → rules watching that series. */
  private readonly bySeries = new Map<string, EdgeRuleConfig[]>();
  /** Rules currently inside their condition (fired, not yet re-armed). */
  private readonly active = new Set<string>();
  private firedCount = 0;

  /** The platform's rules (compilePushed), with each device's evaluation state and latest values. */
  private readonly platform: Array<{ readonly compiled: CompiledRule; readonly devices: ReadonlySet<string>; readonly states: Map<string, ConditionState> }>;
  private readonly latest = new Map<string, Record<string, PointValue>>();

  constructor(rules: readonly EdgeRuleConfig[] = [], platform: ReadonlyArray<{ readonly compiled: CompiledRule; readonly devices: ReadonlySet<string> }> = []) {
    this.platform = platform.map((p) => ({ ...p, states: new Map() }));
    for (const r of rules) {
      const key = `${r.device}\0${r.property}`;
      const list = this.bySeries.get(key) ?? [];
      list.push(r);
      this.bySeries.set(key, list);
    }
  }

  get fired(): number {
    return this.firedCount;
  }

  /** The platform's rules: one sample per device and time (the device's latest values), in order; their raises and clears. */
  transitions(readings: readonly DriverReading[]): EdgeRuleTransition[] {
    if (this.platform.length === 0) return [];
    const out: EdgeRuleTransition[] = [];
    for (let i = 0; i < readings.length; ) {
      const { device, ts } = readings[i] as DriverReading;
      const values = this.latest.get(device) ?? {};
      this.latest.set(device, values);
      const changed: string[] = [];
      for (; i < readings.length && (readings[i] as DriverReading).device === device && (readings[i] as DriverReading).ts === ts; i++) {
        const r = readings[i] as DriverReading;
        values[r.property] = r.value as PointValue;
        changed.push(r.property);
      }
      for (const p of this.platform) {
        if (!p.devices.has(device) || !p.compiled.properties.some((x) => changed.includes(x))) continue;
        const prev = p.states.get(device) ?? INITIAL_CONDITION_STATE;
        const step = stepCondition(p.compiled, prev, { ts, values: { ...values } });
        p.states.set(device, step.state);
        if (step.transition === 'raise' || step.transition === 'clear') {
          this.firedCount += step.transition === 'raise' ? 1 : 0;
          const read: Record<string, PointValue> = {};
          for (const x of p.compiled.properties) if (Object.hasOwn(values, x)) read[x] = values[x] as PointValue;
          out.push({ device, ts, body: { event: 'iip.rule', rule: p.compiled.rule.id, transition: step.transition, ts, values: read } });
        }
      }
    }
    return out;
  }

  /** Evaluates readings in order; returns the events of rules that fired. */
  evaluate(readings: readonly DriverReading[]): EdgeRuleEvent[] {
    if (this.bySeries.size === 0) return [];
    const out: EdgeRuleEvent[] = [];
    for (const r of readings) {
      const rules = this.bySeries.get(`${r.device}\0${r.property}`);
      if (!rules || typeof r.value !== 'number' || !Number.isFinite(r.value)) continue;
      for (const rule of rules) {
        const inside = holds(rule.op, r.value, rule.threshold);
        if (inside && !this.active.has(rule.id)) {
          this.active.add(rule.id);
          this.firedCount++;
          out.push({
            device: r.device,
            ts: r.ts,
            event: 'threshold',
            rule: rule.id,
            severity: rule.severity,
            property: r.property,
            value: r.value,
            message: rule.message ?? `${r.property} ${rule.op} ${rule.threshold} (value ${r.value})`,
          });
        } else if (!inside) {
          this.active.delete(rule.id);
        }
      }
    }
    return out;
  }
}
