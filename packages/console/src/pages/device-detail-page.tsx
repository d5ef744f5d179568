/**
 * One device: every property with its live value, unit and time, a write control for each rw property,
 * a trend of the selected numeric property over a chosen window (extended by live points as they arrive),
 * the events it announced (events/events-panel.tsx) and the device's latest audit entries.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import type { ApiClient } from '../api-client';
import type { PropertySpec, ServiceState, TrendBucket } from '../api-types';
import { AuditList } from '../components/audit-list';
import { LiveValue } from '../components/live-value';
import { StateBadge } from '../components/state-badge';
import { ServiceControl } from '../components/service-control';
import { WriteControl } from '../components/write-control';
import { EventsPanel } from '../events/events-panel';
import { useI18n } from '../i18n-context';
import { isTrendable, keyProperties, stateProperty } from '../key-properties';
import { type LiveStore, useLiveDevice } from '../live-store';
import { routeHref } from '../route';
import {
  TREND_BUCKETS,
  TREND_WINDOWS,
  type TrendWindow,
  WINDOW_MS,
  appendLive,
  bucketSeries,
  numericValue,
} from '../trend-series';
import type { Fleet } from '../use-fleet';
import { usePoll } from '../use-poll';
import { formatTimestamp, unitOf } from '../value-format';

/** How many audit entries the device page shows; the full log is in the API. */
const AUDIT_ENTRIES = 10;
const AUDIT_REFRESH_MS = 5000;

// ECharts is most of the bundle; loading it with the first device page keeps sign-in and the list fast.
const TrendChart = lazy(() => import('../components/trend-chart').then((m) => ({ default: m.TrendChart })));

interface Props {
  readonly api: ApiClient;
  readonly store: LiveStore;
  readonly fleet: Fleet;
  readonly deviceId: string;
}

export function DeviceDetailPage({ api, store, fleet, deviceId }: Props) {
  const { t } = useI18n();
  const device = fleet.devices.find((d) => d.id === deviceId);
  const product = device ? fleet.products.get(device.product) : undefined;
  const values = useLiveDevice(store, deviceId);
  const props = product?.model.properties ?? [];
  const state = stateProperty(product?.model);
  const trendable = props.filter(isTrendable);
  // Arrays are never rolled up, so they have no trend; the page says so rather than leaving them unclickable.
  const hasArrays = props.some((p) => p.dataType.type === 'array');
  const [picked, setPicked] = useState<string | undefined>();
  const selected = trendable.find((p) => p.id === picked) ?? keyProperties(product?.model, 1)[0] ?? trendable[0];
  const [win, setWin] = useState<TrendWindow>('15m');
  const writable = props.some((p) => p.access === 'rw');
  const loadAudit = useCallback(() => api.audit(deviceId, AUDIT_ENTRIES), [api, deviceId]);
  const audit = usePoll(loadAudit, AUDIT_REFRESH_MS);

  // Which services can be invoked (behind a gateway whose configuration binds them); asked once per device.
  const [serviceStates, setServiceStates] = useState<ReadonlyMap<string, ServiceState> | undefined>();
  const hasServices = (product?.model.services.length ?? 0) > 0;
  useEffect(() => {
    if (!hasServices) return;
    let live = true;
    api.deviceServices(deviceId).then(
      (r) => {
        if (live) setServiceStates(new Map(r.items.map((i) => [i.id, i.state])));
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [api, deviceId, hasServices]);

  useEffect(() => {
    // The list page may never have fetched this device (opened by URL), so fetch its latest values here too.
    api.latest(deviceId).then(
      (v) => store.seed(deviceId, v),
      () => undefined,
    );
  }, [api, store, deviceId]);

  if (fleet.loading) return <main className="page muted">{t('devices.loading')}</main>;
  if (!device) {
    return (
      <main className="page">
        <a href={routeHref({ kind: 'devices' })}>{t('device.back')}</a>
        <p className="error">{t('device.notFound', { id: deviceId })}</p>
      </main>
    );
  }

  return (
    <main className="page">
      <a className="back" href={routeHref({ kind: 'devices' })}>
        {t('device.back')}
      </a>
      <div className="page-head">
        <h2>{device.name}</h2>
        <span className="mono muted">{device.id}</span>
        {state && <StateBadge spec={state} value={values?.[state.id]} device={device.id} />}
        <span className="spacer" />
        <span className="muted">
          {product?.name ?? device.product}
          {product?.category ? ` · ${product.category}` : ''}
          {product?.version !== undefined ? ` · v${product.version}` : ''}
        </span>
      </div>
      <div className="detail">
        <section className="panel">
          <h3>{t('device.properties')}</h3>
          <table className="grid compact">
            <thead>
              <tr>
                <th>{t('device.col.property')}</th>
                <th className="num">{t('device.col.value')}</th>
                <th>{t('device.col.unit')}</th>
                <th>{t('device.col.time')}</th>
                {writable && <th>{t('device.col.write')}</th>}
              </tr>
            </thead>
            <tbody>
              {props.map((p) => {
                const v = values?.[p.id];
                const canTrend = isTrendable(p);
                return (
                  <tr
                    key={p.id}
                    className={[canTrend ? 'clickable' : '', selected?.id === p.id ? 'selected' : ''].join(' ')}
                    data-testid="property-row"
                    data-property={p.id}
                    // A click in the write control is for the control, not a request to show this trend.
                    onClick={canTrend ? (e) => !(e.target as Element).closest('form') && setPicked(p.id) : undefined}
                  >
                    <td>
                      {p.name ?? p.id}
                      {p.name && <span className="muted small mono"> {p.id}</span>}
                    </td>
                    <td className="num nowrap">
                      <LiveValue device={device.id} spec={p} value={v} />
                    </td>
                    <td className="muted">{unitOf(p.dataType) ?? ''}</td>
                    <td className="muted mono small nowrap">{v ? formatTimestamp(v.ts) : '—'}</td>
                    {writable && (
                      <td>
                        {p.access === 'rw' && (
                          <WriteControl api={api} device={device.id} spec={p} current={v} onWritten={audit.reload} />
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {trendable.length > 1 && <p className="muted small">{t('device.pickHint')}</p>}
          {hasArrays && (
            <p className="muted small" data-testid="array-no-trend">
              {t('trend.arrayNone')}
            </p>
          )}
        </section>
        <section className="panel trend-panel">
          {selected ? (
            <TrendPanel api={api} deviceId={device.id} spec={selected} win={win} onWin={setWin} liveValue={values?.[selected.id]} />
          ) : (
            <p className="muted">{t('trend.none')}</p>
          )}
        </section>
        {hasServices && (
          <section className="panel services-panel" data-testid="services-panel">
            <h3>{t('services.title')}</h3>
            <p className="muted small">{t('services.hint')}</p>
            {product?.model.services.map((sv) => (
              <ServiceControl key={sv.id} api={api} device={device.id} spec={sv} state={serviceStates?.get(sv.id)} onInvoked={audit.reload} />
            ))}
          </section>
        )}
        {(product?.model.events.length ?? 0) > 0 && <EventsPanel api={api} deviceId={device.id} specs={product?.model.events ?? []} />}
        <section className="panel audit-panel">
          <AuditList entries={audit.data} properties={props} error={audit.error} />
        </section>
      </div>
    </main>
  );
}

interface TrendPanelProps {
  readonly api: ApiClient;
  readonly deviceId: string;
  readonly spec: PropertySpec;
  readonly win: TrendWindow;
  readonly onWin: (w: TrendWindow) => void;
  readonly liveValue: { ts: number; value: unknown } | undefined;
}

function TrendPanel({ api, deviceId, spec, win, onWin, liveValue }: TrendPanelProps) {
  const { t } = useI18n();
  const [trend, setTrend] = useState<{ from: number; to: number; buckets: TrendBucket[] } | undefined>();
  const [live, setLive] = useState<[number, number][]>([]);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let cancelled = false;
    const to = Date.now();
    const from = to - WINDOW_MS[win];
    setError(undefined);
    setLive([]);
    api.trend(deviceId, spec.id, from, to, TREND_BUCKETS).then(
      (buckets) => {
        if (!cancelled) setTrend({ from, to, buckets });
      },
      (e: unknown) => {
        if (!cancelled) {
          setTrend({ from, to, buckets: [] });
          setError(e instanceof Error ? e.message : String(e));
        }
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, deviceId, spec.id, win]);

  useEffect(() => {
    if (!trend || !liveValue) return;
    const y = numericValue(liveValue.value);
    if (y === undefined) return;
    setLive((cur) => appendLive(cur, liveValue.ts, y, trend.to));
  }, [liveValue, trend]);

  const series = useMemo(() => bucketSeries(trend?.buckets ?? []), [trend]);

  return (
    <>
      <div className="trend-head">
        <h3>{t('trend.title', { property: spec.name ?? spec.id })}</h3>
        <span className="spacer" />
        <fieldset className="segmented">
          <legend className="muted small">{t('trend.window')}</legend>
          {TREND_WINDOWS.map((w) => (
            <button
              key={w}
              type="button"
              data-testid={`trend-window-${w}`}
              className={w === win ? 'on' : ''}
              aria-pressed={w === win}
              onClick={() => onWin(w)}
            >
              {t(`trend.${w}`)}
            </button>
          ))}
        </fieldset>
      </div>
      {error && <p className="error">{t('trend.error', { message: error })}</p>}
      {!trend && <p className="muted small">{t('trend.loading')}</p>}
      <Suspense fallback={<div className="trend-chart" />}>
        <TrendChart
          series={series}
          live={live}
          from={trend?.from ?? Date.now() - WINDOW_MS[win]}
          to={trend?.to ?? Date.now()}
          unit={unitOf(spec.dataType)}
          integer={spec.dataType.type !== 'float'}
        />
      </Suspense>
    </>
  );
}
