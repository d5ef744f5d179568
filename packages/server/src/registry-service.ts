/**
 * Products and devices for the API: input checks, secret issuing and bulk import on top of the registry
 * store. A device secret is returned exactly once, when it is issued; the store keeps only its hash.
 */
import {
  DEFAULT_TENANT,
  IipError,
  assertThingModel,
  isValidId,
  type DeviceId,
  type ProductId,
  type TenantId,
  type ThingModel,
} from '@iip/core';
import { generateDeviceSecret, hashDeviceSecret } from '@iip/security';
import type { Device, Product, RegistryStore, Tenant } from '@iip/storage';
import { parseCsvRecords } from './csv.js';

/** The built-in product of edge gateways, in every tenant. */
export const GATEWAY_PRODUCT_ID = 'iip-edge-gateway';

/** Up to this many devices created at once are announced one by one; more, as one change of the tenant. */
const BULK_CHANGE_PER_DEVICE = 100;

export interface NewDevice {
  readonly id?: string;
  readonly name?: string;
  readonly product: string;
  readonly attributes?: Record<string, string>;
  /** The asset of the tenant's tree to place it on (the store refuses an asset that is not in the tenant). */
  readonly asset?: string | null;
}

export interface IssuedDevice {
  readonly device: PublicDevice;
  readonly secret: string;
}

export type PublicDevice = Omit<Device, 'secretHash'>;

export function publicDevice(d: Device): PublicDevice {
  const { secretHash: _omit, ...rest } = d;
  return rest;
}

function checkId(kind: string, id: unknown): string {
  if (!isValidId(id)) {
    throw new IipError('IIP_ERR_VALIDATION', `${kind} id ${JSON.stringify(id)} must be 1–64 characters of letters, digits, _ . - (starting with a letter or digit)`, {
      field: 'id',
      value: typeof id === 'string' ? id : String(id),
    });
  }
  return id;
}

export class RegistryService {
  private readonly listeners = new Set<(tenant: TenantId, device?: DeviceId) => void>();
  private readonly createdListeners = new Set<(tenant: TenantId, devices: readonly Device[]) => void>();
  private deviceQuota: ((tenant: TenantId, adding: number) => Promise<void>) | undefined;
  /** Per tenant, the last quota-checked creation: the next one's check waits for it (see withinDeviceQuota). */
  private readonly creating = new Map<TenantId, Promise<unknown>>();

  constructor(
    private readonly store: RegistryStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called when a device or a product model changes, so caches (device directory) drop stale entries. */
  onChange(fn: (tenant: TenantId, device?: DeviceId) => void): void {
    this.listeners.add(fn);
  }

  /** Called after devices were created (one call for a bulk import), e.g. to prepare their telemetry series. */
  onCreated(fn: (tenant: TenantId, devices: readonly Device[]) => void): void {
    this.createdListeners.add(fn);
  }

  private created(tenant: TenantId, devices: readonly Device[]): void {
    for (const fn of this.createdListeners) fn(tenant, devices);
  }

  /** Checked before devices are created: rejects (IIP_ERR_QUOTA_DEVICES) when `adding` more would pass the tenant's quota. */
  useDeviceQuota(check: ((tenant: TenantId, adding: number) => Promise<void>) | undefined): void {
    this.deviceQuota = check;
  }

  /**
   * Checks the device quota and creates, one creation of a tenant at a time in this process, so that two
   * concurrent creations cannot both pass a check that only one of them fits (processes scaled out can
   * still overshoot by one creation each; docs/reference/retention-and-quotas.md).
   */
  private async withinDeviceQuota(tenant: TenantId, adding: number, create: () => Promise<void>): Promise<void> {
    const check = this.deviceQuota;
    if (!check) return create();
    const before = this.creating.get(tenant) ?? Promise.resolve();
    const run = before.then(async () => {
      await check(tenant, adding);
      await create();
    });
    const tail = run.catch(() => undefined);
    this.creating.set(tenant, tail);
    void tail.then(() => {
      if (this.creating.get(tenant) === tail) this.creating.delete(tenant);
    });
    return run;
  }

  private changed(tenant: TenantId, device?: DeviceId): void {
    for (const fn of this.listeners) fn(tenant, device);
  }

  async createProduct(tenant: TenantId, p: { id: string; name?: string; category?: string; model: ThingModel }): Promise<Product> {
    checkId('product', p.id);
    assertThingModel(p.model);
    const product: Product = {
      tenant,
      id: p.id as ProductId,
      name: p.name ?? p.id,
      category: p.category ?? '',
      model: p.model,
      version: 1,
      createdAt: this.now(),
    };
    await this.store.createProduct(product);
    return product;
  }

  async updateProduct(tenant: TenantId, p: { id: string; name?: string; category?: string; model: ThingModel }): Promise<Product> {
    assertThingModel(p.model);
    const existing = await this.getProduct(tenant, p.id);
    const updated = await this.store.updateProduct({
      tenant,
      id: existing.id,
      name: p.name ?? existing.name,
      category: p.category ?? existing.category,
      model: p.model,
    });
    this.changed(tenant);
    return updated;
  }

  async getProduct(tenant: TenantId, id: string): Promise<Product> {
    const p = await this.findProduct(tenant, id);
    if (!p) throw new IipError('IIP_ERR_NOT_FOUND', `product "${id}" not found`, { resource: 'product', id });
    return p;
  }

  /** The product, or undefined when there is none (any other failure, e.g. storage down, rejects). */
  findProduct(tenant: TenantId, id: string): Promise<Product | undefined> {
    return this.store.getProduct(tenant, id as ProductId);
  }

  listProducts(tenant: TenantId): Promise<Product[]> {
    return this.store.listProducts(tenant);
  }

  async deleteProduct(tenant: TenantId, id: string): Promise<void> {
    if (!(await this.store.deleteProduct(tenant, id as ProductId))) {
      throw new IipError('IIP_ERR_NOT_FOUND', `product "${id}" not found`, { resource: 'product', id });
    }
    this.changed(tenant);
  }

  private build(tenant: TenantId, d: NewDevice, secret: string): Device {
    const id = d.id ?? `dev-${generateDeviceSecret().slice(0, 10).replace(/[^A-Za-z0-9]/g, 'x')}`;
    checkId('device', id);
    checkId('product', d.product);
    return {
      tenant,
      id: id as DeviceId,
      product: d.product as ProductId,
      name: d.name || id,
      secretHash: hashDeviceSecret(secret),
      attributes: d.attributes ?? {},
      createdAt: this.now(),
      asset: d.asset ?? null,
    };
  }

  async createDevice(tenant: TenantId, d: NewDevice): Promise<IssuedDevice> {
    const secret = generateDeviceSecret();
    const device = this.build(tenant, d, secret);
    await this.withinDeviceQuota(tenant, 1, () => this.store.createDevice(device));
    this.changed(tenant, device.id);
    this.created(tenant, [device]);
    return { device: publicDevice(device), secret };
  }

  /** All or nothing; each issued secret is returned once. */
  async createDevices(tenant: TenantId, list: readonly NewDevice[]): Promise<IssuedDevice[]> {
    const issued = list.map((d, i) => {
      const secret = generateDeviceSecret();
      try {
        return { device: this.build(tenant, d, secret), secret };
      } catch (e) {
        if (e instanceof IipError) throw new IipError(e.code, `device #${i + 1}: ${e.message}`, { ...e.details, index: i });
        throw e;
      }
    });
    await this.withinDeviceQuota(tenant, issued.length, () => this.store.createDevices(issued.map((x) => x.device)));
    // A large import is announced once for the tenant (scaled out, each change is a bus message to every
    // process): caches drop the tenant's entries and read them again as devices connect.
    if (issued.length > BULK_CHANGE_PER_DEVICE) this.changed(tenant);
    else for (const x of issued) this.changed(tenant, x.device.id);
    this.created(tenant, issued.map((x) => x.device));
    return issued.map((x) => ({ device: publicDevice(x.device), secret: x.secret }));
  }

  /** CSV with header `id,name,product` (name optional); any other column becomes an attribute. */
  async importDevicesCsv(tenant: TenantId, csv: string): Promise<IssuedDevice[]> {
    const records = parseCsvRecords(csv, ['id', 'product']);
    const list: NewDevice[] = records.map(({ record }) => {
      const { id, name, product, ...attributes } = record;
      return { id: id as string, name: name ?? '', product: product as string, attributes };
    });
    try {
      return await this.createDevices(tenant, list);
    } catch (e) {
      if (e instanceof IipError && typeof e.details.index === 'number') {
        const line = records[e.details.index]?.line;
        throw new IipError(e.code, `CSV line ${line}: ${e.message}`, { ...e.details, line });
      }
      throw e;
    }
  }

  async getDevice(tenant: TenantId, id: string): Promise<Device> {
    const d = await this.findDevice(tenant, id);
    if (!d) throw new IipError('IIP_ERR_NOT_FOUND', `device "${id}" not found`, { resource: 'device', id });
    return d;
  }

  /** The device, or undefined when there is none (any other failure, e.g. storage down, rejects). */
  findDevice(tenant: TenantId, id: string): Promise<Device | undefined> {
    return this.store.getDevice(tenant, id as DeviceId);
  }

  /** `assets`: only devices placed on one of these assets (the caller expands subtrees). */
  listDevices(tenant: TenantId, filter: { product?: string; assets?: readonly string[] }, page: { limit: number; offset: number }): Promise<{ items: Device[]; total: number }> {
    return this.store.listDevices(tenant, { ...(filter.product && { product: filter.product as ProductId }), ...(filter.assets && { assets: filter.assets }) }, page);
  }

  /** The tenant, or undefined when there is none. */
  findTenant(id: string): Promise<Tenant | undefined> {
    return this.store.getTenant(id as TenantId);
  }

  listTenants(): Promise<Tenant[]> {
    return this.store.listTenants();
  }

  /**
   * A new tenant, with the built-in edge-gateway product every tenant has (gateways authenticate like devices
   * and need a product). IIP_ERR_CONFLICT when the id is taken.
   */
  async createTenant(t: { id: string; name?: string }): Promise<Tenant> {
    const id = checkId('tenant', t.id) as TenantId;
    const name = t.name?.trim() || id;
    if (name.length > 200) throw new IipError('IIP_ERR_VALIDATION', 'name must be at most 200 characters', { field: 'name' });
    const tenant: Tenant = { id, name, createdAt: this.now(), status: 'active', suspendedReason: null };
    await this.store.createTenant(tenant);
    await this.createProduct(id, { id: GATEWAY_PRODUCT_ID, name: '边缘网关 Edge gateway', category: 'gateway', model: { properties: [], events: [], services: [] } });
    return tenant;
  }

  /** Deletes the tenant's registry, access and user rows (the caller deletes telemetry first); announced like any change. */
  async deleteTenantRows(id: string): Promise<void> {
    if (!(await this.store.deleteTenant(id as TenantId))) throw new IipError('IIP_ERR_NOT_FOUND', `tenant "${id}" not found`, { resource: 'tenant', id });
    this.changed(id as TenantId);
  }

  /** Renames, suspends (a reason is required) or re-activates a tenant. */
  async updateTenant(id: string, patch: { name?: string; status?: 'active' | 'suspended'; suspendedReason?: string | null }): Promise<Tenant> {
    if (patch.status === 'suspended' && id === DEFAULT_TENANT) {
      throw new IipError('IIP_ERR_VALIDATION', `the platform's own tenant "${id}" cannot be suspended: its platform administrators would be locked out`, { field: 'status' });
    }
    if (patch.status === 'suspended' && !patch.suspendedReason?.trim()) {
      throw new IipError('IIP_ERR_VALIDATION', 'suspending a tenant needs a reason (suspendedReason): its devices and users are told it', { field: 'suspendedReason' });
    }
    if (patch.name !== undefined && (patch.name.trim().length === 0 || patch.name.length > 200)) throw new IipError('IIP_ERR_VALIDATION', 'name must be 1–200 characters', { field: 'name' });
    const t = await this.store.updateTenant(id as TenantId, patch);
    this.changed(id as TenantId);
    return t;
  }

  async deleteDevice(tenant: TenantId, id: string): Promise<void> {
    if (!(await this.store.deleteDevice(tenant, id as DeviceId))) {
      throw new IipError('IIP_ERR_NOT_FOUND', `device "${id}" not found`, { resource: 'device', id });
    }
    this.changed(tenant, id as DeviceId);
  }
}
