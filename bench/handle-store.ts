/**
 * Layout measurement behind ADR 0004: N handles (default 1,000,000; HANDLES=… to change) written in
 * batched transactions, then random gets, for the HandleStore (WITHOUT ROWID table keyed by the normalized
 * handle, values packed in one blob, txlog appended in the same transaction) against a baseline in the same
 * run: a plain rowid table with a UNIQUE index on the key (two B-tree descents per get) and no txlog.
 * Prints inserts/s, gets/s and bytes per handle for both.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type StoredHandleValue, openSqliteHandleStore } from '@iip/storage';

const N = Number(process.env.HANDLES ?? 1_000_000);
const BATCH = 10_000;
const GETS = 200_000;
const perms = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };
const enc = new TextEncoder();

/** The two values every bench handle carries (also used by bench/resolve.ts). */
export function valuesFor(i: number): StoredHandleValue[] {
  return [
    { index: 1, type: 'URL', data: enc.encode(`https://iip.example/things/${i}`), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms },
    { index: 2001, type: 'SERIAL', data: enc.encode(`SN-${i.toString(36)}`), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms },
  ];
}

function fileBytes(file: string): number {
  return statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
}

function randomKeys(): string[] {
  const keys: string[] = [];
  let seed = 7;
  for (let k = 0; k < GETS; k++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    keys.push(`88.118.8/pump-${seed % N}`);
  }
  return keys;
}

async function storeRun(dir: string): Promise<{ insert: number; get: number; rawGet: number; bytes: number; logBytes: number }> {
  const file = join(dir, 'store.db');
  const store = openSqliteHandleStore({ file });
  let t = performance.now();
  for (let s = 0; s < N; s += BATCH) {
    await store.transaction(async (tx) => {
      for (let i = s; i < Math.min(N, s + BATCH); i++) await tx.create(`88.118.8/pump-${i}`, { handle: `88.118.8/pump-${i}`, values: valuesFor(i) });
    });
  }
  const insert = N / ((performance.now() - t) / 1000);
  const keys = randomKeys();
  t = performance.now();
  for (const k of keys) if (!(await store.get(k))) throw new Error(`missing ${k}`);
  const get = GETS / ((performance.now() - t) / 1000);
  await store.close();
  const db = new Database(file);
  // The layout alone: the same SELECT the store runs, without decoding the blob into value objects.
  const raw = db.prepare('SELECT name, vals FROM handles WHERE key = ?').raw();
  t = performance.now();
  for (const k of keys) if (!raw.get(k)) throw new Error(`missing ${k}`);
  const rawGet = GETS / ((performance.now() - t) / 1000);
  const logBytes = (db.prepare('SELECT sum(length(body)) + count(*) * 40 AS b FROM txlog').get() as { b: number }).b;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { insert, get, rawGet, bytes: fileBytes(file), logBytes };
}

function baselineRun(dir: string): { insert: number; get: number; bytes: number } {
  const file = join(dir, 'baseline.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE h (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, vals BLOB NOT NULL)');
  const ins = db.prepare('INSERT INTO h (key, vals) VALUES (?, ?)');
  const sel = db.prepare('SELECT vals FROM h WHERE key = ?').raw();
  // The same bytes as the store's blob, so only the layout differs.
  const blob = (i: number) => Buffer.from(JSON.stringify(valuesFor(i).map((v) => ({ ...v, data: Buffer.from(v.data).toString('base64') }))).slice(0, 110 + String(i).length));
  let t = performance.now();
  const batch = db.transaction((s: number) => {
    for (let i = s; i < Math.min(N, s + BATCH); i++) ins.run(`88.118.8/pump-${i}`, blob(i));
  });
  for (let s = 0; s < N; s += BATCH) batch(s);
  const insert = N / ((performance.now() - t) / 1000);
  const keys = randomKeys();
  t = performance.now();
  for (const k of keys) if (!sel.get(k)) throw new Error(`missing ${k}`);
  const get = GETS / ((performance.now() - t) / 1000);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { insert, get, bytes: fileBytes(file) };
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'iip-bench-hstore-'));
  try {
    const s = await storeRun(dir);
    const b = baselineRun(dir);
    const k = (n: number) => `${Math.round(n / 1000)}k`;
    console.log(`store:    ${N} handles, insert ${k(s.insert)}/s, get ${k(s.get)}/s (raw row ${k(s.rawGet)}/s), ${(s.bytes / N).toFixed(0)} B/handle (txlog ≈ ${(s.logBytes / N).toFixed(0)} B/handle of it)`);
    console.log(`baseline: ${N} rows (rowid + UNIQUE key index, no txlog), insert ${k(b.insert)}/s, get ${k(b.get)}/s, ${(b.bytes / N).toFixed(0)} B/handle`);
    console.log(`handle-store: insert ${k(s.insert)}/s (baseline ${k(b.insert)}, ratio ${(s.insert / b.insert).toFixed(2)}), raw get ${k(s.rawGet)}/s (baseline ${k(b.get)}, ratio ${(s.rawGet / b.get).toFixed(2)}), decoded get ${k(s.get)}/s, ${(s.bytes / N).toFixed(0)} B/handle`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
