/**
 * The thin layer every PostgreSQL store goes through: one `pg.Pool`, bigint columns read as JS numbers, a
 * transaction helper, and the translation of PostgreSQL's own errors into IIP_ERR_* codes (a lost server is
 * IIP_ERR_STORAGE_UNAVAILABLE, never a raw socket error).
 */
import pg from 'pg';
import { IipError } from '@iip/core';

/** SQLSTATEs the adapters turn into codes. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';
/** "no partition of relation … found for row" — a write raced a retention drop. */
export const PG_NO_PARTITION = '23514';

const INT8_OID = 20;

/**
 * bigint (int8) as a JS number: every bigint iip stores (epoch ms, ids, counts) is below 2^53. Set on this
 * pool only, so another user of `pg` in the process keeps the driver's default (strings).
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
    // biome-ignore lint/suspicious/noExplicitAny: pg-types' overloads do not accept a union format
    return pg.types.getTypeParser(oid, format as any);
  },
};

export function pgErrorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Connection-level failures: server down, connection refused/reset, admin shutdown, starting up. */
export function isUnavailable(e: unknown): boolean {
  if (e instanceof IipError) return false;
  const code = pgErrorCode(e);
  if (code !== undefined) {
    if (code.startsWith('08')) return true; // connection_exception class
    if (code === '57P01' || code === '57P02' || code === '57P03') return true; // admin/crash shutdown, cannot connect now
    if (code === '3D000' || code.startsWith('28')) return true; // the database does not exist, login refused
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code)) return true;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly/i.test(msg);
}

/** Rethrows `e` as IIP_ERR_STORAGE_UNAVAILABLE when the server was the problem, unchanged otherwise. */
export function translate(e: unknown, where: string): unknown {
  if (isUnavailable(e)) {
    const reason = e instanceof Error ? e.message : String(e);
    return new IipError('IIP_ERR_STORAGE_UNAVAILABLE', `PostgreSQL is not available (${where}): ${reason}`, {
      where,
      cause: pgErrorCode(e) ?? reason,
    });
  }
  return e;
}

export interface PgDbOptions {
  readonly url: string;
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  /** Called with errors of idle pooled connections (e.g. the server restarted). */
  readonly onIdleError?: (e: Error) => void;
}

export type Queryable = pg.Pool | pg.PoolClient;

export class PgDb {
  readonly pool: pg.Pool;

  constructor(opts: PgDbOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.maxConnections ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      types,
    });
    // An idle connection that breaks is dropped by the pool; the next query opens a new one (or reports
    // IIP_ERR_STORAGE_UNAVAILABLE). Without a listener the 'error' event would crash the process.
    this.pool.on('error', (e) => opts.onIdleError?.(e));
  }

  async query<R extends object = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
    on: Queryable = this.pool,
  ): Promise<pg.QueryResult<R>> {
    try {
      return await on.query<R>(sql, params as unknown[]);
    } catch (e) {
      throw translate(e, 'query');
    }
  }

  async rows<R extends object = Record<string, unknown>>(sql: string, params: readonly unknown[] = [], on: Queryable = this.pool): Promise<R[]> {
    return (await this.query<R>(sql, params, on)).rows;
  }

  /** A dedicated connection for the duration of `fn`; a broken connection is destroyed, not reused. */
  async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw translate(e, 'connect');
    }
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (e) {
      if (isUnavailable(e) || (e instanceof IipError && e.code === 'IIP_ERR_STORAGE_UNAVAILABLE')) broken = e as Error;
      throw translate(e, 'query');
    } finally {
      client.release(broken);
    }
  }

  /** Runs `fn` in one transaction (READ COMMITTED); rolls back when it throws. */
  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await c.query('ROLLBACK');
        } catch {
          // The connection is gone; the server rolls the transaction back by itself.
        }
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
