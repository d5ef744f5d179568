/**
 * Users and their bearer tokens. A token is 256 random bits shown once to its owner; only its SHA-256 is
 * stored, so a database leak does not leak sessions. Every authenticated user carries its tenant; what it may
 * do is decided from its grants (policy.ts), not here.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { DEFAULT_TENANT, IipError, type TenantId, type UserId } from '@iip/core';
import type { AccessStore, ApiToken, User, UserKind, UserStore } from '@iip/storage';
import { Secret, TOTP } from 'otpauth';
import { oidcBindingOf } from './oidc.js';
import { checkPasswordPolicy } from './password-policy.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { isPermission, PLATFORM_ADMIN } from './permissions.js';

/** Sign-in protection (OWASP ASVS 2.2, IEC 62443-3-3 SR 1.11). */
export interface SignInPolicy {
  /** Failed sign-ins in a row before the account is locked (default 5). */
  readonly lockAfter: number;
  /** How long the lock lasts (default 15 min); each failure while locked extends it. */
  readonly lockMs: number;
  /** Failed sign-ins from one address before it is throttled (default 20 per window). */
  readonly throttleAfter: number;
  readonly throttleWindowMs: number;
  /** A session unused this long ends (default 30 min); the absolute limit is the token's lifetime. */
  readonly idleMs: number;
}

export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = { lockAfter: 5, lockMs: 15 * 60_000, throttleAfter: 20, throttleWindowMs: 10 * 60_000, idleMs: 30 * 60_000 };

/** A session's last use is written at most this often (not on every request). */
const TOUCH_EVERY_MS = 60_000;

/** Who a bearer token belongs to. */
export interface AuthenticatedUser {
  readonly userId: UserId;
  readonly username: string;
  readonly tenant: TenantId;
  readonly kind: UserKind;
  /** Whether the user has a second factor on. */
  readonly totpEnabled: boolean;
  /** Signs in through an OpenID Connect provider (whose own multi-factor rules apply), not with a password here. */
  readonly federated: boolean;
  /** Set when the bearer token is an API token: its id and scopes (the permissions it is limited to). */
  readonly apiToken?: { readonly id: string; readonly scopes: readonly string[] };
}

export interface LoginResult {
  readonly token: string;
  readonly expiresAt: number;
  readonly user: { id: UserId; username: string; tenant: TenantId };
}

/** An API token as its owner and administrators see it (never the secret or its hash). */
export interface ApiTokenInfo {
  readonly id: string;
  readonly userId: UserId;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** API tokens read `iipat_<id>_<secret>`: the prefix tells them from session tokens, the id finds the row. */
const API_TOKEN_PREFIX = 'iipat_';
const API_TOKEN_ID = /^[0-9a-f]{18}$/;
/** Longest API token lifetime, in days. */
export const MAX_API_TOKEN_DAYS = 366;

/** TOTP as RFC 6238 and every authenticator app use it: HMAC-SHA-1, 6 digits, 30 s steps. */
const TOTP_PERIOD_S = 30;
const totpOf = (secret: string, label = 'user') => new TOTP({ issuer: 'iip', label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_S, secret: Secret.fromBase32(secret) });

const publicApiToken = (t: ApiToken): ApiTokenInfo => ({
  id: t.id,
  userId: t.userId,
  name: t.name,
  scopes: t.scopes,
  expiresAt: t.expiresAt,
  createdAt: t.createdAt,
  lastUsedAt: t.lastUsedAt ?? null,
});

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

export class UserService {
  /** A precomputed hash to verify against when the user does not exist, so timing does not reveal names. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: UserStore,
    private readonly opts: { tokenTtlMs?: number; now?: () => number; access?: AccessStore; signIn?: Partial<SignInPolicy> } = {},
  ) {
    this.policy = { ...DEFAULT_SIGN_IN_POLICY, ...opts.signIn };
  }

  private readonly policy: SignInPolicy;
  /** Failed sign-ins per source address in the current window (this process). */
  private readonly failuresByAddress = new Map<string, { count: number; since: number }>();

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /**
   * Creates the first administrator — the platform administrator, on the whole default tenant — when no user
   * exists. Returns the password only when it was generated here (the caller prints it once); a password from
   * the environment is never echoed.
   */
  async ensureAdmin(password?: string): Promise<{ created: boolean; username: string; generatedPassword?: string }> {
    if ((await this.store.countUsers()) > 0) return { created: false, username: 'admin' };
    const generated = password ? undefined : generatePassword();
    const user = await this.createUser({ username: 'admin', password: password ?? (generated as string), tenant: DEFAULT_TENANT });
    await this.opts.access?.addGrant({ tenant: DEFAULT_TENANT, id: `bootstrap-${user.id}`, userId: user.id, role: PLATFORM_ADMIN, asset: null, createdAt: user.createdAt });
    return generated ? { created: true, username: 'admin', generatedPassword: generated } : { created: true, username: 'admin' };
  }

  /**
   * A user of `tenant` with no grants (deny by default): grant it roles through the AccessStore. A service account
   * (`kind: 'service'`) gets no password (an unusable random one): it acts through API tokens only.
   */
  async createUser(u: { username: string; password?: string; tenant: TenantId; kind?: UserKind }): Promise<User> {
    const kind = this.checkNewUser(u);
    const user: User = {
      id: randomUUID() as UserId,
      tenant: u.tenant,
      username: u.username,
      passwordHash: await hashPassword(u.password ?? randomBytes(32).toString('base64url')),
      createdAt: this.now(),
      kind,
    };
    await this.store.createUser(user);
    return user;
  }

  /**
   * Checks a user to be created (name, password policy, kind) without creating it, so a caller that creates other
   * things first (a tenant with its first administrator) can refuse before anything is made. Returns the kind.
   */
  checkNewUser(u: { username: string; password?: string; kind?: UserKind }): UserKind {
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(u.username)) {
      throw new IipError('IIP_ERR_VALIDATION', `username "${u.username}" may use letters, digits and _ . @ - (max 64)`, {
        field: 'username',
      });
    }
    const kind = u.kind ?? 'person';
    if (kind === 'service' && u.password !== undefined) throw new IipError('IIP_ERR_AUTH_SERVICE_ACCOUNT', 'a service account has no password; create an API token for it', { field: 'password' });
    if (kind === 'person') {
      if (u.password === undefined) throw new IipError('IIP_ERR_VALIDATION', 'password: required for a person (service accounts have none)', { field: 'password' });
      checkPasswordPolicy(u.password, u.username);
    }
    return kind;
  }

  /**
   * Signs in. Refusals: IIP_ERR_AUTH_THROTTLED (429) when the source address failed too often lately;
   * IIP_ERR_AUTH_LOCKED (423) while the account is locked after `lockAfter` failures in a row; otherwise a wrong
   * name or password is the same IIP_ERR_AUTH_LOGIN_FAILED (401) whether or not the user exists;
   * IIP_ERR_AUTH_USER_DISABLED (403) only after the right password.
   */
  async login(username: string, password: string, address = 'unknown', totp?: string): Promise<LoginResult> {
    const now = this.now();
    const byAddress = this.failuresByAddress.get(address);
    if (byAddress && now - byAddress.since < this.policy.throttleWindowMs && byAddress.count >= this.policy.throttleAfter) {
      const retryAfterMs = byAddress.since + this.policy.throttleWindowMs - now;
      throw new IipError('IIP_ERR_AUTH_THROTTLED', `too many failed sign-ins from this address; try again in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs });
    }
    const user = await this.store.getUserByName(username);
    if (user?.lockedUntil != null && user.lockedUntil > now) {
      throw new IipError('IIP_ERR_AUTH_LOCKED', `the account is locked after repeated failed sign-ins until ${new Date(user.lockedUntil).toISOString()}`, {
        lockedUntil: user.lockedUntil,
        retryAfterMs: user.lockedUntil - now,
      });
    }
    if (!user) {
      this.dummyHash ??= hashPassword(generatePassword());
      await verifyPassword(password, await this.dummyHash);
      this.countAddressFailure(address, now);
      throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'wrong username or password', {});
    }
    if (!(await verifyPassword(password, user.passwordHash))) {
      this.countAddressFailure(address, now);
      await this.store.loginFailed(user.id, now, this.policy.lockAfter, this.policy.lockMs);
      throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'wrong username or password', {});
    }
    if (user.kind === 'service') {
      // Unreachable with the unusable password a service account gets; refused all the same.
      throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'wrong username or password', {});
    }
    if (user.disabled) throw new IipError('IIP_ERR_AUTH_USER_DISABLED', 'this user is disabled; ask an administrator of its tenant', {});
    if (user.totpSecret) {
      if (totp === undefined || totp === '') throw new IipError('IIP_ERR_AUTH_TOTP_REQUIRED', 'enter the 6-digit code of your authenticator app', { field: 'totp' });
      const step = this.totpStep(user.totpSecret, totp, now);
      if (step === undefined || !(await this.store.claimTotpStep(user.id, step))) {
        this.countAddressFailure(address, now);
        await this.store.loginFailed(user.id, now, this.policy.lockAfter, this.policy.lockMs);
        throw new IipError('IIP_ERR_AUTH_TOTP_INVALID', 'the code is wrong, too old or already used', { field: 'totp' });
      }
    }
    if ((user.failedLogins ?? 0) > 0 || user.lockedUntil != null) await this.store.loginSucceeded(user.id);
    return this.openSession(user);
  }

  /**
   * A new session (bearer token) for a user that has already proved who it is — by password here, or by an
   * external identity provider (OIDC). Refuses a disabled user.
   */
  async openSession(user: Pick<User, 'id' | 'username' | 'tenant' | 'disabled'>): Promise<LoginResult> {
    if (user.disabled) throw new IipError('IIP_ERR_AUTH_USER_DISABLED', 'this user is disabled; ask an administrator of its tenant', {});
    const now = this.now();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + (this.opts.tokenTtlMs ?? 12 * 3600_000);
    await this.store.saveToken({ tokenHash: sha256(token), userId: user.id, tenant: user.tenant, expiresAt, createdAt: now });
    return { token, expiresAt, user: { id: user.id, username: user.username, tenant: user.tenant } };
  }

  /** The tenant of a user name, for recording a sign-in attempt where that tenant's auditors see it. */
  async tenantOf(username: string): Promise<TenantId | undefined> {
    return (await this.store.getUserByName(username))?.tenant;
  }

  private countAddressFailure(address: string, now: number): void {
    const f = this.failuresByAddress.get(address);
    if (!f || now - f.since >= this.policy.throttleWindowMs) this.failuresByAddress.set(address, { count: 1, since: now });
    else f.count++;
    // Bounded: a flood from many addresses cannot grow memory without limit.
    if (this.failuresByAddress.size > 100_000) {
      for (const [k, v] of this.failuresByAddress) if (now - v.since >= this.policy.throttleWindowMs) this.failuresByAddress.delete(k);
    }
  }

  /**
   * Resolves a bearer token to its user, or throws IIP_ERR_AUTH_REQUIRED (unknown token, user gone or disabled) /
   * IIP_ERR_AUTH_TOKEN_EXPIRED (past its lifetime, or idle longer than the idle limit).
   */
  async authenticate(token: string | undefined): Promise<AuthenticatedUser> {
    if (!token) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'sign in first: no bearer token', {});
    if (token.startsWith(API_TOKEN_PREFIX)) return this.authenticateApiToken(token);
    const t = await this.store.getToken(sha256(token));
    if (!t) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'unknown bearer token', {});
    const now = this.now();
    if (t.expiresAt <= now) {
      await this.store.deleteToken(t.tokenHash);
      throw new IipError('IIP_ERR_AUTH_TOKEN_EXPIRED', 'the bearer token has expired; sign in again', {});
    }
    const lastUse = t.lastUsedAt ?? t.createdAt;
    if (now - lastUse > this.policy.idleMs) {
      await this.store.deleteToken(t.tokenHash);
      throw new IipError('IIP_ERR_AUTH_TOKEN_EXPIRED', `the session was idle for more than ${Math.round(this.policy.idleMs / 60_000)} min; sign in again`, { idle: true });
    }
    const user = await this.store.getUser(t.userId);
    if (!user) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'the user of this token no longer exists', {});
    if (user.disabled) {
      await this.store.deleteToken(t.tokenHash);
      throw new IipError('IIP_ERR_AUTH_REQUIRED', 'this user is disabled', {});
    }
    if (now - lastUse >= TOUCH_EVERY_MS) await this.store.touchToken(t.tokenHash, now);
    return this.authenticated(user);
  }

  private async authenticateApiToken(token: string): Promise<AuthenticatedUser> {
    const id = token.slice(API_TOKEN_PREFIX.length, API_TOKEN_PREFIX.length + 18);
    const t = API_TOKEN_ID.test(id) ? await this.store.getApiToken(id) : undefined;
    const given = Buffer.from(sha256(token));
    if (!t || given.length !== t.tokenHash.length || !timingSafeEqual(given, Buffer.from(t.tokenHash))) {
      throw new IipError('IIP_ERR_AUTH_REQUIRED', 'unknown or revoked API token', {});
    }
    const now = this.now();
    if (t.expiresAt <= now) throw new IipError('IIP_ERR_AUTH_TOKEN_EXPIRED', `the API token "${t.name}" expired on ${new Date(t.expiresAt).toISOString()}; create a new one`, { token: t.id });
    const user = await this.store.getUser(t.userId);
    if (!user) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'the user of this API token no longer exists', {});
    if (user.disabled) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'the user of this API token is disabled', {});
    if (now - (t.lastUsedAt ?? 0) >= TOUCH_EVERY_MS) await this.store.touchApiToken(t.id, now);
    return { ...this.authenticated(user), apiToken: { id: t.id, scopes: t.scopes } };
  }

  private authenticated(user: User): AuthenticatedUser {
    return {
      userId: user.id,
      username: user.username,
      tenant: user.tenant,
      kind: user.kind ?? 'person',
      totpEnabled: Boolean(user.totpSecret),
      federated: oidcBindingOf(user.passwordHash) !== undefined,
    };
  }

  /**
   * A new API token for the user, returned once with its text (`token`); only its hash is kept. `scopes` are
   * permissions of the catalogue or `'*'`; whether the user holds them is the caller's check (the policy).
   */
  async createApiToken(userId: UserId, req: { name: string; scopes: readonly string[]; expiresInDays: number }): Promise<ApiTokenInfo & { token: string }> {
    const user = await this.getUserOrFail(userId);
    const name = req.name.trim();
    if (name.length === 0 || name.length > 64) throw new IipError('IIP_ERR_VALIDATION', 'name: 1 to 64 characters', { field: 'name' });
    if (!Number.isInteger(req.expiresInDays) || req.expiresInDays < 1 || req.expiresInDays > MAX_API_TOKEN_DAYS) {
      throw new IipError('IIP_ERR_VALIDATION', `expiresInDays: a whole number of days from 1 to ${MAX_API_TOKEN_DAYS} (tokens always expire)`, { field: 'expiresInDays' });
    }
    if (req.scopes.length === 0) throw new IipError('IIP_ERR_VALIDATION', 'scopes: name at least one permission, or "*" for all of the user\'s', { field: 'scopes' });
    for (const s of req.scopes) {
      if (s !== '*' && !isPermission(s)) throw new IipError('IIP_ERR_ACCESS_UNKNOWN_PERMISSION', `scopes: unknown permission "${s}"`, { field: 'scopes', permission: s });
    }
    const id = randomBytes(9).toString('hex');
    const token = `${API_TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const t: ApiToken = { id, tenant: user.tenant, userId: user.id, name, tokenHash: sha256(token), scopes: [...new Set(req.scopes)].sort(), expiresAt: now + req.expiresInDays * 86_400_000, createdAt: now, lastUsedAt: null };
    await this.store.saveApiToken(t);
    return { ...publicApiToken(t), token };
  }

  async listApiTokens(userId: UserId): Promise<ApiTokenInfo[]> {
    return (await this.store.listApiTokens(userId)).map(publicApiToken);
  }

  async revokeApiToken(userId: UserId, id: string): Promise<void> {
    if (!(await this.store.deleteApiToken(userId, id))) throw new IipError('IIP_ERR_NOT_FOUND', `API token "${id}" of this user not found`, { resource: 'api-token', id });
  }

  private async getUserOrFail(userId: UserId): Promise<User> {
    const user = await this.store.getUser(userId);
    if (!user) throw new IipError('IIP_ERR_NOT_FOUND', `user "${userId}" not found`, { resource: 'user', id: userId });
    return user;
  }

  /** The time step `code` is valid for (this step or one either side), or undefined. */
  private totpStep(secret: string, code: string, now: number): number | undefined {
    if (!/^[0-9]{6}$/.test(code)) return undefined;
    const delta = totpOf(secret).validate({ token: code, timestamp: now, window: 1 });
    return delta === null ? undefined : Math.floor(now / 1000 / TOTP_PERIOD_S) + delta;
  }

  /**
   * Starts setting up a second factor: a new random secret (160 bits), kept as pending until confirmed with a code
   * (enableTotp); a factor already on stays on meanwhile. Returns the secret and the otpauth:// URI for the app.
   */
  async setupTotp(userId: UserId): Promise<{ secret: string; otpauthUrl: string }> {
    const user = await this.getUserOrFail(userId);
    if (user.kind === 'service') throw new IipError('IIP_ERR_AUTH_SERVICE_ACCOUNT', 'a service account has no second factor', {});
    const secret = new Secret({ size: 20 }).base32;
    await this.store.setTotp(user.id, { secret: user.totpSecret ?? null, pending: secret });
    return { secret, otpauthUrl: totpOf(secret, user.username).toString() };
  }

  /** Confirms the pending secret with a current code from the app; from then on sign-in asks for a code. */
  async enableTotp(userId: UserId, code: string): Promise<void> {
    const user = await this.getUserOrFail(userId);
    if (!user.totpPending) throw new IipError('IIP_ERR_AUTH_TOTP_NOT_SET_UP', 'set up the second factor first (POST /api/v1/auth/totp/setup)', {});
    const now = this.now();
    const step = this.totpStep(user.totpPending, code, now);
    if (step === undefined) throw new IipError('IIP_ERR_AUTH_TOTP_INVALID', 'the code does not match the new secret; check the app and the clock', { field: 'code' });
    await this.store.setTotp(user.id, { secret: user.totpPending, pending: null });
    await this.store.claimTotpStep(user.id, step);
  }

  /**
   * Turns the user's own second factor off (the password is asked again), unless `required` (the tenant's policy
   * requires it for the user's role).
   */
  async disableTotp(userId: UserId, password: string, required: boolean): Promise<void> {
    const user = await this.getUserOrFail(userId);
    if (!(await verifyPassword(password, user.passwordHash))) throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'the password is wrong', { field: 'password' });
    if (required && user.totpSecret) {
      throw new IipError('IIP_ERR_AUTH_TOTP_REQUIRED_BY_TENANT', "the tenant's security policy requires a second factor for your role", {});
    }
    await this.store.setTotp(user.id, { secret: null, pending: null });
  }

  /** An administrator removes a user's second factor (a lost phone): the user sets it up again. */
  async resetTotp(userId: UserId): Promise<void> {
    await this.getUserOrFail(userId);
    await this.store.setTotp(userId, { secret: null, pending: null });
  }

  /** Changes one's own password (the current one is asked again); the user's other sessions end. */
  async changePassword(userId: UserId, current: string, next: string, keepToken?: string): Promise<void> {
    const user = await this.store.getUser(userId);
    if (!user || !(await verifyPassword(current, user.passwordHash))) throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'the current password is wrong', { field: 'currentPassword' });
    checkPasswordPolicy(next, user.username);
    await this.store.setPasswordHash(userId, await hashPassword(next));
    await this.endSessions(userId, keepToken);
  }

  /** An administrator sets a new password (generated when none is given, and returned once); every session ends. */
  async resetPassword(userId: UserId, next?: string): Promise<{ generatedPassword?: string }> {
    const user = await this.getUserOrFail(userId);
    if (user.kind === 'service') throw new IipError('IIP_ERR_AUTH_SERVICE_ACCOUNT', 'a service account has no password; create an API token for it', {});
    const password = next ?? generatePassword();
    checkPasswordPolicy(password, user.username);
    await this.store.setPasswordHash(userId, await hashPassword(password));
    await this.store.loginSucceeded(userId); // a reset also lifts a lock
    await this.store.deleteTokensOfUser(userId);
    return next === undefined ? { generatedPassword: password } : {};
  }

  /** Disables (every session ends) or enables a user. */
  async setDisabled(userId: UserId, disabled: boolean): Promise<void> {
    await this.store.setDisabled(userId, disabled);
    if (disabled) await this.store.deleteTokensOfUser(userId);
  }

  /** Signs the user out everywhere, except the session `keepToken` when given. Returns how many ended. */
  async endSessions(userId: UserId, keepToken?: string): Promise<number> {
    const keep = keepToken === undefined ? undefined : await this.store.getToken(sha256(keepToken));
    const n = await this.store.deleteTokensOfUser(userId);
    if (keep && keep.userId === userId) await this.store.saveToken(keep);
    return keep && keep.userId === userId ? n - 1 : n;
  }

  async logout(token: string): Promise<void> {
    await this.store.deleteToken(sha256(token));
  }
}
