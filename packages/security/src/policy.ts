/**
 * The policy decision point (ADR 0009): one function says whether a user may do `permission` on a target of a
 * tenant (optionally an asset of its tree). REST routes, WebSocket streams and device commands all ask it.
 *
 * A user's grants are compiled once into an AccessSubject (permissions on the whole tenant, and per asset); a
 * decision is then a set lookup for tenant-wide permissions, or a walk up the asset's ancestors (at most the
 * five ISA-95 levels) with one lookup per step. Deny by default; another tenant's target is always denied,
 * except to a platform administrator.
 */
import { DEFAULT_TENANT, type TenantId, type UserId } from '@iip/core';
import type { Asset, CustomRole, Grant } from '@iip/storage';
import { BUILT_IN_ROLES, isPermission, type Permission, PERMISSIONS, PLATFORM_ADMIN } from './permissions.js';

/** Longer parent chains than this are corrupt data (levels allow five); the walk stops rather than loop. */
const MAX_DEPTH = 64;

/** A tenant's asset tree as the decision point needs it: the parent of every asset. */
export class AssetTree {
  private readonly parents = new Map<string, string | null>();

  constructor(assets: Iterable<Pick<Asset, 'id' | 'parent'>>) {
    for (const a of assets) this.parents.set(a.id, a.parent);
  }

  has(id: string): boolean {
    return this.parents.has(id);
  }

  /** The asset's parent (null for a root), or undefined when the asset is not in the tree. */
  parentOf(id: string): string | null | undefined {
    return this.parents.get(id);
  }

  /** Whether `id` is `ancestor` or lies below it. */
  within(id: string, ancestor: string): boolean {
    let a: string | null | undefined = id;
    for (let i = 0; a != null && i < MAX_DEPTH; i++) {
      if (a === ancestor) return true;
      a = this.parents.get(a);
    }
    return false;
  }

  /** The ids of the asset and its ancestors, the asset first. */
  path(id: string): string[] {
    const out: string[] = [];
    let a: string | null | undefined = id;
    for (let i = 0; a != null && this.parents.has(a) && i < MAX_DEPTH; i++) {
      out.push(a);
      a = this.parents.get(a);
    }
    return out;
  }

  get size(): number {
    return this.parents.size;
  }

  /** The given assets and everything below them (each once; ids not in the tree are left out). */
  subtrees(roots: readonly string[]): string[] {
    const children = new Map<string, string[]>();
    for (const [id, parent] of this.parents) {
      if (parent === null) continue;
      const list = children.get(parent);
      if (list) list.push(id);
      else children.set(parent, [id]);
    }
    const out = new Set<string>();
    const stack = roots.filter((r) => this.parents.has(r));
    while (stack.length > 0) {
      const a = stack.pop() as string;
      if (out.has(a)) continue;
      out.add(a);
      for (const c of children.get(a) ?? []) stack.push(c);
    }
    return [...out];
  }
}

/** What a decision is about: a tenant, and within it optionally an asset (the device's, the gateway's…). */
export interface AccessTarget {
  readonly tenant: string;
  /** The asset the target sits on; null/absent for tenant-level things and devices not on the tree. */
  readonly asset?: string | null;
}

/** One user's compiled permissions. Build with compileSubject; rebuild when grants or roles change. */
export class AccessSubject {
  constructor(
    readonly userId: UserId,
    readonly tenant: TenantId,
    readonly platformAdmin: boolean,
    private readonly tenantWide: ReadonlySet<Permission>,
    private readonly byAsset: ReadonlyMap<string, ReadonlySet<Permission>>,
  ) {}

  /**
   * The decision. `tree` is the target tenant's asset tree; it is needed only when the target names an asset and
   * no tenant-wide grant settles it.
   */
  allows(permission: Permission, target: AccessTarget, tree?: AssetTree): boolean {
    if (this.platformAdmin) return true;
    if (target.tenant !== this.tenant) return false;
    if (this.tenantWide.has(permission)) return true;
    const asset = target.asset;
    if (asset == null || this.byAsset.size === 0 || PERMISSIONS[permission].scope !== 'asset' || !tree) return false;
    let a: string | null | undefined = asset;
    for (let i = 0; a != null && i < MAX_DEPTH; i++) {
      if (this.byAsset.get(a)?.has(permission)) return true;
      a = tree.parentOf(a);
    }
    return false;
  }

  /** Whether the user has `permission` anywhere in `tenant` (on the tenant or on some asset): for menus and lists. */
  anywhere(permission: Permission, tenant: string): boolean {
    if (this.platformAdmin) return true;
    if (tenant !== this.tenant) return false;
    if (this.tenantWide.has(permission)) return true;
    if (PERMISSIONS[permission].scope !== 'asset') return false;
    for (const set of this.byAsset.values()) if (set.has(permission)) return true;
    return false;
  }

  /** The assets on which `permission` is granted (below the tenant level), for filtering lists. */
  assetsWith(permission: Permission): string[] {
    const out: string[] = [];
    for (const [asset, set] of this.byAsset) if (set.has(permission)) out.push(asset);
    return out;
  }

  /**
   * The same subject limited to `scopes` (an API token's): each permission only where the user holds it and the
   * scopes name it. A platform administrator stays one only with `'*'` (all of the user's permissions).
   */
  restrict(scopes: readonly string[]): AccessSubject {
    if (scopes.includes('*')) return this;
    const keep = new Set(scopes);
    const tenantWide = new Set<Permission>();
    // A platform administrator's permissions on its own tenant are all of them.
    for (const p of this.platformAdmin ? (Object.keys(PERMISSIONS) as Permission[]) : this.tenantWide) if (keep.has(p)) tenantWide.add(p);
    const byAsset = new Map<string, ReadonlySet<Permission>>();
    for (const [a, set] of this.byAsset) {
      const s = new Set([...set].filter((p) => keep.has(p)));
      if (s.size > 0) byAsset.set(a, s);
    }
    return new AccessSubject(this.userId, this.tenant, false, tenantWide, byAsset);
  }

  /** What the console shows: the permissions on the whole tenant and per asset. */
  summary(): { platformAdmin: boolean; tenantWide: Permission[]; assets: Record<string, Permission[]> } {
    const assets: Record<string, Permission[]> = {};
    for (const [a, set] of this.byAsset) assets[a] = [...set].sort();
    return { platformAdmin: this.platformAdmin, tenantWide: [...this.tenantWide].sort(), assets };
  }
}

const BUILT_IN = new Map(BUILT_IN_ROLES.map((r) => [r.id, r.permissions]));

/**
 * Compiles a user's grants (all of the user's tenant) with the tenant's custom roles. A grant naming a role that
 * no longer exists, and permissions a custom role names that iip does not know, give nothing. A permission of
 * tenant scope granted on an asset gives nothing either (it concerns the whole tenant), and one of platform scope
 * is given only by the platform-admin role on the whole of the platform's own tenant (`platformTenant`): a grant
 * of platform-admin inside any other tenant makes nobody a platform administrator.
 */
export function compileSubject(
  user: { readonly id: UserId; readonly tenant: TenantId },
  grants: readonly Grant[],
  customRoles: readonly CustomRole[],
  platformTenant: string = DEFAULT_TENANT,
): AccessSubject {
  const custom = new Map(customRoles.filter((r) => r.tenant === user.tenant).map((r) => [r.id, r.permissions.filter(isPermission)]));
  const tenantWide = new Set<Permission>();
  const byAsset = new Map<string, Set<Permission>>();
  let platformAdmin = false;
  for (const g of grants) {
    if (g.userId !== user.id || g.tenant !== user.tenant) continue;
    const perms = BUILT_IN.get(g.role) ?? custom.get(g.role);
    if (!perms) continue;
    if (g.asset === null) {
      const platform = g.role === PLATFORM_ADMIN && g.tenant === platformTenant;
      if (platform) platformAdmin = true;
      for (const p of perms) if (PERMISSIONS[p].scope !== 'platform' || platform) tenantWide.add(p);
      continue;
    }
    let set = byAsset.get(g.asset);
    if (!set) {
      set = new Set();
      byAsset.set(g.asset, set);
    }
    for (const p of perms) if (PERMISSIONS[p].scope === 'asset') set.add(p);
  }
  return new AccessSubject(user.id, user.tenant, platformAdmin, tenantWide, byAsset);
}
