/**
 * Everything behind sign-in: the header with its navigation, the live-data stream and the pages (devices,
 * gateways). Owns the API client,
 * the live store and the WebSocket for the lifetime of one session.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient } from './api-client';
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
import { type Route, routeHref, useRoute } from './route';
import type { Session } from './session-store';
import { useFleet } from './use-fleet';

export function SignedInApp({ session, onSignOut }: { session: Session; onSignOut: (expired: boolean) => void }) {
  const { t, lang } = useI18n();
  const route = useRoute();
  const api = useMemo(() => new ApiClient({ token: session.token, onUnauthorized: () => onSignOut(true) }), [session, onSignOut]);
  const store = useMemo(() => new LiveStore(), []);
  const [conn, setConn] = useState<StreamState>({ kind: 'connecting' });
  const [stream, setStream] = useState<LiveStream | undefined>();
  const [productFilter, setProductFilter] = useState('');
  const fleet = useFleet(api, store);
  const expire = useCallback(() => onSignOut(true), [onSignOut]);

  useEffect(() => {
    const s = new LiveStream({
      token: session.token,
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
  }, [session, store, api]);

  // Narrow the stream to what is on screen: one device on its page, the filtered product's devices on the list.
  // The gateway pages poll HTTP and need no telemetry at all.
  const interest = useMemo(() => {
    if (route.kind === 'device') return [route.id];
    if (route.kind === 'gateways' || route.kind === 'gateway' || route.kind === 'evaluation' || route.kind === 'usage') return [];
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
        </nav>
        <span className="spacer" />
        <ConnStatus state={conn} />
        <span className="user" title={session.user.tenant}>
          {session.user.username}
        </span>
        <LangSwitch />
        <button type="button" className="link" onClick={signOut}>
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
        return <GatewayDetailPage api={api} fleet={fleet} gatewayId={route.id} />;
      case 'gateways':
        return <GatewayListPage api={api} fleet={fleet} />;
      case 'evaluation':
        return <EvaluationPage token={session.token} onUnauthorized={expire} />;
      case 'usage':
        return <UsagePage api={api} isAdmin={session.access?.tenantWide.includes('tenant-policy:write') ?? false} />;
      default: {
        const never: never = route;
        return never;
      }
    }
  }
}

function section(r: Route): 'devices' | 'gateways' | 'evaluation' | 'usage' {
  if (r.kind === 'evaluation' || r.kind === 'usage') return r.kind;
  return r.kind === 'gateways' || r.kind === 'gateway' ? 'gateways' : 'devices';
}
