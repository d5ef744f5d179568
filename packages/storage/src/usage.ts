/**
 * The stored-bytes estimate both adapters report in TelemetryStore.usage: a fixed size per row (key, value and
 * the engine's per-row and index overhead, rounded) plus the UTF-8 bytes of string values. It is an estimate of
 * what a tenant occupies, comparable across engines and cheap to compute from row counts — not the file or
 * relation size, which neither engine can split by tenant.
 */
export const RAW_ROW_BYTES = 40;
export const ROLLUP_ROW_BYTES = 64;
export const SERIES_ROW_BYTES = 96;

export function estimateStoredBytes(c: { series: number; rawPoints: number; rawStringBytes: number; rollupRows: number }): number {
  return c.series * SERIES_ROW_BYTES + c.rawPoints * RAW_ROW_BYTES + c.rawStringBytes + c.rollupRows * ROLLUP_ROW_BYTES;
}

/** Start (inclusive) and end (exclusive) of the UTC day holding `now`, epoch ms. */
export function utcDay(now: number): { from: number; to: number } {
  const from = Math.floor(now / 86_400_000) * 86_400_000;
  return { from, to: from + 86_400_000 };
}

/** Retention batch size when the caller gives none. */
export const DEFAULT_RETENTION_BATCH = 5_000;

/** Lets other work on the event loop (ingest) run between two retention batches. */
export function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The rollup levels both adapters keep at write time — 1 minute, 1 hour, 1 day: a year-long trend reads ~365 rows, a day-long one ~1,440. */
export const DEFAULT_ROLLUP_LEVELS: readonly number[] = [60_000, 3_600_000, 86_400_000];
