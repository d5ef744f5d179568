/**
 * UserStore on SQLite: users (usernames are global because the username picks the tenant at login) and
 * access tokens, stored only as hashes. `async` methods over synchronous statements; a refusal is a rejection.
 */
import type Database from 'better-sqlite3';
import { IipError } from '@iip/core';
import type { TenantId, UserId } from '@iip/core';
import type { AccessToken, ApiToken, User, UserStore } from '../ports.js';
import { isConstraintViolation, isForeignKeyViolation } from './sqlite-errors.js';

import { type ApiTokenRow, type TokenRow, type UserRow, toApiToken, toToken, toUser } from '../rows.js';

export class SqliteUserStore implements UserStore {
  private readonly s;
  constructor(db: Database.Database) {
    this.s = {
      count: db.prepare('SELECT count(*) AS n FROM users'),
      create: db.prepare('INSERT INTO users (id, tenant, username, password_hash, created_at, kind) VALUES (?, ?, ?, ?, ?, ?)'),
      byName: db.prepare('SELECT * FROM users WHERE username = ?'),
      byId: db.prepare('SELECT * FROM users WHERE id = ?'),
      byTenant: db.prepare('SELECT * FROM users WHERE tenant = ? ORDER BY username'),
      setHash: db.prepare('UPDATE users SET password_hash = ? WHERE id = ?'),
      saveToken: db.prepare(
        'INSERT INTO tokens (token_hash, user_id, tenant, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      getToken: db.prepare('SELECT * FROM tokens WHERE token_hash = ?'),
      deleteToken: db.prepare('DELETE FROM tokens WHERE token_hash = ?'),
      deleteExpired: db.prepare('DELETE FROM tokens WHERE expires_at <= ?'),
      setDisabled: db.prepare('UPDATE users SET disabled = ? WHERE id = ?'),
      // One statement, so two processes counting failures of one user cannot lose one.
      loginFailed: db.prepare(
        `UPDATE users SET failed_logins = failed_logins + 1,
                          locked_until = CASE WHEN failed_logins + 1 >= @after THEN @until ELSE locked_until END
          WHERE id = @id RETURNING failed_logins, locked_until`,
      ),
      loginSucceeded: db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?'),
      touchToken: db.prepare('UPDATE tokens SET last_used_at = ? WHERE token_hash = ?'),
      deleteUserTokens: db.prepare('DELETE FROM tokens WHERE user_id = ?'),
      setTotp: db.prepare('UPDATE users SET totp_secret = ?, totp_pending = ?, totp_last_step = NULL WHERE id = ?'),
      // One statement, so two processes cannot both accept the same code.
      claimStep: db.prepare('UPDATE users SET totp_last_step = @step WHERE id = @id AND (totp_last_step IS NULL OR totp_last_step < @step)'),
      saveApiToken: db.prepare(
        `INSERT INTO api_tokens (id, tenant, user_id, name, token_hash, scopes, expires_at, created_at)
         VALUES (@id, @tenant, @userId, @name, @tokenHash, @scopes, @expiresAt, @createdAt)`,
      ),
      getApiToken: db.prepare('SELECT * FROM api_tokens WHERE id = ?'),
      listApiTokens: db.prepare('SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id'),
      deleteApiToken: db.prepare('DELETE FROM api_tokens WHERE user_id = ? AND id = ?'),
      touchApiToken: db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),
    };
  }

  async countUsers(): Promise<number> {
    return (this.s.count.get() as { n: number }).n;
  }

  async createUser(u: User): Promise<void> {
    try {
      this.s.create.run(u.id, u.tenant, u.username, u.passwordHash, u.createdAt, u.kind ?? 'person');
    } catch (e) {
      if (isConstraintViolation(e)) {
        throw new IipError('IIP_ERR_CONFLICT', `user "${u.username}" (id "${u.id}") already exists`, {
          username: u.username,
          user: u.id,
        });
      }
      throw e;
    }
  }

  async getUserByName(username: string): Promise<User | undefined> {
    const r = this.s.byName.get(username) as UserRow | undefined;
    return r && toUser(r);
  }

  async getUser(id: UserId): Promise<User | undefined> {
    const r = this.s.byId.get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  async listUsers(tenant: TenantId): Promise<User[]> {
    return (this.s.byTenant.all(tenant) as UserRow[]).map(toUser);
  }

  async setPasswordHash(id: UserId, hash: string): Promise<void> {
    if (this.s.setHash.run(hash, id).changes === 0) {
      throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
    }
  }

  async setDisabled(id: UserId, disabled: boolean): Promise<void> {
    if (this.s.setDisabled.run(disabled ? 1 : 0, id).changes === 0) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
  }

  async loginFailed(id: UserId, now: number, lockAfter: number, lockMs: number): Promise<{ failedLogins: number; lockedUntil: number | null }> {
    const r = this.s.loginFailed.get({ id, after: lockAfter, until: now + lockMs }) as { failed_logins: number; locked_until: number | null } | undefined;
    if (!r) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
    return { failedLogins: r.failed_logins, lockedUntil: r.locked_until };
  }

  async loginSucceeded(id: UserId): Promise<void> {
    this.s.loginSucceeded.run(id);
  }

  async touchToken(tokenHash: string, now: number): Promise<void> {
    this.s.touchToken.run(now, tokenHash);
  }

  async deleteTokensOfUser(id: UserId): Promise<number> {
    return this.s.deleteUserTokens.run(id).changes;
  }

  async saveToken(t: AccessToken): Promise<void> {
    try {
      this.s.saveToken.run(t.tokenHash, t.userId, t.tenant, t.expiresAt, t.createdAt);
    } catch (e) {
      if (isForeignKeyViolation(e)) {
        throw new IipError('IIP_ERR_NOT_FOUND', `user "${t.userId}" does not exist`, { user: t.userId });
      }
      if (isConstraintViolation(e)) {
        throw new IipError('IIP_ERR_CONFLICT', 'a token with this hash already exists', { user: t.userId });
      }
      throw e;
    }
  }

  async getToken(tokenHash: string): Promise<AccessToken | undefined> {
    const r = this.s.getToken.get(tokenHash) as TokenRow | undefined;
    return r && toToken(r);
  }

  async deleteToken(tokenHash: string): Promise<void> {
    this.s.deleteToken.run(tokenHash);
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return this.s.deleteExpired.run(now).changes;
  }

  async setTotp(id: UserId, state: { secret: string | null; pending: string | null }): Promise<void> {
    if (this.s.setTotp.run(state.secret, state.pending, id).changes === 0) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
  }

  async claimTotpStep(id: UserId, step: number): Promise<boolean> {
    return this.s.claimStep.run({ id, step }).changes === 1;
  }

  async saveApiToken(t: ApiToken): Promise<void> {
    try {
      this.s.saveApiToken.run({ ...t, scopes: JSON.stringify(t.scopes) });
    } catch (e) {
      if (isForeignKeyViolation(e)) throw new IipError('IIP_ERR_NOT_FOUND', `user "${t.userId}" does not exist`, { user: t.userId });
      if (isConstraintViolation(e)) throw new IipError('IIP_ERR_CONFLICT', `API token "${t.id}" already exists`, { id: t.id });
      throw e;
    }
  }

  async getApiToken(id: string): Promise<ApiToken | undefined> {
    const r = this.s.getApiToken.get(id) as ApiTokenRow | undefined;
    return r && toApiToken(r);
  }

  async listApiTokens(userId: UserId): Promise<ApiToken[]> {
    return (this.s.listApiTokens.all(userId) as ApiTokenRow[]).map(toApiToken);
  }

  async deleteApiToken(userId: UserId, id: string): Promise<boolean> {
    return this.s.deleteApiToken.run(userId, id).changes > 0;
  }

  async touchApiToken(id: string, now: number): Promise<void> {
    this.s.touchApiToken.run(now, id);
  }
}
