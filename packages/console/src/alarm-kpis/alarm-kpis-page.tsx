/**
 * 报警指标 / Alarm KPIs: how the tenant's alarm system performs over the last 24 hours, 7 or 30 days, judged as
 * EEMUA 191 and ISA-18.2 do (GET /alarms/kpis): the alarm rate per operator per 10 minutes and per day beside the
 * guideline's targets, the time spent in flood, the top-10 bad actors, chattering and stale alarms, and the
 * priority distribution as plain bars. Loaded when the period changes and on Refresh, not polled: the figures
 * cover hours to weeks, and reading a month of history every few seconds would load the platform for nothing.
 */
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { hasAnywhere } from '../admin/admin-access';
import { type Problem, toProblem } from '../admin/admin-ui';
import { rulesApi } from '../alarms/alarms-model';
import { SeverityBadge } from '../alarms/alarms-ui';
import type { ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { localName } from '../events/events-model';
import { useI18n } from '../i18n-context';
import { routeHref } from '../route';
import { formatDuration, formatNumber, formatTimestamp } from '../value-format';
import { type KpisKey, kpisErrorText, kpisText } from './alarm-kpis-i18n';
import {
  type AlarmKpis,
  KPI_PERIODS,
  type KpiLevel,
  type KpiPeriod,
  formatRate,
  formatShare,
  kpisApi,
  perHour,
  periodRange,
  priorityBars,
  rateLevel,
  shareLevel,
  topTenShare,
} from './alarm-kpis-model';
import './alarm-kpis.css';

type K = (key: KpisKey, params?: Readonly<Record<string, string | number>>) => string;

function useKpisText(): K {
  const { lang } = useI18n();
  return useCallback((key, params) => kpisText(lang, key, params), [lang]);
}

/** Rule names for the tables when the user may read rules; the ids otherwise (the KPIs name rules by id). */
function useRuleNames(api: ApiClient, access: AccessSummary | undefined): ReadonlyMap<string, string> {
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const canRead = hasAnywhere(access, 'rules:read');
  useEffect(() => {
    if (!canRead) return;
    let stopped = false;
    rulesApi.list(api).then(
      (rs) => {
        if (!stopped) setNames(new Map(rs.map((r) => [r.id, r.name ?? r.id])));
      },
      () => undefined,
    );
    return () => {
      stopped = true;
    };
  }, [api, canRead]);
  return names;
}

export function AlarmKpisPage({ api, access }: { api: ApiClient; access: AccessSummary | undefined }) {
  const k = useKpisText();
  const { lang } = useI18n();
  const [period, setPeriod] = useState<KpiPeriod>('24h');
  const [kpis, setKpis] = useState<AlarmKpis | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [loading, setLoading] = useState(false);
  const names = useRuleNames(api, access);
  // Only the latest request may set the figures: a slow 30-day answer must not overwrite the 24-hour one asked after it.
  const latest = useRef(0);

  const load = useCallback(
    async (p: KpiPeriod) => {
      const mine = ++latest.current;
      setLoading(true);
      try {
        const r = await kpisApi.get(api, periodRange(p, Date.now()));
        if (mine !== latest.current) return;
        setKpis(r);
        setProblem(undefined);
      } catch (e) {
        if (mine === latest.current) setProblem(toProblem(e));
      } finally {
        if (mine === latest.current) setLoading(false);
      }
    },
    [api],
  );
  useEffect(() => {
    void load(period);
  }, [load, period]);

  const ruleText = (rule: string) => {
    const n = names.get(rule);
    return n ? localName(n, rule, lang) : rule;
  };

  return (
    <main className="page admin-page alarm-kpis-page" data-testid="alarm-kpis-page" data-loading={loading ? 'true' : 'false'}>
      <div className="page-head">
        <h2>{k('title')}</h2>
        <span className="spacer" />
        <fieldset className="segmented kpi-period" data-testid="kpi-period">
          <legend className="muted small">{k('period.label')}</legend>
          {KPI_PERIODS.map((p) => (
            <button key={p} type="button" data-testid={`kpi-period-${p}`} className={p === period ? 'on' : ''} aria-pressed={p === period} onClick={() => setPeriod(p)}>
              {k(`period.${p}`)}
            </button>
          ))}
        </fieldset>
        <button type="button" data-testid="kpi-refresh" disabled={loading} onClick={() => void load(period)}>
          {k('refresh')}
        </button>
      </div>
      <p className="muted small kpi-hint">{k('hint')}</p>
      {problem && (
        <p className="error" role="alert" data-testid="kpi-error" data-code={problem.code}>
          <code>{problem.code}</code> {kpisErrorText(lang, problem.code) ?? problem.message}
        </p>
      )}
      {!kpis && !problem && <p className="empty">{k('loading')}</p>}
      {kpis && (
        <>
          <p className="muted small" data-testid="kpi-range" data-from={kpis.from} data-to={kpis.to}>
            {k('range', { from: formatTimestamp(kpis.from), to: formatTimestamp(kpis.to) })} ·{' '}
            <span data-testid="kpi-total" data-value={kpis.activations}>
              {k('total', { n: formatNumber(kpis.activations, lang, 0) })}
            </span>
          </p>
          <Headline kpis={kpis} />
          <div className="kpi-grid">
            <BadActors kpis={kpis} ruleText={ruleText} />
            <Priorities kpis={kpis} />
            <Chattering kpis={kpis} ruleText={ruleText} />
            <Stale kpis={kpis} ruleText={ruleText} />
          </div>
        </>
      )}
    </main>
  );
}

function LevelBadge({ level }: { level: KpiLevel }) {
  const k = useKpisText();
  return (
    <span className={`kpi-level kpi-level-${level}`} data-testid="kpi-level" data-level={level}>
      {k(`level.${level}`)}
    </span>
  );
}

function Headline({ kpis }: { kpis: AlarmKpis }) {
  const k = useKpisText();
  const { lang } = useI18n();
  const t = kpis.targets;
  const rate10 = rateLevel(kpis.per10Min.mean, t.per10Min);
  const rateDay = rateLevel(kpis.perDay, t.perDay);
  const flood = shareLevel(kpis.floodShare, t.floodShare);
  return (
    <section className="kpi-figures" data-testid="kpi-figures">
      <div className={`panel kpi-figure level-${rate10}`} data-testid="kpi-per10min" data-value={kpis.per10Min.mean} data-level={rate10}>
        <h3>{k('rate10.title')}</h3>
        <p className="kpi-value">
          <span data-testid="kpi-value">{formatRate(kpis.per10Min.mean, lang)}</span> <LevelBadge level={rate10} />
        </p>
        <p className="small" data-testid="kpi-peak">
          {k('rate10.peak', { max: formatNumber(kpis.per10Min.max, lang, 0) })}
        </p>
        <p className="muted small kpi-target" data-testid="kpi-target">
          {k('rate10.target', { target: formatRate(t.per10Min, lang) })}
        </p>
      </div>
      <div className={`panel kpi-figure level-${rateDay}`} data-testid="kpi-per-day" data-value={kpis.perDay} data-level={rateDay}>
        <h3>{k('rateDay.title')}</h3>
        <p className="kpi-value">
          <span data-testid="kpi-value">{formatRate(kpis.perDay, lang)}</span> <LevelBadge level={rateDay} />
        </p>
        <p className="small">{k('rateDay.perHour', { perHour: formatRate(perHour(kpis.perDay), lang) })}</p>
        <p className="muted small kpi-target" data-testid="kpi-target">
          {k('rateDay.target', { target: formatRate(t.perDay, lang), perHour: formatNumber(Math.round(perHour(t.perDay)), lang, 0) })}
        </p>
      </div>
      <div className={`panel kpi-figure level-${flood}`} data-testid="kpi-flood" data-value={kpis.floodShare} data-level={flood}>
        <h3>{k('flood.title')}</h3>
        <p className="kpi-value">
          <span data-testid="kpi-value">{formatShare(kpis.floodShare, lang)}</span> <LevelBadge level={flood} />
        </p>
        <p className="small">{k('flood.hint')}</p>
        <p className="muted small kpi-target" data-testid="kpi-target">
          {k('flood.target', { target: formatShare(t.floodShare, lang) })}
        </p>
      </div>
    </section>
  );
}

function DeviceLink({ device }: { device: string }) {
  return (
    <a className="mono" href={routeHref({ kind: 'device', id: device })} data-testid="kpi-device">
      {device}
    </a>
  );
}

function RuleName({ rule, text }: { rule: string; text: string }) {
  return (
    <span data-testid="kpi-rule" data-rule={rule}>
      {text}
      {text !== rule && <span className="muted small mono"> {rule}</span>}
    </span>
  );
}

function BadActors({ kpis, ruleText }: { kpis: AlarmKpis; ruleText: (rule: string) => string }) {
  const k = useKpisText();
  const { lang } = useI18n();
  const share = topTenShare(kpis);
  return (
    <section className="panel kpi-panel kpi-wide" data-testid="kpi-bad-actors">
      <h3>{k('top.title')}</h3>
      {kpis.topBadActors.length === 0 ? (
        <p className="muted" data-testid="kpi-bad-actors-empty">
          {k('top.none')}
        </p>
      ) : (
        <>
          <p className="muted small">
            {k('top.hint', { share: formatShare(share, lang), target: formatShare(kpis.targets.topTenShare, lang) })}{' '}
            <LevelBadge level={shareLevel(share, kpis.targets.topTenShare)} />
          </p>
          <table className="grid compact">
            <thead>
              <tr>
                <th className="num">{k('col.rank')}</th>
                <th>{k('col.rule')}</th>
                <th>{k('col.device')}</th>
                <th className="num">{k('col.count')}</th>
                <th>{k('col.share')}</th>
              </tr>
            </thead>
            <tbody>
              {kpis.topBadActors.map((a, i) => (
                <tr key={`${a.rule}\u0000${a.device}`} data-testid="kpi-bad-actor" data-rule={a.rule} data-device={a.device} data-count={a.count}>
                  <td className="num muted">{i + 1}</td>
                  <td>
                    <RuleName rule={a.rule} text={ruleText(a.rule)} />
                  </td>
                  <td>
                    <DeviceLink device={a.device} />
                  </td>
                  <td className="num mono" data-testid="kpi-count">
                    {formatNumber(a.count, lang, 0)}
                  </td>
                  <td className="kpi-share-cell">
                    <span className="kpi-bar-track">
                      <span className="kpi-bar" style={{ width: `${Math.min(100, a.share * 100)}%` }} />
                    </span>
                    <span className="mono small">{formatShare(a.share, lang)}</span>
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

function Priorities({ kpis }: { kpis: AlarmKpis }) {
  const k = useKpisText();
  const { lang } = useI18n();
  return (
    <section className="panel kpi-panel" data-testid="kpi-priorities">
      <h3>{k('prio.title')}</h3>
      <p className="muted small">{k('prio.hint')}</p>
      <div className="kpi-prio-list">
        {priorityBars(kpis.priorities).map((b) => (
          <div key={b.severity} className="kpi-prio" data-testid="kpi-priority" data-severity={b.severity} data-count={b.count}>
            <SeverityBadge severity={b.severity} />
            <span className="kpi-bar-track">
              <span className={`kpi-bar sev-${b.severity}`} data-testid="kpi-priority-bar" style={{ width: `${b.width}%` }} />
            </span>
            <span className="mono small nowrap">
              {formatNumber(b.count, lang, 0)} · {formatShare(b.share, lang)}
            </span>
          </div>
        ))}
      </div>
    </section>
  );
}

/**
 * A panel of rule-and-device sources (chattering, stale): its title, hint and "none" from the dictionary under
 * `part`, and a table whose first columns are the rule and the device and whose further ones the caller gives.
 */
function SourceTable<T extends { readonly rule: string; readonly device: string }>({
  testId,
  part,
  items,
  ruleText,
  columns,
  rowKey,
  rowData,
  cells,
}: {
  testId: string;
  part: 'chatter' | 'stale';
  items: readonly T[];
  ruleText: (rule: string) => string;
  columns: ReadonlyArray<{ readonly label: string; readonly num?: boolean }>;
  rowKey: (item: T) => string;
  rowData: (item: T) => Readonly<Record<`data-${string}`, string | number>>;
  cells: (item: T) => ReactNode;
}) {
  const k = useKpisText();
  return (
    <section className="panel kpi-panel" data-testid={testId}>
      <h3>{k(`${part}.title`)}</h3>
      <p className="muted small">{k(`${part}.hint`)}</p>
      {items.length === 0 ? (
        <p className="muted" data-testid={`${testId}-empty`}>
          {k(`${part}.none`)}
        </p>
      ) : (
        <table className="grid compact">
          <thead>
            <tr>
              <th>{k('col.rule')}</th>
              <th>{k('col.device')}</th>
              {columns.map((c) => (
                <th key={c.label} className={c.num ? 'num' : undefined}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={rowKey(item)} data-testid={`kpi-${part}-row`} data-rule={item.rule} data-device={item.device} {...rowData(item)}>
                <td>
                  <RuleName rule={item.rule} text={ruleText(item.rule)} />
                </td>
                <td>
                  <DeviceLink device={item.device} />
                </td>
                {cells(item)}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Chattering({ kpis, ruleText }: { kpis: AlarmKpis; ruleText: (rule: string) => string }) {
  const k = useKpisText();
  const { lang } = useI18n();
  return (
    <SourceTable
      testId="kpi-chattering"
      part="chatter"
      items={kpis.chattering}
      ruleText={ruleText}
      columns={[{ label: k('col.maxPerMinute'), num: true }]}
      rowKey={(c) => `${c.rule}\u0000${c.device}`}
      rowData={(c) => ({ 'data-max': c.maxPerMinute })}
      cells={(c) => <td className="num mono">{formatNumber(c.maxPerMinute, lang, 0)}</td>}
    />
  );
}

function Stale({ kpis, ruleText }: { kpis: AlarmKpis; ruleText: (rule: string) => string }) {
  const k = useKpisText();
  const { lang } = useI18n();
  // "Now" is when the platform answered (the end of the period), so the durations agree with its 24-hour test.
  const now = kpis.to;
  return (
    <SourceTable
      testId="kpi-stale"
      part="stale"
      items={kpis.stale}
      ruleText={ruleText}
      columns={[{ label: k('col.activeSince') }, { label: k('col.activeFor'), num: true }]}
      rowKey={(s) => s.id}
      rowData={(s) => ({ 'data-id': s.id })}
      cells={(s) => (
        <>
          <td className="mono small nowrap">{formatTimestamp(s.activeSince)}</td>
          <td className="num nowrap">{formatDuration(now - s.activeSince, lang)}</td>
        </>
      )}
    />
  );
}
