/**
 * Identifiers tied to the platform (标识解析 × 平台): the platform runs an enterprise identifier node for
 * its own prefix, and a product or device can be given a handle `<prefix>/<id>`. Resolving that handle —
 * over the Handle REST API at /api/handles or the binary protocol — returns the thing's static metadata and
 * a link to its live state in the platform API.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TenantId, isValidId } from '@iip/core';
import { DEFAULT_VALUE_PERMISSIONS, type HandleReference, type HandleValue, LocalHandleService } from '@iip/identifiers';
import { type HandleStore, type Device, type Product, openSqliteHandleStore } from '@iip/storage';

export interface PlatformIdentifierOptions {
  /** The enterprise prefix this platform homes, e.g. `88.118.8`. */
  readonly prefix: string;
  /** The node admin's secret (HS_SECKEY of 300:0.NA/<prefix>); generated once into <data>/identifiers/admin.secret when absent. */
  readonly secret?: string;
}

const text = (s: string) => new TextEncoder().encode(s);

export class PlatformIdentifiers {
  readonly admin: HandleReference;
  private constructor(
    readonly service: LocalHandleService,
    private readonly store: HandleStore,
    readonly prefix: string,
  ) {
    this.admin = { handle: `0.NA/${prefix}`, index: 300 };
  }

  static async open(dataDir: string, opts: PlatformIdentifierOptions, site: { address: string; httpPort: number }): Promise<PlatformIdentifiers> {
    const dir = join(dataDir, 'identifiers');
    mkdirSync(dir, { recursive: true });
    const secretFile = join(dir, 'admin.secret');
    let secret = opts.secret;
    if (!secret) {
      if (existsSync(secretFile)) secret = readFileSync(secretFile, 'utf8').trim();
      else {
        secret = randomBytes(24).toString('base64url');
        writeFileSync(secretFile, `${secret}\n`);
        chmodSync(secretFile, 0o600);
      }
    }
    const store = openSqliteHandleStore({ file: join(dir, 'handles.db') });
    try {
      await LocalHandleService.bootstrap({ store, prefix: opts.prefix, adminHandle: `0.NA/${opts.prefix}`, adminIndex: 300, secretKey: text(secret) });
    } catch (e) {
      await store.close();
      throw e;
    }
    const service = new LocalHandleService({
      store,
      role: 'enterprise',
      site: { primary: true, multiPrimary: false, serialNumber: 1, servers: [{ serverId: 1, address: site.address, httpPort: site.httpPort }], description: `iip platform, prefix ${opts.prefix}` },
      rootAdmins: [{ handle: `0.NA/${opts.prefix}`, index: 300 }],
    });
    return new PlatformIdentifiers(service, store, opts.prefix);
  }

  private values(link: string, type: string, meta: Record<string, unknown>): HandleValue[] {
    const now = Math.floor(Date.now() / 1000);
    const v = (index: number, t: string, data: string): HandleValue => ({
      index,
      type: t,
      data: text(data),
      ttlType: 'relative',
      ttl: 3600,
      timestamp: now,
      references: [],
      permissions: DEFAULT_VALUE_PERMISSIONS,
    });
    return [v(1, 'URL', link), v(2, type, JSON.stringify(meta))];
  }

  /** Gives a device the handle `<prefix>/<device id>` (replacing an earlier one): metadata + live-state link. */
  async bindDevice(tenant: TenantId, d: Device, p: Product, baseUrl: string): Promise<{ handle: string; values: HandleValue[] }> {
    const handle = `${this.prefix}/${tenant === 'default' ? '' : `${tenant}.`}${d.id}`;
    const live = `${baseUrl}/api/v1/devices/${encodeURIComponent(d.id)}/latest`;
    const values = this.values(live, 'IIP_DEVICE', {
      kind: 'device',
      tenant,
      id: d.id,
      name: d.name,
      product: { id: p.id, name: p.name, category: p.category, version: p.version },
      properties: p.model.properties.map((x) => ({ id: x.id, name: x.name ?? x.id, type: x.dataType.type, unit: 'unit' in x.dataType ? x.dataType.unit : undefined })),
      attributes: d.attributes,
      createdAt: new Date(d.createdAt).toISOString(),
      live,
    });
    await this.service.create(handle, values, this.admin, { overwrite: true });
    return { handle, values };
  }

  /** Gives a product the handle `<prefix>/product.<product id>`: its thing model summary + API link. */
  async bindProduct(tenant: TenantId, p: Product, baseUrl: string): Promise<{ handle: string; values: HandleValue[] }> {
    if (!isValidId(p.id)) throw new Error(`invalid product id ${p.id}`);
    const handle = `${this.prefix}/${tenant === 'default' ? '' : `${tenant}.`}product.${p.id}`;
    const link = `${baseUrl}/api/v1/products/${encodeURIComponent(p.id)}`;
    const values = this.values(link, 'IIP_PRODUCT', {
      kind: 'product',
      tenant,
      id: p.id,
      name: p.name,
      category: p.category,
      version: p.version,
      properties: p.model.properties.map((x) => x.id),
      services: p.model.services.map((x) => x.id),
      events: p.model.events.map((x) => x.id),
    });
    await this.service.create(handle, values, this.admin, { overwrite: true });
    return { handle, values };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
