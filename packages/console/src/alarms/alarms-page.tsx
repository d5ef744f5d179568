/**
 * 报警 / Alarms: the live list of open alarms (refreshed every 2.5 s; rows are keyed by id, so a refresh changes
 * what changed and nothing blinks), filtered by severity, ISA-18.2 state and "assigned to me", sorted by time or
 * severity, with the operator's actions per row (acknowledge, shelve, unshelve, out of / return to service, each
 * with a comment); the History tab (every alarm raised in a time range, older pages with `before=`, CSV of what is
 * loaded); and a detail view with the alarm's history and its assignment (to a user of the tenant, or to nobody).
 * Rules are named as the platform names them with each alarm (`ruleName`). Buttons follow the access summary; the
 * platform decides each action again and a refusal shows its code where it was asked.
 */
import { type FormEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { hasAnywhere, hasTenantWide } from '../admin/admin-access';
import { usersApi } from '../admin/admin-api';
import { type Problem, toProblem } from '../admin/admin-ui';
import type { ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { localName } from '../events/events-model';
import { useI18n } from '../i18n-context';
import { routeHref } from '../route';
import { usePoll } from '../use-poll';
import { formatTimestamp } from '../value-format';
import type { AlarmsKey } from './alarms-i18n';
import {
  type AlarmAction,
  type AlarmItem,
  type AlarmPage,
  alarmsApi,
  alarmsCsv,
  assigneeChoices,
  filterAndSort,
  ISA_STATES,
  type IsaState,
  type ListFilter,
  SEVERITIES,
  type Severity,
  SHELVE_CHOICES,
  sinceOf,
  type SortKey,
} from './alarms-model';
import { AlarmProblem, LastActionText, SeverityBadge, StateText, useAlarmsText, useWord } from './alarms-ui';

export const ALARMS_REFRESH_MS = 2500;
const OPEN_LIMIT = 500;
const HISTORY_PAGE = 100;

/** `username`: the signed-in user, for "assigned to me" and as the Assign form's first choice. */
export function AlarmsPage({ api, access, username }: { api: ApiClient; access: AccessSummary | undefined; username?: string }) {
  const t = useAlarmsText();
  const [tab, setTab] = useState<'open' | 'history'>('open');
  const [selected, setSelected] = useState<string | undefined>();
  const canAck = hasAnywhere(access, 'alarms:ack');
  // GET /users needs users:read on the whole tenant; without it the Assign form asks for a name instead of asking in vain.
  const canListUsers = hasTenantWide(access, 'users:read');
  return (
    <main className="page admin-page alarms-page" data-testid="alarms-page">
      <div className="page-head">
        <h2>{t('alarms.title')}</h2>
        <span className="muted small">{t('alarms.hint')}</span>
      </div>
      <div className="alarms-tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'open'} className={tab === 'open' ? 'on' : ''} data-testid="alarms-tab-open" onClick={() => setTab('open')}>
          {t('tab.open')}
        </button>
        <button type="button" role="tab" aria-selected={tab === 'history'} className={tab === 'history' ? 'on' : ''} data-testid="alarms-tab-history" onClick={() => setTab('history')}>
          {t('tab.history')}
        </button>
      </div>
      {tab === 'open' ? (
        <OpenAlarms api={api} canAck={canAck} username={username} selected={selected} onSelect={setSelected} />
      ) : (
        <AlarmHistory api={api} selected={selected} onSelect={setSelected} />
      )}
      {selected && (
        <AlarmDetailPanel key={selected} api={api} id={selected} canAck={canAck} canListUsers={canListUsers} username={username} onClose={() => setSelected(undefined)} />
      )}
    </main>
  );
}

/** The rule's name in the chosen language (its id once the rule is deleted); the id is the tooltip. */
function RuleCell({ a }: { a: Pick<AlarmItem, 'rule' | 'ruleName'> }) {
  const { lang } = useI18n();
  return (
    <td data-testid="alarm-rule" data-rule={a.rule} title={a.rule}>
      {a.ruleName ? localName(a.ruleName, a.rule, lang) : a.rule}
    </td>
  );
}

/**
 * What raised the alarm: its device (a link to it), or — for a rule over the devices of an asset — the asset, which
 * the platform sends as `source: "asset"` with the asset's id in `device`.
 */
function SourceLink({ a, testId }: { a: Pick<AlarmItem, 'device' | 'source'>; testId?: string }) {
  const t = useAlarmsText();
  if (a.source === 'asset') {
    return (
      <a href={routeHref({ kind: 'assets' })} data-testid={testId} data-source="asset" title={t('source.asset')} onClick={(e) => e.stopPropagation()}>
        {`${t('source.assetPrefix')} ${a.device}`}
      </a>
    );
  }
  return (
    <a href={routeHref({ kind: 'device', id: a.device })} data-testid={testId} data-source="device" onClick={(e) => e.stopPropagation()}>
      {a.device}
    </a>
  );
}

function AssigneeCell({ assignee }: { assignee: string | null }) {
  return (
    <td data-testid="alarm-assignee" data-assignee={assignee ?? ''}>
      {assignee ?? <span className="muted">—</span>}
    </td>
  );
}

/** The actions in a row; assigning, which needs a user picker, is the detail view's. */
type RowAction = Exclude<AlarmAction['type'], 'assign'>;

interface Editing {
  readonly id: string;
  readonly type: RowAction;
}

function OpenAlarms({
  api,
  canAck,
  username,
  selected,
  onSelect,
}: {
  api: ApiClient;
  canAck: boolean;
  username: string | undefined;
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  const t = useAlarmsText();
  const word = useWord();
  const load = useCallback(() => alarmsApi.list(api, { open: true, limit: OPEN_LIMIT }), [api]);
  const poll = usePoll<AlarmPage>(load, ALARMS_REFRESH_MS);
  const [filter, setFilter] = useState<ListFilter>({ severity: '', state: '', sort: 'time' });
  const [mine, setMine] = useState(false);
  const [editing, setEditing] = useState<Editing | undefined>();
  const [rowProblem, setRowProblem] = useState<{ id: string; problem: Problem } | undefined>();
  const [done, setDone] = useState<{ id: string; text: string } | undefined>();
  const items = useMemo(
    () => (poll.data ? filterAndSort(poll.data.items, mine && username ? { ...filter, assignedTo: username } : filter) : undefined),
    [poll.data, filter, mine, username],
  );

  const open = (id: string, type: RowAction) => {
    setRowProblem(undefined);
    setDone(undefined);
    setEditing({ id, type });
  };

  return (
    <>
      <div className="panel admin-inline" data-testid="alarms-filter">
        <label>
          {t('filter.severity')}{' '}
          <select data-testid="alarms-filter-severity" value={filter.severity} onChange={(e) => setFilter({ ...filter, severity: e.target.value as Severity | '' })}>
            <option value="">{t('filter.all')}</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {word('severity', s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('filter.state')}{' '}
          <select data-testid="alarms-filter-state" value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.target.value as IsaState | '' })}>
            <option value="">{t('filter.all')}</option>
            {ISA_STATES.filter((s) => s !== 'normal').map((s) => (
              <option key={s} value={s}>
                {word('state', s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('filter.sort')}{' '}
          <select data-testid="alarms-sort" value={filter.sort} onChange={(e) => setFilter({ ...filter, sort: e.target.value as SortKey })}>
            <option value="time">{t('sort.time')}</option>
            <option value="severity">{t('sort.severity')}</option>
          </select>
        </label>
        {username && (
          <label>
            <input type="checkbox" data-testid="alarms-filter-mine" checked={mine} onChange={(e) => setMine(e.target.checked)} /> {t('filter.mine')}
          </label>
        )}
      </div>
      <AlarmProblem problem={poll.error} testId="alarms-error" />
      {!poll.data && !poll.error && <p className="muted small">{t('loading')}</p>}
      {poll.data && items && items.length === 0 && (
        <p className="empty" data-testid="alarms-empty">
          {poll.data.items.length === 0 ? t('open.none') : t('open.noneFiltered')}
        </p>
      )}
      {poll.data && items && items.length > 0 && (
        <>
          <p className="muted small" data-testid="alarms-count">
            {t('open.count', { shown: items.length, total: poll.data.items.length })}
          </p>
          <table className="grid compact" data-testid="alarms-table">
            <thead>
              <tr>
                <th>{t('col.severity')}</th>
                <th>{t('col.state')}</th>
                <th>{t('col.device')}</th>
                <th>{t('col.rule')}</th>
                <th>{t('col.message')}</th>
                <th>{t('col.since')}</th>
                <th>{t('col.assignee')}</th>
                <th>{t('col.lastAction')}</th>
                {canAck && <th>{t('col.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <OpenRow
                  key={a.id}
                  a={a}
                  canAck={canAck}
                  selected={selected === a.id}
                  onSelect={() => onSelect(a.id)}
                  editing={editing?.id === a.id ? editing.type : undefined}
                  onAction={(type) => open(a.id, type)}
                  onCancel={() => setEditing(undefined)}
                  problem={rowProblem?.id === a.id ? rowProblem.problem : undefined}
                  done={done?.id === a.id ? done.text : undefined}
                  onSubmit={async (action) => {
                    setRowProblem(undefined);
                    try {
                      await alarmsApi.act(api, a.id, action);
                      setEditing(undefined);
                      setDone({ id: a.id, text: t('act.done', { action: word('act', action.type) }) });
                      poll.reload();
                    } catch (e) {
                      setRowProblem({ id: a.id, problem: toProblem(e) });
                    }
                  }}
                />
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

function OpenRow({
  a,
  canAck,
  selected,
  onSelect,
  editing,
  onAction,
  onCancel,
  onSubmit,
  problem,
  done,
}: {
  a: AlarmItem;
  canAck: boolean;
  selected: boolean;
  onSelect: () => void;
  editing: RowAction | undefined;
  onAction: (type: RowAction) => void;
  onCancel: () => void;
  onSubmit: (a: AlarmAction) => Promise<void>;
  problem: Problem | undefined;
  done: string | undefined;
}) {
  const t = useAlarmsText();
  const cols = canAck ? 9 : 8;
  const shelved = a.shelving.kind !== 'unshelved';
  const button = (type: RowAction, key: AlarmsKey) => (
    <button
      type="button"
      data-testid={`alarm-${type}`}
      className={editing === type ? 'on' : ''}
      onClick={(e) => {
        e.stopPropagation();
        onAction(type);
      }}
    >
      {t(key)}
    </button>
  );
  return (
    <>
      <tr
        className={`alarm-row clickable${selected ? ' selected' : ''}${!a.acked ? ' unack' : ''}`}
        data-testid="alarm-row"
        data-id={a.id}
        data-device={a.device}
        data-rule={a.rule}
        data-state={a.isaState}
        data-severity={a.severity}
        onClick={onSelect}
      >
        <td>
          <SeverityBadge severity={a.severity} />
        </td>
        <td>
          <StateText alarm={a} />
        </td>
        <td>
          <SourceLink a={a} testId="alarm-device" />
        </td>
        <RuleCell a={a} />
        <td data-testid="alarm-message">{a.message}</td>
        <td className="mono small nowrap" data-testid="alarm-since">
          {formatTimestamp(sinceOf(a))}
        </td>
        <AssigneeCell assignee={a.assignee} />
        <td className="small">
          <LastActionText action={a.lastAction} />
        </td>
        {canAck && (
          <td className="alarm-row-actions">
            {!a.acked && button('ack', 'act.ack')}
            {!a.outOfService && button('shelve', 'act.shelve')}
            {shelved && button('unshelve', 'act.unshelve')}
            {a.outOfService ? button('return-to-service', 'act.return-to-service') : button('out-of-service', 'act.out-of-service')}
          </td>
        )}
      </tr>
      {(editing || problem || done) && (
        <tr className="admin-editor-row" data-testid="alarm-row-extra" data-id={a.id}>
          <td colSpan={cols}>
            {editing && <ActionForm key={editing} type={editing} onCancel={onCancel} onSubmit={onSubmit} />}
            <AlarmProblem problem={problem} testId="alarm-action-error" />
            {done && !editing && (
              <span className="ok small" role="status" data-testid="alarm-action-done">
                {done}
              </span>
            )}
          </td>
        </tr>
      )}
    </>
  );
}

function ActionForm({ type, onCancel, onSubmit }: { type: RowAction; onCancel: () => void; onSubmit: (a: AlarmAction) => Promise<void> }) {
  const t = useAlarmsText();
  const word = useWord();
  const [comment, setComment] = useState('');
  const [duration, setDuration] = useState<(typeof SHELVE_CHOICES)[number]['id']>('1h');
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    const ms = SHELVE_CHOICES.find((c) => c.id === duration)?.ms;
    const action: AlarmAction = type === 'shelve' ? { type, comment, ...(ms !== undefined && { durationMs: ms }) } : { type, comment };
    try {
      await onSubmit(action);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="admin-inline" data-testid="alarm-action-form" data-action={type} onSubmit={(e) => void submit(e)}>
      <strong>{word('act', type)}</strong>
      {type === 'shelve' && (
        <label>
          {t('act.duration')}{' '}
          <select data-testid="alarm-shelve-duration" value={duration} onChange={(e) => setDuration(e.target.value as typeof duration)}>
            {SHELVE_CHOICES.map((c) => (
              <option key={c.id} value={c.id}>
                {t(`shelve.${c.id}`)}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        {t('act.comment')} <input data-testid="alarm-comment" value={comment} maxLength={1000} size={40} onChange={(e) => setComment(e.target.value)} />
      </label>
      <button type="submit" className="primary" disabled={busy} data-testid="alarm-action-submit">
        {t('act.confirm')}
      </button>
      <button type="button" onClick={onCancel} data-testid="alarm-action-cancel">
        {t('act.cancel')}
      </button>
    </form>
  );
}

const WINDOWS = [
  ['1h', 3_600_000],
  ['24h', 86_400_000],
  ['7d', 7 * 86_400_000],
  ['30d', 30 * 86_400_000],
  ['all', undefined],
] as const;
type WindowId = (typeof WINDOWS)[number][0];

function AlarmHistory({ api, selected, onSelect }: { api: ApiClient; selected: string | undefined; onSelect: (id: string) => void }) {
  const t = useAlarmsText();
  const [draft, setDraft] = useState<{ window: WindowId; severity: Severity | '' }>({ window: '24h', severity: '' });
  const [applied, setApplied] = useState(() => ({ ...draft, at: Date.now() }));
  const [items, setItems] = useState<AlarmItem[] | undefined>();
  const [next, setNext] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [loading, setLoading] = useState(false);

  const fetchPage = useCallback(
    async (before: string | undefined) => {
      setLoading(true);
      setProblem(undefined);
      const span = WINDOWS.find(([w]) => w === applied.window)?.[1];
      try {
        const r = await alarmsApi.list(api, {
          limit: HISTORY_PAGE,
          ...(span !== undefined && { from: applied.at - span }),
          ...(applied.severity && { severity: applied.severity }),
          ...(before !== undefined && { before }),
        });
        setItems((old) => (before === undefined ? [...r.items] : [...(old ?? []), ...r.items]));
        setNext(r.next);
      } catch (e) {
        setProblem(toProblem(e));
      } finally {
        setLoading(false);
      }
    },
    [api, applied],
  );
  useEffect(() => {
    void fetchPage(undefined);
  }, [fetchPage]);

  function exportCsv() {
    const blob = new Blob([alarmsCsv(items ?? [])], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `iip-alarms-${api.tenant ?? 'tenant'}-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  const word = useWord();
  return (
    <>
      <form
        className="panel admin-inline"
        data-testid="history-filter"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ ...draft, at: Date.now() });
        }}
      >
        <label>
          {t('history.window')}{' '}
          <select data-testid="history-window" value={draft.window} onChange={(e) => setDraft({ ...draft, window: e.target.value as WindowId })}>
            {WINDOWS.map(([w]) => (
              <option key={w} value={w}>
                {t(`history.${w}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('filter.severity')}{' '}
          <select data-testid="history-severity" value={draft.severity} onChange={(e) => setDraft({ ...draft, severity: e.target.value as Severity | '' })}>
            <option value="">{t('filter.all')}</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {word('severity', s)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" data-testid="history-search">
          {t('history.search')}
        </button>
        <span className="spacer" />
        <button type="button" disabled={!items || items.length === 0} data-testid="history-export" onClick={exportCsv}>
          {t('history.export')}
        </button>
      </form>
      <AlarmProblem problem={problem} testId="history-error" />
      {items && items.length === 0 && (
        <p className="empty" data-testid="history-empty">
          {t('history.none')}
        </p>
      )}
      {items && items.length > 0 && (
        <>
          <p className="muted small" data-testid="history-count">
            {t('history.count', { n: items.length })}
          </p>
          <table className="grid compact" data-testid="history-table">
            <thead>
              <tr>
                <th>{t('col.raised')}</th>
                <th>{t('col.device')}</th>
                <th>{t('col.rule')}</th>
                <th>{t('col.severity')}</th>
                <th>{t('col.message')}</th>
                <th>{t('col.state')}</th>
                <th>{t('col.assignee')}</th>
                <th>{t('col.lastChange')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr
                  key={a.id}
                  className={`clickable${selected === a.id ? ' selected' : ''}`}
                  data-testid="history-row"
                  data-id={a.id}
                  data-state={a.isaState}
                  data-open={String(a.open)}
                  onClick={() => onSelect(a.id)}
                >
                  <td className="mono small nowrap">{formatTimestamp(a.raisedAt)}</td>
                  <td>
                    <SourceLink a={a} />
                  </td>
                  <RuleCell a={a} />
                  <td>
                    <SeverityBadge severity={a.severity} />
                  </td>
                  <td>{a.message}</td>
                  <td>
                    <StateText alarm={a} />
                  </td>
                  <AssigneeCell assignee={a.assignee} />
                  <td className="mono small nowrap">{formatTimestamp(a.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {next !== undefined && (
        <p>
          <button type="button" disabled={loading} data-testid="history-more" onClick={() => void fetchPage(next)}>
            {t('history.more')}
          </button>
        </p>
      )}
    </>
  );
}

function AlarmDetailPanel({
  api,
  id,
  canAck,
  canListUsers,
  username,
  onClose,
}: {
  api: ApiClient;
  id: string;
  canAck: boolean;
  canListUsers: boolean;
  username: string | undefined;
  onClose: () => void;
}) {
  const t = useAlarmsText();
  const word = useWord();
  const { lang } = useI18n();
  const load = useCallback(() => alarmsApi.get(api, id), [api, id]);
  const poll = usePoll(load, ALARMS_REFRESH_MS);
  const a = poll.data;
  const [assigning, setAssigning] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>();
  const [done, setDone] = useState<string | undefined>();

  async function assign(action: AlarmAction) {
    setProblem(undefined);
    try {
      await alarmsApi.act(api, id, action);
      setAssigning(false);
      setDone(t('act.done', { action: word('act', action.type) }));
      poll.reload();
    } catch (e) {
      setProblem(toProblem(e));
    }
  }

  return (
    <section className="panel" data-testid="alarm-detail" data-id={id}>
      <div className="admin-inline">
        <h3>{t('detail.title', { id })}</h3>
        <span className="spacer" />
        <button type="button" data-testid="alarm-detail-close" onClick={onClose}>
          {t('detail.close')}
        </button>
      </div>
      <AlarmProblem problem={poll.error} testId="alarm-detail-error" />
      {!a && !poll.error && <p className="muted small">{t('loading')}</p>}
      {a && (
        <>
          <dl className="facts">
            <div>
              <dt>{t('col.severity')}</dt>
              <dd>
                <SeverityBadge severity={a.severity} />
              </dd>
            </div>
            <div>
              <dt>{t('col.state')}</dt>
              <dd>
                <StateText alarm={a} /> <span className="muted small">({a.open ? t('detail.open') : t('detail.closed')})</span>
              </dd>
            </div>
            <div>
              <dt>{t('col.device')}</dt>
              <dd>
                <SourceLink a={a} />
              </dd>
            </div>
            <div>
              <dt>{t('col.rule')}</dt>
              <dd data-testid="alarm-detail-rule" data-rule={a.rule}>
                {a.ruleName ? (
                  <>
                    {localName(a.ruleName, a.rule, lang)}{' '}
                    <span className="muted small mono" data-testid="alarm-detail-rule-id">
                      {a.rule}
                    </span>
                  </>
                ) : (
                  <>
                    {a.rule} <span className="muted small">({t('detail.ruleGone')})</span>
                  </>
                )}
              </dd>
            </div>
            <div>
              <dt>{t('col.assignee')}</dt>
              <dd data-testid="alarm-detail-assignee" data-assignee={a.assignee ?? ''}>
                {a.assignee ?? <span className="muted">—</span>}
              </dd>
            </div>
            <div>
              <dt>{t('col.message')}</dt>
              <dd>{a.message}</dd>
            </div>
            <div>
              <dt>{t('col.raised')}</dt>
              <dd className="mono small">{formatTimestamp(a.raisedAt)}</dd>
            </div>
            <div>
              <dt>{t('detail.activations')}</dt>
              <dd>{a.activations}</dd>
            </div>
          </dl>
          {canAck && (
            <div className="alarm-row-actions" data-testid="alarm-detail-actions">
              <button
                type="button"
                data-testid="alarm-assign"
                className={assigning ? 'on' : ''}
                onClick={() => {
                  setProblem(undefined);
                  setDone(undefined);
                  setAssigning(true);
                }}
              >
                {t('act.assign')}
              </button>
            </div>
          )}
          {assigning && <AssignForm api={api} canListUsers={canListUsers} current={a.assignee} me={username} onCancel={() => setAssigning(false)} onSubmit={assign} />}
          <AlarmProblem problem={problem} testId="alarm-assign-error" />
          {done && !assigning && (
            <p className="ok small" role="status" data-testid="alarm-assign-done">
              {done}
            </p>
          )}
          <h3>{t('detail.history')}</h3>
          <table className="grid compact alarm-history-table" data-testid="alarm-history">
            <thead>
              <tr>
                <th>{t('col.time')}</th>
                <th>{t('col.type')}</th>
                <th>{t('col.user')}</th>
                <th>{t('col.comment')}</th>
                <th>{t('col.state')}</th>
              </tr>
            </thead>
            <tbody>
              {a.history.map((h) => (
                <tr key={h.seq} data-testid="alarm-history-entry" data-type={h.type} data-state={h.isaState}>
                  <td className="mono small nowrap">{formatTimestamp(h.ts)}</td>
                  <td>{word('action', h.type)}</td>
                  <td>{h.user ?? <span className="muted">{t('system')}</span>}</td>
                  <td data-testid="alarm-history-comment">{h.comment ?? ''}</td>
                  <td>
                    <span className={`isa isa-${h.isaState}`}>{word('state', h.isaState)}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/**
 * Assign: a picker of the tenant's users (GET /users) and Nobody when the user may list them; otherwise, or when the
 * platform refuses the list, a name typed in with Nobody beside it — the platform checks the name either way.
 * The first choice is the current assignee, else the signed-in user (an operator taking the alarm).
 */
function AssignForm({
  api,
  canListUsers,
  current,
  me,
  onCancel,
  onSubmit,
}: {
  api: ApiClient;
  canListUsers: boolean;
  current: string | null;
  me: string | undefined;
  onCancel: () => void;
  onSubmit: (a: AlarmAction) => Promise<void>;
}) {
  const t = useAlarmsText();
  // undefined while the list loads; null: a name is typed in.
  const [users, setUsers] = useState<readonly string[] | null | undefined>(canListUsers ? undefined : null);
  const [name, setName] = useState(current ?? me ?? '');
  const [nobody, setNobody] = useState(false);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!canListUsers) return;
    let stopped = false;
    usersApi.list(api).then(
      (list) => {
        if (stopped) return;
        const names = assigneeChoices(list, current);
        setUsers(names);
        // A first choice that is not on the list (a platform administrator acting on another tenant) becomes Nobody.
        setName((n) => (names.includes(n) ? n : ''));
      },
      () => {
        if (!stopped) setUsers(null);
      },
    );
    return () => {
      stopped = true;
    };
  }, [api, canListUsers, current]);

  // In the picker '' is Nobody; typed in, Nobody is the checkbox.
  const assignee = users ? name || null : nobody ? null : name.trim();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    try {
      await onSubmit({ type: 'assign', assignee, comment });
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="admin-inline" data-testid="alarm-assign-form" data-mode={users === undefined ? 'loading' : users ? 'pick' : 'type'} onSubmit={(e) => void submit(e)}>
      {users === undefined && (
        <span>
          {t('assign.to')} <span className="muted small">{t('loading')}</span>
        </span>
      )}
      {users && (
        <label>
          {t('assign.to')}{' '}
          <select data-testid="alarm-assignee-select" value={name} onChange={(e) => setName(e.target.value)}>
            <option value="">{t('assign.nobody')}</option>
            {users.map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        </label>
      )}
      {users === null && (
        <>
          <label>
            {t('assign.to')}{' '}
            <input data-testid="alarm-assignee-input" value={name} disabled={nobody} maxLength={200} size={20} placeholder={t('assign.name')} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            <input type="checkbox" data-testid="alarm-assign-nobody" checked={nobody} onChange={(e) => setNobody(e.target.checked)} /> {t('assign.nobody')}
          </label>
        </>
      )}
      <label>
        {t('act.comment')} <input data-testid="alarm-assign-comment" value={comment} maxLength={1000} size={30} onChange={(e) => setComment(e.target.value)} />
      </label>
      <button type="submit" className="primary" disabled={busy || users === undefined || assignee === ''} data-testid="alarm-assign-submit">
        {t('act.assign')}
      </button>
      <button type="button" onClick={onCancel} data-testid="alarm-assign-cancel">
        {t('act.cancel')}
      </button>
    </form>
  );
}
