/**
 * `npm run bench -- opcua`: how many value changes per second the OPC UA driver delivers, and at what
 * CPU cost, against a baseline measured in the same run: a bare node-opcua client subscription on the
 * same monitored items (what any OPC UA gateway pays at least). A separate process runs the simulator
 * server (its CPU is not counted) with 50 devices and rewrites every variable every 50 ms; both phases
 * monitor every variable at a 50 ms sampling interval, publishing every 100 ms. OPCUA_BENCH_SECONDS
 * changes the duration of each phase.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { OpcUaChannelConfig } from '@iip/core';
import { OpcUaDriver } from '@iip/device-access';
import { startOpcUaServer } from '@iip/simulator';
import { AttributeIds, OPCUACertificateManager, OPCUAClient, TimestampsToReturn } from 'node-opcua';
import { stopChild } from './child-process.js';

const DEVICES = 50;
const PRODUCTS = ['cnc-machine', 'air-compressor', 'injection-moulding-machine', 'energy-meter'];
const STORM_MS = 50;

/** Child mode: serve the devices, print the channel config, rewrite every numeric variable every STORM_MS. */
async function serve(): Promise<void> {
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `dev-${i}`, product: PRODUCTS[i % PRODUCTS.length] ?? 'energy-meter' }));
  const server = await startOpcUaServer({ port: 0, devices, paused: true });
  const config = server.channelConfig('None', { id: 'bench', samplingIntervalMs: 50, publishingIntervalMs: 100 });
  const numeric = config.devices.flatMap((d) => d.points.filter((p) => typeof server.get(d.id, p.property) === 'number').map((p) => [d.id, p.property] as const));
  const bench: OpcUaChannelConfig = { ...config, devices: config.devices.map((d) => ({ ...d, points: d.points.filter((p) => numeric.some(([id, q]) => id === d.id && q === p.property)) })) };
  console.log(JSON.stringify(bench));
  let n = 0;
  const timer = setInterval(() => {
    n++;
    for (const [device, property] of numeric) server.set(device, property, n % 1000);
  }, STORM_MS);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    clearInterval(timer);
    await server.close();
    process.exit(0);
  });
}

interface Phase {
  readonly readingsPerSecond: number;
  readonly cpuPercent: number;
}

async function measure(seconds: number, start: (count: (n: number) => void) => Promise<() => Promise<void>>): Promise<Phase> {
  let readings = 0;
  let counting = false;
  const stop = await start((n) => {
    if (counting) readings += n;
  });
  // let the initial values and the first publish cycles pass before measuring
  await new Promise((r) => setTimeout(r, 1000));
  counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  await stop();
  return { readingsPerSecond: readings / (wallMs / 1000), cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100 };
}

async function rawPhase(config: OpcUaChannelConfig, pkiDir: string, seconds: number): Promise<Phase> {
  return measure(seconds, async (count) => {
    const cm = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: true });
    const client = OPCUAClient.create({ endpointMustExist: false, clientCertificateManager: cm, connectionStrategy: { maxRetry: 1, initialDelay: 100, maxDelay: 500 } });
    await client.connect(config.endpointUrl);
    const session = await client.createSession();
    const sub = await session.createSubscription2({ requestedPublishingInterval: config.publishingIntervalMs ?? 100, requestedMaxKeepAliveCount: 10, requestedLifetimeCount: 120, maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 10 });
    const items = config.devices.flatMap((d) => d.points.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value })));
    const group = await sub.monitorItems(items, { samplingInterval: 50, discardOldest: true, queueSize: 10 }, TimestampsToReturn.Both);
    group.on('changed', () => count(1));
    return async () => {
      await sub.terminate();
      await client.disconnect();
    };
  });
}

async function driverPhase(config: OpcUaChannelConfig, pkiDir: string, seconds: number): Promise<Phase> {
  return measure(seconds, async (count) => {
    const driver = new OpcUaDriver({ ...config, pkiDir });
    await driver.connect();
    await driver.subscribe((rs) => count(rs.length));
    return () => driver.close();
  });
}

export async function main(): Promise<void> {
  const seconds = Number(process.env.OPCUA_BENCH_SECONDS ?? 10);
  const pkiDir = await mkdtemp(join(tmpdir(), 'iip-bench-opcua-'));
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    const config = await new Promise<OpcUaChannelConfig>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`OPC UA simulator exited with ${code}`)));
      // node-opcua logs to stdout too; the config is the one line that is a JSON object
      createInterface({ input: child.stdout ?? process.stdin }).on('line', (l) => {
        if (l.startsWith('{"id"')) resolve(JSON.parse(l) as OpcUaChannelConfig);
      });
    });
    const items = config.devices.reduce((n, d) => n + d.points.length, 0);
    console.log(`${DEVICES} simulated devices, ${items} monitored items, every value rewritten every ${STORM_MS} ms (separate process); ${seconds} s per phase`);
    const raw = await rawPhase(config, join(pkiDir, 'raw'), seconds);
    console.log(`  bare node-opcua subscription (baseline) ${raw.readingsPerSecond.toFixed(0)} changes/s, CPU ${raw.cpuPercent.toFixed(1)}%`);
    const drv = await driverPhase(config, join(pkiDir, 'driver'), seconds);
    console.log(`  OpcUaDriver                             ${drv.readingsPerSecond.toFixed(0)} readings/s, CPU ${drv.cpuPercent.toFixed(1)}%`);
    console.log(
      `opcua: ${drv.readingsPerSecond.toFixed(0)} readings/s at CPU ${drv.cpuPercent.toFixed(1)}%, bare node-opcua ${raw.readingsPerSecond.toFixed(0)}/s at CPU ${raw.cpuPercent.toFixed(1)}%, ` +
        `ratio ${(drv.readingsPerSecond / raw.readingsPerSecond).toFixed(2)}`,
    );
  } finally {
    await stopChild(child);
    await rm(pkiDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--serve')) await serve();
  else await main();
}
