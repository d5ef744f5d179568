/**
 * The administration pages' calls to /api/v1 (tenants, the asset tree, roles, users and grants, the audit event
 * log) and the shapes they answer with. Thin: every rule is the platform's; the pages show its refusals.
 */
import type { ApiClient } from '../api-client';
import type { Device } from '../api-types';
import { loadAllDevices } from '../use-fleet';

export const ASSET_LEVELS = ['enterprise', 'site', 'area', 'line', 'cell'] as const;
export type AssetLevel = (typeof ASSET_LEVELS)[number];

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly status: 'active' | 'suspended';
  readonly suspendedReason: string | null;
  readonly createdAt: number;
}

export interface Asset {
  readonly id: string;
  readonly parent: string | null;
  readonly level: AssetLevel;
  readonly name: string;
  readonly nameZh?: string | null;
  readonly createdAt: number;
}

export interface PermissionInfo {
  readonly id: string;
  readonly scope: 'asset' | 'tenant' | 'platform';
  readonly en: string;
  readonly zh: string;
}

export interface Role {
  readonly id: string;
  readonly name: string;
  readonly nameZh: string | null;
  readonly builtIn: boolean;
  readonly permissions: readonly string[];
}

export interface Grant {
  readonly id: string;
  readonly userId: string;
  readonly role: string;
  /** null: the whole tenant. */
  readonly asset: string | null;
  readonly createdAt: number;
}

export interface AdminUser {
  readonly id: string;
  readonly username: string;
  readonly tenant: string;
  /** A person signs in; a service account acts only through API tokens (absent from an older platform: person). */
  readonly kind?: 'person' | 'service';
  readonly totpEnabled?: boolean;
  readonly createdAt: number;
  readonly disabled: boolean;
  readonly lockedUntil: number | null;
  readonly grants: readonly Grant[];
}

export type AuditResult = 'ok' | 'denied' | 'failed';

export interface AuditEvent {
  readonly tenant: string;
  readonly seq: number;
  readonly ts: number;
  readonly actor: string;
  readonly source: string;
  readonly action: string;
  readonly target: string;
  readonly result: AuditResult;
  readonly details: Readonly<Record<string, unknown>>;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditQuery {
  readonly from?: number;
  readonly actor?: string;
  readonly action?: string;
  readonly result?: AuditResult;
  readonly afterSeq?: number;
  readonly limit: number;
}

export interface ChainReport {
  readonly tenant: string;
  readonly events: number;
  readonly ok: boolean;
  readonly brokenAt?: { readonly seq: number; readonly reason: string };
  readonly headSeq: number;
  readonly headHash: string;
}

const id = encodeURIComponent;

export const tenantsApi = {
  list: async (api: ApiClient) => (await api.call<{ items: Tenant[] }>('GET', '/tenants')).items,
  create: (api: ApiClient, body: { id: string; name?: string; admin?: { username: string; password: string } }) => api.call<Tenant>('POST', '/tenants', body),
  update: (api: ApiClient, tenant: string, patch: { name?: string; status?: 'active' | 'suspended'; suspendedReason?: string | null }) =>
    api.call<Tenant>('PATCH', `/tenants/${id(tenant)}`, patch),
  remove: (api: ApiClient, tenant: string) => api.call<{ id: string; deleted: boolean; devices: number }>('DELETE', `/tenants/${id(tenant)}`),
};

export const assetsApi = {
  list: async (api: ApiClient) => (await api.call<{ items: Asset[] }>('GET', '/assets')).items,
  create: (api: ApiClient, body: { id: string; parent: string | null; level: AssetLevel; name: string; nameZh?: string | null }) => api.call<Asset>('POST', '/assets', body),
  update: (api: ApiClient, asset: string, patch: { name?: string; nameZh?: string | null; parent?: string | null }) => api.call<Asset>('PATCH', `/assets/${id(asset)}`, patch),
  remove: (api: ApiClient, asset: string) => api.call<void>('DELETE', `/assets/${id(asset)}`),
  place: (api: ApiClient, device: string, asset: string | null) => api.call<{ device: string; asset: string | null }>('PUT', `/devices/${id(device)}/asset`, { asset }),
};

export const rolesApi = {
  permissions: async (api: ApiClient) => (await api.call<{ items: PermissionInfo[] }>('GET', '/permissions')).items,
  list: async (api: ApiClient) => (await api.call<{ items: Role[] }>('GET', '/roles')).items,
  create: (api: ApiClient, body: { id: string; name: string; permissions: readonly string[] }) => api.call<Role>('POST', '/roles', body),
  update: (api: ApiClient, role: string, body: { name: string; permissions: readonly string[] }) => api.call<Role>('PUT', `/roles/${id(role)}`, body),
  remove: (api: ApiClient, role: string) => api.call<void>('DELETE', `/roles/${id(role)}`),
};

export const usersApi = {
  list: async (api: ApiClient) => (await api.call<{ items: AdminUser[] }>('GET', '/users')).items,
  create: (api: ApiClient, body: { username: string; password: string; grants: ReadonlyArray<{ role: string; asset: string | null }> }) =>
    api.call<AdminUser>('POST', '/users', body),
  /** A service account: no password, acts through API tokens. */
  createService: (api: ApiClient, body: { username: string; grants: ReadonlyArray<{ role: string; asset: string | null }> }) =>
    api.call<AdminUser>('POST', '/users', { ...body, kind: 'service' }),
  /** Removes the user's second factor (a lost phone). */
  resetTotp: (api: ApiClient, user: string) => api.call<{ id: string; totpEnabled: false }>('POST', `/users/${id(user)}/totp/reset`),
  grant: (api: ApiClient, user: string, g: { role: string; asset: string | null }) => api.call<Grant>('POST', `/users/${id(user)}/grants`, g),
  revoke: (api: ApiClient, user: string, grant: string) => api.call<void>('DELETE', `/users/${id(user)}/grants/${id(grant)}`),
  setDisabled: (api: ApiClient, user: string, disabled: boolean) => api.call<{ id: string; disabled: boolean }>('POST', `/users/${id(user)}/${disabled ? 'disable' : 'enable'}`),
  /** With no password the platform generates one and answers it, once. */
  resetPassword: (api: ApiClient, user: string, password?: string) =>
    api.call<{ id: string; password?: string }>('POST', `/users/${id(user)}/password`, password === undefined ? {} : { password }),
};

function auditParams(q: Omit<AuditQuery, 'afterSeq' | 'limit'> & { afterSeq?: number; limit: number }): URLSearchParams {
  const p = new URLSearchParams({ limit: String(q.limit) });
  if (q.from !== undefined) p.set('from', String(q.from));
  if (q.actor) p.set('actor', q.actor);
  if (q.action) p.set('action', q.action);
  if (q.result) p.set('result', q.result);
  if (q.afterSeq !== undefined) p.set('afterSeq', String(q.afterSeq));
  return p;
}

/** The most the export asks for in one file (the platform's own maximum per request). */
export const AUDIT_EXPORT_LIMIT = 100_000;

export const auditApi = {
  events: (api: ApiClient, q: AuditQuery) => api.call<{ items: AuditEvent[]; nextAfterSeq?: number }>('GET', `/audit/events?${auditParams(q)}`),
  csv: (api: ApiClient, q: Omit<AuditQuery, 'afterSeq' | 'limit'>) => {
    const p = auditParams({ ...q, limit: AUDIT_EXPORT_LIMIT });
    p.set('format', 'csv');
    return api.download(`/audit/events?${p}`);
  },
  verify: (api: ApiClient) => api.call<ChainReport>('GET', '/audit/verify'),
};

/** Every device of the tenant the user may read, with where each is placed (for the asset page). */
export async function allDevices(api: ApiClient): Promise<Device[]> {
  return (await loadAllDevices((q) => api.devices(q))).items;
}
