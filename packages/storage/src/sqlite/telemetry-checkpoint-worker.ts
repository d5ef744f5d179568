/**
 * The checkpointer thread of the embedded file (issue 20), started beside the telemetry writer thread
 * (telemetry-write-thread.ts). A checkpoint copies the pages committed to the WAL into the database file and
 * fsyncs it; run by the connection whose commit crossed wal_autocheckpoint — the writer thread — it held up every
 * write behind it for 100–170 ms every couple of seconds under ten thousand devices, and each of those stalls was a
 * burst of slow PUBACKs. Here, a PASSIVE checkpoint every CHECKPOINT_EVERY_MS copies what has been committed since
 * the last one, beside the writer (PASSIVE takes no lock a writer or a reader waits for). The writer's own
 * checkpoint at AUTO_CHECKPOINT_PAGES then only has the last few pages to copy, and lets the WAL start over.
 *
 * Nothing depends on this thread for correctness: if it stops, the writer checkpoints by itself as before.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configureConnection } from './sqlite-connection.js';

/** How often the checkpointer copies the WAL into the file. */
export const CHECKPOINT_EVERY_MS = 250;

const { file } = workerData as { file: string };
if (!parentPort) throw new Error('telemetry-checkpoint-worker runs as a worker thread');
const port = parentPort;

const db = new Database(file);
// It never commits, so it never checkpoints on its own; its page cache is not used by a checkpoint.
configureConnection(db, 2, 0);
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (a RESTART or TRUNCATE checkpoint elsewhere) or the like: the next turn copies it.
  }
}, CHECKPOINT_EVERY_MS);

port.on('message', (m: { readonly close?: true }) => {
  if (!m.close) return;
  clearInterval(timer);
  db.close();
  port.close();
});
