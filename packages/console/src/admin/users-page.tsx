/**
 * 用户 / Users of the acting tenant: their kind (person or service account), state (disabled, locked), second
 * factor, and grants (a role on the whole tenant or on an asset subtree); with users:manage, create users and
 * service accounts, grant and revoke roles, disable and enable, set or generate a new password (a generated one
 * is shown once, here), reset a lost second factor, and manage each user's API tokens (a new one shown once).
 */
import { type FormEvent, useCallback, useId, useState } from 'react';
import type { ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { useI18n } from '../i18n-context';
import { usePoll } from '../use-poll';
import { formatTimestamp } from '../value-format';
import { SecProblem, TokenPanel, useSecText } from '../account/security-ui';
import { hasAnywhere, hasTenantWide, heldPermissions } from './admin-access';
import { type AdminUser, type Asset, type Grant, type Role, assetsApi, rolesApi, usersApi } from './admin-api';
import { Field, ProblemLine, StatusLine, SubmitRow, useAction, useAdminText, useChange } from './admin-ui';
import { assetName, buildTree, flatten } from './asset-tree';
import { roleName } from './roles-page';

interface Lookups {
  readonly roles: readonly Role[];
  readonly assets: readonly Asset[];
}

export function UsersPage({ api, access, selfId }: { api: ApiClient; access: AccessSummary | undefined; selfId: string }) {
  const a = useAdminText();
  const s = useSecText();
  const load = useCallback(async () => {
    const [users, roles, assets] = await Promise.all([
      usersApi.list(api),
      rolesApi.list(api),
      hasAnywhere(access, 'assets:read') ? assetsApi.list(api) : Promise.resolve([] as Asset[]),
    ]);
    return { users, roles, assets };
  }, [api, access]);
  const poll = usePoll(load, 30_000);
  const canManage = hasTenantWide(access, 'users:manage');
  const [open, setOpen] = useState<string | undefined>();
  const lookups: Lookups = { roles: poll.data?.roles ?? [], assets: poll.data?.assets ?? [] };

  return (
    <main className="page admin-page">
      <div className="page-head">
        <h2>{a('users.title')}</h2>
        <span className="muted small">{a('users.hint')}</span>
      </div>
      <ProblemLine problem={poll.error} />
      {canManage && poll.data && <CreateAccount kind="person" api={api} lookups={lookups} onCreated={poll.reload} />}
      {canManage && poll.data && <CreateAccount kind="service" api={api} lookups={lookups} onCreated={poll.reload} />}
      <table className="grid" data-testid="user-table">
        <thead>
          <tr>
            <th>{a('users.username')}</th>
            <th>{s('users.kind')}</th>
            <th>{a('users.state')}</th>
            <th>{s('users.totp')}</th>
            <th>{a('users.grants')}</th>
            <th>{a('col.created')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(poll.data?.users ?? []).map((u) => (
            <UserRow
              key={u.id}
              api={api}
              user={u}
              self={u.id === selfId}
              lookups={lookups}
              canManage={canManage}
              open={open === u.id}
              onToggle={() => setOpen(open === u.id ? undefined : u.id)}
              onChanged={poll.reload}
            />
          ))}
        </tbody>
      </table>
    </main>
  );
}

/** "Operator on Hall 2" / "Operator, whole tenant". */
function useGrantText(lookups: Lookups): (g: Pick<Grant, 'role' | 'asset'>) => string {
  const a = useAdminText();
  const { lang } = useI18n();
  return (g) => {
    const role = lookups.roles.find((r) => r.id === g.role);
    const rn = role ? roleName(role, lang) : g.role;
    if (g.asset === null) return a('users.grantTenant', { role: rn });
    const asset = lookups.assets.find((x) => x.id === g.asset);
    return a('users.grantAsset', { role: rn, asset: asset ? assetName(asset, lang) : g.asset });
  };
}

function ScopeSelect({ id, assets, value, onChange, testId }: { id: string; assets: readonly Asset[]; value: string; onChange: (v: string) => void; testId: string }) {
  const a = useAdminText();
  const { lang } = useI18n();
  return (
    <select id={id} data-testid={testId} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">{a('users.wholeTenant')}</option>
      {flatten(buildTree(assets)).map((n) => (
        <option key={n.asset.id} value={n.asset.id}>
          {'\u2003'.repeat(n.depth)}
          {assetName(n.asset, lang)} ({n.asset.id})
        </option>
      ))}
    </select>
  );
}

function RoleSelect({
  id,
  roles,
  value,
  onChange,
  testId,
  allowNone,
}: { id: string; roles: readonly Role[]; value: string; onChange: (v: string) => void; testId: string; allowNone?: boolean }) {
  const a = useAdminText();
  const { lang } = useI18n();
  return (
    <select id={id} data-testid={testId} value={value} onChange={(e) => onChange(e.target.value)}>
      {allowNone && <option value="">{a('users.noRole')}</option>}
      {roles.map((r) => (
        <option key={r.id} value={r.id}>
          {roleName(r, lang)} ({r.id})
        </option>
      ))}
    </select>
  );
}

/**
 * The "new user" form (username, password, an optional first grant) and the "new service account" form (the same
 * without a password: a service account signs in with API tokens only). Their test ids start with `user-` and
 * `service-`.
 */
function CreateAccount({ kind, api, lookups, onCreated }: { kind: 'person' | 'service'; api: ApiClient; lookups: Lookups; onCreated: () => void }) {
  const a = useAdminText();
  const s = useSecText();
  const act = useAction();
  const ids = useId();
  const person = kind === 'person';
  const tid = person ? 'user' : 'service';
  const empty = { username: '', password: '', role: '', asset: '' };
  const [f, setF] = useState(empty);
  const [done, setDone] = useState<string | undefined>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(undefined);
    const username = f.username.trim();
    const grants = f.role ? [{ role: f.role, asset: f.asset === '' ? null : f.asset }] : [];
    const create = () => (person ? usersApi.create(api, { username, password: f.password, grants }) : usersApi.createService(api, { username, grants }));
    if (await act.run(create)) {
      setDone(username);
      setF(empty);
      onCreated();
    }
  }
  return (
    <form className="panel admin-form" onSubmit={submit} data-testid={`${tid}-create`}>
      <h3>{person ? a('users.create') : s('users.createService')}</h3>
      <div className="admin-fields">
        <Field label={a('users.username')}>
          <input data-testid={`${tid}-username`} value={f.username} required autoComplete="off" onChange={(e) => setF({ ...f, username: e.target.value })} />
        </Field>
        {person && (
          <Field label={a('users.password')}>
            <input data-testid="user-password" type="password" autoComplete="new-password" value={f.password} required onChange={(e) => setF({ ...f, password: e.target.value })} />
          </Field>
        )}
        <Field label={a('users.role')} htmlFor={`${ids}-role`}>
          <RoleSelect id={`${ids}-role`} roles={lookups.roles} value={f.role} onChange={(role) => setF({ ...f, role })} testId={`${tid}-role`} allowNone />
        </Field>
        <Field label={a('users.scope')} htmlFor={`${ids}-scope`}>
          <ScopeSelect id={`${ids}-scope`} assets={lookups.assets} value={f.asset} onChange={(asset) => setF({ ...f, asset })} testId={`${tid}-scope`} />
        </Field>
      </div>
      <p className="muted small">{person ? `${a('password.rules')} ${a('users.noRoleHint')}` : s('users.serviceHint')}</p>
      <SubmitRow
        busy={act.busy}
        label={person ? a('users.createSubmit') : s('users.serviceSubmit')}
        testId={`${tid}-create-submit`}
        done={done && (person ? a('users.created', { username: done }) : s('users.serviceCreated', { username: done }))}
        doneTestId={`${tid}-created`}
      />
      {/* Each form keeps the refusal line it had; the security one also knows the sign-in security codes. */}
      {person ? <ProblemLine problem={act.problem} testId="user-create-error" /> : <SecProblem problem={act.problem} testId="service-create-error" />}
    </form>
  );
}

interface RowProps {
  readonly api: ApiClient;
  readonly user: AdminUser;
  readonly self: boolean;
  readonly lookups: Lookups;
  readonly canManage: boolean;
  readonly open: boolean;
  onToggle(): void;
  onChanged(): void;
}

function UserRow({ api, user: u, self, lookups, canManage, open, onToggle, onChanged }: RowProps) {
  const a = useAdminText();
  const s = useSecText();
  const kind = u.kind ?? 'person';
  const grantText = useGrantText(lookups);
  const locked = u.lockedUntil !== null && u.lockedUntil > Date.now();
  return (
    <>
      <tr data-testid="user-row" data-user={u.username} data-disabled={String(u.disabled)} data-kind={kind} data-totp={u.totpEnabled ? 'on' : 'off'}>
        <td>
          {u.username}
          {self && <span className="muted small"> · {a('users.you')}</span>}
        </td>
        <td>
          <span className={`badge badge-${kind}`} data-testid="user-kind">
            {kind === 'service' ? s('users.service') : s('users.person')}
          </span>
        </td>
        <td>
          {u.disabled ? (
            <span className="badge badge-bad">{a('users.disabled')}</span>
          ) : locked ? (
            <span className="badge badge-warn" title={formatTimestamp(u.lockedUntil ?? 0)}>
              {a('users.locked')}
            </span>
          ) : (
            <span className="badge badge-ok">{a('users.enabled')}</span>
          )}
        </td>
        <td data-testid="user-totp">{kind === 'service' ? <span className="muted small">—</span> : u.totpEnabled ? <span className="badge badge-ok">{s('users.totpOn')}</span> : <span className="muted small">{s('users.totpOff')}</span>}</td>
        <td data-testid="user-grants">
          {u.grants.length === 0 ? (
            <span className="muted small">{a('users.noGrants')}</span>
          ) : (
            u.grants.map((g) => (
              <span key={g.id} className="grant-chip" data-testid="grant" data-role={g.role} data-asset={g.asset ?? ''}>
                {grantText(g)}
              </span>
            ))
          )}
        </td>
        <td className="nowrap small">{formatTimestamp(u.createdAt)}</td>
        <td className="nowrap admin-row-actions">
          {canManage && (
            <button type="button" className="link-button" data-testid="user-edit" onClick={onToggle}>
              {open ? a('close') : a('manage')}
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr className="admin-editor-row">
          <td colSpan={7}>
            <UserEditor api={api} user={u} self={self} lookups={lookups} onChanged={onChanged} />
          </td>
        </tr>
      )}
    </>
  );
}

function UserEditor({ api, user: u, self, lookups, onChanged }: { api: ApiClient; user: AdminUser; self: boolean; lookups: Lookups; onChanged: () => void }) {
  const a = useAdminText();
  const s = useSecText();
  const service = u.kind === 'service';
  const grantText = useGrantText(lookups);
  const act = useChange(onChanged);
  const ids = useId();
  const [role, setRole] = useState(lookups.roles[0]?.id ?? '');
  const [asset, setAsset] = useState('');
  const [password, setPassword] = useState('');
  const [generated, setGenerated] = useState<string | undefined>();

  const run = (fn: () => Promise<unknown>, text: string) => {
    setGenerated(undefined);
    return act.run(fn, text);
  };

  return (
    <div className="admin-editor" data-testid="user-editor" data-user={u.username}>
      <div>
        <strong>{a('users.grants')}</strong>
        <ul className="grant-list">
          {u.grants.map((g) => (
            <li key={g.id} data-testid="grant-item" data-role={g.role} data-asset={g.asset ?? ''}>
              {grantText(g)}{' '}
              <button type="button" className="link-button danger" data-testid="grant-revoke" disabled={act.busy} onClick={() => void run(() => usersApi.revoke(api, u.id, g.id), a('users.revoked'))}>
                {a('users.revoke')}
              </button>
            </li>
          ))}
        </ul>
      </div>
      <form
        className="admin-inline"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => usersApi.grant(api, u.id, { role, asset: asset === '' ? null : asset }), a('users.granted'));
        }}
      >
        <label htmlFor={`${ids}-role`}>
          {a('users.role')} <RoleSelect id={`${ids}-role`} roles={lookups.roles} value={role} onChange={setRole} testId="grant-role" />
        </label>
        <label htmlFor={`${ids}-scope`}>
          {a('users.scope')} <ScopeSelect id={`${ids}-scope`} assets={lookups.assets} value={asset} onChange={setAsset} testId="grant-scope" />
        </label>
        <button type="submit" disabled={act.busy || role === ''} data-testid="grant-submit">
          {a('users.grant')}
        </button>
      </form>
      <div className="admin-inline">
        {u.disabled ? (
          <button type="button" disabled={act.busy} data-testid="user-enable" onClick={() => void run(() => usersApi.setDisabled(api, u.id, false), a('users.enabledNow'))}>
            {a('users.enable')}
          </button>
        ) : (
          <button type="button" className="danger" disabled={act.busy || self} data-testid="user-disable" onClick={() => void run(() => usersApi.setDisabled(api, u.id, true), a('users.disabledNow'))}>
            {a('users.disable')}
          </button>
        )}
        <span className="muted small">{a('users.disableHint')}</span>
      </div>
      {!service && (
        <div className="admin-inline">
          <button type="button" disabled={act.busy || !u.totpEnabled} data-testid="user-reset-totp" onClick={() => void run(() => usersApi.resetTotp(api, u.id), s('users.totpReset'))}>
            {s('users.resetTotp')}
          </button>
          <span className="muted small">{s('users.resetTotpHint')}</span>
        </div>
      )}
      {!service && (
      <form
        className="admin-inline"
        onSubmit={async (e) => {
          e.preventDefault();
          let answer: { password?: string } = {};
          const ok = await run(async () => {
            answer = await usersApi.resetPassword(api, u.id, password === '' ? undefined : password);
          }, a('users.passwordSet'));
          if (ok) {
            setPassword('');
            setGenerated(answer.password);
          }
        }}
      >
        <label>
          {a('users.newPassword')}{' '}
          <input data-testid="user-new-password" type="password" autoComplete="new-password" value={password} placeholder={a('users.generatePlaceholder')} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" disabled={act.busy} data-testid="user-reset-password">
          {password === '' ? a('users.generate') : a('users.setPassword')}
        </button>
      </form>
      )}
      {generated !== undefined && (
        <p className="notice" data-testid="user-generated">
          {a('users.generated')} <code data-testid="user-generated-password">{generated}</code>
        </p>
      )}
      <StatusLine message={act.message} testId="user-message" />
      <SecProblem problem={act.problem} testId="user-error" />
      <TokenPanel api={api} userId={u.id} held={heldPermissions(u.grants, lookups.roles)} title={s('tokens.title')} />
    </div>
  );
}
