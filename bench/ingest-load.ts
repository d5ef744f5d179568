/**
 * The load-generator side of the ingest benchmark, run as its own process so that it does not share an
 * event loop with the platform it measures. Reads its job as JSON from argv[2] and prints the result as
 * one JSON line (with the CPU time this process used while publishing, so the reader sees what the load cost).
 *
 * Each device has its own MQTT connection (lean-publisher.ts: MQTT 3.1.1, QoS 1, PUBACK awaited); messages
 * go round-robin over them with at most `maxInFlight` unacknowledged in all, each a record of
 * `pointsPerMessage` points (the simulator's BatchBuilder), timestamps strictly increasing per device and
 * ending about now.
 */
import { BatchBuilder, rangesFor } from '@iip/simulator';
import type { ThingModel } from '@iip/core';
import { LeanPublisher } from './lean-publisher.js';

interface Job {
  mqttUrl: string;
  tenant: string;
  devices: Array<{ id: string; secret: string }>;
  messages: number;
  pointsPerMessage: number;
  propertyIds: string[];
  model: ThingModel;
  maxInFlight: number;
}

const job = JSON.parse(process.argv[2] as string) as Job;
const url = new URL(job.mqttUrl);
const builder = new BatchBuilder(job.propertyIds, rangesFor(job.propertyIds, job.model), job.pointsPerMessage);
const conns = await Promise.all(
  job.devices.map((d) =>
    LeanPublisher.connect(
      { host: url.hostname, port: Number(url.port), clientId: d.id, username: `${job.tenant}/${d.id}`, password: d.secret },
      `iip/${job.tenant}/${d.id}/telemetry`,
    ),
  ),
);
const n = conns.length;
const perDevice = Math.ceil(job.messages / n) * builder.records;
const nextTs = conns.map(() => Date.now() - perDevice);

let sent = 0;
let acked = 0;
let inFlight = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise<void>((resolve, reject) => {
  for (const c of conns) c.whenFailed(reject);
  // Refilled once per turn of the event loop, not per PUBACK: the PUBLISHes of one turn leave in one write
  // per connection, and the window stays full.
  let scheduled = false;
  const onAck = (): void => {
    acked++;
    inFlight--;
    if (acked === job.messages) resolve();
    else if (!scheduled && sent < job.messages) {
      scheduled = true;
      setImmediate(fill);
    }
  };
  const fill = (): void => {
    scheduled = false;
    for (const c of conns) c.cork();
    while (inFlight < job.maxInFlight && sent < job.messages) {
      const d = sent % n;
      const ts = nextTs[d] as number;
      nextTs[d] = ts + builder.records;
      (conns[d] as LeanPublisher).publish(Buffer.from(builder.build(ts, sent)), onAck);
      sent++;
      inFlight++;
    }
    for (const c of conns) c.uncork();
  };
  fill();
});
const elapsedMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
await Promise.all(conns.map((c) => c.end()));
process.stdout.write(`${JSON.stringify({ messages: acked, points: acked * job.pointsPerMessage, elapsedMs, endedAt: Date.now(), cpuMs: Math.round((cpu.user + cpu.system) / 1000) })}\n`);
process.exit(0);
