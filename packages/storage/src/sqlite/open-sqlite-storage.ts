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
import { SqliteActionOutbox } from './sqlite-action-outbox.js';
import { SqliteAccessStore } from './sqlite-access-store.js';
import { SqliteAuditStore, SqliteGatewayStore } from './sqlite-gateway-store.js';
import { SqliteRegistryStore } from './sqlite-registry-store.js';
import { SqliteTelemetryStore } from './sqlite-telemetry-store.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { configureConnection } from './sqlite-connection.js';

export interface SqliteStorageOptions {
  /** Path of the database file; `:memory:` works for throw-away use. */
  readonly file: string;
  /**
   * Telemetry writes in a worker thread with its own connection (default: true for a file; `:memory:` cannot be
   * shared, so it always writes inline). IIP_SQLITE_WRITER_THREAD=0 turns it off.
   */
  readonly writerThread?: boolean;
}

export function openSqliteStorage(opts: SqliteStorageOptions): Storage {
  const db = new Database(opts.file);
  try {
    configureConnection(db);
    migrate(db, opts.file);
    const thread = opts.writerThread ?? process.env.IIP_SQLITE_WRITER_THREAD !== '0';
    const telemetry = new SqliteTelemetryStore(db, thread && opts.file !== ':memory:' && !opts.file.startsWith('file::memory:') ? { writerThreadFile: opts.file } : {});
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
      actions: new SqliteActionOutbox(db),
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
