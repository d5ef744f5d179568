/**
 * The storage port of an identifier (Handle) node: handle records keyed by their normalized name, the
 * prefixes the node homes, data templates, and a transaction log that every change is appended to in the
 * same transaction, so a mirror can replay it in order. `StoredHandleValue` is the Handle data model's value
 * (RFC 3651); @iip/identifiers uses it as its `HandleValue`, so the shape is defined once. All authorisation
 * and validation happen in the service; the store only keeps what it is given, atomically.
 *
 * Keys: every `key` argument is the normalized handle (ASCII letters folded to lower case, nothing else
 * touched) and every `prefix` is normalized the same way; the caller normalizes, the store compares bytes.
 *
 * Every method returns a promise (a server engine can stand behind the port) except homedPrefixes(), which
 * the adapter keeps in memory because every resolve consults it.
 */

export interface StoredHandleValue {
  /** Unique within the handle, > 0. */
  readonly index: number;
  /** UTF-8 type name, e.g. URL, EMAIL, HS_ADMIN, HS_SITE, or a template item type. */
  readonly type: string;
  /** Raw value data as it travels in the protocol (UTF-8 text for text types; binary for HS_ADMIN, HS_SITE…). */
  readonly data: Uint8Array;
  /** 'relative' = seconds a cache may keep it; 'absolute' = expiry time in Unix seconds. */
  readonly ttlType: 'relative' | 'absolute';
  /** 0 … 2^32−1 (the protocol's 4-byte field). */
  readonly ttl: number;
  /** Unix seconds, 0 … 2^32−1. */
  readonly timestamp: number;
  readonly references: ReadonlyArray<{ readonly handle: string; readonly index: number }>;
  readonly permissions: { readonly adminRead: boolean; readonly adminWrite: boolean; readonly publicRead: boolean; readonly publicWrite: boolean };
}

export interface StoredHandle {
  /** The handle as first written (its spelling is kept for listing; lookups use the key). */
  readonly handle: string;
  readonly values: readonly StoredHandleValue[];
}

/** A data template as the service defines it; the store keeps it as a JSON document under its id. */
export interface StoredTemplate {
  readonly id: string;
  readonly document: Readonly<Record<string, unknown>>;
}

/** One entry of the transaction log. `put` carries the whole record after the change, so replay is idempotent. */
export type HandleChange =
  | { readonly seq: number; readonly at: number; readonly op: 'put'; readonly key: string; readonly record: StoredHandle }
  | { readonly seq: number; readonly at: number; readonly op: 'delete'; readonly key: string }
  | { readonly seq: number; readonly at: number; readonly op: 'home' | 'unhome'; readonly prefix: string }
  | { readonly seq: number; readonly at: number; readonly op: 'template-put'; readonly template: StoredTemplate }
  | { readonly seq: number; readonly at: number; readonly op: 'template-delete'; readonly id: string };

/** Outcome of a value-level change; the service turns a refusal into the matching Handle response code. */
export type ValueChangeResult =
  | { readonly ok: true; readonly record: StoredHandle }
  | { readonly ok: false; readonly reason: 'handle-not-found' }
  | { readonly ok: false; readonly reason: 'index-exists' | 'index-not-found'; readonly index: number };

export interface HandleListPage {
  readonly limit: number;
  /** Rows to skip; costs O(offset). For deep paging pass `after` (the last key of the previous page) instead. */
  readonly offset?: number;
  readonly after?: string;
}

export interface HandleStore {
  get(key: string): Promise<StoredHandle | undefined>;
  /** False (and no change) when the key exists. */
  create(key: string, record: StoredHandle): Promise<boolean>;
  /** Creates or replaces the whole record. */
  put(key: string, record: StoredHandle): Promise<void>;
  /** False when absent. */
  delete(key: string): Promise<boolean>;
  /** All values are added or none (an existing index refuses the whole call). */
  addValues(key: string, values: readonly StoredHandleValue[]): Promise<ValueChangeResult>;
  removeValues(key: string, indexes: readonly number[]): Promise<ValueChangeResult>;
  /** Replaces values with the same indexes; all must exist. */
  modifyValues(key: string, values: readonly StoredHandleValue[]): Promise<ValueChangeResult>;
  /** Handles whose prefix (the part before the first `/`) is exactly `prefix`, in key order. */
  list(prefix: string, page: HandleListPage): Promise<{ readonly handles: string[]; readonly keys: string[]; readonly total: number }>;
  /**
   * Up to `limit` records in key order, all prefixes, starting after `after` (from the first key when
   * undefined): a sequential read for warming in-memory answers at start. O(limit) per page.
   */
  scan(after: string | undefined, limit: number): Promise<Array<{ readonly key: string; readonly record: StoredHandle }>>;
  /** Number of handles stored (all prefixes); O(1). */
  count(): Promise<number>;

  homePrefix(prefix: string): Promise<void>;
  unhomePrefix(prefix: string): Promise<boolean>;
  /** The homed prefixes, kept in memory by the adapter: consulted on every resolve. */
  homedPrefixes(): ReadonlySet<string>;

  putTemplate(template: StoredTemplate): Promise<void>;
  getTemplate(id: string): Promise<StoredTemplate | undefined>;
  listTemplates(): Promise<StoredTemplate[]>;
  deleteTemplate(id: string): Promise<boolean>;

  /** Changes with seq > `since`, oldest first, at most `limit`. */
  changesSince(since: number, limit: number): Promise<HandleChange[]>;
  /**
   * What changed after `since`, without the records: seq, op and the handle key (prefix for home/unhome,
   * template id for template changes), oldest first, at most `limit`. For invalidating caches cheaply.
   */
  changedKeysSince(since: number, limit: number): Promise<Array<{ readonly seq: number; readonly op: HandleChange['op']; readonly key: string }>>;
  /**
   * Compacts the transaction log up to `upTo` (default: everything): removes every change superseded by a
   * later change of the same handle (prefix, template) and drops the record copies kept in `put` changes,
   * which the feed then reads from the current row. lastSeq() and what a mirror ends up with are unchanged;
   * a mirror that is behind receives each changed handle's newest state instead of every intermediate one.
   * Deletions stay in the log (a mirror behind must learn them).
   */
  compactLog(upTo?: number): Promise<{ readonly removed: number; readonly stripped: number; readonly remaining: number }>;
  /** The seq of the newest change written or applied; 0 for an empty store. */
  lastSeq(): Promise<number>;
  /**
   * Applies changes replicated from a primary, keeping their seq numbers, in one transaction; changes at or
   * below lastSeq() are skipped, so re-applying a batch is harmless. Returns the new lastSeq().
   */
  applyChanges(changes: readonly HandleChange[]): Promise<number>;
  /**
   * Runs `fn` in one transaction: everything it writes through `tx` (a store bound to the transaction)
   * commits together or not at all; a rejection of `fn` rolls back. Calls on the outer store from inside
   * `fn` are not part of the transaction (PostgreSQL runs them on another connection).
   */
  transaction<T>(fn: (tx: HandleStore) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
