/**
 * What the NATS adapters (the bus, nats.ts, and the MQTT session store, nats-sessions.ts) share: the check of
 * a name prefix, the error a lost or unreachable server becomes, and how a connection is opened — a
 * comma-separated server list, reconnecting for ever, a connect timeout.
 */
import { IipError } from '@iip/core';
import { type NatsConnection, connect } from 'nats';

/** Letters, digits, `_` and `-`: what a prefix or a subject token may hold as it is. */
export const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;

/** IIP_ERR_BUS_UNAVAILABLE (503) with the cause's message appended. */
export function unavailable(message: string, cause?: unknown): IipError {
  const why = cause instanceof Error ? `: ${cause.message}` : cause !== undefined ? `: ${String(cause)}` : '';
  return new IipError('IIP_ERR_BUS_UNAVAILABLE', `${message}${why}`);
}

/** Refuses a prefix that is not one subject token (`what` names the setting in the message). */
export function checkPrefix(prefix: string, what: string): void {
  if (!SAFE_TOKEN.test(prefix)) throw new IipError('IIP_ERR_VALIDATION', `${what} prefix "${prefix}" may hold only letters, digits, _ and -`);
}

export interface NatsConnectOptions {
  readonly url: string;
  readonly name: string;
  readonly connectTimeoutMs?: number;
  readonly reconnectWaitMs?: number;
  /** Server liveness pings (the NATS client's defaults when absent). */
  readonly pingIntervalMs?: number;
  readonly maxPingOut?: number;
}

/** Opens a connection that reconnects for ever; an unreachable server is IIP_ERR_BUS_UNAVAILABLE. */
export async function openNatsConnection(o: NatsConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: o.url.split(',').map((s) => s.trim()),
      name: o.name,
      timeout: o.connectTimeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: o.reconnectWaitMs ?? 500,
      ...(o.pingIntervalMs !== undefined ? { pingInterval: o.pingIntervalMs } : {}),
      ...(o.maxPingOut !== undefined ? { maxPingOut: o.maxPingOut } : {}),
    });
  } catch (e) {
    throw unavailable(`cannot connect to NATS at ${o.url}`, e);
  }
}
