/**
 * Load generator of the MQTT front-door benchmark, in its own process so it does not share an event loop
 * with the broker it measures: N mqtt.js clients (MQTT 3.1.1 or 5) publish QoS 1 messages of a fixed
 * telemetry payload with a bounded number in flight, to 127.0.0.1 only, and stop after a fixed count. Prints
 * one JSON line: messages acknowledged, seconds, CPU seconds of this process.
 */
import mqtt from 'mqtt';

interface Job {
  readonly url: string;
  readonly protocolVersion: 4 | 5;
  readonly clients: number;
  readonly messages: number;
  readonly inFlight: number;
  readonly topicOf: string; // with {i} for the client number
  readonly username?: string; // with {i}
  readonly password?: string;
  /** The message body (default: a flat record of ten numbers with ts 0). */
  readonly payload?: string;
}

const job = JSON.parse(process.argv[2] as string) as Job;
const payload = Buffer.from(job.payload ?? JSON.stringify({ ts: 0, v0: 1.5, v1: 2.5, v2: 3.5, v3: 4.5, v4: 5.5, v5: 6.5, v6: 7.5, v7: 8.5, v8: 9.5, v9: 10.5 }));
const sub = (s: string, i: number) => s.replaceAll('{i}', String(i));

const clients = await Promise.all(
  Array.from({ length: job.clients }, (_, i) =>
    mqtt.connectAsync(job.url, {
      protocolVersion: job.protocolVersion,
      clientId: `bench-${i}`,
      ...(job.username ? { username: sub(job.username, i), password: job.password } : {}),
      reconnectPeriod: 0,
      clean: true,
    }),
  ),
);
const perClient = Math.ceil(job.messages / job.clients);
const window = Math.max(1, Math.floor(job.inFlight / job.clients));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let acked = 0;
await Promise.all(
  clients.map(async (c, i) => {
    const topic = sub(job.topicOf, i);
    let sent = 0;
    const worker = async () => {
      while (sent < perClient) {
        sent++;
        await c.publishAsync(topic, payload, { qos: 1 });
        acked++;
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
  }),
);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await Promise.all(clients.map((c) => c.endAsync()));
process.stdout.write(`${JSON.stringify({ acked, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
process.exit(0);
