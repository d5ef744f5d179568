/**
 * A throwaway migrated SQLite file with `n` numeric series (ids 1..n of tenant t, devices d0..d(n-1)), for tests and
 * benchmarks that drive the telemetry writer directly; closed and removed afterwards.
 */
import { join } from 'node:path';
import { tempDir } from '@iip/testkit';
import Database from 'better-sqlite3';
import { migrate } from '../src/sqlite/migrations.js';
import { configureConnection } from '../src/sqlite/sqlite-connection.js';

export async function withSeriesFile<T>(n: number, body: (db: Database.Database, file: string) => Promise<T> | T): Promise<T> {
  const dir = await tempDir('iip-series-');
  const file = join(dir.path, 'w.db');
  const db = new Database(file);
  try {
    configureConnection(db);
    migrate(db, file);
    const ins = db.prepare("INSERT INTO series (tenant, device, property, kind) VALUES ('t', ?, 'p', 'n')");
    db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run(`d${i}`);
    })();
    return await body(db, file);
  } finally {
    db.close();
    await dir.cleanup();
  }
}
