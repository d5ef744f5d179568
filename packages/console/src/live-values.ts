/**
 * Merging live telemetry into the latest-value table. Pure, so the rules are unit-tested: a point only
 * replaces one that is not newer (devices resend old points after a buffer flush), and an unchanged
 * table keeps its identity so React skips the re-render.
 */
import type { LatestValues, TelemetryFrame } from './api-types';
import { isPointValue } from './value-format';

export function mergeLatest(current: LatestValues | undefined, points: TelemetryFrame['points']): LatestValues {
  const base = current ?? {};
  let next: Record<string, LatestValues[string]> | undefined;
  for (const p of points) {
    const have = (next ?? base)[p.property];
    if (have && have.ts > p.ts) continue;
    if (have && have.ts === p.ts && have.value === p.value) continue;
    next ??= { ...base };
    next[p.property] = { ts: p.ts, value: p.value };
  }
  return next ?? base;
}

/** The newest timestamp of any property: when the device last reported. */
export function lastReport(values: LatestValues | undefined): number | undefined {
  if (!values) return undefined;
  let last: number | undefined;
  for (const k in values) {
    const ts = values[k]?.ts;
    if (ts !== undefined && (last === undefined || ts > last)) last = ts;
  }
  return last;
}

/** How recently a device must have reported to count as "updating" in the device list. */
export const UPDATING_WINDOW_MS = 60_000;

export function isUpdating(values: LatestValues | undefined, now: number, windowMs = UPDATING_WINDOW_MS): boolean {
  const last = lastReport(values);
  return last !== undefined && now - last <= windowMs;
}

/** Parses one WebSocket text frame; returns undefined for anything that is not a well-formed telemetry frame. */
export function parseFrame(text: string): TelemetryFrame | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object') return undefined;
  const f = doc as { type?: unknown; device?: unknown; points?: unknown };
  if (f.type !== 'telemetry' || typeof f.device !== 'string' || !Array.isArray(f.points)) return undefined;
  const points: TelemetryFrame['points'][number][] = [];
  for (const p of f.points as unknown[]) {
    if (p === null || typeof p !== 'object') continue;
    const q = p as { property?: unknown; ts?: unknown; value?: unknown };
    const v = q.value;
    if (typeof q.property !== 'string' || typeof q.ts !== 'number') continue;
    if (!isPointValue(v)) continue;
    points.push({ property: q.property, ts: q.ts, value: v });
  }
  return { type: 'telemetry', device: f.device, points };
}
