/**
 * The health page's pure part: `load` of GET /api/v1/status as the console reads it (a part an older platform
 * does not send is absent, never a crash), how figures are written with their units, which colour a latency
 * earns, and when a failed poll means "the server is unreachable" rather than a refusal.
 */
import { formatBytes, formatNumber } from '../value-format';
import type { Lang } from '../i18n-dictionary';

/** Percentiles of the platform's recent window, in ms; null when no sample fell in it. */
export interface WindowPercentiles {
  readonly samples: number;
  readonly p50: number | null;
  readonly p90?: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** `load` of GET /api/v1/status (packages/server/src/load-metrics.ts LoadSnapshot; docs/reference/monitoring.md). */
export interface PlatformLoadReply {
  readonly measuredAt: number;
  readonly windowSeconds: number;
  readonly eventLoop: { readonly delayMs: WindowPercentiles; readonly utilization: number };
  readonly memory: {
    readonly rssBytes: number;
    readonly rssPeakBytes: number;
    readonly heapUsedBytes: number;
    readonly heapTotalBytes: number;
    readonly externalBytes: number;
    readonly arrayBuffersBytes: number;
  };
  readonly mqtt: {
    readonly server: string;
    readonly connections: number;
    readonly publishesReceived: number;
    readonly pubacksSent: number;
    readonly pubackLatencyMs: WindowPercentiles;
  };
  readonly queues: {
    readonly historianPoints: number;
    readonly mqttInboundPending: number | null;
    readonly mqttPausedConnections: number | null;
    readonly mqttOutboundQueued: number | null;
    readonly mqttOutboundInflight: number | null;
    /** Absent from a platform older than the MQTT memory bounds. */
    readonly mqttSessionBytes?: number | null;
    readonly mqttWriteBufferedBytes?: number | null;
    readonly mqttSlowConnections?: number | null;
    readonly liveSubscribers: number;
    readonly liveLagging?: number;
    readonly liveBufferedBytes?: number;
  };
  readonly points: { readonly stored: number; readonly duplicates: number; readonly rejectedMessages: number };
}

/** How often the page asks again. */
export const HEALTH_REFRESH_MS = 3_000;

/** The status document's `load`, or undefined when the platform does not report one (older than issue 20). */
export function readLoad(status: unknown): PlatformLoadReply | undefined {
  if (status === null || typeof status !== 'object') return undefined;
  const load = (status as { load?: unknown }).load;
  if (load === null || typeof load !== 'object') return undefined;
  const l = load as Partial<PlatformLoadReply>;
  if (!l.eventLoop || !l.memory || !l.mqtt || !l.queues) return undefined;
  return load as PlatformLoadReply;
}

/** A duration in ms with its unit: µs-precise below 1 ms, seconds from 1 s on; "—" when there is none. */
export function formatMs(ms: number | null | undefined, lang: Lang): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${formatNumber(ms / 1000, lang, ms >= 10_000 ? 1 : 2)} s`;
  if (ms >= 100) return `${formatNumber(ms, lang, 0)} ms`;
  if (ms >= 10) return `${formatNumber(ms, lang, 1)} ms`;
  return `${formatNumber(ms, lang, 2)} ms`;
}

/** A share (0–1) as a percentage. */
export function formatRatio(r: number, lang: Lang): string {
  return `${formatNumber(r * 100, lang, 1)} %`;
}

/** A count, or "—" where the figure does not apply (the MQTT queues under aedes). */
export function formatCount(n: number | null | undefined, lang: Lang): string {
  return n === null || n === undefined ? '—' : formatNumber(n, lang, 0);
}

/** A size in bytes, or "—" where the figure does not apply. */
export function formatSize(n: number | null | undefined, lang: Lang): string {
  return n === null || n === undefined ? '—' : formatBytes(n, lang);
}

export { formatBytes };

export type Level = 'ok' | 'warn' | 'bad' | 'none';

/**
 * A latency's colour: `ok` up to `okMs`, `bad` above `badMs`, `warn` between. The PUBACK thresholds are the fleet
 * target (p99 ≤ 100 ms) and a second; a device waiting longer than that is likely to resend.
 */
export function latencyLevel(ms: number | null | undefined, okMs: number, badMs: number): Level {
  if (ms === null || ms === undefined) return 'none';
  if (ms <= okMs) return 'ok';
  return ms > badMs ? 'bad' : 'warn';
}

export const PUBACK_OK_MS = 100;
export const PUBACK_BAD_MS = 1_000;
export const LOOP_OK_MS = 50;
export const LOOP_BAD_MS = 500;

/**
 * Whether a failed poll means the platform could not be reached (no answer, or a proxy's 502/503/504) rather than
 * an answer that refused (a 401 ends the session elsewhere; other codes are shown as they are).
 */
export function isUnreachable(code: string): boolean {
  return code === 'IIP_ERR_CONSOLE_NETWORK' || code === 'HTTP_502' || code === 'HTTP_503' || code === 'HTTP_504';
}
