/**
 * Which administration pages and buttons to offer, from the access summary the platform sent at sign-in. Only a
 * convenience: the platform decides every request again and the pages show its refusals. Pure.
 */
import type { AccessSummary } from '../api-types';
import { ADMIN_ROUTES, type AdminRouteKind } from '../route';
import type { Asset } from './admin-api';
import { pathTo } from './asset-tree';

export type AdminSection = AdminRouteKind;

/** On the whole acting tenant. */
export function hasTenantWide(access: AccessSummary | undefined, permission: string): boolean {
  return !!access && (access.platformAdmin || access.tenantWide.includes(permission));
}

/** On the whole tenant or on at least one asset. */
export function hasAnywhere(access: AccessSummary | undefined, permission: string): boolean {
  return hasTenantWide(access, permission) || (!!access && Object.values(access.assets).some((ps) => ps.includes(permission)));
}

/** On this asset: on the whole tenant, on the asset itself or on one of its ancestors. */
export function hasOnAsset(access: AccessSummary | undefined, permission: string, assets: readonly Asset[], asset: string): boolean {
  if (hasTenantWide(access, permission)) return true;
  if (!access) return false;
  return pathTo(assets, asset).some((a) => access.assets[a]?.includes(permission));
}

export function visibleSections(access: AccessSummary | undefined): AdminSection[] {
  const show: Record<AdminSection, boolean> = {
    tenants: !!access?.platformAdmin,
    assets: hasAnywhere(access, 'assets:read'),
    users: hasTenantWide(access, 'users:read'),
    roles: hasTenantWide(access, 'users:read') || hasTenantWide(access, 'roles:manage'),
    audit: hasTenantWide(access, 'audit:read'),
  };
  return ADMIN_ROUTES.filter((s) => show[s]);
}

/** The permissions a user holds anywhere in the tenant through its grants: what its API tokens may be scoped to. */
export function heldPermissions(grants: ReadonlyArray<{ readonly role: string }>, roles: ReadonlyArray<{ readonly id: string; readonly permissions: readonly string[] }>): Set<string> {
  const held = new Set<string>();
  for (const g of grants) for (const p of roles.find((r) => r.id === g.role)?.permissions ?? []) held.add(p);
  return held;
}
