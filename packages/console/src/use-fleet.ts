/**
 * Loads products and devices once per sign-in (every page of devices, up to MAX_DEVICES) and seeds the live
 * store with the latest values of the first SEEDED devices; the WebSocket fills in the rest as they report.
 * The seeding runs a few requests at a time, so opening the console on a large tenant does not fire
 * hundreds of requests at once.
 */
import { useEffect, useState } from 'react';
import type { ApiClient } from './api-client';
import type { Device, Product } from './api-types';
import type { LiveStore } from './live-store';

/** Devices per request while loading the list. */
export const DEVICE_PAGE = 500;
/** The list holds at most this many devices; beyond, it says how many more there are. */
export const MAX_DEVICES = 20_000;
/** Devices whose latest values are fetched on load (the rest arrive over the WebSocket). */
const SEEDED = 500;
const SEED_CONCURRENCY = 8;

/** Every device, page by page, until the total is reached, a page comes back empty, or `max` are loaded. */
export async function loadAllDevices(
  fetchPage: (q: { limit: number; offset: number }) => Promise<{ items: readonly Device[]; total: number }>,
  pageSize = DEVICE_PAGE,
  max = MAX_DEVICES,
): Promise<{ items: Device[]; total: number }> {
  const items: Device[] = [];
  let total = 0;
  for (;;) {
    const page = await fetchPage({ limit: Math.min(pageSize, max - items.length), offset: items.length });
    total = page.total;
    items.push(...page.items);
    if (page.items.length === 0 || items.length >= total || items.length >= max) return { items, total };
  }
}

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
        const [products, page] = await Promise.all([api.products(), loadAllDevices((q) => api.devices(q))]);
        if (cancelled) return;
        const devices = [...page.items].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
        setFleet({
          products: new Map(products.map((p) => [p.id, p])),
          devices,
          total: page.total,
          loading: false,
          error: undefined,
        });
        const queue = devices.slice(0, SEEDED).map((d) => d.id);
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
