/**
 * Picks the storage adapter from one string, as `--storage` / IIP_STORAGE_URL give it: a postgres:// or
 * postgresql:// URL opens PostgreSQL, anything else is the path of the embedded SQLite file.
 */
import type { Storage } from './ports.js';
import { openPostgresStorage } from './postgres/open-postgres-storage.js';
import { openSqliteStorage } from './sqlite/open-sqlite-storage.js';

export function isPostgresUrl(urlOrPath: string): boolean {
  return /^postgres(ql)?:\/\//i.test(urlOrPath);
}

export async function openStorage(urlOrPath: string): Promise<Storage> {
  if (isPostgresUrl(urlOrPath)) return openPostgresStorage({ url: urlOrPath });
  return openSqliteStorage({ file: urlOrPath });
}
