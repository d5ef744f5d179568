/**
 * The PostgreSQL adapter against a throwaway PostgreSQL server (one per file, a fresh database per test): the
 * shared storage conformance suite — twice, once with small batches through `unnest` and once with every
 * write through COPY — and what only PostgreSQL has: migrations under an advisory lock, partitions created on
 * demand and dropped for retention, COPY with a large batch, a lost server reported as a code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { DeviceId, TenantId } from '@iip/core';
import { type PostgresStorage, type RawRow, type Storage, openPostgresStorage, openStorage } from '@iip/storage';
import { type PostgresServer, freePort, rejectsIipError, runStorageConformance, startPostgres } from '@iip/testkit';

const started: Promise<PostgresServer> = startPostgres();
after(async () => {
  await (await started).stop();
});

/** A fresh database and a storage on it, with reopen() for the durability case. */
function fixture(copyThreshold?: number) {
  return async () => {
    const url = await (await started).createDatabase();
    const open = () => openPostgresStorage({ url, ...(copyThreshold !== undefined ? { copyThreshold } : {}) });
    let storage: Storage = await open();
    return {
      get storage() {
        return storage;
      },
      reopen: async () => {
        await storage.close();
        storage = await open();
        return storage;
      },
      cleanup: async () => {
        await storage.close();
      },
    };
  };
}

runStorageConformance('postgres', fixture());
runStorageConformance('postgres (every write through COPY)', fixture(1));

const T = 'acme' as TenantId;
const DAY = 86_400_000;
const key = (device: string, property = 'temp') => ({ tenant: T, device: device as DeviceId, property });

async function withDb<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const url = await (await started).createDatabase();
  return fn(url);
}

async function sql<R extends object>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

describe('postgres storage: PostgreSQL-specific behaviour', () => {
  before(async () => {
    await started;
  });

  it('migrates once when several pools open the same empty database at the same time', () =>
    withDb(async (url) => {
      const stores = await Promise.all(Array.from({ length: 6 }, () => openPostgresStorage({ url })));
      try {
        const rows = await sql<{ version: number; n: string }>(url, 'SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
        assert.deepEqual(rows.map((r) => [r.version, Number(r.n)]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1], [8, 1], [9, 1], [10, 1], [11, 1]]);
        // All of them work on the one schema.
        await stores[0]!.registry.createTenant({ id: T, name: 'Acme', createdAt: 1 });
        for (const s of stores) assert.equal((await s.registry.getTenant(T))?.name, 'Acme');
        // And the same series from six processes is one series.
        const ids = await Promise.all(stores.map((s) => s.telemetry.seriesId(key('d1'), 'n')));
        assert.equal(new Set(ids).size, 1);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }));

  it('migration 9 (issue 19, array series) lets series hold kind a and keeps existing series and their ids', () =>
    withDb(async (url) => {
      await (await openPostgresStorage({ url })).close();
      // Back to what version 8 left: the old CHECK (and none of the later tables), and a series stored under it.
      await sql(url, `DELETE FROM schema_migrations WHERE version >= 9;
        DROP TABLE action_jobs, action_signing_secrets;
        ALTER TABLE alarms DROP COLUMN source;
        ALTER TABLE series DROP CONSTRAINT series_kind_check;
        ALTER TABLE series ADD CONSTRAINT series_kind_check CHECK (kind IN ('n', 'b', 's'))`);
      const [{ id }] = (await sql<{ id: string }>(url, "INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd1', 'temp', 'n') RETURNING id")) as [{ id: string }];
      await assert.rejects(() => sql(url, "INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd1', 'w', 'a')"), /series_kind_check/);
      const s = await openPostgresStorage({ url });
      try {
        assert.deepEqual(await s.telemetry.listSeries(T, 'd1' as DeviceId), [{ id: Number(id), property: 'temp', kind: 'n' }]);
        const wave = await s.telemetry.seriesId(key('d1', 'waveform'), 'a');
        assert.ok(wave > Number(id));
        await assert.rejects(() => sql(url, "INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd1', 'z', 'q')"), /series_kind_check/);
      } finally {
        await s.close();
      }
    }));

  it('migration 11 (alarm source kinds) makes every stored alarm a device\'s and allows only device and asset', () =>
    withDb(async (url) => {
      await (await openPostgresStorage({ url })).close();
      // Back to what version 10 left: alarms without a source column, one open alarm stored under it.
      await sql(url, `DELETE FROM schema_migrations WHERE version >= 11;
        ALTER TABLE alarms DROP COLUMN source;
        INSERT INTO alarms (tenant, id, rule, device, severity, message, state, open, raised_at, updated_at, version)
          VALUES ('acme', 'a1', 'r1', 'd1', 'high', 'm', '{"isa":"unacked"}', true, 1000, 1000, 1)`);
      const s = await openPostgresStorage({ url });
      try {
        const a = await s.alarms.getAlarm(T, 'a1');
        assert.equal(a?.source, 'device');
        assert.deepEqual(await s.alarms.openAlarm(T, 'r1', 'd1' as DeviceId), a);
        await assert.rejects(() => sql(url, "UPDATE alarms SET source = 'gateway' WHERE id = 'a1'"), /alarms_source_check/);
        const [{ v }] = (await sql<{ v: number }>(url, 'SELECT max(version) AS v FROM schema_migrations')) as [{ v: number }];
        assert.equal(v, 11);
      } finally {
        await s.close();
      }
    }));

  it('refuses a database migrated by a newer version', () =>
    withDb(async (url) => {
      await (await openPostgresStorage({ url })).close();
      await sql(url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
      await rejectsIipError(() => openPostgresStorage({ url }), 'IIP_ERR_STORAGE_SCHEMA_TOO_NEW', /schema version 999/);
    }));

  it('creates partitions ahead (at open and in its upkeep), and on demand for far past and far future points', () =>
    withDb(async (url) => {
      let now = Date.UTC(2026, 2, 10, 12);
      const s = await openPostgresStorage({ url, now: () => now, partitionDaysAhead: 2 });
      try {
        const names = (await s.listRawPartitions()).map((p) => p.name);
        assert.deepEqual(names, ['raw_20260309', 'raw_20260310', 'raw_20260311', 'raw_20260312']);
        // A day later the platform's upkeep (Storage.maintain) keeps two days ahead.
        now += 86_400_000;
        await s.maintain?.();
        assert.deepEqual((await s.listRawPartitions()).map((p) => p.name).slice(-2), ['raw_20260312', 'raw_20260313']);
        now -= 86_400_000;
        const sid = await s.telemetry.seriesId(key('d1'), 'n');
        const far = [
          { series: sid, ts: 1_000, num: 1, str: null }, // 1970
          { series: sid, ts: Date.UTC(2001, 0, 1), num: 2, str: null },
          { series: sid, ts: Date.UTC(2300, 5, 1, 3), num: 3, str: null },
          { series: sid, ts: Number.MAX_SAFE_INTEGER - 5, num: 4, str: null }, // beyond what Date can show
          { series: sid, ts: -DAY - 1, num: 5, str: null }, // before the epoch
        ];
        assert.deepEqual(await s.telemetry.write(far), { inserted: 5, duplicates: 0 });
        const sorted = [...far].sort((a, b) => a.ts - b.ts);
        assert.deepEqual(await s.telemetry.raw(sid, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 10), sorted);
        const parts = await s.listRawPartitions();
        const all = parts.map((p) => p.name);
        for (const n of ['raw_19700101', 'raw_20010101', 'raw_23000601', 'raw_dm2', `raw_d${Math.floor((Number.MAX_SAFE_INTEGER - 5) / DAY)}`]) {
          assert.ok(all.includes(n), `partition ${n} exists (have ${all.join(', ')})`);
        }
        for (const p of parts) assert.equal(p.to - p.from, DAY, `${p.name} is one day`);
        // Rollup buckets are floored, also before the epoch.
        const minutes = await s.telemetry.rollups(60_000, sid, Number.MIN_SAFE_INTEGER, 0);
        assert.deepEqual(minutes, [{ series: sid, bucket: -DAY - 60_000, min: 5, max: 5, sum: 5, count: 1 }]);
        // Each point landed in the partition of its day.
        const placed = await sql<{ part: string; ts: string }>(url, 'SELECT tableoid::regclass::text AS part, ts FROM raw ORDER BY ts');
        assert.deepEqual(placed.map((r) => r.part), ['raw_dm2', 'raw_19700101', 'raw_20010101', 'raw_23000601', all.at(-1)]);
        // The indexes the design promises: the (series, ts) primary key and BRIN on ts, on every partition.
        const idx = await sql<{ indexdef: string }>(url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'raw_20010101' ORDER BY indexname");
        assert.ok(idx.some((i) => /USING btree \(series, ts\)/.test(i.indexdef)), JSON.stringify(idx));
        assert.ok(idx.some((i) => /USING brin \(ts\)/.test(i.indexdef)), JSON.stringify(idx));
      } finally {
        await s.close();
      }
    }));

  it('drops whole partitions before a cut-off for retention, keeps rollups, and a later write recreates the day', () =>
    withDb(async (url) => {
      const now = Date.UTC(2026, 2, 10, 12);
      const s = await openPostgresStorage({ url, now: () => now, partitionDaysAhead: 1 });
      const other = await openPostgresStorage({ url, now: () => now, partitionDaysAhead: 1 });
      try {
        const sid = await s.telemetry.seriesId(key('d1'), 'n');
        const day0 = Date.UTC(2026, 2, 1);
        const rows: RawRow[] = [];
        for (let d = 0; d < 5; d++) for (let h = 0; h < 24; h += 6) rows.push({ series: sid, ts: day0 + d * DAY + h * 3_600_000, num: d, str: null });
        assert.deepEqual(await s.telemetry.write(rows), { inserted: rows.length, duplicates: 0 });
        // `other` learns about the old partitions by writing into them.
        await other.telemetry.write([{ series: sid, ts: day0 + 1, num: 0, str: null }]);
        const cutoff = day0 + 2 * DAY + 5; // inside day 2: days 0 and 1 go, day 2 stays
        const dropped = await s.dropRawPartitionsBefore(cutoff);
        assert.deepEqual(dropped, ['raw_20260301', 'raw_20260302']);
        assert.deepEqual(await s.dropRawPartitionsBefore(cutoff), [], 'a second run has nothing to do');
        const left = await s.telemetry.raw(sid, 0, Number.MAX_SAFE_INTEGER, 1_000);
        assert.deepEqual(left, rows.filter((r) => r.ts >= day0 + 2 * DAY));
        const daily = await s.telemetry.rollups(DAY, sid, 0, Number.MAX_SAFE_INTEGER);
        assert.equal(daily.length, 5, 'rollups outlive the raw partitions');
        // A process that still believes in the dropped partition writes there: it is created again, nothing is lost.
        const late = { series: sid, ts: day0 + 3_000, num: 7, str: null };
        assert.deepEqual(await other.telemetry.write([late]), { inserted: 1, duplicates: 0 });
        assert.deepEqual(await s.telemetry.raw(sid, day0, day0 + DAY, 10), [late]);
      } finally {
        await s.close();
        await other.close();
      }
    }));

  it('writes 25,000 rows by COPY (straight into raw when all are new, staged when some are stored) with rollups and latest as for small batches', () =>
    withDb(async (url) => {
      const s = await openPostgresStorage({ url });
      try {
        const a = await s.telemetry.seriesId(key('d1'), 'n');
        const b = await s.telemetry.seriesId(key('d2', 'label'), 's');
        const t0 = Date.UTC(2026, 0, 1);
        const rows: RawRow[] = [];
        for (let i = 0; i < 20_000; i++) rows.push({ series: a, ts: t0 + i * 15_000, num: (i % 1_000) / 8, str: null });
        // Strings that need escaping in COPY's text format.
        const odd = ['tab\there', 'new\nline', 'back\\slash', '\\N', 'cr\r', '中文', ''];
        for (let i = 0; i < 5_000; i++) rows.push({ series: b, ts: t0 + i * 1_000, num: null, str: odd[i % odd.length]! });
        const stagingTables = async () =>
          Number((await sql<{ n: string }>(url, "SELECT count(*) AS n FROM pg_class WHERE relname = 'iip_raw_stage' AND relpersistence = 't'"))[0]!.n);
        assert.deepEqual(await s.telemetry.write(rows), { inserted: 25_000, duplicates: 0 });
        // All new: the fast path COPYs straight into raw, no staging table.
        assert.equal(await stagingTables(), 0);
        // The same batch again plus one new point: all duplicates but one. The fast path's COPY fails on the
        // primary key and rolls back; the batch goes through the staging table (a temporary table of the
        // pooled connection that wrote).
        const again = [...rows, { series: a, ts: t0 - 1, num: 1, str: null }];
        assert.deepEqual(await s.telemetry.write(again), { inserted: 1, duplicates: 25_000 });
        assert.equal(await stagingTables(), 1);
        const back = await s.telemetry.raw(b, 0, Number.MAX_SAFE_INTEGER, 10_000);
        assert.deepEqual(back, rows.slice(20_000));
        const n = await s.telemetry.raw(a, 0, Number.MAX_SAFE_INTEGER, 30_000);
        assert.equal(n.length, 20_001);
        assert.deepEqual(n.slice(1), rows.slice(0, 20_000));
        const hours = await s.telemetry.rollups(3_600_000, a, 0, Number.MAX_SAFE_INTEGER);
        assert.equal(hours.reduce((sum, r) => sum + r.count, 0), 20_001);
        assert.deepEqual(await s.telemetry.latest([a, b]), [rows[19_999], rows[24_999]]);
      } finally {
        await s.close();
      }
    }));

  it('rule-action jobs claimed by two processes (two pools, three claimants each) go each to exactly one', () =>
    withDb(async (url) => {
      const [a, b] = await Promise.all([openPostgresStorage({ url }), openPostgresStorage({ url })]);
      try {
        const jobs = Array.from({ length: 300 }, (_, i) => ({
          tenant: (i % 3 ? 'acme' : 'globex') as TenantId,
          id: `job-${String(i).padStart(3, '0')}`,
          rule: 'r1',
          device: 'd1' as DeviceId,
          kind: 'webhook',
          payload: { i },
          dueAt: i % 7,
        }));
        assert.equal(await a.actions.enqueue(jobs, 1), 300);
        const claimant = async (s: Storage): Promise<string[]> => {
          const got: string[] = [];
          for (;;) {
            const claimed = await s.actions.claimDue(['webhook'], 1_000, 60_000, 4);
            if (claimed.length === 0) return got;
            got.push(...claimed.map((j) => `${j.tenant}/${j.id}`));
          }
        };
        const taken = (await Promise.all([a, a, a, b, b, b].map(claimant))).flat();
        assert.equal(new Set(taken).size, taken.length, 'no job claimed twice');
        assert.deepEqual(taken.sort(), jobs.map((j) => `${j.tenant}/${j.id}`).sort());
        assert.deepEqual(await b.actions.counts('acme' as TenantId), { pending: 200, done: 0, dead: 0 });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    }));

  it('opens PostgreSQL for a postgres:// or postgresql:// URL through openStorage', () =>
    withDb(async (url) => {
      for (const u of [url, url.replace(/^postgres:/, 'postgresql:')]) {
        const s = await openStorage(u);
        try {
          await s.registry.createTenant({ id: `t${u.length}` as TenantId, name: 'x', createdAt: 1 });
          const rows = await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM tenants');
          assert.ok(Number(rows[0]!.n) >= 1);
        } finally {
          await s.close();
        }
      }
    }));

  it('reports a server that went away as IIP_ERR_STORAGE_UNAVAILABLE and works again after it is back', async () => {
    // Its own server: this one is stopped and started.
    const own = await startPostgres();
    try {
      const s: PostgresStorage = await openPostgresStorage({ url: own.url, connectTimeoutMs: 2_000 });
      try {
        const sid = await s.telemetry.seriesId(key('d1'), 'n');
        await s.telemetry.write([{ series: sid, ts: 1_000, num: 1, str: null }]);
        await own.kill('SIGINT');
        await rejectsIipError(() => s.telemetry.write([{ series: sid, ts: 2_000, num: 2, str: null }]), 'IIP_ERR_STORAGE_UNAVAILABLE');
        await rejectsIipError(() => s.registry.listTenants(), 'IIP_ERR_STORAGE_UNAVAILABLE');
        await own.restart();
        assert.deepEqual(await s.telemetry.write([{ series: sid, ts: 2_000, num: 2, str: null }]), { inserted: 1, duplicates: 0 });
        assert.equal((await s.telemetry.raw(sid, 0, 10_000, 10)).length, 2);
      } finally {
        await s.close();
      }
    } finally {
      await own.stop();
    }
  });

  it('cannot open an unreachable server or a missing database, and says which', async () => {
    const port = (await started).port;
    const nobody = await freePort();
    await rejectsIipError(
      () => openPostgresStorage({ url: `postgres://postgres@127.0.0.1:${nobody}/iip`, connectTimeoutMs: 2_000 }),
      'IIP_ERR_STORAGE_UNAVAILABLE',
      new RegExp(`127\\.0\\.0\\.1:${nobody}`),
    );
    await rejectsIipError(
      () => openPostgresStorage({ url: `postgres://postgres@127.0.0.1:${port}/no_such_database_here`, connectTimeoutMs: 2_000 }),
      'IIP_ERR_STORAGE_UNAVAILABLE',
      /no_such_database_here/,
    );
  });
});
