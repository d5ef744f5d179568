/**
 * The HandleService of one identifier node over its HandleStore: decides responsibility (the node answers
 * only for prefixes it homes; a top-level node also for `0.NA/…` prefix handles), authorises every change
 * from the HS_ADMIN values of the handle (creation from those of its prefix handle `0.NA/<prefix>`),
 * filters what a caller may read, validates values, and checks handles registered against a data template.
 * A node in the `mirror` role serves reads from its replicated store and refuses every write.
 */
import { randomUUID } from 'node:crypto';
import type { HandleStore, StoredHandle } from '@iip/storage';
import { encodeAdminData } from '../model/admin-data.js';
import { HandleError } from '../model/handle-error.js';
import { normalizeHandle, parseHandle, prefixChain, prefixHandle } from '../model/handle-name.js';
import type { HandleService, HandleSiteInfo, NodeRole, ResolveQuery } from '../model/handle-service.js';
import {
  ALL_ADMIN_PERMISSIONS,
  AdminPermission,
  DEFAULT_TTL_SECONDS,
  HS_ADMIN,
  HS_PUBKEY,
  HS_SECKEY,
  type HandleReference,
  type HandleValue,
  type Identity,
} from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import { type DataTemplate, IIP_TEMPLATE, TEMPLATE_VALUE_INDEX, parseDataTemplate, validateAgainstTemplate } from '../templates/data-template.js';
import { permissionsOf } from './admin-authority.js';
import { AnswerCache, type AnswerRenderer, type PublicAnswerSource, type PublicAnswers } from './public-answers.js';
import { RecordCache, type RecordCacheStats } from './record-cache.js';
import { validateValues } from './value-validation.js';

export interface LocalHandleServiceOptions {
  readonly store: HandleStore;
  readonly role: NodeRole;
  readonly site: HandleSiteInfo;
  /** Unix milliseconds; values get their timestamp from it. */
  readonly now?: () => number;
  /** Identities that may do anything on this node (home prefixes, create templates) — the node operator. */
  readonly rootAdmins?: readonly HandleReference[];
  /**
   * Records kept decoded for resolution (LRU; default 65,536, 0 = none). Checked against the store's change
   * sequence on every read and emptied by every write through this service, so an answer is never stale.
   */
  readonly cacheEntries?: number;
  /**
   * Pre-rendered anonymous answers kept per front end (UDP/TCP, REST): entries per cache, default 1,000,000
   * (≈ 150–250 bytes each); 0 turns them off. Kept in step with the transaction log, handle by handle.
   */
  readonly answerEntries?: number;
}

export interface WarmAnswersOptions {
  /** Records read per step; the event loop runs between steps (default 2,000). */
  readonly chunk?: number;
  readonly onProgress?: (read: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface BootstrapOptions {
  readonly store: HandleStore;
  /** The prefix this node homes, e.g. `88.118`. */
  readonly prefix: string;
  /** The admin identity, e.g. `0.NA/88.118` with index 300. */
  readonly adminHandle: string;
  readonly adminIndex: number;
  readonly secretKey: Uint8Array;
  readonly now?: () => number;
}

export interface BatchItem {
  readonly handle: string;
  readonly values: readonly HandleValue[];
  readonly templateId?: string;
}

export interface BatchError {
  readonly code: string;
  readonly responseCode: number;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** `aborted`: the item was fine but an atomic batch was rolled back because item `abortedBy` failed. */
export type BatchResult =
  | { readonly handle: string; readonly ok: true }
  | { readonly handle: string; readonly ok: false; readonly error: BatchError }
  | { readonly handle: string; readonly ok: false; readonly aborted: true; readonly abortedBy: number };

const TOP_LEVEL_PREFIX = '0.na';
/** More changes than this since the answer caches were last in step, and they are emptied instead. */
const MAX_INVALIDATION_READ = 100_000;
const PERMS_SECRET = { adminRead: false, adminWrite: true, publicRead: false, publicWrite: false } as const;
const PERMS_PUBLIC = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false } as const;

function fail(code: number, message: string, details: Record<string, unknown> = {}): HandleError {
  return new HandleError(code, message, details);
}

/** What an anonymous caller gets of a handle: its public values, never a secret key. */
function publicValues(values: readonly HandleValue[]): HandleValue[] {
  return values.filter((v) => v.type !== HS_SECKEY && v.permissions.publicRead);
}

/** A value an administrator may read and an anonymous caller may not (secret keys are read by nobody). */
function isRestricted(v: HandleValue): boolean {
  return v.type !== HS_SECKEY && !v.permissions.publicRead && v.permissions.adminRead;
}

function hasRestricted(values: readonly HandleValue[]): boolean {
  return values.some(isRestricted);
}

function requireParsed(handle: string): { prefix: string; suffix: string } {
  const parsed = parseHandle(handle);
  if (!parsed) throw fail(ResponseCode.INVALID_HANDLE, `"${handle.slice(0, 80)}" is not a handle: use prefix/suffix (at most 1024 bytes).`, { handle: handle.slice(0, 200) });
  return parsed;
}

export class LocalHandleService implements HandleService, PublicAnswerSource {
  readonly role: NodeRole;
  private readonly store: HandleStore;
  private readonly site: HandleSiteInfo;
  private readonly now: () => number;
  private readonly rootAdmins: readonly HandleReference[];
  private readonly cache: RecordCache;
  private readonly inTransaction: () => boolean;
  /** Responsibility per (normalized) prefix, valid while the store's change sequence stays `homesSeq`. */
  private readonly homesMemo = new Map<string, boolean>();
  private homesSeq = -1;
  private readonly answerCaches = new Set<AnswerCache>();
  private readonly answerEntries: number;
  /** The change seq the answer caches reflect. */
  private answersSeq = -1;
  private readonly lookup = (ref: HandleReference): HandleValue | undefined =>
    this.store.get(normalizeHandle(ref.handle))?.values.find((v) => v.index === ref.index);

  constructor(opts: LocalHandleServiceOptions) {
    this.store = opts.store;
    this.role = opts.role;
    this.site = opts.site;
    this.now = opts.now ?? Date.now;
    this.rootAdmins = opts.rootAdmins ?? [];
    this.cache = new RecordCache(opts.cacheEntries ?? 65_536);
    this.answerEntries = opts.answerEntries ?? 1_000_000;
    // Not part of the HandleStore port: adapters that can tell (the SQLite one) say whether a transaction
    // is open; with one that cannot, no resolve is cached at all, which is slow but never wrong.
    const probe = (opts.store as Partial<{ inTransaction(): boolean }>).inTransaction;
    this.inTransaction = probe ? () => probe.call(opts.store) : () => true;
  }

  /** Hits, misses and size of the resolution cache (for tests, benchmarks and metrics). */
  cacheStats(): RecordCacheStats {
    return this.cache.stats();
  }

  // ---- pre-rendered public answers

  publicAnswers(render: AnswerRenderer): PublicAnswers {
    const cache = new AnswerCache(render, this.answerEntries);
    // A new, empty cache is in step with any seq; caches already there are brought to the current one first.
    if (this.answerCaches.size === 0) this.answersSeq = this.store.lastSeq();
    else this.syncAnswers();
    this.answerCaches.add(cache);
    return {
      get: (handle) => this.answer(cache, handle),
      stats: () => cache.stats(),
      dispose: () => {
        this.answerCaches.delete(cache);
        cache.clear();
      },
    };
  }

  /**
   * Brings every answer cache in step with the store: drops the handles changed since, or everything after a
   * home/unhome (responsibility changed), a rollback (seq went down) or a gap too long to read. False while
   * a transaction is open (what it wrote may still roll back), and then no cache is used.
   */
  private syncAnswers(): boolean {
    if (this.answerCaches.size === 0) return true;
    if (this.inTransaction()) return false;
    const seq = this.store.lastSeq();
    if (seq === this.answersSeq) return true;
    const from = this.answersSeq;
    this.answersSeq = seq;
    const clearAll = () => {
      for (const c of this.answerCaches) c.clear();
    };
    if (from < 0 || seq < from) {
      clearAll();
      return true;
    }
    const changed = this.store.changedKeysSince(from, MAX_INVALIDATION_READ + 1);
    if (changed.length > MAX_INVALIDATION_READ) {
      clearAll();
      return true;
    }
    for (const c of changed) {
      if (c.op === 'put' || c.op === 'delete') {
        for (const cache of this.answerCaches) cache.delete(c.key);
      } else if (c.op === 'home' || c.op === 'unhome') {
        clearAll();
        break;
      }
    }
    return true;
  }

  private answer(cache: AnswerCache, handle: string): string | undefined {
    if (!this.syncAnswers()) return undefined;
    const key = normalizeHandle(handle);
    const hit = cache.peek(key);
    if (hit !== undefined) {
      cache.hits++;
      return hit;
    }
    cache.misses++;
    let rendered: string;
    try {
      // What resolve(handle, {}, null) returns: the public values (see publicValues()).
      const rec = this.readRecord(this.assertResponsible(handle).key);
      if (!rec) return undefined;
      rendered = cache.render(publicValues(rec.values), hasRestricted(rec.values));
    } catch {
      // Not found, not ours, not renderable (too many values for one message…): the full path says why.
      return undefined;
    }
    cache.set(key, rendered, true);
    return rendered;
  }

  /**
   * Fills the answer caches from the store in key order, a chunk at a time with the event loop running in
   * between, until every cache is full or the store is read; resolution goes on meanwhile. Returns how many
   * records were read and how many answers were added. A node calls it after its listeners are up.
   */
  async warmPublicAnswers(opts: WarmAnswersOptions = {}): Promise<{ read: number; added: number; seconds: number }> {
    const t0 = Date.now();
    const chunk = Math.max(1, opts.chunk ?? 2_000);
    const total = this.store.count();
    let after: string | undefined;
    let read = 0;
    let added = 0;
    const room = () => [...this.answerCaches].some((c) => c.size < c.capacity);
    while (this.answerCaches.size > 0 && room() && !opts.signal?.aborted) {
      if (this.syncAnswers()) {
        const page = this.store.scan(after, chunk);
        if (page.length === 0) break;
        for (const { key, record } of page) {
          if (!this.homesKey(key)) continue;
          const values = publicValues(record.values);
          const restricted = hasRestricted(record.values);
          for (const cache of this.answerCaches) {
            let rendered: string;
            try {
              rendered = cache.render(values, restricted);
            } catch {
              continue; // left to the full path, which will say why
            }
            if (cache.set(key, rendered, false)) added++;
          }
        }
        read += page.length;
        after = page[page.length - 1]?.key;
        opts.onProgress?.(read, total);
      }
      await new Promise<void>((r) => setImmediate(r));
    }
    return { read, added, seconds: (Date.now() - t0) / 1000 };
  }

  /** Whether this node answers for the stored (normalized) key. */
  private homesKey(key: string): boolean {
    const slash = key.indexOf('/');
    if (slash <= 0) return false;
    const np = key.slice(0, slash);
    return np === TOP_LEVEL_PREFIX ? this.homes(key.slice(slash + 1), true) : this.homes(np, false);
  }

  /** A read for resolution: through the cache, which the store's change sequence keeps honest. */
  private readRecord(key: string): StoredHandle | undefined {
    // What a read inside an open transaction sees may still roll back, and the change number it carries
    // would then be reused by the next commit: such reads bypass the cache.
    if (this.inTransaction()) return this.store.get(key);
    const stamp = this.store.lastSeq();
    const hit = this.cache.get(key, stamp);
    if (hit !== undefined) return hit ?? undefined;
    const rec = this.store.get(key);
    this.cache.set(key, rec ?? null, stamp);
    return rec;
  }

  /** Runs a write; whatever happened, nothing read before or during it stays cached. */
  private written<T>(fn: () => T): T {
    try {
      return fn();
    } finally {
      this.cache.clear();
      this.homesMemo.clear();
    }
  }

  /**
   * Prepares a node's store for its first start: the prefix handle `0.NA/<prefix>` with an HS_ADMIN granting
   * every permission to `adminIndex:adminHandle`, that identity's HS_SECKEY, and the prefix homed. Running it
   * again leaves existing records alone (so `iip id serve` may call it on every start) but re-homes the prefix.
   */
  static bootstrap(opts: BootstrapOptions): void {
    const ts = Math.floor((opts.now ?? Date.now)() / 1000);
    const store = opts.store;
    const admin: HandleReference = { handle: opts.adminHandle, index: opts.adminIndex };
    const value = (index: number, type: string, data: Uint8Array, permissions: HandleValue['permissions']): HandleValue => ({
      index,
      type,
      data,
      ttlType: 'relative',
      ttl: DEFAULT_TTL_SECONDS,
      timestamp: ts,
      references: [],
      permissions,
    });
    const adminValue = (index: number) => value(index, HS_ADMIN, encodeAdminData({ admin, permissions: ALL_ADMIN_PERMISSIONS }), PERMS_PUBLIC);
    const secret = value(opts.adminIndex, HS_SECKEY, opts.secretKey, PERMS_SECRET);
    const prefixRecord = prefixHandle(opts.prefix);
    const sameHandle = normalizeHandle(opts.adminHandle) === normalizeHandle(prefixRecord);
    const adminIndexForPrefix = opts.adminIndex === 100 ? 101 : 100;
    store.transaction(() => {
      const prefixValues = [adminValue(adminIndexForPrefix), ...(sameHandle ? [secret] : [])];
      store.create(normalizeHandle(prefixRecord), { handle: prefixRecord, values: prefixValues });
      if (!sameHandle) {
        requireParsed(opts.adminHandle);
        store.create(normalizeHandle(opts.adminHandle), { handle: opts.adminHandle, values: [adminValue(adminIndexForPrefix), secret] });
      }
      if (!store.homedPrefixes().has(normalizeHandle(opts.prefix))) store.homePrefix(normalizeHandle(opts.prefix));
    });
  }

  // ---- responsibility

  /** Throws SERVER_NOT_RESP unless this node homes the handle's prefix (or a parent of it). */
  private assertResponsible(handle: string): { key: string; prefix: string } {
    const { prefix, suffix } = requireParsed(handle);
    const key = normalizeHandle(handle);
    const np = normalizeHandle(prefix);
    if (this.homes(np === TOP_LEVEL_PREFIX ? normalizeHandle(suffix) : np, np === TOP_LEVEL_PREFIX)) return { key, prefix: np };
    throw fail(ResponseCode.SERVER_NOT_RESP, `This node does not home the prefix of ${handle}.`, { handle, role: this.role });
  }

  private homes(prefix: string, isPrefixHandle: boolean): boolean {
    const seq = this.store.lastSeq();
    if (seq !== this.homesSeq) {
      this.homesMemo.clear();
      this.homesSeq = seq;
    }
    const memoKey = isPrefixHandle ? `/${prefix}` : prefix;
    let yes = this.homesMemo.get(memoKey);
    if (yes === undefined) {
      yes = this.computeHomes(prefix, isPrefixHandle);
      // Bounded: responsibility is asked for per prefix, and prefixes are few; a flood of unknown ones resets it.
      if (this.homesMemo.size >= 4096) this.homesMemo.clear();
      this.homesMemo.set(memoKey, yes);
    }
    return yes;
  }

  private computeHomes(prefix: string, isPrefixHandle: boolean): boolean {
    const homed = this.store.homedPrefixes();
    // Prefix handles live at the top level; a node that homes a prefix also keeps its own 0.NA record.
    if (isPrefixHandle && (this.role === 'top-level' || homed.has(TOP_LEVEL_PREFIX))) return true;
    return prefixChain(prefix).some((p) => homed.has(p));
  }

  private assertWritable(op: string): void {
    if (this.role === 'mirror') {
      throw fail(ResponseCode.OPERATION_NOT_SUPPORTED, `This node is a read-only mirror; send ${op} to the primary node of the prefix.`, { op, role: 'mirror' });
    }
  }

  // ---- authorisation

  private isRoot(who: Identity): boolean {
    if (!who) return false;
    const k = normalizeHandle(who.handle);
    return this.rootAdmins.some((r) => normalizeHandle(r.handle) === k && (r.index === 0 || r.index === who.index));
  }

  private requireIdentity(who: Identity, op: string): HandleReference {
    if (!who) throw fail(ResponseCode.AUTHENTICATION_NEEDED, `${op} needs an authenticated administrator.`, { op });
    return who;
  }

  private demand(values: readonly HandleValue[], who: Identity, bit: number, op: string, target: string): void {
    const id = this.requireIdentity(who, op);
    if (this.isRoot(id)) return;
    if ((permissionsOf(values, id, this.lookup) & bit) !== bit) {
      throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `${id.index}:${id.handle} may not ${op} on ${target}.`, { op, target, permission: bit });
    }
  }

  /** The HS_ADMIN values that govern a prefix: those of the nearest `0.NA/<p>` record stored here. */
  private prefixAdminValues(prefix: string, includeSelf = true): { values: readonly HandleValue[]; record: string } {
    const chain = prefixChain(prefix);
    for (const p of includeSelf ? chain : chain.slice(1)) {
      const rec = this.store.get(normalizeHandle(prefixHandle(p)));
      if (rec) return { values: rec.values, record: prefixHandle(p) };
    }
    return { values: [], record: prefixHandle(prefix) };
  }

  private demandOnPrefix(prefix: string, who: Identity, bit: number, op: string, includeSelf = true): void {
    const { values, record } = this.prefixAdminValues(prefix, includeSelf);
    this.demand(values, who, bit, op, record);
  }

  /** Creating `0.NA/<p>` is creating a prefix: ADD_NA on a parent prefix handle; anything else needs ADD_HANDLE. */
  private demandCreate(handle: string, prefix: string, who: Identity): void {
    if (prefix === TOP_LEVEL_PREFIX) {
      const suffix = requireParsed(handle).suffix;
      this.demandOnPrefix(normalizeHandle(suffix), who, AdminPermission.ADD_NA, 'create prefix', false);
    } else {
      this.demandOnPrefix(prefix, who, AdminPermission.ADD_HANDLE, 'create handle');
    }
  }

  private demandValueChange(current: readonly HandleValue[], who: Identity, kind: 'add' | 'remove' | 'modify', changed: readonly HandleValue[], target: string): void {
    const id = this.requireIdentity(who, `${kind} values`);
    if (this.isRoot(id)) return;
    const bits = permissionsOf(current, id, this.lookup);
    for (const v of changed) {
      const admin = v.type === HS_ADMIN;
      const bit =
        kind === 'add'
          ? admin
            ? AdminPermission.ADD_ADMIN
            : AdminPermission.ADD_VALUE
          : kind === 'remove'
            ? admin
              ? AdminPermission.REMOVE_ADMIN
              : AdminPermission.REMOVE_VALUE
            : admin
              ? AdminPermission.MODIFY_ADMIN
              : AdminPermission.MODIFY_VALUE;
      if ((bits & bit) !== bit) {
        throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `${id.index}:${id.handle} may not ${kind} ${v.type} value ${v.index} of ${target}.`, { op: kind, index: v.index, permission: bit });
      }
      // RFC 3651: a value whose admin-write bit is off cannot be changed by any administrator.
      if (kind !== 'add' && !v.permissions.adminWrite) {
        throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `Value ${v.index} of ${target} is not admin-writable.`, { op: kind, index: v.index });
      }
    }
  }

  // ---- reads

  resolve(handle: string, query: ResolveQuery, who: Identity): HandleValue[] {
    const { key } = this.assertResponsible(handle);
    const rec = this.readRecord(key);
    if (!rec) throw fail(ResponseCode.HANDLE_NOT_FOUND, `Handle ${handle} not found.`, { handle });
    const types = query.types?.length ? new Set(query.types) : undefined;
    const indexes = query.indexes?.length ? new Set(query.indexes) : undefined;
    const wanted = types || indexes ? rec.values.filter((v) => (types?.has(v.type) ?? false) || (indexes?.has(v.index) ?? false)) : rec.values;
    if (wanted.length === 0) throw fail(ResponseCode.VALUES_NOT_FOUND, `Handle ${handle} has no values of the requested types/indexes.`, { handle });
    let canAdminRead: boolean | undefined;
    const visible = wanted.filter((v) => {
      // Secret keys are for challenge–response only; no caller gets them back.
      if (v.type === HS_SECKEY) return false;
      if (v.permissions.publicRead) return true;
      if (!v.permissions.adminRead || !who) return false;
      canAdminRead ??= this.isRoot(who) || (permissionsOf(rec.values, who, this.lookup) & AdminPermission.READ_VALUE) !== 0;
      return canAdminRead;
    });
    if (!who && query.strict && wanted.some(isRestricted)) {
      throw fail(ResponseCode.AUTHENTICATION_NEEDED, `${handle} has values only administrators may read; authenticate, or ask for public values only.`, { handle });
    }
    if (visible.length === 0 && (types || indexes)) {
      if (!who) throw fail(ResponseCode.AUTHENTICATION_NEEDED, `The requested values of ${handle} are not public; authenticate as an administrator.`, { handle });
      throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `${who.index}:${who.handle} may not read the requested values of ${handle}.`, { handle });
    }
    return visible;
  }

  listHandles(prefix: string, who: Identity, page: { offset: number; limit: number }): { handles: string[]; total: number } {
    const np = normalizeHandle(prefix);
    if (!this.homes(np, false)) throw fail(ResponseCode.SERVER_NOT_RESP, `This node does not home prefix ${prefix}.`, { prefix });
    this.demandOnPrefix(np, who, AdminPermission.LIST_HANDLES, 'list handles');
    const limit = Math.max(0, Math.min(page.limit, 10_000));
    const { handles, total } = this.store.list(np, { offset: Math.max(0, page.offset), limit });
    return { handles, total };
  }

  listHomedPrefixes(): string[] {
    return [...this.store.homedPrefixes()].sort();
  }

  siteInfo(): HandleSiteInfo {
    return this.site;
  }

  secretKeyOf(identity: { handle: string; index: number }): Uint8Array | undefined {
    const v = this.lookup(identity);
    return v?.type === HS_SECKEY ? v.data : undefined;
  }

  publicKeysOf(identity: { handle: string; index: number }): Array<{ index: number; data: Uint8Array }> {
    const values = this.store.get(normalizeHandle(identity.handle))?.values ?? [];
    return values.filter((v) => v.type === HS_PUBKEY && (identity.index === 0 || v.index === identity.index)).map((v) => ({ index: v.index, data: v.data }));
  }

  // ---- writes

  /**
   * Values as stored: timestamped by this node's clock (never the client's — Handle.Net's server does the
   * same), in index order. Every write path (create/overwrite, add, modify, templates, batches; REST and the
   * binary protocol alike) comes through here; a mirror's replicated records do not, and keep the primary's.
   */
  private stamp(values: readonly HandleValue[]): HandleValue[] {
    const ts = Math.floor(this.now() / 1000);
    return values.map((v) => ({ ...v, timestamp: ts })).sort((a, b) => a.index - b.index);
  }

  create(handle: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean; mintNewSuffix?: boolean } = {}): string {
    return this.written(() => this.createNow(handle, values, who, opts));
  }

  private createNow(handle: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean; mintNewSuffix?: boolean }): string {
    this.assertWritable('create');
    if (opts.mintNewSuffix) return this.createMinted(handle, values, who);
    const { key, prefix } = this.assertResponsible(handle);
    // Stamped before validation: what is checked is what is stored, whatever timestamp the client sent.
    const next = this.stamp(values);
    validateValues(next);
    return this.store.transaction(() => {
      const current = this.store.get(key);
      if (current) {
        if (!opts.overwrite) throw fail(ResponseCode.HANDLE_ALREADY_EXISTS, `Handle ${handle} already exists.`, { handle });
        this.demandOverwrite(current, next, who, handle);
        this.checkTemplate(next);
        this.store.put(key, { handle: current.handle, values: next });
        return current.handle;
      }
      this.demandCreate(handle, prefix, who);
      this.checkTemplate(next);
      this.store.create(key, { handle, values: next });
      return handle;
    });
  }

  /** Handle.Net's overwrite replaces every value: the caller needs the right to add, change and drop each. */
  private demandOverwrite(current: StoredHandle, next: readonly HandleValue[], who: Identity, handle: string): void {
    const before = new Map(current.values.map((v) => [v.index, v]));
    const after = new Set(next.map((v) => v.index));
    this.demandValueChange(current.values, who, 'add', next.filter((v) => !before.has(v.index)), handle);
    this.demandValueChange(current.values, who, 'modify', next.filter((v) => before.has(v.index)).map((v) => before.get(v.index) as HandleValue), handle);
    this.demandValueChange(current.values, who, 'remove', current.values.filter((v) => !after.has(v.index)), handle);
  }

  private createMinted(handle: string, values: readonly HandleValue[], who: Identity): string {
    const base = handle.includes('/') ? handle : `${handle}/`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const minted = `${base}${randomUUID()}`;
      try {
        return this.create(minted, values, who);
      } catch (e) {
        if (!(e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_ALREADY_EXISTS)) throw e;
      }
    }
    throw fail(ResponseCode.ERROR, `Could not mint a free suffix under ${handle}.`, { handle });
  }

  delete(handle: string, who: Identity): void {
    this.assertWritable('delete');
    const { key } = this.assertResponsible(handle);
    this.requireIdentity(who, 'delete');
    this.written(() =>
      this.store.transaction(() => {
        const current = this.existing(key, handle);
        this.demand(current.values, who, AdminPermission.DELETE_HANDLE, 'delete', handle);
        this.store.delete(key);
      }),
    );
  }

  addValues(handle: string, values: readonly HandleValue[], who: Identity): void {
    this.changeValues(
      handle,
      who,
      'add',
      () => values,
      (current) => {
        const added = this.stamp(values);
        validateValues(added, new Set(current.map((v) => v.index)));
        return [...current, ...added];
      },
    );
  }

  removeValues(handle: string, indexes: readonly number[], who: Identity): void {
    const gone = new Set(indexes);
    this.changeValues(
      handle,
      who,
      'remove',
      (current) => current.filter((v) => gone.has(v.index)),
      (current) => {
        const missing = indexes.find((i) => !current.some((v) => v.index === i));
        if (missing !== undefined) throw fail(ResponseCode.VALUES_NOT_FOUND, `Handle ${handle} has no value ${missing}.`, { handle, index: missing });
        return current.filter((v) => !gone.has(v.index));
      },
    );
  }

  modifyValues(handle: string, values: readonly HandleValue[], who: Identity): void {
    const indexes = new Set(values.map((v) => v.index));
    this.changeValues(
      handle,
      who,
      'modify',
      // Authorised against the values being replaced: their type and admin-write bit decide.
      (current) => current.filter((v) => indexes.has(v.index)),
      (current) => {
        const stamped = this.stamp(values);
        validateValues(stamped);
        const missing = values.find((v) => !current.some((c) => c.index === v.index));
        if (missing) throw fail(ResponseCode.VALUES_NOT_FOUND, `Handle ${handle} has no value ${missing.index} to modify.`, { handle, index: missing.index });
        const replaced = new Map(stamped.map((v) => [v.index, v]));
        return current.map((v) => replaced.get(v.index) ?? v);
      },
    );
  }

  /** Authentication, then permission for the values touched, then the content checks — as Handle.Net orders them. */
  private changeValues(
    handle: string,
    who: Identity,
    kind: 'add' | 'remove' | 'modify',
    touched: (current: readonly HandleValue[]) => readonly HandleValue[],
    plan: (current: readonly HandleValue[]) => HandleValue[],
  ): void {
    this.assertWritable(`${kind} values`);
    const { key } = this.assertResponsible(handle);
    this.requireIdentity(who, `${kind} values`);
    this.written(() =>
      this.store.transaction(() => {
        const current = this.existing(key, handle);
        this.demandValueChange(current.values, who, kind, touched(current.values), handle);
        const next = plan(current.values);
        this.checkTemplate(next);
        next.sort((a, b) => a.index - b.index);
        this.store.put(key, { handle: current.handle, values: next });
      }),
    );
  }

  private existing(key: string, handle: string): StoredHandle {
    const rec = this.store.get(key);
    if (!rec) throw fail(ResponseCode.HANDLE_NOT_FOUND, `Handle ${handle} not found.`, { handle });
    return rec;
  }

  homePrefix(prefix: string, who: Identity): void {
    this.assertWritable('home prefix');
    const np = normalizeHandle(prefix);
    if (np.length === 0 || np.includes('/')) throw fail(ResponseCode.INVALID_HANDLE, `"${prefix}" is not a prefix.`, { prefix });
    this.demandOnPrefix(np, who, AdminPermission.ADD_NA, 'home prefix');
    this.written(() => this.store.homePrefix(np));
  }

  unhomePrefix(prefix: string, who: Identity): void {
    this.assertWritable('unhome prefix');
    const np = normalizeHandle(prefix);
    this.demandOnPrefix(np, who, AdminPermission.DELETE_NA, 'unhome prefix');
    if (!this.written(() => this.store.unhomePrefix(np))) throw fail(ResponseCode.SERVER_NOT_RESP, `Prefix ${prefix} is not homed here.`, { prefix });
  }

  // ---- data templates (not part of the HandleService port: REST and the CLI call them directly)

  /** Creates or replaces (same id) a template. Needs a node root admin or ADD_HANDLE on a homed prefix. */
  createTemplate(input: unknown, who: Identity): DataTemplate {
    this.assertWritable('create template');
    const template = parseDataTemplate(input);
    this.demandTemplateAdmin(who);
    this.store.putTemplate({ id: template.id, document: { ...template } });
    return template;
  }

  private demandTemplateAdmin(who: Identity): void {
    const id = this.requireIdentity(who, 'create template');
    if (this.isRoot(id)) return;
    for (const p of this.store.homedPrefixes()) {
      const { values } = this.prefixAdminValues(p);
      if ((permissionsOf(values, id, this.lookup) & AdminPermission.ADD_HANDLE) !== 0) return;
    }
    throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `${id.index}:${id.handle} may not define templates on this node.`, { op: 'create template' });
  }

  listTemplates(): DataTemplate[] {
    return this.store.listTemplates().map((t) => t.document as unknown as DataTemplate);
  }

  getTemplate(id: string): DataTemplate | undefined {
    return this.store.getTemplate(id)?.document as unknown as DataTemplate | undefined;
  }

  private requireTemplate(id: string): DataTemplate {
    const t = this.getTemplate(id);
    if (!t) throw new HandleError(ResponseCode.INVALID_VALUE, `No data template ${id} on this node.`, { template: id, rule: 'template' }, 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');
    return t;
  }

  /** The template registry in the shape the REST routes take (`TemplateApi`). */
  templateApi(): {
    list(): DataTemplate[];
    get(id: string): DataTemplate | undefined;
    define(template: unknown, who: Identity): DataTemplate;
    validate(templateId: string, values: readonly HandleValue[]): void;
  } {
    return {
      list: () => this.listTemplates(),
      get: (id) => this.getTemplate(id),
      define: (t, who) => this.createTemplate(t, who),
      validate: (id, values) => validateAgainstTemplate(this.requireTemplate(id), values),
    };
  }

  /** A handle carrying an IIP_TEMPLATE value is checked against that template on every write. */
  private checkTemplate(values: readonly HandleValue[]): void {
    const marker = values.find((v) => v.type === IIP_TEMPLATE);
    if (!marker) return;
    validateAgainstTemplate(this.requireTemplate(new TextDecoder().decode(marker.data)), values);
  }

  /** Registers a handle against a template: adds the IIP_TEMPLATE value (index 1999) and validates. */
  createWithTemplate(handle: string, templateId: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean } = {}): string {
    this.requireTemplate(templateId);
    const marker: HandleValue = {
      index: TEMPLATE_VALUE_INDEX,
      type: IIP_TEMPLATE,
      data: new TextEncoder().encode(templateId),
      ttlType: 'relative',
      ttl: DEFAULT_TTL_SECONDS,
      timestamp: 0,
      references: [],
      permissions: PERMS_PUBLIC,
    };
    const rest = values.filter((v) => v.type !== IIP_TEMPLATE);
    if (rest.some((v) => v.index === TEMPLATE_VALUE_INDEX)) {
      throw fail(ResponseCode.INVALID_VALUE, `Index ${TEMPLATE_VALUE_INDEX} is reserved for the IIP_TEMPLATE value.`, { index: TEMPLATE_VALUE_INDEX, field: 'index' });
    }
    return this.create(handle, [...rest, marker], who, opts);
  }

  /**
   * Registers many handles. Default: per item — each succeeds or fails on its own and the results say which
   * (all in one SQLite transaction for speed, each item in its own savepoint). With `atomic: true` the first
   * failure rolls every item back; its result carries the error and every other item reports `aborted`.
   */
  batchRegister(items: readonly BatchItem[], who: Identity, opts: { atomic?: boolean } = {}): BatchResult[] {
    // Items clear the cache as they go, but the outer transaction may still roll them back afterwards.
    return this.written(() => this.batchRegisterNow(items, who, opts));
  }

  private batchRegisterNow(items: readonly BatchItem[], who: Identity, opts: { atomic?: boolean }): BatchResult[] {
    this.assertWritable('batch register');
    const one = (item: BatchItem): void => {
      if (item.templateId !== undefined) this.createWithTemplate(item.handle, item.templateId, item.values, who);
      else this.create(item.handle, item.values, who);
    };
    if (!opts.atomic) {
      return this.store.transaction(() =>
        items.map((item): BatchResult => {
          try {
            this.store.transaction(() => one(item));
            return { handle: item.handle, ok: true };
          } catch (e) {
            return errorResult(item.handle, e);
          }
        }),
      );
    }
    let failedAt = -1;
    let failure: BatchResult | undefined;
    try {
      this.store.transaction(() => {
        items.forEach((item, i) => {
          try {
            one(item);
          } catch (e) {
            failedAt = i;
            failure = errorResult(item.handle, e);
            throw e;
          }
        });
      });
    } catch (e) {
      if (failedAt < 0 || !failure) throw e;
      const failed = failure;
      const by = failedAt;
      return items.map((item, i): BatchResult => (i === by ? failed : { handle: item.handle, ok: false, aborted: true, abortedBy: by }));
    }
    return items.map((item) => ({ handle: item.handle, ok: true }));
  }
}

function errorResult(handle: string, e: unknown): BatchResult {
  if (e instanceof HandleError) return { handle, ok: false, error: { code: e.code, responseCode: e.responseCode, message: e.message, details: e.details } };
  throw e;
}
