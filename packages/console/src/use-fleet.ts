/**
 * Loads products and devices once per sign-in and seeds the live store with each device's latest values.
 * The seeding runs a few requests at a time, so opening the console on a 500-device tenant does not fire
 * 500 requests at once.
 */
import { useEffect, useState } from 'react';
import type { ApiClient } from './api-client';
import type { Device, Product } from './api-types';
import type { LiveStore } from './live-store';

/** The list shows up to this many devices; the API's page limit. */
export const DEVICE_PAGE = 500;
const SEED_CONCURRENCY = 8;

export interface Fleet {
  readonly products: ReadonlyMap<string, Product>;
  readonly devices: readonly Device[];
  readonly total: number;
  readonly loading: boolean;
  readonly error: { code: string; message: string } | undefined;
}

const EMPTY: Fleet = { products: new Map(), devices: [], total: 0, loading: true, error: undefined };

export function useFleet(api: ApiClient, store: LiveStore): Fleet {
  const [fleet, setFleet] = useState<Fleet>(EMPTY);
  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const [products, page] = await Promise.all([api.products(), api.devices({ limit: DEVICE_PAGE })]);
        if (cancelled) return;
        const devices = [...page.items].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
        setFleet({
          products: new Map(products.map((p) => [p.id, p])),
          devices,
          total: page.total,
          loading: false,
          error: undefined,
        });
        const queue = devices.map((d) => d.id);
        const worker = async () => {
          for (let id = queue.shift(); id !== undefined && !cancelled; id = queue.shift()) {
            try {
              store.seed(id, await api.latest(id));
            } catch {
              // One device without a latest value must not blank the others; the WebSocket fills it later.
            }
          }
        };
        await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
      } catch (e) {
        if (cancelled) return;
        const code = e !== null && typeof e === 'object' && 'code' in e ? String(e.code) : 'IIP_ERR_CONSOLE_LOAD';
        setFleet({ ...EMPTY, loading: false, error: { code, message: e instanceof Error ? e.message : String(e) } });
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [api, store]);
  return fleet;
}
