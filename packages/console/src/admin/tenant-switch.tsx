/**
 * The platform administrator's tenant switcher in the header: every page then acts on the tenant chosen (the
 * console sends it as X-IIP-Tenant, and in the live stream's auth frame). Others see their tenant's name.
 */
import type { Tenant } from './admin-api';
import { useAdminText } from './admin-ui';

interface Props {
  readonly homeTenant: string;
  readonly acting: string;
  /** undefined: not a platform administrator (no switch). */
  readonly tenants: readonly Tenant[] | undefined;
  onSwitch(tenant: string): void;
}

export function TenantSwitch({ homeTenant, acting, tenants, onSwitch }: Props) {
  const a = useAdminText();
  if (!tenants) {
    return (
      <span className="tenant-label" data-testid="tenant-label" title={a('switch.tenant')}>
        {acting}
      </span>
    );
  }
  // The acting tenant stays listed while the list loads (or if it was just deleted), so the select shows it.
  const ids = tenants.some((t) => t.id === acting) ? tenants : [...tenants, { id: acting, name: acting, status: 'active' as const, suspendedReason: null, createdAt: 0 }];
  return (
    <label className={`tenant-switch${acting !== homeTenant ? ' away' : ''}`} title={a('switch.title')}>
      <span className="small">{a('switch.tenant')}</span>
      <select data-testid="tenant-switch" value={acting} onChange={(e) => onSwitch(e.target.value)}>
        {ids.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name && t.name !== t.id ? `${t.name} (${t.id})` : t.id}
            {t.status === 'suspended' ? ` · ${a('tenants.suspended')}` : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
