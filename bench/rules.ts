/**
 * `npm run bench -- rules` (issue 13): 10,000 rules — thresholds with a deadband, thresholds held for a duration
 * and CEL expressions, mixed — over telemetry published into the bus as fast as it takes it; the rule engine
 * subscribes like the platform's (durable `rules` group). The bus is NATS JetStream (a throwaway nats-server -js),
 * as scaled out: the in-process bus takes a batch in well under a microsecond, so "as fast as the bus takes them"
 * would measure nothing but the engine (its figure is printed too). Baseline in the same run: the same batches
 * through the same bus to a group subscriber that does nothing with them. Memory per rule: the heap taken by
 * installing the rules (compiled conditions, indexes) and by their evaluation states once every rule has seen its
 * device, divided by the rules.
 *
 * Last line: `rules: <N> points/s through 10000 rules, baseline <M> points/s, ratio <r>, <K> KB per rule`.
 */
import { type Bus, connectNatsBus, InProcessBus } from '@iip/bus';
import { startNats } from '@iip/testkit';
import type { DeviceId, TelemetryBatch, TenantId, ThingModel } from '@iip/core';
import { compileRule, RuleEngine, type RuleEnginePorts } from '@iip/rules';

const RULES = Number(process.env.BENCH_RULES ?? 10_000);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1_000);
const PROPS = 10;
const BATCHES = Number(process.env.BENCH_BATCHES ?? 100_000);
const TENANT = 'bench';

const MODEL: ThingModel = {
  properties: Array.from({ length: PROPS }, (_, i) => ({ id: `p${i}`, dataType: { type: 'float' as const }, access: 'r' as const })),
  events: [],
  services: [],
};

/** Rule i watches device i % DEVICES: a threshold, a held threshold or an expression, in turn. */
function ruleDoc(i: number): unknown {
  const device = `d${i % DEVICES}`;
  const p = `p${i % PROPS}`;
  const scope = { product: 'machine', devices: [device] };
  switch (i % 3) {
    case 0:
      return { id: `r${i}`, scope, when: { threshold: { property: p, op: '>', value: 90, deadband: 2 } }, alarm: { severity: 'high' } };
    case 1:
      return { id: `r${i}`, scope, when: { threshold: { property: p, op: '<', value: 5 }, for: '30s' } };
    default:
      return { id: `r${i}`, scope, when: { expression: `${p} > 80.0 && p${(i + 1) % PROPS} < 20.0` } };
  }
}

/** Batches of 10 points (one per property), devices in turn, values in a slow sine so rules raise and clear. */
function batches(): TelemetryBatch[] {
  const out: TelemetryBatch[] = [];
  const t0 = Date.UTC(2026, 0, 1);
  for (let b = 0; b < BATCHES; b++) {
    const d = b % DEVICES;
    const step = Math.floor(b / DEVICES);
    const ts = t0 + step * 1_000;
    out.push({
      tenant: TENANT as TenantId,
      device: `d${d}` as DeviceId,
      receivedAt: ts,
      points: Array.from({ length: PROPS }, (_, i) => ({ property: `p${i}`, ts, value: 50 + 48 * Math.sin((step + d + i * 7) / 9) })),
    });
  }
  return out;
}

async function pump(bus: Bus, all: readonly TelemetryBatch[], done: () => number): Promise<number> {
  const t = performance.now();
  // Published as fast as the bus takes them: up to 2,000 publishes wait for the bus's acknowledgement at once.
  // The in-process bus acknowledges at once and holds at most 10,000 messages per group (more are not given to
  // the group: IIP_ERR_BUS_OVERLOADED), so no more than 2,000 are let ahead of the subscriber either.
  const inFlight = new Set<Promise<void>>();
  let published = 0;
  for (const b of all) {
    const p = bus.publish('telemetry', b).finally(() => inFlight.delete(p));
    inFlight.add(p);
    published++;
    if (inFlight.size >= 2_000) await Promise.race(inFlight);
    while (published - done() >= 2_000) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(inFlight);
  while (done() < all.length) await new Promise((r) => setImmediate(r));
  return ((all.length * PROPS) / (performance.now() - t)) * 1000;
}

const heap = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};

/** One run: a fresh stream, a group subscriber (`handle`), a warm-up, then the timed batches. */
async function run(open: () => Promise<Bus>, all: readonly TelemetryBatch[], handle: (b: TelemetryBatch) => unknown): Promise<number> {
  const bus = await open();
  let n = 0;
  const sub = bus.subscribe(
    'telemetry',
    async (b) => {
      await handle(b);
      n++;
    },
    { group: 'rules' },
  );
  await sub.ready;
  await pump(bus, all.slice(0, 5_000), () => n);
  n = 0;
  const rate = await pump(bus, all, () => n);
  await bus.close();
  return rate;
}

export async function main(): Promise<void> {
  if (!(globalThis as { gc?: () => void }).gc) console.log('rules: (run with --expose-gc for exact memory figures; using the heap as it is)');
  const all = batches();
  console.log(`rules: ${RULES} rules over ${DEVICES} devices, ${BATCHES} batches of ${PROPS} points`);

  const ports: RuleEnginePorts = {
    deviceInfo: async () => ({ product: 'machine', asset: null }),
    inSubtree: async () => true,
    onTransition: async () => {},
    saveStates: async () => {},
    loadStates: async () => [],
  };
  const before = heap();
  const engine = new RuleEngine(ports);
  const t0 = performance.now();
  for (let i = 0; i < RULES; i++) await engine.install(TENANT, compileRule(ruleDoc(i), MODEL), true);
  console.log(`rules: ${engine.size} rules compiled and installed in ${Math.round(performance.now() - t0)} ms`);

  const inProcess = await run(async () => new InProcessBus(), all, (b) => engine.evaluate(b));
  console.log(`rules: in-process bus, the engine alone: ${Math.round(inProcess).toLocaleString('en-US')} points/s through ${RULES} rules`);

  console.log('rules: starting nats-server -js …');
  const nats = await startNats();
  let stream = 0;
  // A fresh prefix per run: its own streams, nothing left over from the other run.
  const open = () => connectNatsBus({ url: nats.url, prefix: `bench${++stream}`, groups: { telemetry: ['rules'] }, maxAckPending: 1_000 });
  try {
    const baseline = await run(open, all, () => {});
    console.log(`rules: baseline (NATS, no rules): ${Math.round(baseline).toLocaleString('en-US')} points/s`);
    const rate = await run(open, all, (b) => engine.evaluate(b));
    const after = heap();
    const s = engine.stats();
    console.log(`rules: ${s.evaluations.toLocaleString('en-US')} evaluations, ${s.raises} raises, ${s.clears} clears, ${s.failures} failures`);
    const kbPerRule = (after - before) / RULES / 1024;
    console.log(`rules: ${Math.round(rate)} points/s through ${RULES} rules, baseline ${Math.round(baseline)} points/s, ratio ${(rate / baseline).toFixed(2)}, ${kbPerRule.toFixed(2)} KB per rule`);
  } finally {
    await nats.stop();
  }
}
