/**
 * Sign-in form. Errors show the platform's stable code beside the text, so a support ticket can quote it. When
 * the account has a second factor, the platform answers IIP_ERR_AUTH_TOTP_REQUIRED and the form asks for the
 * authenticator app's code. With single sign-on configured, a button sends the browser to the identity provider;
 * the platform sends it back with `?oidc=<one-time code>` (traded here for a session) or `?oidc_error=<code>`.
 */
import { type FormEvent, useEffect, useState } from 'react';
import { ApiClient, ApiError, NETWORK_ERROR } from '../api-client';
import type { LoginResponse } from '../api-types';
import { OIDC_START_PATH, type OidcReturn, cleanCode, oidcApi, parseOidcReturn, withoutOidcParams } from '../account/security-api';
import { secErrorText, secText } from '../account/security-i18n';
import '../account/account.css';
import { LangSwitch } from '../components/lang-switch';
import { errorKey } from '../i18n-dictionary';
import { useI18n } from '../i18n-context';
import { type Session, saveSession } from '../session-store';

/**
 * What the OIDC callback left in the address, read once when the console loads and taken out of the address at
 * once (the code is good once; a reload or a bookmark must not carry it). Cleared when handled, so a later
 * visit to this page (after signing out) does not see it again.
 */
let oidcReturn: OidcReturn = readOidcReturn();
/** The exchange in flight, shared by a page mounted twice (React's development double effects). */
let oidcExchange: { code: string; reply: Promise<LoginResponse> } | undefined;

function readOidcReturn(): OidcReturn {
  if (typeof location === 'undefined') return { kind: 'none' };
  const r = parseOidcReturn(location.search);
  if (r.kind !== 'none') history.replaceState(history.state, '', withoutOidcParams(location.href));
  return r;
}

type Problem = { code: string; message: string };

export function LoginPage({ onSignedIn, expired }: { onSignedIn: (s: Session) => void; expired: boolean }) {
  const { t, lang } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [step, setStep] = useState<'password' | 'totp'>('password');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Problem | undefined>(() =>
    oidcReturn.kind === 'error' ? { code: oidcReturn.code, message: oidcReturn.code } : undefined,
  );
  const [sso, setSso] = useState<{ label?: string } | undefined>();
  const [finishing, setFinishing] = useState(oidcReturn.kind === 'code');

  function show(err: unknown) {
    const code = err instanceof ApiError ? err.code : NETWORK_ERROR;
    const raw = err instanceof Error ? err.message : String(err);
    setError({ code, message: code === NETWORK_ERROR ? t('error.network', { message: raw }) : raw });
  }

  // Once per mount: the OIDC return is read at load, and the callbacks only report to this mount.
  // biome-ignore lint/correctness/useExhaustiveDependencies: onSignedIn and show are the first render's, on purpose
  useEffect(() => {
    let stopped = false;
    new ApiClient().call<{ enabled: boolean; label?: string }>('GET', '/auth/oidc/config').then(
      (c) => {
        if (!stopped && c.enabled) setSso(c.label ? { label: c.label } : {});
      },
      () => undefined, // an older platform without OIDC: no button
    );
    const back = oidcReturn;
    if (back.kind === 'error') oidcReturn = { kind: 'none' };
    if (back.kind === 'code') {
      if (oidcExchange?.code !== back.code) oidcExchange = { code: back.code, reply: oidcApi.exchange(new ApiClient(), back.code) };
      oidcExchange.reply.then(
        (r) => {
          oidcReturn = { kind: 'none' };
          if (!stopped) onSignedIn(saveSession(r));
        },
        (e: unknown) => {
          oidcReturn = { kind: 'none' };
          if (stopped) return;
          setFinishing(false);
          show(e);
        },
      );
    }
    return () => {
      stopped = true;
    };
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await new ApiClient().login(username, password, step === 'totp' ? cleanCode(code) : undefined);
      onSignedIn(saveSession(r));
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'IIP_ERR_AUTH_TOTP_REQUIRED') {
        setStep('totp');
        setCode('');
        return;
      }
      show(err);
    }
  }

  function back() {
    setStep('password');
    setCode('');
    setPassword('');
    setError(undefined);
  }

  const errorText = (p: Problem) => {
    const key = errorKey(p.code);
    return key ? t(key) : (secErrorText(lang, p.code) ?? p.message);
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} data-testid="login-form" data-step={step}>
        <div className="login-head">
          <div>
            <h1>{t('app.title')}</h1>
            <p className="muted">{t('app.subtitle')}</p>
          </div>
          <LangSwitch />
        </div>
        {expired && !error && <p className="notice">{t('login.sessionExpired')}</p>}
        {finishing && (
          <p className="notice" data-testid="login-sso-finishing">
            {secText(lang, 'login.ssoFinishing')}
          </p>
        )}
        {step === 'password' ? (
          <>
            <label>
              {t('login.username')}
              <input data-testid="login-username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
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
          </>
        ) : (
          <>
            <strong data-testid="login-totp-title">{secText(lang, 'login.totpTitle')}</strong>
            <p className="muted small">{secText(lang, 'login.totpHint', { username })}</p>
            <label>
              {secText(lang, 'login.totpCode')}
              <input
                data-testid="login-totp"
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={9}
                // biome-ignore lint/a11y/noAutofocus: the one field of this step, just revealed
                autoFocus
                value={code}
                onChange={(e) => setCode(e.target.value)}
                required
              />
            </label>
          </>
        )}
        {error && (
          <p className="error" role="alert" data-testid="login-error" data-code={error.code}>
            <code>{error.code}</code> {errorText(error)}
          </p>
        )}
        <button type="submit" className="primary" data-testid="login-submit" disabled={busy || finishing}>
          {busy ? t('login.submitting') : step === 'totp' ? secText(lang, 'login.totpSubmit') : t('login.submit')}
        </button>
        {step === 'totp' && (
          <button type="button" className="link login-back" data-testid="login-back" onClick={back}>
            {secText(lang, 'login.back')}
          </button>
        )}
        {step === 'password' && sso && (
          <div className="login-sso">
            <span className="muted small">{secText(lang, 'login.or')}</span>
            <a className="button" href={OIDC_START_PATH} data-testid="login-sso">
              {sso.label ?? secText(lang, 'login.sso')}
            </a>
          </div>
        )}
      </form>
    </main>
  );
}
