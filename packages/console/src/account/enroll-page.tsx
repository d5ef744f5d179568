/**
 * 设置双重验证 / Second-factor enrollment, shown instead of the console while the session may only set up its
 * second factor (the tenant requires one of administrators, and this one has none yet). The platform refuses
 * everything else to such a session (IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED), so there is nothing else to show.
 */
import { useMemo, useState } from 'react';
import { ApiClient } from '../api-client';
import type { SecurityState } from '../api-types';
import { useAction } from '../admin/admin-ui';
import { LangSwitch } from '../components/lang-switch';
import { useI18n } from '../i18n-context';
import type { Session } from '../session-store';
import { accountApi } from './security-api';
import { SecProblem, TotpSetupPanel, useSecText } from './security-ui';

export function EnrollPage({ session, onEnrolled, onSignOut }: { session: Session; onEnrolled: (s: SecurityState) => void; onSignOut: (expired: boolean) => void }) {
  const { t } = useI18n();
  const s = useSecText();
  const api = useMemo(() => new ApiClient({ token: session.token, onUnauthorized: () => onSignOut(true) }), [session, onSignOut]);
  const [done, setDone] = useState(false);
  const act = useAction();

  async function signOut() {
    await api.logout().catch(() => undefined);
    onSignOut(false);
  }
  async function continueIn() {
    let security: SecurityState | undefined;
    if (await act.run(async () => (security = (await accountApi.me(api)).security))) onEnrolled(security ?? { totpEnabled: true, totpRequired: true });
  }

  return (
    <main className="login enroll">
      <section className="login-card enroll-card" data-testid="enroll-page">
        <div className="login-head">
          <div>
            <h1>{s('enroll.title')}</h1>
            <p className="muted">
              {t('app.title')} · {session.user.username} · {session.user.tenant}
            </p>
          </div>
          <LangSwitch />
        </div>
        <p data-testid="enroll-why">{s('enroll.why')}</p>
        {done ? (
          <>
            <p className="ok" role="status" data-testid="enroll-done">
              {s('enroll.done')}
            </p>
            <button type="button" className="primary" disabled={act.busy} data-testid="enroll-continue" onClick={() => void continueIn()}>
              {s('enroll.continue')}
            </button>
          </>
        ) : (
          <TotpSetupPanel api={api} onEnabled={() => setDone(true)} />
        )}
        <SecProblem problem={act.problem} testId="enroll-error" />
        <button type="button" className="link" data-testid="enroll-sign-out" onClick={() => void signOut()}>
          {t('nav.signOut')}
        </button>
      </section>
    </main>
  );
}
