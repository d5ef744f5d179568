/**
 * Hash routes (#/devices, #/devices/<id>, #/gateways, #/gateways/<id>, #/evaluation, #/usage, #/health, #/alarms, #/alarm-kpis, #/rules, and the administration
 * pages #/tenants, #/assets, #/users, #/roles, #/audit, and the signed-in user's own #/account). Hash routing needs no server
 * rewrite rules and survives the console being mounted under any path. Pure parsing, plus a tiny hook.
 */
import { useEffect, useState } from 'react';

export type Route =
  | { readonly kind: 'devices' }
  | { readonly kind: 'device'; readonly id: string }
  | { readonly kind: 'gateways' }
  | { readonly kind: 'gateway'; readonly id: string }
  | { readonly kind: 'evaluation' }
  | { readonly kind: 'usage' }
  | { readonly kind: 'health' }
  | { readonly kind: 'account' }
  | { readonly kind: 'alarms' }
  | { readonly kind: 'alarm-kpis' }
  | { readonly kind: 'rules' }
  | { readonly kind: AdminRouteKind };

/** The administration pages (admin/): one route each, no ids. */
export const ADMIN_ROUTES = ['tenants', 'assets', 'users', 'roles', 'audit'] as const;
export type AdminRouteKind = (typeof ADMIN_ROUTES)[number];

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

export function parseRoute(hash: string): Route {
  if (/^#\/evaluation(?:[/?#]|$)/.test(hash)) return { kind: 'evaluation' };
  if (/^#\/usage(?:[/?#]|$)/.test(hash)) return { kind: 'usage' };
  if (/^#\/health(?:[/?#]|$)/.test(hash)) return { kind: 'health' };
  if (/^#\/account(?:[/?#]|$)/.test(hash)) return { kind: 'account' };
  if (/^#\/alarms(?:[/?#]|$)/.test(hash)) return { kind: 'alarms' };
  if (/^#\/alarm-kpis(?:[/?#]|$)/.test(hash)) return { kind: 'alarm-kpis' };
  if (/^#\/rules(?:[/?#]|$)/.test(hash)) return { kind: 'rules' };
  const admin = /^#\/(tenants|assets|users|roles|audit)(?:[/?#]|$)/.exec(hash);
  if (admin) return { kind: admin[1] as AdminRouteKind };
  const m = /^#\/(devices|gateways)(?:\/([^/?#]+))?/.exec(hash);
  if (!m) return { kind: 'devices' };
  const list = m[1] === 'gateways' ? ({ kind: 'gateways' } as const) : ({ kind: 'devices' } as const);
  const id = m[2] ? decode(m[2]) : undefined;
  if (id === undefined) return list;
  return list.kind === 'gateways' ? { kind: 'gateway', id } : { kind: 'device', id };
}

export function routeHref(r: Route): string {
  switch (r.kind) {
    case 'devices':
      return '#/devices';
    case 'device':
      return `#/devices/${encodeURIComponent(r.id)}`;
    case 'gateways':
      return '#/gateways';
    case 'gateway':
      return `#/gateways/${encodeURIComponent(r.id)}`;
    case 'evaluation':
      return '#/evaluation';
    case 'usage':
      return '#/usage';
    case 'health':
      return '#/health';
    case 'account':
      return '#/account';
    case 'alarms':
      return '#/alarms';
    case 'alarm-kpis':
      return '#/alarm-kpis';
    case 'rules':
      return '#/rules';
    case 'tenants':
    case 'assets':
    case 'users':
    case 'roles':
    case 'audit':
      return `#/${r.kind}`;
    default: {
      const never: never = r;
      return never;
    }
  }
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
