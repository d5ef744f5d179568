/**
 * `npm run bench -- fleet` (issue 20): a real fleet on one machine. The embedded platform runs in its own process;
 * 10,000 devices, each on its own MQTT connection from generator processes (fleet-generator.ts), connect at 500/s,
 * then each publishes one 6-point QoS 1 message per second for 60 s. Measured: points stored (counted in the
 * platform's SQLite file afterwards) against points sent, PUBACK latency percentiles and PUBACKs per second, the
 * platform's peak RSS (VmHWM) and its memory per connected device (RSS after the fleet connected, idle, minus RSS
 * before). Baseline, same run: the same generators against an MQTT server that stores nothing (fleet-ackonly.ts).
 * Then the same with 20,000 devices if this process's file limit allows it.
 *
 * Env: BENCH_FLEET_DEVICES (10000), BENCH_FLEET_SECONDS (60), BENCH_FLEET_GENERATORS (4), BENCH_FLEET_CONNECT_RATE
 * (500/s), BENCH_FLEET_LARGE (20000; 0 skips it), BENCH_FLEET_PROFILE (a directory: the platform writes a CPU profile there),
 * BENCH_FLEET_BASELINE (1; 0 skips the ack-only baseline), BENCH_FLEET_PREROLL (1: each device sends one unmeasured
 * message while connecting — a diagnosis; the stored count then exceeds the sent one), BENCH_FLEET_LOG (1: the
 * platform's log on stderr), BENCH_FLEET_DEBUG / BENCH_FLEET_TIMELINE (fleet-platform-debug.ts).
 * Last line: `fleet: <N> devices, <P> points/s stored of <S> sent, PUBACK p99 <L> ms, peak RSS <R> MB, <K> KB per device`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@iip/testkit';
import Database from 'better-sqlite3';
import { PLATFORM_NODE_FLAGS } from '../packages/cli/bin/node-flags.mjs';
import { stopChild } from './child-process.js';

const ADMIN_PASSWORD = 'bench-password-123';
const POINTS_PER_MESSAGE = 6;
const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

const MODEL = {
  properties: ['voltage', 'current', 'power', 'energy', 'frequency', 'power_factor'].map((id) => ({ id, name: id, dataType: { type: 'float' }, access: 'r' })),
  events: [],
  services: [],
};

interface GeneratorResult {
  connected: number;
  sent: number;
  acked: number;
  errors: number;
  firstError: string | null;
  latencies: number[];
  ackPerSecond: number[];
  slowPerSecond: number[];
}

/** Starts a bench script in its own process; resolves with the first JSON line it prints (it keeps running). */
function startChild(script: string, job: unknown, onStderr?: (line: string) => void, nodeFlags: readonly string[] = []): Promise<{ child: ChildProcess; info: Record<string, unknown> }> {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim()) (onStderr ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    // The first line that is a JSON object (libraries may print warnings to stdout before it).
    const onData = (d: Buffer) => {
      out += d.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        child.stdout?.off('data', onData);
        // What it prints afterwards (node --trace-gc, say) goes to BENCH_FLEET_STDOUT=<file> or nowhere — never
        // left in a full pipe, which would block the child.
        const to = process.env.BENCH_FLEET_STDOUT;
        if (to) child.stdout?.pipe(createWriteStream(to));
        else child.stdout?.resume();
        resolve({ child, info: JSON.parse(line) as Record<string, unknown> });
        return;
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

/** Runs one generator to its end; `connected` is called when its whole slice is connected. */
function runGenerator(job: unknown, connected: () => void): Promise<GeneratorResult> {
  const path = fileURLToPath(new URL('./fleet-generator.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.end(JSON.stringify(job));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    if (text.includes('fleet-generator: connected')) connected();
    else process.stderr.write(text);
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string) as GeneratorResult) : reject(new Error(`fleet-generator exited with ${code}`)))),
  );
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time (ms, user + system) of each thread of process `pid`, by thread id. */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks (100/s).
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {}
  }
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Load {
  readonly devices: ReadonlyArray<{ id: string; secret: string }>;
  readonly port: number;
  readonly seconds: number;
  readonly generators: number;
  readonly connectPerSec: number;
}

interface LoadResult {
  readonly results: GeneratorResult[];
  readonly latencies: number[];
  readonly sent: number;
  readonly acked: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly ackPerSecond: number[];
  readonly slowPerSecond: number[];
  readonly connectedAt: number;
}

/** The fleet against a server: connect paced, publish for `seconds`, drain; `onConnected` once all are connected. */
async function runLoad(l: Load, onConnected?: () => void): Promise<LoadResult> {
  const n = l.devices.length;
  const per = Math.ceil(n / l.generators);
  const connectSeconds = n / l.connectPerSec;
  // Publishing starts for everyone at one time, after the slowest generator should have connected its slice.
  const startAt = Date.now() + Math.ceil(connectSeconds * 1000) + 10_000;
  let connectedGenerators = 0;
  let connectedAt = 0;
  const jobs = [];
  for (let g = 0; g < l.generators; g++) {
    const slice = l.devices.slice(g * per, (g + 1) * per);
    if (slice.length === 0) continue;
    jobs.push({
      host: '127.0.0.1',
      port: l.port,
      tenant: 'default',
      devices: slice,
      firstIndex: g * per,
      fleetSize: n,
      connectPerSec: l.connectPerSec / l.generators,
      startAt,
      durationMs: l.seconds * 1000,
      drainMs: 30_000,
      preroll: process.env.BENCH_FLEET_PREROLL === '1',
    });
  }
  const results = await Promise.all(
    jobs.map((j) =>
      runGenerator(j, () => {
        connectedGenerators++;
        if (connectedGenerators === jobs.length) {
          connectedAt = Date.now();
          onConnected?.();
        }
      }),
    ),
  );
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = Math.max(...results.map((r) => r.ackPerSecond.length));
  const ackPerSecond = Array.from({ length: seconds }, (_, s) => results.reduce((a, r) => a + (r.ackPerSecond[s] ?? 0), 0));
  const slowSeconds = Math.max(0, ...results.map((r) => r.slowPerSecond.length));
  const slowPerSecond = Array.from({ length: slowSeconds }, (_, s) => results.reduce((a, r) => a + (r.slowPerSecond[s] ?? 0), 0));
  return {
    results,
    latencies,
    slowPerSecond,
    sent: results.reduce((a, r) => a + r.sent, 0),
    acked: results.reduce((a, r) => a + r.acked, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
    ackPerSecond,
    connectedAt,
  };
}

async function api<T>(httpUrl: string, token: string | null, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
  const res = await fetch(httpUrl + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function fleetRun(count: number, seconds: number, generators: number, connectPerSec: number): Promise<string> {
  const dir = await tempDir('iip-bench-fleet-');
  // BENCH_FLEET_PROFILE=<dir>: the platform writes a V8 CPU profile there (node --cpu-prof) when it stops.
  const profile = process.env.BENCH_FLEET_PROFILE;
  // The platform runs with the flags `npm start` and `iip` give it (packages/cli/bin/node-flags.mjs), then any added.
  const flags = [...PLATFORM_NODE_FLAGS, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), ...(process.env.BENCH_FLEET_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
  const { child: platform, info } = await startChild('fleet-platform.ts', { dataDir: dir.path, adminPassword: ADMIN_PASSWORD }, undefined, flags);
  const httpUrl = info.httpUrl as string;
  const pid = info.pid as number;
  try {
    const login = await api<{ token: string }>(httpUrl, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
    const token = login.body.token;
    const product = await api(httpUrl, token, 'POST', '/api/v1/products', { id: 'fleet-meter', name: 'fleet meter', model: MODEL });
    if (product.status !== 201) throw new Error(`product: ${JSON.stringify(product.body)}`);
    const devices: Array<{ id: string; secret: string }> = [];
    for (let off = 0; off < count; off += 2000) {
      const rows = Array.from({ length: Math.min(2000, count - off) }, (_, i) => `fm-${off + i},meter ${off + i},fleet-meter`);
      const r = await api<{ devices: Array<{ device: { id: string }; secret: string }> }>(httpUrl, token, 'POST', '/api/v1/devices/import', `id,name,product\n${rows.join('\n')}\n`, 'text/csv');
      if (r.status !== 201) throw new Error(`import: ${JSON.stringify(r.body).slice(0, 300)}`);
      devices.push(...r.body.devices.map((d) => ({ id: d.device.id, secret: d.secret })));
    }
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 1000));
    const rssBefore = procStatus(pid, 'VmRSS');
    let rssConnected = 0;
    console.log(`fleet: ${count} devices registered; platform RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB; connecting at ${connectPerSec}/s, then ${seconds} s of one 6-point QoS 1 message per device per second …`);
    let peakSampled = 0;
    const sampler = setInterval(() => {
      try {
        peakSampled = Math.max(peakSampled, procStatus(pid, 'VmRSS'));
      } catch {}
    }, 250);
    const t0 = Date.now();
    let cpuConnected = new Map<number, number>();
    const load = await runLoad({ devices, port: info.mqttPort as number, seconds, generators, connectPerSec }, () => {
      // idle between the last connect and the first publish: what the connections themselves hold
      setTimeout(() => {
        cpuConnected = threadCpu(pid);
        rssConnected = procStatus(pid, 'VmRSS');
        console.log(`fleet: all ${count} connected after ${((Date.now() - t0) / 1000).toFixed(1)} s; platform RSS ${(rssConnected / 2 ** 20).toFixed(0)} MB`);
      }, 2000);
    });
    clearInterval(sampler);
    // CPU per message from the fleet's first to its last message (and the drain): the platform's main thread, its
    // busiest other thread (the SQLite writer) and the rest (V8's helpers, libuv's pool) — steadier than the p99
    // when comparing two versions of the code.
    const cpuEnd = threadCpu(pid);
    const used = [...cpuEnd].map(([tid, ms]) => ({ tid, ms: ms - (cpuConnected.get(tid) ?? 0) }));
    const mainMs = used.find((u) => u.tid === pid)?.ms ?? 0;
    const others = used.filter((u) => u.tid !== pid).sort((a, b) => b.ms - a.ms);
    const perMsg = (ms: number) => ((ms * 1000) / Math.max(1, load.sent)).toFixed(1);
    console.log(`fleet: platform CPU per message: main thread ${perMsg(mainMs)} µs, busiest other thread ${perMsg(others[0]?.ms ?? 0)} µs, the rest ${perMsg(others.slice(1).reduce((a, u) => a + u.ms, 0))} µs`);
    const peak = Math.max(procStatus(pid, 'VmHWM'), peakSampled);
    await stopChild(platform);
    const db = new Database(join(dir.path, 'iip.db'), { readonly: true });
    const stored = (db.prepare("SELECT count(*) AS n FROM raw_all r JOIN series s ON s.id = r.series WHERE s.device LIKE 'fm-%'").get() as { n: number }).n;
    db.close();
    const sentPoints = load.sent * POINTS_PER_MESSAGE;
    const p50 = percentile(load.latencies, 50);
    const p99 = percentile(load.latencies, 99);
    const max = load.latencies[load.latencies.length - 1] ?? Number.NaN;
    const bursts = load.ackPerSecond.slice(1, -1);
    console.log(
      `fleet: ${load.sent.toLocaleString('en-US')} messages sent, ${load.acked.toLocaleString('en-US')} acknowledged, ${load.errors} errors${load.firstError ? ` (first: ${load.firstError})` : ''}; ` +
        `PUBACK p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(0)} ms; PUBACKs per second min ${Math.min(...bursts)} max ${Math.max(...bursts)}`,
    );
    if (load.slowPerSecond.some((x) => x > 0)) {
      // When the slow acknowledgements happened: second of sending → messages whose PUBACK took over 100 ms.
      const when = load.slowPerSecond.flatMap((x, s) => (x > 0 ? [`${s}s:${x}`] : []));
      console.log(`fleet: PUBACKs over 100 ms by second sent: ${when.join(' ')}`);
    }
    console.log(`fleet: ${stored.toLocaleString('en-US')} points stored of ${sentPoints.toLocaleString('en-US')} sent${stored === sentPoints ? '' : ` — ${(sentPoints - stored).toLocaleString('en-US')} MISSING`}`);
    const perDevice = rssConnected > 0 ? (rssConnected - rssBefore) / count / 1024 : Number.NaN;
    return `fleet: ${count} devices, ${Math.round(stored / seconds)} points/s stored of ${Math.round(sentPoints / seconds)} sent, PUBACK p99 ${p99.toFixed(0)} ms, peak RSS ${(peak / 2 ** 20).toFixed(0)} MB, ${perDevice.toFixed(1)} KB per device`;
  } finally {
    await stopChild(platform);
    await dir.cleanup();
  }
}

async function baselineRun(count: number, seconds: number, generators: number, connectPerSec: number): Promise<void> {
  const { child, info } = await startChild('fleet-ackonly.ts', {});
  try {
    const devices = Array.from({ length: count }, (_, i) => ({ id: `fm-${i}`, secret: 'x' }));
    const load = await runLoad({ devices, port: info.port as number, seconds, generators, connectPerSec });
    console.log(
      `fleet: baseline (same generators, an MQTT server that stores nothing): ${count} devices, PUBACK p50 ${percentile(load.latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(load.latencies, 99).toFixed(1)} ms, ${load.acked.toLocaleString('en-US')}/${load.sent.toLocaleString('en-US')} acknowledged, ${load.errors} errors`,
    );
  } finally {
    await stopChild(child);
  }
}

/** The open-file limit of this process (each connection costs the platform one descriptor). */
function fileLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 1024;
}

export async function main(): Promise<void> {
  const count = env('BENCH_FLEET_DEVICES', 10_000);
  const seconds = env('BENCH_FLEET_SECONDS', 60);
  const generators = env('BENCH_FLEET_GENERATORS', 4);
  const rate = env('BENCH_FLEET_CONNECT_RATE', 500);
  const large = env('BENCH_FLEET_LARGE', 20_000);
  if (env('BENCH_FLEET_BASELINE', 1) !== 0) await baselineRun(count, Math.min(seconds, 20), generators, Math.max(rate, 2000));
  const lines = [await fleetRun(count, seconds, generators, rate)];
  const limit = fileLimit();
  if (large > 0) {
    if (limit >= large + 1000) lines.push(await fleetRun(large, seconds, generators, rate));
    else console.log(`fleet: ${large.toLocaleString('en-US')} devices skipped: the open-file limit is ${limit}, and the platform needs one descriptor per connection plus its own (raise it with ulimit -n)`);
  }
  for (const l of lines) console.log(l);
}
