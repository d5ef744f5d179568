/**
 * Checks shared by the parts of a rule document (rule.ts: the rule; actions.ts: its actions): every refusal is
 * IIP_ERR_RULE_INVALID naming the rule and the field.
 */
import { IipError } from '@iip/core';

/** Longest duration in a rule (`for`, an action's delay…): a day. */
const MAX_DURATION_MS = 86_400_000;

export function invalid(rule: string, field: string, message: string): IipError {
  return new IipError('IIP_ERR_RULE_INVALID', `rule "${rule}": ${field}: ${message}`, { rule, field });
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], rule: string, field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw invalid(rule, field ? `${field}.${k}` : k, `unknown field (expected ${allowed.join(', ')})`);
}

/** "90s", "1m", "2h", "500ms" or a number of milliseconds, at most a day. */
export function parseDuration(v: unknown, rule: string, field: string): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(v);
    if (!m) throw invalid(rule, field, `"${v}" is not a duration (e.g. "30s", "1m", "2h", or milliseconds)`);
    ms = Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  } else throw invalid(rule, field, 'a duration ("30s", "1m", "2h") or a number of milliseconds');
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) throw invalid(rule, field, `must be between 0 and 24 h`);
  return Math.round(ms);
}

/**
 * A duration given as `<name>` ("30s", "1m") or `<name>Ms` (milliseconds), not both, in the object at `prefix`;
 * undefined when neither is given. `what` names it in the refusal of both ("give the size once…").
 */
export function durationField(o: Record<string, unknown>, name: string, rule: string, prefix: string, what = 'it'): number | undefined {
  const text = o[name];
  const ms = o[`${name}Ms`];
  if (text !== undefined && ms !== undefined) throw invalid(rule, `${prefix}.${name}Ms`, `give ${what} once: "${name}" or "${name}Ms"`);
  if (text !== undefined) return parseDuration(text, rule, `${prefix}.${name}`);
  if (ms !== undefined) return parseDuration(ms, rule, `${prefix}.${name}Ms`);
  return undefined;
}
