/**
 * Runs the shared storage conformance suite (@iip/testkit: registry, users, telemetry, gateways, audit)
 * against the embedded SQLite adapter, on real files, plus the checks only the SQLite file has.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openSqliteStorage } from '@iip/storage';
import type { Storage } from '@iip/storage';
import type { DeviceId, TenantId } from '@iip/core';
import { runStorageConformance, tempDir } from '@iip/testkit';

runStorageConformance('sqlite', async () => {
  const dir = await tempDir('iip-storage-');
  const file = join(dir.path, 'iip.db');
  let storage: Storage = openSqliteStorage({ file });
  return {
    get storage() {
      return storage;
    },
    reopen: async () => {
      await storage.close();
      storage = openSqliteStorage({ file });
      return storage;
    },
    cleanup: async () => {
      await storage.close();
      await dir.cleanup();
    },
  };
});

it('sqlite: opens in WAL mode with foreign keys and records its schema version', async () => {
  const dir = await tempDir('iip-storage-');
  try {
    const file = join(dir.path, 'iip.db');
    await openSqliteStorage({ file }).close();
    await openSqliteStorage({ file }).close(); // a second open must not re-run migrations
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
    assert.deepEqual(versions.map((v) => v.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    db.close();
  } finally {
    await dir.cleanup();
  }
});

it('sqlite: refuses a file migrated by a newer version', async () => {
  const dir = await tempDir('iip-storage-');
  try {
    const file = join(dir.path, 'iip.db');
    await openSqliteStorage({ file }).close();
    const db = new Database(file);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();
    assert.throws(() => openSqliteStorage({ file }), (e: unknown) => (e as { code?: string }).code === 'IIP_ERR_STORAGE_SCHEMA_TOO_NEW');
  } finally {
    await dir.cleanup();
  }
});

/**
 * What an upgrade meets: a file migrated to the newest version, then turned back by `undo` (SQL on its own
 * connection, which `old` may look at before it closes), opened again, and handed to `check` with a raw connection
 * of its own to look at the schema.
 */
async function afterUpgrade(
  undo: string,
  old: ((db: Database.Database) => void) | null,
  check: (storage: Storage, db: Database.Database) => Promise<void>,
): Promise<void> {
  const dir = await tempDir('iip-storage-');
  try {
    const file = join(dir.path, 'iip.db');
    await openSqliteStorage({ file }).close();
    const before = new Database(file);
    try {
      before.exec(undo);
      old?.(before);
    } finally {
      before.close();
    }
    const storage = openSqliteStorage({ file });
    const db = new Database(file);
    try {
      await check(storage, db);
    } finally {
      db.close();
      await storage.close();
    }
  } finally {
    await dir.cleanup();
  }
}

const lastVersion = (db: Database.Database) => (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number }).v;

it('sqlite: migration 11 (issue 19, array series) rebuilds series keeping ids, kinds and the AUTOINCREMENT counter', () =>
  // Turn the file back into what version 10 left: series with the old CHECK, three series of which the
  // newest two were deleted (so the counter stands above the largest id), a raw point and a latest value.
  afterUpgrade(
    `
      DELETE FROM schema_migrations WHERE version >= 11;
      DROP VIEW raw_all;
      DROP TABLE raw_stage;
      ALTER TABLE alarms DROP COLUMN source;
      DROP TABLE rollup_fold;
      DROP TABLE action_jobs;
      DROP TABLE action_signing_secrets;
      DROP TABLE series;
      CREATE TABLE series (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        device TEXT NOT NULL,
        property TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('n', 'b', 's')),
        UNIQUE (tenant, device, property)
      );
      INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd1', 'temp', 'n'), ('acme', 'd1', 'mode', 's');
      INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd2', 'x', 'n'), ('acme', 'd3', 'y', 'b');
      DELETE FROM series WHERE id IN (3, 4);
      INSERT INTO raw (series, ts, num, str) VALUES (1, 1000, 21.5, NULL);
      INSERT INTO latest (series, ts, num, str) VALUES (1, 1000, 21.5, NULL);
    `,
    (old) => {
      assert.throws(() => old.prepare("INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd9', 'w', 'a')").run(), /CHECK/);
      assert.equal((old.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'series'").get() as { seq: number }).seq, 4);
    },
    async (storage, db) => {
      const t = storage.telemetry;
      const acme = 'acme' as TenantId;
      assert.deepEqual(await t.listSeries(acme, 'd1' as DeviceId), [
        { id: 2, property: 'mode', kind: 's' },
        { id: 1, property: 'temp', kind: 'n' },
      ]);
      assert.deepEqual(await t.raw(1, 0, 2000, 10), [{ series: 1, ts: 1000, num: 21.5, str: null }]);
      // The ids of the deleted series (3, 4) are not handed out again, and kind a is allowed now.
      const wave = await t.seriesId({ tenant: acme, device: 'd9' as DeviceId, property: 'waveform' }, 'a');
      assert.equal(wave, 5);
      await t.write([{ series: wave, ts: 1000, num: null, str: '[0.1,0.4,-0.2]' }]);
      assert.deepEqual(await t.latest([wave]), [{ series: wave, ts: 1000, num: null, str: '[0.1,0.4,-0.2]' }]);
      // Another kind is still refused by the schema itself.
      assert.throws(() => db.prepare("INSERT INTO series (tenant, device, property, kind) VALUES ('acme', 'd9', 'z', 'q')").run(), /CHECK/);
      assert.equal(lastVersion(db), 15);
    },
  ));

it('sqlite: migration 14 (alarm source kinds) makes every stored alarm a device\'s and allows only device and asset', () =>
  // Back to what version 13 left: alarms without a source column, one open alarm stored under it.
  afterUpgrade(
    `
      DELETE FROM schema_migrations WHERE version >= 14;
      DROP VIEW raw_all;
      DROP TABLE raw_stage;
      ALTER TABLE alarms DROP COLUMN source;
      INSERT INTO alarms (tenant, id, rule, device, severity, message, state, open, raised_at, updated_at, version)
        VALUES ('acme', 'a1', 'r1', 'd1', 'high', 'm', '{"isa":"unacked"}', 1, 1000, 1000, 1);
    `,
    null,
    async (storage, db) => {
      const acme = 'acme' as TenantId;
      const a = await storage.alarms.getAlarm(acme, 'a1');
      assert.equal(a?.source, 'device');
      assert.deepEqual(await storage.alarms.openAlarm(acme, 'r1', 'd1' as DeviceId), a);
      assert.throws(() => db.prepare("UPDATE alarms SET source = 'gateway' WHERE id = 'a1'").run(), /CHECK/);
      assert.equal(lastVersion(db), 15);
    },
  ));

/**
 * Claims from two threads, each with its own connection to one file — what two platform processes do. The worker
 * starts from a module that registers tsx's loader first (as telemetry-write-thread.ts does: a worker thread does
 * not inherit it), and both wait for each other before claiming, so their claims overlap.
 */
const CLAIMANT = `
import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
const { parentPort, workerData } = await import('node:worker_threads');
const { openSqliteStorage } = await import(${JSON.stringify(import.meta.resolve('@iip/storage'))});
const s = openSqliteStorage({ file: workerData.file, writerThread: false });
const ready = new Int32Array(workerData.ready);
Atomics.add(ready, 0, 1);
while (Atomics.load(ready, 0) < 2) Atomics.wait(ready, 0, 1, 5);
const got = [];
for (;;) {
  const claimed = await s.actions.claimDue(['webhook'], 1000, 60000, 3);
  if (claimed.length === 0) break;
  got.push(...claimed.map((j) => j.tenant + '/' + j.id));
  // Carrying the jobs out takes a while, and meanwhile the other claims.
  await new Promise((r) => setTimeout(r, 1));
}
await s.close();
parentPort.postMessage(got);
`;

it('sqlite: rule-action jobs claimed by two connections to one file (two threads) go each to exactly one', async () => {
  const dir = await tempDir('iip-storage-');
  try {
    const file = join(dir.path, 'iip.db');
    const s = openSqliteStorage({ file, writerThread: false });
    const jobs = Array.from({ length: 300 }, (_, i) => ({
      tenant: (i % 3 ? 'acme' : 'globex') as TenantId,
      id: `job-${String(i).padStart(3, '0')}`,
      rule: 'r1',
      device: 'd1' as DeviceId,
      kind: 'webhook',
      payload: { i },
      dueAt: i % 7,
    }));
    assert.equal(await s.actions.enqueue(jobs, 1), 300);
    await s.close();
    const ready = new SharedArrayBuffer(4);
    const run = () =>
      new Promise<string[]>((resolve, reject) => {
        const w = new Worker(CLAIMANT, { eval: true, workerData: { file, ready } });
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`claimant exited with ${code}`))));
      });
    const [a, b] = await Promise.all([run(), run()]);
    const taken = [...a, ...b];
    assert.equal(new Set(taken).size, taken.length, 'no job claimed twice');
    assert.deepEqual(taken.sort(), jobs.map((j) => `${j.tenant}/${j.id}`).sort());
    assert.ok(a.length > 0 && b.length > 0, `both claimed some (${a.length} / ${b.length})`);
  } finally {
    await dir.cleanup();
  }
});
