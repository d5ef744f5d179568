/**
 * The edge gateways of the tenant: online or not, whether each runs the desired configuration version, how
 * much it holds in its local buffer (and since when), and when it last reported. Polled every 5 s, since
 * gateway reports are not on the live stream.
 */
import { useCallback } from 'react';
import type { ApiClient } from '../api-client';
import { OnlineBadge, SyncBadge } from '../components/sync-badge';
import { type GatewayOverview, loadGatewayOverview } from '../gateway-overview';
import { useI18n } from '../i18n-context';
import { routeHref } from '../route';
import type { Fleet } from '../use-fleet';
import { useNow } from '../use-now';
import { usePoll } from '../use-poll';
import { formatAge, formatNumber } from '../value-format';

export const GATEWAY_REFRESH_MS = 5000;

export function GatewayListPage({ api, fleet }: { api: ApiClient; fleet: Fleet }) {
  const { t } = useI18n();
  const load = useCallback(() => loadGatewayOverview(api), [api]);
  const poll = usePoll(load, GATEWAY_REFRESH_MS);
  const now = useNow(1000);
  const items = poll.data ?? [];
  const online = items.filter((g) => g.online).length;

  return (
    <main className="page">
      <div className="page-head">
        <h2>{t('gateways.title')}</h2>
        {poll.data && (
          <span className="summary" data-testid="gateway-summary">
            <span className="dot-ok" aria-hidden="true" />
            {t('gateways.summary', { online, total: items.length })}
          </span>
        )}
        <span className="spacer" />
        <span className="muted small">{t('gateways.refresh')}</span>
      </div>
      {poll.error && (
        <p className="error" role="alert">
          <code>{poll.error.code}</code> {poll.error.message}
        </p>
      )}
      <table className="grid">
        <thead>
          <tr>
            <th>{t('gateways.col.gateway')}</th>
            <th>{t('gateways.col.status')}</th>
            <th>{t('gateways.col.config')}</th>
            <th>{t('gateways.col.buffer')}</th>
            <th>{t('gateways.col.reported')}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((g) => (
            <GatewayRow key={g.gateway} gateway={g} name={fleet.devices.find((d) => d.id === g.gateway)?.name} now={now} />
          ))}
        </tbody>
      </table>
      {poll.data && items.length === 0 && <p className="empty">{t('gateways.empty')}</p>}
      {!poll.data && !poll.error && <p className="empty">{t('gateways.loading')}</p>}
    </main>
  );
}

function GatewayRow({ gateway: g, name, now }: { gateway: GatewayOverview; name: string | undefined; now: number }) {
  const { t, lang } = useI18n();
  const href = routeHref({ kind: 'gateway', id: g.gateway });
  return (
    <tr
      className="clickable"
      data-testid="gateway-row"
      data-gateway-id={g.gateway}
      onClick={() => {
        location.hash = href;
      }}
    >
      <td>
        <a href={href} onClick={(e) => e.stopPropagation()}>
          {name ?? g.gateway}
        </a>
        {name && name !== g.gateway && <span className="muted small mono"> {g.gateway}</span>}
      </td>
      <td>
        <OnlineBadge online={g.online} />
      </td>
      <td>
        <SyncBadge desired={g.desiredVersion} applied={g.appliedVersion} />
      </td>
      <td data-testid="gateway-buffer" data-points={g.buffer?.points ?? ''} data-oldest-ts={g.buffer?.oldestTs ?? ''}>
        <BufferText points={g.buffer?.points} oldestTs={g.buffer?.oldestTs} now={now} />
      </td>
      <td className={g.updatedAt !== null && now - g.updatedAt < 60_000 ? 'fresh' : 'stale'}>
        {g.updatedAt === null ? t('devices.never') : formatAge(now - g.updatedAt, lang)}
      </td>
    </tr>
  );
}

function BufferText({ points, oldestTs, now }: { points: number | undefined; oldestTs: number | undefined; now: number }) {
  const { t, lang } = useI18n();
  if (points === undefined) return <span className="muted">—</span>;
  if (points === 0) return <span className="muted">{t('gateways.bufferEmpty')}</span>;
  return (
    <>
      {t('gateways.bufferPoints', { points: formatNumber(points, lang, 0) })}
      {oldestTs !== undefined && <span className="muted small"> · {t('gateways.bufferOldest', { age: formatAge(now - oldestTs, lang) })}</span>}
    </>
  );
}
