/**
 * 角色 / Roles: the built-in roles and the tenant's custom roles with their permissions (labels in the chosen
 * language, from the platform's catalogue); with roles:manage, custom roles are created, changed and deleted.
 */
import { type FormEvent, useCallback, useState } from 'react';
import type { ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { useI18n } from '../i18n-context';
import { usePoll } from '../use-poll';
import { hasTenantWide } from './admin-access';
import { type PermissionInfo, type Role, rolesApi } from './admin-api';
import { Field, ProblemLine, SubmitRow, useAction, useAdminText } from './admin-ui';

export function roleName(r: Pick<Role, 'name' | 'nameZh'>, lang: 'en' | 'zh'): string {
  return lang === 'zh' && r.nameZh ? r.nameZh : r.name;
}

export function RolesPage({ api, access }: { api: ApiClient; access: AccessSummary | undefined }) {
  const a = useAdminText();
  const { lang } = useI18n();
  const load = useCallback(async () => {
    const [roles, permissions] = await Promise.all([rolesApi.list(api), rolesApi.permissions(api)]);
    return { roles, permissions };
  }, [api]);
  const poll = usePoll(load, 60_000);
  const canManage = hasTenantWide(access, 'roles:manage');
  const [editing, setEditing] = useState<Role | 'new' | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const permissions = poll.data?.permissions ?? [];
  const label = (p: string) => {
    const info = permissions.find((x) => x.id === p);
    return info ? (lang === 'zh' ? info.zh : info.en) : p;
  };

  return (
    <main className="page admin-page">
      <div className="page-head">
        <h2>{a('roles.title')}</h2>
        <span className="muted small">{a('roles.hint')}</span>
        <span className="spacer" />
        {canManage && editing === undefined && (
          <button type="button" className="primary" data-testid="role-new" onClick={() => setEditing('new')}>
            {a('roles.new')}
          </button>
        )}
      </div>
      <ProblemLine problem={poll.error} />
      {editing !== undefined && poll.data && (
        <RoleForm
          key={editing === 'new' ? '' : editing.id}
          api={api}
          role={editing === 'new' ? undefined : editing}
          permissions={permissions}
          onDone={(changed) => {
            setEditing(undefined);
            if (changed) poll.reload();
          }}
        />
      )}
      <table className="grid" data-testid="role-table">
        <thead>
          <tr>
            <th>{a('col.name')}</th>
            <th>{a('col.id')}</th>
            <th>{a('roles.kind')}</th>
            <th>{a('roles.permissions')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(poll.data?.roles ?? []).map((r) => (
            <RoleRow
              key={r.id}
              api={api}
              role={r}
              label={label}
              open={open === r.id}
              canManage={canManage}
              onToggle={() => setOpen(open === r.id ? undefined : r.id)}
              onEdit={() => setEditing(r)}
              onDeleted={poll.reload}
            />
          ))}
        </tbody>
      </table>
    </main>
  );
}

interface RowProps {
  readonly api: ApiClient;
  readonly role: Role;
  readonly label: (p: string) => string;
  readonly open: boolean;
  readonly canManage: boolean;
  onToggle(): void;
  onEdit(): void;
  onDeleted(): void;
}

function RoleRow({ api, role: r, label, open, canManage, onToggle, onEdit, onDeleted }: RowProps) {
  const a = useAdminText();
  const { lang } = useI18n();
  const act = useAction();
  return (
    <>
      <tr data-testid="role-row" data-role={r.id}>
        <td>{roleName(r, lang)}</td>
        <td className="mono">{r.id}</td>
        <td>{r.builtIn ? <span className="badge">{a('roles.builtIn')}</span> : <span className="badge badge-ok">{a('roles.custom')}</span>}</td>
        <td>
          <button type="button" className="link-button" data-testid="role-permissions-toggle" onClick={onToggle}>
            {r.permissions.length === 1 ? a('roles.permissionOne') : a('roles.permissionCount', { n: r.permissions.length })}
          </button>
        </td>
        <td className="nowrap admin-row-actions">
          {canManage && !r.builtIn && (
            <>
              <button type="button" className="link-button" data-testid="role-edit" onClick={onEdit}>
                {a('edit')}
              </button>{' '}
              <button
                type="button"
                className="link-button danger"
                data-testid="role-delete"
                disabled={act.busy}
                onClick={async () => {
                  if (await act.run(() => rolesApi.remove(api, r.id))) onDeleted();
                }}
              >
                {a('delete')}
              </button>
            </>
          )}
        </td>
      </tr>
      {act.problem && (
        <tr>
          <td colSpan={5}>
            <ProblemLine problem={act.problem} testId="role-error" />
          </td>
        </tr>
      )}
      {open && (
        <tr className="admin-editor-row">
          <td colSpan={5}>
            <ul className="permission-list" data-testid="role-permissions">
              {r.permissions.map((p) => (
                <li key={p} data-permission={p}>
                  <code>{p}</code> {label(p)}
                </li>
              ))}
            </ul>
          </td>
        </tr>
      )}
    </>
  );
}

const SCOPES = ['asset', 'tenant'] as const;

function RoleForm({ api, role, permissions, onDone }: { api: ApiClient; role: Role | undefined; permissions: readonly PermissionInfo[]; onDone: (changed: boolean) => void }) {
  const a = useAdminText();
  const { lang } = useI18n();
  const act = useAction();
  const [id, setId] = useState(role?.id ?? '');
  const [name, setName] = useState(role?.name ?? '');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(() => new Set(role?.permissions ?? []));
  const toggle = (p: string) => {
    const next = new Set(chosen);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    setChosen(next);
  };
  async function submit(e: FormEvent) {
    e.preventDefault();
    // In catalogue order, so the stored role reads the same way the form does.
    const list = permissions.map((p) => p.id).filter((p) => chosen.has(p));
    const ok = await act.run(() => (role ? rolesApi.update(api, role.id, { name: name.trim(), permissions: list }) : rolesApi.create(api, { id: id.trim(), name: name.trim(), permissions: list })));
    if (ok) onDone(true);
  }
  return (
    <form className="panel admin-form" onSubmit={submit} data-testid="role-form">
      <h3>{role ? a('roles.editTitle', { id: role.id }) : a('roles.new')}</h3>
      <div className="admin-fields">
        <Field label={a('col.id')}>
          <input data-testid="role-id" value={id} required disabled={role !== undefined} onChange={(e) => setId(e.target.value)} />
        </Field>
        <Field label={a('col.name')}>
          <input data-testid="role-name" value={name} required onChange={(e) => setName(e.target.value)} />
        </Field>
      </div>
      {SCOPES.map((scope) => (
        <fieldset key={scope} className="permission-group">
          <legend>{a(scope === 'asset' ? 'roles.scope.asset' : 'roles.scope.tenant')}</legend>
          {permissions
            .filter((p) => p.scope === scope)
            .map((p) => (
              <label key={p.id} className="check">
                <input type="checkbox" data-testid="role-permission" data-permission={p.id} checked={chosen.has(p.id)} onChange={() => toggle(p.id)} />
                <code>{p.id}</code> {lang === 'zh' ? p.zh : p.en}
              </label>
            ))}
        </fieldset>
      ))}
      <SubmitRow busy={act.busy} label={a('save')} testId="role-save">
        <button type="button" disabled={act.busy} onClick={() => onDone(false)}>
          {a('cancel')}
        </button>
      </SubmitRow>
      <ProblemLine problem={act.problem} testId="role-form-error" />
    </form>
  );
}
