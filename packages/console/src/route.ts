/**
 * Hash routes (#/devices, #/devices/<id>). Hash routing needs no server rewrite rules and survives the
 * console being mounted under any path. Pure parsing, plus a tiny hook.
 */
import { useEffect, useState } from 'react';

export type Route = { readonly kind: 'devices' } | { readonly kind: 'device'; readonly id: string };

export function parseRoute(hash: string): Route {
  const m = /^#\/devices\/([^/?#]+)/.exec(hash);
  if (m?.[1]) {
    try {
      return { kind: 'device', id: decodeURIComponent(m[1]) };
    } catch {
      return { kind: 'devices' };
    }
  }
  return { kind: 'devices' };
}

export function routeHref(r: Route): string {
  return r.kind === 'device' ? `#/devices/${encodeURIComponent(r.id)}` : '#/devices';
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
