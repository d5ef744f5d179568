/**
 * 用量与保留 / Usage & retention: the tenant's usage against its quotas (devices, points today, stored bytes),
 * its retention per data level and the last retention run; an administrator edits the policy here. Polled
 * every 10 s: usage is not on the live stream.
 */
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api-client';
import { useI18n } from '../i18n-context';
import type { MessageKey } from '../i18n-dictionary';
import { usePoll } from '../use-poll';
import { formatBytes, formatNumber, formatTimestamp } from '../value-format';
import { MIN_AUDIT_DAYS, type TenantPolicy, type TenantUsageReply, parseLimit, shareOf } from './usage-api';
import './usage-page.css';

export const USAGE_REFRESH_MS = 10_000;
const LEVELS = ['60000', '3600000', '86400000'] as const;

type Fields = Record<'devices' | 'pointsPerDay' | 'storedBytes' | 'rawDays' | (typeof LEVELS)[number] | 'auditDays', string>;
/** Form order: retention (raw, then each rollup level, the audit log), then quotas. Listed, because an object's
 * integer-like keys ('60000' …) enumerate before the others whatever order they are written in. */
const FIELD_ORDER: ReadonlyArray<keyof Fields> = ['rawDays', ...LEVELS, 'auditDays', 'devices', 'pointsPerDay', 'storedBytes'];

function fieldsOf(p: TenantPolicy): Fields {
  const s = (v: number | null | undefined) => (v == null ? '' : String(v));
  return {
    devices: s(p.quotas.devices),
    pointsPerDay: s(p.quotas.pointsPerDay),
    storedBytes: s(p.quotas.storedBytes),
    rawDays: s(p.retention.rawDays),
    '60000': s(p.retention.rollups['60000']),
    '3600000': s(p.retention.rollups['3600000']),
    '86400000': s(p.retention.rollups['86400000']),
    auditDays: s(p.retention.auditDays),
  };
}

export function UsagePage({ api, isAdmin }: { api: ApiClient; isAdmin: boolean }) {
  const { t, lang } = useI18n();
  const load = useCallback(() => api.tenantUsage(), [api]);
  const poll = usePoll(load, USAGE_REFRESH_MS);
  const r = poll.data;

  return (
    <main className="page usage-page">
      <div className="page-head">
        <h2>{t('usage.title')}</h2>
      </div>
      {poll.error && (
        <p className="error" role="alert">
          <code>{poll.error.code}</code> {poll.error.message}
        </p>
      )}
      {!r && !poll.error && <p className="empty">{t('usage.loading')}</p>}
      {r && (
        <>
          <h3 className="section-title">{t('usage.quotas')}</h3>
          <table className="grid" data-testid="usage-table">
            <thead>
              <tr>
                <th>{t('usage.col.what')}</th>
                <th className="num">{t('usage.col.used')}</th>
                <th className="num">{t('usage.col.limit')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              <UsageRow id="devices" label={t('usage.devices')} used={r.usage.devices} limit={r.policy.quotas.devices} show={(n) => formatNumber(n, lang, 0)} />
              <UsageRow
                id="pointsToday"
                label={t('usage.pointsToday', { day: r.usage.day })}
                used={r.usage.pointsToday}
                limit={r.policy.quotas.pointsPerDay}
                show={(n) => formatNumber(n, lang, 0)}
              />
              <UsageRow id="storedBytes" label={t('usage.storedBytes')} used={r.usage.storedBytes} limit={r.policy.quotas.storedBytes} show={(n) => formatBytes(n, lang)} />
            </tbody>
          </table>

          <h3 className="section-title">{t('usage.retention')}</h3>
          <section className="panel">
            <dl className="facts" data-testid="retention-facts">
              <div>
                <dt>{t('usage.raw')}</dt>
                <dd data-testid="retention-raw">{days(r.policy.retention.rawDays)}</dd>
              </div>
              {LEVELS.map((l) => (
                <div key={l}>
                  <dt>{t(`usage.rollup.${l}` as MessageKey)}</dt>
                  <dd data-testid={`retention-${l}`}>{days(r.policy.retention.rollups[l])}</dd>
                </div>
              ))}
              <div>
                <dt>{t('usage.audit')}</dt>
                <dd data-testid="retention-audit">{days(r.policy.retention.auditDays)}</dd>
              </div>
              <div>
                <dt>{t('usage.lastRun')}</dt>
                <dd data-testid="retention-last-run">{lastRun(r)}</dd>
              </div>
            </dl>
          </section>

          <h3 className="section-title">{t('usage.security')}</h3>
          <section className="panel">
            <dl className="facts">
              <div>
                <dt>{t('usage.totpAdmins')}</dt>
                <dd data-testid="security-totp-admins" data-on={String(r.policy.security?.totpRequiredForAdmins ?? false)}>
                  {r.policy.security?.totpRequiredForAdmins ? t('usage.totpRequired') : t('usage.totpOptional')}
                </dd>
              </div>
            </dl>
          </section>

          <h3 className="section-title">{t('usage.edit')}</h3>
          {isAdmin ? <PolicyForm api={api} policy={r.policy} onSaved={poll.reload} /> : <p className="muted">{t('usage.adminOnly')}</p>}
        </>
      )}
    </main>
  );

  function days(d: number | null | undefined): string {
    return d == null ? t('usage.forever') : t('usage.days', { days: formatNumber(d, lang) });
  }

  function lastRun(reply: TenantUsageReply): string {
    const run = reply.retention.lastRun;
    if (!run) return t('usage.lastRunNone');
    const time = formatTimestamp(run.finishedAt);
    if (run.error) return t('usage.lastRunFailed', { time, code: run.error.code });
    const rollups = Object.values(run.rollupsDeleted).reduce((a, b) => a + b, 0);
    return t('usage.lastRunText', { time, raw: formatNumber(run.rawDeleted, lang, 0), rollups: formatNumber(rollups, lang, 0) });
  }
}

function UsageRow({ id, label, used, limit, show }: { id: string; label: string; used: number; limit: number | null; show: (n: number) => string }) {
  const { t } = useI18n();
  const share = shareOf(used, limit);
  return (
    <tr data-testid={`usage-${id}`}>
      <td>{label}</td>
      <td className="num" data-testid="used">
        {show(used)}
      </td>
      <td className="num" data-testid="limit">
        {limit === null ? t('usage.unlimited') : show(limit)}
      </td>
      <td className="usage-bar-cell">
        {share !== undefined && (
          <span className={`usage-bar${share >= 100 ? ' full' : share >= 80 ? ' high' : ''}`} title={`${share}%`}>
            <span style={{ width: `${share}%` }} />
          </span>
        )}
      </td>
    </tr>
  );
}

function PolicyForm({ api, policy, onSaved }: { api: ApiClient; policy: TenantPolicy; onSaved: () => void }) {
  const { t } = useI18n();
  const [fields, setFields] = useState<Fields>(() => fieldsOf(policy));
  const [totpAdmins, setTotpAdmins] = useState(policy.security?.totpRequiredForAdmins ?? false);
  const [dirty, setDirty] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string; code?: string } | undefined>();
  // Follow the server's policy until the admin starts typing.
  useEffect(() => {
    if (dirty) return;
    setFields(fieldsOf(policy));
    setTotpAdmins(policy.security?.totpRequiredForAdmins ?? false);
  }, [policy, dirty]);

  const labels: Record<keyof Fields, MessageKey> = {
    devices: 'usage.field.devices',
    pointsPerDay: 'usage.field.pointsPerDay',
    storedBytes: 'usage.field.storedBytes',
    rawDays: 'usage.field.rawDays',
    '60000': 'usage.field.rollup.60000',
    '3600000': 'usage.field.rollup.3600000',
    '86400000': 'usage.field.rollup.86400000',
    auditDays: 'usage.field.auditDays',
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const values: Partial<Record<keyof Fields, number | null>> = {};
    for (const k of Object.keys(fields) as Array<keyof Fields>) {
      const p = parseLimit(fields[k], k === 'devices' || k === 'pointsPerDay' || k === 'storedBytes');
      if ('error' in p) {
        setMessage({ ok: false, text: t('usage.badNumber', { field: t(labels[k]) }) });
        return;
      }
      values[k] = p.value;
    }
    if (values.auditDays != null && values.auditDays < MIN_AUDIT_DAYS) {
      setMessage({ ok: false, text: t('usage.badAuditDays') });
      return;
    }
    const next: TenantPolicy = {
      retention: {
        rawDays: values.rawDays ?? null,
        rollups: Object.fromEntries(LEVELS.filter((l) => values[l] != null).map((l) => [l, values[l] ?? null])),
        auditDays: values.auditDays ?? null,
      },
      quotas: { devices: values.devices ?? null, pointsPerDay: values.pointsPerDay ?? null, storedBytes: values.storedBytes ?? null },
      // Sent always: the platform keeps the current rule when it is absent, but this form shows and owns it.
      security: { totpRequiredForAdmins: totpAdmins },
    };
    setBusy(true);
    try {
      await api.setTenantPolicy(next);
      setDirty(false);
      setMessage({ ok: true, text: t('usage.saved') });
      onSaved();
    } catch (err) {
      const code = err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : 'IIP_ERR_CONSOLE_LOAD';
      setMessage({ ok: false, code, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel policy-form" onSubmit={submit} data-testid="policy-form">
      <p className="muted small">{t('usage.editHint')}</p>
      <div className="policy-fields">
        {FIELD_ORDER.map((k) => (
          <label key={k}>
            <span>{t(labels[k])}</span>
            <input
              name={k}
              data-testid={`policy-${k}`}
              inputMode="decimal"
              value={fields[k]}
              placeholder={k === 'devices' || k === 'pointsPerDay' || k === 'storedBytes' ? t('usage.unlimited') : t('usage.forever')}
              onChange={(e) => {
                setDirty(true);
                setFields({ ...fields, [k]: e.target.value });
              }}
            />
          </label>
        ))}
      </div>
      <label className="policy-check">
        <input
          type="checkbox"
          data-testid="policy-totpRequiredForAdmins"
          checked={totpAdmins}
          onChange={(e) => {
            setDirty(true);
            setTotpAdmins(e.target.checked);
          }}
        />{' '}
        <span>
          {t('usage.totpAdmins')}
          <br />
          <span className="muted small">{t('usage.totpAdminsHint')}</span>
        </span>
      </label>
      <div>
        <button type="submit" className="primary" disabled={busy} data-testid="policy-save">
          {t('usage.save')}
        </button>{' '}
        {message && (
          <span className={message.ok ? 'ok' : 'error'} role={message.ok ? 'status' : 'alert'} data-testid="policy-message">
            {message.code && <code>{message.code}</code>} {message.text}
          </span>
        )}
      </div>
    </form>
  );
}
