/**
 * A gateway channel's certificate-trust problem on the gateway page. 'server-untrusted' (the gateway refused the
 * OPC UA server's certificate): the certificate an operator must recognise — subject, thumbprint, validity,
 * application URI —, the fix, and "Trust this server certificate" with a confirmation step, which asks the platform
 * to have the gateway trust exactly that thumbprint and says what came of it. 'client-untrusted' (the server
 * refused ours): our client certificate to copy or download for the server, and the fix. The trust request
 * itself: POST /api/v1/gateways/{id}/channels/{channel}/trust-server-certificate.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, type ApiClient, NETWORK_ERROR } from '../api-client';
import { useI18n } from '../i18n-context';
import { formatTimestamp } from '../value-format';
import { type TrustKey, trustText } from './trust-i18n';
import { type CertificateView, pemFileName, refusalCodes, thumbprintPairs, type TrustView, validityState } from './trust-model';
import './gateway-trust.css';

type Outcome =
  | { readonly kind: 'idle' }
  | { readonly kind: 'confirming' }
  | { readonly kind: 'busy' }
  | { readonly kind: 'done'; readonly subject: string; readonly thumbprint: string }
  | { readonly kind: 'failed'; readonly codes: readonly string[]; readonly message: string };

interface Props {
  readonly api: ApiClient;
  readonly gatewayId: string;
  readonly channel: string;
  readonly trust: TrustView | undefined;
  /** The user may trust certificates (gateways:write somewhere); the platform decides for this gateway. */
  readonly canTrust: boolean;
  /** Called after the platform answered a trust request (the page reloads the gateway's state). */
  readonly onTrusted: () => void;
}

/** Mounted for every channel, so the outcome of a trust stays visible after the problem has left the state. */
export function ChannelTrust({ api, gatewayId, channel, trust, canTrust, onTrusted }: Props) {
  const { lang } = useI18n();
  const tx = (key: TrustKey, params?: Readonly<Record<string, string | number>>) => trustText(lang, key, params);
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });
  const thumbprint = trust?.certificate.thumbprint;
  // Another certificate (or none) now: a confirmation given for the previous one must not carry over.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on a new thumbprint is the point
  useEffect(() => setOutcome((o) => (o.kind === 'confirming' ? { kind: 'idle' } : o)), [thumbprint]);

  async function confirmTrust(cert: CertificateView) {
    setOutcome({ kind: 'busy' });
    try {
      const r = await api.call<{ certificate: { subject?: string; thumbprint?: string } | null }>(
        'POST',
        `/gateways/${encodeURIComponent(gatewayId)}/channels/${encodeURIComponent(channel)}/trust-server-certificate`,
        { thumbprint: cert.thumbprint },
      );
      setOutcome({ kind: 'done', subject: r.certificate?.subject ?? cert.subject, thumbprint: r.certificate?.thumbprint ?? cert.thumbprint });
    } catch (e) {
      const code = e instanceof ApiError ? e.code : NETWORK_ERROR;
      setOutcome({ kind: 'failed', codes: refusalCodes(code, e instanceof ApiError ? e.details : undefined), message: e instanceof Error ? e.message : String(e) });
    }
    onTrusted();
  }

  const result =
    outcome.kind === 'done' ? (
      <p className="trust-result ok" data-testid="trust-result" data-result="ok" role="status">
        ✓ {tx('trust.done', { subject: outcome.subject })}
      </p>
    ) : outcome.kind === 'failed' ? (
      <p className="trust-result error" data-testid="trust-result" data-result="error" data-code={outcome.codes.at(-1)} role="alert">
        {tx('trust.failed')}{' '}
        {outcome.codes.map((c) => (
          <code key={c}>{c}</code>
        ))}{' '}
        <span className="small">{outcome.message}</span>
      </p>
    ) : null;

  if (!trust) return result;
  const c = trust.certificate;
  const server = trust.kind === 'server-untrusted';
  return (
    <section className="trust-panel" data-testid="trust-panel" data-kind={trust.kind} data-thumbprint={c.thumbprint} aria-label={tx(server ? 'server.title' : 'client.title')}>
      <h4>{tx(server ? 'server.title' : 'client.title')}</h4>
      <p className="small">{tx(server ? 'server.intro' : 'client.intro')}</p>
      <CertificateFacts certificate={c} since={trust.since} />
      {trust.fix && (
        <div className="trust-fix">
          <strong>{tx('fix')}</strong>
          <p className="small" data-testid="trust-fix">
            {trust.fix}
          </p>
        </div>
      )}
      {server ? (
        <div className="trust-actions">
          {!canTrust ? (
            <p className="muted small">{tx('trust.noPermission')}</p>
          ) : outcome.kind === 'confirming' ? (
            <div className="trust-confirm" data-testid="trust-confirm" role="alertdialog">
              <p>{tx('trust.confirm', { thumbprint: thumbprintPairs(c.thumbprint), channel })}</p>
              <div className="trust-actions">
                <button type="button" className="primary" data-testid="trust-confirm-yes" onClick={() => confirmTrust(c)}>
                  {tx('trust.confirmYes')}
                </button>
                <button type="button" data-testid="trust-confirm-cancel" onClick={() => setOutcome({ kind: 'idle' })}>
                  {tx('trust.cancel')}
                </button>
              </div>
            </div>
          ) : (
            <button type="button" className="primary" data-testid="trust-button" disabled={outcome.kind === 'busy'} onClick={() => setOutcome({ kind: 'confirming' })}>
              {outcome.kind === 'busy' ? tx('trust.busy') : tx('trust.button')}
            </button>
          )}
        </div>
      ) : (
        <ClientPem certificate={c} />
      )}
      {result}
    </section>
  );
}

function CertificateFacts({ certificate: c, since }: { certificate: CertificateView; since: number | undefined }) {
  const { lang } = useI18n();
  const tx = (key: TrustKey, params?: Readonly<Record<string, string | number>>) => trustText(lang, key, params);
  const validity = validityState(c, Date.now());
  return (
    <dl className="facts trust-facts">
      <div>
        <dt>{tx('cert.subject')}</dt>
        <dd data-testid="cert-subject">{c.subject || '—'}</dd>
      </div>
      <div className="wide">
        <dt>{tx('cert.thumbprint')}</dt>
        <dd className="mono" data-testid="cert-thumbprint">
          {thumbprintPairs(c.thumbprint)}
        </dd>
      </div>
      <div>
        <dt>{tx('cert.validity')}</dt>
        <dd data-testid="cert-validity" data-validity={validity}>
          {c.notBefore && c.notAfter ? tx('cert.validityRange', { from: dateOf(c.notBefore), to: dateOf(c.notAfter) }) : '—'}
          {validity === 'expired' && <span className="badge badge-bad">{tx('cert.expired')}</span>}
          {validity === 'notYetValid' && <span className="badge badge-warn">{tx('cert.notYetValid')}</span>}
        </dd>
      </div>
      <div>
        <dt>{tx('cert.applicationUri')}</dt>
        <dd className="mono" data-testid="cert-application-uri">
          {c.applicationUri ?? '—'}
        </dd>
      </div>
      {c.issuer && c.issuer !== c.subject && (
        <div>
          <dt>{tx('cert.issuer')}</dt>
          <dd>{c.issuer}</dd>
        </div>
      )}
      {since !== undefined && (
        <div>
          <dt>{tx('cert.since')}</dt>
          <dd>{formatTimestamp(since)}</dd>
        </div>
      )}
    </dl>
  );
}

/** An ISO time as the console shows times elsewhere (local), or the text as sent when it is not one. */
function dateOf(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : formatTimestamp(t);
}

/** Our client certificate, to be trusted on the server: shown, copied to the clipboard, or downloaded as a file. */
function ClientPem({ certificate: c }: { certificate: CertificateView }) {
  const { lang } = useI18n();
  const tx = (key: TrustKey) => trustText(lang, key);
  const area = useRef<HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState<'yes' | 'failed' | undefined>();
  // One object URL per certificate (the page re-renders every few seconds), released when it changes or goes.
  const href = useMemo(() => (c.pem ? URL.createObjectURL(new Blob([c.pem], { type: 'application/x-pem-file' })) : undefined), [c.pem]);
  useEffect(
    () => () => {
      if (href) URL.revokeObjectURL(href);
    },
    [href],
  );
  if (!c.pem || !href) return <p className="muted small">{tx('pem.missing')}</p>;
  const pem = c.pem;

  async function copy() {
    try {
      await navigator.clipboard.writeText(pem);
      setCopied('yes');
    } catch {
      // Without clipboard access (an insecure origin, a denied permission) the text is selected for Ctrl+C.
      area.current?.select();
      setCopied('failed');
    }
  }

  return (
    <div className="trust-pem">
      <strong>{tx('pem.title')}</strong>
      <textarea ref={area} className="mono" readOnly rows={Math.min(12, pem.split('\n').length)} value={pem} data-testid="client-pem" />
      <div className="trust-actions">
        <button type="button" data-testid="pem-copy" onClick={copy}>
          {tx('pem.copy')}
        </button>{' '}
        <a className="button" href={href} download={pemFileName('client-untrusted', c.thumbprint)} data-testid="pem-download">
          {tx('pem.download')}
        </a>{' '}
        {copied === 'yes' && <span className="ok small">✓ {tx('pem.copied')}</span>}
        {copied === 'failed' && <span className="error small">{tx('pem.copyFailed')}</span>}
      </div>
    </div>
  );
}
