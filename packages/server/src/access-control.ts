/**
 * The platform's side of the policy decision point (ADR 0009): it keeps, per process, each tenant's asset tree
 * and custom roles and each user's compiled grants, and answers "may this principal do this here". Every route
 * plugin, the live stream and device commands ask it; nothing else decides.
 *
 * Caches are dropped for a tenant whenever its tree, roles or grants change through this process
 * (`changed(tenant)`); with several processes the change also reaches the others over the bus (the platform
 * wires `onChange`), and an entry is never older than `maxAgeMs` (default 30 s) in any case.
 */
import { IipError, type TenantId, type UserId } from '@iip/core';
import { type AccessSubject, type AccessTarget, AssetTree, compileSubject, type Permission, PERMISSIONS } from '@iip/security';
import type { AccessStore, CustomRole } from '@iip/storage';

interface Cached<T> {
  readonly value: Promise<T>;
  readonly at: number;
}

export interface AccessControlOptions {
  /** The tenant's suspension reason, or undefined when it is active (read through the cache). */
  readonly tenantSuspension?: (tenant: string) => Promise<string | undefined>;
  /** Whether the tenant's security policy requires a second factor of its administrators (read through the cache). */
  readonly tenantTotpRequired?: (tenant: string) => Promise<boolean>;
  /** The tenant whose whole-tenant platform-admin grant makes a platform administrator (default "default"). */
  readonly platformTenant?: string;
  readonly maxAgeMs?: number;
  readonly now?: () => number;
  /** Told after every local change, so the platform can tell the other processes (bus). */
  readonly onChange?: (tenant: string) => void;
}

export class AccessControl {
  private readonly trees = new Map<string, Cached<AssetTree>>();
  private readonly roles = new Map<string, Cached<CustomRole[]>>();
  private readonly subjects = new Map<string, Cached<AccessSubject>>();
  private readonly suspensions = new Map<string, Cached<string | undefined>>();
  private readonly totpRules = new Map<string, Cached<boolean>>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    readonly store: AccessStore,
    private readonly opts: AccessControlOptions = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  get platformTenant(): string {
    return this.opts.platformTenant ?? 'default';
  }

  /** The user's compiled grants (cached). */
  subject(user: { readonly id: UserId; readonly tenant: TenantId }): Promise<AccessSubject> {
    return this.cached(this.subjects, `${user.tenant}\u0000${user.id}`, async () => {
      const [grants, roles] = await Promise.all([this.store.listGrants(user.tenant, { userId: user.id }), this.customRoles(user.tenant)]);
      return compileSubject(user, grants, roles, this.platformTenant);
    });
  }

  /** Why the tenant is suspended, or undefined when it is active (cached like the rest; dropped by changed()). */
  suspension(tenant: string): Promise<string | undefined> {
    const read = this.opts.tenantSuspension;
    if (!read) return Promise.resolve(undefined);
    return this.cached(this.suspensions, tenant, () => read(tenant));
  }

  /** Whether the tenant requires a second factor of its administrators (cached; dropped by changed()). */
  totpRequired(tenant: string): Promise<boolean> {
    const read = this.opts.tenantTotpRequired;
    if (!read) return Promise.resolve(false);
    return this.cached(this.totpRules, tenant, () => read(tenant));
  }

  tree(tenant: string): Promise<AssetTree> {
    return this.cached(this.trees, tenant, async () => new AssetTree(await this.store.listAssets(tenant as TenantId)));
  }

  customRoles(tenant: string): Promise<CustomRole[]> {
    return this.cached(this.roles, tenant, () => this.store.listRoles(tenant as TenantId));
  }

  async allows(subject: AccessSubject, permission: Permission, target: AccessTarget): Promise<boolean> {
    if (subject.platformAdmin) return true;
    // The tree is needed only for a decision below the tenant level.
    const tree = target.asset != null && PERMISSIONS[permission].scope === 'asset' ? await this.tree(target.tenant) : undefined;
    return subject.allows(permission, target, tree);
  }

  /**
   * Refuses with IIP_ERR_AUTH_FORBIDDEN (403) unless allowed. `what` says what was attempted, for the message;
   * the details name the permission and the target, so the console can say which grant is missing.
   */
  async require(subject: AccessSubject, permission: Permission, target: AccessTarget, what?: string): Promise<void> {
    if (await this.allows(subject, permission, target)) return;
    const where = target.asset != null ? `asset "${target.asset}" of tenant "${target.tenant}"` : `tenant "${target.tenant}"`;
    throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `not permitted to ${what ?? permission} on ${where}: needs "${permission}"`, {
      permission,
      tenant: target.tenant,
      ...(target.asset != null && { asset: target.asset }),
    });
  }

  /** Drops what this process holds of the tenant; call after any change to its tree, roles or grants. */
  changed(tenant: string): void {
    this.forget(tenant);
    this.opts.onChange?.(tenant);
  }

  /** Drops the cached state of a tenant (another process changed it). */
  forget(tenant: string): void {
    this.trees.delete(tenant);
    this.roles.delete(tenant);
    this.suspensions.delete(tenant);
    this.totpRules.delete(tenant);
    for (const k of this.subjects.keys()) if (k.startsWith(`${tenant}\u0000`)) this.subjects.delete(k);
  }

  private cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    const now = this.now();
    if (hit && now - hit.at < this.maxAgeMs) return hit.value;
    const value = load();
    const entry = { value, at: now };
    map.set(key, entry);
    // A failed load is not kept: the next request tries again.
    value.catch(() => {
      if (map.get(key) === entry) map.delete(key);
    });
    return value;
  }
}
