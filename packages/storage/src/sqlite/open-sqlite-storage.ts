/**
 * Opens (creating if needed) the embedded storage file and returns the registry, user, telemetry, gateway,
 * audit and access stores over one better-sqlite3 connection.
 */
import Database from 'better-sqlite3';
import type { Storage } from '../ports.js';
import { migrate } from './migrations.js';
import { SqliteEventLog } from './sqlite-event-log.js';
import { SqliteDeviceEvents } from './sqlite-device-events.js';
import { SqliteRuleStore } from './sqlite-rule-store.js';
import { SqliteAlarmStore } from './sqlite-alarm-store.js';
import { SqliteAccessStore } from './sqlite-access-store.js';
import { SqliteAuditStore, SqliteGatewayStore } from './sqlite-gateway-store.js';
import { SqliteRegistryStore } from './sqlite-registry-store.js';
import { SqliteTelemetryStore } from './sqlite-telemetry-store.js';
import { SqliteUserStore } from './sqlite-user-store.js';

export interface SqliteStorageOptions {
  /** Path of the database file; `:memory:` works for throw-away use. */
  readonly file: string;
}

/**
 * Connection settings of the embedded file. WAL lets readers run beside the
 * writer; synchronous=NORMAL is safe in WAL mode (a power cut may lose the last transactions, never corrupt
 * the file; a killed process loses nothing committed). A checkpoint every ~40 MiB of WAL instead of SQLite's
 * 4 MiB: a checkpoint copies pages into the file and fsyncs, and fewer, larger ones copy a hot page once
 * instead of many times; afterwards the WAL file is cut back to 64 MiB.
 */
function configureConnection(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // 64 MiB page cache: keeps the hot B-tree pages of raw and rollup in memory during ingest.
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  db.pragma('wal_autocheckpoint = 10000');
  db.pragma('journal_size_limit = 67108864');
}

export function openSqliteStorage(opts: SqliteStorageOptions): Storage {
  const db = new Database(opts.file);
  try {
    configureConnection(db);
    migrate(db, opts.file);
    const telemetry = new SqliteTelemetryStore(db);
    return {
      registry: new SqliteRegistryStore(db),
      users: new SqliteUserStore(db),
      telemetry,
      gateways: new SqliteGatewayStore(db),
      audit: new SqliteAuditStore(db),
      access: new SqliteAccessStore(db),
      events: new SqliteEventLog(db),
      deviceEvents: new SqliteDeviceEvents(db),
      rules: new SqliteRuleStore(db),
      alarms: new SqliteAlarmStore(db),
      // The stores share one connection, so closing the telemetry store closes the file.
      close: async () => {
        await telemetry.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
