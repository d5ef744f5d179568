/**
 * The row shapes both SQL adapters (SQLite, PostgreSQL) read — the same column names in both schemas — and
 * their mapping to the port types, written once.
 */
import type { DeviceId, GatewayConfig, ProductId, TenantId, ThingModel, UserId } from '@iip/core';
import type { Asset, AssetLevel, CustomRole, Grant } from './access-ports.js';
import type { AccessToken, ApiToken, AuditEntry, Device, GatewayConfigRecord, Product, Tenant, TenantStatus, User } from './ports.js';

export interface TenantRow {
  id: string;
  name: string;
  created_at: number;
  status: TenantStatus;
  suspended_reason: string | null;
}
export interface ProductRow {
  tenant: string;
  id: string;
  name: string;
  category: string;
  model: string;
  version: number;
  created_at: number;
}
export interface DeviceRow {
  tenant: string;
  id: string;
  product: string;
  name: string;
  secret_hash: string;
  attributes: string;
  created_at: number;
  asset: string | null;
}
export interface UserRow {
  id: string;
  tenant: string;
  username: string;
  password_hash: string;
  created_at: number;
  disabled: number | boolean;
  failed_logins: number;
  locked_until: number | string | null;
  kind: string;
  totp_secret: string | null;
  totp_pending: string | null;
  totp_last_step: number | string | null;
}
export interface ApiTokenRow {
  id: string;
  tenant: string;
  user_id: string;
  name: string;
  token_hash: string;
  scopes: string;
  expires_at: number | string;
  created_at: number | string;
  last_used_at: number | string | null;
}
export interface TokenRow {
  token_hash: string;
  user_id: string;
  tenant: string;
  expires_at: number;
  created_at: number;
  last_used_at: number | string | null;
}

export const toTenant = (r: TenantRow): Tenant => ({
  id: r.id as TenantId,
  name: r.name,
  createdAt: r.created_at,
  status: r.status,
  suspendedReason: r.suspended_reason,
});
export const toProduct = (r: ProductRow): Product => ({
  tenant: r.tenant as TenantId,
  id: r.id as ProductId,
  name: r.name,
  category: r.category,
  model: JSON.parse(r.model) as ThingModel,
  version: r.version,
  createdAt: r.created_at,
});
export const toDevice = (r: DeviceRow): Device => ({
  tenant: r.tenant as TenantId,
  id: r.id as DeviceId,
  product: r.product as ProductId,
  name: r.name,
  secretHash: r.secret_hash,
  attributes: JSON.parse(r.attributes) as Record<string, string>,
  createdAt: r.created_at,
  asset: r.asset,
});
export const toUser = (r: UserRow): User => ({
  id: r.id as UserId,
  tenant: r.tenant as TenantId,
  username: r.username,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  disabled: Boolean(r.disabled),
  failedLogins: r.failed_logins,
  lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
  kind: r.kind === 'service' ? 'service' : 'person',
  totpSecret: r.totp_secret,
  totpPending: r.totp_pending,
  totpLastStep: r.totp_last_step === null ? null : Number(r.totp_last_step),
});
export const toApiToken = (r: ApiTokenRow): ApiToken => ({
  id: r.id,
  tenant: r.tenant as TenantId,
  userId: r.user_id as UserId,
  name: r.name,
  tokenHash: r.token_hash,
  scopes: JSON.parse(r.scopes) as string[],
  expiresAt: Number(r.expires_at),
  createdAt: Number(r.created_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
});
export const toToken = (r: TokenRow): AccessToken => ({
  tokenHash: r.token_hash,
  userId: r.user_id as UserId,
  tenant: r.tenant as TenantId,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
});
export interface ConfigRow {
  tenant: string;
  gateway: string;
  version: number;
  config: string;
  created_at: number;
  created_by: string;
}
export const toGatewayConfig = (row: ConfigRow): GatewayConfigRecord => ({
  tenant: row.tenant as TenantId,
  gateway: row.gateway as DeviceId,
  version: row.version,
  config: JSON.parse(row.config) as GatewayConfig,
  createdAt: row.created_at,
  createdBy: row.created_by,
});

export interface AuditRow {
  id: number;
  ts: number;
  actor: string;
  action: string;
  device: string;
  property: string | null;
  old_value: string | null;
  new_value: string | null;
  result: 'ok' | 'error';
  error: string | null;
}
/** An audit value as stored: JSON text, null when absent. */
export const encodeAuditValue = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const decodeAuditValue = (v: string | null): unknown => (v === null ? null : JSON.parse(v));
export const toAuditEntry = (tenant: TenantId, r: AuditRow): AuditEntry => ({
  id: r.id,
  tenant,
  ts: r.ts,
  actor: r.actor,
  action: r.action,
  device: r.device,
  property: r.property,
  oldValue: decodeAuditValue(r.old_value),
  newValue: decodeAuditValue(r.new_value),
  result: r.result,
  error: r.error,
});

export interface AssetRow {
  tenant: string;
  id: string;
  parent: string | null;
  level: AssetLevel;
  name: string;
  name_zh: string | null;
  created_at: number;
}
export const toAsset = (r: AssetRow): Asset => ({
  tenant: r.tenant as TenantId,
  id: r.id,
  parent: r.parent,
  level: r.level,
  name: r.name,
  nameZh: r.name_zh,
  createdAt: r.created_at,
});

export interface RoleRow {
  tenant: string;
  id: string;
  name: string;
  permissions: string;
  created_at: number;
}
export const toRole = (r: RoleRow): CustomRole => ({
  tenant: r.tenant as TenantId,
  id: r.id,
  name: r.name,
  permissions: JSON.parse(r.permissions) as string[],
  createdAt: r.created_at,
});

export interface GrantRow {
  tenant: string;
  id: string;
  user_id: string;
  role: string;
  asset: string | null;
  created_at: number;
}
export const toGrant = (r: GrantRow): Grant => ({
  tenant: r.tenant as TenantId,
  id: r.id,
  userId: r.user_id as UserId,
  role: r.role,
  asset: r.asset,
  createdAt: r.created_at,
});
