/**
 * The row shapes both SQL adapters (SQLite, PostgreSQL) read — the same column names in both schemas — and
 * their mapping to the port types, written once.
 */
import type { DeviceId, GatewayConfig, ProductId, TenantId, ThingModel, UserId } from '@iip/core';
import type { AccessToken, AuditEntry, Device, GatewayConfigRecord, Product, Role, Tenant, User } from './ports.js';

export interface TenantRow {
  id: string;
  name: string;
  created_at: number;
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
}
export interface UserRow {
  id: string;
  tenant: string;
  username: string;
  password_hash: string;
  role: Role;
  created_at: number;
}
export interface TokenRow {
  token_hash: string;
  user_id: string;
  tenant: string;
  expires_at: number;
  created_at: number;
}

export const toTenant = (r: TenantRow): Tenant => ({ id: r.id as TenantId, name: r.name, createdAt: r.created_at });
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
});
export const toUser = (r: UserRow): User => ({
  id: r.id as UserId,
  tenant: r.tenant as TenantId,
  username: r.username,
  passwordHash: r.password_hash,
  role: r.role,
  createdAt: r.created_at,
});
export const toToken = (r: TokenRow): AccessToken => ({
  tokenHash: r.token_hash,
  userId: r.user_id as UserId,
  tenant: r.tenant as TenantId,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
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
