/**
 * Users and their bearer tokens. A token is 256 random bits shown once to its owner; only its SHA-256 is
 * stored, so a database leak does not leak sessions. Every authenticated user carries its tenant; what it may
 * do is decided from its grants (policy.ts), not here.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_TENANT, IipError, type TenantId, type UserId } from '@iip/core';
import type { AccessStore, User, UserStore } from '@iip/storage';
import { checkPasswordPolicy } from './password-policy.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { PLATFORM_ADMIN } from './permissions.js';

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
}

export interface LoginResult {
  readonly token: string;
  readonly expiresAt: number;
  readonly user: { id: UserId; username: string; tenant: TenantId };
}

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

  /** A user of `tenant` with no grants (deny by default): grant it roles through the AccessStore. */
  async createUser(u: { username: string; password: string; tenant: TenantId }): Promise<User> {
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(u.username)) {
      throw new IipError('IIP_ERR_VALIDATION', `username "${u.username}" may use letters, digits and _ . @ - (max 64)`, {
        field: 'username',
      });
    }
    checkPasswordPolicy(u.password, u.username);
    const user: User = {
      id: randomUUID() as UserId,
      tenant: u.tenant,
      username: u.username,
      passwordHash: await hashPassword(u.password),
      createdAt: this.now(),
    };
    await this.store.createUser(user);
    return user;
  }

  /**
   * Signs in. Refusals: IIP_ERR_AUTH_THROTTLED (429) when the source address failed too often lately;
   * IIP_ERR_AUTH_LOCKED (423) while the account is locked after `lockAfter` failures in a row; otherwise a wrong
   * name or password is the same IIP_ERR_AUTH_LOGIN_FAILED (401) whether or not the user exists;
   * IIP_ERR_AUTH_USER_DISABLED (403) only after the right password.
   */
  async login(username: string, password: string, address = 'unknown'): Promise<LoginResult> {
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
    if (user.disabled) throw new IipError('IIP_ERR_AUTH_USER_DISABLED', 'this user is disabled; ask an administrator of its tenant', {});
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
    return { userId: user.id, username: user.username, tenant: user.tenant };
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
    const user = await this.store.getUser(userId);
    if (!user) throw new IipError('IIP_ERR_NOT_FOUND', `user "${userId}" not found`, { resource: 'user', id: userId });
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
