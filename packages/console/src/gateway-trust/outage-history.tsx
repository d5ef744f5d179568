/**
 * A gateway channel's outage history on the gateway page: when each period without a link started and ended
 * (or that it goes on), how long it lasted, and why it started (the driver's code and message) — so an engineer
 * can match gaps in the trends with their cause. Newest first, as the gateway keeps them (the last ones only).
 */
import { useI18n } from '../i18n-context';
import { useNow } from '../use-now';
import { formatTimestamp } from '../value-format';
import { type TrustKey, trustText } from './trust-i18n';
import { formatDuration, type OutageView, outageDurationMs } from './trust-model';
import './gateway-trust.css';

export function OutageHistory({ outages }: { outages: readonly OutageView[] }) {
  const { lang } = useI18n();
  const tx = (key: TrustKey) => trustText(lang, key);
  const now = useNow(1000);
  return (
    <details className="outages" data-testid="outage-history" open={outages.some((o) => o.end === undefined) || undefined}>
      <summary>
        {tx('outages.title')} <span className="muted small">({outages.length})</span>
      </summary>
      {outages.length === 0 ? (
        <p className="muted small">{tx('outages.empty')}</p>
      ) : (
        <table className="grid compact">
          <thead>
            <tr>
              <th>{tx('outages.col.start')}</th>
              <th>{tx('outages.col.end')}</th>
              <th className="num">{tx('outages.col.duration')}</th>
              <th>{tx('outages.col.reason')}</th>
            </tr>
          </thead>
          <tbody>
            {outages.map((o) => (
              <tr key={o.start} data-testid="outage-row" data-ongoing={o.end === undefined}>
                <td className="mono small nowrap">{formatTimestamp(o.start)}</td>
                <td className="mono small nowrap">
                  {o.end === undefined ? <span className="badge badge-bad">{tx('outages.ongoing')}</span> : formatTimestamp(o.end)}
                </td>
                <td className="num nowrap" data-testid="outage-duration">
                  {formatDuration(outageDurationMs(o, now), lang)}
                </td>
                <td>
                  {o.code && <code className="error">{o.code}</code>} <span className="small">{o.message ?? ''}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}
