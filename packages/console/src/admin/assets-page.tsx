/**
 * 资产树 / Asset tree (ISA-95: enterprise › site › area › line › cell): browse the tree, add, rename, move and
 * delete assets, and place devices on them. What the user may change follows its grants (assets:write on the
 * asset or above it); the platform checks every change again and the page shows its refusals.
 */
import { type FormEvent, useCallback, useMemo, useState } from 'react';
import type { ApiClient } from '../api-client';
import type { AccessSummary, Device } from '../api-types';
import { useI18n } from '../i18n-context';
import { usePoll } from '../use-poll';
import { hasOnAsset, hasTenantWide } from './admin-access';
import { type Asset, type AssetLevel, allDevices, assetsApi } from './admin-api';
import type { AdminKey } from './admin-i18n';
import { Field, ProblemLine, StatusLine, SubmitRow, useAction, useAdminText, useChange } from './admin-ui';
import { assetName, buildTree, childLevels, flatten, moveTargets } from './asset-tree';

const levelKey = (l: AssetLevel) => `level.${l}` as AdminKey;

export function AssetsPage({ api, access }: { api: ApiClient; access: AccessSummary | undefined }) {
  const a = useAdminText();
  const { lang } = useI18n();
  const load = useCallback(async () => {
    const [assets, devices] = await Promise.all([assetsApi.list(api), allDevices(api).catch(() => [] as Device[])]);
    return { assets, devices };
  }, [api]);
  const poll = usePoll(load, 30_000);
  const assets = poll.data?.assets ?? [];
  const devices = poll.data?.devices ?? [];
  const nodes = useMemo(() => flatten(buildTree(assets)), [assets]);
  const [selected, setSelected] = useState<string | undefined>();
  // An id not (or not yet) in the list selects nothing: a deleted asset, or one just added before the reload.
  const current = assets.find((x) => x.id === selected);

  return (
    <main className="page admin-page">
      <div className="page-head">
        <h2>{a('assets.title')}</h2>
        <span className="muted small">{a('assets.hint')}</span>
      </div>
      <ProblemLine problem={poll.error} />
      <div className="admin-split">
        <section className="panel asset-tree" data-testid="asset-tree">
          {poll.data && nodes.length === 0 && <p className="muted">{a('assets.empty')}</p>}
          <ul>
            {nodes.map((n) => (
              <li key={n.asset.id} style={{ paddingLeft: `${n.depth * 18}px` }}>
                <button
                  type="button"
                  className={`asset-node${n.asset.id === selected ? ' on' : ''}`}
                  data-testid="asset-node"
                  data-asset={n.asset.id}
                  data-parent={n.asset.parent ?? ''}
                  onClick={() => setSelected(n.asset.id === selected ? undefined : n.asset.id)}
                >
                  <span className="asset-level">{a(levelKey(n.asset.level))}</span> {assetName(n.asset, lang)}
                  <span className="muted small"> · {n.asset.id}</span>
                  <DeviceCount n={devices.filter((d) => d.asset === n.asset.id).length} />
                </button>
              </li>
            ))}
          </ul>
          {hasTenantWide(access, 'assets:write') && <AddAsset api={api} parent={undefined} onAdded={(id) => {
                poll.reload();
                setSelected(id);
              }} />}
        </section>
        {current ? (
          <AssetDetail key={current.id} api={api} access={access} asset={current} assets={assets} devices={devices} onChanged={poll.reload} onSelect={setSelected} />
        ) : (
          <section className="panel muted">{a('assets.pick')}</section>
        )}
      </div>
    </main>
  );
}

function DeviceCount({ n }: { n: number }) {
  const a = useAdminText();
  if (n === 0) return null;
  return <span className="muted small"> · {n === 1 ? a('assets.deviceOne') : a('assets.deviceCount', { n })}</span>;
}

function AddAsset({ api, parent, onAdded }: { api: ApiClient; parent: Asset | undefined; onAdded: (id: string) => void }) {
  const a = useAdminText();
  const act = useAction();
  const levels = childLevels(parent?.level ?? null);
  const [f, setF] = useState<{ id: string; level: AssetLevel | ''; name: string; nameZh: string }>({ id: '', level: levels[0] ?? '', name: '', nameZh: '' });
  if (levels.length === 0) return <p className="muted small">{a('assets.noChildLevel')}</p>;
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (f.level === '') return;
    const body = { id: f.id.trim(), parent: parent?.id ?? null, level: f.level, name: f.name.trim(), ...(f.nameZh.trim() && { nameZh: f.nameZh.trim() }) };
    if (await act.run(() => assetsApi.create(api, body))) {
      setF({ id: '', level: levels[0] ?? '', name: '', nameZh: '' });
      onAdded(body.id);
    }
  }
  return (
    <form className="admin-form" onSubmit={submit} data-testid={parent ? 'asset-add-child' : 'asset-add-root'}>
      <h3>{parent ? a('assets.addChild') : a('assets.addRoot')}</h3>
      <div className="admin-fields">
        <Field label={a('col.id')}>
          <input data-testid="asset-new-id" value={f.id} required onChange={(e) => setF({ ...f, id: e.target.value })} />
        </Field>
        <Field label={a('assets.level')}>
          <select data-testid="asset-new-level" value={f.level} onChange={(e) => setF({ ...f, level: e.target.value as AssetLevel })}>
            {levels.map((l) => (
              <option key={l} value={l}>
                {a(levelKey(l))}
              </option>
            ))}
          </select>
        </Field>
        <Field label={a('col.name')}>
          <input data-testid="asset-new-name" value={f.name} required onChange={(e) => setF({ ...f, name: e.target.value })} />
        </Field>
        <Field label={a('assets.nameZh')}>
          <input data-testid="asset-new-name-zh" value={f.nameZh} onChange={(e) => setF({ ...f, nameZh: e.target.value })} />
        </Field>
      </div>
      <SubmitRow busy={act.busy} label={a('add')} testId="asset-new-submit" />
      <ProblemLine problem={act.problem} testId="asset-add-error" />
    </form>
  );
}

interface DetailProps {
  readonly api: ApiClient;
  readonly access: AccessSummary | undefined;
  readonly asset: Asset;
  readonly assets: readonly Asset[];
  readonly devices: readonly Device[];
  onChanged(): void;
  onSelect(id: string | undefined): void;
}

function AssetDetail({ api, access, asset, assets, devices, onChanged, onSelect }: DetailProps) {
  const a = useAdminText();
  const { lang } = useI18n();
  const act = useChange(onChanged);
  const canWrite = hasOnAsset(access, 'assets:write', assets, asset.id);
  const [name, setName] = useState(asset.name);
  const [nameZh, setNameZh] = useState(asset.nameZh ?? '');
  const [target, setTarget] = useState('');
  const here = devices.filter((d) => d.asset === asset.id);
  const [device, setDevice] = useState('');
  const parent = assets.find((x) => x.id === asset.parent);
  const targets = moveTargets(assets, asset.id).filter((x) => x.id !== asset.parent);

  return (
    <section className="panel asset-detail" data-testid="asset-detail" data-asset={asset.id}>
      <h3>
        {assetName(asset, lang)} <span className="muted small">({a(levelKey(asset.level))})</span>
      </h3>
      <dl className="facts">
        <div>
          <dt>{a('col.id')}</dt>
          <dd className="mono">{asset.id}</dd>
        </div>
        <div>
          <dt>{a('assets.parent')}</dt>
          <dd>{parent ? assetName(parent, lang) : a('assets.noParent')}</dd>
        </div>
      </dl>
      <StatusLine message={act.message} testId="asset-message" />
      <ProblemLine problem={act.problem} testId="asset-error" />
      {canWrite && (
        <>
          <form
            className="admin-inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(() => assetsApi.update(api, asset.id, { name: name.trim(), nameZh: nameZh.trim() || null }), a('saved'));
            }}
          >
            <label>
              {a('col.name')} <input data-testid="asset-rename" value={name} required onChange={(e) => setName(e.target.value)} />
            </label>
            <label>
              {a('assets.nameZh')} <input data-testid="asset-rename-zh" value={nameZh} onChange={(e) => setNameZh(e.target.value)} />
            </label>
            <button type="submit" disabled={act.busy} data-testid="asset-rename-submit">
              {a('rename')}
            </button>
          </form>
          <form
            className="admin-inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(() => assetsApi.update(api, asset.id, { parent: target === '' ? null : target }), a('assets.moved'));
            }}
          >
            <label>
              {a('assets.moveTo')}{' '}
              <select data-testid="asset-move-target" value={target} onChange={(e) => setTarget(e.target.value)}>
                <option value="">{a('assets.asRoot')}</option>
                {targets.map((x) => (
                  <option key={x.id} value={x.id}>
                    {a(levelKey(x.level))}: {assetName(x, lang)} ({x.id})
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" disabled={act.busy || (target === '' && asset.parent === null)} data-testid="asset-move-submit">
              {a('assets.move')}
            </button>
          </form>
          <div className="admin-inline">
            <button
              type="button"
              className="danger"
              disabled={act.busy}
              data-testid="asset-delete"
              onClick={async () => {
                if (await act.run(() => assetsApi.remove(api, asset.id), a('assets.deleted'))) onSelect(undefined);
              }}
            >
              {a('delete')}
            </button>
            <span className="muted small">{a('assets.deleteHint')}</span>
          </div>
        </>
      )}

      <h3 className="section-title">{a('assets.devices')}</h3>
      {here.length === 0 ? (
        <p className="muted small">{a('assets.noDevices')}</p>
      ) : (
        <table className="grid compact" data-testid="asset-devices">
          <tbody>
            {here.map((d) => (
              <tr key={d.id} data-testid="asset-device" data-device={d.id}>
                <td>{d.name}</td>
                <td className="mono small">{d.id}</td>
                <td className="num">
                  {canWrite && (
                    <button type="button" className="link-button" disabled={act.busy} onClick={() => void act.run(() => assetsApi.place(api, d.id, null), a('assets.unplaced', { device: d.id }))}>
                      {a('assets.unplace')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && (
        <form
          className="admin-inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (device) void act.run(() => assetsApi.place(api, device, asset.id), a('assets.placed', { device })).then((ok) => ok && setDevice(''));
          }}
        >
          <label>
            {a('assets.placeDevice')}{' '}
            <select data-testid="asset-place-device" value={device} onChange={(e) => setDevice(e.target.value)}>
              <option value="">—</option>
              {devices
                .filter((d) => d.asset !== asset.id)
                .map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name} ({d.id}){d.asset ? ` · ${a('assets.now', { asset: d.asset })}` : ''}
                  </option>
                ))}
            </select>
          </label>
          <button type="submit" disabled={act.busy || device === ''} data-testid="asset-place-submit">
            {a('assets.place')}
          </button>
        </form>
      )}
      {canWrite && <AddAsset api={api} parent={asset} onAdded={(id) => {
            onChanged();
            onSelect(id);
          }} />}
    </section>
  );
}
