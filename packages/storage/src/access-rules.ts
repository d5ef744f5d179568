/**
 * The integrity rules of the access ports (asset tree, placements, roles, grants) and of tenant updates, written
 * once for both SQL adapters: the level order, the patch resolution and the refusals with their codes, messages
 * and details. Each adapter reads the facts inside its own transaction and asks these functions what to do, so
 * the two adapters refuse the same things in the same words.
 */
import { IipError } from '@iip/core';
import type { TenantId } from '@iip/core';
import { ASSET_LEVELS, type Asset, type AssetLevel } from './access-ports.js';
import type { Tenant, TenantStatus } from './ports.js';

const TENANT_STATUSES: readonly TenantStatus[] = ['active', 'suspended'];

/** Position of a level in ASSET_LEVELS (0 = enterprise, the outermost); -1 for an unknown level. */
export const levelDepth = (level: string): number => (ASSET_LEVELS as readonly string[]).indexOf(level);

/** Refuses a level that is not one of ASSET_LEVELS (the column's CHECK would refuse it less helpfully). */
export function checkLevelKnown(tenant: TenantId, id: string, level: string): void {
  if (levelDepth(level) < 0) {
    throw new IipError('IIP_ERR_ASSET_LEVEL', `asset "${id}" in tenant "${tenant}" has unknown level "${level}"; use one of ${ASSET_LEVELS.join(', ')}`, {
      tenant,
      asset: id,
      level,
      levels: [...ASSET_LEVELS],
    });
  }
}

/** Refuses a child whose level is not strictly deeper than its parent's. */
export function checkLevelBelow(tenant: TenantId, id: string, level: AssetLevel, parent: { id: string; level: AssetLevel }): void {
  if (levelDepth(level) <= levelDepth(parent.level)) {
    throw new IipError(
      'IIP_ERR_ASSET_LEVEL',
      `asset "${id}" (${level}) cannot be placed under asset "${parent.id}" (${parent.level}) in tenant "${tenant}": a child must be of a deeper level than its parent`,
      { tenant, asset: id, level, parent: parent.id, parentLevel: parent.level },
    );
  }
}

export const assetExists = (tenant: TenantId, id: string): IipError =>
  new IipError('IIP_ERR_CONFLICT', `asset "${id}" already exists in tenant "${tenant}"`, { tenant, asset: id });

export const assetNotFound = (tenant: TenantId, id: string): IipError =>
  new IipError('IIP_ERR_NOT_FOUND', `asset "${id}" does not exist in tenant "${tenant}"`, { tenant, asset: id });

export const parentNotFound = (tenant: TenantId, id: string, parent: string): IipError =>
  new IipError('IIP_ERR_ASSET_PARENT', `parent asset "${parent}" of asset "${id}" does not exist in tenant "${tenant}"`, {
    tenant,
    asset: id,
    parent,
  });

export const assetCycle = (tenant: TenantId, id: string, parent: string): IipError =>
  new IipError(
    'IIP_ERR_ASSET_CYCLE',
    parent === id
      ? `asset "${id}" cannot be its own parent (tenant "${tenant}")`
      : `asset "${id}" cannot be moved under asset "${parent}", which lies below it (tenant "${tenant}")`,
    { tenant, asset: id, parent },
  );

export function checkAssetEmpty(tenant: TenantId, id: string, counts: { children: number; devices: number; grants: number }): void {
  if (counts.children > 0 || counts.devices > 0 || counts.grants > 0) {
    throw new IipError(
      'IIP_ERR_ASSET_NOT_EMPTY',
      `asset "${id}" in tenant "${tenant}" still has ${counts.children} child asset(s), ${counts.devices} device(s) and ${counts.grants} grant(s)`,
      { tenant, asset: id, ...counts },
    );
  }
}

/** A device or asset that placeDevice / addGrant cannot find in the tenant; `field` names which argument. */
export const notInTenant = (tenant: TenantId, field: 'device' | 'asset' | 'userId', what: string, id: string): IipError =>
  new IipError('IIP_ERR_NOT_FOUND', `${what} "${id}" does not exist in tenant "${tenant}"`, { tenant, field, [field]: id });

export const roleExists = (tenant: TenantId, id: string): IipError =>
  new IipError('IIP_ERR_CONFLICT', `role "${id}" already exists in tenant "${tenant}"`, { tenant, role: id });

export const roleNotFound = (tenant: TenantId, id: string): IipError =>
  new IipError('IIP_ERR_NOT_FOUND', `role "${id}" does not exist in tenant "${tenant}"`, { tenant, role: id });

export const roleInUse = (tenant: TenantId, id: string, grants: number): IipError =>
  new IipError('IIP_ERR_CONFLICT', `role "${id}" of tenant "${tenant}" is still used by ${grants} grant(s); remove them first`, {
    tenant,
    role: id,
    grants,
  });

export const grantIdExists = (tenant: TenantId, id: string): IipError =>
  new IipError('IIP_ERR_CONFLICT', `grant "${id}" already exists in tenant "${tenant}"`, { tenant, grant: id });

export const grantDuplicate = (tenant: TenantId, g: { id: string; userId: string; role: string; asset: string | null }): IipError =>
  new IipError(
    'IIP_ERR_CONFLICT',
    `user "${g.userId}" already has role "${g.role}" on ${g.asset === null ? 'the whole tenant' : `asset "${g.asset}"`} in tenant "${tenant}"`,
    { tenant, grant: g.id, userId: g.userId, role: g.role, asset: g.asset },
  );

export const tenantNotFound = (id: TenantId): IipError => new IipError('IIP_ERR_NOT_FOUND', `tenant "${id}" does not exist`, { tenant: id });

/**
 * The tenant after `patch`: an omitted field keeps its value; a tenant that ends up active has no suspension
 * reason (re-activating clears it), a suspended one keeps its reason unless the patch gives one.
 */
export function resolveTenantPatch(
  current: Tenant,
  patch: { readonly name?: string; readonly status?: TenantStatus; readonly suspendedReason?: string | null },
): { name: string; status: TenantStatus; suspendedReason: string | null } {
  const status = patch.status ?? current.status ?? 'active';
  if (!TENANT_STATUSES.includes(status)) {
    throw new IipError('IIP_ERR_VALIDATION', `tenant "${current.id}": status must be one of ${TENANT_STATUSES.join(', ')}, not "${status}"`, {
      tenant: current.id,
      status,
    });
  }
  const reason = status === 'active' ? null : patch.suspendedReason !== undefined ? patch.suspendedReason : (current.suspendedReason ?? null);
  return { name: patch.name ?? current.name, status, suspendedReason: reason };
}

/** The asset as it is after a rename/move patch (for the RETURNING-less paths and the checks). */
export function patchedAsset(a: Asset, patch: { readonly name?: string; readonly nameZh?: string | null; readonly parent?: string | null }): Asset {
  return {
    ...a,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.nameZh !== undefined ? { nameZh: patch.nameZh } : {}),
    ...(patch.parent !== undefined ? { parent: patch.parent } : {}),
  };
}
