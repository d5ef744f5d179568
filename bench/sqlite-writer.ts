/**
 * `npm run bench -- sqlite-writer` (issue 20): the SQLite telemetry writer alone, as ten thousand 6-point devices
 * load it — BENCH_WRITER_SERIES series (60,000), one point each per second of simulated time, spread over 100
 * commits a second — for BENCH_WRITER_SECONDS (150) simulated seconds, as fast as it goes, on a throwaway file. After
 * each write the writer moves staged points as the writer thread does (about as many rows as were written), and
 * folds idle series every half second. Printed every 10 simulated seconds: the milliseconds of writer work per
 * second of data (and of it, moving). Baseline, same run: the same rows appended to a plain rowid table (one page
 * written per ~100 rows), the least a durable write of them can cost here.
 *
 * Last line: `sqlite-writer: <N> series, <W> ms of work per second of data (last 30 s), baseline append <B> ms, ratio <r>`.
 */
import { join } from 'node:path';
import { tempDir } from '@iip/testkit';
import Database from 'better-sqlite3';
import { configureConnection } from '../packages/storage/src/sqlite/sqlite-connection.js';
import { TelemetryWriter } from '../packages/storage/src/sqlite/telemetry-writer.js';
import { withSeriesFile } from '../packages/storage/test/series-file.js';

const SERIES = Number(process.env.BENCH_WRITER_SERIES ?? 60_000);
const SECONDS = Number(process.env.BENCH_WRITER_SECONDS ?? 150);
const COMMITS = Number(process.env.BENCH_WRITER_COMMITS ?? 100);
const T0 = Date.UTC(2027, 0, 1);

interface Row {
  series: number;
  ts: number;
  num: number;
  str: null;
}

/** The rows of commit `c` of simulated second `s`: a slice of the series, at that moment. */
function rowsOf(s: number, c: number): Row[] {
  const per = Math.ceil(SERIES / COMMITS);
  const ts = T0 + s * 1000 + c * (1000 / COMMITS);
  const out: Row[] = [];
  for (let k = 0; k < per && c * per + k < SERIES; k++) out.push({ series: c * per + k + 1, ts, num: (s * 7 + k) % 100, str: null });
  return out;
}

async function writerRun(): Promise<number[]> {
  return withSeriesFile(SERIES, (db) => {
    let now = T0;
    const w = new TelemetryWriter(db, [60_000, 3_600_000, 86_400_000], () => now);
    const perSecond: number[] = [];
    let line: string[] = [];
    for (let s = 0; s < SECONDS; s++) {
      const t = performance.now();
      let moving = 0;
      for (let c = 0; c < COMMITS; c++) {
        now = T0 + s * 1000 + c * (1000 / COMMITS);
        const rows = rowsOf(s, c);
        w.write(rows);
        const m = performance.now();
        w.moveSome(rows.length);
        moving += performance.now() - m;
        if (c % 50 === 49) w.foldIdle();
      }
      const ms = performance.now() - t;
      perSecond.push(ms);
      line.push(`${Math.round(ms)}${moving >= 1 ? `/${Math.round(moving)}` : ''}`);
      if (line.length === 10) {
        console.log(`sqlite-writer: s ${s - 8}–${s + 1}: ms of work per second of data (/ of it moving): ${line.join(' ')}`);
        line = [];
      }
    }
    return perSecond;
  });
}

async function baselineRun(): Promise<number[]> {
  const dir = await tempDir('iip-bench-writer-base-');
  const file = join(dir.path, 'b.db');
  const db = new Database(file);
  try {
    configureConnection(db);
    db.exec('CREATE TABLE append (series INTEGER NOT NULL, ts INTEGER NOT NULL, num REAL)');
    const ins = db.prepare('INSERT INTO append (series, ts, num) VALUES (?, ?, ?)');
    const tx = db.transaction((rows: Row[]) => {
      for (const r of rows) ins.run(r.series, r.ts, r.num);
    }).immediate;
    const perSecond: number[] = [];
    for (let s = 0; s < SECONDS; s++) {
      const t = performance.now();
      for (let c = 0; c < COMMITS; c++) tx(rowsOf(s, c));
      perSecond.push(performance.now() - t);
    }
    return perSecond;
  } finally {
    db.close();
    await dir.cleanup();
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function main(): Promise<void> {
  console.log(`sqlite-writer: ${SERIES} series, a point each per second, ${COMMITS} commits a second, ${SECONDS} s of data`);
  const base = await baselineRun();
  const baseMs = mean(base.slice(-30));
  console.log(`sqlite-writer: baseline (append to a rowid table): ${baseMs.toFixed(0)} ms per second of data (last 30 s)`);
  const work = await writerRun();
  const workMs = mean(work.slice(-30));
  console.log(`sqlite-writer: ${SERIES} series, ${workMs.toFixed(0)} ms of work per second of data (last 30 s), baseline append ${baseMs.toFixed(0)} ms, ratio ${(workMs / baseMs).toFixed(1)}`);
}
