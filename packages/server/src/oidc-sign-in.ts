/**
 * Sign-in through an OpenID Connect provider (issue 12, ADR 0010; docs/reference/oidc-sign-in.md): the
 * authorization code flow with PKCE (S256), state and nonce, done by openid-client, which also checks the ID
 * token's signature against the provider's JWKS, its issuer, audience, nonce and expiry. The claims then pick the
 * user, its tenant and its roles (@iip/security oidc.ts): the first sign-in creates the user, every sign-in
 * replaces the grants that came from claims (ids `oidc-…`) and leaves those an administrator made by hand.
 *
 * What a flow needs between its steps is kept in this process's memory, bounded, single use: the verifier and
 * nonce of a started sign-in (10 min) and the one-time code that hands the session to the console (60 s). Both
 * are bound to the browser by an HttpOnly cookie (routes/oidc.ts), so a callback or code carried to another
 * browser is refused (login CSRF). No storage schema holds them: with several front doors, the load balancer
 * must send a browser's sign-in requests to one process (session affinity) — see the reference page.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { IipError, type TenantId, type UserId } from '@iip/core';
import { type LoginResult, mapOidcClaims, type OidcIdentity, oidcBindingOf, oidcPasswordMarker, type UserService } from '@iip/security';
import type { AccessStore, Tenant, User, UserStore } from '@iip/storage';
import * as client from 'openid-client';
import type { AccessAdmin } from './access-admin.js';
import type { AccessControl } from './access-control.js';

/** Settings (env IIP_OIDC_*; `iip up` reads them with oidcOptionsFromEnv). */
export interface OidcOptions {
  /** The provider's issuer URL; its /.well-known/openid-configuration is read on first use. */
  readonly issuer: string;
  readonly clientId: string;
  /** Absent: a public client, protected by PKCE alone. Present: sent with HTTP Basic (RFC 6749 2.3.1). */
  readonly clientSecret?: string;
  /** Default `<the platform's HTTP URL>/api/v1/auth/oidc/callback`; set it behind a proxy. */
  readonly redirectUrl?: string;
  /** Default iip_tenant. */
  readonly tenantClaim?: string;
  /** Default iip_roles. */
  readonly rolesClaim?: string;
  /** The console's button label (default: the console's own). */
  readonly label?: string;
  /** Default `openid profile email`. */
  readonly scopes?: string;
}

/** OIDC settings from IIP_OIDC_*; undefined (OIDC off) when IIP_OIDC_ISSUER is unset or empty. */
export function oidcOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): OidcOptions | undefined {
  const v = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const issuer = v('IIP_OIDC_ISSUER');
  if (!issuer) return undefined;
  const opt = (key: keyof OidcOptions, name: string) => (v(name) === undefined ? {} : { [key]: v(name) });
  return {
    issuer,
    clientId: v('IIP_OIDC_CLIENT_ID') ?? '',
    ...opt('clientSecret', 'IIP_OIDC_CLIENT_SECRET'),
    ...opt('redirectUrl', 'IIP_OIDC_REDIRECT_URL'),
    ...opt('tenantClaim', 'IIP_OIDC_TENANT_CLAIM'),
    ...opt('rolesClaim', 'IIP_OIDC_ROLES_CLAIM'),
    ...opt('label', 'IIP_OIDC_LABEL'),
    ...opt('scopes', 'IIP_OIDC_SCOPES'),
  };
}

export const OIDC_CALLBACK_PATH = '/api/v1/auth/oidc/callback';
/** A started sign-in is kept this long (the person may take a while at the provider). */
const PENDING_TTL_MS = 10 * 60_000;
const CODE_TTL_MS = 60_000;
/** Bounds of the in-memory maps: a flood of /start cannot grow memory without limit (the oldest go first). */
const MAX_PENDING = 10_000;
const MAX_CODES = 10_000;
/** Grants made from claims carry this id prefix; every other grant of the user is left alone. */
export const OIDC_GRANT_PREFIX = 'oidc-';

interface Pending {
  readonly binding: string;
  readonly verifier: string;
  readonly nonce: string;
  readonly expiresAt: number;
}

interface IssuedCode {
  readonly binding: string;
  readonly session: LoginResult;
  readonly expiresAt: number;
}

/** What a callback learned before it succeeded or was refused, for its audit event. */
export interface OidcAttempt {
  actor: string;
  tenant?: string;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function parseUrl(field: string, value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new IipError('IIP_ERR_AUTH_OIDC_CONFIG', `${field} "${value}" is not a URL`, { field });
  }
}

/** A network failure or time-out talking to the provider (as opposed to an answer that failed validation). */
function unreachable(e: unknown): boolean {
  const name = (e as Error | undefined)?.name;
  return (e instanceof TypeError && /fetch failed/i.test(e.message)) || name === 'AbortError' || name === 'TimeoutError';
}

export class OidcSignIn {
  private readonly issuer: URL;
  private redirect: string | undefined;
  private config: Promise<client.Configuration> | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly codes = new Map<string, IssuedCode>();

  constructor(
    private readonly opts: OidcOptions,
    private readonly deps: {
      readonly users: UserService;
      readonly userStore: UserStore;
      readonly access: AccessStore;
      readonly accessControl: AccessControl;
      readonly accessAdmin: AccessAdmin;
      readonly findTenant: (id: string) => Promise<Tenant | undefined>;
      readonly now?: () => number;
    },
  ) {
    this.issuer = parseUrl('IIP_OIDC_ISSUER', opts.issuer);
    if (!opts.clientId) throw new IipError('IIP_ERR_AUTH_OIDC_CONFIG', 'IIP_OIDC_CLIENT_ID is required with IIP_OIDC_ISSUER', { field: 'IIP_OIDC_CLIENT_ID' });
    // Plain http only to a provider on this machine (development, tests); anywhere else tokens would cross the network in clear.
    if (this.issuer.protocol !== 'https:' && !(this.issuer.protocol === 'http:' && isLoopback(this.issuer.hostname))) {
      throw new IipError('IIP_ERR_AUTH_OIDC_CONFIG', `IIP_OIDC_ISSUER must be https:// (plain http only for a provider on this machine), not "${opts.issuer}"`, { field: 'IIP_OIDC_ISSUER' });
    }
    if (opts.redirectUrl !== undefined) this.redirect = parseUrl('IIP_OIDC_REDIRECT_URL', opts.redirectUrl).href;
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  get label(): string | undefined {
    return this.opts.label;
  }

  /** Called once the HTTP port is known: the default redirect URL is the platform's own. */
  listeningAt(httpUrl: string): void {
    this.redirect ??= new URL(OIDC_CALLBACK_PATH, httpUrl).href;
  }

  get redirectUrl(): string {
    if (this.redirect === undefined) throw new IipError('IIP_ERR_AUTH_OIDC_CONFIG', 'the redirect URL is not known before the platform listens', { field: 'IIP_OIDC_REDIRECT_URL' });
    return this.redirect;
  }

  /** The callback and the exchange are served over https when the redirect URL is (the cookie is then Secure). */
  get secure(): boolean {
    return this.redirectUrl.startsWith('https:');
  }

  /** Discovery, once; a failure is not kept, so the next sign-in tries again. */
  private configuration(): Promise<client.Configuration> {
    if (!this.config) {
      const insecure = this.issuer.protocol === 'http:';
      const auth = this.opts.clientSecret ? client.ClientSecretBasic(this.opts.clientSecret) : client.None();
      const execute = insecure ? [client.allowInsecureRequests, client.enableNonRepudiationChecks] : [client.enableNonRepudiationChecks];
      this.config = client.discovery(this.issuer, this.opts.clientId, this.opts.clientSecret, auth, { execute, timeout: 10 }).catch((e: unknown) => {
        this.config = undefined;
        throw new IipError('IIP_ERR_AUTH_OIDC_PROVIDER', `the OpenID Connect provider ${this.issuer.href} could not be discovered: ${(e as Error).message}`, { issuer: this.issuer.href });
      });
    }
    return this.config;
  }

  /** A new browser binding (the cookie's value). */
  static newBinding(): string {
    return randomBytes(32).toString('base64url');
  }

  /** Starts a sign-in for the browser `binding`: the provider's authorization URL to send it to. */
  async start(binding: string): Promise<URL> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const now = this.now();
    this.sweep(this.pending, now, MAX_PENDING);
    this.pending.set(state, { binding, verifier, nonce, expiresAt: now + PENDING_TTL_MS });
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUrl,
      scope: this.opts.scopes ?? 'openid profile email',
      response_type: 'code',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
  }

  /**
   * Completes a sign-in from the callback's query string: checks state and browser, exchanges the code with the
   * verifier, validates the ID token, maps the claims, creates or updates the user and opens its session.
   * `attempt` is filled in as the user and tenant become known (for the audit event of a refusal).
   */
  async finish(query: URLSearchParams, binding: string | undefined, attempt: OidcAttempt): Promise<{ identity: OidcIdentity; user: User; session: LoginResult }> {
    const state = query.get('state') ?? '';
    const pending = this.pending.get(state);
    this.pending.delete(state);
    if (!pending || pending.expiresAt <= this.now() || binding === undefined || pending.binding !== binding) {
      throw new IipError('IIP_ERR_AUTH_OIDC_STATE', 'this sign-in was not started here, was already used, was started in another browser, or expired; start it again', {});
    }
    const error = query.get('error');
    if (error !== null) {
      throw new IipError('IIP_ERR_AUTH_OIDC_DENIED', `the provider ended the sign-in: ${error}${query.get('error_description') ? ` (${query.get('error_description')})` : ''}`, {
        error,
        description: query.get('error_description') ?? '',
      });
    }
    const config = await this.configuration();
    const current = new URL(this.redirectUrl);
    current.search = query.toString();
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true });
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error('the provider returned no ID token');
      claims = { ...idClaims };
      // Some providers put only the standard claims in the ID token and the rest in userinfo.
      const tenantClaimRoot = (this.opts.tenantClaim ?? 'iip_tenant').split('.')[0] ?? '';
      if (!Object.hasOwn(claims, tenantClaimRoot) && config.serverMetadata().userinfo_endpoint) {
        const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...info, ...claims };
      }
    } catch (e) {
      if (unreachable(e)) throw new IipError('IIP_ERR_AUTH_OIDC_PROVIDER', `the OpenID Connect provider could not be reached: ${(e as Error).message}`, { issuer: this.issuer.href });
      const err = e as Error & { code?: string; error?: string };
      throw new IipError('IIP_ERR_AUTH_OIDC_TOKEN', `the provider's answer was refused: ${err.message}`, { reason: err.error ?? err.code ?? err.name });
    }
    attempt.actor = typeof claims.preferred_username === 'string' ? claims.preferred_username : String(claims.sub);
    const identity = mapOidcClaims(claims, {
      tenantClaim: this.opts.tenantClaim ?? 'iip_tenant',
      rolesClaim: this.opts.rolesClaim ?? 'iip_roles',
    });
    attempt.actor = identity.username;
    const user = await this.provision(identity, attempt);
    const session = await this.deps.users.openSession(user);
    return { identity, user, session };
  }

  /** The user of the identity, created on first sign-in, with its claim grants made to match the roles claim. */
  private async provision(identity: OidcIdentity, attempt: OidcAttempt): Promise<User> {
    const tenant = await this.deps.findTenant(identity.tenant);
    if (!tenant) throw new IipError('IIP_ERR_AUTH_OIDC_TENANT', `tenant "${identity.tenant}" named by the identity's tenant claim does not exist`, { tenant: identity.tenant });
    attempt.tenant = tenant.id;
    if (tenant.status === 'suspended') {
      throw new IipError('IIP_ERR_TENANT_SUSPENDED', `tenant "${tenant.id}" is suspended (${tenant.suspendedReason ?? 'suspended'})`, { tenant: tenant.id, reason: tenant.suspendedReason ?? 'suspended' });
    }
    // Every role first, so a refused sign-in changes nothing. A platform administrator is never made by claims.
    for (const role of identity.roles) await this.deps.accessAdmin.checkGrant(tenant.id, { role, asset: null }, false);

    const marker = oidcPasswordMarker(this.issuer.href, identity.subject);
    let user = await this.deps.userStore.getUserByName(identity.username);
    if (!user) {
      const created: User = { id: randomUUID() as UserId, tenant: tenant.id, username: identity.username, passwordHash: marker, createdAt: this.now() };
      try {
        await this.deps.userStore.createUser(created);
        user = created;
      } catch (e) {
        // Two first sign-ins at once: the other made it.
        if (!(e instanceof IipError && e.code === 'IIP_ERR_CONFLICT')) throw e;
        user = await this.deps.userStore.getUserByName(identity.username);
        if (!user) throw e;
      }
    }
    const bound = oidcBindingOf(user.passwordHash);
    if (!bound || bound.issuer !== this.issuer.href || bound.subject !== identity.subject) {
      throw new IipError(
        'IIP_ERR_AUTH_OIDC_USER_CONFLICT',
        bound ? `user "${user.username}" belongs to another identity of ${bound.issuer === this.issuer.href ? 'this provider' : 'another provider'}` : `user "${user.username}" is a local user and is not taken over by a provider identity`,
        { username: user.username, local: !bound },
      );
    }
    if (user.tenant !== tenant.id) {
      throw new IipError('IIP_ERR_AUTH_OIDC_USER_CONFLICT', `user "${user.username}" belongs to tenant "${user.tenant}", but the identity now names tenant "${tenant.id}"`, {
        username: user.username,
        tenant: tenant.id,
        userTenant: user.tenant,
      });
    }
    if (user.disabled) throw new IipError('IIP_ERR_AUTH_USER_DISABLED', 'this user is disabled; ask an administrator of its tenant', {});
    await this.syncGrants(tenant.id, user.id, identity.roles);
    return user;
  }

  /** Makes the user's claim grants (tenant-wide) exactly `roles`; grants made by hand stay. */
  private async syncGrants(tenant: TenantId, userId: UserId, roles: readonly string[]): Promise<void> {
    const want = new Set(roles);
    const fromClaims = (await this.deps.access.listGrants(tenant, { userId })).filter((g) => g.id.startsWith(OIDC_GRANT_PREFIX));
    let changed = false;
    for (const g of fromClaims) {
      if (!want.has(g.role) || g.asset !== null) {
        changed = (await this.deps.access.removeGrant(tenant, g.id)) || changed;
      }
    }
    const held = new Set(fromClaims.filter((g) => g.asset === null).map((g) => g.role));
    for (const role of want) {
      if (held.has(role)) continue;
      try {
        await this.deps.access.addGrant({ tenant, id: `${OIDC_GRANT_PREFIX}${userId}-${role}`, userId, role, asset: null, createdAt: this.now() });
        changed = true;
      } catch (e) {
        // The same role on the whole tenant, granted by hand (or by a sign-in running at the same time), already holds.
        if (!(e instanceof IipError && e.code === 'IIP_ERR_CONFLICT')) throw e;
      }
    }
    if (changed) this.deps.accessControl.changed(tenant);
  }

  /** A one-time code (60 s) that hands `session` to the browser `binding` through POST /auth/oidc/exchange. */
  issueCode(session: LoginResult, binding: string): string {
    const now = this.now();
    // A code never redeemed leaves a session nobody holds: end it.
    this.sweep(this.codes, now, MAX_CODES, (c) => void this.deps.users.logout(c.session.token).catch(() => {}));
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, { binding, session, expiresAt: now + CODE_TTL_MS });
    return code;
  }

  /** The session of a one-time code, once; IIP_ERR_AUTH_OIDC_CODE when unknown, used, expired or from another browser. */
  redeem(code: string, binding: string | undefined): LoginResult {
    const issued = this.codes.get(code);
    this.codes.delete(code);
    if (!issued || issued.expiresAt <= this.now() || binding === undefined || issued.binding !== binding) {
      if (issued) void this.deps.users.logout(issued.session.token).catch(() => {});
      throw new IipError('IIP_ERR_AUTH_OIDC_CODE', 'this sign-in code is unknown, already used, expired or from another browser; sign in again', {});
    }
    return issued.session;
  }

  /** Drops what expired (the maps are in insertion order, so expired entries come first) and keeps under `max`. */
  private sweep<T extends { expiresAt: number }>(map: Map<string, T>, now: number, max: number, dropped?: (v: T) => void): void {
    for (const [k, v] of map) {
      if (v.expiresAt > now && map.size < max) break;
      map.delete(k);
      dropped?.(v);
    }
  }
}
