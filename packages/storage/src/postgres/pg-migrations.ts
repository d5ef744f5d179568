/**
 * Versioned schema of the PostgreSQL adapter. Each migration runs once, in its own transaction, and is recorded
 * in `schema_migrations`; a released migration is never edited, only followed by a new one. Migrating happens
 * under a session advisory lock, so N processes starting together against one database migrate it once: the
 * first takes the lock and migrates, the others wait, then find nothing left to do.
 *
 * Identifier columns use the "C" collation, so ORDER BY id gives the byte order the SQLite adapter gives,
 * whatever locale the database was created with.
 */
import { IipError } from '@iip/core';
import type { PgDb } from './pg-db.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry, users, telemetry (partitioned raw), gateways, audit',
    sql: `
      CREATE TABLE tenants (
        id text COLLATE "C" PRIMARY KEY,
        name text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE products (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        category text NOT NULL,
        model text NOT NULL,
        version integer NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE TABLE devices (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        product text COLLATE "C" NOT NULL,
        name text NOT NULL,
        secret_hash text NOT NULL,
        attributes text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (tenant, id),
        FOREIGN KEY (tenant, product) REFERENCES products (tenant, id) ON DELETE RESTRICT
      );
      CREATE INDEX devices_by_product ON devices (tenant, product, id);

      CREATE TABLE users (
        id text COLLATE "C" PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL UNIQUE,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        created_at bigint NOT NULL
      );
      CREATE TABLE tokens (
        token_hash text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        tenant text COLLATE "C" NOT NULL,
        expires_at bigint NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX tokens_by_expiry ON tokens (expires_at);
      CREATE INDEX tokens_by_user ON tokens (user_id);

      -- An identity never hands a deleted series' id out again: a writer still holding the old id must not
      -- land points in somebody else's series. raw/rollup/latest carry no foreign key to series (a lookup per
      -- point on the hot path); deleteDevice removes them explicitly.
      CREATE TABLE series (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        device text COLLATE "C" NOT NULL,
        property text COLLATE "C" NOT NULL,
        kind text NOT NULL CHECK (kind IN ('n', 'b', 's')),
        UNIQUE (tenant, device, property)
      );
      -- Raw points, range-partitioned by ts (epoch ms), one partition per UTC day, created ahead and on
      -- demand (see pg-partitions.ts). The primary key is the B-tree on (series, ts) every read uses; the
      -- BRIN index on ts is tiny and serves time-only scans (retention checks, exports).
      CREATE TABLE raw (
        series bigint NOT NULL,
        ts bigint NOT NULL,
        num double precision,
        str text,
        PRIMARY KEY (series, ts)
      ) PARTITION BY RANGE (ts);
      CREATE INDEX raw_ts_brin ON raw USING brin (ts);
      CREATE TABLE rollup (
        level bigint NOT NULL,
        series bigint NOT NULL,
        bucket bigint NOT NULL,
        vmin double precision NOT NULL,
        vmax double precision NOT NULL,
        vsum double precision NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (level, series, bucket)
      );
      CREATE TABLE latest (
        series bigint PRIMARY KEY,
        ts bigint NOT NULL,
        num double precision,
        str text
      );

      CREATE TABLE gateway_configs (
        tenant text COLLATE "C" NOT NULL,
        gateway text COLLATE "C" NOT NULL,
        version integer NOT NULL,
        config text NOT NULL,
        created_at bigint NOT NULL,
        created_by text NOT NULL,
        PRIMARY KEY (tenant, gateway, version)
      );
      CREATE TABLE gateway_states (
        tenant text COLLATE "C" NOT NULL,
        gateway text COLLATE "C" NOT NULL,
        applied_version integer,
        state text NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (tenant, gateway)
      );
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        ts bigint NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        device text COLLATE "C" NOT NULL,
        property text,
        old_value text,
        new_value text,
        result text NOT NULL CHECK (result IN ('ok', 'error')),
        error text
      );
      CREATE INDEX audit_by_tenant ON audit_log (tenant, id);
      CREATE INDEX audit_by_device ON audit_log (tenant, device, id);
    `,
  },
  {
    version: 2,
    name: 'tenant policies (retention and quotas)',
    sql: `
      CREATE TABLE tenant_policies (
        tenant text COLLATE "C" PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        policy jsonb NOT NULL,
        updated_at bigint NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'tenant status, asset tree, device placement, custom roles, grants (users\' roles become grants)',
    // The references between these tables (a parent in the tenant, a placement or a grant on an asset of the
    // tenant) are checked by the access store inside its transactions, serialised per tenant by an advisory
    // lock (LOCK_ACCESS); a UNIQUE over a nullable column treats NULLs as distinct, so the tenant-wide grant
    // (asset NULL) has its own partial unique index.
    sql: `
      ALTER TABLE tenants ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'));
      ALTER TABLE tenants ADD COLUMN suspended_reason text;
      ALTER TABLE devices ADD COLUMN asset text COLLATE "C";
      CREATE INDEX devices_by_asset ON devices (tenant, asset);
      CREATE TABLE assets (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        parent text COLLATE "C",
        level text NOT NULL CHECK (level IN ('enterprise', 'site', 'area', 'line', 'cell')),
        name text NOT NULL,
        name_zh text,
        created_at bigint NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX assets_by_parent ON assets (tenant, parent);
      CREATE TABLE roles (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        permissions text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE TABLE grants (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        role text COLLATE "C" NOT NULL,
        asset text COLLATE "C",
        created_at bigint NOT NULL,
        PRIMARY KEY (tenant, id),
        UNIQUE (tenant, user_id, role, asset)
      );
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
    version: 4,
    name: 'sign-in hardening: disabled users, failed sign-ins and lockout, idle session expiry',
    sql: `
      ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
      ALTER TABLE users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN locked_until bigint;
      ALTER TABLE tokens ADD COLUMN last_used_at bigint;
    `,
  },
  {
    version: 5,
    name: 'audit event log: append-only, hash-chained per tenant, with retention anchors',
    sql: `
      CREATE TABLE audit_events (
        tenant text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        ts bigint NOT NULL,
        actor text NOT NULL,
        source text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        result text NOT NULL CHECK (result IN ('ok', 'denied', 'failed')),
        details text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (tenant, seq)
      );
      CREATE INDEX audit_events_by_ts ON audit_events (tenant, ts);
      CREATE TABLE audit_anchors (
        tenant text COLLATE "C" PRIMARY KEY,
        seq bigint NOT NULL,
        hash text NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'second factor (TOTP), service accounts and their API tokens',
    sql: `
      ALTER TABLE users ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service'));
      ALTER TABLE users ADD COLUMN totp_secret text;
      ALTER TABLE users ADD COLUMN totp_pending text;
      ALTER TABLE users ADD COLUMN totp_last_step bigint;
      CREATE TABLE api_tokens (
        id text COLLATE "C" PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL,
        scopes text NOT NULL,
        expires_at bigint NOT NULL,
        created_at bigint NOT NULL,
        last_used_at bigint
      );
      CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
    `,
  },
  {
    version: 7,
    name: 'device events: what devices announced, per tenant with a seq that is never reused',
    // device_event_seqs keeps each tenant's last seq: an append updates the tenant's row, whose row lock
    // serialises the tenant's appends (pg-device-events.ts), and deleting the newest events (a device,
    // retention) does not hand their seqs out again.
    sql: `
      CREATE TABLE device_events (
        tenant text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        device text COLLATE "C" NOT NULL,
        event text COLLATE "C" NOT NULL,
        ts bigint NOT NULL,
        received_at bigint NOT NULL,
        level text NOT NULL CHECK (level IN ('info', 'warn', 'alert')),
        data text NOT NULL,
        PRIMARY KEY (tenant, seq)
      );
      CREATE INDEX device_events_by_device ON device_events (tenant, device, ts);
      CREATE INDEX device_events_by_ts ON device_events (tenant, ts);
      CREATE TABLE device_event_seqs (
        tenant text COLLATE "C" PRIMARY KEY,
        seq bigint NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'rules and alarms: rule documents, their evaluation state per device, alarms and their history',
    // JSON as text, so documents and states round-trip exactly. alarms_one_open makes "at most one open alarm
    // per (tenant, rule, device)" the schema's rule: of two processes opening one, the second gets a unique
    // violation once the first commits. alarm_history_seqs works as device_event_seqs (pg-alarm-store.ts).
    sql: `
      CREATE TABLE rules (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        version integer NOT NULL,
        doc text NOT NULL,
        enabled boolean NOT NULL,
        updated_at bigint NOT NULL,
        updated_by text NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE TABLE rule_states (
        tenant text COLLATE "C" NOT NULL,
        rule text COLLATE "C" NOT NULL,
        device text COLLATE "C" NOT NULL,
        state text NOT NULL,
        PRIMARY KEY (tenant, rule, device)
      );
      CREATE TABLE alarms (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        rule text COLLATE "C" NOT NULL,
        device text COLLATE "C" NOT NULL,
        severity text NOT NULL,
        message text NOT NULL,
        state text NOT NULL,
        open boolean NOT NULL,
        raised_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        version integer NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE UNIQUE INDEX alarms_one_open ON alarms (tenant, rule, device) WHERE open;
      CREATE INDEX alarms_newest ON alarms (tenant, raised_at, id);
      CREATE TABLE alarm_history (
        tenant text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        alarm text COLLATE "C" NOT NULL,
        ts bigint NOT NULL,
        type text NOT NULL,
        user_name text,
        comment text,
        isa_state text NOT NULL,
        PRIMARY KEY (tenant, seq)
      );
      CREATE INDEX alarm_history_by_alarm ON alarm_history (tenant, alarm, seq);
      CREATE INDEX alarm_history_by_ts ON alarm_history (tenant, ts);
      CREATE TABLE alarm_history_seqs (
        tenant text COLLATE "C" PRIMARY KEY,
        seq bigint NOT NULL
      );
    `,
  },
  {
    version: 9,
    name: 'array series: kind a (JSON text in the str column, never rolled up)',
    // The CHECK was declared inline in version 1, so PostgreSQL named it series_kind_check.
    sql: `
      ALTER TABLE series DROP CONSTRAINT series_kind_check;
      ALTER TABLE series ADD CONSTRAINT series_kind_check CHECK (kind IN ('n', 'b', 's', 'a'));
    `,
  },
  {
    version: 10,
    name: 'rule-action outbox (issue 13): jobs to carry out with their leases and retries, and each tenant\'s webhook signing secret',
    // Payloads as JSON text, so they round-trip exactly (as rule documents do). action_jobs_due holds only pending
    // jobs, in the order claimDue takes them, so a claim reads the first due ones and stops however many done and
    // dead jobs wait for the purge. action_jobs_newest serves list, action_jobs_finished the purge by age.
    sql: `
      CREATE TABLE action_jobs (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        rule text COLLATE "C" NOT NULL,
        device text COLLATE "C" NOT NULL,
        kind text COLLATE "C" NOT NULL,
        payload text NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
        attempts integer NOT NULL,
        due_at bigint NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        last_error text,
        lease_until bigint NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX action_jobs_due ON action_jobs (due_at, created_at, tenant, id) WHERE state = 'pending';
      CREATE INDEX action_jobs_newest ON action_jobs (tenant, created_at, id);
      CREATE INDEX action_jobs_finished ON action_jobs (updated_at) WHERE state IN ('done', 'dead');
      CREATE TABLE action_signing_secrets (
        tenant text COLLATE "C" PRIMARY KEY,
        secret text NOT NULL,
        created_at bigint NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: 'alarm source kind: an alarm\'s device column names a device, or the asset of a rule over that asset\'s devices',
    // Every alarm stored so far is a device's; a constant default adds the column without rewriting the table.
    // alarms_one_open stays on (tenant, rule, device): an asset alarm keeps the asset id in device, so "one open
    // alarm per (tenant, rule, device)" holds for it as it is.
    sql: `
      ALTER TABLE alarms ADD COLUMN source text NOT NULL DEFAULT 'device' CONSTRAINT alarms_source_check CHECK (source IN ('device', 'asset'));
    `,
  },
];

export const PG_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Session advisory lock keys (database-local): schema migrations, raw partition creation, retention. */
export const LOCK_MIGRATE = 0x69_69_70_00_01;
export const LOCK_PARTITIONS = 0x69_69_70_00_02;
export const LOCK_RETENTION = 0x69_69_70_00_03;
/** The handle store: its migrations, and the write lock that keeps its transaction log gap-free and ordered. */
export const LOCK_HANDLE_MIGRATE = 0x69_69_70_00_04;
export const LOCK_HANDLE_WRITE = 0x69_69_70_00_05;
/**
 * Transaction advisory lock class (the first key of the two-int form, a key space apart from the single-key
 * locks above) of a tenant's access writes; the second key is hashtext(tenant). Asset-tree changes, placements,
 * grants, role deletes and tenant deletes of one tenant take it, so their checks and writes never interleave.
 */
export const LOCK_ACCESS = 0x69_69_70_10;
/** Per-tenant lock (with the tenant's hashtext as second key) of the audit event chain. */
export const LOCK_AUDIT = 0x69_69_70_11;

/**
 * Brings the database up to PG_SCHEMA_VERSION under the migration lock; refuses a database written by a newer
 * schema. Returns the versions it applied (empty when another process had done it).
 */
export function migratePostgres(db: PgDb, where: string): Promise<number[]> {
  return migrateSchema(db, where, { table: 'schema_migrations', lockKey: LOCK_MIGRATE, migrations: MIGRATIONS });
}

/** The migration procedure for one schema (the storage's, or the handle store's with its own table and lock). */
export async function migrateSchema(
  db: PgDb,
  where: string,
  schema: { readonly table: string; readonly lockKey: number; readonly migrations: readonly Migration[] },
): Promise<number[]> {
  const known = schema.migrations[schema.migrations.length - 1]?.version ?? 0;
  return db.withClient(async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [schema.lockKey]);
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS ${schema.table} (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at bigint NOT NULL
      )`);
      const { rows } = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${schema.table}`);
      const current = rows[0]?.v ?? 0;
      if (current > known) {
        throw new IipError(
          'IIP_ERR_STORAGE_SCHEMA_TOO_NEW',
          `${where} has schema version ${current} (${schema.table}), this iip knows only up to ${known}`,
          { database: where, table: schema.table, found: current, supported: known },
        );
      }
      const applied: number[] = [];
      for (const m of schema.migrations) {
        if (m.version <= current) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query(`INSERT INTO ${schema.table} (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [schema.lockKey]).catch(() => undefined);
    }
  });
}
