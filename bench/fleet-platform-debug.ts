/**
 * Diagnostics of the fleet benchmark's platform process (BENCH_FLEET_DEBUG=1): every 2 s, memory (rss, heap used/
 * total, external, array buffers) and the event loop's delay (p99, max) to stderr; BENCH_FLEET_SNAPSHOT_AT=<ms>
 * writes one heap snapshot that long after start (/tmp/fleet.heapsnapshot).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
setInterval(() => {
  const m = process.memoryUsage();
  const young = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
  process.stderr.write(`mem young ${(young / 2 ** 20).toFixed(0)} rss ${(m.rss/2**20).toFixed(0)} heap ${(m.heapUsed/2**20).toFixed(0)}/${(m.heapTotal/2**20).toFixed(0)} ext ${(m.external/2**20).toFixed(0)} ab ${(m.arrayBuffers/2**20).toFixed(0)} eld p99 ${(h.percentile(99)/1e6).toFixed(0)} max ${(h.max/1e6).toFixed(0)}\n`);
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
