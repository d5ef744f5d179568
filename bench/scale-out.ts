
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DeviceId, TenantId } from '@iip/core';
import { openPostgresStorage } from '@iip/storage';
import { startNats, startPostgres } from '@iip/testkit';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { api, login, startProcess } from '../packages/server/test/scale-out-fixture.js';
import { MODEL, PROPS, env } from './ingest.js';
import { runJsonChild } from './child-process.js';

/** COPY `rows` rows into raw for `series`, timestamps in yesterday's partition (made ahead at open). */
async function copyBaseline(url: string, series: readonly number[], rows: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
    const chunk = 10_000;
    function* lines(): Generator<string> {
      for (let off = 0; off < rows; off += chunk) {
        let text = '';
        for (let i = off; i < Math.min(rows, off + chunk); i++) {
          text += `${series[i % series.length]}\t${day + Math.floor(i / series.length)}\t${(i % 977) / 7}\t\\N\n`;
        }
        yield text;
      }
    }
    const t0 = performance.now();
    await client.query('BEGIN');
    await pipeline(Readable.from(lines()), client.query(copyFrom('COPY raw (series, ts, num, str) FROM STDIN')));
    await client.query('COMMIT');
    return rows / ((performance.now() - t0) / 1000);
  } finally {
    await client.end();
  }
}

type LoaderResult = { messages: number; points: number; elapsedMs: number; endedAt: number };
const runLoader = (job: unknown) => runJsonChild<LoaderResult>('ingest-load.ts', job);

export async function main(): Promise<void> {
  const messages = env('BENCH_MESSAGES', 100_000);
  const deviceCount = env('BENCH_DEVICES', 20);
  const inflight = env('BENCH_INFLIGHT', 2000);
  const total = messages * 10;

  console.log('scale-out: starting PostgreSQL (fsync on) and nats-server -js …');
  const pgServer = await startPostgres({ fsync: true });
  const nats = await startNats();
  const url = await pgServer.createDatabase('bench');
  const procs = [];
  try {
    console.log('scale-out: starting 1 worker and 2 front doors (iip up --role …) …');
    procs.push(await startProcess('worker', url, nats.url));
    procs.push(...(await Promise.all([startProcess('front-door', url, nats.url), startProcess('front-door', url, nats.url)])));
    const [worker, doorA, doorB] = procs as [(typeof procs)[0], (typeof procs)[0], (typeof procs)[0]];
    const token = await login(doorA);
    await api(doorA, token, 'POST', '/api/v1/products', { id: 'bench', name: 'bench', model: MODEL });
    const devices: Array<{ id: string; secret: string }> = [];
    for (let i = 0; i < deviceCount; i++) {
      const r = await api<{ secret: string }>(doorA, token, 'POST', '/api/v1/devices', { id: `bench-${i}`, product: 'bench' });
      devices.push({ id: `bench-${i}`, secret: r.body.secret });
    }
    // The series the load will write (made here so that the baseline copies into the very same ones).
    const storage = await openPostgresStorage({ url });
    const series: number[] = [];
    for (const d of devices) for (const p of PROPS) series.push(await storage.telemetry.seriesId({ tenant: 'default' as TenantId, device: d.id as DeviceId, property: p }, 'n'));
    await storage.close();

    const stored = async () => (await api<{ worker?: { storedPoints: number } }>(worker, token, 'GET', '/api/v1/status')).body.worker?.storedPoints ?? 0;
    const stored0 = await stored();
    console.log(`scale-out: ${messages} messages × 10 points from ${deviceCount} MQTT connections (QoS 1, ${inflight} in flight), half through each front door …`);
    const half = Math.ceil(deviceCount / 2);
    const job = (mqttUrl: string, ds: typeof devices, n: number) => ({ mqttUrl, tenant: 'default', devices: ds, messages: n, pointsPerMessage: 10, propertyIds: PROPS, model: MODEL, maxInFlight: Math.ceil(inflight / 2) });
    const t0 = Date.now();
    const loads = [runLoader(job(doorA.mqttUrl, devices.slice(0, half), Math.ceil(messages / 2))), runLoader(job(doorB.mqttUrl, devices.slice(half), Math.floor(messages / 2)))];
    let last = 0;
    let storedAt = 0;
    const progress = setInterval(() => console.log(`scale-out: … ${last.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} points stored (${((Date.now() - t0) / 1000).toFixed(0)} s)`), 2000);
    try {
      const deadline = Date.now() + 600_000;
      for (;;) {
        last = (await stored()) - stored0;
        if (last >= total) {
          storedAt = Date.now();
          break;
        }
        if (Date.now() > deadline) throw new Error(`only ${last} of ${total} points stored after 600 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      clearInterval(progress);
    }
    const results = await Promise.all(loads.map((l) => l.done));
    const acked = results.reduce((n, r) => n + r.points, 0);
    // From the first publish (the loaders connect their devices first; that is not ingest) to the last commit.
    const firstPublish = Math.min(...results.map((r) => r.endedAt - r.elapsedMs));
    console.log(`scale-out: first publish ${((firstPublish - t0) / 1000).toFixed(1)} s after the loaders started; loaders acknowledged all in ${Math.max(...results.map((r) => r.elapsedMs / 1000)).toFixed(1)} s`);
    const seconds = (storedAt - Math.max(t0, firstPublish)) / 1000;
    const rate = total / seconds;
    console.log(`scale-out: ${acked.toLocaleString('en-US')} points acknowledged, ${total.toLocaleString('en-US')} stored in ${seconds.toFixed(2)} s`);

    console.log(`scale-out: baseline — COPY of ${total.toLocaleString('en-US')} rows into the same raw table …`);
    const base = await copyBaseline(url, series, total);
    console.log(`scale-out: ${Math.round(rate)} points/s end-to-end via nats+postgres, baseline COPY ${Math.round(base)} points/s, ratio ${(rate / base).toFixed(2)}`);
  } finally {
    if (process.env.BENCH_VERBOSE) for (const p of procs) console.log(`--- ${p.role} ---\n${p.output().slice(-3000)}`);
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await nats.stop();
    await pgServer.stop();
  }
}
