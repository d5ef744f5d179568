/**
 * 我的账户 / My account, for every signed-in user: change the password, sign out everywhere, turn the second
 * factor (TOTP) on or off, and the user's own API tokens. Always acts on the user's own tenant (a platform
 * administrator's tenant switch does not apply here).
 */
import { type FormEvent, useState } from 'react';
import type { ApiClient } from '../api-client';
import type { AccessSummary, SecurityState } from '../api-types';
import { Field, StatusLine, SubmitRow, useAction } from '../admin/admin-ui';
import type { Session } from '../session-store';
import { accountApi } from './security-api';
import { SecProblem, TokenPanel, TotpSetupPanel, useSecText } from './security-ui';

/** What the user holds anywhere in its own tenant: the scopes a token of its own may have. */
export function heldByAccess(access: AccessSummary | undefined): ReadonlySet<string> | undefined {
  if (!access) return undefined;
  return new Set([...access.tenantWide, ...Object.values(access.assets).flat()]);
}

export function AccountPage({
  api,
  session,
  access,
  onSecurity,
  onSignedOutEverywhere,
}: {
  api: ApiClient;
  session: Session;
  /** The access in the user's own tenant (null while acting on another one: then the whole catalogue is offered). */
  access: AccessSummary | undefined;
  onSecurity: (s: SecurityState) => void;
  onSignedOutEverywhere: () => void;
}) {
  const s = useSecText();
  const security = session.security ?? { totpEnabled: false, totpRequired: false };
  return (
    <main className="page admin-page account-page" data-testid="account-page">
      <div className="page-head">
        <h2>{s('account.title')}</h2>
        <span className="muted small" data-testid="account-who">
          {s('account.who', { username: session.user.username, tenant: session.user.tenant })}
        </span>
      </div>
      <TotpSection api={api} security={security} onSecurity={onSecurity} />
      <PasswordSection api={api} />
      <section className="panel" data-testid="account-sessions">
        <h3>{s('account.sessions')}</h3>
        <LogoutAll api={api} onDone={onSignedOutEverywhere} />
      </section>
      <section className="panel">
        <TokenPanel api={api} userId={session.user.id} held={heldByAccess(access)} title={s('account.tokens')} />
      </section>
    </main>
  );
}

function TotpSection({ api, security, onSecurity }: { api: ApiClient; security: SecurityState; onSecurity: (s: SecurityState) => void }) {
  const s = useSecText();
  const act = useAction();
  const [password, setPassword] = useState('');
  const [message, setMessage] = useState<string | undefined>();

  async function refresh(text: string) {
    // /auth/me says what holds now (the platform decides; the console only shows it).
    const me = await accountApi.me(api);
    onSecurity(me.security ?? { totpEnabled: false, totpRequired: false });
    setMessage(text);
  }
  async function disable(e: FormEvent) {
    e.preventDefault();
    setMessage(undefined);
    if (await act.run(() => accountApi.totpDisable(api, password))) {
      setPassword('');
      await refresh(s('account.totpDisabled'));
    }
  }

  return (
    <section className="panel" data-testid="account-totp" data-totp={security.totpEnabled ? 'on' : 'off'}>
      <h3>{s('account.totp')}</h3>
      <p data-testid="account-totp-state">
        {security.totpEnabled ? s('account.totpOn') : s('account.totpOff')}
        {security.totpRequired && <span className="muted small"> {s('account.totpRequired')}</span>}
      </p>
      {security.totpEnabled ? (
        <form className="admin-inline" onSubmit={disable}>
          <label>
            {s('account.current')}{' '}
            <input data-testid="totp-disable-password" type="password" autoComplete="current-password" value={password} required onChange={(e) => setPassword(e.target.value)} />
          </label>
          <button type="submit" className="danger" disabled={act.busy} data-testid="totp-disable">
            {s('account.totpDisable')}
          </button>
        </form>
      ) : (
        <TotpSetupPanel
          api={api}
          onEnabled={() => {
            setMessage(undefined);
            void act.run(() => refresh(s('account.totpEnabled')));
          }}
        />
      )}
      <StatusLine message={message} testId="account-totp-message" />
      <SecProblem problem={act.problem} testId="account-totp-error" />
    </section>
  );
}

function PasswordSection({ api }: { api: ApiClient }) {
  const s = useSecText();
  const act = useAction();
  const empty = { current: '', next: '', again: '' };
  const [f, setF] = useState(empty);
  const [message, setMessage] = useState<string | undefined>();
  const [mismatch, setMismatch] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setMessage(undefined);
    setMismatch(f.next !== f.again);
    if (f.next !== f.again) return;
    if (await act.run(() => accountApi.changePassword(api, f.current, f.next))) {
      setF(empty);
      setMessage(s('account.passwordChanged'));
    }
  }

  return (
    <form className="panel admin-form" onSubmit={submit} data-testid="account-password">
      <h3>{s('account.password')}</h3>
      <div className="admin-fields">
        <Field label={s('account.current')}>
          <input data-testid="password-current" type="password" autoComplete="current-password" value={f.current} required onChange={(e) => setF({ ...f, current: e.target.value })} />
        </Field>
        <Field label={s('account.new')}>
          <input data-testid="password-new" type="password" autoComplete="new-password" value={f.next} required onChange={(e) => setF({ ...f, next: e.target.value })} />
        </Field>
        <Field label={s('account.repeat')}>
          <input data-testid="password-again" type="password" autoComplete="new-password" value={f.again} required onChange={(e) => setF({ ...f, again: e.target.value })} />
        </Field>
      </div>
      <p className="muted small">{s('account.passwordRules')}</p>
      <SubmitRow busy={act.busy} label={s('account.password')} testId="password-submit" done={message} doneTestId="password-message" />
      {mismatch && (
        <p className="error" role="alert" data-testid="password-mismatch">
          {s('account.mismatch')}
        </p>
      )}
      <SecProblem problem={act.problem} testId="password-error" />
    </form>
  );
}

function LogoutAll({ api, onDone }: { api: ApiClient; onDone: () => void }) {
  const s = useSecText();
  const act = useAction();
  return (
    <>
      <p className="muted small">{s('account.sessionsHint')}</p>
      <div>
        <button type="button" className="danger" disabled={act.busy} data-testid="logout-all" onClick={async () => (await act.run(() => accountApi.logoutAll(api))) && onDone()}>
          {s('account.logoutAll')}
        </button>
      </div>
      <SecProblem problem={act.problem} testId="logout-all-error" />
    </>
  );
}
