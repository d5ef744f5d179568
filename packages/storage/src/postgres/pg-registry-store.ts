/**
 * RegistryStore on PostgreSQL: tenants, products (thing model as JSON text, so it round-trips exactly) and
 * devices. Every product and device statement carries the tenant in its WHERE clause.
 */
import { IipError } from '@iip/core';
import type { DeviceId, ProductId, TenantId, } from '@iip/core';
import type { Device, Page, Product, RegistryStore, Tenant, TenantPolicy } from '../ports.js';
import { PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';

import { type DeviceRow, type ProductRow, type TenantRow, toDevice, toProduct, toTenant } from '../rows.js';

/** Separator that cannot occur in ids. */
const SEP = '\u0000';
const DEVICE_COLUMNS = 'tenant, id, product, name, secret_hash, attributes, created_at';

export class PgRegistryStore implements RegistryStore {
  constructor(private readonly db: PgDb) {}

  async createTenant(t: Tenant): Promise<void> {
    try {
      await this.db.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [t.id, t.name, t.createdAt]);
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
    let inserted: number;
    try {
      // The product check and the insert are one statement: an unknown product inserts nothing.
      const res = await this.db.query(
        `INSERT INTO devices (${DEVICE_COLUMNS})
         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM products WHERE tenant = $1 AND id = $3)`,
        [d.tenant, d.id, d.product, d.name, d.secretHash, JSON.stringify(d.attributes), d.createdAt],
      );
      inserted = res.rowCount ?? 0;
    } catch (e) {
      const code = pgErrorCode(e);
      if (code === PG_UNIQUE_VIOLATION) throw new IipError('IIP_ERR_CONFLICT', `device "${d.id}" already exists in tenant "${d.tenant}"`, details);
      if (code === PG_FOREIGN_KEY_VIOLATION) throw notFound();
      throw e;
    }
    if (inserted === 0) throw notFound();
  }

  /**
   * All or nothing, in one transaction: the batch is checked first (unknown products, ids taken in the
   * database or earlier in the batch) and the lowest offending row is named, as the row-by-row SQLite adapter
   * would; then all rows go in with one INSERT.
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
        const taken = new Set<string>();
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
          const k = d.tenant + SEP + d.id;
          if (taken.has(k)) throw rowError(i, 'IIP_ERR_CONFLICT', ` already exists in tenant "${d.tenant}"`);
          taken.add(k);
        }
        await c.query(
          `INSERT INTO devices (${DEVICE_COLUMNS})
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])`,
          [
            ds.map((d) => d.tenant),
            ds.map((d) => d.id),
            ds.map((d) => d.product),
            ds.map((d) => d.name),
            ds.map((d) => d.secretHash),
            ds.map((d) => JSON.stringify(d.attributes)),
            ds.map((d) => d.createdAt),
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

  async listDevices(tenant: TenantId, filter?: { product?: ProductId }, page?: Page): Promise<{ items: Device[]; total: number }> {
    // LIMIT NULL is no limit. The page and the total come from one snapshot.
    const limit = page?.limit ?? null;
    const offset = page?.offset ?? 0;
    const byProduct = filter?.product !== undefined;
    const where = byProduct ? 'tenant = $1 AND product = $4' : 'tenant = $1';
    const params: unknown[] = [tenant, limit, offset];
    if (byProduct) params.push(filter.product);
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
