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
  {
    version: 5,
    name: 'tenant status, asset tree, device placement, custom roles, grants (users\' roles become grants)',
    // The references between these tables (a parent in the tenant, a placement or a grant on an asset of the
    // tenant) are checked by the access store inside its transactions; a UNIQUE over a nullable column treats
    // NULLs as distinct, so the tenant-wide grant (asset NULL) has its own partial unique index.
    sql: `
      ALTER TABLE tenants ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'));
      ALTER TABLE tenants ADD COLUMN suspended_reason TEXT;
      ALTER TABLE devices ADD COLUMN asset TEXT;
      CREATE INDEX devices_by_asset ON devices (tenant, asset);
      CREATE TABLE assets (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        parent TEXT,
        level TEXT NOT NULL CHECK (level IN ('enterprise', 'site', 'area', 'line', 'cell')),
        name TEXT NOT NULL,
        name_zh TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
      ) WITHOUT ROWID;
      CREATE INDEX assets_by_parent ON assets (tenant, parent);
      CREATE TABLE roles (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        permissions TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
      ) WITHOUT ROWID;
      CREATE TABLE grants (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role TEXT NOT NULL,
        asset TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id),
        UNIQUE (tenant, user_id, role, asset)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX grants_tenant_wide ON grants (tenant, user_id, role) WHERE asset IS NULL;
      CREATE INDEX grants_by_asset ON grants (tenant, asset);
      CREATE INDEX grants_by_role ON grants (tenant, role);
      CREATE INDEX users_by_tenant ON users (tenant);
      -- A user's role becomes a grant on the whole tenant (ADR 0009): the first administrator of the platform's own
      -- tenant is its platform administrator, other administrators their tenant's; the old operator (who could
      -- change products, devices and gateways) is an engineer; a viewer stays a viewer.
      INSERT INTO grants (tenant, id, user_id, role, asset, created_at)
        SELECT tenant, 'legacy-' || id, id,
               CASE role WHEN 'admin' THEN (CASE WHEN tenant = 'default' THEN 'platform-admin' ELSE 'tenant-admin' END)
                         WHEN 'operator' THEN 'engineer' ELSE 'viewer' END,
               NULL, created_at
          FROM users;
      ALTER TABLE users DROP COLUMN role;
    `,
  },
  {
    version: 6,
    name: 'sign-in hardening: disabled users, failed sign-ins and lockout, idle session expiry',
    sql: `
      ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN locked_until INTEGER;
      ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
      CREATE INDEX tokens_by_user ON tokens (user_id);
    `,
  },
  {
    version: 7,
    name: 'audit event log: append-only, hash-chained per tenant, with retention anchors',
    sql: `
      CREATE TABLE audit_events (
        tenant TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        result TEXT NOT NULL CHECK (result IN ('ok', 'denied', 'failed')),
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (tenant, seq)
      ) WITHOUT ROWID;
      CREATE INDEX audit_events_by_ts ON audit_events (tenant, ts);
      CREATE TABLE audit_anchors (
        tenant TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'second factor (TOTP), service accounts and their API tokens',
    sql: `
      ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service'));
      ALTER TABLE users ADD COLUMN totp_secret TEXT;
      ALTER TABLE users ADD COLUMN totp_pending TEXT;
      ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
    `,
  },
  {
    version: 9,
    name: 'device events: what devices announced, per tenant with a seq that is never reused',
    // device_event_seqs keeps each tenant's last seq, so deleting the newest events (a device, retention) does
    // not hand their seqs out again.
    sql: `
      CREATE TABLE device_events (
        tenant TEXT NOT NULL,
        seq INTEGER NOT NULL,
        device TEXT NOT NULL,
        event TEXT NOT NULL,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('info', 'warn', 'alert')),
        data TEXT NOT NULL,
        PRIMARY KEY (tenant, seq)
      ) WITHOUT ROWID;
      CREATE INDEX device_events_by_device ON device_events (tenant, device, ts);
      CREATE INDEX device_events_by_ts ON device_events (tenant, ts);
      CREATE TABLE device_event_seqs (
        tenant TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 10,
    name: 'rules and alarms: rule documents, their evaluation state per device, alarms and their history',
    // alarms_one_open makes "at most one open alarm per (tenant, rule, device)" the schema's rule, so two
    // processes on one file cannot both open one. alarm_history_seqs keeps each tenant's last history seq
    // (as device_event_seqs does), so a seq is never handed out twice.
    sql: `
      CREATE TABLE rules (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
      ) WITHOUT ROWID;
      CREATE TABLE rule_states (
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        device TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (tenant, rule, device)
      ) WITHOUT ROWID;
      CREATE TABLE alarms (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        rule TEXT NOT NULL,
        device TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        state TEXT NOT NULL,
        open INTEGER NOT NULL CHECK (open IN (0, 1)),
        raised_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX alarms_one_open ON alarms (tenant, rule, device) WHERE open = 1;
      CREATE INDEX alarms_newest ON alarms (tenant, raised_at, id);
      CREATE TABLE alarm_history (
        tenant TEXT NOT NULL,
        seq INTEGER NOT NULL,
        alarm TEXT NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        user_name TEXT,
        comment TEXT,
        isa_state TEXT NOT NULL,
        PRIMARY KEY (tenant, seq)
      ) WITHOUT ROWID;
      CREATE INDEX alarm_history_by_alarm ON alarm_history (tenant, alarm, seq);
      CREATE INDEX alarm_history_by_ts ON alarm_history (tenant, ts);
      CREATE TABLE alarm_history_seqs (
        tenant TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    name: 'array series: kind a (JSON text in the str column, never rolled up)',
    // SQLite cannot change a CHECK constraint, so series is rebuilt (the documented create-copy-drop-rename
    // procedure). Ids are copied as they are, and the AUTOINCREMENT counter is carried over by hand: dropping
    // the old table drops its sqlite_sequence row, and ids of deleted series must never be handed out again.
    // Nothing refers to series by foreign key, so the drop needs no foreign-key dance.
    sql: `
      CREATE TABLE series_v11 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        device TEXT NOT NULL,
        property TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('n', 'b', 's', 'a')),
        UNIQUE (tenant, device, property)
      );
      INSERT INTO series_v11 (id, tenant, device, property, kind) SELECT id, tenant, device, property, kind FROM series;
      DELETE FROM sqlite_sequence WHERE name = 'series_v11';
      INSERT INTO sqlite_sequence (name, seq)
        SELECT 'series_v11', coalesce(max(seq), 0)
          FROM (SELECT seq FROM sqlite_sequence WHERE name = 'series' UNION ALL SELECT max(id) FROM series_v11);
      DROP TABLE series;
      ALTER TABLE series_v11 RENAME TO series;
    `,
  },
  {
    version: 12,
    name: 'rollup fold marks (issue 20): raw points before a series\' mark are in the rollups, later ones are folded later',
    // Every point stored so far was rolled up when it was written: each series' mark is just past its newest point.
    sql: `
      CREATE TABLE rollup_fold (
        series INTEGER PRIMARY KEY,
        folded_to INTEGER NOT NULL
      );
      INSERT INTO rollup_fold (series, folded_to) SELECT series, ts + 1 FROM latest;
    `,
  },
  {
    version: 13,
    name: 'rule-action outbox (issue 13): jobs to carry out with their leases and retries, and each tenant\'s webhook signing secret',
    // action_jobs_due holds only pending jobs, in the order claimDue takes them, so a claim reads the first due
    // ones and stops, however many done and dead jobs wait for the purge. action_jobs_newest serves list (newest
    // first per tenant), action_jobs_finished the purge of done and dead jobs by age.
    sql: `
      CREATE TABLE action_jobs (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        rule TEXT NOT NULL,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
        attempts INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_error TEXT,
        lease_until INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
      ) WITHOUT ROWID;
      CREATE INDEX action_jobs_due ON action_jobs (due_at, created_at, tenant, id) WHERE state = 'pending';
      CREATE INDEX action_jobs_newest ON action_jobs (tenant, created_at, id);
      CREATE INDEX action_jobs_finished ON action_jobs (updated_at) WHERE state IN ('done', 'dead');
      CREATE TABLE action_signing_secrets (
        tenant TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 14,
    name: 'alarm source kind: an alarm\'s device column names a device, or the asset of a rule over that asset\'s devices',
    // Every alarm stored so far is a device's. alarms_one_open stays on (tenant, rule, device): an asset alarm keeps
    // the asset id in device, so "one open alarm per (tenant, rule, device)" holds for it as it is.
    sql: `
      ALTER TABLE alarms ADD COLUMN source TEXT NOT NULL DEFAULT 'device' CHECK (source IN ('device', 'asset'));
    `,
  },
  {
    version: 15,
    name: 'raw_stage: recent raw points by time bucket, moved into raw a minute of buckets at a time (raw-stage.ts)',
    // raw_all is what SQL written by hand (and the tests) reads: every raw point wherever it is stored now.
    sql: `
      CREATE TABLE raw_stage (
        bucket INTEGER NOT NULL,
        series INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        num REAL,
        str TEXT,
        PRIMARY KEY (bucket, series, ts)
      ) WITHOUT ROWID;
      CREATE VIEW raw_all AS
        SELECT series, ts, num, str FROM raw UNION ALL SELECT series, ts, num, str FROM raw_stage;
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
