/**
 * Opens (creating if needed) the embedded storage file and returns the registry, user and telemetry stores
 * over one better-sqlite3 connection (its settings: configureConnection in telemetry-writer.ts).
 */
import Database from 'better-sqlite3';
import type { Storage } from '../ports.js';
import { migrate } from './migrations.js';
import { SqliteAuditStore, SqliteGatewayStore } from './sqlite-gateway-store.js';
import { SqliteRegistryStore } from './sqlite-registry-store.js';
import { SqliteTelemetryStore } from './sqlite-telemetry-store.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { configureConnection } from './telemetry-writer.js';

export interface SqliteStorageOptions {
  /** Path of the database file; `:memory:` works for throw-away use. */
  readonly file: string;
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
