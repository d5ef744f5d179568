/**
 * Pieces the sign-in security pages share: their strings, a refusal line that knows the security codes, the
 * second-factor setup (new key → code → on), and the API-token panel used on the account page (one's own) and
 * on the users page (any user's, with users:manage).
 */
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api-client';
import { type PermissionInfo, rolesApi } from '../admin/admin-api';
import { adminErrorText } from '../admin/admin-i18n';
import { type Problem, SubmitRow, useAction } from '../admin/admin-ui';
import { useI18n } from '../i18n-context';
import { errorKey, translate } from '../i18n-dictionary';
import { formatTimestamp } from '../value-format';
import { type ApiTokenInfo, type NewApiToken, type TotpSetup, accountApi, cleanCode, daysLeft, groupSecret, parseTokenDays, tokensApi } from './security-api';
import { type SecurityKey, secErrorText, secText } from './security-i18n';

export function useSecText(): (key: SecurityKey, params?: Readonly<Record<string, string | number>>) => string {
  const { lang } = useI18n();
  return useCallback((key, params) => secText(lang, key, params), [lang]);
}

/** The friendliest text we have for a refusal's code, else the platform's message. */
export function useProblemText(): (p: Problem) => string {
  const { lang } = useI18n();
  return useCallback(
    (p: Problem) => {
      const key = errorKey(p.code);
      return secErrorText(lang, p.code) ?? adminErrorText(lang, p.code) ?? (key ? translate(lang, key) : p.message);
    },
    [lang],
  );
}

export function SecProblem({ problem, testId }: { problem: Problem | undefined; testId?: string }) {
  const text = useProblemText();
  if (!problem) return null;
  return (
    <p className="error" role="alert" data-testid={testId} data-code={problem.code}>
      <code>{problem.code}</code> {text(problem)}
    </p>
  );
}

/** Set up → show the key (grouped in 4s) and the otpauth link → the current code turns it on. */
export function TotpSetupPanel({ api, onEnabled }: { api: ApiClient; onEnabled: () => void }) {
  const s = useSecText();
  const act = useAction();
  const [setup, setSetup] = useState<TotpSetup | undefined>();
  const [code, setCode] = useState('');

  async function start() {
    let r: TotpSetup | undefined;
    if (await act.run(async () => (r = await accountApi.totpSetup(api)))) {
      setSetup(r);
      setCode('');
    }
  }
  async function enable(e: FormEvent) {
    e.preventDefault();
    if (await act.run(() => accountApi.totpEnable(api, cleanCode(code)))) {
      setSetup(undefined);
      onEnabled();
    }
  }

  return (
    <div className="totp-setup" data-testid="totp-setup">
      {!setup ? (
        <button type="button" className="primary" disabled={act.busy} onClick={() => void start()} data-testid="totp-start">
          {s('totp.start')}
        </button>
      ) : (
        <form onSubmit={enable} className="totp-steps">
          <p>{s('totp.step1')}</p>
          <dl className="facts">
            <div>
              <dt>{s('totp.secret')}</dt>
              <dd>
                <code className="totp-secret" data-testid="totp-secret">
                  {groupSecret(setup.secret)}
                </code>
              </dd>
            </div>
            <div>
              <dt>{s('totp.url')}</dt>
              <dd>
                <a href={setup.otpauthUrl} className="totp-url" data-testid="totp-url">
                  {setup.otpauthUrl}
                </a>
              </dd>
            </div>
          </dl>
          <p>{s('totp.step2')}</p>
          <div className="admin-inline">
            <label>
              {s('totp.code')}{' '}
              <input
                data-testid="totp-code"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9 \-]*"
                maxLength={9}
                size={9}
                value={code}
                required
                onChange={(e) => setCode(e.target.value)}
              />
            </label>
            <button type="submit" className="primary" disabled={act.busy} data-testid="totp-enable">
              {s('totp.enable')}
            </button>
            <button type="button" disabled={act.busy} onClick={() => void start()} data-testid="totp-new-key">
              {s('totp.newKey')}
            </button>
          </div>
        </form>
      )}
      <SecProblem problem={act.problem} testId="totp-error" />
    </div>
  );
}

/** The text of a new token, shown once with a copy button; it lives only in this component's state. */
function NewTokenNotice({ token, onDismiss }: { token: NewApiToken; onDismiss: () => void }) {
  const s = useSecText();
  const [copied, setCopied] = useState<boolean | undefined>();
  return (
    <div className="notice token-new" data-testid="token-new" role="status">
      <p>
        <strong>{s('tokens.created', { name: token.name })}</strong> {s('tokens.copyHint')}
      </p>
      <p className="admin-inline">
        <code className="token-value" data-testid="token-value">
          {token.token}
        </code>
        <button
          type="button"
          data-testid="token-copy"
          onClick={() => {
            // The clipboard API needs a secure context (https or localhost); otherwise the text is there to select.
            navigator.clipboard?.writeText(token.token).then(
              () => setCopied(true),
              () => setCopied(false),
            ) ?? setCopied(false);
          }}
        >
          {s('tokens.copy')}
        </button>
        <button type="button" data-testid="token-dismiss" onClick={onDismiss}>
          {s('tokens.dismiss')}
        </button>
        {copied === true && <span className="ok">{s('tokens.copied')}</span>}
        {copied === false && <span className="error">{s('tokens.copyFailed')}</span>}
      </p>
    </div>
  );
}

/**
 * A user's API tokens: the list (never their text), a form to create one (name, scopes from the permission
 * catalogue — only those in `held` when known —, lifetime), the new one's text once, and revoke.
 */
export function TokenPanel({ api, userId, held, title }: { api: ApiClient; userId: string; held: ReadonlySet<string> | undefined; title: string }) {
  const s = useSecText();
  const { lang } = useI18n();
  const act = useAction();
  const [tokens, setTokens] = useState<readonly ApiTokenInfo[] | undefined>();
  const [catalogue, setCatalogue] = useState<readonly PermissionInfo[]>([]);
  const [name, setName] = useState('');
  const [all, setAll] = useState(false);
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const [days, setDays] = useState('90');
  const [fresh, setFresh] = useState<NewApiToken | undefined>();
  const [message, setMessage] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | undefined>();

  const reload = useCallback(async () => {
    await act.run(async () => setTokens(await tokensApi.list(api, userId)));
  }, [act.run, api, userId]);
  useEffect(() => {
    void reload();
    rolesApi.permissions(api).then(setCatalogue, () => undefined);
  }, [reload, api]);

  const offered = held ? catalogue.filter((p) => held.has(p.id)) : catalogue;
  const label = (id: string) => {
    const p = catalogue.find((x) => x.id === id);
    return p ? (lang === 'zh' ? p.zh : p.en) : id;
  };
  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };

  async function create(e: FormEvent) {
    e.preventDefault();
    setMessage(undefined);
    setFormError(undefined);
    setFresh(undefined);
    const expiresInDays = parseTokenDays(days);
    if (expiresInDays === undefined) return setFormError(s('tokens.badDays'));
    const scopes = all ? ['*'] : offered.map((p) => p.id).filter((p) => chosen.has(p));
    if (scopes.length === 0) return setFormError(s('tokens.noScope'));
    let made: NewApiToken | undefined;
    if (await act.run(async () => (made = await tokensApi.create(api, userId, { name: name.trim(), scopes, expiresInDays })))) {
      setFresh(made);
      setName('');
      setChosen(new Set());
      setAll(false);
      await reload();
    }
  }

  async function revoke(t: ApiTokenInfo) {
    setMessage(undefined);
    if (await act.run(() => tokensApi.revoke(api, userId, t.id))) {
      if (fresh?.id === t.id) setFresh(undefined);
      setMessage(s('tokens.revoked'));
      await reload();
    }
  }

  const now = Date.now();
  return (
    <section className="token-panel" data-testid="token-panel" data-user={userId}>
      <h4>{title}</h4>
      <p className="muted small">{s('tokens.hint')}</p>
      {tokens && tokens.length === 0 && (
        <p className="muted small" data-testid="token-none">
          {s('tokens.none')}
        </p>
      )}
      {tokens && tokens.length > 0 && (
        <table className="grid" data-testid="token-table">
          <thead>
            <tr>
              <th>{s('tokens.col.name')}</th>
              <th>{s('tokens.col.scopes')}</th>
              <th>{s('tokens.col.expires')}</th>
              <th>{s('tokens.col.lastUsed')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id} data-testid="token-row" data-token={t.id} data-name={t.name}>
                <td>{t.name}</td>
                <td className="small" data-testid="token-scopes">
                  {t.scopes.includes('*') ? s('tokens.all') : t.scopes.map(label).join(', ')}
                </td>
                <td className="nowrap small">
                  {t.expiresAt <= now ? s('tokens.expired') : s('tokens.expiresIn', { date: formatTimestamp(t.expiresAt), days: daysLeft(t.expiresAt, now) })}
                </td>
                <td className="nowrap small">{t.lastUsedAt === null ? s('tokens.never') : formatTimestamp(t.lastUsedAt)}</td>
                <td className="admin-row-actions">
                  <button type="button" className="link-button danger" disabled={act.busy} data-testid="token-revoke" onClick={() => void revoke(t)}>
                    {s('tokens.revoke')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {fresh && <NewTokenNotice token={fresh} onDismiss={() => setFresh(undefined)} />}
      <form className="admin-form token-form" onSubmit={create} data-testid="token-form">
        <strong>{s('tokens.new')}</strong>
        <div className="admin-inline">
          <label>
            {s('tokens.name')} <input data-testid="token-name" value={name} required maxLength={64} autoComplete="off" onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            {s('tokens.days')} <input data-testid="token-days" inputMode="numeric" size={4} value={days} onChange={(e) => setDays(e.target.value)} />
          </label>
        </div>
        <fieldset className="permission-group">
          <legend>{s('tokens.scopes')}</legend>
          <label className="check">
            <input type="checkbox" data-testid="token-scope-all" checked={all} onChange={() => setAll(!all)} /> <strong>{s('tokens.all')}</strong>
          </label>
          {offered.map((p) => (
            <label key={p.id} className="check">
              <input type="checkbox" data-testid="token-scope" data-permission={p.id} disabled={all} checked={all || chosen.has(p.id)} onChange={() => toggle(p.id)} />
              <span>
                {lang === 'zh' ? p.zh : p.en} <code className="muted small">{p.id}</code>
              </span>
            </label>
          ))}
        </fieldset>
        <SubmitRow busy={act.busy} label={s('tokens.create')} testId="token-create" done={message} doneTestId="token-message" />
        {formError && (
          <p className="error" role="alert" data-testid="token-form-error">
            {formError}
          </p>
        )}
      </form>
      <SecProblem problem={act.problem} testId="token-error" />
    </section>
  );
}
