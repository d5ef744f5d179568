/**
 * AccessStore on SQLite: a tenant's asset tree, device placements, custom roles and grants. Every statement
 * carries the tenant. Each write that checks a rule (a parent in the tenant, no cycle, a deeper level, an empty
 * asset before delete, a grant only on the tenant's own user and asset) reads and writes in one BEGIN IMMEDIATE
 * transaction: it holds the file's write lock from the first read, so another process writing the same file
 * waits and then sees the committed result — the rule cannot be broken between the check and the write.
 */
import type Database from 'better-sqlite3';
import type { TenantId, UserId } from '@iip/core';
import type { AccessStore, Asset, CustomRole, Grant } from '../access-ports.js';
import {
  assetCycle,
  assetExists,
  assetNotFound,
  checkAssetEmpty,
  checkLevelBelow,
  checkLevelKnown,
  grantDuplicate,
  grantIdExists,
  notInTenant,
  parentNotFound,
  patchedAsset,
  roleExists,
  roleInUse,
  roleNotFound,
} from '../access-rules.js';
import { type AssetRow, type GrantRow, type RoleRow, toAsset, toGrant, toRole } from '../rows.js';
import { isConstraintViolation } from './sqlite-errors.js';

export class SqliteAccessStore implements AccessStore {
  private readonly s;
  constructor(private readonly db: Database.Database) {
    this.s = {
      getAsset: db.prepare('SELECT * FROM assets WHERE tenant = ? AND id = ?'),
      listAssets: db.prepare('SELECT * FROM assets WHERE tenant = ? ORDER BY id'),
      insertAsset: db.prepare('INSERT INTO assets (tenant, id, parent, level, name, name_zh, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      updateAsset: db.prepare('UPDATE assets SET name = ?, name_zh = ?, parent = ? WHERE tenant = ? AND id = ? RETURNING *'),
      deleteAsset: db.prepare('DELETE FROM assets WHERE tenant = ? AND id = ?'),
      // Ancestors of an asset (itself first); UNION, not UNION ALL, so even a corrupt tree cannot loop forever.
      isAncestorOrSelf: db.prepare(
        `WITH RECURSIVE up (id, parent) AS (
           SELECT id, parent FROM assets WHERE tenant = @tenant AND id = @start
           UNION
           SELECT a.id, a.parent FROM assets a JOIN up ON a.tenant = @tenant AND a.id = up.parent
         )
         SELECT 1 FROM up WHERE id = @asset LIMIT 1`,
      ),
      counts: db.prepare(
        `SELECT (SELECT count(*) FROM assets WHERE tenant = @tenant AND parent = @asset) AS children,
                (SELECT count(*) FROM devices WHERE tenant = @tenant AND asset = @asset) AS devices,
                (SELECT count(*) FROM grants WHERE tenant = @tenant AND asset = @asset) AS grants`,
      ),
      deviceExists: db.prepare('SELECT 1 FROM devices WHERE tenant = ? AND id = ?'),
      place: db.prepare('UPDATE devices SET asset = ? WHERE tenant = ? AND id = ?'),
      placements: db.prepare('SELECT id AS device, asset FROM devices WHERE tenant = ? AND asset IS NOT NULL ORDER BY id'),
      insertRole: db.prepare('INSERT INTO roles (tenant, id, name, permissions, created_at) VALUES (?, ?, ?, ?, ?)'),
      updateRole: db.prepare('UPDATE roles SET name = ?, permissions = ? WHERE tenant = ? AND id = ? RETURNING *'),
      getRole: db.prepare('SELECT 1 FROM roles WHERE tenant = ? AND id = ?'),
      deleteRole: db.prepare('DELETE FROM roles WHERE tenant = ? AND id = ?'),
      roleGrants: db.prepare('SELECT count(*) AS n FROM grants WHERE tenant = ? AND role = ?'),
      listRoles: db.prepare('SELECT * FROM roles WHERE tenant = ? ORDER BY id'),
      userInTenant: db.prepare('SELECT 1 FROM users WHERE id = ? AND tenant = ?'),
      grantById: db.prepare('SELECT 1 FROM grants WHERE tenant = ? AND id = ?'),
      sameGrant: db.prepare('SELECT 1 FROM grants WHERE tenant = ? AND user_id = ? AND role = ? AND asset IS ?'),
      insertGrant: db.prepare('INSERT INTO grants (tenant, id, user_id, role, asset, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      removeGrant: db.prepare('DELETE FROM grants WHERE tenant = ? AND id = ?'),
      listGrants: db.prepare('SELECT * FROM grants WHERE tenant = ? ORDER BY id'),
      listGrantsOfUser: db.prepare('SELECT * FROM grants WHERE tenant = ? AND user_id = ? ORDER BY id'),
    };
  }

  private asset(tenant: TenantId, id: string): Asset | undefined {
    const r = this.s.getAsset.get(tenant, id) as AssetRow | undefined;
    return r && toAsset(r);
  }

  async createAsset(a: Asset): Promise<void> {
    checkLevelKnown(a.tenant, a.id, a.level);
    this.db
      .transaction(() => {
        if (this.s.getAsset.get(a.tenant, a.id)) throw assetExists(a.tenant, a.id);
        if (a.parent !== null) {
          const parent = this.asset(a.tenant, a.parent);
          if (!parent) throw parentNotFound(a.tenant, a.id, a.parent);
          checkLevelBelow(a.tenant, a.id, a.level, parent);
        }
        try {
          this.s.insertAsset.run(a.tenant, a.id, a.parent, a.level, a.name, a.nameZh, a.createdAt);
        } catch (e) {
          if (isConstraintViolation(e)) throw assetExists(a.tenant, a.id);
          throw e;
        }
      })
      .immediate();
  }

  async updateAsset(
    tenant: TenantId,
    id: string,
    patch: { readonly name?: string; readonly nameZh?: string | null; readonly parent?: string | null },
  ): Promise<Asset> {
    return this.db
      .transaction(() => {
        const current = this.asset(tenant, id);
        if (!current) throw assetNotFound(tenant, id);
        const next = patchedAsset(current, patch);
        if (patch.parent !== undefined && patch.parent !== null) {
          const parent = this.asset(tenant, patch.parent);
          if (!parent) throw parentNotFound(tenant, id, patch.parent);
          // The new parent is the asset itself or lies below it: walking up from the parent meets the asset.
          if (this.s.isAncestorOrSelf.get({ tenant, start: patch.parent, asset: id })) throw assetCycle(tenant, id, patch.parent);
          checkLevelBelow(tenant, id, current.level, parent);
        }
        return toAsset(this.s.updateAsset.get(next.name, next.nameZh, next.parent, tenant, id) as AssetRow);
      })
      .immediate();
  }

  async deleteAsset(tenant: TenantId, id: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (!this.s.getAsset.get(tenant, id)) return false;
        checkAssetEmpty(tenant, id, this.s.counts.get({ tenant, asset: id }) as { children: number; devices: number; grants: number });
        return this.s.deleteAsset.run(tenant, id).changes > 0;
      })
      .immediate();
  }

  async getAsset(tenant: TenantId, id: string): Promise<Asset | undefined> {
    return this.asset(tenant, id);
  }

  async listAssets(tenant: TenantId): Promise<Asset[]> {
    return (this.s.listAssets.all(tenant) as AssetRow[]).map(toAsset);
  }

  async placeDevice(tenant: TenantId, device: string, asset: string | null): Promise<void> {
    this.db
      .transaction(() => {
        if (!this.s.deviceExists.get(tenant, device)) throw notInTenant(tenant, 'device', 'device', device);
        if (asset !== null && !this.s.getAsset.get(tenant, asset)) throw notInTenant(tenant, 'asset', 'asset', asset);
        this.s.place.run(asset, tenant, device);
      })
      .immediate();
  }

  async listPlacements(tenant: TenantId): Promise<Array<{ device: string; asset: string }>> {
    return this.s.placements.all(tenant) as Array<{ device: string; asset: string }>;
  }

  async createRole(r: CustomRole): Promise<void> {
    try {
      this.s.insertRole.run(r.tenant, r.id, r.name, JSON.stringify(r.permissions), r.createdAt);
    } catch (e) {
      if (isConstraintViolation(e)) throw roleExists(r.tenant, r.id);
      throw e;
    }
  }

  async updateRole(r: Omit<CustomRole, 'createdAt'>): Promise<CustomRole> {
    const row = this.s.updateRole.get(r.name, JSON.stringify(r.permissions), r.tenant, r.id) as RoleRow | undefined;
    if (!row) throw roleNotFound(r.tenant, r.id);
    return toRole(row);
  }

  async deleteRole(tenant: TenantId, id: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        // A role the tenant never defined (a built-in id, say) is absent, whatever grants name it.
        if (!this.s.getRole.get(tenant, id)) return false;
        const { n } = this.s.roleGrants.get(tenant, id) as { n: number };
        if (n > 0) throw roleInUse(tenant, id, n);
        return this.s.deleteRole.run(tenant, id).changes > 0;
      })
      .immediate();
  }

  async listRoles(tenant: TenantId): Promise<CustomRole[]> {
    return (this.s.listRoles.all(tenant) as RoleRow[]).map(toRole);
  }

  async addGrant(g: Grant): Promise<void> {
    this.db
      .transaction(() => {
        if (!this.s.userInTenant.get(g.userId, g.tenant)) throw notInTenant(g.tenant, 'userId', 'user', g.userId);
        if (g.asset !== null && !this.s.getAsset.get(g.tenant, g.asset)) throw notInTenant(g.tenant, 'asset', 'asset', g.asset);
        if (this.s.sameGrant.get(g.tenant, g.userId, g.role, g.asset)) throw grantDuplicate(g.tenant, g);
        if (this.s.grantById.get(g.tenant, g.id)) throw grantIdExists(g.tenant, g.id);
        try {
          this.s.insertGrant.run(g.tenant, g.id, g.userId, g.role, g.asset, g.createdAt);
        } catch (e) {
          if (isConstraintViolation(e)) throw grantDuplicate(g.tenant, g);
          throw e;
        }
      })
      .immediate();
  }

  async removeGrant(tenant: TenantId, id: string): Promise<boolean> {
    return this.s.removeGrant.run(tenant, id).changes > 0;
  }

  async listGrants(tenant: TenantId, filter?: { readonly userId?: UserId }): Promise<Grant[]> {
    const rows = (filter?.userId !== undefined ? this.s.listGrantsOfUser.all(tenant, filter.userId) : this.s.listGrants.all(tenant)) as GrantRow[];
    return rows.map(toGrant);
  }
}
