
import { DEFAULT_TENANT, type ThingModel } from '@iip/core';
import { startPlatform } from '@iip/server';
import { tempDir } from '@iip/testkit';
import { measureBulkInsert } from './store-baseline.js';
import { runJsonChild } from './child-process.js';

export const PROPS = Array.from({ length: 10 }, (_, i) => `v${i}`);
export const MODEL: ThingModel = {
  properties: PROPS.map((id) => ({ id, dataType: { type: 'float', min: 0, max: 1000 }, access: 'r' as const })),
  events: [],
  services: [],
};

export function env(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

export async function main(): Promise<void> {
  const messages = env('BENCH_MESSAGES', 200_000);
  const deviceCount = env('BENCH_DEVICES', 20);
  const inflight = env('BENCH_INFLIGHT', 2000);
  const pointsPerMessage = 10;
  const total = messages * pointsPerMessage;

  console.log('ingest: measuring the baseline (raw bulk insert into the embedded store) …');
  const base = await measureBulkInsert({ points: 1_000_000, batch: 10_000 });
  console.log(`ingest: baseline ${Math.round(base.pointsPerSec)} points/s`);

  const dir = await tempDir('iip-bench-ingest-');
  const platform = await startPlatform({ dataDir: dir.path, httpPort: 0, mqttPort: 0, adminPassword: 'bench-password-123', consoleDir: '/nonexistent' });
  try {
    await platform.registry.createProduct(DEFAULT_TENANT, { id: 'bench', name: 'bench', model: MODEL });
    const devices: Array<{ id: string; secret: string }> = [];
    for (let i = 0; i < deviceCount; i++) {
      const issued = await platform.registry.createDevice(DEFAULT_TENANT, { id: `bench-${i}`, product: 'bench' });
      devices.push({ id: issued.device.id, secret: issued.secret });
    }
    console.log(`ingest: ${messages} messages × ${pointsPerMessage} points over ${deviceCount} MQTT 3.1.1 connections (QoS 1, ${inflight} in flight; load from bench/lean-publisher.ts in its own process) …`);
    const job = { mqttUrl: platform.mqttUrl, tenant: 'default', devices, messages, pointsPerMessage, propertyIds: PROPS, model: MODEL, maxInFlight: inflight };
    const load = runJsonChild<{ messages: number; points: number; elapsedMs: number; endedAt: number; cpuMs: number }>('ingest-load.ts', job);
    const cpu0 = process.cpuUsage();
    const written0 = platform.historian.stats().written;
    const flushes0 = platform.historian.stats().flushes;
    let storedAt = 0;
    // Polled often for the timing, reported once a second for the reader.
    const watch = setInterval(() => {
      if (!storedAt && platform.historian.stats().written - written0 >= total) storedAt = Date.now();
    }, 2);
    const progress = setInterval(() => {
      const n = platform.historian.stats().written - written0;
      console.log(`  stored ${n.toLocaleString('en')} / ${total.toLocaleString('en')} points`);
    }, 1000);
    const r = await load.done;
    const startedAt = r.endedAt - r.elapsedMs;
    const deadline = Date.now() + 120_000;
    while (!storedAt && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    clearInterval(watch);
    clearInterval(progress);
    const cpu = process.cpuUsage(cpu0);
    const stats = platform.historian.stats();
    const stored = stats.written - written0;
    if (stored < total) throw new Error(`only ${stored} of ${total} points were stored within 120 s`);
    const rejected = platform.admission.stats().rejectedMessages;
    if (rejected > 0) throw new Error(`${rejected} messages were rejected; the benchmark's payloads must all be valid`);
    const seconds = (storedAt - startedAt) / 1000;
    const rate = total / seconds;
    const transactions = stats.flushes - flushes0;
    console.log(`ingest: ${transactions} write transactions, ${Math.round(stored / Math.max(1, transactions))} points each on average`);
    console.log(`ingest: publisher acknowledged ${r.messages} messages in ${(r.elapsedMs / 1000).toFixed(2)} s; last point stored after ${seconds.toFixed(2)} s`);
    console.log(`ingest: CPU time while publishing: platform ${Math.round((cpu.user + cpu.system) / 1000)} ms, load generator ${r.cpuMs} ms (all threads of each process)`);
    console.log(`ingest: ${Math.round(rate)} points/s end-to-end, baseline ${Math.round(base.pointsPerSec)} points/s, ratio ${(rate / base.pointsPerSec).toFixed(3)}`);
  } finally {
    await platform.close();
    await dir.cleanup();
  }
}
