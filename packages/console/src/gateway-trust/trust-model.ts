/**
 * A gateway channel's certificate-trust problem and outage history, read from the state document the gateway
 * sent (any firmware version, possibly half-written: a wrong or missing field becomes `undefined`, never a
 * broken page), and what the trust panel and the outage table compute from them. Pure (no DOM), unit-tested.
 */
import type { Lang } from '../i18n-dictionary';

export interface CertificateView {
  readonly thumbprint: string;
  readonly subject: string;
  readonly issuer: string | undefined;
  readonly notBefore: string | undefined;
  readonly notAfter: string | undefined;
  readonly applicationUri: string | undefined;
  readonly pem: string | undefined;
}

/** 'server-untrusted': the gateway refused the server's certificate; 'client-untrusted': the server refused ours. */
export interface TrustView {
  readonly kind: 'server-untrusted' | 'client-untrusted';
  readonly certificate: CertificateView;
  readonly fix: string | undefined;
  readonly since: number | undefined;
}

export interface OutageView {
  readonly start: number;
  /** `undefined`: still going on. */
  readonly end: number | undefined;
  readonly code: string | undefined;
  readonly message: string | undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The channel's trust problem, or undefined when there is none (or it is unreadable: no thumbprint, no kind). */
export function readTrust(v: unknown): TrustView | undefined {
  const t = obj(v);
  if (t.kind !== 'server-untrusted' && t.kind !== 'client-untrusted') return undefined;
  const c = obj(t.certificate);
  const thumbprint = str(c.thumbprint);
  if (!thumbprint) return undefined;
  return {
    kind: t.kind,
    certificate: {
      thumbprint,
      subject: str(c.subject) ?? '',
      issuer: str(c.issuer),
      notBefore: str(c.notBefore),
      notAfter: str(c.notAfter),
      applicationUri: str(c.applicationUri),
      pem: str(c.pem),
    },
    fix: str(t.fix),
    since: num(t.since),
  };
}

/**
 * The outages a channel reports, newest first (the gateway sends them oldest first); unreadable entries left out.
 * `undefined` when the channel reports no history at all (a driver that keeps none, an older gateway).
 */
export function readOutages(v: unknown): OutageView[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: OutageView[] = [];
  for (const x of v) {
    const o = obj(x);
    const start = num(o.start);
    if (start === undefined) continue;
    out.push({ start, end: num(o.end), code: str(o.code), message: str(o.message) });
  }
  return out.sort((a, b) => b.start - a.start);
}

/** How long an outage lasted, or has lasted until `now` while it goes on. */
export function outageDurationMs(o: OutageView, now: number): number {
  return Math.max(0, (o.end ?? now) - o.start);
}

/** A duration in its two largest units: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h" (中文: "2 小时 5 分"). */
export function formatDuration(ms: number, lang: Lang): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const units: Array<[number, string, string]> = [
    [86_400, 'd', '天'],
    [3600, 'h', '小时'],
    [60, 'min', '分'],
    [1, 's', '秒'],
  ];
  const name = (u: [number, string, string]) => (lang === 'zh' ? u[2] : u[1]);
  const i = units.findIndex(([size]) => s >= size);
  if (i === -1) return `0 ${name(units[3]!)}`;
  const big = units[i]!;
  const n = Math.floor(s / big[0]);
  const parts = [`${n} ${name(big)}`];
  const next = units[i + 1];
  const m = next ? Math.floor((s - n * big[0]) / next[0]) : 0;
  if (next && m > 0) parts.push(`${m} ${name(next)}`);
  return parts.join(' ');
}

/** A certificate's validity as the operator must judge it: not yet valid, valid, or expired at `now`. */
export function validityState(c: CertificateView, now: number): 'valid' | 'expired' | 'notYetValid' | 'unknown' {
  const from = c.notBefore ? Date.parse(c.notBefore) : Number.NaN;
  const to = c.notAfter ? Date.parse(c.notAfter) : Number.NaN;
  if (Number.isNaN(from) || Number.isNaN(to)) return 'unknown';
  if (now < from) return 'notYetValid';
  if (now > to) return 'expired';
  return 'valid';
}

/** A thumbprint in pairs, as OPC UA tools and servers show it: "A1:B2:…". */
export function thumbprintPairs(thumbprint: string): string {
  return thumbprint.match(/.{1,2}/g)?.join(':') ?? thumbprint;
}

/**
 * The codes to show for a failed trust request: the platform's, and the gateway's own beneath it when the
 * platform passed one on (IIP_ERR_COMMAND_FAILED with details.error.code, e.g. IIP_ERR_OPCUA_TRUST_MISMATCH).
 */
export function refusalCodes(code: string, details: unknown): string[] {
  const inner = str(obj(obj(details).error).code);
  return inner && inner !== code ? [code, inner] : [code];
}

/** The file name a downloaded certificate gets: the thumbprint's start keeps two certificates apart. */
export function pemFileName(kind: TrustView['kind'], thumbprint: string): string {
  return `${kind === 'client-untrusted' ? 'iip-client' : 'opcua-server'}-${thumbprint.slice(0, 8).toLowerCase()}.pem`;
}
