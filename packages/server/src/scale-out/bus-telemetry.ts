/**
 * The telemetry path of a platform split over several processes (issue 11, point 4; docs/scale-out.md).
 *
 * Front door: admission runs without a historian and publishes each accepted message on the bus; the publish
 * resolves once JetStream has acknowledged it — the message is on disk in the stream and will reach the
 * historian group — and only then does the front door send the PUBACK or the HTTP 2xx. When the bus cannot
 * keep the message it rejects (IIP_ERR_BUS_UNAVAILABLE, 503): no acknowledgement, the device resends.
 *
 * Worker: `startHistorianWorker` consumes the `historian` group and acknowledges each message to the bus only
 * after the historian has committed it. It may be given several historians over one store (write shards): a
 * device's messages always go to the same one (by a hash of tenant and device, so each historian's per-series
 * newest-timestamp cache stays exact), and their transactions run concurrently — a PostgreSQL commit waits
 * for its WAL flush, and one writer at a time left the server and this process idle between commits. A re-delivery (a worker killed between commit and ack) is harmless:
 * (series, ts) is deduplicated. A message the historian refuses for good (a value its series cannot store,
 * e.g. after a thing-model change of kind) is not retried for ever: it is counted by code, logged with the
 * device, and acknowledged; everything else (storage down) is retried until it is stored.
 */
import type { Bus, Subscription } from '@iip/bus';
import { IipError, type TelemetryBatch, type TelemetryWriteResult } from '@iip/core';


export const HISTORIAN_GROUP = 'historian';

export interface WorkerStats {
  /** Messages committed by this worker's historian. */
  stored: number;
  /** Points committed (duplicates of re-deliveries excluded). */
  storedPoints: number;
  /** Messages refused for good, by error code (logged; see the module comment). */
  refusedByCode: Record<string, number>;
  /** Attempts that failed for a passing reason (storage unavailable) and will be retried. */
  retries: number;
}

export interface HistorianLike {
  ingest(batch: TelemetryBatch): Promise<TelemetryWriteResult>;
}

/** FNV-1a of tenant and device: which write shard takes a device's messages. */
export function shardOf(tenant: string, device: string, shards: number): number {
  let h = 0x811c9dc5;
  const key = `${tenant}/${device}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/**
 * The historian's group of the telemetry stream. Rules take the stream in a group of their own (rules-runtime.ts):
 * one worker evaluates them, in order, while every worker stores.
 */
export function startHistorianWorker(bus: Bus, shards: readonly HistorianLike[], log: (line: string) => void): { readonly subscription: Subscription; stats(): WorkerStats } {
  if (shards.length === 0) throw new Error('startHistorianWorker needs at least one historian');
  const stats: WorkerStats = { stored: 0, storedPoints: 0, refusedByCode: {}, retries: 0 };
  const subscription = bus.subscribe(
    'telemetry',
    async (batch) => {
      try {
        const historian = shards[shardOf(batch.tenant, batch.device, shards.length)] as HistorianLike;
        const r = await historian.ingest(batch);
        stats.stored++;
        stats.storedPoints += r.stored.points.length;
      } catch (e) {
        // A 4xx refusal (the value, not the platform, is at fault: e.g. IIP_ERR_STORAGE_SERIES_KIND) is for good.
        if (e instanceof IipError && e.status < 500) {
          stats.refusedByCode[e.code] = (stats.refusedByCode[e.code] ?? 0) + 1;
          log(`worker: ${batch.tenant}/${batch.device}: ${batch.points.length} points refused for good (${e.code}: ${e.message})`);
          return;
        }
        stats.retries++;
        throw e;
      }
    },
    { group: HISTORIAN_GROUP },
  );
  return { subscription, stats: () => ({ ...stats, refusedByCode: { ...stats.refusedByCode } }) };
}
