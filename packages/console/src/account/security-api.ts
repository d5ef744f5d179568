/**
 * The sign-in security calls of /api/v1 the console uses: the second factor (TOTP) of the signed-in user, its
 * password and sessions, API tokens (one's own, or any user's with users:manage), service accounts, and the
 * OpenID Connect sign-in's public config and code exchange. Thin: every rule is the platform's. The few pure
 * helpers (secret grouping, the OIDC return query, token expiry) are here so a unit test can pin them.
 */
import type { ApiClient } from '../api-client';
import type { LoginResponse, SecurityState } from '../api-types';

export interface TotpSetup {
  /** Base32, for typing into an authenticator app. */
  readonly secret: string;
  /** otpauth://totp/… for an app that reads it (or a QR code made of it). */
  readonly otpauthUrl: string;
}

export interface ApiTokenInfo {
  readonly id: string;
  readonly name: string;
  /** Permission ids, or ["*"] for everything the user holds. */
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** The reply to creating a token: the only time its text is seen. */
export interface NewApiToken extends ApiTokenInfo {
  readonly token: string;
}

/** What the platform allows for a token's lifetime (MAX_API_TOKEN_DAYS on the server). */
export const TOKEN_DAYS_MIN = 1;
export const TOKEN_DAYS_MAX = 366;

const id = encodeURIComponent;

export const accountApi = {
  me: (api: ApiClient) => api.call<{ id: string; username: string; tenant: string; homeTenant: string; security?: SecurityState }>('GET', '/auth/me'),
  totpSetup: (api: ApiClient) => api.call<TotpSetup>('POST', '/auth/totp/setup'),
  totpEnable: (api: ApiClient, code: string) => api.call<void>('POST', '/auth/totp/enable', { code }),
  totpDisable: (api: ApiClient, password: string) => api.call<void>('POST', '/auth/totp/disable', { password }),
  changePassword: (api: ApiClient, currentPassword: string, newPassword: string) => api.call<void>('POST', '/auth/password', { currentPassword, newPassword }),
  logoutAll: (api: ApiClient) => api.call<{ ended: number }>('POST', '/auth/logout-all'),
};

export const tokensApi = {
  list: async (api: ApiClient, user: string) => (await api.call<{ items: ApiTokenInfo[] }>('GET', `/users/${id(user)}/api-tokens`)).items,
  create: (api: ApiClient, user: string, body: { name: string; scopes: readonly string[]; expiresInDays: number }) => api.call<NewApiToken>('POST', `/users/${id(user)}/api-tokens`, body),
  revoke: (api: ApiClient, user: string, token: string) => api.call<void>('DELETE', `/users/${id(user)}/api-tokens/${id(token)}`),
};

export const oidcApi = {
  config: (api: ApiClient) => api.call<{ enabled: boolean; label?: string }>('GET', '/auth/oidc/config'),
  /** Same origin, so the HttpOnly `iip_oidc` cookie that binds the sign-in to this browser goes along. */
  exchange: (api: ApiClient, code: string) => api.call<LoginResponse>('POST', '/auth/oidc/exchange', { code }),
};

/** Where the OIDC button sends the browser (a navigation, not a fetch: the provider's pages follow). */
export const OIDC_START_PATH = '/api/v1/auth/oidc/start';

/** "JBSWY3DPEHPK3PXP" → "JBSW Y3DP EHPK 3PXP": easier to type into an app and to compare by eye. */
export function groupSecret(secret: string): string {
  return (secret.replace(/\s+/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

/** A code as typed ("123 456", "123-456") reduced to its digits; the platform judges it. */
export function cleanCode(text: string): string {
  return text.replace(/[\s-]/g, '');
}

export type OidcReturn = { readonly kind: 'code'; readonly code: string } | { readonly kind: 'error'; readonly code: string } | { readonly kind: 'none' };

/** What the platform's OIDC callback put into the console's address: `?oidc=<one-time code>` or `?oidc_error=<IIP_ERR_…>`. */
export function parseOidcReturn(search: string): OidcReturn {
  const q = new URLSearchParams(search);
  const error = q.get('oidc_error');
  if (error) return { kind: 'error', code: /^IIP_ERR_[A-Z0-9_]+$/.test(error) ? error : 'IIP_ERR_AUTH_OIDC_DENIED' };
  const code = q.get('oidc');
  return code ? { kind: 'code', code } : { kind: 'none' };
}

/** The address without the OIDC parameters (for history.replaceState: the code is good once, and not for bookmarks). */
export function withoutOidcParams(href: string): string {
  const u = new URL(href);
  u.searchParams.delete('oidc');
  u.searchParams.delete('oidc_error');
  return `${u.pathname}${u.search}${u.hash}`;
}

/** Days left before `expiresAt`, a started day counted whole (a new 90-day token has 90; 0 once expired). */
export function daysLeft(expiresAt: number, now: number): number {
  return Math.max(0, Math.ceil((expiresAt - now) / 86_400_000));
}

/** A lifetime field: a whole number of days the platform accepts, or undefined. */
export function parseTokenDays(text: string): number | undefined {
  const n = Number(text.trim());
  return Number.isInteger(n) && n >= TOKEN_DAYS_MIN && n <= TOKEN_DAYS_MAX ? n : undefined;
}

/** The session may only set up its second factor (the tenant requires one of administrators). */
export function mustEnroll(s: SecurityState | undefined): boolean {
  return !!s && s.totpRequired && !s.totpEnabled;
}
