/**
 * Versioned schema of the embedded SQLite file. Each migration runs once, in its own transaction, and is
 * recorded in `schema_migrations`; a released migration is never edited, only followed by a new one, so a
 * file created by any earlier version upgrades safely.
 */
import type Database from 'better-sqlite3';
import { IipError } from '@iip/core';

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry and users',
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE products (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        category TEXT NOT NULL,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
      ) WITHOUT ROWID;
      CREATE TABLE devices (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        product TEXT NOT NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        attributes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id),
        FOREIGN KEY (tenant, product) REFERENCES products (tenant, id) ON DELETE RESTRICT
      ) WITHOUT ROWID;
      CREATE INDEX devices_by_product ON devices (tenant, product, id);
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        created_at INTEGER NOT NULL
      );
      CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        tenant TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX tokens_by_expiry ON tokens (expires_at);
    `,
  },
  {
    version: 2,
    name: 'telemetry series, raw, rollups, latest',
    // AUTOINCREMENT so a deleted series id is never handed out again: a writer still holding the old id
    // must not land points in somebody else's series. raw/rollup/latest carry no foreign key to series
    // because the check would cost a lookup per point on the hot path; deleteDevice removes them explicitly.
    sql: `
      CREATE TABLE series (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        device TEXT NOT NULL,
        property TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('n', 'b', 's')),
        UNIQUE (tenant, device, property)
      );
      CREATE TABLE raw (
        series INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        num REAL,
        str TEXT,
        PRIMARY KEY (series, ts)
      ) WITHOUT ROWID;
      CREATE TABLE rollup (
        level INTEGER NOT NULL,
        series INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        vmin REAL NOT NULL,
        vmax REAL NOT NULL,
        vsum REAL NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (level, series, bucket)
      ) WITHOUT ROWID;
      CREATE TABLE latest (
        series INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        num REAL,
        str TEXT
      );
    `,
  },
  {
    version: 3,
    name: 'gateway configs and states, audit log',
    sql: `
      CREATE TABLE gateway_configs (
        tenant TEXT NOT NULL,
        gateway TEXT NOT NULL,
        version INTEGER NOT NULL,
        config TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (tenant, gateway, version)
      ) WITHOUT ROWID;
      CREATE TABLE gateway_states (
        tenant TEXT NOT NULL,
        gateway TEXT NOT NULL,
        applied_version INTEGER,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, gateway)
      ) WITHOUT ROWID;
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        device TEXT NOT NULL,
        property TEXT,
        old_value TEXT,
        new_value TEXT,
        result TEXT NOT NULL CHECK (result IN ('ok', 'error')),
        error TEXT
      );
      CREATE INDEX audit_by_device ON audit_log (tenant, device, id);
    `,
  },
  {
    version: 4,
    name: 'tenant policies (retention and quotas)',
    sql: `
      CREATE TABLE tenant_policies (
        tenant TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        policy TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Brings the file up to SCHEMA_VERSION; refuses a file written by a newer schema. */
export function migrate(db: Database.Database, file: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  if (current > SCHEMA_VERSION) {
    throw new IipError(
      'IIP_ERR_STORAGE_SCHEMA_TOO_NEW',
      `${file} has schema version ${current}, this iip knows only up to ${SCHEMA_VERSION}`,
      { file, found: current, supported: SCHEMA_VERSION },
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
  }
}
