/**
 * One load generator of the fleet benchmark, in its own process: a slice of the fleet's devices, each on its own
 * MQTT connection (lean-publisher.ts: MQTT 3.1.1, QoS 1). Devices connect at `connectPerSec`; from `startAt`
 * (epoch ms, the same for every generator) each publishes one message of six numbers without a timestamp (server
 * time, as most small devices do) once a second for `durationMs`, its phase spread over the second by its index,
 * and the PUBACK latency of every message is measured. After the last message it waits up to `drainMs` for the
 * outstanding PUBACKs, then prints one JSON line: connected, sent, acked, errors, latencies (ms, sorted), PUBACKs per second of the run (to show bursts) and, per second of sending, the messages
 * whose PUBACK took over 100 ms (to show when the slow ones were sent).
 * latencies: a uniform sample of up to 50,000.
 *
 * Only to 127.0.0.1; bounded by count and time; it stops by itself.
 */
import { LeanPublisher } from './lean-publisher.js';

interface Job {
  readonly host: string;
  readonly port: number;
  readonly tenant: string;
  readonly devices: ReadonlyArray<{ readonly id: string; readonly secret: string }>;
  /** The fleet index of devices[0] (phases are spread over the whole fleet). */
  readonly firstIndex: number;
  readonly fleetSize: number;
  readonly connectPerSec: number;
  readonly startAt: number;
  readonly durationMs: number;
  readonly drainMs: number;
  /** Diagnosis (BENCH_FLEET_PREROLL=1): each device publishes one message once connected, not measured. */
  readonly preroll?: boolean;
}

// The job comes on stdin: thousands of device secrets do not fit on a command line (E2BIG).
const job = JSON.parse(await new Promise<string>((resolve) => {
  let text = '';
  process.stdin.on('data', (d: Buffer) => {
    text += d.toString();
  });
  process.stdin.on('end', () => resolve(text));
})) as Job;
const TICK_MS = 10;

let errors = 0;
let firstError: string | null = null;
function noteError(e: unknown): void {
  errors++;
  firstError ??= e instanceof Error ? e.message : String(e);
}

// --- connect, paced ---
const conns: Array<LeanPublisher | null> = new Array(job.devices.length).fill(null);
{
  const gap = 1000 / job.connectPerSec;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < job.devices.length; i++) {
    const due = t0 + i * gap;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const d = job.devices[i] as Job['devices'][number];
    pending.push(
      LeanPublisher.connect({ host: job.host, port: job.port, clientId: d.id, username: `${job.tenant}/${d.id}`, password: d.secret }, `iip/${job.tenant}/${d.id}/telemetry`).then(
        (c) => {
          conns[i] = c;
          c.whenFailed(noteError);
          if (job.preroll) c.publish(Buffer.from('{"voltage":220,"current":1,"power":2,"energy":3,"frequency":50,"power_factor":0.9}'), () => {});
        },
        noteError,
      ),
    );
  }
  await Promise.all(pending);
}
const connected = conns.filter((c) => c !== null).length;
// The benchmark reads this line to know when the whole fleet is connected (for its per-device memory figure).
process.stderr.write(`fleet-generator: connected ${connected}/${job.devices.length}\n`);

// --- publish one message per device per second ---
const latencies: number[] = [];
const ackPerSecond: number[] = [];
/** Per second of sending: how many of that second's messages waited over 100 ms for their PUBACK (when the slow ones were sent). */
const slowPerSecond: number[] = [];
let sent = 0;
let acked = 0;
let value = 0;

function payload(): Buffer {
  value = (value + 1) % 1000;
  const v = value / 10;
  return Buffer.from(`{"voltage":${220 + (v % 20)},"current":${v},"power":${v * 2.5},"energy":${value},"frequency":50.0${value % 10},"power_factor":0.9${value % 10}}`);
}

const wait = job.startAt - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
const tStart = performance.now();
const endAt = tStart + job.durationMs;
const n = job.devices.length;
// Device i publishes when (elapsed mod 1000) passes its phase: fleet index spread evenly over the second.
const phase = Array.from({ length: n }, (_, i) => (((job.firstIndex + i) * 1000) / job.fleetSize) % 1000);
const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (phase[a] as number) - (phase[b] as number));
let cursor = 0;
let second = 0;

await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const now = performance.now();
    if (now >= endAt) {
      clearInterval(timer);
      resolve();
      return;
    }
    const elapsed = now - tStart;
    const s = Math.floor(elapsed / 1000);
    if (s !== second) {
      // finish the previous second's devices that the timer did not reach, then start the next round
      second = s;
      cursor = 0;
    }
    const within = elapsed - s * 1000;
    while (cursor < n && (phase[order[cursor] as number] as number) <= within) {
      const i = order[cursor++] as number;
      const c = conns[i];
      if (!c) continue;
      const at = performance.now();
      try {
        c.publish(payload(), () => {
          const t = performance.now();
          acked++;
          const slot = Math.floor((t - tStart) / 1000);
          ackPerSecond[slot] = (ackPerSecond[slot] ?? 0) + 1;
          if (t - at > 100) {
            const sentIn = Math.floor((at - tStart) / 1000);
            slowPerSecond[sentIn] = (slowPerSecond[sentIn] ?? 0) + 1;
          }
          if (latencies.length < 50_000) latencies.push(t - at);
          else if (Math.random() < 50_000 / acked) latencies[Math.floor(Math.random() * latencies.length)] = t - at;
        });
        sent++;
      } catch (e) {
        noteError(e);
      }
    }
  }, TICK_MS);
});

// --- drain ---
const drainEnd = Date.now() + job.drainMs;
while (acked + 0 < sent && Date.now() < drainEnd) await new Promise((r) => setTimeout(r, 50));
latencies.sort((a, b) => a - b);
for (const c of conns) if (c) await c.end().catch(() => undefined);
// A pipe is written asynchronously: exit only once the line is out, or the reader gets half of it.
process.stdout.write(`${JSON.stringify({ connected, sent, acked, errors, firstError, latencies: latencies.map((x) => Math.round(x * 10) / 10), ackPerSecond: Array.from(ackPerSecond, (x) => x ?? 0), slowPerSecond: Array.from(slowPerSecond, (x) => x ?? 0) })}\n`, () => process.exit(0));
