/**
 * `npm run bench -- resolve`: resolution of random handles among 1,000,000 stored (SQLite HandleStore +
 * LocalHandleService), over the Handle binary protocol (UDP) and over REST (`GET /api/handles/{h}`), each
 * beside a baseline measured in the same run with the same load generator: a Node dgram echo server and a
 * Fastify route returning a constant. Load generators run in a second process (this file, started with
 * `--load-udp` / `--load-http`), so the measured process has its CPU to itself; 127.0.0.1 only.
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_ENVELOPE,
  LocalHandleService,
  OpCode,
  buildHandleRestApp,
  encodeMessage,
  secretKeyAuth,
  startHandleProtocolServer,
} from '@iip/identifiers';
import { type StoredHandleValue, openSqliteHandleStore } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import Fastify from 'fastify';

const N = Number(process.env.RESOLVE_HANDLES ?? 1_000_000);
const SECONDS = Number(process.env.RESOLVE_SECONDS ?? 5);
const PREFIX = '88.118';

interface UdpJob {
  port: number;
  handles: number;
  seconds: number;
  sockets: number;
  inFlightPerSocket: number;
}
interface HttpJob {
  port: number;
  paths: string[];
  seconds: number;
  connections: number;
}
interface LoadResult {
  completed: number;
  seconds: number;
  lost: number;
  errors: number;
  p50: number;
  p99: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);
}

// ---------------------------------------------------------------- load generators (child process)

async function udpLoad(job: UdpJob): Promise<LoadResult> {
  const sockets = Array.from({ length: job.sockets }, () => createSocket('udp4'));
  const latencies = new Float64Array(4_000_000);
  let nLat = 0;
  let completed = 0;
  let lost = 0;
  let errors = 0;
  let running = true;
  let measuring = false;
  let seed = 12345;
  const nextHandle = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % job.handles;
  };
  const requestFor = (id: number): Buffer =>
    encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, requestId: id },
      header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'resolution-request', handle: `${PREFIX}/pump-${nextHandle()}`, indexes: [], types: [] },
    });
  const sentAt = new Map<number, number>();
  let nextId = 1;
  const fire = (s: ReturnType<typeof createSocket>): void => {
    if (!running) return;
    const id = nextId++;
    sentAt.set(id, performance.now());
    s.send(requestFor(id), job.port, '127.0.0.1');
  };
  for (const s of sockets) {
    s.on('message', (m) => {
      const id = m.readUInt32BE(8);
      const t0 = sentAt.get(id);
      if (t0 === undefined) return;
      sentAt.delete(id);
      if (m.length < 48 || m.readUInt32BE(24) !== 1) errors++;
      if (measuring) {
        completed++;
        if (nLat < latencies.length) latencies[nLat++] = performance.now() - t0;
      }
      fire(s);
    });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  }
  // A lost datagram would stall its slot forever: replace requests older than a second.
  const reaper = setInterval(() => {
    const now = performance.now();
    for (const [id, t0] of sentAt) {
      if (now - t0 < 1000) continue;
      sentAt.delete(id);
      lost++;
      fire(sockets[id % sockets.length] as ReturnType<typeof createSocket>);
    }
  }, 250);
  for (const s of sockets) for (let i = 0; i < job.inFlightPerSocket; i++) fire(s);
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, job.seconds * 1000));
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  running = false;
  clearInterval(reaper);
  for (const s of sockets) s.close();
  const sorted = latencies.subarray(0, nLat).sort();
  return { completed, seconds, lost, errors, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function httpLoad(job: HttpJob): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  let completed = 0;
  let errors = 0;
  let running = true;
  let measuring = false;
  let i = 0;
  const one = (): void => {
    if (!running) return;
    const path = job.paths[i++ % job.paths.length] as string;
    const req = request({ host: '127.0.0.1', port: job.port, path, agent }, (res) => {
      if (res.statusCode !== 200) errors++;
      res.resume();
      res.on('end', () => {
        if (measuring) completed++;
        one();
      });
    });
    req.on('error', () => {
      errors++;
      setImmediate(one);
    });
    req.end();
  };
  for (let c = 0; c < job.connections; c++) one();
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, job.seconds * 1000));
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  running = false;
  agent.destroy();
  return { completed, seconds, lost: 0, errors, p50: 0, p99: 0 };
}

// ---------------------------------------------------------------- the measuring process

function runLoad(kind: '--load-udp' | '--load-http', job: UdpJob | HttpJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [kind], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // The job travels over IPC: a path list is too long for argv.
    child.send(job);
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator ${kind} exited with ${code}`));
    });
  });
}

function valuesFor(i: number): StoredHandleValue[] {
  const perms = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };
  const enc = new TextEncoder();
  return [
    { index: 1, type: 'URL', data: enc.encode(`https://iip.example/things/${i}`), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms },
    { index: 2001, type: 'SERIAL', data: enc.encode(`SN-${i.toString(36)}`), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms },
  ];
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export async function main(): Promise<void> {
  const dir = await tempDir('iip-bench-resolve-');
  const store = openSqliteHandleStore({ file: join(dir.path, 'handles.db') });
  try {
    LocalHandleService.bootstrap({ store, prefix: PREFIX, adminHandle: `0.NA/${PREFIX}`, adminIndex: 300, secretKey: new TextEncoder().encode('bench-secret') });
    const t0 = performance.now();
    for (let start = 0; start < N; start += 50_000) {
      store.transaction(() => {
        for (let i = start; i < Math.min(N, start + 50_000); i++) {
          const handle = `${PREFIX}/pump-${i}`;
          store.create(handle, { handle, values: valuesFor(i) });
        }
      });
    }
    console.log(`stored ${fmt(N)} handles in ${((performance.now() - t0) / 1000).toFixed(1)} s (SQLite HandleStore + LocalHandleService)`);
    const service = new LocalHandleService({ store, role: 'secondary', site: { primary: true, multiPrimary: false, serialNumber: 1, servers: [{ serverId: 1, address: '127.0.0.1' }] } });

    // UDP: the node, then a dgram echo server, each under the same generator.
    const udpJob = (port: number): UdpJob => ({ port, handles: N, seconds: SECONDS, sockets: 4, inFlightPerSocket: 64 });
    const node = await startHandleProtocolServer({ service, udpPort: 0, tcpPort: 0 });
    const udp = await runLoad('--load-udp', udpJob(node.udpPort));
    await node.close();
    const echo = createSocket('udp4');
    echo.on('message', (m, r) => echo.send(m, r.port, r.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
    const udpBase = await runLoad('--load-udp', udpJob(echo.address().port));
    echo.close();
    const udpQps = udp.completed / udp.seconds;
    const udpBaseQps = udpBase.completed / udpBase.seconds;
    console.log(`udp resolve: ${fmt(udpQps)} qps (p50 ${udp.p50.toFixed(2)} ms, p99 ${udp.p99.toFixed(2)} ms, lost ${udp.lost}, non-success ${udp.errors})`);
    console.log(`udp echo baseline: ${fmt(udpBaseQps)} qps (p99 ${udpBase.p99.toFixed(2)} ms, lost ${udpBase.lost})`);

    // REST: the Handle.Net-shaped API, then a Fastify route returning a constant.
    const paths = Array.from({ length: 10_000 }, (_, k) => `/api/handles/${PREFIX}/pump-${(k * 7919) % N}`);
    const rest = await buildHandleRestApp(service, { auth: secretKeyAuth(service) });
    await rest.listen({ port: 0, host: '127.0.0.1' });
    const restAddr = rest.server.address();
    const restPort = typeof restAddr === 'object' && restAddr ? restAddr.port : 0;
    const restRes = await runLoad('--load-http', { port: restPort, paths, seconds: SECONDS, connections: 64 });
    await rest.close();
    const base = Fastify();
    base.get('/api/handles/*', async () => ({ responseCode: 1, handle: 'constant', values: [] }));
    await base.listen({ port: 0, host: '127.0.0.1' });
    const baseAddr = base.server.address();
    const baseRes = await runLoad('--load-http', { port: typeof baseAddr === 'object' && baseAddr ? baseAddr.port : 0, paths, seconds: SECONDS, connections: 64 });
    await base.close();
    const restRps = restRes.completed / restRes.seconds;
    const baseRps = baseRes.completed / baseRes.seconds;
    console.log(`rest resolve: ${fmt(restRps)} req/s (non-200 ${restRes.errors}); fastify constant baseline: ${fmt(baseRps)} req/s`);
    console.log(
      `resolve: udp ${fmt(udpQps)} qps (baseline ${fmt(udpBaseQps)}, ratio ${(udpQps / udpBaseQps).toFixed(2)}), rest ${fmt(restRps)} req/s (baseline ${fmt(baseRps)}, ratio ${(restRps / baseRps).toFixed(2)}), p99 ${udp.p99.toFixed(2)} ms`,
    );
  } finally {
    store.close();
    await dir.cleanup();
  }
}

const role = process.argv[2];
if (role === '--load-udp' || role === '--load-http') {
  const job = await new Promise<unknown>((resolve) => process.once('message', resolve));
  const result = role === '--load-udp' ? await udpLoad(job as UdpJob) : await httpLoad(job as HttpJob);
  process.send?.(result, () => process.exit(0));
}
