/**
 * RegistryStore on SQLite: tenants, products (with their thing model as JSON) and devices. Every product
 * and device statement carries the tenant in its WHERE clause, so one tenant can never see another's rows.
 * The methods are `async` over better-sqlite3's synchronous statements: each call runs to completion when it
 * is made (so concurrent calls never interleave inside one), and a refusal is a rejected promise.
 */
import type Database from 'better-sqlite3';
import { IipError } from '@iip/core';
import type { DeviceId, ProductId, TenantId, } from '@iip/core';
import type { Device, Page, Product, RegistryStore, Tenant, TenantPolicy, TenantStatus } from '../ports.js';
import { resolveTenantPatch, tenantNotFound } from '../access-rules.js';
import { isConstraintViolation } from './sqlite-errors.js';

import { type DeviceRow, type ProductRow, type TenantRow, toDevice, toProduct, toTenant } from '../rows.js';

export class SqliteRegistryStore implements RegistryStore {
  private readonly s;
  constructor(private readonly db: Database.Database) {
    this.s = {
      createTenant: db.prepare('INSERT INTO tenants (id, name, created_at, status, suspended_reason) VALUES (?, ?, ?, ?, ?)'),
      updateTenant: db.prepare('UPDATE tenants SET name = ?, status = ?, suspended_reason = ? WHERE id = ? RETURNING *'),
      // Every row of one tenant, children before what they reference. Telemetry and the audit log stay (and the
      // tenant's device-event and alarm-history seq counters, so a seq is never reused).
      deleteTenantRows: [
        'DELETE FROM grants WHERE tenant = @t',
        'DELETE FROM roles WHERE tenant = @t',
        'DELETE FROM devices WHERE tenant = @t',
        'DELETE FROM assets WHERE tenant = @t',
        'DELETE FROM products WHERE tenant = @t',
        'DELETE FROM tokens WHERE tenant = @t OR user_id IN (SELECT id FROM users WHERE tenant = @t)',
        'DELETE FROM api_tokens WHERE tenant = @t OR user_id IN (SELECT id FROM users WHERE tenant = @t)',
        'DELETE FROM users WHERE tenant = @t',
        'DELETE FROM gateway_configs WHERE tenant = @t',
        'DELETE FROM gateway_states WHERE tenant = @t',
        'DELETE FROM tenant_policies WHERE tenant = @t',
        'DELETE FROM device_events WHERE tenant = @t',
        'DELETE FROM rule_states WHERE tenant = @t',
        'DELETE FROM rules WHERE tenant = @t',
        'DELETE FROM alarm_history WHERE tenant = @t',
        'DELETE FROM alarms WHERE tenant = @t',
        'DELETE FROM action_jobs WHERE tenant = @t',
        'DELETE FROM action_signing_secrets WHERE tenant = @t',
      ].map((sql) => db.prepare(sql)),
      deleteTenant: db.prepare('DELETE FROM tenants WHERE id = ?'),
      getTenant: db.prepare('SELECT * FROM tenants WHERE id = ?'),
      listTenants: db.prepare('SELECT * FROM tenants ORDER BY id'),
      createProduct: db.prepare(
        'INSERT INTO products (tenant, id, name, category, model, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      updateProduct: db.prepare(
        `UPDATE products SET name = ?, category = ?, model = ?, version = version + 1
         WHERE tenant = ? AND id = ? RETURNING *`,
      ),
      getProduct: db.prepare('SELECT * FROM products WHERE tenant = ? AND id = ?'),
      listProducts: db.prepare('SELECT * FROM products WHERE tenant = ? ORDER BY id'),
      deleteProduct: db.prepare('DELETE FROM products WHERE tenant = ? AND id = ?'),
      productHasDevices: db.prepare('SELECT 1 FROM devices WHERE tenant = ? AND product = ? LIMIT 1'),
      createDevice: db.prepare(
        `INSERT INTO devices (tenant, id, product, name, secret_hash, attributes, created_at, asset)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      assetExists: db.prepare('SELECT 1 FROM assets WHERE tenant = ? AND id = ?'),
      // The asset filter: a JSON array of asset ids (an empty array matches no device).
      listDevicesOnAssets: db.prepare(
        `SELECT * FROM devices WHERE tenant = ? AND asset IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ? OFFSET ?`,
      ),
      countDevicesOnAssets: db.prepare('SELECT count(*) AS n FROM devices WHERE tenant = ? AND asset IN (SELECT value FROM json_each(?))'),
      listDevicesOfProductOnAssets: db.prepare(
        `SELECT * FROM devices WHERE tenant = ? AND product = ? AND asset IN (SELECT value FROM json_each(?))
         ORDER BY id LIMIT ? OFFSET ?`,
      ),
      countDevicesOfProductOnAssets: db.prepare(
        'SELECT count(*) AS n FROM devices WHERE tenant = ? AND product = ? AND asset IN (SELECT value FROM json_each(?))',
      ),
      getDevice: db.prepare('SELECT * FROM devices WHERE tenant = ? AND id = ?'),
      listDevices: db.prepare('SELECT * FROM devices WHERE tenant = ? ORDER BY id LIMIT ? OFFSET ?'),
      countDevices: db.prepare('SELECT count(*) AS n FROM devices WHERE tenant = ?'),
      listDevicesOfProduct: db.prepare(
        'SELECT * FROM devices WHERE tenant = ? AND product = ? ORDER BY id LIMIT ? OFFSET ?',
      ),
      countDevicesOfProduct: db.prepare('SELECT count(*) AS n FROM devices WHERE tenant = ? AND product = ?'),
      deleteDevice: db.prepare('DELETE FROM devices WHERE tenant = ? AND id = ?'),
      getPolicy: db.prepare('SELECT policy FROM tenant_policies WHERE tenant = ?'),
      setPolicy: db.prepare(
        `INSERT INTO tenant_policies (tenant, policy, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (tenant) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
      ),
    };
  }

  async createTenant(t: Tenant): Promise<void> {
    try {
      const status = t.status ?? 'active';
      this.s.createTenant.run(t.id, t.name, t.createdAt, status, status === 'active' ? null : (t.suspendedReason ?? null));
    } catch (e) {
      if (isConstraintViolation(e)) {
        throw new IipError('IIP_ERR_CONFLICT', `tenant "${t.id}" already exists`, { tenant: t.id });
      }
      throw e;
    }
  }

  async getTenant(id: TenantId): Promise<Tenant | undefined> {
    const r = this.s.getTenant.get(id) as TenantRow | undefined;
    return r && toTenant(r);
  }

  async listTenants(): Promise<Tenant[]> {
    return (this.s.listTenants.all() as TenantRow[]).map(toTenant);
  }

  async updateTenant(
    id: TenantId,
    patch: { readonly name?: string; readonly status?: TenantStatus; readonly suspendedReason?: string | null },
  ): Promise<Tenant> {
    return this.db
      .transaction(() => {
        const r = this.s.getTenant.get(id) as TenantRow | undefined;
        if (!r) throw tenantNotFound(id);
        const next = resolveTenantPatch(toTenant(r), patch);
        return toTenant(this.s.updateTenant.get(next.name, next.status, next.suspendedReason, id) as TenantRow);
      })
      .immediate();
  }

  async deleteTenant(id: TenantId): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (!this.s.getTenant.get(id)) return false;
        for (const stmt of this.s.deleteTenantRows) stmt.run({ t: id });
        return this.s.deleteTenant.run(id).changes > 0;
      })
      .immediate();
  }

  async createProduct(p: Product): Promise<void> {
    try {
      this.s.createProduct.run(p.tenant, p.id, p.name, p.category, JSON.stringify(p.model), p.version, p.createdAt);
    } catch (e) {
      if (isConstraintViolation(e)) {
        throw new IipError('IIP_ERR_CONFLICT', `product "${p.id}" already exists in tenant "${p.tenant}"`, {
          tenant: p.tenant,
          product: p.id,
        });
      }
      throw e;
    }
  }

  async updateProduct(p: Omit<Product, 'version' | 'createdAt'>): Promise<Product> {
    const r = this.s.updateProduct.get(p.name, p.category, JSON.stringify(p.model), p.tenant, p.id) as
      | ProductRow
      | undefined;
    if (!r) {
      throw new IipError('IIP_ERR_NOT_FOUND', `product "${p.id}" does not exist in tenant "${p.tenant}"`, {
        tenant: p.tenant,
        product: p.id,
      });
    }
    return toProduct(r);
  }

  async getProduct(tenant: TenantId, id: ProductId): Promise<Product | undefined> {
    const r = this.s.getProduct.get(tenant, id) as ProductRow | undefined;
    return r && toProduct(r);
  }

  async listProducts(tenant: TenantId): Promise<Product[]> {
    return (this.s.listProducts.all(tenant) as ProductRow[]).map(toProduct);
  }

  async deleteProduct(tenant: TenantId, id: ProductId): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.s.productHasDevices.get(tenant, id)) {
        throw new IipError('IIP_ERR_CONFLICT', `product "${id}" still has devices; delete them first`, {
          tenant,
          product: id,
        });
      }
      return this.s.deleteProduct.run(tenant, id).changes > 0;
    }).immediate();
  }

  async createDevice(d: Device): Promise<void> {
    // One transaction, so the asset it is placed on cannot be deleted between the check and the insert.
    this.db.transaction(() => this.insertDevice(d, undefined)).immediate();
  }

  async createDevices(ds: readonly Device[]): Promise<void> {
    this.db.transaction(() => {
      for (let i = 0; i < ds.length; i++) this.insertDevice(ds[i]!, i);
    }).immediate();
  }

  /** `index` is set for bulk creation so the error names the offending row. */
  private insertDevice(d: Device, index: number | undefined): void {
    const where = index === undefined ? `device "${d.id}"` : `devices[${index}] ("${d.id}")`;
    const details = { tenant: d.tenant, device: d.id, product: d.product, ...(index === undefined ? {} : { index }) };
    if (!this.s.getProduct.get(d.tenant, d.product)) {
      throw new IipError('IIP_ERR_NOT_FOUND', `${where}: product "${d.product}" does not exist in tenant "${d.tenant}"`, details);
    }
    const asset = d.asset ?? null;
    if (asset !== null && !this.s.assetExists.get(d.tenant, asset)) {
      throw new IipError('IIP_ERR_NOT_FOUND', `${where}: asset "${asset}" does not exist in tenant "${d.tenant}"`, { ...details, field: 'asset', asset });
    }
    try {
      this.s.createDevice.run(d.tenant, d.id, d.product, d.name, d.secretHash, JSON.stringify(d.attributes), d.createdAt, asset);
    } catch (e) {
      if (isConstraintViolation(e)) {
        throw new IipError('IIP_ERR_CONFLICT', `${where} already exists in tenant "${d.tenant}"`, details);
      }
      throw e;
    }
  }

  async getDevice(tenant: TenantId, id: DeviceId): Promise<Device | undefined> {
    const r = this.s.getDevice.get(tenant, id) as DeviceRow | undefined;
    return r && toDevice(r);
  }

  async listDevices(
    tenant: TenantId,
    filter?: { product?: ProductId; assets?: readonly string[] },
    page?: Page,
  ): Promise<{ items: Device[]; total: number }> {
    // SQLite reads LIMIT -1 as "no limit".
    const limit = page?.limit ?? -1;
    const offset = page?.offset ?? 0;
    if (filter?.assets !== undefined) {
      const assets = JSON.stringify(filter.assets);
      if (filter.product !== undefined) {
        const rows = this.s.listDevicesOfProductOnAssets.all(tenant, filter.product, assets, limit, offset) as DeviceRow[];
        const { n } = this.s.countDevicesOfProductOnAssets.get(tenant, filter.product, assets) as { n: number };
        return { items: rows.map(toDevice), total: n };
      }
      const rows = this.s.listDevicesOnAssets.all(tenant, assets, limit, offset) as DeviceRow[];
      const { n } = this.s.countDevicesOnAssets.get(tenant, assets) as { n: number };
      return { items: rows.map(toDevice), total: n };
    }
    if (filter?.product !== undefined) {
      const rows = this.s.listDevicesOfProduct.all(tenant, filter.product, limit, offset) as DeviceRow[];
      const { n } = this.s.countDevicesOfProduct.get(tenant, filter.product) as { n: number };
      return { items: rows.map(toDevice), total: n };
    }
    const rows = this.s.listDevices.all(tenant, limit, offset) as DeviceRow[];
    const { n } = this.s.countDevices.get(tenant) as { n: number };
    return { items: rows.map(toDevice), total: n };
  }

  async deleteDevice(tenant: TenantId, id: DeviceId): Promise<boolean> {
    return this.s.deleteDevice.run(tenant, id).changes > 0;
  }

  async getTenantPolicy(tenant: TenantId): Promise<TenantPolicy | undefined> {
    const r = this.s.getPolicy.get(tenant) as { policy: string } | undefined;
    return r && (JSON.parse(r.policy) as TenantPolicy);
  }

  async setTenantPolicy(tenant: TenantId, policy: TenantPolicy): Promise<void> {
    if (!this.s.getTenant.get(tenant)) {
      throw new IipError('IIP_ERR_NOT_FOUND', `tenant "${tenant}" does not exist`, { tenant });
    }
    this.s.setPolicy.run(tenant, JSON.stringify(policy), Date.now());
  }
}
