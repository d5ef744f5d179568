/**
 * Identifier data templates (标识数据模板): an industry's secondary node defines which values an identifier
 * of a kind must carry — an item per value with its index (≥ 2000, leaving the low indexes to URL, HS_ADMIN
 * and friends), its type, whether it is required and its length/range/pattern limits. A handle registered
 * against a template is checked against it on every write, and a violation names the item and the rule.
 */
import { HandleError } from '../model/handle-error.js';
import type { HandleValue } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';

/** Template items start here; everything below is the handle's own business (URL, HS_ADMIN, …). */
export const TEMPLATE_MIN_INDEX = 2000;
/** The value that records which template a handle was registered against (data: the template id). */
export const IIP_TEMPLATE = 'IIP_TEMPLATE';
export const TEMPLATE_VALUE_INDEX = 1999;

/** How an item's UTF-8 data is read: text (default), a decimal number, an integer, or true/false. */
export type TemplateItemFormat = 'string' | 'number' | 'integer' | 'boolean';

export interface TemplateItem {
  readonly name: string;
  readonly index: number;
  readonly type: string;
  readonly required: boolean;
  /** Defaults to 'number' when min or max is set, else 'string'. */
  readonly format?: TemplateItemFormat;
  /** In characters (code points) of the UTF-8 text. */
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly min?: number;
  readonly max?: number;
  /** A JavaScript regular expression the whole text must match (anchored for you). */
  readonly pattern?: string;
}

export interface DataTemplate {
  readonly id: string;
  readonly name: string;
  readonly industry: string;
  readonly version: string;
  readonly items: readonly TemplateItem[];
}

export type TemplateRule = 'required' | 'type' | 'index' | 'format' | 'minLength' | 'maxLength' | 'min' | 'max' | 'pattern';

function violation(template: DataTemplate, item: string, rule: TemplateRule, message: string, index?: number): HandleError {
  return new HandleError(
    ResponseCode.INVALID_VALUE,
    `Template ${template.id} item ${item}: ${message}`,
    { template: template.id, item, rule, ...(index === undefined ? {} : { index }) },
    'IIP_ERR_HANDLE_TEMPLATE_VIOLATION',
  );
}

const text = new TextDecoder('utf-8', { fatal: true });
const patterns = new Map<string, RegExp>();

function compiled(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, 'u');
    if (patterns.size > 1000) patterns.clear();
    patterns.set(pattern, re);
  }
  return re;
}

/** Throws HandleError INVALID_VALUE / IIP_ERR_HANDLE_TEMPLATE_VIOLATION for the first rule `values` break. */
export function validateAgainstTemplate(template: DataTemplate, values: readonly HandleValue[]): void {
  const byIndex = new Map(values.map((v) => [v.index, v]));
  const itemIndexes = new Set(template.items.map((i) => i.index));
  for (const item of template.items) {
    const v = byIndex.get(item.index);
    if (!v) {
      const elsewhere = values.find((x) => x.type === item.type && !itemIndexes.has(x.index));
      if (elsewhere) throw violation(template, item.name, 'index', `a ${item.type} value belongs at index ${item.index}, not ${elsewhere.index}.`, elsewhere.index);
      if (item.required) throw violation(template, item.name, 'required', `required value (index ${item.index}, type ${item.type}) is missing.`, item.index);
      continue;
    }
    if (v.type !== item.type) throw violation(template, item.name, 'type', `index ${item.index} must have type ${item.type}, not ${v.type}.`, item.index);
    checkData(template, item, v);
  }
  for (const v of values) {
    if (v.index >= TEMPLATE_MIN_INDEX && !itemIndexes.has(v.index)) {
      throw violation(template, String(v.index), 'index', `index ${v.index} is not an item of the template (items use indexes ${[...itemIndexes].join(', ')}).`, v.index);
    }
  }
}

function checkData(template: DataTemplate, item: TemplateItem, v: HandleValue): void {
  let s: string;
  try {
    s = text.decode(v.data);
  } catch {
    throw violation(template, item.name, 'format', 'the data is not UTF-8 text.', item.index);
  }
  const format = item.format ?? (item.min !== undefined || item.max !== undefined ? 'number' : 'string');
  const length = [...s].length;
  if (item.minLength !== undefined && length < item.minLength) throw violation(template, item.name, 'minLength', `is ${length} characters, shorter than ${item.minLength}.`, item.index);
  if (item.maxLength !== undefined && length > item.maxLength) throw violation(template, item.name, 'maxLength', `is ${length} characters, longer than ${item.maxLength}.`, item.index);
  if (item.pattern !== undefined && !compiled(item.pattern).test(s)) throw violation(template, item.name, 'pattern', `"${s}" does not match /${item.pattern}/.`, item.index);
  switch (format) {
    case 'string':
      return;
    case 'boolean':
      if (s !== 'true' && s !== 'false') throw violation(template, item.name, 'format', `"${s}" is not true or false.`, item.index);
      return;
    case 'number':
    case 'integer': {
      const n = s.trim() === '' ? Number.NaN : Number(s);
      if (!Number.isFinite(n) || (format === 'integer' && !Number.isInteger(n))) throw violation(template, item.name, 'format', `"${s}" is not ${format === 'integer' ? 'an integer' : 'a number'}.`, item.index);
      if (item.min !== undefined && n < item.min) throw violation(template, item.name, 'min', `${n} is below the minimum ${item.min}.`, item.index);
      if (item.max !== undefined && n > item.max) throw violation(template, item.name, 'max', `${n} is above the maximum ${item.max}.`, item.index);
      return;
    }
  }
}

function badTemplate(field: string, message: string): HandleError {
  return new HandleError(ResponseCode.INVALID_VALUE, `Template definition: ${message}`, { field }, 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');
}

const FORMATS: readonly TemplateItemFormat[] = ['string', 'number', 'integer', 'boolean'];

/** Checks a template definition (from REST or the CLI) and returns it typed; throws naming the bad field. */
export function parseDataTemplate(input: unknown): DataTemplate {
  const t = input as Partial<Record<keyof DataTemplate, unknown>> | null;
  if (!t || typeof t !== 'object') throw badTemplate('template', 'must be an object.');
  for (const f of ['id', 'name', 'industry', 'version'] as const) {
    if (typeof t[f] !== 'string' || (t[f] as string).length === 0) throw badTemplate(f, `${f} must be a non-empty string.`);
  }
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(t.id as string)) throw badTemplate('id', 'id may use letters, digits, ".", "_" and "-" (at most 128).');
  if (!Array.isArray(t.items) || t.items.length === 0) throw badTemplate('items', 'items must be a non-empty list.');
  const names = new Set<string>();
  const indexes = new Set<number>();
  const items = t.items.map((raw: unknown, i: number): TemplateItem => {
    const it = raw as Partial<Record<keyof TemplateItem, unknown>> | null;
    const at = `items[${i}]`;
    if (!it || typeof it !== 'object') throw badTemplate(at, `${at} must be an object.`);
    if (typeof it.name !== 'string' || it.name.length === 0) throw badTemplate(`${at}.name`, 'name must be a non-empty string.');
    if (names.has(it.name)) throw badTemplate(`${at}.name`, `name ${it.name} appears twice.`);
    names.add(it.name);
    if (typeof it.index !== 'number' || !Number.isInteger(it.index) || it.index < TEMPLATE_MIN_INDEX || it.index > 0xffff_ffff) {
      throw badTemplate(`${at}.index`, `index of ${it.name} must be an integer ≥ ${TEMPLATE_MIN_INDEX}.`);
    }
    if (indexes.has(it.index)) throw badTemplate(`${at}.index`, `index ${it.index} appears twice.`);
    indexes.add(it.index);
    if (typeof it.type !== 'string' || it.type.length === 0) throw badTemplate(`${at}.type`, `type of ${it.name} must be a non-empty string.`);
    if (typeof it.required !== 'boolean') throw badTemplate(`${at}.required`, `required of ${it.name} must be true or false.`);
    if (it.format !== undefined && !FORMATS.includes(it.format as TemplateItemFormat)) throw badTemplate(`${at}.format`, `format must be one of ${FORMATS.join(', ')}.`);
    for (const f of ['minLength', 'maxLength', 'min', 'max'] as const) {
      if (it[f] !== undefined && (typeof it[f] !== 'number' || !Number.isFinite(it[f]))) throw badTemplate(`${at}.${f}`, `${f} of ${it.name} must be a number.`);
    }
    if (it.pattern !== undefined) {
      if (typeof it.pattern !== 'string') throw badTemplate(`${at}.pattern`, 'pattern must be a string.');
      try {
        compiled(it.pattern);
      } catch {
        throw badTemplate(`${at}.pattern`, `pattern of ${it.name} is not a valid regular expression.`);
      }
    }
    const out: Record<string, unknown> = { name: it.name, index: it.index, type: it.type, required: it.required };
    for (const f of ['format', 'minLength', 'maxLength', 'min', 'max', 'pattern'] as const) if (it[f] !== undefined) out[f] = it[f];
    return out as unknown as TemplateItem;
  });
  return { id: t.id as string, name: t.name as string, industry: t.industry as string, version: t.version as string, items };
}
