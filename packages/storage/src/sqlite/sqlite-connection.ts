/**
 * Connection settings of the embedded file, shared by the main connection and the telemetry writer thread's. WAL
 * lets readers run beside the writer; synchronous=NORMAL is safe in WAL mode (a power cut may lose the last
 * transactions, never corrupt the file; a killed process loses nothing committed). A checkpoint every ~40 MiB of
 * WAL instead of SQLite's 4 MiB: a checkpoint copies pages into the file and fsyncs, and fewer, larger ones copy a
 * hot page once instead of many times; afterwards the WAL file is cut back to 64 MiB.
 *
 * With the telemetry writer thread, a checkpointer thread copies the WAL into the file in the background
 * (telemetry-checkpoint-worker.ts), so that the checkpoint the writer's commit triggers at AUTO_CHECKPOINT_PAGES only
 * finishes what is left — and the WAL starts over — instead of stalling the writes behind it (issue 20).
 */
import type Database from 'better-sqlite3';

/** WAL pages after which a committing connection checkpoints (SQLite's wal_autocheckpoint). */
export const AUTO_CHECKPOINT_PAGES = 10_000;

export function configureConnection(db: Database.Database, cacheMiB = 64, autoCheckpointPages = AUTO_CHECKPOINT_PAGES): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // The page cache keeps the hot B-tree pages of raw and rollup in memory during ingest.
  db.pragma(`cache_size = -${Math.round(cacheMiB * 1024)}`);
  db.pragma('temp_store = MEMORY');
  db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(autoCheckpointPages))}`);
  db.pragma('journal_size_limit = 67108864');
}
