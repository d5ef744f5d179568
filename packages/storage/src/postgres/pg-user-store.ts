/**
 * UserStore on PostgreSQL: users (usernames are global because the username picks the tenant at login) and
 * access tokens, stored only as hashes.
 */
import { IipError } from '@iip/core';
import type { TenantId, UserId } from '@iip/core';
import type { AccessToken, ApiToken, User, UserStore } from '../ports.js';
import { PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';

import { type ApiTokenRow, type TokenRow, type UserRow, toApiToken, toToken, toUser } from '../rows.js';

export class PgUserStore implements UserStore {
  constructor(private readonly db: PgDb) {}

  async countUsers(): Promise<number> {
    const [r] = await this.db.rows<{ n: number }>('SELECT count(*)::int AS n FROM users');
    return r?.n ?? 0;
  }

  async createUser(u: User): Promise<void> {
    try {
      await this.db.query('INSERT INTO users (id, tenant, username, password_hash, created_at, kind) VALUES ($1, $2, $3, $4, $5, $6)', [
        u.id,
        u.tenant,
        u.username,
        u.passwordHash,
        u.createdAt,
        u.kind ?? 'person',
      ]);
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
        throw new IipError('IIP_ERR_CONFLICT', `user "${u.username}" (id "${u.id}") already exists`, { username: u.username, user: u.id });
      }
      throw e;
    }
  }

  async getUserByName(username: string): Promise<User | undefined> {
    const [r] = await this.db.rows<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
    return r && toUser(r);
  }

  async getUser(id: UserId): Promise<User | undefined> {
    const [r] = await this.db.rows<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return r && toUser(r);
  }

  async listUsers(tenant: TenantId): Promise<User[]> {
    return (await this.db.rows<UserRow>('SELECT * FROM users WHERE tenant = $1 ORDER BY username', [tenant])).map(toUser);
  }

  async setPasswordHash(id: UserId, hash: string): Promise<void> {
    const res = await this.db.query('UPDATE users SET password_hash = $1 WHERE id = $2', [hash, id]);
    if ((res.rowCount ?? 0) === 0) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
  }

  async setDisabled(id: UserId, disabled: boolean): Promise<void> {
    const res = await this.db.query('UPDATE users SET disabled = $1 WHERE id = $2', [disabled, id]);
    if ((res.rowCount ?? 0) === 0) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
  }

  async loginFailed(id: UserId, now: number, lockAfter: number, lockMs: number): Promise<{ failedLogins: number; lockedUntil: number | null }> {
    // One statement (row lock), so two processes counting failures of one user cannot lose one.
    const [r] = await this.db.rows<{ failed_logins: number; locked_until: number | null }>(
      `UPDATE users SET failed_logins = failed_logins + 1,
                        locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3::bigint ELSE locked_until END
        WHERE id = $1 RETURNING failed_logins, locked_until`,
      [id, lockAfter, now + lockMs],
    );
    if (!r) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
    return { failedLogins: r.failed_logins, lockedUntil: r.locked_until === null ? null : Number(r.locked_until) };
  }

  async loginSucceeded(id: UserId): Promise<void> {
    await this.db.query('UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [id]);
  }

  async touchToken(tokenHash: string, now: number): Promise<void> {
    await this.db.query('UPDATE tokens SET last_used_at = $1 WHERE token_hash = $2', [now, tokenHash]);
  }

  async deleteTokensOfUser(id: UserId): Promise<number> {
    return (await this.db.query('DELETE FROM tokens WHERE user_id = $1', [id])).rowCount ?? 0;
  }

  async saveToken(t: AccessToken): Promise<void> {
    try {
      await this.db.query('INSERT INTO tokens (token_hash, user_id, tenant, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)', [
        t.tokenHash,
        t.userId,
        t.tenant,
        t.expiresAt,
        t.createdAt,
      ]);
    } catch (e) {
      const code = pgErrorCode(e);
      if (code === PG_FOREIGN_KEY_VIOLATION) throw new IipError('IIP_ERR_NOT_FOUND', `user "${t.userId}" does not exist`, { user: t.userId });
      if (code === PG_UNIQUE_VIOLATION) throw new IipError('IIP_ERR_CONFLICT', 'a token with this hash already exists', { user: t.userId });
      throw e;
    }
  }

  async getToken(tokenHash: string): Promise<AccessToken | undefined> {
    const [r] = await this.db.rows<TokenRow>('SELECT * FROM tokens WHERE token_hash = $1', [tokenHash]);
    return r && toToken(r);
  }

  async deleteToken(tokenHash: string): Promise<void> {
    await this.db.query('DELETE FROM tokens WHERE token_hash = $1', [tokenHash]);
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return (await this.db.query('DELETE FROM tokens WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  async setTotp(id: UserId, state: { secret: string | null; pending: string | null }): Promise<void> {
    const res = await this.db.query('UPDATE users SET totp_secret = $1, totp_pending = $2, totp_last_step = NULL WHERE id = $3', [state.secret, state.pending, id]);
    if ((res.rowCount ?? 0) === 0) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" does not exist`, { user: id });
  }

  async claimTotpStep(id: UserId, step: number): Promise<boolean> {
    // One statement (row lock), so two processes cannot both accept the same code.
    const res = await this.db.query('UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)', [id, step]);
    return (res.rowCount ?? 0) === 1;
  }

  async saveApiToken(t: ApiToken): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO api_tokens (id, tenant, user_id, name, token_hash, scopes, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [t.id, t.tenant, t.userId, t.name, t.tokenHash, JSON.stringify(t.scopes), t.expiresAt, t.createdAt],
      );
    } catch (e) {
      const code = pgErrorCode(e);
      if (code === PG_FOREIGN_KEY_VIOLATION) throw new IipError('IIP_ERR_NOT_FOUND', `user "${t.userId}" does not exist`, { user: t.userId });
      if (code === PG_UNIQUE_VIOLATION) throw new IipError('IIP_ERR_CONFLICT', `API token "${t.id}" already exists`, { id: t.id });
      throw e;
    }
  }

  async getApiToken(id: string): Promise<ApiToken | undefined> {
    const [r] = await this.db.rows<ApiTokenRow>('SELECT * FROM api_tokens WHERE id = $1', [id]);
    return r && toApiToken(r);
  }

  async listApiTokens(userId: UserId): Promise<ApiToken[]> {
    return (await this.db.rows<ApiTokenRow>('SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id', [userId])).map(toApiToken);
  }

  async deleteApiToken(userId: UserId, id: string): Promise<boolean> {
    return ((await this.db.query('DELETE FROM api_tokens WHERE user_id = $1 AND id = $2', [userId, id])).rowCount ?? 0) > 0;
  }

  async touchApiToken(id: string, now: number): Promise<void> {
    await this.db.query('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [now, id]);
  }
}
