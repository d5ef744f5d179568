/**
 * What the Gateways list shows per gateway. GET /gateways has versions and liveness but not the buffer, so
 * each gateway's status is fetched too, a few at a time; one failing detail request leaves that row
 * without buffer figures rather than failing the whole list.
 */
import type { ApiClient } from './api-client';
import type { GatewaySummary } from './api-types';
import { type BufferView, readGatewayState } from './gateway-state';

const DETAIL_CONCURRENCY = 4;

export interface GatewayOverview extends GatewaySummary {
  readonly buffer: BufferView | undefined;
}

export async function loadGatewayOverview(api: ApiClient): Promise<GatewayOverview[]> {
  const items = [...(await api.gateways())].sort((a, b) => a.gateway.localeCompare(b.gateway, undefined, { numeric: true }));
  const buffers = new Map<string, BufferView>();
  const queue = items.map((g) => g.gateway);
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        const st = await api.gateway(id);
        if (st.reported) buffers.set(id, readGatewayState(st.reported.state).buffer);
      } catch {
        // The row still shows versions and liveness; its buffer cell says nothing rather than something wrong.
      }
    }
  };
  await Promise.all(Array.from({ length: DETAIL_CONCURRENCY }, worker));
  return items.map((g) => ({ ...g, buffer: buffers.get(g.gateway) }));
}
