/**
 * Edge-drain benchmark (issue 3): the edge gateway buffers 1,000,000 points on disk while its uplink is down,
 * then a local aedes broker comes up and the figure is the drain rate — points per second from the moment
 * the gateway connects until the broker has seen every point. The baseline, in the same run, is the live
 * rate: points per second forwarded with an empty buffer and the uplink up, through the same path (every
 * point is committed to disk first) with the same message sizes. A small in-file driver stands in for PLCs
 * so the figure is the gateway's, not a protocol's.
 *
 * Knobs (environment): BENCH_POINTS (default 1000000), BENCH_LIVE_POINTS (500000), BENCH_SYNC (FULL | NORMAL:
 * the buffer's SQLite synchronous level, default FULL as in production).
 */
import { createServer } from 'node:net';
import type { ChannelConfig, Driver, DriverHealth, DriverReading, ReadingSink } from '@iip/core';
import { EdgeGateway } from '@iip/edge-gateway';
import { freePort, tempDir, waitFor } from '@iip/testkit';
import { Aedes } from 'aedes';

const DEVICES = 10;
const PROPS = 10;
/** Points per emitted batch: 100 records per device, so messages carry 1000 points in both phases. */
const BATCH_RECORDS_PER_DEVICE = 100;

function env(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

/** Emits batches on demand; stands in for the PLCs of one channel. */
class BenchDriver implements Driver {
  readonly channel: string;
  readonly protocol = 'bench';
  private sink: ReadingSink | null = null;
  private seq = 0;
  private readonly t0 = Date.now() - 24 * 3600_000;
  constructor(c: ChannelConfig) {
    this.channel = c.id;
  }
  async connect(): Promise<void> {}
  readPlan() {
    return [];
  }
  async subscribe(onReadings: ReadingSink): Promise<void> {
    this.sink = onReadings;
  }
  get ready(): boolean {
    return this.sink !== null;
  }
  /** One batch: BATCH_RECORDS_PER_DEVICE timestamps × PROPS properties for every device. */
  emitBatch(): number {
    const out: DriverReading[] = [];
    for (let r = 0; r < BATCH_RECORDS_PER_DEVICE; r++) {
      const ts = this.t0 + this.seq++;
      for (let d = 0; d < DEVICES; d++) {
        for (let p = 0; p < PROPS; p++) out.push({ device: `dev-${d}`, property: `p${p}`, ts, value: (ts % 1000) + p / 10 });
      }
    }
    this.sink?.(out);
    return out.length;
  }
  async readOnce(): Promise<DriverReading[]> {
    return [];
  }
  async write(): Promise<void> {}
  health(): DriverHealth {
    return { channel: this.channel, protocol: this.protocol, connected: true, devices: [] };
  }
  async close(): Promise<void> {
    this.sink = null;
  }
}

const turn = () => new Promise((r) => setImmediate(r));

export async function main(): Promise<void> {
  const total = env('BENCH_POINTS', 1_000_000);
  const livePoints = env('BENCH_LIVE_POINTS', 500_000);
  const dir = await tempDir('iip-bench-edge-');
  const port = await freePort();
  let driver: BenchDriver | null = null;
  const channel: ChannelConfig = {
    id: 'bench',
    protocol: 'modbus-tcp',
    host: '127.0.0.1',
    port: 502,
    devices: Array.from({ length: DEVICES }, (_, d) => ({ id: `dev-${d}`, unitId: d + 1, pollIntervalMs: 1000, points: [] })),
  };
  const gw = new EdgeGateway({
    platform: { mqttUrl: `mqtt://127.0.0.1:${port}`, tenant: 'bench', gatewayId: 'gw', secret: 'x' },
    dataDir: dir.path,
    driverFactory: (c) => {
      driver = new BenchDriver(c);
      return driver;
    },
    initialConfig: { version: 1, config: { channels: [channel] } },
    drain: { maxPointsPerSec: Number.POSITIVE_INFINITY, maxInFlight: 64 },
    buffer: { synchronous: process.env.BENCH_SYNC === 'NORMAL' ? 'NORMAL' : 'FULL' },
    reconnectPeriodMs: 50,
  });
  let arrived = 0;
  let messages = 0;
  const broker = await Aedes.createBroker();
  broker.on('publish', (packet, client) => {
    if (!client || !packet.topic.endsWith('/telemetry')) return;
    messages++;
    for (const rec of JSON.parse((packet.payload as Buffer).toString()) as { values: Record<string, unknown> }[]) {
      arrived += Object.keys(rec.values).length;
    }
  });
  const server = createServer(broker.handle);
  try {
    await gw.start();
    const drv = await waitFor(() => (driver?.ready ? driver : null), 'the bench driver to run');

    console.log(`edge-drain: buffering ${total} points with the uplink down …`);
    const b0 = performance.now();
    let emitted = 0;
    while (emitted < total) {
      emitted += drv.emitBatch();
      await turn();
    }
    await waitFor(() => gw.stats().collectedPoints >= emitted, 'the buffer to commit every point', 120_000, 5);
    const bufferSecs = (performance.now() - b0) / 1000;
    const s = gw.stats().buffer;
    console.log(`edge-drain: ${s.points} points on disk (${(s.bytes / 1e6).toFixed(1)} MB logical) in ${bufferSecs.toFixed(1)} s (${Math.round(s.points / bufferSecs)} points/s committed)`);

    console.log('edge-drain: uplink up, draining …');
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    await waitFor(() => arrived >= s.points, 'every buffered point to arrive', 600_000, 2);
    const drainDone = Date.now();
    const connectedAt = gw.stats().uplink.lastConnectedAt ?? drainDone;
    const drainRate = s.points / Math.max(0.001, (drainDone - connectedAt) / 1000);
    console.log(`edge-drain: drained ${s.points} points in ${messages} messages in ${((drainDone - connectedAt) / 1000).toFixed(2)} s`);

    console.log(`edge-drain: live baseline — ${livePoints} points with an empty buffer and the uplink up …`);
    await waitFor(() => gw.stats().buffer.points === 0, 'the buffer to be empty', 60_000, 5);
    const arrived0 = arrived;
    const l0 = performance.now();
    let liveEmitted = 0;
    // Emit as fast as the gateway forwards, keeping at most two batches waiting so the buffer stays (nearly) empty.
    const batch = DEVICES * PROPS * BATCH_RECORDS_PER_DEVICE;
    while (liveEmitted < livePoints) {
      if (liveEmitted - (arrived - arrived0) < 2 * batch) liveEmitted += drv.emitBatch();
      await turn();
    }
    await waitFor(() => arrived - arrived0 >= liveEmitted, 'every live point to arrive', 120_000, 2);
    const liveRate = liveEmitted / ((performance.now() - l0) / 1000);

    console.log(`edge-drain: ${Math.round(drainRate)} points/s drained, live rate ${Math.round(liveRate)} points/s, ratio ${(drainRate / liveRate).toFixed(2)}`);
  } finally {
    await gw.stop();
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()));
    await dir.cleanup();
  }
}

if (process.argv[1]?.endsWith('edge-drain.ts')) await main();
