/**
 * How an identity proved by an OpenID Connect provider becomes an iip user (issue 12; docs/reference/oidc-sign-in.md):
 * the claims name the user, its tenant and its roles, and the user's stored password hash is replaced by a marker
 * that binds it to the provider's issuer and subject. The marker is no scrypt hash, so no password ever matches it
 * (verifyPassword refuses anything that is not `scrypt$…`), and it tells an OIDC user from a local one without a
 * column of its own — like `!` in /etc/shadow. The protocol itself (PKCE, state, ID token) lives in the server.
 */
import { createHash } from 'node:crypto';
import { IipError, isValidId } from '@iip/core';

/** Which claims carry the tenant and the roles (dotted paths reach nested claims, e.g. `realm_access.roles`). */
export interface OidcClaimMapping {
  readonly tenantClaim: string;
  readonly rolesClaim: string;
}

export const DEFAULT_OIDC_CLAIMS: OidcClaimMapping = { tenantClaim: 'iip_tenant', rolesClaim: 'iip_roles' };

/** Who the provider says signed in, in iip's terms. */
export interface OidcIdentity {
  /** The provider's stable id of the person (`sub`). */
  readonly subject: string;
  readonly username: string;
  readonly tenant: string;
  /** Role ids of the tenant, without duplicates (may be empty: a user with no claimed role). */
  readonly roles: readonly string[];
}

/** Same rule as UserService.createUser. */
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
/** Users named after `sub` carry this prefix, so they do not take the name a local user would choose. */
export const OIDC_USERNAME_PREFIX = 'oidc-';
const MARKER = '!oidc ';

/** A claim by name, or else by dotted path into nested objects. */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let v: unknown = claims;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/**
 * The user name: `preferred_username` when it is a valid iip user name; otherwise `oidc-<sub>` (or, when `sub`
 * has characters a user name may not hold or is too long, `oidc-` and 32 hex digits of its SHA-256).
 */
export function oidcUsername(claims: Readonly<Record<string, unknown>>): string {
  const preferred = claims.preferred_username;
  if (typeof preferred === 'string' && USERNAME.test(preferred)) return preferred;
  const sub = String(claims.sub);
  const plain = OIDC_USERNAME_PREFIX + sub;
  return USERNAME.test(plain) ? plain : OIDC_USERNAME_PREFIX + createHash('sha256').update(sub).digest('hex').slice(0, 32);
}

function claimsError(claim: string, message: string): IipError {
  return new IipError('IIP_ERR_AUTH_OIDC_CLAIMS', message, { claim });
}

/**
 * Maps validated ID token (and userinfo) claims to an identity. The tenant claim must be one tenant id (a string,
 * or a list of exactly one); the roles claim a list of role ids, or one string of ids separated by spaces or
 * commas; absent means no role. Throws IIP_ERR_AUTH_OIDC_CLAIMS naming the claim otherwise. Whether the tenant and
 * the roles exist is the caller's to check.
 */
export function mapOidcClaims(claims: Readonly<Record<string, unknown>>, mapping: OidcClaimMapping = DEFAULT_OIDC_CLAIMS): OidcIdentity {
  if (typeof claims.sub !== 'string' || claims.sub === '') throw claimsError('sub', 'the identity has no subject (sub)');
  let tenant = claimAt(claims, mapping.tenantClaim);
  if (Array.isArray(tenant) && tenant.length === 1) tenant = tenant[0];
  if (tenant === undefined || tenant === null || tenant === '') {
    throw claimsError(mapping.tenantClaim, `the identity has no "${mapping.tenantClaim}" claim naming its tenant`);
  }
  if (!isValidId(tenant)) throw claimsError(mapping.tenantClaim, `the "${mapping.tenantClaim}" claim must be one tenant id, not ${JSON.stringify(tenant).slice(0, 100)}`);
  const raw = claimAt(claims, mapping.rolesClaim);
  let roles: unknown[];
  if (raw === undefined || raw === null) roles = [];
  else if (typeof raw === 'string') roles = raw.split(/[\s,]+/).filter((r) => r !== '');
  else if (Array.isArray(raw)) roles = raw;
  else throw claimsError(mapping.rolesClaim, `the "${mapping.rolesClaim}" claim must be a list of role ids`);
  for (const r of roles) {
    if (typeof r !== 'string' || !isValidId(r)) throw claimsError(mapping.rolesClaim, `the "${mapping.rolesClaim}" claim holds ${JSON.stringify(r).slice(0, 100)}, which is not a role id`);
  }
  return { subject: claims.sub, username: oidcUsername(claims), tenant, roles: [...new Set(roles as string[])] };
}

/** The stored "password hash" of a user created by sign-in through `issuer`'s subject `subject`. */
export function oidcPasswordMarker(issuer: string, subject: string): string {
  return `${MARKER}${JSON.stringify([issuer, subject])}`;
}

/** The provider identity a stored password hash binds the user to, or undefined for a local (password) user. */
export function oidcBindingOf(passwordHash: string): { issuer: string; subject: string } | undefined {
  if (!passwordHash.startsWith(MARKER)) return undefined;
  try {
    const v: unknown = JSON.parse(passwordHash.slice(MARKER.length));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { issuer: v[0], subject: v[1] };
  } catch {
    // not a marker this code wrote
  }
  return undefined;
}
