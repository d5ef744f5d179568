/**
 * The alarm and rule pages, the part without React: the API's shapes (docs/reference/alarms.md, rules.md), the
 * ISA-18.2 display states and severities in the order the pages show them, what the header banner counts, the
 * list's filter and sort, who an alarm may be assigned to, a rule's condition in one line, and the history CSV. Pure, so it is unit-tested in Node.
 */
import type { ApiClient } from '../api-client';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The eight ISA-18.2 display states, in the order of the standard's letters A–H. */
export const ISA_STATES = ['normal', 'unacked', 'acked', 'rtn-unacked', 'latched', 'shelved', 'suppressed', 'out-of-service'] as const;
export type IsaState = (typeof ISA_STATES)[number];

/** States that wait for an operator's acknowledgement and are shown as such: what the banner counts. */
export const ANNUNCIATING: ReadonlySet<string> = new Set(['unacked', 'rtn-unacked', 'latched']);

export type Shelving =
  | { readonly kind: 'unshelved' }
  | { readonly kind: 'timed'; readonly until: number; readonly user: string; readonly since: number }
  | { readonly kind: 'one-shot'; readonly user: string; readonly since: number };

export interface LastAction {
  readonly type: string;
  readonly user: string;
  readonly at: number;
  readonly comment?: string;
}

export interface AlarmItem {
  readonly id: string;
  readonly rule: string;
  /** The rule's name now, as the platform sends it with every alarm; null once the rule is deleted. */
  readonly ruleName: string | null;
  readonly device: string;
  /** 'asset': a rule over the devices of an asset raised it, and `device` is the asset's id (older platforms: absent). */
  readonly source?: 'device' | 'asset';
  readonly severity: string;
  readonly message: string;
  readonly open: boolean;
  readonly isaState: string;
  readonly active: boolean;
  readonly acked: boolean;
  readonly latched: boolean;
  readonly shelving: Shelving;
  readonly suppressed: boolean;
  readonly outOfService: boolean;
  readonly activeSince: number | null;
  readonly activations: number;
  readonly lastAction: LastAction | null;
  /** The user who is to deal with it (POST /alarms/{id}/assign), or null. */
  readonly assignee: string | null;
  readonly raisedAt: number;
  readonly updatedAt: number;
  readonly version: number;
}

export interface AlarmHistoryEntry {
  readonly seq: number;
  readonly ts: number;
  readonly type: string;
  readonly user: string | null;
  readonly comment: string | null;
  readonly isaState: string;
}

export interface AlarmDetail extends AlarmItem {
  readonly history: readonly AlarmHistoryEntry[];
}

export interface AlarmPage {
  readonly items: readonly AlarmItem[];
  /** Set when the page was full: `before=` for the next (older) page. */
  readonly next?: string;
}

export interface AlarmQuery {
  readonly open?: boolean;
  readonly severity?: Severity;
  readonly from?: number;
  readonly to?: number;
  readonly before?: string;
  readonly limit: number;
}

export type AlarmAction =
  | { readonly type: 'ack'; readonly comment?: string }
  | { readonly type: 'shelve'; readonly durationMs?: number; readonly comment?: string }
  | { readonly type: 'unshelve' | 'out-of-service' | 'return-to-service'; readonly comment?: string }
  /** `assignee: null` assigns it to nobody. */
  | { readonly type: 'assign'; readonly assignee: string | null; readonly comment?: string };

/** Timed shelving choices (ms); `undefined` is one-shot (until the alarm returns to normal). */
export const SHELVE_CHOICES: ReadonlyArray<{ readonly id: '15m' | '1h' | '8h' | 'oneShot'; readonly ms: number | undefined }> = [
  { id: '15m', ms: 15 * 60_000 },
  { id: '1h', ms: 3_600_000 },
  { id: '8h', ms: 8 * 3_600_000 },
  { id: 'oneShot', ms: undefined },
];

export const alarmsApi = {
  list(api: ApiClient, q: AlarmQuery): Promise<AlarmPage> {
    const p = new URLSearchParams({ limit: String(q.limit) });
    for (const k of ['open', 'severity', 'from', 'to', 'before'] as const) {
      const v = q[k];
      if (v !== undefined) p.set(k, String(v));
    }
    return api.call('GET', `/alarms?${p}`);
  },
  get(api: ApiClient, id: string): Promise<AlarmDetail> {
    return api.call('GET', `/alarms/${encodeURIComponent(id)}`);
  },
  act(api: ApiClient, id: string, a: AlarmAction): Promise<AlarmItem> {
    const comment = a.comment?.trim() ? { comment: a.comment.trim() } : {};
    const body =
      a.type === 'shelve'
        ? { ...(a.durationMs === undefined ? { kind: 'one-shot' } : { kind: 'timed', durationMs: a.durationMs }), ...comment }
        : a.type === 'assign'
          ? { assignee: a.assignee, ...comment }
          : comment;
    return api.call('POST', `/alarms/${encodeURIComponent(id)}/${a.type}`, body);
  },
};

/** 0 for critical … 3 for low; anything unknown after them. */
export function severityRank(s: string): number {
  const i = SEVERITIES.indexOf(s as Severity);
  return i < 0 ? SEVERITIES.length : i;
}

/** When the alarm's current activation began, else when it was raised. */
export function sinceOf(a: AlarmItem): number {
  return a.activeSince ?? a.raisedAt;
}

/** The header banner: how many alarms wait to be acknowledged, and the highest severity among them. */
export function bannerSummary(items: readonly AlarmItem[]): { count: number; severity: Severity | undefined } {
  let count = 0;
  let best: number = SEVERITIES.length;
  for (const a of items) {
    if (!ANNUNCIATING.has(a.isaState)) continue;
    count++;
    best = Math.min(best, severityRank(a.severity));
  }
  return { count, severity: SEVERITIES[best] };
}

/**
 * Keys of alarms that newly wait for an acknowledgement, compared with `seen` (what waited at the last look); a
 * new activation of the same alarm counts as new. The banner beeps when this is not empty.
 */
export function annunciationKeys(items: readonly AlarmItem[]): Set<string> {
  return new Set(items.filter((a) => ANNUNCIATING.has(a.isaState)).map((a) => `${a.id}#${a.activations}`));
}

export function newlyAnnunciated(seen: ReadonlySet<string> | undefined, now: ReadonlySet<string>): boolean {
  if (!seen) return false; // the first look: what was already there is not news
  for (const k of now) if (!seen.has(k)) return true;
  return false;
}

export type SortKey = 'time' | 'severity';

export interface ListFilter {
  readonly severity: Severity | '';
  readonly state: IsaState | '';
  readonly sort: SortKey;
  /** Only alarms assigned to this user ("assigned to me"); the API has no such filter, so it is applied to the loaded list. */
  readonly assignedTo?: string;
}

/** The open list: filtered by severity, display state and assignee; newest first, or most severe first (then newest). */
export function filterAndSort(items: readonly AlarmItem[], f: ListFilter): AlarmItem[] {
  const out = items.filter((a) => (!f.severity || a.severity === f.severity) && (!f.state || a.isaState === f.state) && (!f.assignedTo || a.assignee === f.assignedTo));
  const byTime = (a: AlarmItem, b: AlarmItem) => sinceOf(b) - sinceOf(a) || b.raisedAt - a.raisedAt || (a.id < b.id ? 1 : -1);
  return out.sort(f.sort === 'severity' ? (a, b) => severityRank(a.severity) - severityRank(b.severity) || byTime(a, b) : byTime);
}

/**
 * The names the Assign form offers, from GET /users: people who can sign in (a service account acts only through
 * API tokens and a disabled user not at all, so neither deals with an alarm), sorted; the current assignee stays
 * among them even when it is neither, so the picker can show what is set.
 */
export function assigneeChoices(users: ReadonlyArray<{ readonly username: string; readonly kind?: string; readonly disabled?: boolean }>, current: string | null): string[] {
  const names = new Set(users.filter((u) => u.kind !== 'service' && !u.disabled).map((u) => u.username));
  if (current) names.add(current);
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a leading =+-@ is defused for spreadsheets. */
export function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS = ['raised', 'device', 'rule', 'severity', 'message', 'state', 'last change'] as const;

/** The history tab's rows as CSV (times in ISO 8601 UTC), header first, CRLF line ends. */
export function alarmsCsv(items: readonly AlarmItem[]): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const lines = [CSV_COLUMNS.join(',')];
  for (const a of items) lines.push([iso(a.raisedAt), a.device, a.rule, a.severity, a.message, a.isaState, iso(a.updatedAt)].map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

// ---- rules ----

export interface RuleDoc {
  readonly id: string;
  readonly name?: string;
  readonly enabled?: boolean;
  readonly scope?: { readonly product?: string; readonly asset?: string | null; readonly devices?: readonly string[] | null };
  readonly when?: {
    readonly threshold?: { readonly property: string; readonly op: string; readonly value: number; readonly deadband?: number };
    readonly expression?: string;
    readonly window?: { readonly property: string; readonly fn: string; readonly sizeMs?: number; readonly size?: string; readonly kind?: string; readonly op: string; readonly value: number; readonly deadband?: number };
    readonly rate?: { readonly property: string; readonly perMs?: number; readonly per?: string; readonly op: string; readonly value: number; readonly deadband?: number };
    readonly event?: { readonly event: string; readonly where?: string; readonly clearOn?: string };
    readonly for?: string | number;
    /** How the platform stores `for` (milliseconds). */
    readonly forMs?: number;
    readonly count?: number;
  };
  readonly alarm?: { readonly severity?: string; readonly message?: string; readonly latching?: boolean };
}

export interface StoredRuleDoc extends RuleDoc {
  readonly version: number;
  readonly updatedAt?: number;
  readonly updatedBy?: string;
}

/** One device's part of a backtest (packages/rules/src/backtest.ts BacktestResult, plus the device). */
export interface BacktestDeviceResult {
  readonly device: string;
  /** Timestamps evaluated (one per distinct time in the history of the properties the rule reads). */
  readonly samples: number;
  /** Alarms the rule would have raised. */
  readonly alarms: number;
  /** Raises and clears in time order; the platform sends the first 1,000. */
  readonly transitions: ReadonlyArray<{ readonly kind: 'raise' | 'clear'; readonly ts: number }>;
  /** How long the condition would have held within the history, ms. */
  readonly activeMs: number;
  /** Still raised at the end of the history. */
  readonly activeAtEnd: boolean;
}

/** The answer of POST /rules/backtest. */
export interface BacktestReply {
  readonly rule: string;
  readonly from: number;
  readonly to: number;
  readonly devices: number;
  readonly alarms: number;
  /** More devices (over 200) or points (over 100,000 per property and device) existed than were run. */
  readonly truncated: boolean;
  readonly results: readonly BacktestDeviceResult[];
}

export const rulesApi = {
  async list(api: ApiClient): Promise<StoredRuleDoc[]> {
    return (await api.call<{ items: StoredRuleDoc[] }>('GET', '/rules')).items;
  },
  validate(api: ApiClient, doc: unknown): Promise<RuleDoc & { properties: string[] }> {
    return api.call('POST', '/rules/validate', doc);
  },
  create(api: ApiClient, doc: unknown): Promise<StoredRuleDoc> {
    return api.call('POST', '/rules', doc);
  },
  replace(api: ApiClient, id: string, doc: Record<string, unknown>, version: number): Promise<StoredRuleDoc> {
    return api.call('PUT', `/rules/${encodeURIComponent(id)}`, { ...doc, version });
  },
  async remove(api: ApiClient, id: string): Promise<void> {
    await api.call('DELETE', `/rules/${encodeURIComponent(id)}`);
  },
  /** Runs a rule document (saved or not) over the stored history of `from` ≤ t < `to`; nothing is stored. */
  backtest(api: ApiClient, rule: unknown, range: { from?: number; to?: number } = {}): Promise<BacktestReply> {
    return api.call('POST', '/rules/backtest', { rule, ...(range.from !== undefined && { from: range.from }), ...(range.to !== undefined && { to: range.to }) });
  },
};

/** "t > 80 (deadband 2) for 1m, 3×" or the expression; the words around it come from the page's dictionary. */
export function conditionSummary(r: RuleDoc): string {
  const w = r.when;
  if (!w) return '';
  let s = '';
  const limit = (x: { op: string; value: number; deadband?: number }) => `${x.op} ${x.value}${x.deadband ? ` ±${x.deadband}` : ''}`;
  if (w.threshold) {
    const t = w.threshold;
    s = `${t.property} ${limit(t)}`;
  } else if (w.window) {
    const x = w.window;
    s = `${x.fn}(${x.property}, ${x.sizeMs !== undefined ? durationText(x.sizeMs) : (x.size ?? '?')}${x.kind === 'tumbling' ? ', tumbling' : ''}) ${limit(x)}`;
  } else if (w.rate) {
    const x = w.rate;
    s = `Δ${x.property}/${x.perMs !== undefined ? durationText(x.perMs) : (x.per ?? '1m')} ${limit(x)}`;
  } else if (w.event) {
    s = `⚡${w.event.event}${w.event.where ? ` [${w.event.where}]` : ''}${w.event.clearOn ? ` → ${w.event.clearOn}` : ''}`;
  } else if (w.expression !== undefined) {
    s = w.expression.length > 80 ? `${w.expression.slice(0, 79)}…` : w.expression;
  }
  const forText = w.forMs !== undefined ? (w.forMs > 0 ? durationText(w.forMs) : '') : typeof w.for === 'number' ? (w.for > 0 ? durationText(w.for) : '') : (w.for ?? '');
  if (forText && forText !== '0') s += ` ⏱${forText}`;
  if (w.count !== undefined && w.count > 1) s += ` ×${w.count}`;
  return s;
}

/** 90000 → "90s", 60000 → "1m", 7200000 → "2h" (the largest unit that divides it). */
export function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A rule document without what the platform adds to a stored one (version, updatedAt, updatedBy): what is sent back. */
export function withoutStoredFields<T extends object>(doc: T): Omit<T, 'version' | 'updatedAt' | 'updatedBy'> {
  const { version: _v, updatedAt: _a, updatedBy: _b, ...rest } = doc as T & { version?: unknown; updatedAt?: unknown; updatedBy?: unknown };
  return rest;
}

/** The rule as the editor shows it: the document without what the platform adds. */
export function editableJson(r: StoredRuleDoc): string {
  return JSON.stringify(withoutStoredFields(r), null, 2);
}

/** A new rule's starting point for a product (the first numeric property, when there is one). */
export function ruleTemplate(product: string, property: string): string {
  return JSON.stringify(
    {
      id: 'new-rule',
      name: 'New rule / 新规则',
      enabled: true,
      scope: { product },
      when: { threshold: { property, op: '>', value: 80, deadband: 2 } },
      alarm: { severity: 'medium', message: `${property} above 80`, latching: false },
    },
    null,
    2,
  );
}

/** Parses the editor's text; a syntax error comes back with where it is (line and column when the engine says). */
export function parseRuleJson(text: string): { ok: true; doc: Record<string, unknown> } | { ok: false; message: string } {
  try {
    const doc: unknown = JSON.parse(text);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, message: 'a rule is a JSON object { … }' };
    return { ok: true, doc: doc as Record<string, unknown> };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}
