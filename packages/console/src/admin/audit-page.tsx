/**
 * 审计日志 / Audit log of the acting tenant: every state-changing request, every refused one and every sign-in,
 * filtered by time window, user, action and result; pages of 200 (oldest first, as the chain runs), export of
 * what the filter selects as CSV, and a check of the hash chain end to end.
 */
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api-client';
import { type AuditEvent, type AuditQuery, type AuditResult, type ChainReport, auditApi } from './admin-api';
import type { AdminKey } from './admin-i18n';
import { type Problem, ProblemLine, toProblem, useAction, useAdminText, utc } from './admin-ui';

export const AUDIT_PAGE = 200;
const WINDOWS = [
  ['1h', 3_600_000],
  ['24h', 86_400_000],
  ['7d', 7 * 86_400_000],
  ['30d', 30 * 86_400_000],
  ['all', undefined],
] as const;
type WindowId = (typeof WINDOWS)[number][0];

interface Filter {
  readonly window: WindowId;
  readonly actor: string;
  readonly action: string;
  readonly result: AuditResult | '';
}

function toQuery(f: Filter, now: number): Omit<AuditQuery, 'limit' | 'afterSeq'> {
  const span = WINDOWS.find(([w]) => w === f.window)?.[1];
  return {
    ...(span !== undefined && { from: now - span }),
    ...(f.actor.trim() && { actor: f.actor.trim() }),
    ...(f.action.trim() && { action: f.action.trim() }),
    ...(f.result && { result: f.result }),
  };
}

/** "status 403 · IIP_ERR_AUTH_FORBIDDEN", and any other detail as key=value. */
export function detailText(details: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  if (details.status !== undefined) parts.push(String(details.status));
  if (typeof details.code === 'string') parts.push(details.code);
  for (const [k, v] of Object.entries(details)) {
    if (k !== 'status' && k !== 'code') parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' · ');
}

export function AuditPage({ api }: { api: ApiClient }) {
  const a = useAdminText();
  const [draft, setDraft] = useState<Filter>({ window: '24h', actor: '', action: '', result: '' });
  const [applied, setApplied] = useState<{ filter: Filter; at: number }>(() => ({ filter: draft, at: Date.now() }));
  const [events, setEvents] = useState<AuditEvent[] | undefined>();
  const [next, setNext] = useState<number | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [loading, setLoading] = useState(false);
  const exporting = useAction();
  const verifying = useAction();
  const [report, setReport] = useState<ChainReport | undefined>();

  const fetchPage = useCallback(
    async (afterSeq: number | undefined) => {
      setLoading(true);
      setProblem(undefined);
      try {
        const r = await auditApi.events(api, { ...toQuery(applied.filter, applied.at), limit: AUDIT_PAGE, ...(afterSeq !== undefined && { afterSeq }) });
        setEvents((old) => (afterSeq === undefined ? r.items : [...(old ?? []), ...r.items]));
        setNext(r.nextAfterSeq);
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

  function search(e: FormEvent) {
    e.preventDefault();
    setApplied({ filter: draft, at: Date.now() });
  }

  async function exportCsv() {
    await exporting.run(async () => {
      const blob = await auditApi.csv(api, toQuery(applied.filter, applied.at));
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `iip-audit-${api.tenant ?? 'tenant'}-${new Date().toISOString().slice(0, 10)}.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  }

  return (
    <main className="page admin-page">
      <div className="page-head">
        <h2>{a('audit.title')}</h2>
        <span className="muted small">{a('audit.hint')}</span>
      </div>
      <form className="panel admin-inline audit-filter" onSubmit={search} data-testid="audit-filter">
        <label>
          {a('audit.window')}{' '}
          <select data-testid="audit-window" value={draft.window} onChange={(e) => setDraft({ ...draft, window: e.target.value as WindowId })}>
            {WINDOWS.map(([w]) => (
              <option key={w} value={w}>
                {a(`audit.window.${w}` as AdminKey)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {a('audit.actor')} <input data-testid="audit-actor" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} />
        </label>
        <label>
          {a('audit.action')}{' '}
          <input data-testid="audit-action" value={draft.action} placeholder="POST /api/v1/assets" onChange={(e) => setDraft({ ...draft, action: e.target.value })} />
        </label>
        <label>
          {a('audit.result')}{' '}
          <select data-testid="audit-result" value={draft.result} onChange={(e) => setDraft({ ...draft, result: e.target.value as AuditResult | '' })}>
            <option value="">{a('audit.result.any')}</option>
            <option value="ok">{a('audit.result.ok')}</option>
            <option value="denied">{a('audit.result.denied')}</option>
            <option value="failed">{a('audit.result.failed')}</option>
          </select>
        </label>
        <button type="submit" className="primary" data-testid="audit-search">
          {a('audit.search')}
        </button>
        <span className="spacer" />
        <button type="button" disabled={exporting.busy} data-testid="audit-export" onClick={() => void exportCsv()}>
          {a('audit.export')}
        </button>
        <button
          type="button"
          disabled={verifying.busy}
          data-testid="audit-verify"
          onClick={() => {
            setReport(undefined);
            void verifying.run(async () => setReport(await auditApi.verify(api)));
          }}
        >
          {a('audit.verify')}
        </button>
      </form>
      <ProblemLine problem={exporting.problem ?? verifying.problem} />
      {report && <ChainVerdict report={report} />}
      <ProblemLine problem={problem} testId="audit-error" />
      {events && events.length === 0 && <p className="empty">{a('audit.none')}</p>}
      {events && events.length > 0 && (
        <>
          <p className="muted small" data-testid="audit-count">
            {events.length === 1 ? a('audit.countOne') : a('audit.count', { n: events.length })}
          </p>
          <table className="grid compact" data-testid="audit-table">
            <thead>
              <tr>
                <th className="num">#</th>
                <th>{a('audit.col.time')}</th>
                <th>{a('audit.actor')}</th>
                <th>{a('audit.col.source')}</th>
                <th>{a('audit.action')}</th>
                <th>{a('audit.col.target')}</th>
                <th>{a('audit.result')}</th>
                <th>{a('audit.col.details')}</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.seq} data-testid="audit-event" data-seq={e.seq} data-actor={e.actor} data-action={e.action} data-result={e.result}>
                  <td className="num mono">{e.seq}</td>
                  <td className="mono small nowrap">{utc(e.ts)}</td>
                  <td>{e.actor}</td>
                  <td className="mono small">{e.source}</td>
                  <td className="mono small">{e.action}</td>
                  <td className="mono small">{e.target}</td>
                  <td>
                    <span className={`badge ${e.result === 'ok' ? 'badge-ok' : e.result === 'denied' ? 'badge-warn' : 'badge-bad'}`}>{a(`audit.result.${e.result}` as AdminKey)}</span>
                  </td>
                  <td className="mono small">{detailText(e.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {next !== undefined && (
        <p>
          <button type="button" disabled={loading} data-testid="audit-more" onClick={() => void fetchPage(next)}>
            {a('audit.more')}
          </button>
        </p>
      )}
    </main>
  );
}

function ChainVerdict({ report }: { report: ChainReport }) {
  const a = useAdminText();
  return (
    <p className={report.ok ? 'notice ok-notice' : 'notice error'} role="status" data-testid="audit-verdict" data-ok={String(report.ok)}>
      {report.ok
        ? a('audit.chainOk', { events: report.events, seq: report.headSeq })
        : a('audit.chainBroken', { seq: report.brokenAt?.seq ?? '?', reason: report.brokenAt?.reason ?? '' })}
      <br />
      <span className="small">
        {a('audit.head')} <code data-testid="audit-head-hash">{report.headHash}</code>
      </span>
    </p>
  );
}
