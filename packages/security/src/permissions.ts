/**
 * The permission catalogue and the built-in roles (issue 12, ADR 0009). A permission is `resource:action`;
 * a role is a set of permissions; a grant gives a user a role on a whole tenant or on an asset subtree. Deny
 * by default: what no grant permits is refused.
 *
 * Asset-scoped permissions concern things that sit in the asset tree (devices, gateways, assets, and later
 * alarms, rules and dashboards): a grant on an asset permits them for that asset and everything below it.
 * Tenant-scoped permissions (products, users, roles, audit…) concern the tenant as a whole: only a grant on the
 * whole tenant carries them.
 */

export interface PermissionSpec {
  readonly scope: 'asset' | 'tenant' | 'platform';
  readonly en: string;
  readonly zh: string;
}

export const PERMISSIONS = {
  'tenants:manage': { scope: 'platform', en: 'Create, suspend and delete tenants; set their quotas', zh: '创建、停用和删除租户，设置配额' },
  'assets:read': { scope: 'asset', en: 'See the asset tree', zh: '查看资产树' },
  'assets:write': { scope: 'asset', en: 'Create, rename, move and delete assets; place devices', zh: '创建、重命名、移动和删除资产，放置设备' },
  'devices:read': { scope: 'asset', en: 'See devices, their values, history and live data', zh: '查看设备及其数值、历史和实时数据' },
  'devices:write': { scope: 'asset', en: 'Create, change and delete devices', zh: '创建、修改和删除设备' },
  'devices:write-property': { scope: 'asset', en: 'Write a device property', zh: '写设备属性' },
  'devices:invoke': { scope: 'asset', en: 'Invoke a device service (command)', zh: '调用设备服务（命令）' },
  'gateways:read': { scope: 'asset', en: 'See gateways, their configuration and state', zh: '查看网关及其配置和状态' },
  'gateways:write': { scope: 'asset', en: 'Push gateway configuration', zh: '下发网关配置' },
  'alarms:read': { scope: 'asset', en: 'See alarms', zh: '查看告警' },
  'alarms:ack': { scope: 'asset', en: 'Acknowledge and shelve alarms', zh: '确认和搁置告警' },
  'rules:read': { scope: 'asset', en: 'See rules', zh: '查看规则' },
  'rules:edit': { scope: 'asset', en: 'Create, change and delete rules', zh: '创建、修改和删除规则' },
  'dashboards:read': { scope: 'asset', en: 'See dashboards', zh: '查看看板' },
  'dashboards:edit': { scope: 'asset', en: 'Create, change and delete dashboards', zh: '创建、修改和删除看板' },
  'products:read': { scope: 'tenant', en: 'See products and thing models', zh: '查看产品和物模型' },
  'products:write': { scope: 'tenant', en: 'Create, change and delete products', zh: '创建、修改和删除产品' },
  'users:read': { scope: 'tenant', en: 'See users and their grants', zh: '查看用户及其授权' },
  'users:manage': { scope: 'tenant', en: 'Create, disable and reset users; grant and revoke roles', zh: '创建、停用和重置用户，授予和撤销角色' },
  'roles:manage': { scope: 'tenant', en: 'Create, change and delete custom roles', zh: '创建、修改和删除自定义角色' },
  'audit:read': { scope: 'tenant', en: 'Read and export the audit log', zh: '查看和导出审计日志' },
  'tenant-policy:read': { scope: 'tenant', en: 'See retention, quotas and usage', zh: '查看保留策略、配额和用量' },
  'tenant-policy:write': { scope: 'tenant', en: 'Change retention', zh: '修改保留策略' },
  'evaluation:read': { scope: 'tenant', en: 'See evaluation systems and results', zh: '查看评估体系和结果' },
  'evaluation:run': { scope: 'tenant', en: 'Define and run evaluations', zh: '定义和运行评估' },
  'identifiers:read': { scope: 'tenant', en: 'See identifiers', zh: '查看标识' },
  'identifiers:write': { scope: 'tenant', en: 'Register and change identifiers', zh: '注册和修改标识' },
} as const satisfies Record<string, PermissionSpec>;

export type Permission = keyof typeof PERMISSIONS;
export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(p: string): p is Permission {
  return Object.hasOwn(PERMISSIONS, p);
}

export function permissionScope(p: Permission): PermissionSpec['scope'] {
  return PERMISSIONS[p].scope;
}

const READ_PLANT: Permission[] = ['assets:read', 'devices:read', 'gateways:read', 'alarms:read', 'rules:read', 'dashboards:read', 'products:read'];

export interface BuiltInRole {
  readonly id: string;
  readonly en: string;
  readonly zh: string;
  readonly permissions: readonly Permission[];
}

/** The built-in roles; their ids are reserved (a custom role cannot take one). */
export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  { id: 'platform-admin', en: 'Platform administrator', zh: '平台管理员', permissions: ALL_PERMISSIONS },
  { id: 'tenant-admin', en: 'Tenant administrator', zh: '租户管理员', permissions: ALL_PERMISSIONS.filter((p) => PERMISSIONS[p].scope !== 'platform') },
  {
    id: 'engineer',
    en: 'Engineer',
    zh: '工程师',
    permissions: [
      ...READ_PLANT,
      'assets:write',
      'devices:write',
      'devices:write-property',
      'devices:invoke',
      'gateways:write',
      'alarms:ack',
      'rules:edit',
      'dashboards:edit',
      'products:write',
      'tenant-policy:read',
      'evaluation:read',
      'evaluation:run',
      'identifiers:read',
      'identifiers:write',
    ],
  },
  { id: 'operator', en: 'Operator', zh: '操作员', permissions: [...READ_PLANT, 'devices:write-property', 'devices:invoke', 'alarms:ack', 'tenant-policy:read', 'evaluation:read', 'identifiers:read'] },
  { id: 'viewer', en: 'Viewer', zh: '访客', permissions: [...READ_PLANT, 'tenant-policy:read', 'evaluation:read', 'identifiers:read'] },
  { id: 'auditor', en: 'Auditor', zh: '审计员', permissions: [...READ_PLANT, 'audit:read', 'users:read', 'tenant-policy:read'] },
];

export const BUILT_IN_ROLE_IDS: ReadonlySet<string> = new Set(BUILT_IN_ROLES.map((r) => r.id));

/** The role that reaches every tenant (its grant sits in the platform's home tenant). */
export const PLATFORM_ADMIN = 'platform-admin';
