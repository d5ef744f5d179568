/**
 * Rule-action deliveries, the part without React (docs/reference/rules.md "Actions"): the API's shapes and calls
 * (the outbox's jobs, the retry of a dead one, the webhook signing secret), an action in one short line, the last
 * error split into its IIP_ERR_* code and text, and the paging of a list that is ordered newest first by
 * (createdAt, id). Pure, so it is unit-tested in Node.
 */
import { durationText } from '../alarms/alarms-model';
import type { ApiClient } from '../api-client';
import type { Lang } from '../i18n-dictionary';
import { ruleActionsText } from './rule-actions-i18n';

export const ACTION_KINDS = ['webhook', 'email', 'write', 'invoke', 'publish'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export const JOB_STATES = ['pending', 'done', 'dead'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** The list's state filter: every delivery, or those in one state. */
export type StateFilter = JobState | 'all';
export const STATE_FILTERS: readonly StateFilter[] = ['all', ...JOB_STATES];

/** What a webhook, an e-mail or a publish carries: the transition that caused the delivery. */
export interface ActionNotice {
  readonly tenant?: string;
  readonly rule?: { readonly id: string; readonly name?: string };
  readonly device?: string;
  readonly transition: 'raise' | 'clear';
  readonly ts: number;
  readonly severity?: string;
  readonly message?: string;
  readonly values?: Readonly<Record<string, unknown>>;
}

/**
 * A rule's action as the platform stored it with the job: the checked form (`delayMs`, `on` as a list). Typed
 * loosely on purpose: a job outlives the rule, and a platform newer than the console may store fields, or kinds,
 * it does not know yet.
 */
export interface StoredAction {
  readonly type?: string;
  readonly on?: readonly string[];
  readonly delayMs?: number;
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly to?: readonly string[];
  readonly subject?: string | null;
  readonly property?: string;
  readonly value?: unknown;
  readonly service?: string;
  readonly inputs?: Readonly<Record<string, unknown>>;
  readonly topic?: string;
}

export interface RuleActionJob {
  /** `<rule>:<device>:<transition>:<sample time>:<action index>`: holds ':', so it is URL-encoded in paths. */
  readonly id: string;
  readonly rule: string;
  readonly device: string;
  readonly kind: string;
  readonly state: JobState;
  readonly attempts: number;
  readonly dueAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** "IIP_ERR_…: text" of the last failed attempt; kept after a retry succeeds. */
  readonly lastError: string | null;
  readonly action: StoredAction | null;
  readonly notice: ActionNotice | null;
}

export type StateCounts = Readonly<Record<JobState, number>>;

export interface RuleActionPage {
  readonly items: readonly RuleActionJob[];
  readonly counts: StateCounts;
}

export interface RuleActionQuery {
  readonly state?: JobState;
  readonly rule?: string;
  readonly device?: string;
  /** `<createdAt>:<id>` of the last row seen: the page after it. */
  readonly before?: string;
  readonly limit: number;
}

/** Rows per page, and the most the platform answers in one list call. */
export const PAGE_SIZE = 50;
export const MAX_LIMIT = 1000;

/** The list call's path (below /api/v1). */
export function listPath(q: RuleActionQuery): string {
  const p = new URLSearchParams({ limit: String(Math.min(Math.max(1, q.limit), MAX_LIMIT)) });
  for (const k of ['state', 'rule', 'device', 'before'] as const) {
    const v = q[k];
    if (v) p.set(k, v);
  }
  return `/rule-actions?${p}`;
}

export const ruleActionsApi = {
  list(api: ApiClient, q: RuleActionQuery): Promise<RuleActionPage> {
    return api.call('GET', listPath(q));
  },
  retry(api: ApiClient, id: string): Promise<RuleActionJob> {
    return api.call('POST', `/rule-actions/${encodeURIComponent(id)}/retry`);
  },
  async signingSecret(api: ApiClient): Promise<string> {
    return (await api.call<{ secret: string }>('GET', '/rules/signing-secret')).secret;
  },
  async rotateSigningSecret(api: ApiClient): Promise<string> {
    return (await api.call<{ secret: string }>('POST', '/rules/signing-secret/rotate')).secret;
  },
};

/** How many deliveries a filter button stands for. */
export function countFor(counts: StateCounts | undefined, f: StateFilter): number | undefined {
  if (!counts) return undefined;
  return f === 'all' ? counts.pending + counts.done + counts.dead : counts[f];
}

/** The `before` cursor that continues after this row. */
export function cursorOf(j: Pick<RuleActionJob, 'createdAt' | 'id'>): string {
  return `${j.createdAt}:${j.id}`;
}

/** True when `a` comes after `b` in the list (older): createdAt descending, then id descending, as the platform sorts. */
export function isOlder(a: Pick<RuleActionJob, 'createdAt' | 'id'>, b: Pick<RuleActionJob, 'createdAt' | 'id'>): boolean {
  return a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id);
}

/** The cursor for "Load more", or undefined when the page that ended the list was not full (nothing further). */
export function nextCursor(rows: readonly RuleActionJob[], lastFetched: number, lastLimit: number): string | undefined {
  const last = rows[rows.length - 1];
  return last && lastFetched >= lastLimit ? cursorOf(last) : undefined;
}

/**
 * The list as shown: the refreshed head (the newest rows, read again every few seconds), then the older rows
 * "Load more" fetched that are not in it — only those older than the head's last row, so a row never shows twice
 * and a row that moved into the head is shown as the head has it now.
 */
export function withOlder(head: readonly RuleActionJob[], older: readonly RuleActionJob[]): RuleActionJob[] {
  const last = head[head.length - 1];
  if (!last) return [...older];
  const ids = new Set(head.map((j) => j.id));
  return [...head, ...older.filter((j) => !ids.has(j.id) && isOlder(j, last))];
}

/** "IIP_ERR_ACTION_HTTP_STATUS: http://… answered 404" → its code and text; a text without a code has code ''. */
export function errorParts(lastError: string | null): { code: string; text: string } | undefined {
  if (lastError === null || lastError === '') return undefined;
  const m = /^(IIP_ERR_[A-Z0-9_]+):\s*([\s\S]*)$/.exec(lastError);
  return m ? { code: m[1] as string, text: m[2] as string } : { code: '', text: lastError };
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A value as it would be typed: text in single quotes, the rest as JSON; long ones cut short. */
export function valueLiteral(v: unknown): string {
  if (typeof v === 'string') return clip(`'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, 40);
  return clip(JSON.stringify(v) ?? String(v), 40);
}

/** The host (and port) of a webhook's address, or the address itself cut short when it is not one. */
function hostOf(url: string): string {
  try {
    return new URL(url).host || clip(url, 40);
  } catch {
    return clip(url, 40);
  }
}

/**
 * What the action does, without its kind: "→ mes.example.com", "→ ops@example.com", "→ 2 recipients",
 * "note = 'x'", "stop(mode: 'controlled')", "rules/alerts/hot". Only the recipients' count is in words.
 */
export function actionTarget(a: StoredAction | null, lang: Lang = 'en'): string {
  if (!a) return '';
  switch (a.type) {
    case 'webhook':
      return `→ ${hostOf(a.url ?? '')}`;
    case 'email': {
      const to = a.to ?? [];
      return `→ ${to.length === 1 ? to[0] : ruleActionsText(lang, 'recipients', { n: to.length })}`;
    }
    case 'write':
      return `${a.property ?? '?'} = ${valueLiteral(a.value)}`;
    case 'invoke': {
      const inputs = Object.entries(a.inputs ?? {});
      const args = inputs.slice(0, 2).map(([k, v]) => `${k}: ${valueLiteral(v)}`);
      if (inputs.length > 2) args.push('…');
      return `${a.service ?? '?'}(${args.join(', ')})`;
    }
    case 'publish':
      // Where it lands under the device's own subtree: iip/<tenant>/<device>/rules/<topic>.
      return `rules/${a.topic ?? ''}`;
    default:
      return '';
  }
}

/** " ⏱2m" for an action carried out that long after the transition; '' for one carried out at once. */
export function delaySuffix(a: StoredAction | null): string {
  return a?.delayMs ? ` ⏱${durationText(a.delayMs)}` : '';
}

/**
 * The action in one short line: "webhook → host", "email → 2 recipients", "write note = 'x'",
 * "invoke stop(mode: 'controlled')", "publish rules/alerts/hot", with " ⏱2m" when it waits after the transition.
 */
export function actionSummary(a: StoredAction | null, kind?: string, lang: Lang = 'en'): string {
  const type = a?.type ?? kind ?? '';
  const target = actionTarget(a, lang);
  return `${[type, target].filter(Boolean).join(' ')}${delaySuffix(a)}` || '—';
}

/** The full detail behind the short line (a tooltip): the webhook's address, the e-mail's addresses, or the JSON. */
export function actionDetail(a: StoredAction | null): string {
  if (!a) return '';
  if (a.type === 'webhook' && a.url) return a.url;
  if (a.type === 'email' && a.to) return `${a.to.join(', ')}${a.subject ? ` — ${a.subject}` : ''}`;
  return JSON.stringify(a);
}

/** Whether the row gets a Retry button: a dead delivery, for a user who may edit rules. */
export function canRetry(j: Pick<RuleActionJob, 'state'>, canEdit: boolean): boolean {
  return canEdit && j.state === 'dead';
}
