/**
 * 动作投递 / Deliveries, on the Rules page: the outbox of the rules' actions as the platform carries them out
 * (GET /api/v1/rule-actions), newest first, with the counts by state as the filter; a dead delivery is retried on
 * request (rules:edit); older rows come with "Load more" (the before cursor) and the newest are read again every
 * few seconds, as deep as the list goes, so what a retry or the dispatcher changed shows without losing the place.
 * Below it, for rules:edit, the webhook signing secret, hidden until asked for, and its rotation (asked twice).
 * What is pure (paging, the short line of an action, the error's code): rule-actions-model.ts.
 */
import { useCallback, useRef, useState } from 'react';
import { hasAnywhere } from '../admin/admin-access';
import { type Problem, toProblem, useAction } from '../admin/admin-ui';
import type { ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { localName } from '../events/events-model';
import { useI18n } from '../i18n-context';
import { routeHref } from '../route';
import { usePoll } from '../use-poll';
import { formatTimestamp } from '../value-format';
import { type RuleActionsKey, ruleActionsErrorText, ruleActionsKey, ruleActionsText } from './rule-actions-i18n';
import {
  actionDetail,
  actionSummary,
  actionTarget,
  canRetry,
  countFor,
  delaySuffix,
  errorParts,
  type JobState,
  MAX_LIMIT,
  nextCursor,
  PAGE_SIZE,
  type RuleActionJob,
  type RuleActionPage,
  ruleActionsApi,
  STATE_FILTERS,
  type StateFilter,
  withOlder,
} from './rule-actions-model';
import './rule-actions.css';

/** The dispatcher polls its outbox every second; a few seconds here shows its outcomes without flooding the API. */
export const RULE_ACTIONS_REFRESH_MS = 4000;

const STATE_BADGE: Readonly<Record<JobState, string>> = { pending: 'badge-warn', done: 'badge-ok', dead: 'badge-bad' };

export type RuleActionsT = (key: RuleActionsKey, params?: Readonly<Record<string, string | number>>) => string;

export function useRuleActionsText(): RuleActionsT {
  const { lang } = useI18n();
  return useCallback((key, params) => ruleActionsText(lang, key, params), [lang]);
}

/** A word from the dictionary for `prefix.value` (a kind, state, transition), or the value itself when unknown. */
function useWord(): (prefix: 'kind' | 'state' | 'transition', value: string) => string {
  const { lang } = useI18n();
  return useCallback(
    (prefix, value) => {
      const k = ruleActionsKey(`${prefix}.${value}`);
      return k ? ruleActionsText(lang, k) : value;
    },
    [lang],
  );
}

/** The head of the list as last read, with the limit it was read with (a full head means there may be more). */
interface Head {
  readonly page: RuleActionPage;
  readonly limit: number;
}

/** Rows "Load more" fetched, and whether the last such page was full. */
interface Older {
  readonly rows: readonly RuleActionJob[];
  readonly lastFetched: number;
  readonly lastLimit: number;
}

export function RuleActionsPanel({ api, access }: { api: ApiClient; access: AccessSummary | undefined }) {
  const t = useRuleActionsText();
  const word = useWord();
  const { lang } = useI18n();
  const canEdit = hasAnywhere(access, 'rules:edit');
  const [filter, setFilter] = useState<StateFilter>('all');
  const [older, setOlder] = useState<Older | undefined>();
  const [moreBusy, setMoreBusy] = useState(false);
  const [retrying, setRetrying] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [status, setStatus] = useState<string | undefined>();
  // How deep the refresh reads: the first page plus what "Load more" added, so a refresh never shortens the list.
  const depth = useRef(PAGE_SIZE);
  // Bumped by a new filter: a "Load more" answer for the old filter is then dropped.
  const generation = useRef(0);

  const load = useCallback(async (): Promise<Head> => {
    const limit = Math.min(depth.current, MAX_LIMIT);
    return { page: await ruleActionsApi.list(api, { ...(filter !== 'all' && { state: filter }), limit }), limit };
  }, [api, filter]);
  const poll = usePoll(load, RULE_ACTIONS_REFRESH_MS);
  const head = poll.data;
  const rows = head ? withOlder(head.page.items, older?.rows ?? []) : [];
  const cursor = older ? nextCursor(rows, older.lastFetched, older.lastLimit) : head && nextCursor(head.page.items, head.page.items.length, head.limit);
  const counts = head?.page.counts;

  const choose = (f: StateFilter) => {
    if (f === filter) return;
    generation.current++;
    depth.current = PAGE_SIZE;
    setOlder(undefined);
    setProblem(undefined);
    setStatus(undefined);
    setFilter(f);
  };

  const loadMore = async () => {
    if (!cursor) return;
    const gen = generation.current;
    setMoreBusy(true);
    setProblem(undefined);
    try {
      const page = await ruleActionsApi.list(api, { ...(filter !== 'all' && { state: filter }), before: cursor, limit: PAGE_SIZE });
      if (gen !== generation.current) return;
      setOlder((o) => ({ rows: [...(o?.rows ?? []), ...page.items], lastFetched: page.items.length, lastLimit: PAGE_SIZE }));
      depth.current = Math.min(MAX_LIMIT, depth.current + page.items.length);
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setMoreBusy(false);
    }
  };

  const retry = async (j: RuleActionJob) => {
    setRetrying(j.id);
    setProblem(undefined);
    setStatus(undefined);
    try {
      await ruleActionsApi.retry(api, j.id);
      setStatus(t('retried', { id: j.id }));
    } catch (e) {
      setProblem(toProblem(e));
    } finally {
      setRetrying(undefined);
      // Either way the row's state is news: pending now, or whatever made the platform refuse.
      poll.reload();
    }
  };

  return (
    <section className="panel rule-actions" data-testid="rule-actions">
      <div className="rule-actions-head">
        <h3>{t('title')}</h3>
        <fieldset className="segmented rule-actions-filter" data-testid="rule-actions-filter">
          <legend className="muted small">{t('filter.label')}</legend>
          {STATE_FILTERS.map((f) => (
            <button
              key={f}
              type="button"
              data-testid={`rule-actions-filter-${f}`}
              data-count={countFor(counts, f) ?? ''}
              className={f === filter ? 'on' : ''}
              aria-pressed={f === filter}
              onClick={() => choose(f)}
            >
              {t(`filter.${f}`)}
              {counts && <span className={`rule-actions-count${f === 'dead' && counts.dead > 0 ? ' bad' : ''}`}>{countFor(counts, f)}</span>}
            </button>
          ))}
        </fieldset>
        <span className="spacer" />
        <button type="button" data-testid="rule-actions-refresh" onClick={() => poll.reload()}>
          {t('refresh')}
        </button>
      </div>
      <p className="muted small">{t('hint')}</p>
      <ActionsProblem problem={poll.error} testId="rule-actions-error" />
      <ActionsProblem problem={problem} testId="rule-actions-action-error" />
      {status && (
        <p className="ok small" role="status" data-testid="rule-actions-status">
          {status}
        </p>
      )}
      {!head && !poll.error && <p className="muted small">{t('loading')}</p>}
      {head && rows.length === 0 && (
        <p className="muted small" data-testid="rule-actions-empty">
          {filter === 'all' ? t('empty') : t('emptyFiltered')}
        </p>
      )}
      {rows.length > 0 && (
        <>
          <table className="grid compact rule-actions-table" data-testid="rule-actions-table">
            <thead>
              <tr>
                <th>{t('col.time')}</th>
                <th>{t('col.rule')}</th>
                <th>{t('col.device')}</th>
                <th>{t('col.action')}</th>
                <th>{t('col.transition')}</th>
                <th>{t('col.state')}</th>
                <th className="num">{t('col.attempts')}</th>
                <th>{t('col.error')}</th>
                {canEdit && <th />}
              </tr>
            </thead>
            <tbody>
              {rows.map((j) => {
                const err = errorParts(j.lastError);
                const transition = j.notice?.transition;
                // A rule without a name is sent with its id as the name: the id once is enough then.
                const ruleName = j.notice?.rule?.name !== j.rule ? j.notice?.rule?.name : undefined;
                return (
                  <tr key={j.id} data-testid="rule-action-row" data-id={j.id} data-state={j.state} data-kind={j.kind} data-attempts={j.attempts}>
                    <td className="mono small nowrap" title={j.state === 'pending' ? t('due', { time: formatTimestamp(j.dueAt) }) : t('updated', { time: formatTimestamp(j.updatedAt) })}>
                      {formatTimestamp(j.createdAt)}
                    </td>
                    <td data-testid="rule-action-rule">
                      {localName(ruleName, j.rule, lang)}
                      {ruleName && <span className="muted small mono"> {j.rule}</span>}
                    </td>
                    <td className="mono small">
                      <a href={routeHref({ kind: 'device', id: j.device })}>{j.device}</a>
                    </td>
                    <td data-testid="rule-action-summary" data-summary={actionSummary(j.action, j.kind)} title={actionDetail(j.action)}>
                      <span className="rule-action-kind">{word('kind', j.action?.type ?? j.kind)}</span>{' '}
                      <span className="mono small">
                        {actionTarget(j.action, lang)}
                        {delaySuffix(j.action)}
                      </span>
                    </td>
                    <td className="small" data-testid="rule-action-transition" data-transition={transition ?? ''}>
                      {transition ? word('transition', transition) : '—'}
                    </td>
                    <td>
                      <span className={`badge ${STATE_BADGE[j.state] ?? ''}`} data-testid="rule-action-state">
                        {word('state', j.state)}
                      </span>
                    </td>
                    <td className="num mono" data-testid="rule-action-attempts">
                      {j.attempts}
                    </td>
                    <td className={`rule-action-error small${j.state === 'dead' ? '' : ' muted'}`} data-testid="rule-action-error" data-code={err?.code ?? ''}>
                      {err ? (
                        <>
                          {err.code && <code data-testid="rule-action-error-code">{err.code}</code>} <span data-testid="rule-action-error-text">{err.text}</span>
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    {canEdit && (
                      <td className="nowrap">
                        {canRetry(j, canEdit) && (
                          <button type="button" data-testid="rule-action-retry" disabled={retrying !== undefined} onClick={() => void retry(j)}>
                            {t('retry')}
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
          <div className="rule-actions-foot">
            <span className="muted small" data-testid="rule-actions-count">
              {t('count', { shown: rows.length, total: countFor(counts, filter) ?? rows.length })}
            </span>
            {cursor && (
              <button type="button" data-testid="rule-actions-more" disabled={moreBusy} onClick={() => void loadMore()}>
                {moreBusy ? t('moreLoading') : t('more')}
              </button>
            )}
          </div>
        </>
      )}
      {canEdit && <SigningSecret api={api} />}
    </section>
  );
}

/**
 * The tenant's webhook signing secret: fetched only when asked for (it is a credential: not on screen by default,
 * not kept once hidden), and rotated after a second click that says what rotating breaks.
 */
function SigningSecret({ api }: { api: ApiClient }) {
  const t = useRuleActionsText();
  const act = useAction();
  const [secret, setSecret] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const [rotated, setRotated] = useState(false);

  const show = () => void act.run(async () => setSecret(await ruleActionsApi.signingSecret(api)));
  const hide = () => {
    setSecret(undefined);
    setConfirming(false);
    setRotated(false);
    act.clear();
  };
  const rotate = async () => {
    const ok = await act.run(async () => setSecret(await ruleActionsApi.rotateSigningSecret(api)));
    setConfirming(false);
    setRotated(ok);
  };

  return (
    <div className="rule-actions-secret" data-testid="rule-actions-secret-box">
      <h4>{t('secret.title')}</h4>
      <p className="muted small">{t('secret.hint')}</p>
      {secret === undefined ? (
        <div>
          <button type="button" data-testid="rule-actions-secret-show" disabled={act.busy} onClick={show}>
            {t('secret.show')}
          </button>
        </div>
      ) : (
        <div className="admin-actions">
          <code className="rule-actions-secret-value" data-testid="rule-actions-secret">
            {secret}
          </code>
          <button type="button" data-testid="rule-actions-secret-hide" onClick={hide}>
            {t('secret.hide')}
          </button>
          {!confirming && (
            <button
              type="button"
              className="danger"
              data-testid="rule-actions-secret-rotate"
              disabled={act.busy}
              onClick={() => {
                setRotated(false);
                setConfirming(true);
              }}
            >
              {t('secret.rotate')}
            </button>
          )}
        </div>
      )}
      {confirming && (
        <p className="notice small" data-testid="rule-actions-secret-confirm">
          {t('secret.rotateConfirm')}{' '}
          <button type="button" className="danger" disabled={act.busy} data-testid="rule-actions-secret-rotate-yes" onClick={() => void rotate()}>
            {t('secret.rotateYes')}
          </button>{' '}
          <button type="button" data-testid="rule-actions-secret-rotate-no" onClick={() => setConfirming(false)}>
            {t('secret.cancel')}
          </button>
        </p>
      )}
      {rotated && (
        <p className="ok small" role="status" data-testid="rule-actions-secret-rotated">
          {t('secret.rotated')}
        </p>
      )}
      <ActionsProblem problem={act.problem} testId="rule-actions-secret-error" />
    </div>
  );
}

function ActionsProblem({ problem, testId }: { problem: Problem | undefined; testId: string }) {
  const { lang } = useI18n();
  if (!problem) return null;
  return (
    <p className="error small" role="alert" data-testid={testId} data-code={problem.code}>
      <code>{problem.code}</code> {ruleActionsErrorText(lang, problem.code) ?? problem.message}
    </p>
  );
}
