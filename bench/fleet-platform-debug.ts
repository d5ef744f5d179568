/**
 * Diagnostics of the fleet benchmark's platform process (BENCH_FLEET_DEBUG=1): every 2 s, memory (rss, heap used/
 * total, external, array buffers) and the event loop's delay (p99, max) to stderr; BENCH_FLEET_SNAPSHOT_AT=<ms>
 * writes one heap snapshot that long after start (/tmp/fleet.heapsnapshot).
 */
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
/** Write transactions handed to the writer thread and not answered yet: when each was handed over. */
const inFlight = new Set<number>();
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
let last = process.resourceUsage();
// Collections of the main thread's heap that paused it 20 ms or more (kind: 1 minor, 2 major, 4 incremental, 8 weak callbacks).
const gcCount: Record<number, number> = {};
const gcMs: Record<number, number> = {};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
    gcCount[kind] = (gcCount[kind] ?? 0) + 1;
    gcMs[kind] = (gcMs[kind] ?? 0) + e.duration;
    if (e.duration >= 20) process.stderr.write(`gc kind ${((e as unknown as { detail?: { kind?: number } }).detail)?.kind} ${e.duration.toFixed(0)} ms\n`);
  }
}).observe({ entryTypes: ['gc'] });
setInterval(() => {
  // Minor page faults and CPU (user+system, ms) of the last 2 s: on a VM where a page fault is slow, memory the process
  // gives back and takes again costs time on the event loop.
  const ru = process.resourceUsage();
  const faults = ru.minorPageFault - last.minorPageFault;
  const cpu = (ru.userCPUTime - last.userCPUTime + ru.systemCPUTime - last.systemCPUTime) / 1000;
  const sys = (ru.systemCPUTime - last.systemCPUTime) / 1000;
  last = ru;
  const m = process.memoryUsage();
  const young = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
  process.stderr.write(`mem young ${(young / 2 ** 20).toFixed(0)} rss ${(m.rss/2**20).toFixed(0)} heap ${(m.heapUsed/2**20).toFixed(0)}/${(m.heapTotal/2**20).toFixed(0)} ext ${(m.external/2**20).toFixed(0)} ab ${(m.arrayBuffers/2**20).toFixed(0)} eld p99 ${(h.percentile(99)/1e6).toFixed(0)} max ${(h.max/1e6).toFixed(0)} faults ${faults} cpu ${cpu.toFixed(0)} sys ${sys.toFixed(0)} gcs ${Object.keys(gcCount).map((k) => `${k}:${gcCount[Number(k)]}/${(gcMs[Number(k)] ?? 0).toFixed(0)}ms`).join(' ')}\n`);
  for (const k of Object.keys(gcCount)) { delete gcCount[Number(k)]; delete gcMs[Number(k)]; }
  h.reset();
}, 2000).unref();
if (process.env.BENCH_FLEET_SNAPSHOT_AT) {
  const { writeHeapSnapshot } = await import('node:v8');
  const at = Number(process.env.BENCH_FLEET_SNAPSHOT_AT);
  setTimeout(() => { process.stderr.write(`snapshot ${writeHeapSnapshot('/tmp/fleet.heapsnapshot')}\n`); }, at).unref();
}
if (process.env.BENCH_FLEET_HEAPPROF_AT) {
  // Samples allocations that a minor GC did not collect (promoted) — also those a major GC collected later — for
  // BENCH_FLEET_HEAPPROF_FOR ms (default 20 s) from BENCH_FLEET_HEAPPROF_AT ms after start: /tmp/fleet.heapprofile.
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const at = Number(process.env.BENCH_FLEET_HEAPPROF_AT);
  const span = Number(process.env.BENCH_FLEET_HEAPPROF_FOR ?? 20_000);
  const session = new Session();
  session.connect();
  setTimeout(() => {
    void (async () => {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.BENCH_FLEET_HEAPPROF_ALL === '1' });
      process.stderr.write('heap sampling started\n');
      setTimeout(() => {
        void (async () => {
          const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: unknown };
          writeFileSync('/tmp/fleet.heapprofile', JSON.stringify(profile));
          process.stderr.write('heap sampling written: /tmp/fleet.heapprofile\n');
        })();
      }, span).unref();
    })();
  }, at).unref();
}
{
  // Statements on this thread's SQLite connections that held the event loop 50 ms or more (a write waiting for the
  // writer thread's lock, say), with their SQL.
  const { default: Database } = await import('better-sqlite3');
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const orig = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: { source: string }, ...a: unknown[]) {
      const t0 = performance.now();
      try {
        return orig.apply(this, a);
      } finally {
        const dt = performance.now() - t0;
        if (dt >= 50) process.stderr.write(`sqlite ${name} ${dt.toFixed(0)} ms: ${this.source.slice(0, 120)}\n`);
      }
    };
  }
  const dbProto = Database.prototype as unknown as Record<string, unknown>;
  const exec = dbProto.exec as (sql: string) => unknown;
  dbProto.exec = function (this: unknown, sql: string) {
    const t0 = performance.now();
    try {
      return exec.call(this, sql);
    } finally {
      const dt = performance.now() - t0;
      if (dt >= 50) process.stderr.write(`sqlite exec ${dt.toFixed(0)} ms: ${sql.slice(0, 120)}\n`);
    }
  };
}
{
  // Each telemetry write transaction handed to the writer thread: how long until it was committed (per 2 s: count,
  // p50, max), and the rows it carried.
  const { ThreadedTelemetryWriter } = await import('../packages/storage/src/sqlite/telemetry-write-thread.js');
  const proto = ThreadedTelemetryWriter.prototype as unknown as { write: (rows: readonly unknown[]) => Promise<unknown> };
  const orig = proto.write;
  let times: number[] = [];
  let rows = 0;
  proto.write = function (this: unknown, r: readonly unknown[]) {
    const t0 = performance.now();
    rows += r.length;
    inFlight.add(t0);
    const p = orig.call(this, r);
    const done = () => { inFlight.delete(t0); times.push(performance.now() - t0); };
    void p.then(done, done);
    return p;
  };
  setInterval(() => {
    const t = times.sort((a, b) => a - b);
    if (t.length) process.stderr.write(`writes ${t.length} rows ${rows} p50 ${(t[t.length >> 1] as number).toFixed(0)} ms max ${(t[t.length - 1] as number).toFixed(0)} ms\n`);
    times = [];
    rows = 0;
  }, 2000).unref();
}

/**
 * BENCH_FLEET_TIMELINE=<ms>: one line per <ms> (stamped with the wall clock's seconds, mod 1000) — PUBLISHes read, inbound PUBLISHes waiting
 * for their answer, connections paused, the historian's queue, the event loop's largest delay and the collections'
 * pause time in that slice, and the oldest write transaction still in the writer thread (ms) — to find which part
 * held the slow PUBACKs of a second.
 */
export function watch(platform: {
  mqtt: { stats(): { publishesReceived: number }; queueDepths(): { inboundPending: number; pausedConnections: number } | undefined };
  historian: unknown;
}): void {
  const every = Number(process.env.BENCH_FLEET_TIMELINE ?? 0);
  if (!every) return;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let gcPause = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPause += e.duration;
  }).observe({ entryTypes: ['gc'] });
  let lastReceived = platform.mqtt.stats().publishesReceived;
  setInterval(() => {
    const received = platform.mqtt.stats().publishesReceived;
    const q = platform.mqtt.queueDepths();
    const oldest = inFlight.size ? Math.round(performance.now() - Math.min(...inFlight)) : 0;
    process.stderr.write(`tl ${((Date.now() % 1e6) / 1000).toFixed(2)} in ${received - lastReceived} pending ${q?.inboundPending ?? -1} paused ${q?.pausedConnections ?? -1} eld ${(loop.max / 1e6).toFixed(0)} gc ${gcPause.toFixed(0)} wtx ${inFlight.size}/${oldest}\n`);
    lastReceived = received;
    gcPause = 0;
    loop.reset();
  }, every).unref();
}
