/**
 * One edge gateway: desired vs applied configuration, local buffer and uplink, and per channel the link
 * state, run state and error, a certificate-trust problem with its fix (and the one-click trust of a rejected
 * server certificate), the outage history, and each device's poll health (state, last latency, polls, errors,
 * last error). Polled every 5 s. Devices in the desired configuration that the gateway has not reported are
 * listed too, as "not reported".
 */
import { useCallback, useMemo } from 'react';
import { hasAnywhere } from '../admin/admin-access';
import type { ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { OnlineBadge, SyncBadge } from '../components/sync-badge';
import { type ChannelView, type DeviceHealthView, linkStateTone, mergeChannels, readGatewayState } from '../gateway-state';
import { ChannelTrust } from '../gateway-trust/channel-trust';
import { OutageHistory } from '../gateway-trust/outage-history';
import { trustText } from '../gateway-trust/trust-i18n';
import { useI18n } from '../i18n-context';
import { routeHref } from '../route';
import type { Fleet } from '../use-fleet';
import { useNow } from '../use-now';
import { usePoll } from '../use-poll';
import { formatAge, formatBytes, formatNumber, formatTimestamp } from '../value-format';
import { GATEWAY_REFRESH_MS } from './gateway-list-page';

export function GatewayDetailPage({ api, fleet, gatewayId, access }: { api: ApiClient; fleet: Fleet; gatewayId: string; access?: AccessSummary | undefined }) {
  const { t, lang } = useI18n();
  const load = useCallback(() => api.gateway(gatewayId), [api, gatewayId]);
  const poll = usePoll(load, GATEWAY_REFRESH_MS);
  const now = useNow(1000);
  const st = poll.data;
  const view = useMemo(() => readGatewayState(st?.reported?.state), [st]);
  const channels = useMemo(() => mergeChannels(st?.desired?.config, view.channels), [st, view]);
  const name = fleet.devices.find((d) => d.id === gatewayId)?.name;
  const back = (
    <a className="back" href={routeHref({ kind: 'gateways' })}>
      {t('gateway.back')}
    </a>
  );

  if (!st) {
    return (
      <main className="page">
        {back}
        {poll.error?.code === 'IIP_ERR_NOT_FOUND' ? (
          <p className="error">{t('gateway.notFound', { id: gatewayId })}</p>
        ) : poll.error ? (
          <p className="error" role="alert">
            <code>{poll.error.code}</code> {poll.error.message}
          </p>
        ) : (
          <p className="muted">{t('gateways.loading')}</p>
        )}
      </main>
    );
  }

  const num = (n: number | undefined) => (n === undefined ? '—' : formatNumber(n, lang, 0));
  const age = (ts: number | undefined | null) => (ts === undefined || ts === null ? '—' : formatAge(now - ts, lang));
  const b = view.buffer;

  return (
    <main className="page">
      {back}
      <div className="page-head">
        <h2>{name ?? st.gateway}</h2>
        {name && name !== st.gateway && <span className="mono muted">{st.gateway}</span>}
        <OnlineBadge online={st.online} />
        <SyncBadge desired={st.desired?.version} applied={st.reported?.appliedVersion} />
        <span className="spacer" />
        <span className="muted small">{t('gateways.refresh')}</span>
      </div>
      {poll.error && (
        <p className="error" role="alert">
          <code>{poll.error.code}</code> {poll.error.message}
        </p>
      )}
      <section className="panel">
        <dl className="facts">
          <div>
            <dt>{t('gateway.desired')}</dt>
            <dd>
              {st.desired
                ? t('gateway.desiredBy', { version: st.desired.version, user: st.desired.createdBy, time: formatTimestamp(st.desired.createdAt) })
                : t('gateways.noConfig')}
            </dd>
          </div>
          <div>
            <dt>{t('gateway.applied')}</dt>
            <dd>{st.reported?.appliedVersion != null ? `v${st.reported.appliedVersion}` : t('gateways.noVersion')}</dd>
          </div>
          <div>
            <dt>{t('gateway.lastReport')}</dt>
            <dd title={st.reported ? formatTimestamp(st.reported.updatedAt) : undefined}>
              {st.reported ? age(st.reported.updatedAt) : t('devices.never')}
            </dd>
          </div>
          <div>
            <dt>{t('gateway.buffer')}</dt>
            <dd data-testid="gateway-buffer" data-points={b.points ?? ''} data-oldest-ts={b.oldestTs ?? ''}>
              {b.points === undefined
                ? '—'
                : t('gateway.bufferBytes', { points: num(b.points), bytes: b.bytes === undefined ? '—' : formatBytes(b.bytes, lang) })}
            </dd>
          </div>
          <div>
            <dt>{t('gateway.oldest')}</dt>
            <dd title={b.oldestTs !== undefined ? formatTimestamp(b.oldestTs) : undefined}>{age(b.oldestTs)}</dd>
          </div>
          <div>
            <dt>{t('gateway.dropped')}</dt>
            <dd className={b.dropped ? 'error' : undefined}>{num(b.dropped)}</dd>
          </div>
          <div>
            <dt>{t('gateway.deadLetter')}</dt>
            <dd className={view.deadLetter.points ? 'error' : undefined} title={view.deadLetter.lastMessage}>
              {num(view.deadLetter.points)}
              {view.deadLetter.points && view.deadLetter.lastCode ? ` (${view.deadLetter.lastCode})` : ''}
            </dd>
          </div>
          <div>
            <dt>{t('gateway.uplink')}</dt>
            <dd>
              {view.uplink.connected === undefined ? '—' : view.uplink.connected ? t('gateway.uplinkUp') : t('gateway.uplinkDown')}
            </dd>
          </div>
          <div>
            <dt>{t('gateway.sentPoints')}</dt>
            <dd>{num(view.uplink.sentPoints)}</dd>
          </div>
          <div>
            <dt>{t('gateway.rulesFired')}</dt>
            <dd>{num(view.rulesFired)}</dd>
          </div>
        </dl>
      </section>
      <h3 className="section-title">{t('gateway.channels')}</h3>
      {channels.length === 0 && <p className="empty">{t('gateway.noChannels')}</p>}
      {channels.map((ch) => (
        <ChannelPanel
          key={ch.channel}
          channel={ch}
          fleet={fleet}
          api={api}
          gatewayId={st.gateway}
          canTrust={hasAnywhere(access, 'gateways:write')}
          onTrusted={poll.reload}
        />
      ))}
    </main>
  );
}

interface ChannelPanelProps {
  readonly channel: ChannelView;
  readonly fleet: Fleet;
  readonly api: ApiClient;
  readonly gatewayId: string;
  readonly canTrust: boolean;
  readonly onTrusted: () => void;
}

const RUN_STATE_BADGE = { starting: 'badge-warn', running: 'badge-ok', failed: 'badge-bad' } as const;

function ChannelPanel({ channel: ch, fleet, api, gatewayId, canTrust, onTrusted }: ChannelPanelProps) {
  const { t, lang } = useI18n();
  const link = ch.connected === undefined ? 'unknown' : ch.connected ? 'ok' : 'bad';
  return (
    <section className="panel channel" data-testid="gateway-channel" data-channel={ch.channel} data-connected={ch.connected ?? ''}>
      <div className="trend-head">
        <h3 className="mono">{ch.channel}</h3>
        {ch.protocol && <span className="muted">{ch.protocol}</span>}
        <span className={`badge badge-${link}`}>
          {ch.connected === undefined ? t('gateway.channel.unreported') : ch.connected ? t('gateway.channel.up') : t('gateway.channel.down')}
        </span>
        {ch.state === 'failed' ? (
          <span className="badge badge-bad" data-testid="gateway-channel-failed">
            {t('gateway.channel.failed')}
          </span>
        ) : (
          ch.state && (
            <span className={`badge ${RUN_STATE_BADGE[ch.state]}`} data-testid="gateway-channel-state" data-state={ch.state}>
              {trustText(lang, `state.${ch.state}`)}
            </span>
          )
        )}
      </div>
      {ch.error && (
        <p className="muted small" data-testid="gateway-channel-error">
          <span className="mono">{ch.error.code}</span> {ch.error.message}
        </p>
      )}
      <ChannelTrust api={api} gatewayId={gatewayId} channel={ch.channel} trust={ch.trust} canTrust={canTrust} onTrusted={onTrusted} />
      {ch.devices.length === 0 ? (
        <p className="muted small">{t('gateway.noDevices')}</p>
      ) : (
        <table className="grid compact">
          <thead>
            <tr>
              <th>{t('gateway.col.device')}</th>
              <th>{t('gateway.col.state')}</th>
              <th className="num">{t('gateway.col.latency')}</th>
              <th className="num">{t('gateway.col.polls')}</th>
              <th className="num">{t('gateway.col.errors')}</th>
              <th className="num">{t('gateway.col.failures')}</th>
              <th>{t('gateway.col.lastError')}</th>
            </tr>
          </thead>
          <tbody>
            {ch.devices.map((d) => (
              <DeviceHealthRow key={d.device} health={d} name={fleet.devices.find((x) => x.id === d.device)?.name} />
            ))}
          </tbody>
        </table>
      )}
      {ch.outages && <OutageHistory outages={ch.outages} />}
    </section>
  );
}

function DeviceHealthRow({ health: d, name }: { health: DeviceHealthView; name: string | undefined }) {
  const { t, lang } = useI18n();
  const num = (n: number | undefined) => (n === undefined ? '—' : formatNumber(n, lang, 0));
  return (
    <tr data-testid="gateway-device-health" data-device-id={d.device} data-state={d.state ?? ''} data-latency-ms={d.lastLatencyMs ?? ''}>
      <td>
        <a href={routeHref({ kind: 'device', id: d.device })}>{name ?? d.device}</a>
        {name && name !== d.device && <span className="muted small mono"> {d.device}</span>}
      </td>
      <td>
        <span className={`badge badge-${linkStateTone(d.state)}`}>{d.state ? t(`gateway.state.${d.state}`) : t('gateway.state.silent')}</span>
      </td>
      <td className="num" data-testid="gateway-device-latency">
        {d.lastLatencyMs === undefined ? '—' : formatNumber(d.lastLatencyMs, lang, d.lastLatencyMs < 10 ? 1 : 0)}
      </td>
      <td className="num">{num(d.polls)}</td>
      <td className={`num${d.errors ? ' error' : ''}`}>{num(d.errors)}</td>
      <td className={`num${d.consecutiveFailures ? ' error' : ''}`}>{num(d.consecutiveFailures)}</td>
      <td>
        {d.lastError ? (
          <span className="last-error" title={d.lastError.ts !== undefined ? formatTimestamp(d.lastError.ts) : undefined}>
            <code className="error">{d.lastError.code}</code> <span className="small">{d.lastError.message}</span>
          </span>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}
