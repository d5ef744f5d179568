/**
 * The device list: one row per device with its state and a few key values, updated live, plus how many
 * devices are reporting right now. Rows open the device page.
 */
import { memo, useMemo, useState } from 'react';
import type { Device, Product } from '../api-types';
import { LiveValue } from '../components/live-value';
import { StateBadge } from '../components/state-badge';
import { useI18n } from '../i18n-context';
import { keyProperties, stateProperty } from '../key-properties';
import { type LiveStore, useLiveDevice, useLiveVersion } from '../live-store';
import { isUpdating, lastReport } from '../live-values';
import { routeHref } from '../route';
import type { Fleet } from '../use-fleet';
import { useNow } from '../use-now';
import { formatAge } from '../value-format';

interface Props {
  readonly store: LiveStore;
  readonly fleet: Fleet;
  readonly productFilter: string;
  readonly onProductFilter: (id: string) => void;
}

export function DeviceListPage({ store, fleet, productFilter, onProductFilter }: Props) {
  const { t } = useI18n();
  const [query, setQuery] = useState('');
  const now = useNow(2000);
  useLiveVersion(store);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return fleet.devices.filter(
      (d) =>
        (!productFilter || d.product === productFilter) &&
        (!q || d.name.toLowerCase().includes(q) || d.id.toLowerCase().includes(q)),
    );
  }, [fleet.devices, productFilter, query]);
  const updating = shown.filter((d) => isUpdating(store.get(d.id), now)).length;
  const products = [...fleet.products.values()].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <main className="page">
      <div className="page-head">
        <h2>{t('devices.title')}</h2>
        <span className="summary" data-testid="device-summary">
          <span className="dot-ok" aria-hidden="true" />
          {t('devices.summary', { updating, total: shown.length })}
        </span>
        <span className="spacer" />
        <input
          className="search"
          type="search"
          placeholder={t('devices.search')}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <label className="inline">
          {t('devices.product')}
          <select data-testid="product-filter" value={productFilter} onChange={(e) => onProductFilter(e.target.value)}>
            <option value="">{t('devices.allProducts')}</option>
            {products.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {fleet.error && (
        <p className="error" role="alert">
          <code>{fleet.error.code}</code> {fleet.error.message}
        </p>
      )}
      {fleet.total > fleet.devices.length && (
        <p className="muted">{t('devices.truncated', { shown: fleet.devices.length, total: fleet.total })}</p>
      )}
      <table className="grid">
        <thead>
          <tr>
            <th>{t('devices.col.name')}</th>
            <th>{t('devices.col.id')}</th>
            <th>{t('devices.col.product')}</th>
            <th>{t('devices.col.state')}</th>
            <th>{t('devices.col.values')}</th>
            <th>{t('devices.col.updated')}</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((d) => (
            <DeviceRow key={d.id} device={d} product={fleet.products.get(d.product)} store={store} now={now} />
          ))}
        </tbody>
      </table>
      {!fleet.loading && shown.length === 0 && !fleet.error && (
        <p className="empty">{fleet.devices.length === 0 ? t('devices.empty') : t('devices.noMatch')}</p>
      )}
      {fleet.loading && <p className="empty">{t('devices.loading')}</p>}
    </main>
  );
}

const DeviceRow = memo(function DeviceRow({
  device,
  product,
  store,
  now,
}: {
  device: Device;
  product: Product | undefined;
  store: LiveStore;
  now: number;
}) {
  const { t, lang } = useI18n();
  const values = useLiveDevice(store, device.id);
  const state = stateProperty(product?.model);
  const keys = keyProperties(product?.model);
  const last = lastReport(values);
  const href = routeHref({ kind: 'device', id: device.id });
  return (
    <tr
      className="clickable"
      data-testid="device-row"
      data-device-id={device.id}
      onClick={() => {
        location.hash = href;
      }}
    >
      <td>
        <a href={href} onClick={(e) => e.stopPropagation()}>
          {device.name}
        </a>
      </td>
      <td className="mono">{device.id}</td>
      <td>
        {product?.name ?? device.product}
        {product?.category && <span className="muted small"> · {product.category}</span>}
      </td>
      <td>{state ? <StateBadge spec={state} value={values?.[state.id]} device={device.id} /> : <span className="muted">—</span>}</td>
      <td>
        <span className="kv-list">
          {keys.map((p) => (
            <span key={p.id} className="kv">
              <span className="kv-label">{p.name ?? p.id}</span>
              <LiveValue device={device.id} spec={p} value={values?.[p.id]} />
            </span>
          ))}
        </span>
      </td>
      <td className={last !== undefined && now - last < 60_000 ? 'fresh' : 'stale'}>
        {last === undefined ? t('devices.never') : formatAge(now - last, lang)}
      </td>
    </tr>
  );
});
