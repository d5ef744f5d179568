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
import { type ValueLookup, permissionsOf } from './admin-authority.js';
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
   * Records kept decoded for resolution (LRU; default 65,536, 0 = none). Emptied by every write through this
   * service and by every change it learns of (see refresh()), so an answer is never stale.
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
  /** Responsibility per (normalized) prefix; emptied with the record cache. */
  private readonly homesMemo = new Map<string, boolean>();
  private readonly answerCaches = new Set<AnswerCache>();
  private readonly answerEntries: number;
  /**
   * The store's committed change number, read without a promise, when the store can tell (the SQLite one
   * can: SqliteHandleStore.committedSeq). Compared on every cached answer, it catches changes this service
   * did not make (a mirror's batches, a tool writing to the same store). A store that cannot tell relies on
   * refresh() being called after such changes; the service's own writes refresh by themselves.
   */
  private readonly committedSeq: (() => number) | undefined;
  /** The change seq the caches reflect; -1 before the first catch-up. */
  private seenSeq = -1;
  /**
   * Bumped whenever something cached may have gone stale (a write begins or ends, a change is learnt of). A
   * read that awaited the store caches its result only when the generation is still the one it began in.
   */
  private gen = 0;
  private syncing: Promise<void> | undefined;

  constructor(opts: LocalHandleServiceOptions) {
    this.store = opts.store;
    this.role = opts.role;
    this.site = opts.site;
    this.now = opts.now ?? Date.now;
    this.rootAdmins = opts.rootAdmins ?? [];
    this.cache = new RecordCache(opts.cacheEntries ?? 65_536);
    this.answerEntries = opts.answerEntries ?? 1_000_000;
    // Not part of the HandleStore port (see the field).
    const probe = (opts.store as Partial<{ committedSeq(): number }>).committedSeq;
    this.committedSeq = probe ? () => probe.call(opts.store) : undefined;
  }

  /** A read through this store's handles: one value of a handle, for group membership. */
  private lookupIn(store: HandleStore): ValueLookup {
    return async (ref) => (await store.get(normalizeHandle(ref.handle)))?.values.find((v) => v.index === ref.index);
  }

  // ---- keeping the caches in step with the store

  /** Whether the caches reflect everything the store is known to have committed. */
  private fresh(): boolean {
    return this.seenSeq >= 0 && (this.committedSeq === undefined || this.committedSeq() === this.seenSeq);
  }

  /** Resolves once the caches are in step (at once, without reading, when they already are). */
  private ready(): Promise<void> | undefined {
    return this.fresh() ? undefined : this.sync();
  }

  /** One catch-up at a time; callers arriving meanwhile share it. */
  private sync(): Promise<void> {
    this.syncing ??= this.catchUp().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /**
   * Brings the caches in step with everything the store has committed by now: drops the handles changed
   * since they were last in step (everything after a home/unhome or a gap too long to read). The service
   * calls it after each of its own writes; call it after changing the store behind the service's back when
   * the store cannot say so itself (see LocalHandleService's `committedSeq` probe) — a mirror's onApplied.
   */
  async refresh(): Promise<void> {
    // A catch-up already running may have read the log before the change the caller knows of.
    const running = this.syncing;
    if (running) await running.catch(() => undefined);
    await this.sync();
  }

  private async catchUp(): Promise<void> {
    const from = this.seenSeq;
    const restart = async () => {
      const seq = await this.store.lastSeq();
      this.forgetAll();
      this.seenSeq = seq;
    };
    if (from < 0) return restart();
    const changed = await this.store.changedKeysSince(from, MAX_INVALIDATION_READ + 1);
    if (changed.length > MAX_INVALIDATION_READ) return restart();
    if (changed.length === 0) {
      // Nothing after `from`, yet the store says otherwise (say, it was swapped or rebuilt): start over.
      if (this.committedSeq !== undefined && this.committedSeq() !== from) return restart();
      return;
    }
    this.forgetRecords();
    for (const c of changed) {
      if (c.op === 'put' || c.op === 'delete') {
        for (const cache of this.answerCaches) cache.delete(c.key);
      } else if (c.op === 'home' || c.op === 'unhome') {
        for (const cache of this.answerCaches) cache.clear();
        break;
      }
    }
    this.seenSeq = (changed[changed.length - 1] as { seq: number }).seq;
  }

  /** Drops the decoded records and the responsibility memo (not the pre-rendered answers). */
  private forgetRecords(): void {
    this.gen++;
    this.cache.clear();
    this.homesMemo.clear();
  }

  private forgetAll(): void {
    this.forgetRecords();
    for (const c of this.answerCaches) c.clear();
  }

  /** Hits, misses and size of the resolution cache (for tests, benchmarks and metrics). */
  cacheStats(): RecordCacheStats {
    return this.cache.stats();
  }

  // ---- pre-rendered public answers

  publicAnswers(render: AnswerRenderer): PublicAnswers {
    // A new, empty cache is in step with any seq: it shares the service's catch-ups from now on.
    const cache = new AnswerCache(render, this.answerEntries);
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

  /** The hot path: a kept answer, without a promise, while the caches are in step; else the slow path. */
  private answer(cache: AnswerCache, handle: string): string | undefined | Promise<string | undefined> {
    if (this.fresh()) {
      const hit = cache.peek(normalizeHandle(handle));
      if (hit !== undefined) {
        cache.hits++;
        return hit;
      }
    }
    return this.answerSlowly(cache, handle);
  }

  private async answerSlowly(cache: AnswerCache, handle: string): Promise<string | undefined> {
    await this.ready();
    const key = normalizeHandle(handle);
    const hit = cache.peek(key);
    if (hit !== undefined) {
      cache.hits++;
      return hit;
    }
    cache.misses++;
    const stamp = this.gen;
    let rendered: string;
    try {
      // What resolve(handle, {}, null) returns: the public values (see publicValues()).
      const rec = await this.readRecord(this.assertResponsible(handle).key);
      if (!rec) return undefined;
      rendered = cache.render(publicValues(rec.values), hasRestricted(rec.values));
    } catch {
      // Not found, not ours, not renderable (too many values for one message…): the full path says why.
      return undefined;
    }
    // Kept only when nothing changed while the store was read (else the next lookup renders it again).
    if (this.gen === stamp && this.fresh()) cache.set(key, rendered, true);
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
    const total = await this.store.count();
    let after: string | undefined;
    let read = 0;
    let added = 0;
    let retries = 0;
    const room = () => [...this.answerCaches].some((c) => c.size < c.capacity);
    while (this.answerCaches.size > 0 && room() && !opts.signal?.aborted) {
      await this.ready();
      const stamp = this.gen;
      const page = await this.store.scan(after, chunk);
      if (page.length === 0) break;
      // Something changed while the page was read: read it again (a few times), else leave it to demand.
      const stale = this.gen !== stamp || !this.fresh();
      if (stale && retries < 3) {
        retries++;
        continue;
      }
      retries = 0;
      if (!stale) {
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
      }
      read += page.length;
      after = page[page.length - 1]?.key;
      opts.onProgress?.(read, total);
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

  /**
   * A read for resolution (call ready() first): through the record cache. The store only ever shows
   * committed data to this read (an open transaction's writes are seen through its own `tx` only).
   */
  private async readRecord(key: string): Promise<StoredHandle | undefined> {
    const stamp = this.gen;
    const hit = this.cache.get(key, stamp);
    if (hit !== undefined) return hit ?? undefined;
    const rec = await this.store.get(key);
    if (this.gen === stamp) this.cache.set(key, rec ?? null, stamp);
    return rec;
  }

  /**
   * Runs a write; nothing read before or during it stays cached, and once it has ended (committed or not)
   * the caches are brought in step with the store before the caller hears back.
   */
  private async written<T>(fn: () => Promise<T>): Promise<T> {
    this.forgetRecords();
    try {
      return await fn();
    } finally {
      this.forgetRecords();
      // A catch-up that fails (store closing) leaves the caches unusable until the next one succeeds.
      await this.refresh().catch(() => {
        this.forgetAll();
        this.seenSeq = -1;
      });
    }
  }

  /**
   * Prepares a node's store for its first start: the prefix handle `0.NA/<prefix>` with an HS_ADMIN granting
   * every permission to `adminIndex:adminHandle`, that identity's HS_SECKEY, and the prefix homed. Running it
   * again leaves existing records alone (so `iip id serve` may call it on every start) but re-homes the prefix.
   */
  static async bootstrap(opts: BootstrapOptions): Promise<void> {
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
    await store.transaction(async (tx) => {
      const prefixValues = [adminValue(adminIndexForPrefix), ...(sameHandle ? [secret] : [])];
      await tx.create(normalizeHandle(prefixRecord), { handle: prefixRecord, values: prefixValues });
      if (!sameHandle) {
        requireParsed(opts.adminHandle);
        await tx.create(normalizeHandle(opts.adminHandle), { handle: opts.adminHandle, values: [adminValue(adminIndexForPrefix), secret] });
      }
      if (!tx.homedPrefixes().has(normalizeHandle(opts.prefix))) await tx.homePrefix(normalizeHandle(opts.prefix));
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

  /** Call ready() first: the memo is emptied by the catch-up that learns of a home/unhome. */
  private homes(prefix: string, isPrefixHandle: boolean): boolean {
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

  private async demand(values: readonly HandleValue[], who: Identity, bit: number, op: string, target: string, lookup: ValueLookup): Promise<void> {
    const id = this.requireIdentity(who, op);
    if (this.isRoot(id)) return;
    if (((await permissionsOf(values, id, lookup)) & bit) !== bit) {
      throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `${id.index}:${id.handle} may not ${op} on ${target}.`, { op, target, permission: bit });
    }
  }

  /** The HS_ADMIN values that govern a prefix: those of the nearest `0.NA/<p>` record stored here. */
  private async prefixAdminValues(store: HandleStore, prefix: string, includeSelf = true): Promise<{ values: readonly HandleValue[]; record: string }> {
    const chain = prefixChain(prefix);
    for (const p of includeSelf ? chain : chain.slice(1)) {
      const rec = await store.get(normalizeHandle(prefixHandle(p)));
      if (rec) return { values: rec.values, record: prefixHandle(p) };
    }
    return { values: [], record: prefixHandle(prefix) };
  }

  /** Reads through `store` (the transaction's, when there is one). */
  private async demandOnPrefix(store: HandleStore, prefix: string, who: Identity, bit: number, op: string, includeSelf = true): Promise<void> {
    const { values, record } = await this.prefixAdminValues(store, prefix, includeSelf);
    await this.demand(values, who, bit, op, record, this.lookupIn(store));
  }

  /** Creating `0.NA/<p>` is creating a prefix: ADD_NA on a parent prefix handle; anything else needs ADD_HANDLE. */
  private async demandCreate(store: HandleStore, handle: string, prefix: string, who: Identity): Promise<void> {
    if (prefix === TOP_LEVEL_PREFIX) {
      const suffix = requireParsed(handle).suffix;
      await this.demandOnPrefix(store, normalizeHandle(suffix), who, AdminPermission.ADD_NA, 'create prefix', false);
    } else {
      await this.demandOnPrefix(store, prefix, who, AdminPermission.ADD_HANDLE, 'create handle');
    }
  }

  private async demandValueChange(
    current: readonly HandleValue[],
    who: Identity,
    kind: 'add' | 'remove' | 'modify',
    changed: readonly HandleValue[],
    target: string,
    lookup: ValueLookup,
  ): Promise<void> {
    const id = this.requireIdentity(who, `${kind} values`);
    if (this.isRoot(id)) return;
    // Nothing to decide for no values (and then no permission is read).
    if (changed.length === 0) return;
    const bits = await permissionsOf(current, id, lookup);
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

  async resolve(handle: string, query: ResolveQuery, who: Identity): Promise<HandleValue[]> {
    await this.ready();
    const { key } = this.assertResponsible(handle);
    const rec = await this.readRecord(key);
    if (!rec) throw fail(ResponseCode.HANDLE_NOT_FOUND, `Handle ${handle} not found.`, { handle });
    const types = query.types?.length ? new Set(query.types) : undefined;
    const indexes = query.indexes?.length ? new Set(query.indexes) : undefined;
    const wanted = types || indexes ? rec.values.filter((v) => (types?.has(v.type) ?? false) || (indexes?.has(v.index) ?? false)) : rec.values;
    if (wanted.length === 0) throw fail(ResponseCode.VALUES_NOT_FOUND, `Handle ${handle} has no values of the requested types/indexes.`, { handle });
    // Asked only when a value needs it: the permission walk may read group records.
    const canAdminRead =
      who !== null &&
      wanted.some(isRestricted) &&
      (this.isRoot(who) || ((await permissionsOf(rec.values, who, this.lookupIn(this.store))) & AdminPermission.READ_VALUE) !== 0);
    const visible = wanted.filter((v) => {
      // Secret keys are for challenge–response only; no caller gets them back.
      if (v.type === HS_SECKEY) return false;
      if (v.permissions.publicRead) return true;
      return v.permissions.adminRead && canAdminRead;
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

  async listHandles(prefix: string, who: Identity, page: { offset: number; limit: number }): Promise<{ handles: string[]; total: number }> {
    await this.ready();
    const np = normalizeHandle(prefix);
    if (!this.homes(np, false)) throw fail(ResponseCode.SERVER_NOT_RESP, `This node does not home prefix ${prefix}.`, { prefix });
    await this.demandOnPrefix(this.store, np, who, AdminPermission.LIST_HANDLES, 'list handles');
    const limit = Math.max(0, Math.min(page.limit, 10_000));
    const { handles, total } = await this.store.list(np, { offset: Math.max(0, page.offset), limit });
    return { handles, total };
  }

  listHomedPrefixes(): string[] {
    return [...this.store.homedPrefixes()].sort();
  }

  siteInfo(): HandleSiteInfo {
    return this.site;
  }

  async secretKeyOf(identity: { handle: string; index: number }): Promise<Uint8Array | undefined> {
    const v = await this.lookupIn(this.store)(identity);
    return v?.type === HS_SECKEY ? v.data : undefined;
  }

  async publicKeysOf(identity: { handle: string; index: number }): Promise<Array<{ index: number; data: Uint8Array }>> {
    const values = (await this.store.get(normalizeHandle(identity.handle)))?.values ?? [];
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

  async create(handle: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean; mintNewSuffix?: boolean } = {}): Promise<string> {
    await this.ready();
    return this.written(() => this.createIn(this.store, handle, values, who, opts));
  }

  /** Creates in its own transaction of `store` (a savepoint when `store` is a transaction's). */
  private async createIn(store: HandleStore, handle: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean; mintNewSuffix?: boolean }): Promise<string> {
    this.assertWritable('create');
    if (opts.mintNewSuffix) return this.createMinted(store, handle, values, who);
    const { key, prefix } = this.assertResponsible(handle);
    // Stamped before validation: what is checked is what is stored, whatever timestamp the client sent.
    const next = this.stamp(values);
    validateValues(next);
    return store.transaction(async (tx) => {
      const current = await tx.get(key);
      if (current) {
        if (!opts.overwrite) throw fail(ResponseCode.HANDLE_ALREADY_EXISTS, `Handle ${handle} already exists.`, { handle });
        await this.demandOverwrite(tx, current, next, who, handle);
        await this.checkTemplate(tx, next);
        await tx.put(key, { handle: current.handle, values: next });
        return current.handle;
      }
      await this.demandCreate(tx, handle, prefix, who);
      await this.checkTemplate(tx, next);
      await tx.create(key, { handle, values: next });
      return handle;
    });
  }

  /** Handle.Net's overwrite replaces every value: the caller needs the right to add, change and drop each. */
  private async demandOverwrite(store: HandleStore, current: StoredHandle, next: readonly HandleValue[], who: Identity, handle: string): Promise<void> {
    const before = new Map(current.values.map((v) => [v.index, v]));
    const after = new Set(next.map((v) => v.index));
    const lookup = this.lookupIn(store);
    await this.demandValueChange(current.values, who, 'add', next.filter((v) => !before.has(v.index)), handle, lookup);
    await this.demandValueChange(current.values, who, 'modify', next.filter((v) => before.has(v.index)).map((v) => before.get(v.index) as HandleValue), handle, lookup);
    await this.demandValueChange(current.values, who, 'remove', current.values.filter((v) => !after.has(v.index)), handle, lookup);
  }

  private async createMinted(store: HandleStore, handle: string, values: readonly HandleValue[], who: Identity): Promise<string> {
    const base = handle.includes('/') ? handle : `${handle}/`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const minted = `${base}${randomUUID()}`;
      try {
        return await this.createIn(store, minted, values, who, {});
      } catch (e) {
        if (!(e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_ALREADY_EXISTS)) throw e;
      }
    }
    throw fail(ResponseCode.ERROR, `Could not mint a free suffix under ${handle}.`, { handle });
  }

  async delete(handle: string, who: Identity): Promise<void> {
    this.assertWritable('delete');
    await this.ready();
    const { key } = this.assertResponsible(handle);
    this.requireIdentity(who, 'delete');
    await this.written(() =>
      this.store.transaction(async (tx) => {
        const current = await this.existing(tx, key, handle);
        await this.demand(current.values, who, AdminPermission.DELETE_HANDLE, 'delete', handle, this.lookupIn(tx));
        await tx.delete(key);
      }),
    );
  }

  async addValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void> {
    await this.changeValues(
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

  async removeValues(handle: string, indexes: readonly number[], who: Identity): Promise<void> {
    const gone = new Set(indexes);
    await this.changeValues(
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

  async modifyValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void> {
    const indexes = new Set(values.map((v) => v.index));
    await this.changeValues(
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
  private async changeValues(
    handle: string,
    who: Identity,
    kind: 'add' | 'remove' | 'modify',
    touched: (current: readonly HandleValue[]) => readonly HandleValue[],
    plan: (current: readonly HandleValue[]) => HandleValue[],
  ): Promise<void> {
    this.assertWritable(`${kind} values`);
    await this.ready();
    const { key } = this.assertResponsible(handle);
    this.requireIdentity(who, `${kind} values`);
    await this.written(() =>
      this.store.transaction(async (tx) => {
        const current = await this.existing(tx, key, handle);
        await this.demandValueChange(current.values, who, kind, touched(current.values), handle, this.lookupIn(tx));
        const next = plan(current.values);
        await this.checkTemplate(tx, next);
        next.sort((a, b) => a.index - b.index);
        await tx.put(key, { handle: current.handle, values: next });
      }),
    );
  }

  private async existing(store: HandleStore, key: string, handle: string): Promise<StoredHandle> {
    const rec = await store.get(key);
    if (!rec) throw fail(ResponseCode.HANDLE_NOT_FOUND, `Handle ${handle} not found.`, { handle });
    return rec;
  }

  async homePrefix(prefix: string, who: Identity): Promise<void> {
    this.assertWritable('home prefix');
    const np = normalizeHandle(prefix);
    if (np.length === 0 || np.includes('/')) throw fail(ResponseCode.INVALID_HANDLE, `"${prefix}" is not a prefix.`, { prefix });
    await this.demandOnPrefix(this.store, np, who, AdminPermission.ADD_NA, 'home prefix');
    await this.written(() => this.store.homePrefix(np));
  }

  async unhomePrefix(prefix: string, who: Identity): Promise<void> {
    this.assertWritable('unhome prefix');
    const np = normalizeHandle(prefix);
    await this.demandOnPrefix(this.store, np, who, AdminPermission.DELETE_NA, 'unhome prefix');
    if (!(await this.written(() => this.store.unhomePrefix(np)))) throw fail(ResponseCode.SERVER_NOT_RESP, `Prefix ${prefix} is not homed here.`, { prefix });
  }

  // ---- data templates (not part of the HandleService port: REST and the CLI call them directly)

  /** Creates or replaces (same id) a template. Needs a node root admin or ADD_HANDLE on a homed prefix. */
  async createTemplate(input: unknown, who: Identity): Promise<DataTemplate> {
    this.assertWritable('create template');
    const template = parseDataTemplate(input);
    await this.demandTemplateAdmin(who);
    await this.store.putTemplate({ id: template.id, document: { ...template } });
    return template;
  }

  private async demandTemplateAdmin(who: Identity): Promise<void> {
    const id = this.requireIdentity(who, 'create template');
    if (this.isRoot(id)) return;
    for (const p of this.store.homedPrefixes()) {
      const { values } = await this.prefixAdminValues(this.store, p);
      if (((await permissionsOf(values, id, this.lookupIn(this.store))) & AdminPermission.ADD_HANDLE) !== 0) return;
    }
    throw fail(ResponseCode.INSUFFICIENT_PERMISSIONS, `${id.index}:${id.handle} may not define templates on this node.`, { op: 'create template' });
  }

  async listTemplates(): Promise<DataTemplate[]> {
    return (await this.store.listTemplates()).map((t) => t.document as unknown as DataTemplate);
  }

  async getTemplate(id: string): Promise<DataTemplate | undefined> {
    return (await this.store.getTemplate(id))?.document as unknown as DataTemplate | undefined;
  }

  private async requireTemplate(store: HandleStore, id: string): Promise<DataTemplate> {
    const t = (await store.getTemplate(id))?.document as unknown as DataTemplate | undefined;
    if (!t) throw new HandleError(ResponseCode.INVALID_VALUE, `No data template ${id} on this node.`, { template: id, rule: 'template' }, 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');
    return t;
  }

  /** The template registry in the shape the REST routes take (`TemplateApi`). */
  templateApi(): {
    list(): Promise<DataTemplate[]>;
    get(id: string): Promise<DataTemplate | undefined>;
    define(template: unknown, who: Identity): Promise<DataTemplate>;
    validate(templateId: string, values: readonly HandleValue[]): Promise<void>;
  } {
    return {
      list: () => this.listTemplates(),
      get: (id) => this.getTemplate(id),
      define: (t, who) => this.createTemplate(t, who),
      validate: async (id, values) => validateAgainstTemplate(await this.requireTemplate(this.store, id), values),
    };
  }

  /** A handle carrying an IIP_TEMPLATE value is checked against that template on every write. */
  private async checkTemplate(store: HandleStore, values: readonly HandleValue[]): Promise<void> {
    const marker = values.find((v) => v.type === IIP_TEMPLATE);
    if (!marker) return;
    validateAgainstTemplate(await this.requireTemplate(store, new TextDecoder().decode(marker.data)), values);
  }

  /** Registers a handle against a template: adds the IIP_TEMPLATE value (index 1999) and validates. */
  async createWithTemplate(handle: string, templateId: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean } = {}): Promise<string> {
    await this.ready();
    return this.written(() => this.createWithTemplateIn(this.store, handle, templateId, values, who, opts));
  }

  private async createWithTemplateIn(
    store: HandleStore,
    handle: string,
    templateId: string,
    values: readonly HandleValue[],
    who: Identity,
    opts: { overwrite?: boolean },
  ): Promise<string> {
    await this.requireTemplate(store, templateId);
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
    return this.createIn(store, handle, [...rest, marker], who, opts);
  }

  /**
   * Registers many handles. Default: per item — each succeeds or fails on its own and the results say which
   * (all in one SQLite transaction for speed, each item in its own savepoint). With `atomic: true` the first
   * failure rolls every item back; its result carries the error and every other item reports `aborted`.
   */
  async batchRegister(items: readonly BatchItem[], who: Identity, opts: { atomic?: boolean } = {}): Promise<BatchResult[]> {
    await this.ready();
    return this.written(() => this.batchRegisterNow(items, who, opts));
  }

  private async batchRegisterNow(items: readonly BatchItem[], who: Identity, opts: { atomic?: boolean }): Promise<BatchResult[]> {
    this.assertWritable('batch register');
    const one = (store: HandleStore, item: BatchItem): Promise<string> =>
      item.templateId !== undefined ? this.createWithTemplateIn(store, item.handle, item.templateId, item.values, who, {}) : this.createIn(store, item.handle, item.values, who, {});
    if (!opts.atomic) {
      // One transaction for speed; each item in its own savepoint, so a failed one leaves no trace.
      return this.store.transaction(async (tx) => {
        const results: BatchResult[] = [];
        for (const item of items) {
          try {
            await one(tx, item);
            results.push({ handle: item.handle, ok: true });
          } catch (e) {
            results.push(errorResult(item.handle, e));
          }
        }
        return results;
      });
    }
    let failedAt = -1;
    let failure: BatchResult | undefined;
    try {
      await this.store.transaction(async (tx) => {
        for (const [i, item] of items.entries()) {
          try {
            await one(tx, item);
          } catch (e) {
            failedAt = i;
            failure = errorResult(item.handle, e);
            throw e;
          }
        }
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
