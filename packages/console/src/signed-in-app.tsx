/**
 * Everything behind sign-in: the header with its navigation (and, for a platform administrator, the tenant
 * switcher), the live-data stream and the pages (devices, gateways, evaluation, usage, health, alarms, alarm KPIs,
 * rules, and the administration pages the user's access allows). Owns the API client, the live store and the WebSocket for the lifetime of
 * one session and acting tenant.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { AccountPage } from './account/account-page';
import { secText } from './account/security-i18n';
import './account/account.css';
import { hasAnywhere, hasTenantWide, visibleSections } from './admin/admin-access';
import { type Tenant, tenantsApi } from './admin/admin-api';
import { adminText } from './admin/admin-i18n';
import { AssetsPage } from './admin/assets-page';
import { AuditPage } from './admin/audit-page';
import { RolesPage } from './admin/roles-page';
import { TenantSwitch } from './admin/tenant-switch';
import { TenantsPage } from './admin/tenants-page';
import { UsersPage } from './admin/users-page';
import './admin/admin.css';
import { kpisText } from './alarm-kpis/alarm-kpis-i18n';
import { AlarmKpisPage } from './alarm-kpis/alarm-kpis-page';
import { AlarmBanner } from './alarms/alarm-banner';
import { alarmsText } from './alarms/alarms-i18n';
import { AlarmsPage } from './alarms/alarms-page';
import { RulesPage } from './alarms/rules-page';
import { ApiClient } from './api-client';
import type { AccessSummary, SecurityState } from './api-types';
import { ConnStatus } from './components/conn-status';
import { evalText } from './evaluation-i18n';
import { LangSwitch } from './components/lang-switch';
import { useI18n } from './i18n-context';
import { LiveStore } from './live-store';
import { LiveStream, type StreamState } from './live-stream';
import { DeviceDetailPage } from './pages/device-detail-page';
import { DeviceListPage } from './pages/device-list-page';
import { EvaluationPage } from './pages/evaluation-page';
import { GatewayDetailPage } from './pages/gateway-detail-page';
import { GatewayListPage } from './pages/gateway-list-page';
import { UsagePage } from './usage/usage-page';
import { healthText } from './health/health-i18n';
import { HealthPage } from './health/health-page';
import { type Route, routeHref, useRoute } from './route';
import { type Session, loadActingTenant, saveActingTenant } from './session-store';
import { useFleet } from './use-fleet';

export function SignedInApp({
  session,
  onSignOut,
  onSecurity,
  onEnrollRequired,
}: {
  session: Session;
  onSignOut: (expired: boolean) => void;
  /** The second factor changed (on the account page). */
  onSecurity: (s: SecurityState) => void;
  /** The platform refused a call because this session must set up its second factor first. */
  onEnrollRequired: () => void;
}) {
  const { t, lang } = useI18n();
  const route = useRoute();
  const home = session.user.tenant;
  const [switched, setSwitched] = useState<string | undefined>(() => loadActingTenant(session));
  const acting = switched ?? home;
  const switchTenant = useCallback(
    (t: string | undefined) => {
      saveActingTenant(session, t);
      setSwitched(t === home ? undefined : t);
    },
    [session, home],
  );
  /** Acts on the user's own tenant whatever the switch (the tenant list, for one). */
  const homeApi = useMemo(
    () => new ApiClient({ token: session.token, onUnauthorized: () => onSignOut(true), onEnrollRequired }),
    [session.token, onSignOut, onEnrollRequired],
  );
  const api = useMemo(
    () => (switched ? new ApiClient({ token: session.token, tenant: switched, onUnauthorized: () => onSignOut(true), onEnrollRequired }) : homeApi),
    [session.token, switched, homeApi, onSignOut, onEnrollRequired],
  );
  // One store per tenant: device ids are per tenant, so another tenant's m1 must not show this one's values.
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new store for each acting tenant is the point
  const store = useMemo(() => new LiveStore(), [acting]);
  const [access, setAccess] = useState<AccessSummary | undefined>(session.access);
  const [tenants, setTenants] = useState<Tenant[] | undefined>();
  const reloadTenants = useCallback(() => {
    if (!session.access?.platformAdmin) return;
    tenantsApi.list(homeApi).then(setTenants, () => undefined);
  }, [session, homeApi]);
  useEffect(reloadTenants, [reloadTenants]);
  // The access saved at sign-in can be stale (grants change); /auth/me says what holds now, in the acting tenant.
  useEffect(() => {
    let stopped = false;
    api
      .call<{ access?: AccessSummary }>('GET', '/auth/me')
      .then((me) => {
        if (!stopped && me.access) setAccess(me.access);
      })
      .catch((e: unknown) => {
        // The tenant switched to is gone (deleted elsewhere): back to the own one.
        if (!stopped && switched && e !== null && typeof e === 'object' && 'code' in e && e.code === 'IIP_ERR_NOT_FOUND') switchTenant(undefined);
      });
    return () => {
      stopped = true;
    };
  }, [api, switched, switchTenant]);
  useEffect(() => {
    if (switched && tenants && !tenants.some((t) => t.id === switched)) switchTenant(undefined);
  }, [switched, tenants, switchTenant]);
  const sections = visibleSections(access);
  const canReadAlarms = hasAnywhere(access, 'alarms:read');
  // The KPIs judge the whole tenant's alarm system, and the platform serves them only to who may read all its alarms.
  const canReadKpis = hasTenantWide(access, 'alarms:read');
  const canReadRules = hasAnywhere(access, 'rules:read');
  const [conn, setConn] = useState<StreamState>({ kind: 'connecting' });
  const [stream, setStream] = useState<LiveStream | undefined>();
  const [productFilter, setProductFilter] = useState('');
  const fleet = useFleet(api, store);
  const expire = useCallback(() => onSignOut(true), [onSignOut]);

  useEffect(() => {
    const s = new LiveStream({
      token: session.token,
      ...(switched && { tenant: switched }),
      onFrame: (f) => store.apply(f),
      onState: setConn,
      // A socket refused for an expired token looks like a network drop; /auth/me tells them apart.
      onRepeatedFailure: () => {
        api.me().catch(() => undefined);
      },
    });
    s.start();
    setStream(s);
    return () => s.stop();
  }, [session.token, store, api, switched]);

  // Narrow the stream to what is on screen: one device on its page, the filtered product's devices on the list.
  // The gateway pages poll HTTP and need no telemetry at all.
  const interest = useMemo(() => {
    if (route.kind === 'device') return [route.id];
    if (route.kind !== 'devices') return [];
    if (!productFilter) return undefined;
    return fleet.devices.filter((d) => d.product === productFilter).map((d) => d.id);
  }, [route, productFilter, fleet.devices]);
  useEffect(() => stream?.subscribe(interest), [stream, interest]);

  async function signOut() {
    try {
      await api.logout();
    } catch {
      // The token is dropped locally either way; a failed logout call only leaves it to expire.
    }
    onSignOut(false);
  }

  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href={routeHref({ kind: 'devices' })}>
          {t('app.title')}
        </a>
        <nav className="nav">
          <a href={routeHref({ kind: 'devices' })} data-testid="nav-devices" className={section(route) === 'devices' ? 'on' : ''}>
            {t('nav.devices')}
          </a>
          <a href={routeHref({ kind: 'gateways' })} data-testid="nav-gateways" className={section(route) === 'gateways' ? 'on' : ''}>
            {t('nav.gateways')}
          </a>
          <a href={routeHref({ kind: 'evaluation' })} data-testid="nav-evaluation" className={section(route) === 'evaluation' ? 'on' : ''}>
            {evalText(lang, 'nav.evaluation')}
          </a>
          <a href={routeHref({ kind: 'usage' })} data-testid="nav-usage" className={section(route) === 'usage' ? 'on' : ''}>
            {t('nav.usage')}
          </a>
          <a href={routeHref({ kind: 'health' })} data-testid="nav-health" className={route.kind === 'health' ? 'on' : ''}>
            {healthText(lang, 'nav.health')}
          </a>
          {canReadAlarms && (
            <a href={routeHref({ kind: 'alarms' })} data-testid="nav-alarms" className={route.kind === 'alarms' ? 'on' : ''}>
              {alarmsText(lang, 'nav.alarms')}
            </a>
          )}
          {canReadKpis && (
            <a href={routeHref({ kind: 'alarm-kpis' })} data-testid="nav-alarm-kpis" className={route.kind === 'alarm-kpis' ? 'on' : ''}>
              {kpisText(lang, 'nav.kpis')}
            </a>
          )}
          {canReadRules && (
            <a href={routeHref({ kind: 'rules' })} data-testid="nav-rules" className={route.kind === 'rules' ? 'on' : ''}>
              {alarmsText(lang, 'nav.rules')}
            </a>
          )}
          {sections.map((s) => (
            <a key={s} href={routeHref({ kind: s })} data-testid={`nav-${s}`} className={route.kind === s ? 'on' : ''}>
              {adminText(lang, `nav.${s}`)}
            </a>
          ))}
        </nav>
        <span className="spacer" />
        {canReadAlarms && <AlarmBanner key={acting} api={api} active={route.kind === 'alarms'} />}
        <ConnStatus state={conn} />
        <TenantSwitch homeTenant={home} acting={acting} tenants={session.access?.platformAdmin ? (tenants ?? []) : undefined} onSwitch={switchTenant} />
        <a
          href={routeHref({ kind: 'account' })}
          className={`user${route.kind === 'account' ? ' on' : ''}`}
          title={`${secText(lang, 'nav.account')} · ${session.user.tenant}`}
          data-testid="nav-account"
        >
          {session.user.username}
        </a>
        <LangSwitch />
        <button type="button" className="link" onClick={signOut} data-testid="nav-sign-out">
          {t('nav.signOut')}
        </button>
      </header>
      {page()}
    </div>
  );

  // A plain function, not a component: a component declared in here would be a new type on every render
  // and remount the page (losing its state) each time the live store ticks.
  function page() {
    switch (route.kind) {
      case 'device':
        return <DeviceDetailPage api={api} store={store} fleet={fleet} deviceId={route.id} />;
      case 'devices':
        return <DeviceListPage store={store} fleet={fleet} productFilter={productFilter} onProductFilter={setProductFilter} />;
      case 'gateway':
        return <GatewayDetailPage api={api} fleet={fleet} gatewayId={route.id} access={access} />;
      case 'gateways':
        return <GatewayListPage api={api} fleet={fleet} />;
      case 'evaluation':
        return <EvaluationPage token={session.token} onUnauthorized={expire} {...(switched && { tenant: switched })} />;
      case 'account':
        return (
          <AccountPage
            api={homeApi}
            session={session}
            access={switched ? undefined : access}
            onSecurity={onSecurity}
            onSignedOutEverywhere={() => onSignOut(false)}
          />
        );
      case 'usage':
        return <UsagePage api={api} isAdmin={access?.tenantWide.includes('tenant-policy:write') ?? false} />;
      case 'health':
        return <HealthPage api={api} />;
      case 'tenants':
        return <TenantsPage api={homeApi} homeTenant={home} actingTenant={acting} onSwitch={switchTenant} onChanged={reloadTenants} />;
      case 'assets':
        return <AssetsPage key={acting} api={api} access={access} />;
      case 'users':
        return <UsersPage key={acting} api={api} access={access} selfId={session.user.id} />;
      case 'roles':
        return <RolesPage key={acting} api={api} access={access} />;
      case 'audit':
        return <AuditPage key={acting} api={api} />;
      case 'alarms':
        return <AlarmsPage key={acting} api={api} access={access} username={session.user.username} />;
      case 'alarm-kpis':
        return <AlarmKpisPage key={acting} api={api} access={access} />;
      case 'rules':
        return <RulesPage key={acting} api={api} access={access} />;
      default: {
        const never: never = route;
        return never;
      }
    }
  }
}

function section(r: Route): 'devices' | 'gateways' | 'evaluation' | 'usage' | undefined {
  if (r.kind === 'evaluation' || r.kind === 'usage') return r.kind;
  if (r.kind === 'devices' || r.kind === 'device') return 'devices';
  return r.kind === 'gateways' || r.kind === 'gateway' ? 'gateways' : undefined;
}
