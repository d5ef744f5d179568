/**
 * `npm run bench -- resolve`: resolution of random handles among 1,000,000 stored (SQLite HandleStore +
 * LocalHandleService), over the Handle binary protocol (UDP) and over REST (`GET /api/handles/{h}`), each
 * beside a baseline measured in the same run with the same load generator: a Node dgram echo server and a
 * Fastify route returning a constant. The generators share the machine with the server, so they are the
 * cheap ones: bench/udp-load.c (compiled here with `cc -O2`, requests built from this codec's own bytes) and
 * `wrk` with bench/resolve.lua. Without cc or wrk the bench says how to install them and falls back to a
 * Node generator in a child process, labelled as such (it costs the server most of a core). 127.0.0.1 only.
 *
 * The node is set up as `iip id serve` sets one up: V8 tuned for serving (heap-tuning.ts), both front doors
 * listening, then its pre-rendered public answers warmed from the store (time and memory are printed). The
 * baselines run afterwards in the same process, with the node and its memory still there.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
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
  tuneHeapForResolution,
} from '@iip/identifiers';
import { Mulberry32 } from '@iip/core';
import { openSqliteHandleStore } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import Fastify from 'fastify';
import { valuesFor } from './handle-store.js';

const N = Number(process.env.RESOLVE_HANDLES ?? 1_000_000);
const SECONDS = Number(process.env.RESOLVE_SECONDS ?? 5);
/** Measuring windows per server and per baseline (alternating); the median counts. */
const ROUNDS = Math.max(1, Number(process.env.RESOLVE_ROUNDS ?? 3));
const UDP_SOCKETS = Number(process.env.RESOLVE_UDP_SOCKETS ?? 4);
const UDP_IN_FLIGHT = Number(process.env.RESOLVE_UDP_IN_FLIGHT ?? 128);
const HTTP_CONNECTIONS = Number(process.env.RESOLVE_HTTP_CONNECTIONS ?? 64);
const PREFIX = '88.118';
/** Handles are `88.118/BENCH-<n>`, n < N, so the generators can make names without a list. */
const NAME = `${PREFIX}/BENCH-`;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const WRK = '/usr/bin/wrk';

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
  /** Which generator measured it (the fallbacks are labelled in the output). */
  generator?: string;
  /** CPU seconds the generator itself used, when it reports them. */
  cpuSeconds?: number;
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
  // (An LCG in doubles, as this was, loses its low bits and cycles through a small set of handles.)
  const rng = new Mulberry32(12345);
  const nextHandle = (): number => Math.floor(rng.next() * job.handles);
  const requestFor = (id: number): Buffer =>
    encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, requestId: id },
      header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'resolution-request', handle: `${NAME}${nextHandle()}`, indexes: [], types: [] },
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
  return { completed, seconds, lost, errors, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), generator: 'node dgram (fallback)' };
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
  return { completed, seconds, lost: 0, errors, p50: 0, p99: 0, generator: 'node http (fallback)' };
}

// ---------------------------------------------------------------- native generators

/** Runs a generator to completion and returns the JSON object on its last line of output. */
function runJson(cmd: string, args: string[], generator: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`${cmd} exited with ${code}; output: ${out.slice(-500)}`));
      const r = JSON.parse(last) as LoadResult & { non2xx?: number };
      resolve({ ...r, lost: r.lost ?? 0, errors: r.errors + (r.non2xx ?? 0), generator });
    });
  });
}

/** Compiles bench/udp-load.c; undefined (with how to fix it printed) when there is no C compiler. */
function compileUdpLoad(dir: string): string | undefined {
  const exe = join(dir, 'udp-load');
  try {
    execFileSync('cc', ['-O2', '-o', exe, join(HERE, 'udp-load.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
    return exe;
  } catch (e) {
    console.log(`cannot compile bench/udp-load.c (${(e as Error).message.split('\n')[0]}); install a C compiler (apt-get install gcc). Falling back to the Node UDP generator.`);
    return undefined;
  }
}

/** One resolution request encoded by our codec: the C generator copies it and swaps in other names. */
function udpTemplate(): { hex: string; nameOffset: number } {
  const name = `${NAME}0`;
  const bytes = encodeMessage({
    envelope: { ...DEFAULT_ENVELOPE, requestId: 1 },
    header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
    body: { kind: 'resolution-request', handle: name, indexes: [], types: [] },
  });
  const nameOffset = bytes.indexOf(Buffer.from(name, 'utf8'));
  if (nameOffset < 4 || bytes.readUInt32BE(nameOffset - 4) !== name.length) throw new Error('resolution request layout changed: the handle is no longer a length-prefixed string');
  return { hex: bytes.toString('hex'), nameOffset };
}

function runUdp(exe: string | undefined, port: number, mode: 'handle' | 'echo'): Promise<LoadResult> {
  if (!exe) return runFork('--load-udp', { port, handles: N, seconds: SECONDS, sockets: UDP_SOCKETS, inFlightPerSocket: Math.ceil(UDP_IN_FLIGHT / UDP_SOCKETS) });
  const t = udpTemplate();
  const maxRequests = 2_000_000 * SECONDS;
  return runJson(exe, [String(port), t.hex, String(t.nameOffset), NAME, String(N), String(UDP_SOCKETS), String(UDP_IN_FLIGHT), '1', String(SECONDS), String(maxRequests), mode], 'udp-load.c');
}

async function runHttp(port: number): Promise<LoadResult> {
  if (!existsSync(WRK)) {
    const paths = Array.from({ length: 10_000 }, (_, k) => `/api/handles/${NAME}${(k * 7919) % N}`);
    return runFork('--load-http', { port, paths, seconds: SECONDS, connections: HTTP_CONNECTIONS });
  }
  const url = `http://127.0.0.1:${port}`;
  const args = (seconds: number) => ['-t1', `-c${HTTP_CONNECTIONS}`, `-d${seconds}s`, '-s', join(HERE, 'resolve.lua'), url, '--', String(N), `/api/handles/${NAME}`];
  await runJson(WRK, args(1), 'wrk'); // warm-up: connections, JIT, page cache
  return runJson(WRK, args(SECONDS), 'wrk -t1 + bench/resolve.lua');
}

// ---------------------------------------------------------------- the measuring process

function runFork(kind: '--load-udp' | '--load-http', job: UdpJob | HttpJob): Promise<LoadResult> {
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

/** Runs `load` and reports, beside its result, the CPU this (the server's) process used meanwhile. */
async function measured(load: () => Promise<LoadResult>): Promise<LoadResult & { serverCpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await load();
  const c = process.cpuUsage(c0);
  return { ...r, serverCpu: (c.user + c.system) / 1000 / (performance.now() - t0) };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number): string => `${Math.round(x * 100)} %`;
const load1 = (): string => loadavg()[0]?.toFixed(2) ?? '?';

export async function main(): Promise<void> {
  // The same V8 tuning `iip id serve` applies to a node process; the baselines run under it too.
  const heap = tuneHeapForResolution();
  const dir = await tempDir('iip-bench-resolve-');
  const file = join(dir.path, 'handles.db');
  let store = openSqliteHandleStore({ file });
  try {
    const udpExe = compileUdpLoad(dir.path);
    if (!existsSync(WRK)) console.log(`${WRK} not found: install it (apt-get install wrk). Falling back to the Node HTTP generator, which costs the server most of a core.`);
    await LocalHandleService.bootstrap({ store, prefix: PREFIX, adminHandle: `0.NA/${PREFIX}`, adminIndex: 300, secretKey: new TextEncoder().encode('bench-secret') });
    const t0 = performance.now();
    for (let start = 0; start < N; start += 50_000) {
      await store.transaction(async (tx) => {
        for (let i = start; i < Math.min(N, start + 50_000); i++) {
          const handle = `${NAME}${i}`;
          await tx.create(handle.toLowerCase(), { handle, values: valuesFor(i) });
        }
      });
    }
    console.log(`stored ${fmt(N)} handles in ${((performance.now() - t0) / 1000).toFixed(1)} s (SQLite HandleStore + LocalHandleService); V8 ${heap}; load average ${load1()}`);
    // Serve from a freshly opened store, as a node does after loading: the writer's connection carries the
    // bulk load's WAL and page-cache state, which is not what resolution sees in production.
    await store.close();
    store = openSqliteHandleStore({ file });
    const service = new LocalHandleService({ store, role: 'secondary', site: { primary: true, multiPrimary: false, serialNumber: 1, servers: [{ serverId: 1, address: '127.0.0.1' }] } });

    // The node's two front doors, then its pre-rendered answers warmed from the store, as `iip id serve` does.
    const node = await startHandleProtocolServer({ service, udpPort: 0, tcpPort: 0 });
    const rest = await buildHandleRestApp(service, { auth: secretKeyAuth(service) });
    await rest.listen({ port: 0, host: '127.0.0.1' });
    const rss0 = process.memoryUsage().rss;
    const warm = await service.warmPublicAnswers();
    const mib = (b: number): string => `${Math.round(b / 1024 / 1024)} MiB`;
    console.log(
      `warmed ${fmt(warm.added)} pre-rendered answers (UDP + REST) from ${fmt(warm.read)} records in ${warm.seconds.toFixed(1)} s; RSS +${mib(process.memoryUsage().rss - rss0)} (now ${mib(process.memoryUsage().rss)})`,
    );

    // Each pair (server, its baseline) is measured ROUNDS times, alternating, and the median window counts:
    // the machine is shared and its speed drifts, and alternating makes the drift hit both sides alike.
    type Measured = LoadResult & { serverCpu: number };
    const rate = (r: Measured): number => r.completed / r.seconds;
    const median = (runs: Measured[]): Measured => [...runs].sort((a, b) => rate(a) - rate(b))[Math.floor(runs.length / 2)] as Measured;
    const window = (runs: Measured[]): string => runs.map((r) => fmt(rate(r))).join(' / ');
    async function pair(a: () => Promise<LoadResult>, b: () => Promise<LoadResult>): Promise<[Measured[], Measured[]]> {
      const as: Measured[] = [];
      const bs: Measured[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        as.push(await measured(a));
        bs.push(await measured(b));
      }
      return [as, bs];
    }

    // UDP: the node and a dgram echo server under the same generator.
    const echo = createSocket('udp4');
    echo.on('message', (m, r) => echo.send(m, r.port, r.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
    const [udpRuns, echoRuns] = await pair(
      () => runUdp(udpExe, node.udpPort, 'handle'),
      () => runUdp(udpExe, echo.address().port, 'echo'),
    );
    echo.close();
    const udpAnswers = node.stats();
    const udp = median(udpRuns);
    const udpBase = median(echoRuns);
    const udpQps = rate(udp);
    const udpBaseQps = rate(udpBase);
    const genCpu = (r: LoadResult): string => (r.cpuSeconds === undefined ? '' : `, generator CPU ${pct(r.cpuSeconds / (r.seconds + 1))}`);
    console.log(
      `udp resolve [${udp.generator}]: ${fmt(udpQps)} qps median of ${window(udpRuns)} (p50 ${udp.p50.toFixed(2)} ms, p99 ${udp.p99.toFixed(2)} ms, lost ${udpRuns.reduce((n, r) => n + r.lost, 0)}, non-success ${udpRuns.reduce((n, r) => n + r.errors, 0)}; server CPU ${pct(udp.serverCpu)}${genCpu(udp)}; pre-rendered answers ${fmt(udpAnswers.answerHits)} hits / ${fmt(udpAnswers.answerMisses)} misses)`,
    );
    console.log(`udp echo baseline [${udpBase.generator}]: ${fmt(udpBaseQps)} qps median of ${window(echoRuns)} (p99 ${udpBase.p99.toFixed(2)} ms; server CPU ${pct(udpBase.serverCpu)}${genCpu(udpBase)})`);

    // REST: the Handle.Net-shaped API and a Fastify route returning a constant, same generator.
    const base = Fastify();
    base.get('/api/handles/*', async () => ({ responseCode: 1, handle: 'constant', values: [] }));
    await base.listen({ port: 0, host: '127.0.0.1' });
    const portOf = (app: { server: { address(): ReturnType<typeof base.server.address> } }): number => {
      const a = app.server.address();
      return typeof a === 'object' && a ? a.port : 0;
    };
    const [restRuns, baseRuns] = await pair(
      () => runHttp(portOf(rest)),
      () => runHttp(portOf(base)),
    );
    await base.close();
    // The node closes only now: the baselines ran in the same process with the same heap (its answers
    // included), not in one that had just released them for the garbage collector.
    await rest.close();
    await node.close();
    const restRes = median(restRuns);
    const baseRes = median(baseRuns);
    const restRps = rate(restRes);
    const baseRps = rate(baseRes);
    console.log(
      `rest resolve [${restRes.generator}]: ${fmt(restRps)} req/s median of ${window(restRuns)} (p50 ${restRes.p50.toFixed(2)} ms, p99 ${restRes.p99.toFixed(2)} ms, errors/non-2xx ${restRuns.reduce((n, r) => n + r.errors, 0)}; server CPU ${pct(restRes.serverCpu)})`,
    );
    console.log(`rest fastify constant baseline [${baseRes.generator}]: ${fmt(baseRps)} req/s median of ${window(baseRuns)} (p99 ${baseRes.p99.toFixed(2)} ms; server CPU ${pct(baseRes.serverCpu)}); load average ${load1()}`);
    console.log(
      `resolve: udp ${fmt(udpQps)} qps (baseline ${fmt(udpBaseQps)}, ratio ${(udpQps / udpBaseQps).toFixed(2)}), rest ${fmt(restRps)} req/s (baseline ${fmt(baseRps)}, ratio ${(restRps / baseRps).toFixed(2)}), p99 ${udp.p99.toFixed(2)} ms`,
    );
  } finally {
    await store.close();
    await dir.cleanup();
  }
}

const role = process.argv[2];
if (role === '--load-udp' || role === '--load-http') {
  const job = await new Promise<unknown>((resolve) => process.once('message', resolve));
  const result = role === '--load-udp' ? await udpLoad(job as UdpJob) : await httpLoad(job as HttpJob);
  process.send?.(result, () => process.exit(0));
}
