/**
 * The load-generator side of the ingest benchmark, run as its own process so that it does not share an
 * event loop with the platform it measures. Reads its job as JSON from argv[2] and prints the result as
 * one JSON line.
 */
import { runLoad } from '@iip/simulator';
import type { ThingModel } from '@iip/core';

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
const r = await runLoad({
  mqttUrl: job.mqttUrl,
  tenant: job.tenant,
  devices: job.devices,
  pointsPerMessage: job.pointsPerMessage,
  totalMessages: job.messages,
  propertyIds: job.propertyIds,
  model: job.model,
  maxInFlight: job.maxInFlight,
  qos: 1,
});
process.stdout.write(`${JSON.stringify({ ...r, endedAt: Date.now() })}\n`);
process.exit(0);
