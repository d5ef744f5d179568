/**
 * Threshold rules evaluated at the edge on every reading, online or offline, so alarms still fire while the
 * uplink is down. A rule fires on the transition into its condition (not on every reading) and re-arms when
 * the condition clears; a fired rule becomes an event message that goes through the disk buffer like telemetry.
 */
import type { DriverReading, EdgeRuleConfig } from '@iip/core';

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

  constructor(rules: readonly EdgeRuleConfig[] = []) {
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
