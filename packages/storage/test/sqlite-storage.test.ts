/**
 * Runs the shared storage conformance suite (@iip/testkit: registry, users, telemetry, gateways, audit)
 * against the embedded SQLite adapter, on real files, plus the checks only the SQLite file has.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStorage } from '@iip/storage';
import type { Storage } from '@iip/storage';
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
    assert.deepEqual(versions.map((v) => v.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
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
