/**
 * Issue 20, point 3 — what the load figures mean over time, on a PlatformLoad whose window steps are 100 ms
 * instead of 10 s: PUBACK latencies land in the right cumulative buckets (beyond the last bound in +Inf), the
 * window's percentiles forget them once the window has passed while the histogram keeps counting, a blocked
 * event loop shows in the window's delay and utilisation and is forgotten likewise, and reading (a scrape or a
 * snapshot) resets nothing.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PlatformLoad } from '@iip/server';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

const STEP_MS = 100;
const load = new PlatformLoad({ stepMs: STEP_MS });
after(() => load.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than the window (six steps) and a step to spare. */
const pastTheWindow = () => sleep(STEP_MS * 8);

async function scrape(): Promise<ParsedFamily[]> {
  return parsePrometheusTextFormat(await load.metrics());
}

function sample(families: readonly ParsedFamily[], name: string) {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `${name} is in the scrape`);
  return f.metrics;
}

test('PUBACK latencies: cumulative buckets since start, percentiles of the window only', async () => {
  for (let i = 0; i < 10; i++) load.onPuback(3);
  load.onPuback(150);
  load.onPuback(20_000);
  const w = load.snapshot().mqtt.pubackLatencyMs;
  assert.equal(w.samples, 12);
  assert.ok(w.p50 !== null && Math.abs(w.p50 - 3) < 0.01, `p50 ${w.p50}`);
  assert.ok(w.max !== null && Math.abs(w.max - 20_000) / 20_000 < 0.01, `max ${w.max}`);
  assert.equal(load.snapshot().mqtt.pubacksSent, 12);

  const expectBuckets = (families: ParsedFamily[]) => {
    const h = sample(families, 'iip_mqtt_puback_latency_seconds')[0];
    assert.deepEqual(
      { le0005: h?.buckets?.['0.005'], le02: h?.buckets?.['0.2'], le10: h?.buckets?.['10'], inf: h?.buckets?.['+Inf'], count: h?.count },
      { le0005: '10', le02: '11', le10: '11', inf: '12', count: '12' },
    );
    assert.ok(Math.abs(Number(h?.sum) - 20.18) < 1e-9, `sum ${h?.sum}`);
  };
  const first = await scrape();
  expectBuckets(first);
  // HDR histograms keep three significant digits: 3 ms reads back as 3.001 ms.
  assert.ok(Math.abs(Number(sample(first, 'iip_mqtt_puback_latency_window_p50_seconds')[0]?.value) - 0.003) < 0.00001);
  // A second read sees the same: nothing is reset by reading.
  expectBuckets(await scrape());
  assert.equal(load.snapshot().mqtt.pubackLatencyMs.samples, 12);

  await pastTheWindow();
  const later = load.snapshot().mqtt.pubackLatencyMs;
  assert.deepEqual(later, { samples: 0, p50: null, p90: null, p99: null, max: null });
  const families = await scrape();
  expectBuckets(families);
  assert.equal(sample(families, 'iip_mqtt_puback_latency_window_p99_seconds').length, 0, 'no window percentile without a PUBACK in the window');
  assert.equal(sample(families, 'iip_mqtt_puback_latency_window_max_seconds').length, 0);
});

test('a blocked event loop shows in the window’s delay and utilisation, then leaves it; the summary counts on', async () => {
  await pastTheWindow();
  const countBefore = Number(sample(await scrape(), 'iip_event_loop_delay_seconds')[0]?.count);
  const start = Date.now();
  while (Date.now() - start < 300);
  await sleep(STEP_MS);
  const busy = load.snapshot().eventLoop;
  assert.ok(busy.delayMs.max !== null && busy.delayMs.max >= 250, `the 300 ms block is the window's longest delay: ${busy.delayMs.max} ms`);
  assert.ok(busy.utilization > 0.3, `utilisation ${busy.utilization}`);
  const loop = sample(await scrape(), 'iip_event_loop_delay_seconds')[0];
  assert.ok(Number(loop?.count) > countBefore, 'the summary counts samples since start');
  assert.ok(Number(loop?.sum) >= 0.25, `the summary's sum holds the block: ${loop?.sum} s`);

  await pastTheWindow();
  const calm = load.snapshot().eventLoop;
  assert.ok(calm.delayMs.samples > 0, 'the window has samples');
  assert.ok(calm.delayMs.max !== null && calm.delayMs.max < 250, `the block has left the window: max ${calm.delayMs.max} ms`);
  assert.ok(Number(sample(await scrape(), 'iip_event_loop_delay_seconds')[0]?.sum) >= 0.25, 'but not the sum since start');
});

test('unbound, the snapshot still answers: memory of the process, no MQTT queues known', () => {
  const s = load.snapshot();
  assert.equal(s.windowSeconds, (6 * STEP_MS) / 1000);
  assert.ok(s.memory.rssBytes > 0 && s.memory.rssPeakBytes >= s.memory.rssBytes * 0.5);
  assert.equal(s.queues.mqttInboundPending, null);
});
