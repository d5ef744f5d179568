import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertThingModel } from '@iip/core';
import { factoryDevicePlan, factoryProducts } from '@iip/simulator';

test('every factory product is a valid, rich thing model', () => {
  const products = factoryProducts();
  assert.ok(products.length >= 4);
  assert.equal(new Set(products.map((p) => p.id)).size, products.length);
  for (const p of products) {
    assert.doesNotThrow(() => assertThingModel(p.model), p.id);
    assert.ok(p.name && p.nameZh && p.category, p.id);
    assert.ok(p.model.properties.some((q) => q.access === 'rw'), `${p.id} has a writable property`);
    assert.ok(p.model.services.length >= 1, `${p.id} has a service`);
    assert.ok(p.model.events.some((e) => e.outputs.some((o) => o.id === 'code')), `${p.id} has a coded event`);
    for (const q of p.model.properties) {
      if (q.dataType.type === 'float') assert.ok(q.dataType.unit !== undefined && q.dataType.min !== undefined, `${p.id}.${q.id}`);
    }
  }
  const ids = products.map((p) => p.id);
  for (const id of ['cnc-machine', 'air-compressor', 'injection-moulding-machine', 'energy-meter']) assert.ok(ids.includes(id));
});

test('factoryProducts returns copies callers may change', () => {
  const a = factoryProducts();
  (a[0] as { name: string }).name = 'changed';
  assert.notEqual(factoryProducts()[0]?.name, 'changed');
});

test('the device plan is deterministic, evenly mixed and uses known products', () => {
  const plan = factoryDevicePlan(24);
  assert.deepEqual(plan, factoryDevicePlan(24));
  assert.equal(plan.length, 24);
  assert.equal(new Set(plan.map((d) => d.id)).size, 24);
  assert.deepEqual(
    plan.slice(0, 4).map((d) => d.id),
    ['cnc-01', 'compressor-01', 'moulding-01', 'meter-01'],
  );
  const known = new Set(factoryProducts().map((p) => p.id));
  const perProduct = new Map<string, number>();
  for (const d of plan) {
    assert.ok(known.has(d.product));
    perProduct.set(d.product, (perProduct.get(d.product) ?? 0) + 1);
  }
  assert.deepEqual([...perProduct.values()], [6, 6, 6, 6]);
  assert.equal(factoryDevicePlan(0).length, 0);
  assert.equal(factoryDevicePlan(401).at(-1)?.id, 'cnc-101');
  assert.equal(factoryDevicePlan().length, 24);
});
