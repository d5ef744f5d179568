/**
 * Rules as data (docs/reference/rules.md): a JSON (or YAML) document per rule, validated against the thing model
 * of the product it applies to before it is saved. Every refusal names the rule and the field.
 *
 * ```json
 * { "id": "spindle-hot", "name": "Spindle too hot / 主轴过热",
 *   "scope": { "product": "cnc", "asset": "line-2" },
 *   "when": { "threshold": { "property": "spindleTemp", "op": ">", "value": 80, "deadband": 2 }, "for": "1m" },
 *   "alarm": { "severity": "high", "message": "Spindle above 80 °C for a minute", "latching": false } }
 * ```
 * `when` holds either a `threshold` or an `expression` (CEL over the product's properties), and optionally `for`
 * (the condition must hold this long) and `count` (in this many samples in a row). `actions` (actions.ts) say what a
 * raise or a clear also does: webhook, e-mail, write, invoke, publish.
 */
import { IipError, isNumericType, type ThingModel } from '@iip/core';
import { Cron } from 'croner';
import { compileActions, type RuleAction } from './actions.js';
import { durationField, invalid, isObject, onlyKeys, parseDuration } from './rule-doc.js';
import { assetEnvironment, type CompiledExpression, compileCondition, modelEnvironment } from './expression.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];
export type ThresholdOp = '>' | '>=' | '<' | '<=';

export interface Threshold {
  readonly property: string;
  readonly op: ThresholdOp;
  readonly value: number;
  /** Hysteresis: once raised, the condition clears only this far back on the normal side (default 0). */
  readonly deadband: number;
}

export type WindowFn = 'avg' | 'min' | 'max' | 'sum' | 'count';
export const WINDOW_FNS: readonly WindowFn[] = ['avg', 'min', 'max', 'sum', 'count'];

/** An aggregate of a property over a time window, compared with a limit (hysteresis as for a threshold). */
export interface WindowCondition extends Threshold {
  readonly fn: WindowFn;
  readonly sizeMs: number;
  /** sliding: over the last sizeMs at every sample; tumbling: over each completed, epoch-aligned window of sizeMs. */
  readonly kind: 'sliding' | 'tumbling';
}

/** A property's rate of change between two samples, per `perMs` (default a minute), compared with a limit. */
export interface RateCondition extends Threshold {
  readonly perMs: number;
}

/** A device event that raises the rule (optionally only when `where` holds over its outputs), and one that clears it. */
export interface EventTrigger {
  readonly event: string;
  /** CEL over the event's outputs. */
  readonly where?: string;
  /** The event that clears it; without one, the alarm returns to normal at once (it still waits for its ack). */
  readonly clearOn?: string;
}

/** No sample (of one property, or of any) for this long, by the platform's clock: the device went quiet. */
export interface NoDataCondition {
  readonly property: string | null;
  readonly afterMs: number;
}

/**
 * A condition over the devices of the rule's asset (scope.asset) together: each property is the list of the latest
 * values of the covered devices that reported it within `maxAgeMs`; the alarm's source is the asset.
 */
export interface AssetExpression {
  readonly expression: string;
  readonly maxAgeMs: number;
}

/** When the rule is active: minutes matched by any of the cron expressions, in the time zone (default UTC). */
export interface Schedule {
  readonly cron: readonly string[];
  readonly timezone: string;
}

/** A rule as stored: every default filled in. */
export interface Rule {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Where the condition is evaluated: in the platform, or on the edge gateways of the devices it covers (offline too). */
  readonly runAt: 'platform' | 'edge';
  readonly scope: { readonly product: string; readonly asset: string | null; readonly devices: readonly string[] | null };
  readonly when: {
    readonly threshold?: Threshold;
    readonly expression?: string;
    readonly window?: WindowCondition;
    readonly rate?: RateCondition;
    readonly event?: EventTrigger;
    readonly noData?: NoDataCondition;
    readonly assetExpression?: AssetExpression;
    readonly forMs: number;
    readonly count: number;
  };
  readonly alarm: {
    readonly severity: Severity;
    readonly message: string;
    readonly latching: boolean;
    /** Suppressed by design while this CEL condition over the device's properties holds (e.g. the machine is stopped). */
    readonly suppressWhen?: string;
  };
  /** When the rule is active (outside it the condition counts as false); always when absent. */
  readonly schedule?: Schedule;
  /** What a raise or clear also does (actions.ts); none by default. */
  readonly actions: readonly RuleAction[];
}

/** A rule ready to evaluate: the document and its compiled condition. */
export interface CompiledRule {
  readonly rule: Rule;
  /** For an expression rule; a threshold needs none. */
  readonly expression?: CompiledExpression;
  /** For an event rule with `where`: the condition over the event's outputs. */
  readonly eventWhere?: CompiledExpression;
  /** alarm.suppressWhen, compiled. */
  readonly suppress?: CompiledExpression;
  /** Whether device time `ts` is within the rule's schedule (absent: always). */
  readonly inSchedule?: (ts: number) => boolean;
  /** The properties whose samples (re-)evaluate the rule. */
  readonly properties: readonly string[];
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const OPS: readonly ThresholdOp[] = ['>', '>=', '<', '<='];
const MAX_COUNT = 1_000;
/** A device's values count in a rule over its asset for this long after it reported them, by default. */
const DEFAULT_MAX_AGE_MS = 600_000;

/**
 * Checks a rule document against the product's thing model and compiles it. Refusals: IIP_ERR_RULE_INVALID
 * (the format), IIP_ERR_RULE_UNKNOWN_PROPERTY, IIP_ERR_RULE_TYPE, IIP_ERR_RULE_EXPRESSION.
 */
export function compileRule(doc: unknown, model: ThingModel): CompiledRule {
  if (!isObject(doc)) throw invalid('?', 'rule', 'must be an object');
  const id = doc.id;
  if (typeof id !== 'string' || !ID.test(id)) throw invalid(typeof id === 'string' ? id : '?', 'id', 'letters, digits, _ and -, 1 to 64 characters');
  onlyKeys(doc, ['id', 'name', 'enabled', 'runAt', 'scope', 'when', 'alarm', 'schedule', 'actions'], id, '');
  const runAt = doc.runAt ?? 'platform';
  if (runAt !== 'platform' && runAt !== 'edge') throw invalid(id, 'runAt', '"platform" (default) or "edge" (on the edge gateways of the devices it covers)');
  if (doc.name !== undefined && (typeof doc.name !== 'string' || doc.name.length > 200)) throw invalid(id, 'name', 'a text of at most 200 characters');
  if (doc.enabled !== undefined && typeof doc.enabled !== 'boolean') throw invalid(id, 'enabled', 'true or false');

  const scope = doc.scope;
  if (!isObject(scope)) throw invalid(id, 'scope', 'an object {product, asset?, devices?}');
  onlyKeys(scope, ['product', 'asset', 'devices'], id, 'scope');
  if (typeof scope.product !== 'string' || scope.product === '') throw invalid(id, 'scope.product', 'the product whose devices the rule watches');
  if (scope.asset !== undefined && scope.asset !== null && typeof scope.asset !== 'string') throw invalid(id, 'scope.asset', 'an asset id (the rule covers its subtree) or null');
  if (scope.devices !== undefined && scope.devices !== null && (!Array.isArray(scope.devices) || scope.devices.length === 0 || scope.devices.length > 10_000 || !scope.devices.every((d) => typeof d === 'string' && d !== ''))) {
    throw invalid(id, 'scope.devices', 'a non-empty list of device ids (at most 10,000) or null');
  }

  const when = doc.when;
  if (!isObject(when)) throw invalid(id, 'when', 'an object with a threshold, an expression, a window or a rate');
  onlyKeys(when, ['threshold', 'expression', 'window', 'rate', 'event', 'noData', 'assetExpression', 'for', 'forMs', 'count'], id, 'when');
  if ([when.threshold, when.expression, when.window, when.rate, when.event, when.noData, when.assetExpression].filter((x) => x !== undefined).length !== 1) {
    throw invalid(id, 'when', 'exactly one of threshold, expression, window, rate, event, noData and assetExpression');
  }
  // `forMs` (milliseconds) is how a stored rule reads back, so a rule read from the API can be saved again.
  const forMs = durationField(when, 'for', id, 'when', 'the duration') ?? 0;
  const count = when.count === undefined ? 1 : when.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw invalid(id, 'when.count', `a whole number from 1 to ${MAX_COUNT}`);

  let threshold: Threshold | undefined;
  let expression: CompiledExpression | undefined;
  let window: WindowCondition | undefined;
  let rate: RateCondition | undefined;
  let event: EventTrigger | undefined;
  let noData: NoDataCondition | undefined;
  let assetExpression: AssetExpression | undefined;
  let eventWhere: CompiledExpression | undefined;
  /** A numeric property compared with a limit: the threshold, and the comparison of a window or a rate. */
  const comparison = (t: Record<string, unknown>, field: string, extra: readonly string[], what: string): Threshold => {
    onlyKeys(t, ['property', 'op', 'value', 'deadband', ...extra], id, field);
    if (typeof t.property !== 'string') throw invalid(id, `${field}.property`, 'a property id');
    const prop = model.properties.find((p) => p.id === t.property);
    if (!prop) {
      throw new IipError('IIP_ERR_RULE_UNKNOWN_PROPERTY', `rule "${id}": ${field}.property: property "${t.property}" is not in the thing model`, {
        rule: id,
        field: `${field}.property`,
        property: t.property,
      });
    }
    if (!isNumericType(prop.dataType)) {
      const kind = prop.dataType.type === 'array' ? `an array of ${prop.dataType.items.type}` : `a ${prop.dataType.type}`;
      const hint = prop.dataType.type === 'array' ? `, e.g. "${t.property}.exists(x, x > 3.0)"` : '';
      throw new IipError('IIP_ERR_RULE_TYPE', `rule "${id}": ${field}.property: "${t.property}" is ${kind}, ${what} needs a number (use an expression${hint})`, {
        rule: id,
        field: `${field}.property`,
        property: t.property,
      });
    }
    if (!OPS.includes(t.op as ThresholdOp)) throw invalid(id, `${field}.op`, `one of ${OPS.join(' ')}`);
    if (typeof t.value !== 'number' || !Number.isFinite(t.value)) throw invalid(id, `${field}.value`, 'a number');
    const deadband = t.deadband === undefined ? 0 : t.deadband;
    if (typeof deadband !== 'number' || !Number.isFinite(deadband) || deadband < 0) throw invalid(id, `${field}.deadband`, 'a number ≥ 0');
    return { property: t.property, op: t.op as ThresholdOp, value: t.value, deadband };
  };
  if (when.threshold !== undefined) {
    if (!isObject(when.threshold)) throw invalid(id, 'when.threshold', 'an object {property, op, value, deadband?}');
    threshold = comparison(when.threshold, 'when.threshold', [], 'a threshold');
  } else if (when.window !== undefined) {
    const w = when.window;
    if (!isObject(w)) throw invalid(id, 'when.window', 'an object {property, fn, size, kind?, op, value, deadband?}');
    const base = comparison(w, 'when.window', ['fn', 'size', 'sizeMs', 'kind'], 'a window');
    if (!WINDOW_FNS.includes(w.fn as WindowFn)) throw invalid(id, 'when.window.fn', `one of ${WINDOW_FNS.join(', ')}`);
    // Required: neither given is refused as a missing duration.
    const sizeMs = durationField(w, 'size', id, 'when.window', 'the size') ?? parseDuration(undefined, id, 'when.window.sizeMs');
    if (sizeMs < 1_000) throw invalid(id, 'when.window.size', 'at least 1 s');
    const kind = w.kind ?? 'sliding';
    if (kind !== 'sliding' && kind !== 'tumbling') throw invalid(id, 'when.window.kind', 'sliding (default) or tumbling');
    window = { ...base, fn: w.fn as WindowFn, sizeMs, kind };
  } else if (when.event !== undefined) {
    const e = when.event;
    if (!isObject(e)) throw invalid(id, 'when.event', 'an object {event, where?, clearOn?}');
    onlyKeys(e, ['event', 'where', 'clearOn'], id, 'when.event');
    const spec = model.events.find((x) => x.id === e.event);
    if (typeof e.event !== 'string' || !spec) {
      throw invalid(id, 'when.event.event', `an event of the product's thing model (${model.events.map((x) => x.id).join(', ') || 'it has none'})`);
    }
    if (e.clearOn !== undefined && (typeof e.clearOn !== 'string' || !model.events.some((x) => x.id === e.clearOn) || e.clearOn === e.event)) {
      throw invalid(id, 'when.event.clearOn', 'another event of the product that clears the rule');
    }
    if (e.where !== undefined) {
      // The event's outputs are the expression's variables.
      const outputs: ThingModel = { properties: spec.outputs.map((o) => ({ id: o.id, dataType: o.dataType, access: 'r' as const })), events: [], services: [] };
      eventWhere = compileCondition(modelEnvironment(outputs), e.where as string, { rule: id, field: 'when.event.where' });
    }
    if (forMs !== 0 || count !== 1) throw invalid(id, forMs !== 0 ? 'when.for' : 'when.count', 'an event trigger has no duration or count: it raises on the event');
    event = { event: e.event, ...(eventWhere && { where: eventWhere.source }), ...(e.clearOn !== undefined && { clearOn: e.clearOn as string }) };
  } else if (when.noData !== undefined) {
    const n = when.noData;
    if (!isObject(n)) throw invalid(id, 'when.noData', 'an object {after, property?}');
    onlyKeys(n, ['after', 'afterMs', 'property'], id, 'when.noData');
    if ((n.after === undefined) === (n.afterMs === undefined)) throw invalid(id, 'when.noData.after', 'how long without data: "after" ("5m") or "afterMs"');
    const afterMs = durationField(n, 'after', id, 'when.noData') as number;
    if (afterMs < 10_000) throw invalid(id, 'when.noData.after', 'at least 10 s');
    if (n.property !== undefined && n.property !== null && (typeof n.property !== 'string' || !model.properties.some((p) => p.id === n.property))) {
      throw new IipError('IIP_ERR_RULE_UNKNOWN_PROPERTY', `rule "${id}": when.noData.property: property "${String(n.property)}" is not in the thing model`, {
        rule: id,
        field: 'when.noData.property',
        property: String(n.property),
      });
    }
    if (forMs !== 0 || count !== 1) throw invalid(id, forMs !== 0 ? 'when.for' : 'when.count', 'a no-data rule has no duration or count of its own: its "after" is the duration');
    noData = { property: (n.property as string | null | undefined) ?? null, afterMs };
  } else if (when.assetExpression !== undefined) {
    const a = when.assetExpression;
    if (!isObject(a)) throw invalid(id, 'when.assetExpression', 'an object {expression, maxAge?}');
    onlyKeys(a, ['expression', 'maxAge', 'maxAgeMs'], id, 'when.assetExpression');
    if (typeof scope.asset !== 'string') throw invalid(id, 'scope.asset', 'a rule over the devices of an asset (when.assetExpression) needs the asset');
    const maxAgeMs = durationField(a, 'maxAge', id, 'when.assetExpression') ?? DEFAULT_MAX_AGE_MS;
    if (maxAgeMs < 1_000) throw invalid(id, 'when.assetExpression.maxAge', 'at least 1 s');
    expression = compileCondition(assetEnvironment(model), a.expression as string, { rule: id, field: 'when.assetExpression.expression' });
    if (expression.properties.length === 0) throw invalid(id, 'when.assetExpression.expression', 'must read at least one property');
    assetExpression = { expression: expression.source, maxAgeMs };
  } else if (when.rate !== undefined) {
    const r = when.rate;
    if (!isObject(r)) throw invalid(id, 'when.rate', 'an object {property, per?, op, value, deadband?}');
    const base = comparison(r, 'when.rate', ['per', 'perMs'], 'a rate of change');
    const perMs = durationField(r, 'per', id, 'when.rate') ?? 60_000;
    if (perMs < 1) throw invalid(id, 'when.rate.per', 'at least 1 ms');
    rate = { ...base, perMs };
  } else {
    expression = compileCondition(modelEnvironment(model), when.expression as string, { rule: id, field: 'when.expression' });
    if (expression.properties.length === 0) throw invalid(id, 'when.expression', 'must read at least one property (it is evaluated when one of them changes)');
  }

  const alarm = doc.alarm ?? {};
  if (!isObject(alarm)) throw invalid(id, 'alarm', 'an object {severity, message?, latching?, suppressWhen?}');
  onlyKeys(alarm, ['severity', 'message', 'latching', 'suppressWhen'], id, 'alarm');
  let suppress: CompiledExpression | undefined;
  if (alarm.suppressWhen !== undefined) {
    suppress = compileCondition(modelEnvironment(model), alarm.suppressWhen as string, { rule: id, field: 'alarm.suppressWhen' });
    if (suppress.properties.length === 0) throw invalid(id, 'alarm.suppressWhen', 'must read at least one property');
  }
  const schedule = compileSchedule(doc.schedule, id);
  const severity = alarm.severity ?? 'medium';
  if (!SEVERITIES.includes(severity as Severity)) throw invalid(id, 'alarm.severity', `one of ${SEVERITIES.join(', ')}`);
  if (alarm.message !== undefined && (typeof alarm.message !== 'string' || alarm.message.length > 500)) throw invalid(id, 'alarm.message', 'a text of at most 500 characters');
  if (alarm.latching !== undefined && typeof alarm.latching !== 'boolean') throw invalid(id, 'alarm.latching', 'true or false');

  const actions = compileActions(doc.actions, model, id);
  if (assetExpression) {
    // The alarm's source is the asset: nothing in it names one device to write to, nor a device's own values.
    if (suppress) throw invalid(id, 'alarm.suppressWhen', 'suppression is over one device\'s values; a rule over the devices of an asset has none');
    const i = actions.findIndex((x) => x.type !== 'webhook' && x.type !== 'email');
    if (i >= 0) throw invalid(id, `actions[${i}].type`, 'a rule over the devices of an asset raises on the asset, not on a device: its actions are webhook and email');
  }
  // At the edge a rule sees the readings of the gateway's devices, not their events nor the platform's clock.
  if (runAt === 'edge' && (event || noData || assetExpression)) {
    throw invalid(id, event ? 'when.event' : noData ? 'when.noData' : 'when.assetExpression', 'event, no-data and asset rules run in the platform only (runAt "platform")');
  }

  const rule: Rule = {
    id,
    name: (doc.name as string | undefined) ?? id,
    enabled: (doc.enabled as boolean | undefined) ?? true,
    runAt,
    scope: { product: scope.product, asset: (scope.asset as string | null | undefined) ?? null, devices: (scope.devices as string[] | null | undefined) ?? null },
    when: { ...(threshold && { threshold }), ...(expression && !assetExpression && { expression: expression.source }), ...(assetExpression && { assetExpression }), ...(window && { window }), ...(rate && { rate }), ...(event && { event }), ...(noData && { noData }), forMs, count },
    alarm: {
      severity: severity as Severity,
      message: (alarm.message as string | undefined) ?? '',
      latching: (alarm.latching as boolean | undefined) ?? false,
      ...(suppress && { suppressWhen: suppress.source }),
    },
    ...(schedule && { schedule: schedule.schedule }),
    actions,
  };
  const one = threshold ?? window ?? rate;
  // An event rule reads no property: telemetry does not evaluate it.
  const properties = one ? [one.property] : expression ? expression.properties : noData?.property ? [noData.property] : [];
  return {
    rule,
    ...(expression && { expression }),
    ...(eventWhere && { eventWhere }),
    ...(suppress && { suppress }),
    ...(schedule && { inSchedule: schedule.matches }),
    properties,
  };
}

/** `schedule: {cron: "* 8-16 * * 1-5" or a list, timezone?: "Asia/Shanghai"}`, checked and compiled (croner). */
function compileSchedule(v: unknown, id: string): { schedule: Schedule; matches: (ts: number) => boolean } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(id, 'schedule', 'an object {cron, timezone?}');
  onlyKeys(v, ['cron', 'timezone'], id, 'schedule');
  const list = typeof v.cron === 'string' ? [v.cron] : v.cron;
  if (!Array.isArray(list) || list.length === 0 || list.length > 20) throw invalid(id, 'schedule.cron', 'a cron expression ("* 8-16 * * 1-5": minute hour day month weekday) or a list of up to 20');
  const timezone = v.timezone === undefined ? 'UTC' : v.timezone;
  if (typeof timezone !== 'string') throw invalid(id, 'schedule.timezone', 'an IANA time zone such as "Asia/Shanghai"');
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw invalid(id, 'schedule.timezone', `"${timezone}" is not a time zone (an IANA name such as "Asia/Shanghai")`);
  }
  const crons = list.map((c, i) => {
    const field = list.length === 1 && typeof v.cron === 'string' ? 'schedule.cron' : `schedule.cron[${i}]`;
    if (typeof c !== 'string' || c.trim().split(/\s+/).length !== 5) throw invalid(id, field, 'five fields: minute hour day-of-month month day-of-week');
    try {
      return new Cron(c, { timezone, paused: true });
    } catch (e) {
      throw invalid(id, field, e instanceof Error ? e.message : String(e));
    }
  });
  // A cron expression matches minutes; the sample's time is taken to its minute.
  const matches = (ts: number): boolean => {
    const minute = new Date(Math.floor(ts / 60_000) * 60_000);
    return crons.some((c) => c.match(minute));
  };
  return { schedule: { cron: list as string[], timezone }, matches };
}
