/**
 * @iip/storage — the persistence ports of iip (registry, users, telemetry) and the embedded adapter that
 * implements all three in one SQLite file. Services depend on the port interfaces only; the composition
 * root picks the adapter (embedded SQLite by default, PostgreSQL when scaling out).
 */
export type * from './ports.js';
export type * from './access-ports.js';
export { ASSET_LEVELS } from './access-ports.js';
export type * from './event-log.js';
export { eventHash, GENESIS_HASH, verifyEventChain } from './event-log.js';
export type * from './device-events.js';
export type * from './rule-ports.js';
export type * from './action-ports.js';
export { STORAGE_ERRORS } from './errors.js';
export { openSqliteStorage } from './sqlite/open-sqlite-storage.js';
export type { SqliteStorageOptions } from './sqlite/open-sqlite-storage.js';
export type * from './handle-ports.js';
export { openSqliteHandleStore } from './sqlite/sqlite-handle-store.js';
export type { SqliteHandleStoreOptions } from './sqlite/sqlite-handle-store.js';
export { openPostgresStorage, redactUrl } from './postgres/open-postgres-storage.js';
export type { PostgresStorage, PostgresStorageOptions } from './postgres/open-postgres-storage.js';
export type { RawPartition } from './postgres/pg-partitions.js';
export { openStorage, isPostgresUrl } from './open-storage.js';
export { openPgHandleStore } from './postgres/pg-handle-store.js';
export type { PgHandleStore, PgHandleStoreOptions } from './postgres/pg-handle-store.js';
export { DEFAULT_ROLLUP_LEVELS, RAW_ROW_BYTES, ROLLUP_ROW_BYTES, SERIES_ROW_BYTES, estimateStoredBytes, utcDay } from './usage.js';
export { DEFAULT_TENANT_POLICY, MIN_AUDIT_DAYS, normalizeTenantPolicy } from './tenant-policy.js';
