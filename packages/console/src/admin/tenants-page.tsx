/**
 * 租户 / Tenants, for the platform administrator: create a tenant (and its first administrator), rename it,
 * suspend it with a reason or re-activate it, delete a suspended one, and switch the console to act on it.
 */
import { type FormEvent, useCallback, useState } from 'react';
import type { ApiClient } from '../api-client';
import { usePoll } from '../use-poll';
import { formatTimestamp } from '../value-format';
import { type Tenant, tenantsApi } from './admin-api';
import { Field, ProblemLine, StatusLine, SubmitRow, useAction, useAdminText, useChange } from './admin-ui';

interface Props {
  /** A client acting on the administrator's own tenant (tenant calls do not depend on the switch). */
  readonly api: ApiClient;
  readonly homeTenant: string;
  readonly actingTenant: string;
  onSwitch(tenant: string): void;
  /** Told after every change, so the tenant switcher lists what there is. */
  onChanged(): void;
}

export function TenantsPage({ api, homeTenant, actingTenant, onSwitch, onChanged }: Props) {
  const a = useAdminText();
  const load = useCallback(() => tenantsApi.list(api), [api]);
  const poll = usePoll(load, 30_000);
  const [open, setOpen] = useState<string | undefined>();
  const changed = () => {
    poll.reload();
    onChanged();
  };

  return (
    <main className="page admin-page">
      <div className="page-head">
        <h2>{a('tenants.title')}</h2>
        <span className="muted small">{a('tenants.hint')}</span>
      </div>
      <ProblemLine problem={poll.error} />
      <CreateTenant api={api} onCreated={changed} />
      <table className="grid" data-testid="tenant-table">
        <thead>
          <tr>
            <th>{a('col.id')}</th>
            <th>{a('col.name')}</th>
            <th>{a('tenants.col.status')}</th>
            <th>{a('col.created')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(poll.data ?? []).map((t) => (
            <TenantRow
              key={t.id}
              api={api}
              tenant={t}
              home={t.id === homeTenant}
              acting={t.id === actingTenant}
              open={open === t.id}
              onToggle={() => setOpen(open === t.id ? undefined : t.id)}
              onSwitch={() => onSwitch(t.id)}
              onChanged={changed}
            />
          ))}
        </tbody>
      </table>
    </main>
  );
}

function CreateTenant({ api, onCreated }: { api: ApiClient; onCreated: () => void }) {
  const a = useAdminText();
  const act = useAction();
  const [f, setF] = useState({ id: '', name: '', adminUser: '', adminPassword: '' });
  const [done, setDone] = useState<string | undefined>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(undefined);
    const body = {
      id: f.id.trim(),
      ...(f.name.trim() && { name: f.name.trim() }),
      ...(f.adminUser.trim() && { admin: { username: f.adminUser.trim(), password: f.adminPassword } }),
    };
    if (await act.run(() => tenantsApi.create(api, body))) {
      setDone(body.id);
      setF({ id: '', name: '', adminUser: '', adminPassword: '' });
      onCreated();
    }
  }
  return (
    <form className="panel admin-form" onSubmit={submit} data-testid="tenant-create">
      <h3>{a('tenants.create')}</h3>
      <div className="admin-fields">
        <Field label={a('col.id')}>
          <input data-testid="tenant-id" value={f.id} required onChange={(e) => setF({ ...f, id: e.target.value })} />
        </Field>
        <Field label={a('col.name')}>
          <input data-testid="tenant-name" value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
        </Field>
        <Field label={a('tenants.firstAdmin')}>
          <input data-testid="tenant-admin-user" value={f.adminUser} autoComplete="off" onChange={(e) => setF({ ...f, adminUser: e.target.value })} />
        </Field>
        <Field label={a('tenants.firstAdminPassword')}>
          <input
            data-testid="tenant-admin-password"
            type="password"
            autoComplete="new-password"
            value={f.adminPassword}
            required={f.adminUser.trim() !== ''}
            onChange={(e) => setF({ ...f, adminPassword: e.target.value })}
          />
        </Field>
      </div>
      <p className="muted small">{a('password.rules')}</p>
      <SubmitRow busy={act.busy} label={a('tenants.createSubmit')} testId="tenant-create-submit" done={done && a('tenants.created', { id: done })} />
      <ProblemLine problem={act.problem} testId="tenant-create-error" />
    </form>
  );
}

interface RowProps {
  readonly api: ApiClient;
  readonly tenant: Tenant;
  readonly home: boolean;
  readonly acting: boolean;
  readonly open: boolean;
  onToggle(): void;
  onSwitch(): void;
  onChanged(): void;
}

function TenantRow({ api, tenant: t, home, acting, open, onToggle, onSwitch, onChanged }: RowProps) {
  const a = useAdminText();
  return (
    <>
      <tr data-testid="tenant-row" data-tenant={t.id} data-status={t.status} className={acting ? 'selected' : ''}>
        <td className="mono">
          {t.id}
          {home && <span className="muted small"> · {a('tenants.platform')}</span>}
        </td>
        <td>{t.name}</td>
        <td>
          {t.status === 'active' ? (
            <span className="badge badge-ok">{a('tenants.active')}</span>
          ) : (
            <>
              <span className="badge badge-bad">{a('tenants.suspended')}</span> <span className="small">{t.suspendedReason}</span>
            </>
          )}
        </td>
        <td className="nowrap small">{formatTimestamp(t.createdAt)}</td>
        <td className="nowrap admin-row-actions">
          {acting ? (
            <span className="muted small">{a('tenants.acting')}</span>
          ) : (
            <button type="button" className="link-button" data-testid="tenant-switch-to" onClick={onSwitch}>
              {a('tenants.switchTo')}
            </button>
          )}{' '}
          <button type="button" className="link-button" data-testid="tenant-edit" onClick={onToggle}>
            {open ? a('close') : a('edit')}
          </button>
        </td>
      </tr>
      {open && (
        <tr className="admin-editor-row">
          <td colSpan={5}>
            <TenantEditor api={api} tenant={t} home={home} onChanged={onChanged} />
          </td>
        </tr>
      )}
    </>
  );
}

function TenantEditor({ api, tenant: t, home, onChanged }: { api: ApiClient; tenant: Tenant; home: boolean; onChanged: () => void }) {
  const a = useAdminText();
  const act = useChange(onChanged);
  const [name, setName] = useState(t.name);
  const [reason, setReason] = useState('');
  const [confirmDelete, setConfirmDelete] = useState('');

  return (
    <div className="admin-editor" data-testid="tenant-editor">
      <form
        className="admin-inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(() => tenantsApi.update(api, t.id, { name: name.trim() }), a('saved'));
        }}
      >
        <label>
          {a('col.name')} <input data-testid="tenant-rename" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" disabled={act.busy}>
          {a('rename')}
        </button>
      </form>
      {t.status === 'active' && !home && (
        <form
          className="admin-inline"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(() => tenantsApi.update(api, t.id, { status: 'suspended', suspendedReason: reason.trim() }), a('tenants.suspendedNow'));
          }}
        >
          <label>
            {a('tenants.reason')} <input data-testid="tenant-reason" value={reason} required maxLength={500} onChange={(e) => setReason(e.target.value)} />
          </label>
          <button type="submit" className="danger" disabled={act.busy} data-testid="tenant-suspend">
            {a('tenants.suspend')}
          </button>
          <span className="muted small">{a('tenants.suspendHint')}</span>
        </form>
      )}
      {t.status === 'suspended' && (
        <>
          <div className="admin-inline">
            <button type="button" disabled={act.busy} data-testid="tenant-activate" onClick={() => void act.run(() => tenantsApi.update(api, t.id, { status: 'active' }), a('tenants.activated'))}>
              {a('tenants.activate')}
            </button>
          </div>
          <form
            className="admin-inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(() => tenantsApi.remove(api, t.id), a('tenants.deleted', { id: t.id }));
            }}
          >
            <label>
              {a('tenants.deleteConfirm', { id: t.id })}{' '}
              <input data-testid="tenant-delete-confirm" value={confirmDelete} autoComplete="off" onChange={(e) => setConfirmDelete(e.target.value)} />
            </label>
            <button type="submit" className="danger" disabled={act.busy || confirmDelete !== t.id} data-testid="tenant-delete">
              {a('tenants.delete')}
            </button>
            <span className="muted small">{a('tenants.deleteHint')}</span>
          </form>
        </>
      )}
      <StatusLine message={act.message} testId="tenant-message" />
      <ProblemLine problem={act.problem} testId="tenant-error" />
    </div>
  );
}
