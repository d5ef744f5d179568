/**
 * The HandleStore of an identifier node on PostgreSQL. A handle is one row keyed by its normalized name
 * ("C" collation, so key order is byte order as in SQLite), its values one jsonb array (binary data as
 * base64). Every change appends to `hs_txlog` in the same transaction.
 *
 * The transaction log must be gap-free and in commit order, also with several processes writing: every write
 * transaction first takes one transaction advisory lock (LOCK_HANDLE_WRITE), then numbers its changes from
 * max(seq) + 1. Writers are therefore serialised per database, as they are on the SQLite file; readers never
 * wait and never see what may still roll back (PostgreSQL's isolation).
 *
 * `transaction(fn)` runs `fn` on one dedicated connection (BEGIN, the write lock, … COMMIT/ROLLBACK); `tx`
 * is bound to it, `tx.transaction` is a savepoint. A write on the outer store from inside `fn` is refused
 * (IIP_ERR_STORAGE_TRANSACTION_MISUSE): it would wait for the lock its own transaction holds. Reads on the
 * outer store from inside `fn` run on another connection and see only committed data, as the port says.
 *
 * homedPrefixes() is kept in memory: loaded at open and reloaded after every committed change of this
 * store that homes or unhomes a prefix (another process's changes are seen after `refreshHomed()`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { IipError } from '@iip/core';
import type {
  HandleChange,
  HandleListPage,
  HandleStore,
  StoredHandle,
  StoredHandleValue,
  StoredTemplate,
  ValueChangeResult,
} from '../handle-ports.js';
import { PgDb, type Queryable, translate } from './pg-db.js';
import { LOCK_HANDLE_MIGRATE, LOCK_HANDLE_WRITE, type Migration, migrateSchema } from './pg-migrations.js';
import { redactUrl } from './open-postgres-storage.js';

export interface PgHandleStoreOptions {
  readonly url: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
}

export type PgHandleStore = HandleStore & {
  /** Re-reads the homed prefixes (after another process changed them). */
  refreshHomed(): Promise<void>;
};

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'handles, prefix counts, homed prefixes, templates, transaction log',
    sql: `
      CREATE TABLE hs_handles (
        key text COLLATE "C" PRIMARY KEY,
        name text,
        vals jsonb NOT NULL
      );
      CREATE TABLE hs_prefix_counts (prefix text COLLATE "C" PRIMARY KEY, n bigint NOT NULL);
      CREATE TABLE hs_homed (prefix text COLLATE "C" PRIMARY KEY);
      CREATE TABLE hs_templates (id text COLLATE "C" PRIMARY KEY, doc text NOT NULL);
      CREATE TABLE hs_txlog (
        seq bigint PRIMARY KEY,
        at bigint NOT NULL,
        op text NOT NULL,
        key text COLLATE "C" NOT NULL,
        name text,
        body text
      );
    `,
  },
];

function prefixOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

function misuse(message: string): IipError {
  return new IipError('IIP_ERR_STORAGE_TRANSACTION_MISUSE', message);
}

/** NULL when the spelling equals the key (the common case). */
function nameColumn(key: string, handle: string): string | null {
  return handle === key ? null : handle;
}

interface JsonValue {
  i: number;
  t: string;
  d: string;
  a: boolean;
  ttl: number;
  ts: number;
  r: Array<[string, number]>;
  p: [boolean, boolean, boolean, boolean];
}

function encodeValues(values: readonly StoredHandleValue[]): string {
  const out: JsonValue[] = values.map((v) => ({
    i: v.index,
    t: v.type,
    d: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64'),
    a: v.ttlType === 'absolute',
    ttl: v.ttl,
    ts: v.timestamp,
    r: v.references.map((r) => [r.handle, r.index]),
    p: [v.permissions.adminRead, v.permissions.adminWrite, v.permissions.publicRead, v.permissions.publicWrite],
  }));
  return JSON.stringify(out);
}

function decodeValues(vals: unknown): StoredHandleValue[] {
  const list = (typeof vals === 'string' ? JSON.parse(vals) : vals) as JsonValue[];
  return list.map((v) => ({
    index: v.i,
    type: v.t,
    data: new Uint8Array(Buffer.from(v.d, 'base64')),
    ttlType: v.a ? 'absolute' : 'relative',
    ttl: v.ttl,
    timestamp: v.ts,
    references: v.r.map(([handle, index]) => ({ handle, index })),
    permissions: { adminRead: v.p[0], adminWrite: v.p[1], publicRead: v.p[2], publicWrite: v.p[3] },
  }));
}

interface LogRow {
  seq: number;
  at: number;
  op: string;
  key: string;
  name: string | null;
  body: string | null;
  /** The current row, for a compacted put. */
  cur_name: string | null;
  cur_vals: unknown;
  cur_exists: boolean;
}

function toChange(r: LogRow): HandleChange {
  switch (r.op) {
    case 'put':
      if (r.body === null) {
        // A compacted put: the handle's current row is its newest state; gone already, it replays as a deletion.
        return r.cur_exists
          ? { seq: r.seq, at: r.at, op: 'put', key: r.key, record: { handle: r.cur_name ?? r.key, values: decodeValues(r.cur_vals) } }
          : { seq: r.seq, at: r.at, op: 'delete', key: r.key };
      }
      return { seq: r.seq, at: r.at, op: 'put', key: r.key, record: { handle: r.name ?? r.key, values: decodeValues(r.body) } };
    case 'delete':
      return { seq: r.seq, at: r.at, op: 'delete', key: r.key };
    case 'home':
    case 'unhome':
      return { seq: r.seq, at: r.at, op: r.op, prefix: r.key };
    case 'template-put':
      return { seq: r.seq, at: r.at, op: 'template-put', template: { id: r.key, document: JSON.parse(r.body ?? '{}') } };
    case 'template-delete':
      return { seq: r.seq, at: r.at, op: 'template-delete', id: r.key };
    default:
      throw new IipError('IIP_ERR_INTERNAL', `hs_txlog row ${r.seq} has unknown op ${r.op}`, {});
  }
}

/**
 * The operations, each given the connection to run on. Writes expect to run inside a transaction that holds
 * the write lock (`w` tracks the seq and whether homed prefixes changed).
 */
interface WriteState {
  seq: number;
  homedDirty: boolean;
  /** Replaying a primary's change: its seq and time are kept. */
  replay?: { seq: number; at: number };
}

async function q<R extends object>(c: Queryable, sql: string, params: unknown[] = []): Promise<R[]> {
  return (await c.query<R>(sql, params)).rows;
}

async function maxSeq(c: Queryable): Promise<number> {
  const [r] = await q<{ s: number | null }>(c, 'SELECT max(seq) AS s FROM hs_txlog');
  return r?.s ?? 0;
}

async function append(c: Queryable, w: WriteState, op: HandleChange['op'], key: string, name: string | null, body: string | null): Promise<void> {
  const seq = w.replay?.seq ?? w.seq + 1;
  await c.query('INSERT INTO hs_txlog (seq, at, op, key, name, body) VALUES ($1, $2, $3, $4, $5, $6)', [seq, w.replay?.at ?? Date.now(), op, key, name, body]);
  w.seq = seq;
}

async function getRow(c: Queryable, key: string): Promise<StoredHandle | undefined> {
  const [r] = await q<{ name: string | null; vals: unknown }>(c, 'SELECT name, vals FROM hs_handles WHERE key = $1', [key]);
  return r ? { handle: r.name ?? key, values: decodeValues(r.vals) } : undefined;
}

async function putRow(c: Queryable, w: WriteState, key: string, handle: string, vals: string): Promise<void> {
  const [r] = await q<{ inserted: boolean }>(
    c,
    `INSERT INTO hs_handles (key, name, vals) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (key) DO UPDATE SET name = excluded.name, vals = excluded.vals
     RETURNING (xmax = 0) AS inserted`,
    [key, nameColumn(key, handle), vals],
  );
  if (r?.inserted) await bump(c, prefixOf(key), 1);
  await append(c, w, 'put', key, handle, vals);
}

async function bump(c: Queryable, prefix: string, by: number): Promise<void> {
  await c.query('INSERT INTO hs_prefix_counts (prefix, n) VALUES ($1, $2) ON CONFLICT (prefix) DO UPDATE SET n = hs_prefix_counts.n + excluded.n', [prefix, by]);
}

async function deleteRow(c: Queryable, w: WriteState, key: string): Promise<boolean> {
  const res = await c.query('DELETE FROM hs_handles WHERE key = $1', [key]);
  if ((res.rowCount ?? 0) === 0) return false;
  await bump(c, prefixOf(key), -1);
  await append(c, w, 'delete', key, null, null);
  return true;
}

type ValueChange = (current: readonly StoredHandleValue[]) => StoredHandleValue[] | { reason: 'index-exists' | 'index-not-found'; index: number };

async function changeValues(c: Queryable, w: WriteState, key: string, change: ValueChange): Promise<ValueChangeResult> {
  const [row] = await q<{ name: string | null; vals: unknown }>(c, 'SELECT name, vals FROM hs_handles WHERE key = $1 FOR UPDATE', [key]);
  if (!row) return { ok: false, reason: 'handle-not-found' };
  const handle = row.name ?? key;
  const next = change(decodeValues(row.vals));
  if (!Array.isArray(next)) return { ok: false, ...next };
  await putRow(c, w, key, handle, encodeValues(next));
  return { ok: true, record: { handle, values: next } };
}

async function applyOne(c: Queryable, w: WriteState, ch: HandleChange): Promise<void> {
  switch (ch.op) {
    case 'put':
      await putRow(c, w, ch.key, ch.record.handle, encodeValues(ch.record.values));
      return;
    case 'delete':
      if (!(await deleteRow(c, w, ch.key))) await append(c, w, 'delete', ch.key, null, null);
      return;
    case 'home':
      await c.query('INSERT INTO hs_homed (prefix) VALUES ($1) ON CONFLICT DO NOTHING', [ch.prefix]);
      w.homedDirty = true;
      await append(c, w, 'home', ch.prefix, null, null);
      return;
    case 'unhome':
      await c.query('DELETE FROM hs_homed WHERE prefix = $1', [ch.prefix]);
      w.homedDirty = true;
      await append(c, w, 'unhome', ch.prefix, null, null);
      return;
    case 'template-put': {
      const doc = JSON.stringify(ch.template.document);
      await c.query('INSERT INTO hs_templates (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc', [ch.template.id, doc]);
      await append(c, w, 'template-put', ch.template.id, null, doc);
      return;
    }
    case 'template-delete':
      await c.query('DELETE FROM hs_templates WHERE id = $1', [ch.id]);
      await append(c, w, 'template-delete', ch.id, null, null);
      return;
  }
}

/** How a store object runs a read (on any connection) or a write (in a locked transaction). */
interface Runner {
  read<T>(op: (c: Queryable) => Promise<T>): Promise<T>;
  write<T>(op: (c: Queryable, w: WriteState) => Promise<T>): Promise<T>;
}

function bindStore(
  run: Runner,
  homed: () => ReadonlySet<string>,
  transaction: HandleStore['transaction'],
  close: () => Promise<void>,
  refreshHomed: () => Promise<void>,
): PgHandleStore {
  return {
    get: (key) => run.read((c) => getRow(c, key)),
    create: (key, record) =>
      run.write(async (c, w) => {
        const vals = encodeValues(record.values);
        const res = await c.query('INSERT INTO hs_handles (key, name, vals) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING', [
          key,
          nameColumn(key, record.handle),
          vals,
        ]);
        if ((res.rowCount ?? 0) === 0) return false;
        await bump(c, prefixOf(key), 1);
        await append(c, w, 'put', key, record.handle, vals);
        return true;
      }),
    put: (key, record) => run.write((c, w) => putRow(c, w, key, record.handle, encodeValues(record.values))),
    delete: (key) => run.write((c, w) => deleteRow(c, w, key)),
    addValues: (key, values) =>
      run.write((c, w) =>
        changeValues(c, w, key, (current) => {
          const taken = new Set(current.map((v) => v.index));
          for (const v of values) if (taken.has(v.index)) return { reason: 'index-exists', index: v.index };
          return [...current, ...values].sort((a, b) => a.index - b.index);
        }),
      ),
    removeValues: (key, indexes) =>
      run.write((c, w) =>
        changeValues(c, w, key, (current) => {
          const present = new Set(current.map((v) => v.index));
          for (const i of indexes) if (!present.has(i)) return { reason: 'index-not-found', index: i };
          const gone = new Set(indexes);
          return current.filter((v) => !gone.has(v.index));
        }),
      ),
    modifyValues: (key, values) =>
      run.write((c, w) =>
        changeValues(c, w, key, (current) => {
          const byIndex = new Map(values.map((v) => [v.index, v]));
          const present = new Set(current.map((v) => v.index));
          for (const v of values) if (!present.has(v.index)) return { reason: 'index-not-found', index: v.index };
          return current.map((v) => byIndex.get(v.index) ?? v);
        }),
      ),
    list: (prefix, page: HandleListPage) =>
      run.read(async (c) => {
        const lo = `${prefix}/`;
        // '0' is the byte after '/', so [prefix/, prefix0) is exactly the keys under this prefix.
        const hi = `${prefix}0`;
        const rows =
          page.after !== undefined
            ? await q<{ key: string; name: string | null }>(c, 'SELECT key, name FROM hs_handles WHERE key > $1 AND key < $2 ORDER BY key LIMIT $3', [
                page.after < lo ? lo : page.after,
                hi,
                page.limit,
              ])
            : await q<{ key: string; name: string | null }>(c, 'SELECT key, name FROM hs_handles WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3 OFFSET $4', [
                lo,
                hi,
                page.limit,
                page.offset ?? 0,
              ]);
        const [t] = await q<{ n: number }>(c, 'SELECT n FROM hs_prefix_counts WHERE prefix = $1', [prefix]);
        return { handles: rows.map((r) => r.name ?? r.key), keys: rows.map((r) => r.key), total: t?.n ?? 0 };
      }),
    scan: (after, limit) =>
      run.read(async (c) => {
        const rows =
          after === undefined
            ? await q<{ key: string; name: string | null; vals: unknown }>(c, 'SELECT key, name, vals FROM hs_handles ORDER BY key LIMIT $1', [limit])
            : await q<{ key: string; name: string | null; vals: unknown }>(c, 'SELECT key, name, vals FROM hs_handles WHERE key > $1 ORDER BY key LIMIT $2', [
                after,
                limit,
              ]);
        return rows.map((r) => ({ key: r.key, record: { handle: r.name ?? r.key, values: decodeValues(r.vals) } }));
      }),
    count: () =>
      run.read(async (c) => {
        const [r] = await q<{ n: number | null }>(c, 'SELECT sum(n)::bigint AS n FROM hs_prefix_counts');
        return r?.n ?? 0;
      }),
    homePrefix: (prefix) =>
      run.write(async (c, w) => {
        await c.query('INSERT INTO hs_homed (prefix) VALUES ($1) ON CONFLICT DO NOTHING', [prefix]);
        w.homedDirty = true;
        await append(c, w, 'home', prefix, null, null);
      }),
    unhomePrefix: (prefix) =>
      run.write(async (c, w) => {
        const res = await c.query('DELETE FROM hs_homed WHERE prefix = $1', [prefix]);
        if ((res.rowCount ?? 0) === 0) return false;
        w.homedDirty = true;
        await append(c, w, 'unhome', prefix, null, null);
        return true;
      }),
    homedPrefixes: homed,
    putTemplate: (template) =>
      run.write(async (c, w) => {
        const doc = JSON.stringify(template.document);
        await c.query('INSERT INTO hs_templates (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc', [template.id, doc]);
        await append(c, w, 'template-put', template.id, null, doc);
      }),
    getTemplate: (id) =>
      run.read(async (c) => {
        const [r] = await q<{ id: string; doc: string }>(c, 'SELECT id, doc FROM hs_templates WHERE id = $1', [id]);
        return r ? ({ id: r.id, document: JSON.parse(r.doc) } as StoredTemplate) : undefined;
      }),
    listTemplates: () =>
      run.read(async (c) =>
        (await q<{ id: string; doc: string }>(c, 'SELECT id, doc FROM hs_templates ORDER BY id')).map((r) => ({ id: r.id, document: JSON.parse(r.doc) })),
      ),
    deleteTemplate: (id) =>
      run.write(async (c, w) => {
        const res = await c.query('DELETE FROM hs_templates WHERE id = $1', [id]);
        if ((res.rowCount ?? 0) === 0) return false;
        await append(c, w, 'template-delete', id, null, null);
        return true;
      }),
    changesSince: (since, limit) =>
      run.read(async (c) =>
        (
          await q<LogRow>(
            c,
            `SELECT t.seq, t.at, t.op, t.key, t.name, t.body, h.name AS cur_name, h.vals AS cur_vals, (h.key IS NOT NULL) AS cur_exists
               FROM hs_txlog t LEFT JOIN hs_handles h ON t.op = 'put' AND t.body IS NULL AND h.key = t.key
              WHERE t.seq > $1 ORDER BY t.seq LIMIT $2`,
            [since, limit],
          )
        ).map(toChange),
      ),
    changedKeysSince: (since, limit) =>
      run.read((c) => q<{ seq: number; op: HandleChange['op']; key: string }>(c, 'SELECT seq, op, key FROM hs_txlog WHERE seq > $1 ORDER BY seq LIMIT $2', [since, limit])),
    compactLog: (upTo) =>
      run.write(async (c, w) => {
        const limit = upTo ?? w.seq;
        // The newest change per handle (put/delete), per prefix (home/unhome) and per template survives.
        const del = await c.query(
          `DELETE FROM hs_txlog WHERE seq <= $1 AND seq NOT IN (
             SELECT max(seq) FROM hs_txlog
              GROUP BY CASE WHEN op IN ('put', 'delete') THEN 'h' WHEN op IN ('home', 'unhome') THEN 'p' ELSE 't' END, key)`,
          [limit],
        );
        const strip = await c.query("UPDATE hs_txlog SET body = NULL, name = NULL WHERE seq <= $1 AND op = 'put' AND body IS NOT NULL", [limit]);
        const [r] = await q<{ n: number }>(c, 'SELECT count(*)::int AS n FROM hs_txlog');
        return { removed: del.rowCount ?? 0, stripped: strip.rowCount ?? 0, remaining: r?.n ?? 0 };
      }),
    lastSeq: () => run.read((c) => maxSeq(c)),
    applyChanges: (changes) =>
      run.write(async (c, w) => {
        for (const ch of changes) {
          if (ch.seq <= w.seq) continue;
          // The log keeps the primary's seq numbers, so this store can itself be a source further down.
          w.replay = { seq: ch.seq, at: ch.at };
          try {
            await applyOne(c, w, ch);
          } finally {
            w.replay = undefined;
          }
        }
        return w.seq;
      }),
    transaction,
    close,
    refreshHomed,
  };
}

export async function openPgHandleStore(opts: PgHandleStoreOptions): Promise<PgHandleStore> {
  const db = new PgDb({
    url: opts.url,
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  });
  try {
    await migrateSchema(db, redactUrl(opts.url), { table: 'hs_schema_migrations', lockKey: LOCK_HANDLE_MIGRATE, migrations: MIGRATIONS });
  } catch (e) {
    await db.close().catch(() => undefined);
    throw translate(e, `open ${redactUrl(opts.url)}`);
  }

  let homedSet: ReadonlySet<string> = new Set();
  const refreshHomed = async () => {
    homedSet = new Set((await db.rows<{ prefix: string }>('SELECT prefix FROM hs_homed')).map((r) => r.prefix));
  };
  await refreshHomed();

  /** Identifies the running transaction function (and what it awaits) to the outer store. */
  const context = new AsyncLocalStorage<object>();
  const openTx = new Set<object>();
  const insideOwnTx = () => {
    const token = context.getStore();
    return token !== undefined && openTx.has(token);
  };

  /** BEGIN, the write lock, the current seq: what every write transaction starts with. */
  const begin = async (c: Queryable): Promise<WriteState> => {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_HANDLE_WRITE]);
    return { seq: await maxSeq(c), homedDirty: false };
  };

  const outer: Runner = {
    read: (op) => db.withClient((c) => op(c)),
    write: async (op) => {
      if (insideOwnTx()) {
        throw misuse('A write went to the store from inside one of its transactions; write through the transaction (`tx`) instead.');
      }
      let dirty = false;
      const out = await db.withClient(async (c) => {
        const w = await begin(c);
        try {
          const r = await op(c, w);
          await c.query('COMMIT');
          dirty = w.homedDirty;
          return r;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
      if (dirty) await refreshHomed();
      return out;
    },
  };

  const transaction = async <T>(fn: (tx: HandleStore) => Promise<T>): Promise<T> => {
    if (insideOwnTx()) {
      throw misuse('A transaction was started on the store from inside one of its transactions; nest it with tx.transaction() instead.');
    }
    let dirty = false;
    try {
      return await db.withClient(async (c) => {
        const w = await begin(c);
        const token = {};
        openTx.add(token);
        const tx = txStore(c, w);
        try {
          const result = await context.run(token, () => fn(tx.store));
          await c.query('COMMIT');
          return result;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        } finally {
          tx.end();
          openTx.delete(token);
          dirty = w.homedDirty;
        }
      });
    } finally {
      if (dirty) await refreshHomed();
    }
  };

  /** A store bound to one open transaction (or a savepoint in it), usable until its function settles. */
  const txStore = (c: Queryable, w: WriteState): { store: PgHandleStore; end(): void } => {
    let open = true;
    let savepoints = 0;
    let nestedBusy: Promise<void> = Promise.resolve();
    const ended = () => misuse('A transaction (`tx`) was used after its function had settled; keep every call on `tx` inside that function and await it.');
    const run: Runner = {
      read: (op) => (open ? op(c) : Promise.reject(ended())),
      write: (op) => (open ? op(c, w) : Promise.reject(ended())),
    };
    const nested = async <T>(fn: (tx: HandleStore) => Promise<T>): Promise<T> => {
      if (!open) throw ended();
      // One savepoint at a time: a second waits for the first to settle.
      const before = nestedBusy;
      let done!: () => void;
      nestedBusy = new Promise((r) => {
        done = r;
      });
      await before;
      const name = `iip_sp_${++savepoints}`;
      const seqBefore = w.seq;
      const inner = txStore(c, w);
      try {
        await c.query(`SAVEPOINT ${name}`);
        try {
          const result = await fn(inner.store);
          await c.query(`RELEASE SAVEPOINT ${name}`);
          return result;
        } catch (e) {
          await c.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
          await c.query(`RELEASE SAVEPOINT ${name}`).catch(() => undefined);
          w.seq = seqBefore;
          throw e;
        }
      } finally {
        inner.end();
        done();
      }
    };
    const close = () => Promise.reject(misuse('A transaction (`tx`) cannot close the store; close the store itself once the transaction has ended.'));
    return {
      store: bindStore(run, () => homedSet, nested, close, refreshHomed),
      end: () => {
        open = false;
      },
    };
  };

  return bindStore(outer, () => homedSet, transaction, () => db.close(), refreshHomed);
}
