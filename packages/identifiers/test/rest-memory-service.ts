/**
 * A small in-memory HandleService for the REST and resolver tests, so they exercise the HTTP and resolution
 * layers against the port alone. Authorisation is deliberately coarse (one admin may do everything,
 * anonymous reads public values); the real HS_ADMIN rules are the service's own tests' business.
 */
import {
  HandleError,
  type HandleService,
  type HandleSiteInfo,
  type HandleValue,
  type Identity,
  type NodeRole,
  type ResolveQuery,
  ResponseCode,
  normalizeHandle,
  parseHandle,
} from '@iip/identifiers';

export class MemoryHandleService implements HandleService {
  readonly role: NodeRole;
  private readonly handles = new Map<string, { name: string; values: HandleValue[] }>();
  private readonly prefixes: Set<string>;
  private minted = 0;

  constructor(
    private readonly admin: { handle: string; index: number; secret: string },
    prefixes: string[],
    private readonly site: HandleSiteInfo = { primary: true, multiPrimary: false, serialNumber: 1, servers: [] },
    role: NodeRole = 'secondary',
  ) {
    this.prefixes = new Set(prefixes.map(normalizeHandle));
    this.role = role;
  }

  private key(handle: string): string {
    const p = parseHandle(handle);
    if (!p) throw new HandleError(ResponseCode.INVALID_HANDLE, `Invalid handle ${handle}`);
    if (p.prefix !== '0.NA' && !this.prefixes.has(normalizeHandle(p.prefix))) {
      throw new HandleError(ResponseCode.SERVER_NOT_RESP, `Prefix ${p.prefix} is not homed here`);
    }
    return normalizeHandle(handle);
  }

  private check(who: Identity): void {
    if (who === null) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'Authentication needed');
    if (normalizeHandle(who.handle) !== normalizeHandle(this.admin.handle) || who.index !== this.admin.index) {
      throw new HandleError(ResponseCode.INSUFFICIENT_PERMISSIONS, 'Not an admin');
    }
  }

  private get(handle: string): { name: string; values: HandleValue[] } {
    const rec = this.handles.get(this.key(handle));
    if (!rec) throw new HandleError(ResponseCode.HANDLE_NOT_FOUND, `${handle} not found`);
    return rec;
  }

  async resolve(handle: string, query: ResolveQuery, who: Identity): Promise<HandleValue[]> {
    const rec = this.get(handle);
    const isAdmin = who !== null && normalizeHandle(who.handle) === normalizeHandle(this.admin.handle) && who.index === this.admin.index;
    const types = query.types ?? [];
    const indexes = query.indexes ?? [];
    const out = rec.values.filter(
      (v) =>
        (isAdmin ? v.permissions.adminRead || v.permissions.publicRead : v.permissions.publicRead) &&
        (types.length === 0 && indexes.length === 0 ? true : types.includes(v.type) || indexes.includes(v.index)),
    );
    if (out.length === 0 && (types.length > 0 || indexes.length > 0)) throw new HandleError(ResponseCode.VALUES_NOT_FOUND, 'Values not found');
    return out;
  }

  async create(handle: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean; mintNewSuffix?: boolean } = {}): Promise<string> {
    this.check(who);
    let name = handle;
    if (opts.mintNewSuffix) name = `${handle}${++this.minted}`;
    const key = this.key(name);
    if (this.handles.has(key) && !opts.overwrite) throw new HandleError(ResponseCode.HANDLE_ALREADY_EXISTS, `${name} exists`);
    this.handles.set(key, { name, values: [...values] });
    return name;
  }

  async delete(handle: string, who: Identity): Promise<void> {
    this.check(who);
    this.get(handle);
    this.handles.delete(this.key(handle));
  }

  async addValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void> {
    this.check(who);
    const rec = this.get(handle);
    for (const v of values) {
      if (rec.values.some((x) => x.index === v.index)) throw new HandleError(ResponseCode.VALUE_ALREADY_EXISTS, `index ${v.index} exists`);
    }
    rec.values.push(...values);
  }

  async removeValues(handle: string, indexes: readonly number[], who: Identity): Promise<void> {
    this.check(who);
    const rec = this.get(handle);
    rec.values = rec.values.filter((v) => !indexes.includes(v.index));
  }

  async modifyValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void> {
    this.check(who);
    const rec = this.get(handle);
    for (const v of values) {
      const i = rec.values.findIndex((x) => x.index === v.index);
      if (i < 0) throw new HandleError(ResponseCode.VALUES_NOT_FOUND, `index ${v.index} missing`);
      rec.values[i] = v;
    }
  }

  async listHandles(prefix: string, who: Identity, page: { offset: number; limit: number }): Promise<{ handles: string[]; total: number }> {
    this.check(who);
    const p = `${normalizeHandle(prefix)}/`;
    const all = [...this.handles.entries()].filter(([k]) => k.startsWith(p)).map(([, r]) => r.name).sort();
    return { handles: all.slice(page.offset, page.offset + page.limit), total: all.length };
  }

  async homePrefix(prefix: string, who: Identity): Promise<void> {
    this.check(who);
    this.prefixes.add(normalizeHandle(prefix));
  }

  async unhomePrefix(prefix: string, who: Identity): Promise<void> {
    this.check(who);
    this.prefixes.delete(normalizeHandle(prefix));
  }

  listHomedPrefixes(): string[] {
    return [...this.prefixes];
  }

  siteInfo(): HandleSiteInfo {
    return this.site;
  }

  async secretKeyOf(identity: { handle: string; index: number }): Promise<Uint8Array | undefined> {
    if (normalizeHandle(identity.handle) === normalizeHandle(this.admin.handle) && identity.index === this.admin.index) {
      return new TextEncoder().encode(this.admin.secret);
    }
    return undefined;
  }
}

export function textValue(index: number, type: string, text: string, extra: Partial<HandleValue> = {}): HandleValue {
  return {
    index,
    type,
    data: new TextEncoder().encode(text),
    ttlType: 'relative',
    ttl: 86400,
    timestamp: 1_700_000_000,
    references: [],
    permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
    ...extra,
  };
}
