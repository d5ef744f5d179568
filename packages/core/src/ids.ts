/**
 * Branded identifiers. A `DeviceId` and a `TenantId` are both strings at run time, but the brand makes
 * passing one where the other is expected a compile error.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type ProductId = Brand<string, 'ProductId'>;
export type DeviceId = Brand<string, 'DeviceId'>;
export type UserId = Brand<string, 'UserId'>;
/** Epoch milliseconds (UTC). */
export type EpochMs = Brand<number, 'EpochMs'>;

/** Ids appear in MQTT topics and URLs, so they are restricted to a safe alphabet. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isValidId(s: unknown): s is string {
  return typeof s === 'string' && ID_PATTERN.test(s);
}

export const DEFAULT_TENANT = 'default' as TenantId;
