/** Sign-in form. Errors show the platform's stable code beside the text, so a support ticket can quote it. */
import { type FormEvent, useState } from 'react';
import { ApiClient, ApiError, NETWORK_ERROR } from '../api-client';
import { LangSwitch } from '../components/lang-switch';
import { errorKey } from '../i18n-dictionary';
import { useI18n } from '../i18n-context';
import { type Session, saveSession } from '../session-store';

export function LoginPage({ onSignedIn, expired }: { onSignedIn: (s: Session) => void; expired: boolean }) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | undefined>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await new ApiClient().login(username, password);
      onSignedIn(saveSession(r));
    } catch (err) {
      const code = err instanceof ApiError ? err.code : NETWORK_ERROR;
      const raw = err instanceof Error ? err.message : String(err);
      const key = errorKey(code);
      const message = key ? t(key) : code === NETWORK_ERROR ? t('error.network', { message: raw }) : raw;
      setError({ code, message });
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit}>
        <div className="login-head">
          <div>
            <h1>{t('app.title')}</h1>
            <p className="muted">{t('app.subtitle')}</p>
          </div>
          <LangSwitch />
        </div>
        {expired && !error && <p className="notice">{t('login.sessionExpired')}</p>}
        <label>
          {t('login.username')}
          <input
            data-testid="login-username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          {t('login.password')}
          <input
            data-testid="login-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="login-error">
            <code>{error.code}</code> {error.message}
          </p>
        )}
        <button type="submit" className="primary" data-testid="login-submit" disabled={busy}>
          {busy ? t('login.submitting') : t('login.submit')}
        </button>
      </form>
    </main>
  );
}
