/**
 * @iip/historian — the telemetry write path of iip: validated batches are queued, written in large
 * transactions (raw points, write-time rollups, latest values) through the TelemetryStore port, and served
 * back as latest values, raw history and bucketed trends read from the rollups.
 */
export { Historian } from './historian.js';
export { kindOfDataType } from './value-codec.js';
export type { HistorianOptions, HistorianStats, HistoryQuery, TimedValue, TrendQuery } from './historian.js';
export type { TrendBucket } from './trend.js';
export { HISTORIAN_ERRORS } from './errors.js';
export { RetentionService } from './retention.js';
export type { RetentionOptions, RetentionRunReport, RetentionStatus, TenantRetentionReport } from './retention.js';
