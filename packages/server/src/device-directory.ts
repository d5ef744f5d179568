/**
 * The device directory device access consults for every connection and message. It caches one compiled
 * validator per product version and one entry per device (negative entries too), and forgets them when the
 * registry changes (RegistryService.onChange → invalidate).
 *
 * Cache choice (issue 11): the registry port is asynchronous, but the hot path must not await storage per
 * message. So `lookup` is synchronous on a cache hit and returns a promise only on a miss; concurrent misses
 * of one device share one load. A load that overlaps an invalidation is answered but not cached (it may
 * have read the registry before the change), so a stale entry never outlives the invalidation.
 */
import { TelemetryValidator, type DeviceId, type TenantId } from '@iip/core';
import type { DeviceDirectory, DeviceEntry } from '@iip/device-access/platform';
import { verifyDeviceSecret } from '@iip/security';
import type { RegistryStore } from '@iip/storage';

/** Bound on cached "no such device" answers, so a flood of unknown-device connects cannot grow memory. */
const MAX_NEGATIVE = 100_000;

export class RegistryDeviceDirectory implements DeviceDirectory {
  private readonly devices = new Map<string, DeviceEntry | null>();
  private readonly validators = new Map<string, TelemetryValidator>();
  private readonly loading = new Map<string, Promise<DeviceEntry | undefined>>();
  private negatives = 0;
  /** Bumped by every invalidation; a load started under an older generation is not cached. */
  private generation = 0;

  constructor(private readonly store: RegistryStore) {}

  lookup(tenant: string, device: string): DeviceEntry | undefined | Promise<DeviceEntry | undefined> {
    const key = `${tenant}\u0000${device}`;
    const cached = this.devices.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(key, tenant, device).finally(() => {
        if (this.loading.get(key) === pending) this.loading.delete(key);
      });
      this.loading.set(key, pending);
    }
    return pending;
  }

  private async load(key: string, tenant: string, device: string): Promise<DeviceEntry | undefined> {
    const generation = this.generation;
    const d = await this.store.getDevice(tenant as TenantId, device as DeviceId);
    const product = d ? await this.store.getProduct(d.tenant, d.product) : undefined;
    const current = generation === this.generation;
    if (!d || !product) {
      if (current && this.negatives < MAX_NEGATIVE) {
        this.devices.set(key, null);
        this.negatives++;
      }
      return undefined;
    }
    const vkey = `${tenant}\u0000${product.id}\u0000${product.version}`;
    let validator = this.validators.get(vkey);
    if (!validator) {
      validator = new TelemetryValidator(product.model);
      if (current) this.validators.set(vkey, validator);
    }
    const secretHash = d.secretHash;
    const t = await this.store.getTenant(tenant as TenantId);
    const suspended = t?.status === 'suspended' ? (t.suspendedReason ?? 'suspended') : undefined;
    const entry: DeviceEntry = { validator, verifySecret: (s) => verifyDeviceSecret(s, secretHash), ...(suspended !== undefined && { suspended }) };
    if (current) this.devices.set(key, entry);
    return entry;
  }

  /** Drops cached entries of one device, or of the whole tenant when a product or the tenant itself changed. */
  invalidate(tenant: string, device?: string): void {
    this.generation++;
    if (device !== undefined) {
      const key = `${tenant}\u0000${device}`;
      if (this.devices.get(key) === null) this.negatives--;
      this.devices.delete(key);
      this.loading.delete(key);
      return;
    }
    const prefix = `${tenant}\u0000`;
    for (const [k, v] of this.devices) {
      if (!k.startsWith(prefix)) continue;
      if (v === null) this.negatives--;
      this.devices.delete(k);
    }
    for (const k of this.loading.keys()) if (k.startsWith(prefix)) this.loading.delete(k);
    for (const k of this.validators.keys()) if (k.startsWith(prefix)) this.validators.delete(k);
  }
}
