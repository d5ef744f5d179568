/**
 * Opens the PostgreSQL storage: one connection pool for every store, the schema migrated under an
 * advisory lock (N processes starting together migrate once), and the raw partitions of yesterday, today and
 * the next days created ahead. No extension is needed (no TimescaleDB): partitioning, BRIN and COPY are core
 * PostgreSQL.
 */
import type { Storage } from '../ports.js';
import { PgEventLog } from './pg-event-log.js';
import { PgDeviceEvents } from './pg-device-events.js';
import { PgRuleStore } from './pg-rule-store.js';
import { PgAlarmStore } from './pg-alarm-store.js';
import { PgActionOutbox } from './pg-action-outbox.js';
import { PgAccessStore } from './pg-access-store.js';
import { PgDb, translate } from './pg-db.js';
import { PgAuditStore, PgGatewayStore } from './pg-gateway-store.js';
import { migratePostgres } from './pg-migrations.js';
import { DAY_MS, type RawPartition, RawPartitions } from './pg-partitions.js';
import { PgRegistryStore } from './pg-registry-store.js';
import { PgTelemetryStore } from './pg-telemetry-store.js';
import { PgUserStore } from './pg-user-store.js';

export interface PostgresStorageOptions {
  /** postgres://user:password@host:port/database (libpq-style parameters such as ?sslmode= are understood). */
  readonly url: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /** How long a query waits for a connection before IIP_ERR_STORAGE_UNAVAILABLE (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Days of raw partitions created ahead of today (default 3). */
  readonly partitionDaysAhead?: number;
  /** Telemetry batches of at least this many rows are written with COPY (default 1,000). */
  readonly copyThreshold?: number;
  /** Errors of idle pooled connections (the pool replaces them); default: ignored, the next query reports. */
  readonly onIdleError?: (e: Error) => void;
  /** The clock for "today" (tests). */
  readonly now?: () => number;
}

/** The ports, plus the PostgreSQL-only maintenance hooks (partitions ahead, retention). */
export interface PostgresStorage extends Storage {
  /** Creates the raw partitions from yesterday to `partitionDaysAhead` days ahead; call it daily. */
  ensurePartitionsAhead(): Promise<void>;
  /** Drops the raw partitions that end at or before `cutoff` (epoch ms); returns their names. */
  dropRawPartitionsBefore(cutoff: number): Promise<string[]>;
  /** The raw partitions, oldest first. */
  listRawPartitions(): Promise<RawPartition[]>;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export async function openPostgresStorage(opts: PostgresStorageOptions): Promise<PostgresStorage> {
  const db = new PgDb({
    url: opts.url,
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.onIdleError ? { onIdleError: opts.onIdleError } : {}),
  });
  const now = opts.now ?? Date.now;
  const ahead = opts.partitionDaysAhead ?? 3;
  try {
    await migratePostgres(db, redactUrl(opts.url));
    const partitions = new RawPartitions(db);
    await partitions.refresh();
    await partitions.ensureAhead(now(), ahead);
    const telemetry = new PgTelemetryStore(db, partitions, opts.copyThreshold !== undefined ? { copyThreshold: opts.copyThreshold } : {});
    return {
      registry: new PgRegistryStore(db),
      users: new PgUserStore(db),
      telemetry,
      gateways: new PgGatewayStore(db),
      audit: new PgAuditStore(db),
      access: new PgAccessStore(db),
      events: new PgEventLog(db),
      deviceEvents: new PgDeviceEvents(db),
      rules: new PgRuleStore(db),
      alarms: new PgAlarmStore(db),
      actions: new PgActionOutbox(db),
      close: () => db.close(),
      ensurePartitionsAhead: () => partitions.ensureAhead(now(), ahead),
      maintain: () => partitions.ensureAhead(now(), ahead),
      dropRawPartitionsBefore: (cutoff) => partitions.dropBefore(cutoff),
      listRawPartitions: () => partitions.list(),
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw translate(e, `open ${redactUrl(opts.url)}`);
  }
}

export { DAY_MS };
