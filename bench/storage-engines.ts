/**
 * Engine comparison behind ADR 0002: better-sqlite3 (the embedded default) against DuckDB for the
 * historian's workload — bulk insert of (series, ts, value) points in batches of 10,000 with duplicate
 * suppression and rollups, latest-value upserts, and a one-year trend over rollups versus over raw points.
 * Each engine gets its best idiom (SQLite: prepared statements in one transaction; DuckDB: the appender
 * and set-based SQL), both write real files.
 *
 * DuckDB is not a dependency of iip. To run its half, install it anywhere and point at it:
 *   (mkdir /tmp/duckbench && cd /tmp/duckbench && npm init -y && npm install @duckdb/node-api)
 *   IIP_DUCKDB_MODULE=/tmp/duckbench/node_modules/@duckdb/node-api/lib/index.js node --import tsx bench/storage-engines.ts
 * Without it the DuckDB half is skipped with a message. POINTS=200000 shortens the run. Also runs as
 * `npm run bench -- storage-engines`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { DeviceId, TenantId } from '@iip/core';
import { openSqliteStorage } from '@iip/storage';
import type { RawRow } from '@iip/storage';

const POINTS = Number(process.env.POINTS ?? 1_000_000);
const BATCH = 10_000;
const SERIES = 200;
const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const DAY = 86_400_000;
const LEVELS = [MIN, 60 * MIN, DAY];

/** The subset of @duckdb/node-api used here; typed locally because the package is optional. */
interface DuckReader {
  getRows(): unknown[][];
}
interface DuckAppender {
  appendInteger(v: number): void;
  appendBigInt(v: bigint): void;
  appendDouble(v: number): void;
  endRow(): void;
  flushSync(): void;
  closeSync(): void;
}
interface DuckConnection {
  run(sql: string): Promise<unknown>;
  runAndReadAll(sql: string): Promise<DuckReader>;
  createAppender(table: string): Promise<DuckAppender>;
  closeSync(): void;
}
interface DuckInstance {
  connect(): Promise<DuckConnection>;
  closeSync(): void;
}
interface DuckModule {
  DuckDBInstance: { create(path: string): Promise<DuckInstance> };
}

async function loadDuckDb(): Promise<DuckModule | undefined> {
  const spec = process.env.IIP_DUCKDB_MODULE ?? '@duckdb/node-api';
  try {
    const m = (await import(spec)) as Partial<DuckModule> & { default?: DuckModule };
    return m.DuckDBInstance ? (m as DuckModule) : m.default;
  } catch (e) {
    console.log(`DuckDB half skipped: cannot import "${spec}" (${(e as Error).message.split('\n')[0]}).`);
    console.log('  Install @duckdb/node-api outside the repo and set IIP_DUCKDB_MODULE to its lib/index.js (see the header).');
    return undefined;
  }
}

const now = () => performance.now();
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Interleaved 1 Hz points of SERIES series, in write batches; series ids are 1..SERIES. */
function buildBatches(): RawRow[][] {
  const out: RawRow[][] = [];
  for (let start = 0; start < POINTS; start += BATCH) {
    const rows: RawRow[] = [];
    for (let k = start; k < Math.min(POINTS, start + BATCH); k++) {
      rows.push({ series: (k % SERIES) + 1, ts: T0 + Math.floor(k / SERIES) * 1000, num: Math.round(Math.sin(k) * 1e4) / 100, str: null });
    }
    out.push(rows);
  }
  return out;
}

/** One series, one point a minute for a year: the trend workload. */
function yearOfMinutes(): RawRow[] {
  const rows: RawRow[] = [];
  for (let ts = T0; ts < T0 + 365 * DAY; ts += MIN) rows.push({ series: 1, ts, num: Math.sin(ts / DAY) * 100, str: null });
  return rows;
}

const record = (engine: string, what: string, figure: string) => {
  console.log(`${engine.padEnd(8)} ${what.padEnd(58)} ${figure}`);
};

async function sqlite(batches: RawRow[][], year: RawRow[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'iip-engines-sqlite-'));
  try {
    // 1. The adapter's full write path: raw + 3 rollup levels + latest, duplicates suppressed.
    let storage = openSqliteStorage({ file: join(dir, 'full.db') });
    for (let i = 0; i < SERIES; i++) storage.telemetry.seriesId({ tenant: 't' as TenantId, device: `d${i}` as DeviceId, property: 'v' }, 'n');
    let t = now();
    for (const b of batches) storage.telemetry.write(b);
    record('sqlite', 'bulk insert, full write path (raw+rollups+latest)', `${fmt(POINTS / ((now() - t) / 1000))} points/s`);
    t = now();
    for (const b of batches.slice(0, 10)) storage.telemetry.write(b);
    record('sqlite', 're-delivery of 100k duplicates (ignored)', `${fmt((10 * BATCH) / ((now() - t) / 1000))} points/s`);
    storage.close();

    // 2. Raw only, to compare like with like against DuckDB's bare insert.
    const db = new Database(join(dir, 'raw.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE raw (series INTEGER NOT NULL, ts INTEGER NOT NULL, num REAL, PRIMARY KEY (series, ts)) WITHOUT ROWID');
    const ins = db.prepare('INSERT OR IGNORE INTO raw VALUES (?, ?, ?)');
    const tx = db.transaction((rows: RawRow[]) => {
      for (const r of rows) ins.run(r.series, r.ts, r.num);
    });
    t = now();
    for (const b of batches) tx(b);
    record('sqlite', 'bulk insert, raw only (INSERT OR IGNORE, PK)', `${fmt(POINTS / ((now() - t) / 1000))} points/s`);

    // 3. Latest-value upserts: one per series per batch, only if newer.
    db.exec('CREATE TABLE latest (series INTEGER PRIMARY KEY, ts INTEGER NOT NULL, num REAL)');
    const up = db.prepare(
      'INSERT INTO latest VALUES (?, ?, ?) ON CONFLICT (series) DO UPDATE SET ts = excluded.ts, num = excluded.num WHERE excluded.ts > latest.ts',
    );
    const rounds = 1_000;
    const upTx = db.transaction((round: number) => {
      for (let s = 1; s <= SERIES; s++) up.run(s, T0 + round * 1000, round);
    });
    t = now();
    for (let r = 0; r < rounds; r++) upTx(r);
    record('sqlite', `latest upsert (${SERIES} series x ${rounds} transactions)`, `${fmt((SERIES * rounds) / ((now() - t) / 1000))} upserts/s`);
    db.close();

    // 4. One-year trend, 365 buckets, over the daily rollup versus over raw minutes.
    storage = openSqliteStorage({ file: join(dir, 'year.db') });
    const sid = await storage.telemetry.seriesId({ tenant: 't' as TenantId, device: 'y' as DeviceId, property: 'v' }, 'n');
    for (let i = 0; i < year.length; i += BATCH) await storage.telemetry.write(year.slice(i, i + BATCH).map((r) => ({ ...r, series: sid })));
    await storage.close();
    const ydb = new Database(join(dir, 'year.db'), { readonly: true });
    const viaRollup = ydb.prepare('SELECT bucket, vmin, vmax, vsum, n FROM rollup WHERE level = ? AND series = ? AND bucket >= ? AND bucket < ? ORDER BY bucket');
    const viaRaw = ydb.prepare(
      // Integer literals: bound JS numbers arrive as REAL and would turn the bucket division fractional.
      `SELECT (ts - ${T0}) / ${DAY} AS b, min(num), max(num), sum(num), count(*) FROM raw WHERE series = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b`,
    );
    const to = T0 + 365 * DAY;
    const tr = [];
    const trr = [];
    for (let i = 0; i < 9; i++) {
      t = now();
      if (viaRollup.all(DAY, sid, T0, to).length !== 365) throw new Error('rollup trend lost rows');
      tr.push(now() - t);
      t = now();
      if (viaRaw.all(sid, T0, to).length !== 365) throw new Error('raw trend lost rows');
      trr.push(now() - t);
    }
    record('sqlite', '1-year trend, 365 buckets, from daily rollup', `${median(tr).toFixed(2)} ms`);
    record('sqlite', `1-year trend, 365 buckets, from raw (${fmt(year.length)} points)`, `${median(trr).toFixed(2)} ms`);
    ydb.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function duckdb(duck: DuckModule, batches: RawRow[][], year: RawRow[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'iip-engines-duckdb-'));
  const instance = await duck.DuckDBInstance.create(join(dir, 'bench.duckdb'));
  const con = await instance.connect();
  try {
    const append = async (table: string, rows: readonly RawRow[]) => {
      const a = await con.createAppender(table);
      for (const r of rows) {
        a.appendInteger(r.series);
        a.appendBigInt(BigInt(r.ts));
        a.appendDouble(r.num ?? 0);
        a.endRow();
      }
      a.flushSync();
      a.closeSync();
    };

    // 1a. Bare appender into a table without a key: DuckDB's best case, no duplicate suppression.
    await con.run('CREATE TABLE raw_nokey (series INTEGER, ts BIGINT, num DOUBLE)');
    let t = now();
    for (const b of batches) await append('raw_nokey', b);
    record('duckdb', 'bulk insert, appender, no key (duplicates kept!)', `${fmt(POINTS / ((now() - t) / 1000))} points/s`);

    // 1b. The same semantics as SQLite's full path: stage, roll up only new points, insert-or-ignore.
    await con.run('CREATE TABLE raw (series INTEGER, ts BIGINT, num DOUBLE, PRIMARY KEY (series, ts))');
    await con.run('CREATE TABLE rollup (level BIGINT, series INTEGER, bucket BIGINT, vmin DOUBLE, vmax DOUBLE, vsum DOUBLE, n BIGINT, PRIMARY KEY (level, series, bucket))');
    await con.run('CREATE TABLE latest (series INTEGER PRIMARY KEY, ts BIGINT, num DOUBLE)');
    await con.run('CREATE TEMP TABLE stage (series INTEGER, ts BIGINT, num DOUBLE)');
    const fullWrite = async (rows: readonly RawRow[]) => {
      await append('stage', rows);
      await con.run('BEGIN');
      await con.run('CREATE OR REPLACE TEMP TABLE fresh AS SELECT s.* FROM stage s ANTI JOIN raw r ON r.series = s.series AND r.ts = s.ts');
      for (const level of LEVELS) {
        await con.run(`INSERT INTO rollup SELECT ${level}, series, (ts // ${level}) * ${level} AS b, min(num), max(num), sum(num), count(*)
          FROM fresh GROUP BY series, b
          ON CONFLICT DO UPDATE SET vmin = least(vmin, excluded.vmin), vmax = greatest(vmax, excluded.vmax),
            vsum = vsum + excluded.vsum, n = n + excluded.n`);
      }
      await con.run('INSERT INTO raw SELECT * FROM fresh');
      await con.run(`INSERT INTO latest SELECT series, arg_max(ts, ts), arg_max(num, ts) FROM fresh GROUP BY series
        ON CONFLICT DO UPDATE SET ts = excluded.ts, num = excluded.num WHERE excluded.ts > latest.ts`);
      await con.run('COMMIT');
      await con.run('DELETE FROM stage');
    };
    t = now();
    for (const b of batches) await fullWrite(b);
    record('duckdb', 'bulk insert, full write path (raw+rollups+latest)', `${fmt(POINTS / ((now() - t) / 1000))} points/s`);

    // 2. Raw only with duplicate suppression.
    await con.run('CREATE TABLE raw2 (series INTEGER, ts BIGINT, num DOUBLE, PRIMARY KEY (series, ts))');
    t = now();
    for (const b of batches) {
      await append('stage', b);
      await con.run('INSERT OR IGNORE INTO raw2 SELECT * FROM stage');
      await con.run('DELETE FROM stage');
    }
    record('duckdb', 'bulk insert, raw only (INSERT OR IGNORE, PK)', `${fmt(POINTS / ((now() - t) / 1000))} points/s`);

    // 3. Latest upserts, set-based: one statement per round of SERIES rows.
    await con.run('CREATE TABLE latest2 (series INTEGER PRIMARY KEY, ts BIGINT, num DOUBLE)');
    const rounds = 200;
    t = now();
    for (let r = 0; r < rounds; r++) {
      await append('stage', Array.from({ length: SERIES }, (_, s) => ({ series: s + 1, ts: T0 + r * 1000, num: r, str: null })));
      await con.run('INSERT INTO latest2 SELECT * FROM stage ON CONFLICT DO UPDATE SET ts = excluded.ts, num = excluded.num WHERE excluded.ts > latest2.ts');
      await con.run('DELETE FROM stage');
    }
    record('duckdb', `latest upsert (${SERIES} series x ${rounds} statements)`, `${fmt((SERIES * rounds) / ((now() - t) / 1000))} upserts/s`);

    // 4. One-year trend.
    await con.run('CREATE TABLE yraw (series INTEGER, ts BIGINT, num DOUBLE, PRIMARY KEY (series, ts))');
    for (let i = 0; i < year.length; i += 100_000) await append('yraw', year.slice(i, i + 100_000));
    await con.run(`CREATE TABLE yday AS SELECT series, (ts // ${DAY}) * ${DAY} AS bucket, min(num) vmin, max(num) vmax, sum(num) vsum, count(*) n FROM yraw GROUP BY ALL`);
    const to = T0 + 365 * DAY;
    const tr = [];
    const trr = [];
    for (let i = 0; i < 9; i++) {
      t = now();
      const a = await con.runAndReadAll(`SELECT bucket, vmin, vmax, vsum, n FROM yday WHERE series = 1 AND bucket >= ${T0} AND bucket < ${to} ORDER BY bucket`);
      if (a.getRows().length !== 365) throw new Error('rollup trend lost rows');
      tr.push(now() - t);
      t = now();
      const b = await con.runAndReadAll(
        `SELECT (ts - ${T0}) // ${DAY} AS b, min(num), max(num), sum(num), count(*) FROM yraw WHERE series = 1 AND ts >= ${T0} AND ts < ${to} GROUP BY b ORDER BY b`,
      );
      if (b.getRows().length !== 365) throw new Error('raw trend lost rows');
      trr.push(now() - t);
    }
    record('duckdb', '1-year trend, 365 buckets, from daily rollup', `${median(tr).toFixed(2)} ms`);
    record('duckdb', `1-year trend, 365 buckets, from raw (${fmt(year.length)} points)`, `${median(trr).toFixed(2)} ms`);
  } finally {
    con.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs both halves and prints one line per measurement (also used by `npm run bench -- storage-engines`). */
export async function main(): Promise<void> {
  const batches = buildBatches();
  const year = yearOfMinutes();
  console.log(`workload: ${fmt(POINTS)} points over ${SERIES} series in batches of ${fmt(BATCH)}; trend over ${fmt(year.length)} points\n`);
  await sqlite(batches, year);
  const duck = await loadDuckDb();
  if (duck) await duckdb(duck, batches, year);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
