import type { TelemetryValidator } from '@iip/core';

/** What device access needs to know about one device; the composition root builds it from the registry. */
export interface DeviceEntry {
  /** Checks a presented secret against the stored hash. */
  verifySecret(secret: string): boolean;
  /** The validator of the device's product at its current version. */
  readonly validator: TelemetryValidator;
  /** Set when the device's tenant is suspended: the reason. Such a device is refused at connect and per message. */
  readonly suspended?: string;
}

/**
 * Looks devices up by tenant and id. Implementations cache, because it is called for every message; they
 * must drop an entry when the device is deleted or its product's model changes.
 *
 * The registry behind it is asynchronous (storage ports return promises), but a message of a known device
 * must not wait for storage: `lookup` answers synchronously from the cache (the entry, or `undefined` for a
 * device known not to exist) and returns a promise only on a cache miss. Callers on the hot path test for
 * the promise instead of awaiting every answer:
 *
 *     const found = directory.lookup(tenant, device);
 *     const entry = found instanceof Promise ? await found : found;
 */
export interface DeviceDirectory {
  lookup(tenant: string, device: string): DeviceEntry | undefined | Promise<DeviceEntry | undefined>;
}

/**
 * MQTT usernames and HTTP Basic users name the device as `{tenant}/{device}`; a bare `{device}` means
 * the default tenant, so a single-tenant installation can use short names.
 */
export function parseDeviceUsername(username: string, defaultTenant: string): { tenant: string; device: string } | undefined {
  const slash = username.indexOf('/');
  if (slash < 0) return username ? { tenant: defaultTenant, device: username } : undefined;
  const tenant = username.slice(0, slash);
  const device = username.slice(slash + 1);
  if (!tenant || !device || device.includes('/')) return undefined;
  return { tenant, device };
}
