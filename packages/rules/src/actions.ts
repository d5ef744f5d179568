/**
 * A rule's actions (issue 13, point 3; docs/reference/rules.md "Actions"): what a raise or a clear asks to be done
 * besides the alarm — a webhook call, an e-mail, a property write or a service call on the device (through the
 * audited command path, the rule as the actor), an MQTT publish to the device's iip/<tenant>/<device>/rules/… topics
 * (apart from the platform's own: telemetry, events, commands, config) — each optionally after a
 * delay. Checked against the thing model when the rule is saved; carried out through the durable outbox
 * (@iip/storage ActionOutbox) by the dispatcher (dispatcher.ts), at least once.
 */
import { IipError, type PointValue, type ThingModel, TelemetryValidator } from '@iip/core';
import type { NewActionJob } from '@iip/storage';
import type { Transition } from './engine.js';
import { durationField, invalid, isObject, onlyKeys } from './rule-doc.js';

export type ActionOn = 'raise' | 'clear';
export type ActionKind = 'webhook' | 'email' | 'write' | 'invoke' | 'publish';
export const ACTION_KINDS: readonly ActionKind[] = ['webhook', 'email', 'write', 'invoke', 'publish'];

interface ActionBase {
  /** The transitions it runs on (default: raise). */
  readonly on: readonly ActionOn[];
  /** Carried out this long after the transition (default 0). */
  readonly delayMs: number;
}

export type RuleAction = ActionBase &
  (
    | { readonly type: 'webhook'; readonly url: string; readonly headers: Readonly<Record<string, string>> }
    | { readonly type: 'email'; readonly to: readonly string[]; readonly subject: string | null }
    | { readonly type: 'write'; readonly property: string; readonly value: PointValue }
    | { readonly type: 'invoke'; readonly service: string; readonly inputs: Readonly<Record<string, unknown>> }
    | { readonly type: 'publish'; readonly topic: string }
  );

/** Actions per rule, at most. */
const MAX_ACTIONS = 20;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
/** Headers the platform sets itself on a webhook call. */
const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'x-iip-signature', 'x-iip-timestamp', 'x-iip-delivery'];
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;
const TOPIC = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,7}$/;

/** Checks `actions` of rule `id` against the product's thing model. */
export function compileActions(v: unknown, model: ThingModel, id: string): RuleAction[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_ACTIONS) throw invalid(id, 'actions', `a list of at most ${MAX_ACTIONS} actions`);
  return v.map((a, i) => compileAction(a, model, id, `actions[${i}]`));
}

function compileAction(a: unknown, model: ThingModel, id: string, field: string): RuleAction {
  if (!isObject(a)) throw invalid(id, field, 'an object {type, …}');
  const type = a.type;
  if (!ACTION_KINDS.includes(type as ActionKind)) throw invalid(id, `${field}.type`, `one of ${ACTION_KINDS.join(', ')}`);
  const common = ['type', 'on', 'delay', 'delayMs'];
  let on: ActionOn[] = ['raise'];
  if (a.on !== undefined) {
    const list = Array.isArray(a.on) ? a.on : [a.on];
    if (list.length === 0 || !list.every((x) => x === 'raise' || x === 'clear')) throw invalid(id, `${field}.on`, '"raise", "clear", or both in a list');
    on = [...new Set(list as ActionOn[])];
  }
  const delayMs = durationField(a, 'delay', id, field, 'the delay') ?? 0;
  const base = { on, delayMs };
  switch (type as ActionKind) {
    case 'webhook': {
      onlyKeys(a, [...common, 'url', 'headers'], id, field);
      let url: URL;
      try {
        url = new URL(String(a.url));
      } catch {
        throw invalid(id, `${field}.url`, 'an absolute http:// or https:// address');
      }
      if (typeof a.url !== 'string' || a.url.length > 2_000 || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw invalid(id, `${field}.url`, 'an absolute http:// or https:// address of at most 2,000 characters');
      const headers: Record<string, string> = {};
      if (a.headers !== undefined) {
        if (!isObject(a.headers) || Object.keys(a.headers).length > 20) throw invalid(id, `${field}.headers`, 'an object of at most 20 header names and text values');
        for (const [k, val] of Object.entries(a.headers)) {
          if (!HEADER_NAME.test(k) || RESERVED_HEADERS.includes(k.toLowerCase())) throw invalid(id, `${field}.headers.${k}`, `a header name of your own (not ${RESERVED_HEADERS.join(', ')})`);
          if (typeof val !== 'string' || val.length > 1_000 || /[\r\n]/.test(val)) throw invalid(id, `${field}.headers.${k}`, 'a text of at most 1,000 characters on one line');
          headers[k] = val;
        }
      }
      return { ...base, type: 'webhook', url: url.href, headers };
    }
    case 'email': {
      onlyKeys(a, [...common, 'to', 'subject'], id, field);
      const to = typeof a.to === 'string' ? [a.to] : a.to;
      if (!Array.isArray(to) || to.length === 0 || to.length > 20 || !to.every((x) => typeof x === 'string' && x.length <= 254 && EMAIL.test(x))) {
        throw invalid(id, `${field}.to`, 'one to 20 e-mail addresses (name@example.com)');
      }
      if (a.subject !== undefined && (typeof a.subject !== 'string' || a.subject.length > 200 || /[\r\n]/.test(a.subject))) throw invalid(id, `${field}.subject`, 'a text of at most 200 characters on one line');
      return { ...base, type: 'email', to: to as string[], subject: (a.subject as string | undefined) ?? null };
    }
    case 'write': {
      onlyKeys(a, [...common, 'property', 'value'], id, field);
      if (typeof a.property !== 'string') throw invalid(id, `${field}.property`, 'a property id of the product');
      const prop = model.properties.find((p) => p.id === a.property);
      if (!prop) {
        throw new IipError('IIP_ERR_RULE_UNKNOWN_PROPERTY', `rule "${id}": ${field}.property: property "${a.property}" is not in the thing model`, { rule: id, field: `${field}.property`, property: a.property });
      }
      if (prop.access !== 'rw') {
        throw new IipError('IIP_ERR_RULE_READ_ONLY', `rule "${id}": ${field}.property: property "${prop.id}" is read-only (access "r"); a rule can write only "rw" properties`, { rule: id, field: `${field}.property`, property: prop.id });
      }
      if (a.value === undefined) throw invalid(id, `${field}.value`, 'the value to write');
      let value: PointValue;
      try {
        const [checked] = new TelemetryValidator(model).validate({ values: { [prop.id]: a.value } }, 0);
        value = (checked as { value: PointValue }).value;
      } catch (e) {
        throw new IipError('IIP_ERR_RULE_TYPE', `rule "${id}": ${field}.value: ${e instanceof Error ? e.message : String(e)}`, { rule: id, field: `${field}.value`, property: prop.id });
      }
      return { ...base, type: 'write', property: prop.id, value };
    }
    case 'invoke': {
      onlyKeys(a, [...common, 'service', 'inputs'], id, field);
      if (typeof a.service !== 'string' || !model.services.some((s) => s.id === a.service)) {
        throw invalid(id, `${field}.service`, `a service of the product's thing model (${model.services.map((s) => s.id).join(', ') || 'it has none'})`);
      }
      if (a.inputs !== undefined && !isObject(a.inputs)) throw invalid(id, `${field}.inputs`, "an object of the service's inputs");
      return { ...base, type: 'invoke', service: a.service, inputs: (a.inputs as Record<string, unknown> | undefined) ?? {} };
    }
    case 'publish': {
      onlyKeys(a, [...common, 'topic'], id, field);
      if (typeof a.topic !== 'string' || !TOPIC.test(a.topic) || a.topic.split('/').some((l) => /^\.+$/.test(l))) {
        throw invalid(id, `${field}.topic`, "1 to 8 topic levels of letters, digits, _ . - (published as iip/<tenant>/<device>/rules/<topic>)");
      }
      return { ...base, type: 'publish', topic: a.topic };
    }
  }
}

/** The properties a rule's actions write on the device (for the loop check). */
export function writtenProperties(actions: readonly RuleAction[]): string[] {
  return actions.flatMap((a) => (a.type === 'write' ? [a.property] : []));
}

/**
 * Rules of one product that would write each other's inputs in a loop: rule A writes a property rule B reads, B
 * writes one A reads (or A its own input). Returns the cycle's rule ids (the first again at the end), or null. Writes
 * land on the rule's own device, whose product is the rule's, so only rules of the same product can form one.
 */
export function findRuleLoop(rules: ReadonlyArray<{ readonly id: string; readonly product: string; readonly reads: readonly string[]; readonly writes: readonly string[] }>): string[] | null {
  const next = new Map<string, string[]>();
  for (const a of rules) {
    if (a.writes.length === 0) continue;
    next.set(
      a.id,
      rules.filter((b) => b.product === a.product && b.reads.some((p) => a.writes.includes(p))).map((b) => b.id),
    );
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    state.set(id, 'open');
    path.push(id);
    for (const n of next.get(id) ?? []) {
      if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
      if (!state.has(n)) {
        const found = visit(n);
        if (found) return found;
      }
    }
    path.pop();
    state.set(id, 'done');
    return null;
  };
  for (const r of rules) {
    if (state.has(r.id)) continue;
    const found = visit(r.id);
    if (found) return found;
  }
  return null;
}

/** What a webhook, an e-mail or a publish carries: the transition, as JSON (docs/reference/rules.md "Actions"). */
export interface ActionNotice {
  readonly tenant: string;
  readonly rule: { readonly id: string; readonly name: string };
  readonly device: string;
  readonly transition: ActionOn;
  /** Device time of the sample that caused it (epoch ms). */
  readonly ts: number;
  readonly severity: string;
  readonly message: string;
  /** The device's latest values at that sample. */
  readonly values: Readonly<Record<string, PointValue>>;
}

/** What the outbox keeps per job: the action and the notice. */
export interface ActionPayload {
  readonly action: RuleAction;
  readonly notice: ActionNotice;
}

/**
 * The outbox jobs of a transition: one per action that runs on it, due after its delay. Ids repeat for the same
 * transition (rule, device, kind, sample time, index), so a re-delivered batch enqueues nothing twice.
 */
export function actionJobs(t: Transition, now: number): NewActionJob[] {
  // Suppression changes run no action, and neither does anything while the rule is suppressed by design.
  if ((t.kind !== 'raise' && t.kind !== 'clear') || t.suppressed) return [];
  const kind: ActionOn = t.kind;
  const rule = t.rule.rule;
  const notice: ActionNotice = {
    tenant: t.tenant,
    rule: { id: rule.id, name: rule.name },
    device: t.device,
    transition: kind,
    ts: t.ts,
    severity: rule.alarm.severity,
    message: rule.alarm.message || rule.name,
    values: t.values,
  };
  return rule.actions.flatMap((action, i): NewActionJob[] =>
    action.on.includes(kind)
      ? [
          {
            tenant: t.tenant as NewActionJob['tenant'],
            id: `${rule.id}:${t.device}:${t.kind}:${t.ts}:${i}`,
            rule: rule.id,
            device: t.device as NewActionJob['device'],
            kind: action.type,
            payload: { action, notice } satisfies ActionPayload,
            dueAt: now + action.delayMs,
          },
        ]
      : [],
  );
}
