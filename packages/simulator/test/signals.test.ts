import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TelemetryValidator } from '@iip/core';
import { DeviceSimulation, factoryProducts, type SimulatedSample } from '@iip/simulator';
import fc from 'fast-check';

const START = Date.UTC(2025, 2, 3, 0, 0, 0); // a Monday, so the meter sees weekdays and a weekend later
const HOUR = 3_600_000;

function simulate(product: string, seed: number, hours: number, everyMs = 1000): SimulatedSample[] {
  const sim = new DeviceSimulation({ product, seed, startMs: START });
  const out: SimulatedSample[] = [];
  for (let t = START + everyMs; t <= START + hours * HOUR; t += everyMs) out.push(sim.advance(t));
  return out;
}

function num(s: SimulatedSample, id: string): number {
  const v = s.values[id];
  assert.equal(typeof v, 'number', id);
  return v as number;
}

for (const product of factoryProducts()) {
  test(`${product.id}: every value over many simulated hours passes the thing model`, () => {
    const validator = new TelemetryValidator(product.model);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const samples = simulate(product.id, seed, 12, 1000);
        let prevEnergy = -1;
        for (const s of samples) {
          const points = validator.validate({ ts: s.ts, values: s.values }, s.ts);
          assert.equal(points.length, product.model.properties.length);
          const energy = num(s, 'energy');
          assert.ok(energy >= prevEnergy, `energy must not decrease (${prevEnergy} → ${energy})`);
          prevEnergy = energy;
        }
      }),
      { numRuns: 6 },
    );
  });
}

test('the same seed gives the same factory, whatever the sampling cadence', () => {
  for (const product of factoryProducts()) {
    const a = simulate(product.id, 42, 1, 1000);
    const b = simulate(product.id, 42, 1, 1000);
    assert.deepEqual(a, b);
    const coarse = simulate(product.id, 42, 1, 60_000);
    const fine = a.filter((s) => (s.ts - START) % 60_000 === 0);
    assert.deepEqual(
      coarse.map((s) => s.values),
      fine.map((s) => s.values),
    );
    assert.notDeepEqual(simulate(product.id, 43, 1, 60_000).map((s) => s.values), coarse.map((s) => s.values));
  }
});

for (const [product, counter] of [
  ['cnc-machine', 'part_count'],
  ['injection-moulding-machine', 'shot_count'],
] as const) {
  test(`${product}: ${counter} rises only while running, and machines run, idle and fault`, () => {
    const seen = new Set<string>();
    let faults = 0;
    let rises = 0;
    for (const seed of [1, 2, 3, 4]) {
      const samples = simulate(product, seed, 48);
      for (let i = 1; i < samples.length; i++) {
        const prev = samples[i - 1]!;
        const cur = samples[i]!;
        seen.add(String(cur.values.state));
        faults += cur.events.filter((e) => e.event === 'fault').length;
        const d = num(cur, counter) - num(prev, counter);
        assert.ok(d >= 0, `${counter} never decreases`);
        if (d > 0) {
          rises++;
          assert.equal(cur.values.state, 'run', `${counter} rose while ${String(cur.values.state)}`);
        }
        if (cur.values.state !== 'run') assert.ok(num(cur, 'power') < 30, 'power follows state');
      }
    }
    assert.deepEqual([...seen].sort(), ['fault', 'idle', 'run']);
    assert.ok(faults > 0, 'faults happen over days of running');
    assert.ok(rises > 0);
  });
}

test('cnc-machine: vibration rises before a fault and faults clear after a while', () => {
  let checked = 0;
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const samples = simulate('cnc-machine', seed, 48);
    const runVib = samples.filter((s) => s.values.state === 'run').map((s) => num(s, 'vibration'));
    const meanRun = runVib.reduce((a, b) => a + b, 0) / runVib.length;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      if (!s.events.some((e) => e.event === 'fault') || i < 120) continue;
      // the minute before the trip (the precursor is strongest at its end)
      const before = samples.slice(i - 60, i).map((x) => num(x, 'vibration'));
      assert.ok(before.reduce((a, b) => a + b, 0) / before.length > 2 * meanRun, `seed ${seed}: vibration rises before the fault`);
      const after = samples.slice(i, i + 3 * 3600);
      assert.ok(after.some((x) => x.values.state !== 'fault'), `seed ${seed}: the fault clears`);
      checked++;
    }
  }
  assert.ok(checked > 0, 'at least one natural fault was checked');
});

test('temperature follows load with a lag', () => {
  const samples = simulate('cnc-machine', 5, 24);
  // find a long run and check the spindle warms over its first 15 minutes instead of jumping
  const start = samples.findIndex((s, i) => i > 0 && s.values.state === 'run' && samples[i - 1]!.values.state !== 'run');
  assert.ok(start > 0);
  const t0 = num(samples[start]!, 'temperature');
  const t1 = num(samples[start + 60]!, 'temperature');
  const t15 = num(samples[start + 900]!, 'temperature');
  assert.ok(Math.abs(t1 - t0) < 2, 'no jump within a minute');
  assert.ok(t15 > t0 + 1, 'warmer after a quarter of an hour');
});

test('injectFault shows in the next sample and raises the fault event', () => {
  for (const product of factoryProducts()) {
    const sim = new DeviceSimulation({ product: product.id, seed: 9, startMs: START });
    sim.advance(START + 10_000);
    sim.injectFault();
    const s = sim.advance(START + 11_000);
    assert.equal(s.events.length, 1, product.id);
    const event = product.model.events[0]!;
    assert.equal(s.events[0]?.event, event.id);
    if ('state' in s.values) assert.equal(s.values.state, 'fault');
  }
});

test('an unknown product is refused with a coded error', () => {
  assert.throws(() => new DeviceSimulation({ product: 'toaster', seed: 1, startMs: START }), { code: 'IIP_ERR_SIM_UNKNOWN_PRODUCT' });
});
