/**
 * MQTT front-door benchmark (issue 10, point 8; ADR 0005): the same QoS 1 load — mqtt.js clients in a
 * separate process, 127.0.0.1 only, a fixed number of messages — against three ways of taking device
 * telemetry in, each handing every message to the platform side (here: a counter, the same for all):
 *   1. aedes, today's embedded broker (MQTT 3.1.1 only) — the baseline;
 *   2. Debian's Mosquitto 2 (MQTT 5) with the platform as a subscriber (a shared QoS 1 subscription of an
 *      mqtt.js client in this process) — the "real broker managed by iip" option; the figure counts what
 *      reached the platform, and the broker's CPU is read from /proc;
 *   3. iip's own front door on mqtt-packet (the MQTT.js project's codec, 3.1.1 and 5; ADR 0005) — the
 *      "MQTT 5 in the embedded front door" option, PUBACK sent once the platform side has the message (where a
 *      commit would go).
 * Each is measured with MQTT 3.1.1 and 5 clients where it can. Ratios are to aedes in the same run.
 * Knobs: MQTT_BENCH_MESSAGES (default 200000), MQTT_BENCH_CLIENTS (20), MQTT_BENCH_INFLIGHT (2000).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, tempDir } from '@iip/testkit';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { type FrontDoorPolicy, MqttFrontDoor } from '@iip/device-access';
import { runJsonChild, stopChild } from './child-process.js';

const MESSAGES = Number(process.env.MQTT_BENCH_MESSAGES ?? 200_000);
const CLIENTS = Number(process.env.MQTT_BENCH_CLIENTS ?? 20);
const IN_FLIGHT = Number(process.env.MQTT_BENCH_INFLIGHT ?? 2000);
const CLK_TCK = 100;

interface LoadResult {
  acked: number;
  seconds: number;
  cpuSeconds: number;
}

function load(url: string, protocolVersion: 4 | 5): Promise<LoadResult> {
  const job = { url, protocolVersion, clients: CLIENTS, messages: MESSAGES, inFlight: IN_FLIGHT, topicOf: 'iip/default/dev-{i}/telemetry' };
  return runJsonChild<LoadResult>('mqtt-load.ts', job).done;
}

/** CPU seconds a process has used (utime + stime from /proc). */
function procCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Measured {
  name: string;
  version: 4 | 5;
  delivered: number;
  seconds: number;
  serverCpu: number;
}

async function measure(name: string, version: 4 | 5, url: string, delivered: () => number, serverCpu: () => number, drained: () => Promise<void>): Promise<Measured> {
  const d0 = delivered();
  const c0 = serverCpu();
  const t0 = performance.now();
  const r = await load(url, version);
  await drained();
  const seconds = (performance.now() - t0) / 1000;
  const m = { name, version, delivered: delivered() - d0, seconds, serverCpu: serverCpu() - c0 };
  if (r.acked !== MESSAGES && r.acked < MESSAGES) throw new Error(`${name}: only ${r.acked} of ${MESSAGES} acknowledged`);
  console.log(`${name} (MQTT ${version === 5 ? '5' : '3.1.1'}): ${Math.round(m.delivered / m.seconds).toLocaleString('en-US')} msg/s delivered to the platform side (${m.delivered.toLocaleString('en-US')} in ${m.seconds.toFixed(2)} s; server CPU ${Math.round((m.serverCpu / m.seconds) * 100)} %, ${((m.serverCpu / m.delivered) * 1e6).toFixed(1)} µs/msg)`);
  return m;
}

const inProcessCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

async function benchAedes(): Promise<Measured[]> {
  let count = 0;
  const broker = await Aedes.createBroker({
    authorizePublish: (_client, _packet, cb) => {
      count++;
      cb(null);
    },
  });
  const server = createServer(broker.handle);
  const port = await listen(server);
  try {
    return [await measure('aedes (embedded today)', 4, `mqtt://127.0.0.1:${port}`, () => count, inProcessCpu, async () => {})];
  } finally {
    server.close();
    await new Promise<void>((r) => broker.close(() => r()));
  }
}

/** The front door of ADR 0005 (packages/device-access/src/mqtt/front-door.ts) with a policy that only counts. */
async function benchPacketFrontDoor(): Promise<Measured[]> {
  let count = 0;
  const policy: FrontDoorPolicy = {
    authenticate: (_u, _p, clientId) => ({ identity: { tenant: 'default', device: clientId } }),
    publish: () => {
      count++;
      return { accepted: true, forward: false };
    },
    mayPublishWill: () => false,
    maySubscribe: () => true,
  };
  const door = new MqttFrontDoor({ policy, host: '127.0.0.1', port: 0 });
  const port = await door.listen();
  try {
    const out: Measured[] = [];
    for (const v of [4, 5] as const) out.push(await measure('iip front door (mqtt-packet)', v, `mqtt://127.0.0.1:${port}`, () => count, inProcessCpu, async () => {}));
    return out;
  } finally {
    await door.close();
  }
}

async function benchMosquitto(): Promise<Measured[]> {
  const dir = await tempDir('iip-bench-mosquitto-');
  const port = await freePort();
  const conf = join(dir.path, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nlog_type error\n`);
  const broker: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['pipe', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 500));
  const pid = broker.pid as number;
  let count = 0;
  // The platform side: one subscriber (several platform processes would share it with $share/…).
  const platform = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'iip-platform', clean: true, reconnectPeriod: 0 });
  platform.on('message', () => {
    count++;
  });
  await platform.subscribeAsync('$share/iip/iip/+/+/telemetry', { qos: 1 });
  const cpu = () => procCpuSeconds(pid) + inProcessCpu();
  // Everything acknowledged to the devices has also to reach the platform before the clock stops.
  const drained = (target: () => number) => async () => {
    const until = Date.now() + 60_000;
    while (count < target() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  };
  try {
    const out: Measured[] = [];
    for (const v of [4, 5] as const) {
      const start = count;
      out.push(await measure('Mosquitto 2 + platform subscriber', v, `mqtt://127.0.0.1:${port}`, () => count, cpu, drained(() => start + MESSAGES)));
    }
    return out;
  } finally {
    await platform.endAsync();
    await stopChild(broker);
    await dir.cleanup();
  }
}

export async function main(): Promise<void> {
  console.log(`mqtt-front-door: ${MESSAGES.toLocaleString('en-US')} QoS 1 messages of ${CLIENTS} clients, ${IN_FLIGHT} in flight, 127.0.0.1; the load generator runs in its own process`);
  // Two rounds in the same order; each configuration's figure is its better round (the first round of each
  // also pays for JIT warm-up, which would favour whichever runs later).
  const rounds: Measured[][] = [];
  for (let round = 1; round <= 2; round++) {
    console.log(`round ${round}:`);
    rounds.push([...(await benchAedes()), ...(await benchPacketFrontDoor()), ...(await benchMosquitto())]);
  }
  const results = (rounds[0] as Measured[]).map((m, i) => {
    const other = (rounds[1] as Measured[])[i] as Measured;
    return other.serverCpu / other.delivered < m.serverCpu / m.delivered ? other : m;
  });
  const base = results[0] as Measured;
  const rate = (m: Measured) => m.delivered / m.seconds;
  const cpuPerMsg = (m: Measured) => (m.serverCpu / m.delivered) * 1e6;
  console.log(
    `mqtt-front-door: ${results
      .slice(1)
      .map((m) => `${m.name} v${m.version === 5 ? 5 : '3.1.1'} ${Math.round(rate(m)).toLocaleString('en-US')} msg/s (ratio ${(rate(m) / rate(base)).toFixed(2)}, CPU/msg ${(cpuPerMsg(m) / cpuPerMsg(base)).toFixed(2)}×)`)
      .join('; ')}; baseline aedes ${Math.round(rate(base)).toLocaleString('en-US')} msg/s`,
  );
}
