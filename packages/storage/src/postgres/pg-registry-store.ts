/**
 * RegistryStore on PostgreSQL: tenants, products (thing model as JSON text, so it round-trips exactly) and
 * devices. Every product and device statement carries the tenant in its WHERE clause.
 */
import type pg from 'pg';
import { IipError } from '@iip/core';
import type { DeviceId, ProductId, TenantId, } from '@iip/core';
import type { Device, Page, Product, RegistryStore, Tenant, TenantPolicy, TenantStatus } from '../ports.js';
import { resolveTenantPatch, tenantNotFound } from '../access-rules.js';
import { lockTenantAccess } from './pg-access-store.js';
import { PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';

import { type DeviceRow, type ProductRow, type TenantRow, toDevice, toProduct, toTenant } from '../rows.js';

/** Separator that cannot occur in ids. */
const SEP = '\u0000';
const DEVICE_COLUMNS = 'tenant, id, product, name, secret_hash, attributes, created_at, asset';

export class PgRegistryStore implements RegistryStore {
  constructor(private readonly db: PgDb) {}

  async createTenant(t: Tenant): Promise<void> {
    try {
      const status = t.status ?? 'active';
      await this.db.query('INSERT INTO tenants (id, name, created_at, status, suspended_reason) VALUES ($1, $2, $3, $4, $5)', [
        t.id,
        t.name,
        t.createdAt,
        status,
        status === 'active' ? null : (t.suspendedReason ?? null),
      ]);
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
        throw new IipError('IIP_ERR_CONFLICT', `tenant "${t.id}" already exists`, { tenant: t.id });
      }
      throw e;
    }
  }

  async getTenant(id: TenantId): Promise<Tenant | undefined> {
    const [r] = await this.db.rows<TenantRow>('SELECT * FROM tenants WHERE id = $1', [id]);
    return r && toTenant(r);
  }

  async listTenants(): Promise<Tenant[]> {
    return (await this.db.rows<TenantRow>('SELECT * FROM tenants ORDER BY id')).map(toTenant);
  }

  async updateTenant(
    id: TenantId,
    patch: { readonly name?: string; readonly status?: TenantStatus; readonly suspendedReason?: string | null },
  ): Promise<Tenant> {
    return this.db.tx(async (c) => {
      // The row lock makes concurrent updates apply one after the other, each to the result of the previous.
      const { rows } = await c.query<TenantRow>('SELECT * FROM tenants WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw tenantNotFound(id);
      const next = resolveTenantPatch(toTenant(rows[0]), patch);
      const updated = await c.query<TenantRow>('UPDATE tenants SET name = $1, status = $2, suspended_reason = $3 WHERE id = $4 RETURNING *', [
        next.name,
        next.status,
        next.suspendedReason,
        id,
      ]);
      return toTenant(updated.rows[0]!);
    });
  }

  async deleteTenant(id: TenantId): Promise<boolean> {
    try {
      return await this.deleteTenantRows(id);
    } catch (e) {
      // A device or product of the tenant created while it was being deleted: nothing was deleted.
      if (pgErrorCode(e) === PG_FOREIGN_KEY_VIOLATION) {
        throw new IipError('IIP_ERR_CONFLICT', `tenant "${id}" changed while it was being deleted; try again`, { tenant: id });
      }
      throw e;
    }
  }

  private deleteTenantRows(id: TenantId): Promise<boolean> {
    return this.db.tx(async (c) => {
      // The access lock first (as every access write takes it), then the tenant row.
      await lockTenantAccess(c, id);
      const { rowCount } = await c.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [id]);
      if ((rowCount ?? 0) === 0) return false;
      // Children before what they reference. Telemetry and the audit log stay (and the device-event and
      // alarm-history seq counters, so a seq is never reused).
      for (const sql of [
        'DELETE FROM grants WHERE tenant = $1',
        'DELETE FROM roles WHERE tenant = $1',
        'DELETE FROM devices WHERE tenant = $1',
        'DELETE FROM assets WHERE tenant = $1',
        'DELETE FROM products WHERE tenant = $1',
        'DELETE FROM tokens WHERE tenant = $1 OR user_id IN (SELECT id FROM users WHERE tenant = $1)',
        'DELETE FROM api_tokens WHERE tenant = $1 OR user_id IN (SELECT id FROM users WHERE tenant = $1)',
        'DELETE FROM users WHERE tenant = $1',
        'DELETE FROM gateway_configs WHERE tenant = $1',
        'DELETE FROM gateway_states WHERE tenant = $1',
        'DELETE FROM tenant_policies WHERE tenant = $1',
        'DELETE FROM device_events WHERE tenant = $1',
        'DELETE FROM rule_states WHERE tenant = $1',
        'DELETE FROM rules WHERE tenant = $1',
        'DELETE FROM alarm_history WHERE tenant = $1',
        'DELETE FROM alarms WHERE tenant = $1',
        'DELETE FROM action_jobs WHERE tenant = $1',
        'DELETE FROM action_signing_secrets WHERE tenant = $1',
      ]) {
        await c.query(sql, [id]);
      }
      const del = await c.query('DELETE FROM tenants WHERE id = $1', [id]);
      return (del.rowCount ?? 0) > 0;
    });
  }

  async createProduct(p: Product): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO products (tenant, id, name, category, model, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [p.tenant, p.id, p.name, p.category, JSON.stringify(p.model), p.version, p.createdAt],
      );
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
        throw new IipError('IIP_ERR_CONFLICT', `product "${p.id}" already exists in tenant "${p.tenant}"`, { tenant: p.tenant, product: p.id });
      }
      throw e;
    }
  }

  async updateProduct(p: Omit<Product, 'version' | 'createdAt'>): Promise<Product> {
    // The row lock of the UPDATE serialises concurrent updates: each gets its own version.
    const [r] = await this.db.rows<ProductRow>(
      `UPDATE products SET name = $1, category = $2, model = $3, version = version + 1
        WHERE tenant = $4 AND id = $5 RETURNING *`,
      [p.name, p.category, JSON.stringify(p.model), p.tenant, p.id],
    );
    if (!r) {
      throw new IipError('IIP_ERR_NOT_FOUND', `product "${p.id}" does not exist in tenant "${p.tenant}"`, { tenant: p.tenant, product: p.id });
    }
    return toProduct(r);
  }

  async getProduct(tenant: TenantId, id: ProductId): Promise<Product | undefined> {
    const [r] = await this.db.rows<ProductRow>('SELECT * FROM products WHERE tenant = $1 AND id = $2', [tenant, id]);
    return r && toProduct(r);
  }

  async listProducts(tenant: TenantId): Promise<Product[]> {
    return (await this.db.rows<ProductRow>('SELECT * FROM products WHERE tenant = $1 ORDER BY id', [tenant])).map(toProduct);
  }

  async deleteProduct(tenant: TenantId, id: ProductId): Promise<boolean> {
    const conflict = () => new IipError('IIP_ERR_CONFLICT', `product "${id}" still has devices; delete them first`, { tenant, product: id });
    try {
      return await this.db.tx(async (c) => {
        const has = await c.query('SELECT 1 FROM devices WHERE tenant = $1 AND product = $2 LIMIT 1', [tenant, id]);
        if (has.rows.length > 0) throw conflict();
        const del = await c.query('DELETE FROM products WHERE tenant = $1 AND id = $2', [tenant, id]);
        return (del.rowCount ?? 0) > 0;
      });
    } catch (e) {
      // A device created concurrently: the foreign key refuses the delete.
      if (pgErrorCode(e) === PG_FOREIGN_KEY_VIOLATION) throw conflict();
      throw e;
    }
  }

  async createDevice(d: Device): Promise<void> {
    const details = { tenant: d.tenant, device: d.id, product: d.product };
    const notFound = () => new IipError('IIP_ERR_NOT_FOUND', `device "${d.id}": product "${d.product}" does not exist in tenant "${d.tenant}"`, details);
    const asset = d.asset ?? null;
    // The product check and the insert are one statement: an unknown product inserts nothing.
    const insert = (on?: pg.PoolClient) =>
      this.db.query(
        `INSERT INTO devices (${DEVICE_COLUMNS})
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM products WHERE tenant = $1 AND id = $3)`,
        [d.tenant, d.id, d.product, d.name, d.secretHash, JSON.stringify(d.attributes), d.createdAt, asset],
        on,
      );
    let inserted: number;
    try {
      if (asset === null) {
        inserted = (await insert()).rowCount ?? 0;
      } else {
        // Placed at creation: checked under the tenant's access lock, so the asset cannot be deleted meanwhile.
        inserted = await this.db.tx(async (c) => {
          await lockTenantAccess(c, d.tenant);
          const { rowCount } = await c.query('SELECT 1 FROM assets WHERE tenant = $1 AND id = $2', [d.tenant, asset]);
          if ((rowCount ?? 0) === 0) {
            throw new IipError('IIP_ERR_NOT_FOUND', `device "${d.id}": asset "${asset}" does not exist in tenant "${d.tenant}"`, {
              ...details,
              field: 'asset',
              asset,
            });
          }
          return (await insert(c)).rowCount ?? 0;
        });
      }
    } catch (e) {
      const code = pgErrorCode(e);
      if (code === PG_UNIQUE_VIOLATION) throw new IipError('IIP_ERR_CONFLICT', `device "${d.id}" already exists in tenant "${d.tenant}"`, details);
      if (code === PG_FOREIGN_KEY_VIOLATION) throw notFound();
      throw e;
    }
    if (inserted === 0) throw notFound();
  }

  /**
   * All or nothing, in one transaction: the batch is checked first (unknown products, unknown assets, ids taken
   * in the database or earlier in the batch) and the lowest offending row is named, as the row-by-row SQLite
   * adapter would; then all rows go in with one INSERT. A batch that places devices holds the access lock of
   * their tenants, so the assets cannot be deleted meanwhile.
   */
  async createDevices(ds: readonly Device[]): Promise<void> {
    if (ds.length === 0) return;
    const byTenant = new Map<string, Device[]>();
    for (const d of ds) {
      const list = byTenant.get(d.tenant);
      if (list) list.push(d);
      else byTenant.set(d.tenant, [d]);
    }
    const rowError = (i: number, code: string, why: string) => {
      const d = ds[i]!;
      return new IipError(code, `devices[${i}] ("${d.id}")${why}`, { tenant: d.tenant, device: d.id, product: d.product, index: i });
    };
    try {
      await this.db.tx(async (c) => {
        const products = new Set<string>();
        const assets = new Set<string>();
        const taken = new Set<string>();
        // Locks in one order (tenant ids sorted), so two batches never wait for each other in a circle.
        const placing = [...byTenant].filter(([, list]) => list.some((d) => (d.asset ?? null) !== null)).map(([t]) => t).sort();
        for (const tenant of placing) {
          await lockTenantAccess(c, tenant as TenantId);
          const wanted = [...new Set(byTenant.get(tenant)!.flatMap((d) => (d.asset != null ? [d.asset] : [])))];
          const as = await c.query<{ id: string }>('SELECT id FROM assets WHERE tenant = $1 AND id = ANY($2::text[])', [tenant, wanted]);
          for (const r of as.rows) assets.add(tenant + SEP + r.id);
        }
        for (const [tenant, list] of byTenant) {
          const ps = await c.query<{ id: string }>('SELECT id FROM products WHERE tenant = $1 AND id = ANY($2::text[])', [
            tenant,
            [...new Set(list.map((d) => d.product))],
          ]);
          for (const r of ps.rows) products.add(tenant + SEP + r.id);
          const ex = await c.query<{ id: string }>('SELECT id FROM devices WHERE tenant = $1 AND id = ANY($2::text[])', [tenant, list.map((d) => d.id)]);
          for (const r of ex.rows) taken.add(tenant + SEP + r.id);
        }
        for (let i = 0; i < ds.length; i++) {
          const d = ds[i]!;
          if (!products.has(d.tenant + SEP + d.product)) {
            throw rowError(i, 'IIP_ERR_NOT_FOUND', `: product "${d.product}" does not exist in tenant "${d.tenant}"`);
          }
          if (d.asset != null && !assets.has(d.tenant + SEP + d.asset)) {
            const err = rowError(i, 'IIP_ERR_NOT_FOUND', `: asset "${d.asset}" does not exist in tenant "${d.tenant}"`);
            throw new IipError(err.code, err.message, { ...err.details, field: 'asset', asset: d.asset });
          }
          const k = d.tenant + SEP + d.id;
          if (taken.has(k)) throw rowError(i, 'IIP_ERR_CONFLICT', ` already exists in tenant "${d.tenant}"`);
          taken.add(k);
        }
        await c.query(
          `INSERT INTO devices (${DEVICE_COLUMNS})
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])`,
          [
            ds.map((d) => d.tenant),
            ds.map((d) => d.id),
            ds.map((d) => d.product),
            ds.map((d) => d.name),
            ds.map((d) => d.secretHash),
            ds.map((d) => JSON.stringify(d.attributes)),
            ds.map((d) => d.createdAt),
            ds.map((d) => d.asset ?? null),
          ],
        );
      });
    } catch (e) {
      // A concurrent writer got in between the check and the insert.
      const code = pgErrorCode(e);
      if (code === PG_UNIQUE_VIOLATION || code === PG_FOREIGN_KEY_VIOLATION) {
        const detail = String((e as { detail?: unknown }).detail ?? '');
        // The key in the server's detail names the row: the id for a duplicate, the product for a missing one.
        const i = ds.findIndex((d) => detail.includes(code === PG_UNIQUE_VIOLATION ? `, ${d.id})` : `, ${d.product})`));
        const at = Math.max(0, i);
        throw code === PG_UNIQUE_VIOLATION
          ? rowError(at, 'IIP_ERR_CONFLICT', ` already exists in tenant "${ds[at]!.tenant}"`)
          : rowError(at, 'IIP_ERR_NOT_FOUND', `: product "${ds[at]!.product}" does not exist in tenant "${ds[at]!.tenant}"`);
      }
      throw e;
    }
  }

  async getDevice(tenant: TenantId, id: DeviceId): Promise<Device | undefined> {
    const [r] = await this.db.rows<DeviceRow>('SELECT * FROM devices WHERE tenant = $1 AND id = $2', [tenant, id]);
    return r && toDevice(r);
  }

  async listDevices(
    tenant: TenantId,
    filter?: { product?: ProductId; assets?: readonly string[] },
    page?: Page,
  ): Promise<{ items: Device[]; total: number }> {
    // LIMIT NULL is no limit. The page and the total come from one snapshot.
    const limit = page?.limit ?? null;
    const offset = page?.offset ?? 0;
    const params: unknown[] = [tenant, limit, offset];
    let where = 'tenant = $1';
    if (filter?.product !== undefined) {
      params.push(filter.product);
      where += ` AND product = $${params.length}`;
    }
    // Only devices placed on one of the assets; an empty list matches none.
    if (filter?.assets !== undefined) {
      params.push([...filter.assets]);
      where += ` AND asset = ANY($${params.length}::text[])`;
    }
    const { rows } = await this.db.query<DeviceRow & { total: number }>(
      `WITH page AS (SELECT * FROM devices WHERE ${where} ORDER BY id LIMIT $2 OFFSET $3)
       SELECT p.*, t.total FROM (SELECT count(*)::int AS total FROM devices WHERE ${where}) t LEFT JOIN page p ON true
       ORDER BY p.id`,
      params,
    );
    const total = rows[0]?.total ?? 0;
    return { items: rows.filter((r) => r.id !== null).map(toDevice), total };
  }

  async deleteDevice(tenant: TenantId, id: DeviceId): Promise<boolean> {
    const res = await this.db.query('DELETE FROM devices WHERE tenant = $1 AND id = $2', [tenant, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async getTenantPolicy(tenant: TenantId): Promise<TenantPolicy | undefined> {
    const rows = await this.db.rows<{ policy: TenantPolicy }>('SELECT policy FROM tenant_policies WHERE tenant = $1', [tenant]);
    return rows[0]?.policy;
  }

  async setTenantPolicy(tenant: TenantId, policy: TenantPolicy): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO tenant_policies (tenant, policy, updated_at) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (tenant) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
        [tenant, JSON.stringify(policy), Date.now()],
      );
    } catch (e) {
      if (pgErrorCode(e) === PG_FOREIGN_KEY_VIOLATION) {
        throw new IipError('IIP_ERR_NOT_FOUND', `tenant "${tenant}" does not exist`, { tenant });
      }
      throw e;
    }
  }
}
