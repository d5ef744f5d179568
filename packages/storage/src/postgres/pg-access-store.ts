/**
 * AccessStore on PostgreSQL: a tenant's asset tree, device placements, custom roles and grants. Every statement
 * carries the tenant. Each write that checks a rule (a parent in the tenant, no cycle, a deeper level, an empty
 * asset before delete, a grant only on the tenant's own user and asset, no grant left on a deleted role) runs in
 * one transaction that first takes the tenant's access lock (a transaction advisory lock, `lockTenantAccess`):
 * under READ COMMITTED each later statement then sees everything the previous holder committed, so two
 * processes can never both pass a check that only one of them may pass (two moves making a cycle, a child
 * created under an asset being deleted, a grant added on it).
 */
import type pg from 'pg';
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
import { PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';
import { LOCK_ACCESS } from './pg-migrations.js';

/** Serialises the access writes of one tenant until the transaction ends (tenants whose hashes collide share it). */
export async function lockTenantAccess(c: pg.PoolClient, tenant: TenantId): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [LOCK_ACCESS, tenant]);
}

async function readAsset(c: pg.PoolClient, tenant: TenantId, id: string): Promise<Asset | undefined> {
  const { rows } = await c.query<AssetRow>('SELECT * FROM assets WHERE tenant = $1 AND id = $2', [tenant, id]);
  return rows[0] && toAsset(rows[0]);
}

async function exists(c: pg.PoolClient, sql: string, params: unknown[]): Promise<boolean> {
  return ((await c.query(sql, params)).rowCount ?? 0) > 0;
}

export class PgAccessStore implements AccessStore {
  constructor(private readonly db: PgDb) {}

  /** `fn` in one transaction holding the tenant's access lock. */
  private locked<T>(tenant: TenantId, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.db.tx(async (c) => {
      await lockTenantAccess(c, tenant);
      return fn(c);
    });
  }

  async createAsset(a: Asset): Promise<void> {
    checkLevelKnown(a.tenant, a.id, a.level);
    await this.locked(a.tenant, async (c) => {
      if (await exists(c, 'SELECT 1 FROM assets WHERE tenant = $1 AND id = $2', [a.tenant, a.id])) throw assetExists(a.tenant, a.id);
      if (a.parent !== null) {
        const parent = await readAsset(c, a.tenant, a.parent);
        if (!parent) throw parentNotFound(a.tenant, a.id, a.parent);
        checkLevelBelow(a.tenant, a.id, a.level, parent);
      }
      try {
        await c.query('INSERT INTO assets (tenant, id, parent, level, name, name_zh, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          a.tenant,
          a.id,
          a.parent,
          a.level,
          a.name,
          a.nameZh,
          a.createdAt,
        ]);
      } catch (e) {
        if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) throw assetExists(a.tenant, a.id);
        throw e;
      }
    });
  }

  async updateAsset(
    tenant: TenantId,
    id: string,
    patch: { readonly name?: string; readonly nameZh?: string | null; readonly parent?: string | null },
  ): Promise<Asset> {
    return this.locked(tenant, async (c) => {
      const current = await readAsset(c, tenant, id);
      if (!current) throw assetNotFound(tenant, id);
      const next = patchedAsset(current, patch);
      if (patch.parent !== undefined && patch.parent !== null) {
        const parent = await readAsset(c, tenant, patch.parent);
        if (!parent) throw parentNotFound(tenant, id, patch.parent);
        // The new parent is the asset itself or lies below it: walking up from the parent meets the asset.
        // UNION, not UNION ALL, so even a corrupt tree cannot loop forever.
        const below = await exists(
          c,
          `WITH RECURSIVE up (id, parent) AS (
             SELECT id, parent FROM assets WHERE tenant = $1 AND id = $2
             UNION
             SELECT a.id, a.parent FROM assets a JOIN up ON a.tenant = $1 AND a.id = up.parent
           )
           SELECT 1 FROM up WHERE id = $3 LIMIT 1`,
          [tenant, patch.parent, id],
        );
        if (below) throw assetCycle(tenant, id, patch.parent);
        checkLevelBelow(tenant, id, current.level, parent);
      }
      const { rows } = await c.query<AssetRow>('UPDATE assets SET name = $1, name_zh = $2, parent = $3 WHERE tenant = $4 AND id = $5 RETURNING *', [
        next.name,
        next.nameZh,
        next.parent,
        tenant,
        id,
      ]);
      return toAsset(rows[0]!);
    });
  }

  async deleteAsset(tenant: TenantId, id: string): Promise<boolean> {
    return this.locked(tenant, async (c) => {
      if (!(await exists(c, 'SELECT 1 FROM assets WHERE tenant = $1 AND id = $2', [tenant, id]))) return false;
      const { rows } = await c.query<{ children: number; devices: number; grants: number }>(
        `SELECT (SELECT count(*)::int FROM assets WHERE tenant = $1 AND parent = $2) AS children,
                (SELECT count(*)::int FROM devices WHERE tenant = $1 AND asset = $2) AS devices,
                (SELECT count(*)::int FROM grants WHERE tenant = $1 AND asset = $2) AS grants`,
        [tenant, id],
      );
      checkAssetEmpty(tenant, id, rows[0]!);
      const del = await c.query('DELETE FROM assets WHERE tenant = $1 AND id = $2', [tenant, id]);
      return (del.rowCount ?? 0) > 0;
    });
  }

  async getAsset(tenant: TenantId, id: string): Promise<Asset | undefined> {
    const [r] = await this.db.rows<AssetRow>('SELECT * FROM assets WHERE tenant = $1 AND id = $2', [tenant, id]);
    return r && toAsset(r);
  }

  async listAssets(tenant: TenantId): Promise<Asset[]> {
    return (await this.db.rows<AssetRow>('SELECT * FROM assets WHERE tenant = $1 ORDER BY id', [tenant])).map(toAsset);
  }

  async placeDevice(tenant: TenantId, device: string, asset: string | null): Promise<void> {
    await this.locked(tenant, async (c) => {
      if (!(await exists(c, 'SELECT 1 FROM devices WHERE tenant = $1 AND id = $2', [tenant, device]))) throw notInTenant(tenant, 'device', 'device', device);
      if (asset !== null && !(await exists(c, 'SELECT 1 FROM assets WHERE tenant = $1 AND id = $2', [tenant, asset]))) {
        throw notInTenant(tenant, 'asset', 'asset', asset);
      }
      const res = await c.query('UPDATE devices SET asset = $1 WHERE tenant = $2 AND id = $3', [asset, tenant, device]);
      // Deleted between the check and the update (device deletes do not take the access lock).
      if ((res.rowCount ?? 0) === 0) throw notInTenant(tenant, 'device', 'device', device);
    });
  }

  async listPlacements(tenant: TenantId): Promise<Array<{ device: string; asset: string }>> {
    return this.db.rows<{ device: string; asset: string }>(
      'SELECT id AS device, asset FROM devices WHERE tenant = $1 AND asset IS NOT NULL ORDER BY id',
      [tenant],
    );
  }

  async createRole(r: CustomRole): Promise<void> {
    try {
      await this.db.query('INSERT INTO roles (tenant, id, name, permissions, created_at) VALUES ($1, $2, $3, $4, $5)', [
        r.tenant,
        r.id,
        r.name,
        JSON.stringify(r.permissions),
        r.createdAt,
      ]);
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) throw roleExists(r.tenant, r.id);
      throw e;
    }
  }

  async updateRole(r: Omit<CustomRole, 'createdAt'>): Promise<CustomRole> {
    const [row] = await this.db.rows<RoleRow>('UPDATE roles SET name = $1, permissions = $2 WHERE tenant = $3 AND id = $4 RETURNING *', [
      r.name,
      JSON.stringify(r.permissions),
      r.tenant,
      r.id,
    ]);
    if (!row) throw roleNotFound(r.tenant, r.id);
    return toRole(row);
  }

  async deleteRole(tenant: TenantId, id: string): Promise<boolean> {
    return this.locked(tenant, async (c) => {
      // A role the tenant never defined (a built-in id, say) is absent, whatever grants name it.
      if (!(await exists(c, 'SELECT 1 FROM roles WHERE tenant = $1 AND id = $2', [tenant, id]))) return false;
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM grants WHERE tenant = $1 AND role = $2', [tenant, id]);
      const n = rows[0]?.n ?? 0;
      if (n > 0) throw roleInUse(tenant, id, n);
      const del = await c.query('DELETE FROM roles WHERE tenant = $1 AND id = $2', [tenant, id]);
      return (del.rowCount ?? 0) > 0;
    });
  }

  async listRoles(tenant: TenantId): Promise<CustomRole[]> {
    return (await this.db.rows<RoleRow>('SELECT * FROM roles WHERE tenant = $1 ORDER BY id', [tenant])).map(toRole);
  }

  async addGrant(g: Grant): Promise<void> {
    await this.locked(g.tenant, async (c) => {
      if (!(await exists(c, 'SELECT 1 FROM users WHERE id = $1 AND tenant = $2', [g.userId, g.tenant]))) throw notInTenant(g.tenant, 'userId', 'user', g.userId);
      if (g.asset !== null && !(await exists(c, 'SELECT 1 FROM assets WHERE tenant = $1 AND id = $2', [g.tenant, g.asset]))) {
        throw notInTenant(g.tenant, 'asset', 'asset', g.asset);
      }
      if (
        await exists(c, 'SELECT 1 FROM grants WHERE tenant = $1 AND user_id = $2 AND role = $3 AND asset IS NOT DISTINCT FROM $4', [
          g.tenant,
          g.userId,
          g.role,
          g.asset,
        ])
      ) {
        throw grantDuplicate(g.tenant, g);
      }
      if (await exists(c, 'SELECT 1 FROM grants WHERE tenant = $1 AND id = $2', [g.tenant, g.id])) throw grantIdExists(g.tenant, g.id);
      try {
        await c.query('INSERT INTO grants (tenant, id, user_id, role, asset, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
          g.tenant,
          g.id,
          g.userId,
          g.role,
          g.asset,
          g.createdAt,
        ]);
      } catch (e) {
        if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) throw grantDuplicate(g.tenant, g);
        throw e;
      }
    });
  }

  async removeGrant(tenant: TenantId, id: string): Promise<boolean> {
    const res = await this.db.query('DELETE FROM grants WHERE tenant = $1 AND id = $2', [tenant, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async listGrants(tenant: TenantId, filter?: { readonly userId?: UserId }): Promise<Grant[]> {
    const rows =
      filter?.userId !== undefined
        ? await this.db.rows<GrantRow>('SELECT * FROM grants WHERE tenant = $1 AND user_id = $2 ORDER BY id', [tenant, filter.userId])
        : await this.db.rows<GrantRow>('SELECT * FROM grants WHERE tenant = $1 ORDER BY id', [tenant]);
    return rows.map(toGrant);
  }
}
