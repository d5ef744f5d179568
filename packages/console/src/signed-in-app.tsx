/**
 * Everything behind sign-in: the header, the live-data stream and the two pages. Owns the API client,
 * the live store and the WebSocket for the lifetime of one session.
 */
import { useEffect, useMemo, useState } from 'react';
import { ApiClient } from './api-client';
import { ConnStatus } from './components/conn-status';
import { LangSwitch } from './components/lang-switch';
import { useI18n } from './i18n-context';
import { LiveStore } from './live-store';
import { LiveStream, type StreamState } from './live-stream';
import { DeviceDetailPage } from './pages/device-detail-page';
import { DeviceListPage } from './pages/device-list-page';
import { routeHref, useRoute } from './route';
import type { Session } from './session-store';
import { useFleet } from './use-fleet';

export function SignedInApp({ session, onSignOut }: { session: Session; onSignOut: (expired: boolean) => void }) {
  const { t } = useI18n();
  const route = useRoute();
  const api = useMemo(() => new ApiClient({ token: session.token, onUnauthorized: () => onSignOut(true) }), [session, onSignOut]);
  const store = useMemo(() => new LiveStore(), []);
  const [conn, setConn] = useState<StreamState>({ kind: 'connecting' });
  const [stream, setStream] = useState<LiveStream | undefined>();
  const [productFilter, setProductFilter] = useState('');
  const fleet = useFleet(api, store);

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
  const interest = useMemo(() => {
    if (route.kind === 'device') return [route.id];
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
        <span className="spacer" />
        <ConnStatus state={conn} />
        <span className="user" title={`${session.user.role} · ${session.user.tenant}`}>
          {session.user.username}
        </span>
        <LangSwitch />
        <button type="button" className="link" onClick={signOut}>
          {t('nav.signOut')}
        </button>
      </header>
      {route.kind === 'device' ? (
        <DeviceDetailPage api={api} store={store} fleet={fleet} deviceId={route.id} />
      ) : (
        <DeviceListPage store={store} fleet={fleet} productFilter={productFilter} onProductFilter={setProductFilter} />
      )}
    </div>
  );
}
