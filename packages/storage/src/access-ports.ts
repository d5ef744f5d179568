/**
 * Storage ports of access control (issue 12): a tenant's asset tree (ISA-95 levels), where devices sit in it,
 * the tenant's custom roles and the grants that give users roles on the whole tenant or on an asset subtree.
 * What a role permits and how a decision is made live in @iip/security (the policy decision point); these ports
 * only keep the facts, with the integrity rules that must hold under concurrent writers (no cycle in the tree,
 * no grant on another tenant's asset) checked inside the store's own transaction.
 */
import type { TenantId, UserId } from '@iip/core';

/** ISA-95 equipment hierarchy levels, outermost first (IEC 62264-1: enterprise › site › area › line › cell). */
export const ASSET_LEVELS = ['enterprise', 'site', 'area', 'line', 'cell'] as const;
export type AssetLevel = (typeof ASSET_LEVELS)[number];

/**
 * One node of a tenant's asset tree. A root has `parent: null`; a child's level is deeper than its parent's
 * (levels may be skipped: a site may hold a line directly). Names are free text; `nameZh` is the Chinese name
 * shown by the console in 中文 (the English `name` when absent).
 */
export interface Asset {
  readonly tenant: TenantId;
  readonly id: string;
  readonly parent: string | null;
  readonly level: AssetLevel;
  readonly name: string;
  readonly nameZh: string | null;
  readonly createdAt: number;
}

/** A tenant's own role: a named set of permissions (strings `resource:action`, checked by @iip/security). */
export interface CustomRole {
  readonly tenant: TenantId;
  readonly id: string;
  readonly name: string;
  readonly permissions: readonly string[];
  readonly createdAt: number;
}

/**
 * A role given to a user on the whole tenant (`asset: null`) or on one asset and everything below it. `role` is
 * a built-in role id (@iip/security BUILT_IN_ROLES) or the id of a custom role of the same tenant.
 */
export interface Grant {
  readonly tenant: TenantId;
  readonly id: string;
  readonly userId: UserId;
  readonly role: string;
  readonly asset: string | null;
  readonly createdAt: number;
}

export interface AccessStore {
  /**
   * Throws IIP_ERR_CONFLICT when the id exists in the tenant, IIP_ERR_ASSET_PARENT when the parent does not exist
   * in the tenant, IIP_ERR_ASSET_LEVEL when the level is not deeper than the parent's.
   */
  createAsset(a: Asset): Promise<void>;
  /**
   * Renames and/or moves an asset. A move checks, in the same transaction, that the new parent exists in the
   * tenant (IIP_ERR_ASSET_PARENT), is not the asset or below it (IIP_ERR_ASSET_CYCLE) and is of a shallower level
   * than the asset and its whole subtree allow (IIP_ERR_ASSET_LEVEL). IIP_ERR_NOT_FOUND when the asset is absent.
   */
  updateAsset(tenant: TenantId, id: string, patch: { readonly name?: string; readonly nameZh?: string | null; readonly parent?: string | null }): Promise<Asset>;
  /** Refuses (IIP_ERR_ASSET_NOT_EMPTY) while it has children, devices or grants. False when absent. */
  deleteAsset(tenant: TenantId, id: string): Promise<boolean>;
  getAsset(tenant: TenantId, id: string): Promise<Asset | undefined>;
  listAssets(tenant: TenantId): Promise<Asset[]>;

  /** Places a device (or gateway) on an asset, or takes it off the tree (null). IIP_ERR_NOT_FOUND for either. */
  placeDevice(tenant: TenantId, device: string, asset: string | null): Promise<void>;
  /** Every placed device of the tenant with its asset. */
  listPlacements(tenant: TenantId): Promise<Array<{ device: string; asset: string }>>;

  /** Throws IIP_ERR_CONFLICT when the id exists in the tenant. */
  createRole(r: CustomRole): Promise<void>;
  /** Replaces name and permissions; IIP_ERR_NOT_FOUND when absent. */
  updateRole(r: Omit<CustomRole, 'createdAt'>): Promise<CustomRole>;
  /** Refuses (IIP_ERR_CONFLICT) while grants use it. False when absent. */
  deleteRole(tenant: TenantId, id: string): Promise<boolean>;
  listRoles(tenant: TenantId): Promise<CustomRole[]>;

  /**
   * Throws IIP_ERR_CONFLICT when the same (user, role, asset) grant exists, IIP_ERR_NOT_FOUND when the user is not
   * in the tenant or the asset is not in the tenant (a grant can never reach into another tenant).
   */
  addGrant(g: Grant): Promise<void>;
  removeGrant(tenant: TenantId, id: string): Promise<boolean>;
  /** The tenant's grants, optionally of one user (a user belongs to one tenant; so do all of its grants). */
  listGrants(tenant: TenantId, filter?: { readonly userId?: UserId }): Promise<Grant[]>;
}
