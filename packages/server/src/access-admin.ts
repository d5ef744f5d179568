/**
 * Changes to a tenant's asset tree, custom roles and grants, with the checks that need no transaction (ids,
 * names, levels, known roles and permissions); the store checks what concurrent writers could break (parents,
 * cycles, other tenants). Every change drops the decision point's cached view of the tenant.
 */
import { randomUUID } from 'node:crypto';
import { IipError, isValidId, type TenantId, type UserId } from '@iip/core';
import { BUILT_IN_ROLE_IDS, isPermission, PERMISSIONS, PLATFORM_ADMIN } from '@iip/security';
import { ASSET_LEVELS, type AccessStore, type Asset, type AssetLevel, type CustomRole, type Grant, type UserStore } from '@iip/storage';
import type { AccessControl } from './access-control.js';

function validation(field: string, message: string, value?: unknown): IipError {
  return new IipError('IIP_ERR_VALIDATION', message, { field, ...(value !== undefined && { value: value as never }) });
}

function checkId(field: string, id: unknown): string {
  if (!isValidId(id)) throw validation(field, `${field} ${JSON.stringify(id)} must be 1–64 characters of letters, digits, _ . - (starting with a letter or digit)`, id);
  return id;
}

function checkName(field: string, name: unknown, required: boolean): string | undefined {
  if (name === undefined || name === null) {
    if (required) throw validation(field, `${field} is required`);
    return undefined;
  }
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) throw validation(field, `${field} must be 1–200 characters`, name);
  return name.trim();
}

export interface NewAsset {
  readonly id: string;
  readonly parent?: string | null;
  readonly level: string;
  readonly name: string;
  readonly nameZh?: string | null;
}

export class AccessAdmin {
  constructor(
    private readonly store: AccessStore,
    private readonly users: UserStore,
    private readonly control: AccessControl,
    private readonly now: () => number = Date.now,
  ) {}

  async createAsset(tenant: TenantId, a: NewAsset): Promise<Asset> {
    if (!(ASSET_LEVELS as readonly string[]).includes(a.level)) throw validation('level', `level must be one of ${ASSET_LEVELS.join(', ')}`, a.level);
    const asset: Asset = {
      tenant,
      id: checkId('id', a.id),
      parent: a.parent == null ? null : checkId('parent', a.parent),
      level: a.level as AssetLevel,
      name: checkName('name', a.name, true) as string,
      nameZh: checkName('nameZh', a.nameZh, false) ?? null,
      createdAt: this.now(),
    };
    await this.store.createAsset(asset);
    this.control.changed(tenant);
    return asset;
  }

  async updateAsset(tenant: TenantId, id: string, patch: { name?: string; nameZh?: string | null; parent?: string | null }): Promise<Asset> {
    const clean: { name?: string; nameZh?: string | null; parent?: string | null } = {};
    if (patch.name !== undefined) clean.name = checkName('name', patch.name, true) as string;
    if (patch.nameZh !== undefined) clean.nameZh = checkName('nameZh', patch.nameZh, false) ?? null;
    if (patch.parent !== undefined) clean.parent = patch.parent === null ? null : checkId('parent', patch.parent);
    const a = await this.store.updateAsset(tenant, id, clean);
    this.control.changed(tenant);
    return a;
  }

  async deleteAsset(tenant: TenantId, id: string): Promise<void> {
    if (!(await this.store.deleteAsset(tenant, id))) throw new IipError('IIP_ERR_NOT_FOUND', `asset "${id}" not found`, { resource: 'asset', id });
    this.control.changed(tenant);
  }

  async placeDevice(tenant: TenantId, device: string, asset: string | null): Promise<void> {
    await this.store.placeDevice(tenant, device, asset);
    this.control.changed(tenant);
  }

  private checkPermissions(permissions: unknown): string[] {
    if (!Array.isArray(permissions)) throw validation('permissions', 'permissions must be a list of "resource:action" strings');
    for (const p of permissions) {
      if (typeof p !== 'string' || !isPermission(p) || PERMISSIONS[p].scope === 'platform') {
        throw new IipError('IIP_ERR_ACCESS_UNKNOWN_PERMISSION', `permission ${JSON.stringify(p)} ${typeof p === 'string' && isPermission(p) ? 'belongs to the platform administrator only' : 'does not exist'}`, {
          field: 'permissions',
          permission: String(p),
        });
      }
    }
    return [...new Set(permissions as string[])].sort();
  }

  async createRole(tenant: TenantId, r: { id: string; name: string; permissions: unknown }): Promise<CustomRole> {
    const id = checkId('id', r.id);
    if (BUILT_IN_ROLE_IDS.has(id)) throw new IipError('IIP_ERR_ACCESS_RESERVED_ROLE', `"${id}" is a built-in role`, { field: 'id', role: id });
    const role: CustomRole = { tenant, id, name: checkName('name', r.name, true) as string, permissions: this.checkPermissions(r.permissions), createdAt: this.now() };
    await this.store.createRole(role);
    this.control.changed(tenant);
    return role;
  }

  async updateRole(tenant: TenantId, id: string, r: { name: string; permissions: unknown }): Promise<CustomRole> {
    if (BUILT_IN_ROLE_IDS.has(id)) throw new IipError('IIP_ERR_ACCESS_RESERVED_ROLE', `"${id}" is a built-in role and cannot be changed`, { field: 'id', role: id });
    const role = await this.store.updateRole({ tenant, id, name: checkName('name', r.name, true) as string, permissions: this.checkPermissions(r.permissions) });
    this.control.changed(tenant);
    return role;
  }

  async deleteRole(tenant: TenantId, id: string): Promise<void> {
    if (BUILT_IN_ROLE_IDS.has(id)) throw new IipError('IIP_ERR_ACCESS_RESERVED_ROLE', `"${id}" is a built-in role and cannot be deleted`, { field: 'id', role: id });
    if (!(await this.store.deleteRole(tenant, id))) throw new IipError('IIP_ERR_NOT_FOUND', `role "${id}" not found`, { resource: 'role', id });
    this.control.changed(tenant);
  }

  /**
   * Gives a user of the tenant a role on the whole tenant or on an asset. The platform-admin role is given only
   * by a platform administrator, on the whole of the platform's own tenant (`byPlatformAdmin`).
   */
  /** The checks of addGrant that need no user: run them for every grant before a user is created with grants. */
  async checkGrant(tenant: TenantId, g: { role: string; asset?: string | null }, byPlatformAdmin: boolean): Promise<void> {
    const asset = g.asset == null ? null : checkId('asset', g.asset);
    if (asset !== null && !(await this.store.getAsset(tenant, asset))) {
      throw new IipError('IIP_ERR_NOT_FOUND', `asset "${asset}" not found in tenant "${tenant}"`, { resource: 'asset', id: asset, field: 'asset' });
    }
    await this.checkRole(tenant, g.role, asset, byPlatformAdmin);
  }

  /** Users of the tenant that hold platform-admin: only a platform administrator may disable or reset them. */
  async isPlatformAdmin(tenant: TenantId, userId: string): Promise<boolean> {
    return (await this.store.listGrants(tenant, { userId: userId as UserId })).some((g) => g.role === PLATFORM_ADMIN && g.asset === null);
  }

  async addGrant(tenant: TenantId, g: { userId: string; role: string; asset?: string | null }, byPlatformAdmin: boolean): Promise<Grant> {
    const asset = g.asset == null ? null : checkId('asset', g.asset);
    await this.checkRole(tenant, g.role, asset, byPlatformAdmin);
    const grant: Grant = { tenant, id: randomUUID(), userId: g.userId as UserId, role: g.role, asset, createdAt: this.now() };
    await this.store.addGrant(grant);
    this.control.changed(tenant);
    return grant;
  }

  private async checkRole(tenant: TenantId, role: string, asset: string | null, byPlatformAdmin: boolean): Promise<void> {
    // The cache may predate a role created by another process: a miss asks the store.
    const known = BUILT_IN_ROLE_IDS.has(role) || (await this.control.customRoles(tenant)).some((r) => r.id === role) || (await this.store.listRoles(tenant)).some((r) => r.id === role);
    if (!known) throw new IipError('IIP_ERR_ACCESS_UNKNOWN_ROLE', `role "${role}" is neither built in nor a custom role of tenant "${tenant}"`, { field: 'role', role });
    if (role === PLATFORM_ADMIN && (!byPlatformAdmin || tenant !== this.control.platformTenant || asset !== null)) {
      throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `only a platform administrator may grant "${PLATFORM_ADMIN}", and only on the whole tenant "${this.control.platformTenant}"`, {
        permission: 'tenants:manage',
        tenant,
        field: 'role',
      });
    }
  }

  /** Revokes a grant of `userId`; a platform-admin grant only by a platform administrator. */
  async removeGrant(tenant: TenantId, userId: string, id: string, byPlatformAdmin: boolean): Promise<void> {
    const grant = (await this.store.listGrants(tenant, { userId: userId as UserId })).find((g) => g.id === id);
    if (!grant) throw new IipError('IIP_ERR_NOT_FOUND', `grant "${id}" of user "${userId}" not found`, { resource: 'grant', id });
    if (grant.role === PLATFORM_ADMIN && !byPlatformAdmin) {
      throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `only a platform administrator may revoke "${PLATFORM_ADMIN}"`, { permission: 'tenants:manage', tenant });
    }
    if (!(await this.store.removeGrant(tenant, id))) throw new IipError('IIP_ERR_NOT_FOUND', `grant "${id}" not found`, { resource: 'grant', id });
    this.control.changed(tenant);
  }

  /** The tenant's users (without password hashes) with their grants. */
  async listUsers(tenant: TenantId): Promise<
    Array<{ id: string; username: string; tenant: string; kind: 'person' | 'service'; createdAt: number; disabled: boolean; lockedUntil: number | null; totpEnabled: boolean; grants: Grant[] }>
  > {
    const [users, grants] = await Promise.all([this.users.listUsers(tenant), this.store.listGrants(tenant)]);
    return users.map((u) => ({
      id: u.id,
      username: u.username,
      tenant: u.tenant,
      kind: u.kind ?? 'person',
      createdAt: u.createdAt,
      disabled: u.disabled ?? false,
      lockedUntil: u.lockedUntil ?? null,
      totpEnabled: Boolean(u.totpSecret),
      grants: grants.filter((g) => g.userId === u.id),
    }));
  }
}
