/**
 * The device directory device access consults for every connection and message. It caches one compiled
 * validator per product version and one entry per device, and forgets them when the registry changes, so
 * the hot path never touches SQLite.
 */
import { TelemetryValidator, type DeviceId, type TenantId } from '@iip/core';
import type { DeviceDirectory, DeviceEntry } from '@iip/device-access';
import { verifyDeviceSecret } from '@iip/security';
import type { RegistryStore } from '@iip/storage';

export class RegistryDeviceDirectory implements DeviceDirectory {
  private readonly devices = new Map<string, DeviceEntry | null>();
  private readonly validators = new Map<string, TelemetryValidator>();

  constructor(private readonly store: RegistryStore) {}

  lookup(tenant: string, device: string): DeviceEntry | undefined {
    const key = `${tenant}\u0000${device}`;
    const cached = this.devices.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const d = this.store.getDevice(tenant as TenantId, device as DeviceId);
    const product = d ? this.store.getProduct(d.tenant, d.product) : undefined;
    if (!d || !product) {
      // Negative entries are cached too (bounded) so a flood of unknown-device connects stays cheap.
      if (this.devices.size < 100_000) this.devices.set(key, null);
      return undefined;
    }
    const vkey = `${tenant}\u0000${product.id}\u0000${product.version}`;
    let validator = this.validators.get(vkey);
    if (!validator) {
      validator = new TelemetryValidator(product.model);
      this.validators.set(vkey, validator);
    }
    const secretHash = d.secretHash;
    const entry: DeviceEntry = { validator, verifySecret: (s) => verifyDeviceSecret(s, secretHash) };
    this.devices.set(key, entry);
    return entry;
  }

  /** Drops cached entries of one device, or of the whole tenant when a product changed. */
  invalidate(tenant: string, device?: string): void {
    if (device !== undefined) {
      this.devices.delete(`${tenant}\u0000${device}`);
      return;
    }
    const prefix = `${tenant}\u0000`;
    for (const k of this.devices.keys()) if (k.startsWith(prefix)) this.devices.delete(k);
    for (const k of this.validators.keys()) if (k.startsWith(prefix)) this.validators.delete(k);
  }
}
