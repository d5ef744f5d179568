/**
 * A bounded MQTT load driver for benchmarks and `iip simulate --rate`. It spreads messages round-robin
 * over the devices' own connections, each message a batch of exactly `pointsPerMessage` points, and keeps
 * at most `maxInFlight` messages unacknowledged (PUBACK for QoS 1, socket write for QoS 0) so it measures
 * the platform rather than its own queues. It stops after `totalMessages`, or, paced by `ratePerSec` with
 * an unbounded total, when `signal` aborts.
 */
import { IipError, type ThingModel } from '@iip/core';
import type { MqttClient } from 'mqtt';
import { connectDevice, type DeviceLogin, mapLimited } from './device-connection.js';
import { BatchBuilder, rangesFor } from './load-payload.js';

export interface LoadOptions {
  readonly mqttUrl: string;
  readonly tenant: string;
  readonly devices: readonly DeviceLogin[];
  readonly pointsPerMessage: number;
  /** Messages to send in all; `Infinity` runs until `signal` aborts (use with `ratePerSec`). */
  readonly totalMessages: number;
  /** Unacknowledged messages allowed at once over all connections (default 256). */
  readonly maxInFlight?: number;
  /** Default 1. */
  readonly qos?: 0 | 1;
  /** Numeric float properties to fill, in order; more points than properties means more timestamps. */
  readonly propertyIds: readonly string[];
  /** When given, values stay inside each property's range in this model (default range 0…100). */
  readonly model?: ThingModel;
  /** Called at most every 100 ms and once at the end with the number of acknowledged messages. */
  readonly onProgress?: (sent: number) => void;
  /** Paces publishing to this many messages per second overall; unpaced when absent. */
  readonly ratePerSec?: number;
  readonly signal?: AbortSignal;
  /**
   * First timestamp per device. By default a bounded run ends at about "now" (it starts that many
   * milliseconds in the past), and an unbounded run follows the wall clock.
   */
  readonly startTs?: number;
  /** Connections opened at once (default 32). */
  readonly connectConcurrency?: number;
}

export interface LoadResult {
  /** Messages acknowledged (QoS 1) or written (QoS 0). */
  readonly messages: number;
  readonly points: number;
  /** From the first publish to the last acknowledgement; connecting is not counted. */
  readonly elapsedMs: number;
}

function badOption(message: string, details: Record<string, unknown>): IipError {
  return new IipError('IIP_ERR_SIM_BAD_OPTION', message, details);
}

function checkOptions(o: LoadOptions): void {
  if (o.devices.length === 0) throw badOption('runLoad needs at least one device', {});
  if (o.propertyIds.length === 0) throw badOption('runLoad needs at least one property id', {});
  if (!(Number.isInteger(o.pointsPerMessage) && o.pointsPerMessage >= 1)) {
    throw badOption(`pointsPerMessage must be a positive integer, got ${o.pointsPerMessage}`, { pointsPerMessage: o.pointsPerMessage });
  }
  const total = o.totalMessages;
  if (!(total === Number.POSITIVE_INFINITY || (Number.isInteger(total) && total >= 0))) {
    throw badOption(`totalMessages must be a non-negative integer or Infinity, got ${total}`, { totalMessages: total });
  }
  if (total === Number.POSITIVE_INFINITY && !o.signal) {
    throw badOption('an unbounded run (totalMessages: Infinity) needs an AbortSignal to stop it', {});
  }
  const inflight = o.maxInFlight ?? 256;
  if (!(Number.isInteger(inflight) && inflight >= 1)) throw badOption(`maxInFlight must be a positive integer, got ${inflight}`, { maxInFlight: inflight });
  if (o.ratePerSec !== undefined && !(Number.isFinite(o.ratePerSec) && o.ratePerSec > 0)) {
    throw badOption(`ratePerSec must be a positive number, got ${o.ratePerSec}`, { ratePerSec: o.ratePerSec });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  checkOptions(opts);
  const qos = opts.qos ?? 1;
  const maxInFlight = opts.maxInFlight ?? 256;
  const total = opts.totalMessages;
  const bounded = Number.isFinite(total);
  const builder = new BatchBuilder(opts.propertyIds, rangesFor(opts.propertyIds, opts.model), opts.pointsPerMessage);

  const clients: (MqttClient | undefined)[] = new Array(opts.devices.length);
  try {
    await mapLimited(opts.devices, opts.connectConcurrency ?? 32, async (device, i) => {
      clients[i] = await connectDevice({ mqttUrl: opts.mqttUrl, tenant: opts.tenant, device });
    });
  } catch (e) {
    await Promise.all(clients.map((c) => c?.endAsync(true)));
    throw e;
  }
  const conns = opts.devices.map((d, i) => ({ client: clients[i]!, topic: `iip/${opts.tenant}/${d.id}/telemetry` }));

  const n = conns.length;
  const perDeviceRecords = bounded ? Math.ceil(total / n) * builder.records : 0;
  const firstTs = opts.startTs ?? Date.now() - perDeviceRecords;
  const nextTs = conns.map(() => firstTs);

  let sent = 0;
  let acked = 0;
  let inFlight = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let lastProgress = 0;
  const progress = (force: boolean): void => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (force || now - lastProgress >= 100) {
      lastProgress = now;
      opts.onProgress(acked);
    }
  };

  const t0 = performance.now();
  try {
    while (sent < total && !failure && !opts.signal?.aborted) {
      if (opts.ratePerSec) {
        const aheadMs = t0 + (sent * 1000) / opts.ratePerSec - performance.now();
        // sleeping for sub-millisecond gaps costs more than it saves; send those in a small burst
        if (aheadMs > 1) {
          await sleep(aheadMs, opts.signal);
          continue;
        }
      }
      while (inFlight >= maxInFlight && !failure) await new Promise<void>((r) => (wake = r));
      if (failure) break;
      const d = sent % n;
      const conn = conns[d]!;
      // an unbounded run follows the wall clock; either way each device's timestamps strictly increase
      const ts = bounded || opts.startTs !== undefined ? nextTs[d]! : Math.max(nextTs[d]!, Date.now());
      nextTs[d] = ts + builder.records;
      const body = builder.build(ts, sent);
      sent++;
      inFlight++;
      conn.client.publish(conn.topic, body, { qos }, (err) => {
        inFlight--;
        if (err) failure ??= err;
        else acked++;
        progress(false);
        const w = wake;
        wake = undefined;
        w?.();
      });
    }
    while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  } finally {
    await Promise.all(conns.map((c) => c.client.endAsync()));
  }
  const elapsedMs = performance.now() - t0;
  progress(true);
  if (failure) {
    throw new IipError('IIP_ERR_SIM_PUBLISH_FAILED', `publishing failed after ${acked} acknowledged messages: ${failure.message}`, {
      acked,
      cause: failure.message,
    });
  }
  return { messages: acked, points: acked * opts.pointsPerMessage, elapsedMs };
}
