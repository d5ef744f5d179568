/**
 * MQTT front doors at scale (issue 11, point 4; ADR 0008): the same QoS 1 load (bench/mqtt-load.ts in its own
 * process, N mqtt.js clients, bounded in flight, 127.0.0.1) against two ways of taking telemetry into a
 * JetStream stream on one nats-server:
 *   1. iip's front door (MqttAccess: device authentication, topic ACL, thing-model validation) whose admission
 *      publishes each message on the NATS bus and PUBACKs once JetStream has acknowledged it — what
 *      `iip up --role front-door --bus nats://…` does; MQTT 3.1.1 and 5;
 *   2. nats-server's own MQTT listener (MQTT 3.1.1 only), no authentication, a file stream capturing the
 *      mapped subjects `iip.*.*.telemetry`.
 * Each figure counts the messages acknowledged to the clients and the messages in the stream afterwards.
 * Knobs: MQTT_BENCH_MESSAGES (default 100000), MQTT_BENCH_CLIENTS (20), MQTT_BENCH_INFLIGHT (2000).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNatsBus } from '@iip/bus';
import { DEFAULT_INGEST_LIMITS, TelemetryValidator } from '@iip/core';
import { type DeviceEntry, MqttAccess, TelemetryAdmission } from '@iip/device-access';
import { freePort, startNats, tempDir, waitFor } from '@iip/testkit';
import { RetentionPolicy, StorageType, connect } from 'nats';
import { runJsonChild, stopChild } from './child-process.js';

const MESSAGES = Number(process.env.MQTT_BENCH_MESSAGES ?? 100_000);
const CLIENTS = Number(process.env.MQTT_BENCH_CLIENTS ?? 20);
const IN_FLIGHT = Number(process.env.MQTT_BENCH_INFLIGHT ?? 2000);
const SECRET = 'bench-secret';
const PAYLOAD = JSON.stringify({ v0: 1.5, v1: 2.5, v2: 3.5, v3: 4.5, v4: 5.5, v5: 6.5, v6: 7.5, v7: 8.5, v8: 9.5, v9: 10.5 });

interface LoadResult {
  acked: number;
  seconds: number;
  cpuSeconds: number;
}

function load(url: string, protocolVersion: 4 | 5, auth: boolean): Promise<LoadResult> {
  const job = {
    url,
    protocolVersion,
    clients: CLIENTS,
    messages: MESSAGES,
    inFlight: IN_FLIGHT,
    topicOf: 'iip/default/dev-{i}/telemetry',
    payload: PAYLOAD,
    ...(auth && { username: 'default/dev-{i}', password: SECRET }),
  };
  return runJsonChild<LoadResult>('mqtt-load.ts', job).done;
}

async function streamMessages(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

function line(name: string, r: LoadResult, stored: number): string {
  return `${name.padEnd(48)} ${Math.round(r.acked / r.seconds)
    .toString()
    .padStart(7)} msg/s  acked ${r.acked}  in the stream ${stored}  (${r.seconds.toFixed(1)} s)`;
}

async function iipFrontDoor(protocolVersion: 4 | 5): Promise<string> {
  const nats = await startNats();
  const prefix = 'bench';
  const bus = await connectNatsBus({ url: nats.url, prefix, groups: { telemetry: ['historian'] } });
  const model = { properties: Array.from({ length: 10 }, (_, i) => ({ id: `v${i}`, dataType: { type: 'float' as const }, access: 'r' as const })), events: [], services: [] };
  const entry: DeviceEntry = { verifySecret: (s) => s === SECRET, validator: new TelemetryValidator(model as never) };
  const directory = { lookup: () => entry };
  const admission = new TelemetryAdmission(directory, bus, DEFAULT_INGEST_LIMITS);
  const access = new MqttAccess({ directory, admission, defaultTenant: 'default', host: '127.0.0.1', port: await freePort() });
  const port = await access.listen();
  try {
    const r = await load(`mqtt://127.0.0.1:${port}`, protocolVersion, true);
    const rejected = admission.stats().rejectedMessages;
    if (rejected > 0) throw new Error(`${rejected} messages were refused: ${JSON.stringify(admission.stats().rejectedByCode)}`);
    return line(`iip front door → NATS bus, MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, r, await streamMessages(nats.url, 'BENCH_TELEMETRY'));
  } finally {
    await access.close();
    await bus.close();
    await nats.stop();
  }
}

async function natsMqttListener(): Promise<string> {
  const dir = await tempDir('iip-nats-mqtt-');
  const port = await freePort();
  const mqttPort = await freePort();
  const conf = join(dir.path, 'nats.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nserver_name: bench_mqtt\njetstream { store_dir: "${join(dir.path, 'js')}" }\nmqtt { listen: 127.0.0.1:${mqttPort} }\n`);
  const bin = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
  const child: ChildProcess = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const url = `nats://127.0.0.1:${port}`;
  try {
    await waitFor(() => log.includes('Server is ready'), 'nats-server with MQTT to start', 15_000);
    const nc = await connect({ servers: url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'MQTT_TELEMETRY', subjects: ['iip.*.*.telemetry'], storage: StorageType.File, retention: RetentionPolicy.Limits });
    await nc.close();
    const r = await load(`mqtt://127.0.0.1:${mqttPort}`, 4, false);
    return line('nats-server MQTT listener → stream, MQTT 3.1.1', r, await streamMessages(url, 'MQTT_TELEMETRY'));
  } finally {
    child.kill('SIGTERM');
    await stopChild(child);
    await dir.cleanup();
  }
}

console.log(`MQTT QoS 1 into a JetStream file stream: ${MESSAGES} messages, ${CLIENTS} clients, ${IN_FLIGHT} in flight`);
console.log(await iipFrontDoor(4));
console.log(await iipFrontDoor(5));
console.log(await natsMqttListener());
process.exit(0);
