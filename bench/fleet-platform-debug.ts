/**
 * Diagnostics of the fleet benchmark's platform process (BENCH_FLEET_DEBUG=1): every 2 s, memory (rss, heap used/
 * total, external, array buffers) and the event loop's delay (p99, max) to stderr; BENCH_FLEET_SNAPSHOT_AT=<ms>
 * writes one heap snapshot that long after start (/tmp/fleet.heapsnapshot).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
setInterval(() => {
  const m = process.memoryUsage();
  process.stderr.write(`mem rss ${(m.rss/2**20).toFixed(0)} heap ${(m.heapUsed/2**20).toFixed(0)}/${(m.heapTotal/2**20).toFixed(0)} ext ${(m.external/2**20).toFixed(0)} ab ${(m.arrayBuffers/2**20).toFixed(0)} eld p99 ${(h.percentile(99)/1e6).toFixed(0)} max ${(h.max/1e6).toFixed(0)}\n`);
  h.reset();
}, 2000).unref();
if (process.env.BENCH_FLEET_SNAPSHOT_AT) {
  const { writeHeapSnapshot } = await import('node:v8');
  const at = Number(process.env.BENCH_FLEET_SNAPSHOT_AT);
  setTimeout(() => { process.stderr.write(`snapshot ${writeHeapSnapshot('/tmp/fleet.heapsnapshot')}\n`); }, at).unref();
}
