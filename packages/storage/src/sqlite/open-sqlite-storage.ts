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
import { AUTO_CHECKPOINT_PAGES, configureConnection } from './sqlite-connection.js';

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
    const thread = (opts.writerThread ?? process.env.IIP_SQLITE_WRITER_THREAD !== '0') && opts.file !== ':memory:' && !opts.file.startsWith('file::memory:');
    // With the writer thread, its commits (a hundred a second under load) reach the checkpoint threshold first and
    // the checkpointer thread does the copying; a commit here checkpoints only if the WAL grew far past it (a
    // safety net: a checkpoint on this connection runs on the event loop).
    if (thread) db.pragma(`wal_autocheckpoint = ${4 * AUTO_CHECKPOINT_PAGES}`);
    const telemetry = new SqliteTelemetryStore(db, thread ? { writerThreadFile: opts.file } : {});
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
