/**
 * The embedded HandleStore: one SQLite file per identifier node (WAL). A handle is one row of a
 * WITHOUT ROWID table keyed by its normalized name, its values packed into one binary blob — so a resolve
 * is one B-tree descent and one row, and listing a prefix is a range scan of the same key order. Every
 * change appends to `txlog` in the same transaction (the replication source). Why this layout, the page
 * size and the measured sizes are in docs/adr/0004-handle-storage.md.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import Database from 'better-sqlite3';
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

export interface SqliteHandleStoreOptions {
  /** Path of the node's database file; `:memory:` for throw-away use. */
  readonly file: string;
  /** Page cache in MiB (default 64). The hot set of a large node is its interior B-tree pages. */
  readonly cacheMiB?: number;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS handles (
    key TEXT PRIMARY KEY,
    name TEXT,
    vals BLOB NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS prefix_counts (prefix TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS homed (prefix TEXT PRIMARY KEY) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS templates (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS txlog (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    op TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT,
    body BLOB
  );
`;

/** The SQLite HandleStore also says, without a promise, which change it last committed (see `committedSeq`). */
export type SqliteHandleStore = HandleStore & {
  /**
   * The seq of the newest committed change, read from memory. Not part of the HandleStore port: a caching
   * reader (the identifier service) compares it on its hot path to notice changes it did not make itself
   * (a mirror applying a batch, a tool writing through the same store) without awaiting anything.
   */
  committedSeq(): number;
};

export function openSqliteHandleStore(opts: SqliteHandleStoreOptions): SqliteHandleStore {
  const db = new Database(opts.file);
  try {
    // Set before the first table exists; ignored on an existing file (see the ADR for why 8 KiB).
    db.pragma('page_size = 8192');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma(`cache_size = ${-1024 * (opts.cacheMiB ?? 64)}`);
    db.pragma('temp_store = MEMORY');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new IipError('IIP_ERR_STORAGE_SCHEMA_TOO_NEW', `Handle store ${opts.file} has schema ${version}; this iip knows ${SCHEMA_VERSION}.`, { file: opts.file });
    }
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return outerStore(new Engine(db));
  } catch (e) {
    db.close();
    throw e;
  }
}

function prefixOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

function misuse(message: string): IipError {
  return new IipError('IIP_ERR_STORAGE_TRANSACTION_MISUSE', message);
}

/** A FIFO lock: the holder runs, everyone else waits in order. */
class Mutex {
  held = false;
  private readonly waiting: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}

/** Runs a synchronous step as a promise: what it throws becomes a rejection, never a synchronous throw. */
function settle<T>(op: () => T): Promise<T> {
  try {
    return Promise.resolve(op());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * The one connection and what is kept in memory beside it. Every method is synchronous (better-sqlite3);
 * the store objects below put the port's promises and the transaction discipline around them.
 *
 * Concurrency: one asynchronous transaction at a time holds `lock` from BEGIN IMMEDIATE to COMMIT/ROLLBACK.
 * While it is held, every call on the outer store waits its turn (so nobody else writes into the open
 * transaction, and nobody reads what may still roll back) — except calls made from inside the transaction's
 * own function (told apart by `context`), which are refused: they would wait for themselves, and on this
 * one connection a read would see what may still roll back. They belong on `tx`. Without an open
 * transaction every call runs at once.
 */
class Engine {
  readonly homed = new Set<string>();
  /** The newest change written, committed or not. */
  seq: number;
  /** The newest committed change. */
  committed: number;
  /** An asynchronous transaction is open (BEGIN IMMEDIATE issued, not yet ended). */
  inAsyncTx = false;
  /** A home/unhome ran inside the open transaction: the in-memory set is reloaded when it ends. */
  homedDirty = false;
  readonly lock = new Mutex();
  /** Identifies the running transaction's function (and what it awaits) to the outer store. */
  readonly context = new AsyncLocalStorage<object>();
  current: object | undefined;
  private readonly st;

  constructor(readonly db: Database.Database) {
    this.st = {
      get: db.prepare<[string], Row>('SELECT name, vals FROM handles WHERE key = ?').raw(),
      insert: db.prepare('INSERT INTO handles (key, name, vals) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      upsert: db.prepare('INSERT INTO handles (key, name, vals) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name, vals = excluded.vals'),
      exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM handles WHERE key = ?'),
      del: db.prepare('DELETE FROM handles WHERE key = ?'),
      bump: db.prepare('INSERT INTO prefix_counts (prefix, n) VALUES (?, ?) ON CONFLICT (prefix) DO UPDATE SET n = n + excluded.n'),
      prefixCount: db.prepare<[string], { n: number }>('SELECT n FROM prefix_counts WHERE prefix = ?'),
      total: db.prepare<[], { n: number | null }>('SELECT sum(n) AS n FROM prefix_counts'),
      listOffset: db.prepare<[string, string, number, number], { key: string; name: string | null }>(
        'SELECT key, name FROM handles WHERE key >= ? AND key < ? ORDER BY key LIMIT ? OFFSET ?',
      ),
      listAfter: db.prepare<[string, string, number], { key: string; name: string | null }>('SELECT key, name FROM handles WHERE key > ? AND key < ? ORDER BY key LIMIT ?'),
      scanFirst: db.prepare<[number], [key: string, name: string | null, vals: Buffer]>('SELECT key, name, vals FROM handles ORDER BY key LIMIT ?').raw(),
      scanAfter: db.prepare<[string, number], [key: string, name: string | null, vals: Buffer]>('SELECT key, name, vals FROM handles WHERE key > ? ORDER BY key LIMIT ?').raw(),
      home: db.prepare('INSERT INTO homed (prefix) VALUES (?) ON CONFLICT DO NOTHING'),
      unhome: db.prepare('DELETE FROM homed WHERE prefix = ?'),
      allHomed: db.prepare<[], { prefix: string }>('SELECT prefix FROM homed'),
      putTemplate: db.prepare('INSERT INTO templates (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc'),
      getTemplate: db.prepare<[string], { id: string; doc: string }>('SELECT id, doc FROM templates WHERE id = ?'),
      listTemplates: db.prepare<[], { id: string; doc: string }>('SELECT id, doc FROM templates ORDER BY id'),
      delTemplate: db.prepare('DELETE FROM templates WHERE id = ?'),
      log: db.prepare('INSERT INTO txlog (seq, at, op, key, name, body) VALUES (?, ?, ?, ?, ?, ?)'),
      since: db.prepare<[number, number], LogRow>('SELECT seq, at, op, key, name, body FROM txlog WHERE seq > ? ORDER BY seq LIMIT ?'),
      sinceKeys: db.prepare<[number, number], { seq: number; op: HandleChange['op']; key: string }>('SELECT seq, op, key FROM txlog WHERE seq > ? ORDER BY seq LIMIT ?'),
      // The newest change per handle (put/delete), per prefix (home/unhome) and per template survives.
      compactDelete: db.prepare<[number]>(
        `DELETE FROM txlog WHERE seq <= ? AND seq NOT IN (
           SELECT max(seq) FROM txlog GROUP BY CASE WHEN op IN ('put', 'delete') THEN 'h' WHEN op IN ('home', 'unhome') THEN 'p' ELSE 't' END, key)`,
      ),
      compactStrip: db.prepare<[number]>("UPDATE txlog SET body = NULL, name = NULL WHERE seq <= ? AND op = 'put' AND body IS NOT NULL"),
      logCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM txlog'),
      maxSeq: db.prepare<[], { s: number | null }>('SELECT max(seq) AS s FROM txlog'),
    };
    this.reloadHomed();
    this.seq = this.st.maxSeq.get()?.s ?? 0;
    this.committed = this.seq;
  }

  /**
   * One atomic step: its own transaction, or a savepoint inside the open asynchronous transaction
   * (better-sqlite3 nests by itself). On failure the in-memory seq follows what SQLite rolled back, or the
   * next change would leave a gap and lastSeq() would name a change that never was.
   */
  atomic<T>(fn: () => T): T {
    let out: T;
    try {
      out = this.db.transaction(fn)();
    } catch (e) {
      this.resync();
      throw e;
    }
    if (!this.inAsyncTx) {
      this.committed = this.seq;
      if (this.homedDirty) this.reloadHomed();
    }
    return out;
  }

  /** After a rollback (of a step, a savepoint or a transaction): seq and homed as the database has them. */
  resync(): void {
    if (!this.db.open) return;
    this.seq = this.st.maxSeq.get()?.s ?? 0;
    if (!this.inAsyncTx) {
      this.committed = this.seq;
      this.reloadHomed();
    }
  }

  reloadHomed(): void {
    this.homed.clear();
    for (const r of this.st.allHomed.all()) this.homed.add(r.prefix);
    this.homedDirty = false;
  }

  get(key: string): StoredHandle | undefined {
    const row = this.st.get.get(key);
    return row ? { handle: row[0] ?? key, values: decodeValues(row[1]) } : undefined;
  }

  create(key: string, record: StoredHandle): boolean {
    return this.atomic(() => {
      const vals = encodeValues(record.values);
      if (this.st.insert.run(key, nameColumn(key, record.handle), vals).changes === 0) return false;
      this.st.bump.run(prefixOf(key), 1);
      this.append('put', key, record.handle, vals);
      return true;
    });
  }

  put(key: string, record: StoredHandle): void {
    this.atomic(() => this.putRow(key, record.handle, encodeValues(record.values)));
  }

  private putRow(key: string, handle: string, vals: Buffer): void {
    const isNew = this.st.exists.get(key) === undefined;
    this.st.upsert.run(key, nameColumn(key, handle), vals);
    if (isNew) this.st.bump.run(prefixOf(key), 1);
    this.append('put', key, handle, vals);
  }

  delete(key: string): boolean {
    return this.atomic(() => this.deleteRow(key));
  }

  private deleteRow(key: string): boolean {
    if (this.st.del.run(key).changes === 0) return false;
    this.st.bump.run(prefixOf(key), -1);
    this.append('delete', key, null, null);
    return true;
  }

  addValues(key: string, values: readonly StoredHandleValue[]): ValueChangeResult {
    return this.changeValues(key, (current) => {
      const taken = new Set(current.map((v) => v.index));
      for (const v of values) if (taken.has(v.index)) return { reason: 'index-exists', index: v.index };
      return [...current, ...values].sort((a, b) => a.index - b.index);
    });
  }

  removeValues(key: string, indexes: readonly number[]): ValueChangeResult {
    return this.changeValues(key, (current) => {
      const present = new Set(current.map((v) => v.index));
      for (const i of indexes) if (!present.has(i)) return { reason: 'index-not-found', index: i };
      const gone = new Set(indexes);
      return current.filter((v) => !gone.has(v.index));
    });
  }

  modifyValues(key: string, values: readonly StoredHandleValue[]): ValueChangeResult {
    return this.changeValues(key, (current) => {
      const byIndex = new Map(values.map((v) => [v.index, v]));
      const present = new Set(current.map((v) => v.index));
      for (const v of values) if (!present.has(v.index)) return { reason: 'index-not-found', index: v.index };
      return current.map((v) => byIndex.get(v.index) ?? v);
    });
  }

  private changeValues(
    key: string,
    change: (current: readonly StoredHandleValue[]) => StoredHandleValue[] | { reason: 'index-exists' | 'index-not-found'; index: number },
  ): ValueChangeResult {
    return this.atomic(() => {
      const current = this.get(key);
      if (!current) return { ok: false, reason: 'handle-not-found' } as const;
      const next = change(current.values);
      if (!Array.isArray(next)) return { ok: false, ...next } as const;
      const record: StoredHandle = { handle: current.handle, values: next };
      this.putRow(key, current.handle, encodeValues(next));
      return { ok: true, record } as const;
    });
  }

  list(prefix: string, page: HandleListPage): { handles: string[]; keys: string[]; total: number } {
    const lo = `${prefix}/`;
    // '0' is the byte after '/', so [prefix/, prefix0) is exactly the keys under this prefix.
    const hi = `${prefix}0`;
    const rows = page.after !== undefined ? this.st.listAfter.all(page.after < lo ? lo : page.after, hi, page.limit) : this.st.listOffset.all(lo, hi, page.limit, page.offset ?? 0);
    return {
      handles: rows.map((r) => r.name ?? r.key),
      keys: rows.map((r) => r.key),
      total: this.st.prefixCount.get(prefix)?.n ?? 0,
    };
  }

  scan(after: string | undefined, limit: number): Array<{ key: string; record: StoredHandle }> {
    const rows = after === undefined ? this.st.scanFirst.all(limit) : this.st.scanAfter.all(after, limit);
    return rows.map(([key, name, vals]) => ({ key, record: { handle: name ?? key, values: decodeValues(vals) } }));
  }

  count(): number {
    return this.st.total.get()?.n ?? 0;
  }

  homePrefix(prefix: string): void {
    this.atomic(() => {
      this.st.home.run(prefix);
      this.homedDirty = true;
      this.append('home', prefix, null, null);
    });
  }

  unhomePrefix(prefix: string): boolean {
    return this.atomic(() => {
      if (this.st.unhome.run(prefix).changes === 0) return false;
      this.homedDirty = true;
      this.append('unhome', prefix, null, null);
      return true;
    });
  }

  putTemplate(template: StoredTemplate): void {
    this.atomic(() => {
      const doc = JSON.stringify(template.document);
      this.st.putTemplate.run(template.id, doc);
      this.append('template-put', template.id, null, Buffer.from(doc, 'utf8'));
    });
  }

  getTemplate(id: string): StoredTemplate | undefined {
    const row = this.st.getTemplate.get(id);
    return row ? { id: row.id, document: JSON.parse(row.doc) } : undefined;
  }

  listTemplates(): StoredTemplate[] {
    return this.st.listTemplates.all().map((r) => ({ id: r.id, document: JSON.parse(r.doc) }));
  }

  deleteTemplate(id: string): boolean {
    return this.atomic(() => {
      if (this.st.delTemplate.run(id).changes === 0) return false;
      this.append('template-delete', id, null, null);
      return true;
    });
  }

  changesSince(since: number, limit: number): HandleChange[] {
    return this.st.since.all(since, limit).map((r) => {
      if (r.op !== 'put' || r.body !== null) return toChange(r);
      // A compacted put: the handle's current row is its newest state (a later change, if any, follows in
      // the log and says the same or deletes it). Gone already: replay it as the deletion it became.
      const current = this.get(r.key);
      return current ? { seq: r.seq, at: r.at, op: 'put', key: r.key, record: current } : { seq: r.seq, at: r.at, op: 'delete', key: r.key };
    });
  }

  compactLog(upTo: number = this.seq): { removed: number; stripped: number; remaining: number } {
    return this.atomic(() => {
      const removed = this.st.compactDelete.run(upTo).changes;
      const stripped = this.st.compactStrip.run(upTo).changes;
      return { removed, stripped, remaining: this.st.logCount.get()?.n ?? 0 };
    });
  }

  changedKeysSince(since: number, limit: number): Array<{ seq: number; op: HandleChange['op']; key: string }> {
    return this.st.sinceKeys.all(since, limit);
  }

  applyChanges(changes: readonly HandleChange[]): number {
    try {
      this.atomic(() => {
        for (const c of changes) {
          if (c.seq <= this.seq) continue;
          // The log keeps the primary's seq numbers, so this store can itself be a source further down.
          this.nextSeq = c.seq;
          this.nextAt = c.at;
          this.applyOne(c);
        }
      });
    } finally {
      this.nextSeq = undefined;
      this.nextAt = undefined;
    }
    return this.seq;
  }

  private applyOne(c: HandleChange): void {
    switch (c.op) {
      case 'put':
        this.putRow(c.key, c.record.handle, encodeValues(c.record.values));
        return;
      case 'delete':
        if (!this.deleteRow(c.key)) this.append('delete', c.key, null, null);
        return;
      case 'home':
        this.st.home.run(c.prefix);
        this.homedDirty = true;
        this.append('home', c.prefix, null, null);
        return;
      case 'unhome':
        this.st.unhome.run(c.prefix);
        this.homedDirty = true;
        this.append('unhome', c.prefix, null, null);
        return;
      case 'template-put': {
        const doc = JSON.stringify(c.template.document);
        this.st.putTemplate.run(c.template.id, doc);
        this.append('template-put', c.template.id, null, Buffer.from(doc, 'utf8'));
        return;
      }
      case 'template-delete':
        this.st.delTemplate.run(c.id);
        this.append('template-delete', c.id, null, null);
        return;
    }
  }

  private nextSeq: number | undefined;
  private nextAt: number | undefined;

  private append(op: HandleChange['op'], key: string, name: string | null, body: Buffer | null): void {
    const seq = this.nextSeq ?? this.seq + 1;
    this.st.log.run(seq, this.nextAt ?? Date.now(), op, key, name, body);
    this.seq = seq;
  }
}

/** How a store object runs one synchronous step: `write` says whether it changes anything. */
type Runner = <T>(write: boolean, op: () => T) => Promise<T>;

/** The port over the engine; `run` decides when (and whether) a step may run. */
function bindStore(e: Engine, run: Runner, transaction: HandleStore['transaction'], close: () => Promise<void>): SqliteHandleStore {
  return {
    get: (key) => run(false, () => e.get(key)),
    create: (key, record) => run(true, () => e.create(key, record)),
    put: (key, record) => run(true, () => e.put(key, record)),
    delete: (key) => run(true, () => e.delete(key)),
    addValues: (key, values) => run(true, () => e.addValues(key, values)),
    removeValues: (key, indexes) => run(true, () => e.removeValues(key, indexes)),
    modifyValues: (key, values) => run(true, () => e.modifyValues(key, values)),
    list: (prefix, page) => run(false, () => e.list(prefix, page)),
    scan: (after, limit) => run(false, () => e.scan(after, limit)),
    count: () => run(false, () => e.count()),
    homePrefix: (prefix) => run(true, () => e.homePrefix(prefix)),
    unhomePrefix: (prefix) => run(true, () => e.unhomePrefix(prefix)),
    homedPrefixes: () => e.homed,
    putTemplate: (template) => run(true, () => e.putTemplate(template)),
    getTemplate: (id) => run(false, () => e.getTemplate(id)),
    listTemplates: () => run(false, () => e.listTemplates()),
    deleteTemplate: (id) => run(true, () => e.deleteTemplate(id)),
    changesSince: (since, limit) => run(false, () => e.changesSince(since, limit)),
    changedKeysSince: (since, limit) => run(false, () => e.changedKeysSince(since, limit)),
    compactLog: (upTo) => run(true, () => e.compactLog(upTo)),
    lastSeq: () => run(false, () => e.seq),
    applyChanges: (changes) => run(true, () => e.applyChanges(changes)),
    committedSeq: () => e.committed,
    transaction,
    close,
  };
}

/** The store callers open: serialised against the open asynchronous transaction, if any. */
function outerStore(e: Engine): SqliteHandleStore {
  const run: Runner = (write, op) => {
    if (!e.lock.held) return settle(op);
    if (e.current !== undefined && e.context.getStore() === e.current) {
      // Called from inside the transaction's own function: waiting would wait for itself.
      return Promise.reject(
        misuse(`A ${write ? 'write' : 'read'} went to the store from inside one of its transactions; go through the transaction (\`tx\`) instead.`),
      );
    }
    return e.lock.acquire().then(() => {
      try {
        return op();
      } finally {
        e.lock.release();
      }
    });
  };
  const transaction = async <T>(fn: (tx: HandleStore) => Promise<T>): Promise<T> => {
    if (e.lock.held && e.current !== undefined && e.context.getStore() === e.current) {
      throw misuse('A transaction was started on the store from inside one of its transactions; nest it with tx.transaction() instead.');
    }
    await e.lock.acquire();
    try {
      e.db.exec('BEGIN IMMEDIATE');
      e.inAsyncTx = true;
      const token = {};
      e.current = token;
      const tx = txStore(e);
      try {
        const result = await e.context.run(token, () => fn(tx.store));
        e.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (e.db.open && e.db.inTransaction) e.db.exec('ROLLBACK');
        throw err;
      } finally {
        tx.end();
        e.current = undefined;
        e.inAsyncTx = false;
        e.resync();
      }
    } finally {
      e.lock.release();
    }
  };
  const close = async () => {
    await e.lock.acquire();
    try {
      if (e.db.open) e.db.close();
    } finally {
      e.lock.release();
    }
  };
  return bindStore(e, run, transaction, close);
}

/**
 * A store bound to the open transaction (or a savepoint in it): its steps run at once on the connection,
 * until the function it was handed to settles. Nested transactions are savepoints, one at a time (a second
 * one waits for the first to settle).
 */
function txStore(e: Engine): { store: SqliteHandleStore; end(): void } {
  let open = true;
  const nested = new Mutex();
  let savepoints = 0;
  const ended = () => misuse('A transaction (`tx`) was used after its function had settled; keep every call on `tx` inside that function and await it.');
  // Steps on a transaction that has a savepoint open become part of the savepoint (one connection).
  const run: Runner = (_write, op) => (open ? settle(op) : Promise.reject(ended()));
  const transaction = async <T>(fn: (tx: HandleStore) => Promise<T>): Promise<T> => {
    if (!open) throw ended();
    await nested.acquire();
    const name = `iip_sp_${++savepoints}`;
    const inner = txStore(e);
    try {
      e.db.exec(`SAVEPOINT ${name}`);
      try {
        const result = await fn(inner.store);
        e.db.exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        if (e.db.open && e.db.inTransaction) {
          e.db.exec(`ROLLBACK TO ${name}`);
          e.db.exec(`RELEASE ${name}`);
        }
        e.resync();
        throw err;
      }
    } finally {
      inner.end();
      nested.release();
    }
  };
  const close = () => Promise.reject(misuse('A transaction (`tx`) cannot close the store; close the store itself once the transaction has ended.'));
  return {
    store: bindStore(e, run, transaction, close),
    end: () => {
      open = false;
    },
  };
}

type Row = [name: string | null, vals: Buffer];

/** NULL when the spelling equals the key (the common case): saves the name's bytes on every row. */
function nameColumn(key: string, handle: string): string | null {
  return handle === key ? null : handle;
}

interface LogRow {
  seq: number;
  at: number;
  op: string;
  key: string;
  name: string | null;
  body: Buffer | null;
}

function toChange(r: LogRow): HandleChange {
  switch (r.op) {
    case 'put':
      return { seq: r.seq, at: r.at, op: 'put', key: r.key, record: { handle: r.name ?? r.key, values: decodeValues(r.body ?? Buffer.alloc(0)) } };
    case 'delete':
      return { seq: r.seq, at: r.at, op: 'delete', key: r.key };
    case 'home':
    case 'unhome':
      return { seq: r.seq, at: r.at, op: r.op, prefix: r.key };
    case 'template-put':
      return { seq: r.seq, at: r.at, op: 'template-put', template: { id: r.key, document: JSON.parse((r.body ?? Buffer.alloc(0)).toString('utf8')) } };
    case 'template-delete':
      return { seq: r.seq, at: r.at, op: 'template-delete', id: r.key };
    default:
      throw new IipError('IIP_ERR_INTERNAL', `txlog row ${r.seq} has unknown op ${r.op}`, {});
  }
}

// ---- value blob: version byte, u16 count, then per value
//   u32 index, u8 flags (bit0 absolute TTL, bits1–4 adminRead/adminWrite/publicRead/publicWrite),
//   u32 ttl, u32 timestamp, u16+bytes type, u32+bytes data, u16 refs × (u16+bytes handle, u32 index).
// Big-endian, like the protocol; a private format of this adapter, versioned so it can change.
const BLOB_VERSION = 1;

function encodeValues(values: readonly StoredHandleValue[]): Buffer {
  let size = 3;
  const types: Buffer[] = [];
  const refs: Buffer[][] = [];
  for (const v of values) {
    const t = Buffer.from(v.type, 'utf8');
    types.push(t);
    const r = v.references.map((ref) => Buffer.from(ref.handle, 'utf8'));
    refs.push(r);
    size += 4 + 1 + 4 + 4 + 2 + t.length + 4 + v.data.byteLength + 2;
    for (const b of r) size += 2 + b.length + 4;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = BLOB_VERSION;
  out.writeUInt16BE(values.length, 1);
  let at = 3;
  values.forEach((v, i) => {
    const p = v.permissions;
    at = out.writeUInt32BE(v.index >>> 0, at);
    at = out.writeUInt8(
      (v.ttlType === 'absolute' ? 1 : 0) | (p.adminRead ? 2 : 0) | (p.adminWrite ? 4 : 0) | (p.publicRead ? 8 : 0) | (p.publicWrite ? 16 : 0),
      at,
    );
    at = out.writeUInt32BE(v.ttl >>> 0, at);
    at = out.writeUInt32BE(v.timestamp >>> 0, at);
    const t = types[i] as Buffer;
    at = out.writeUInt16BE(t.length, at);
    at += t.copy(out, at);
    at = out.writeUInt32BE(v.data.byteLength, at);
    out.set(v.data, at);
    at += v.data.byteLength;
    const r = refs[i] as Buffer[];
    at = out.writeUInt16BE(r.length, at);
    r.forEach((b, j) => {
      at = out.writeUInt16BE(b.length, at);
      at += b.copy(out, at);
      at = out.writeUInt32BE((v.references[j]?.index ?? 0) >>> 0, at);
    });
  });
  return out;
}

function decodeValues(buf: Buffer): StoredHandleValue[] {
  if (buf.length === 0) return [];
  if (buf[0] !== BLOB_VERSION) throw new IipError('IIP_ERR_INTERNAL', `handle value blob version ${buf[0]} is unknown`, {});
  const n = buf.readUInt16BE(1);
  const out: StoredHandleValue[] = new Array(n);
  let at = 3;
  for (let i = 0; i < n; i++) {
    const index = buf.readUInt32BE(at);
    const flags = buf[at + 4] as number;
    const ttl = buf.readUInt32BE(at + 5);
    const timestamp = buf.readUInt32BE(at + 9);
    const tl = buf.readUInt16BE(at + 13);
    at += 15;
    const type = buf.toString('utf8', at, at + tl);
    at += tl;
    const dl = buf.readUInt32BE(at);
    at += 4;
    // A view, not a copy: better-sqlite3 hands every row its own freshly allocated buffer, and the txlog
    // reader below gets one per row too, so nothing else ever writes these bytes.
    const data = new Uint8Array(buf.buffer, buf.byteOffset + at, dl);
    at += dl;
    const rc = buf.readUInt16BE(at);
    at += 2;
    const references: { handle: string; index: number }[] = [];
    for (let j = 0; j < rc; j++) {
      const hl = buf.readUInt16BE(at);
      const handle = buf.toString('utf8', at + 2, at + 2 + hl);
      at += 2 + hl;
      references.push({ handle, index: buf.readUInt32BE(at) });
      at += 4;
    }
    out[i] = {
      index,
      type,
      data,
      ttlType: flags & 1 ? 'absolute' : 'relative',
      ttl,
      timestamp,
      references,
      permissions: { adminRead: (flags & 2) !== 0, adminWrite: (flags & 4) !== 0, publicRead: (flags & 8) !== 0, publicWrite: (flags & 16) !== 0 },
    };
  }
  return out;
}
