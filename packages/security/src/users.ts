/**
 * Users and their bearer tokens. A token is 256 random bits shown once to its owner; only its SHA-256 is
 * stored, so a database leak does not leak sessions. Every authenticated user carries its tenant; what it may
 * do is decided from its grants (policy.ts), not here.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_TENANT, IipError, type TenantId, type UserId } from '@iip/core';
import type { AccessStore, User, UserStore } from '@iip/storage';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { PLATFORM_ADMIN } from './permissions.js';

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

export const MIN_PASSWORD_LENGTH = 12;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

export class UserService {
  /** A precomputed hash to verify against when the user does not exist, so timing does not reveal names. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: UserStore,
    private readonly opts: { tokenTtlMs?: number; now?: () => number; access?: AccessStore } = {},
  ) {}

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
    if (u.password.length < MIN_PASSWORD_LENGTH) {
      throw new IipError('IIP_ERR_AUTH_WEAK_PASSWORD', `password must have at least ${MIN_PASSWORD_LENGTH} characters`, {
        minLength: MIN_PASSWORD_LENGTH,
      });
    }
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

  async login(username: string, password: string): Promise<LoginResult> {
    const user = await this.store.getUserByName(username);
    if (!user) {
      this.dummyHash ??= hashPassword(generatePassword());
      await verifyPassword(password, await this.dummyHash);
      throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'wrong username or password', {});
    }
    if (!(await verifyPassword(password, user.passwordHash))) {
      throw new IipError('IIP_ERR_AUTH_LOGIN_FAILED', 'wrong username or password', {});
    }
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + (this.opts.tokenTtlMs ?? 12 * 3600_000);
    await this.store.saveToken({ tokenHash: sha256(token), userId: user.id, tenant: user.tenant, expiresAt, createdAt: now });
    return { token, expiresAt, user: { id: user.id, username: user.username, tenant: user.tenant } };
  }

  /** Resolves a bearer token to its principal or throws IIP_ERR_AUTH_REQUIRED / _TOKEN_EXPIRED. */
  async authenticate(token: string | undefined): Promise<AuthenticatedUser> {
    if (!token) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'sign in first: no bearer token', {});
    const t = await this.store.getToken(sha256(token));
    if (!t) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'unknown bearer token', {});
    if (t.expiresAt <= this.now()) {
      await this.store.deleteToken(t.tokenHash);
      throw new IipError('IIP_ERR_AUTH_TOKEN_EXPIRED', 'the bearer token has expired; sign in again', {});
    }
    const user = await this.store.getUser(t.userId);
    if (!user) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'the user of this token no longer exists', {});
    return { userId: user.id, username: user.username, tenant: user.tenant };
  }

  async logout(token: string): Promise<void> {
    await this.store.deleteToken(sha256(token));
  }
}
