/**
 * Publish throughput of the NATS bus (not a test; numbers go to docs/adr): sequential publishes (each
 * waits for its JetStream ack — "sync publish") against publishes with bounded in-flight acks, on a
 * throwaway nats-server with a file store. Usage: node --import tsx packages/bus/bench/publish.ts [n]
 */
import { connectNatsBus } from '@iip/bus';
import type { DeviceId, TelemetryBatch, TenantId } from '@iip/core';
import { startNats } from '@iip/testkit';

const n = Number(process.argv[2] ?? 50_000);
const points = Number(process.argv[3] ?? 10);
const server = await startNats();
const batch = (i: number): TelemetryBatch => ({
  tenant: 'acme' as TenantId,
  device: `dev-${i % 100}` as DeviceId,
  points: Array.from({ length: points }, (_, k) => ({ property: `p${k}`, ts: 1_700_000_000_000 + i, value: i + k / 10 })),
  receivedAt: Date.now(),
});

async function measure(label: string, maxInFlight: number, sequential: boolean, count: number, withGroup: boolean): Promise<void> {
  const prefix = `b${Math.random().toString(36).slice(2, 8)}`;
  const bus = await connectNatsBus({ url: server.url, prefix, maxInFlight, groups: withGroup ? { telemetry: ['historian'] } : {} });
  const t0 = process.hrtime.bigint();
  if (sequential) for (let i = 0; i < count; i++) await bus.publish('telemetry', batch(i));
  else await Promise.all(Array.from({ length: count }, (_, i) => bus.publish('telemetry', batch(i))));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${label.padEnd(44)} ${count} msgs (${points} points each) in ${s.toFixed(2)} s: ${Math.round(count / s)} msgs/s, ${Math.round((count * points) / s)} points/s`);
  await bus.close();
}

/** Publish `count` batches with a historian group member and a live subscriber; time until both have all. */
async function endToEnd(count: number): Promise<void> {
  const prefix = `e${Math.random().toString(36).slice(2, 8)}`;
  const bus = await connectNatsBus({ url: server.url, prefix, groups: { telemetry: ['historian'] } });
  let group = 0;
  let live = 0;
  const subs = [bus.subscribe('telemetry', () => void group++, { group: 'historian' }), bus.subscribe('telemetry', () => void live++)];
  await Promise.all(subs.map((x) => x.ready));
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: count }, (_, i) => bus.publish('telemetry', batch(i))));
  const tp = Number(process.hrtime.bigint() - t0) / 1e9;
  while (group < count || live < count) await new Promise((r) => setTimeout(r, 5));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`end to end (group + live, one process)            ${count} msgs: published in ${tp.toFixed(2)} s, all at the group and live in ${s.toFixed(2)} s: ${Math.round(count / s)} msgs/s, ${Math.round((count * points) / s)} points/s`);
  await bus.close();
}

try {
  const sample = batch(1);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 100_000; i++) JSON.parse(JSON.stringify(sample));
  console.log(`JSON stringify + parse of one ${points}-point batch (${JSON.stringify(sample).length} bytes): ${(Number(process.hrtime.bigint() - t0) / 1e3 / 100_000).toFixed(2)} µs`);
  await endToEnd(n);
  for (const withGroup of [false, true]) {
    await measure(`sync (await each)${withGroup ? ', historian consumer' : ''}`, 1, true, Math.min(n, 10_000), withGroup);
    for (const k of [64, 256, 1_024, 4_096]) await measure(`bounded in-flight ${k}${withGroup ? ', historian consumer' : ''}`, k, false, n, withGroup);
  }
} finally {
  await server.stop();
}
