/**
 * The last entries of the audit log for one device: who wrote what, from which value to which, and whether
 * the gateway carried it out. Refreshed with the page's other polled data and at once after a write.
 */
import type { AuditEntry, PropertySpec } from '../api-types';
import { useI18n } from '../i18n-context';
import type { MessageKey } from '../i18n-dictionary';
import { formatTimestamp, formatValue, isPointValue } from '../value-format';

const ACTION_KEYS: Readonly<Record<string, MessageKey>> = {
  write: 'audit.action.write',
  service: 'audit.action.service',
  'gateway.config': 'audit.action.gateway.config',
  'gateway.trust-certificate': 'audit.action.gateway.trust-certificate',
};

interface Props {
  readonly entries: readonly AuditEntry[] | undefined;
  readonly properties: readonly PropertySpec[];
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

export function AuditList({ entries, properties, error }: Props) {
  const { t, lang } = useI18n();
  const show = (v: unknown, spec: PropertySpec | undefined) =>
    v === null || v === undefined ? '—' : isPointValue(v) ? formatValue(v, spec?.dataType, lang) : JSON.stringify(v);
  return (
    <>
      <h3>{t('audit.title')}</h3>
      {error && (
        <p className="error small">
          <code>{error.code}</code> {error.message}
        </p>
      )}
      {entries && entries.length === 0 && <p className="muted small">{t('audit.empty')}</p>}
      {entries && entries.length > 0 && (
        <table className="grid compact">
          <thead>
            <tr>
              <th>{t('audit.col.time')}</th>
              <th>{t('audit.col.actor')}</th>
              <th>{t('audit.col.action')}</th>
              <th>{t('audit.col.property')}</th>
              <th>{t('audit.col.change')}</th>
              <th>{t('audit.col.result')}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e, i) => {
              const spec = properties.find((p) => p.id === e.property);
              const action = ACTION_KEYS[e.action];
              return (
                <tr key={e.id ?? `${e.ts}-${i}`} data-testid="audit-row" data-result={e.result} data-property={e.property ?? ''}>
                  <td className="mono small nowrap">{formatTimestamp(e.ts)}</td>
                  <td>{e.actor}</td>
                  <td>{action ? t(action) : e.action}</td>
                  <td>{spec?.name ?? e.property ?? '—'}</td>
                  <td className="nowrap">
                    {show(e.oldValue, spec)} → {show(e.newValue, spec)}
                  </td>
                  <td>
                    {e.result === 'ok' ? (
                      <span className="badge badge-ok">{t('audit.ok')}</span>
                    ) : (
                      <code className="error">{e.error ?? 'error'}</code>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
