/**
 * The device directory over the real (async) registry: a cached device is answered synchronously (no await
 * of storage per message), a miss returns a promise, concurrent misses share one load, and an invalidation
 * that overlaps a load keeps the stale answer out of the cache.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TenantId } from '@iip/core';
import { openSqliteStorage, type Storage } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import { RegistryDeviceDirectory } from '../src/device-directory.js';
import { RegistryService } from '../src/registry-service.js';

const T = 'acme' as TenantId;
const MODEL = { properties: [{ id: 't', dataType: { type: 'float' as const, min: 0, max: 100 }, access: 'r' as const }], events: [], services: [] };

async function fixture(): Promise<{ storage: Storage; registry: RegistryService; directory: RegistryDeviceDirectory; cleanup(): Promise<void> }> {
  const dir = await tempDir('iip-directory-');
  const storage = openSqliteStorage({ file: join(dir.path, 'iip.db') });
  const registry = new RegistryService(storage.registry);
  const directory = new RegistryDeviceDirectory(storage.registry);
  registry.onChange((t, d) => directory.invalidate(t, d));
  await registry.createProduct(T, { id: 'sensor', model: MODEL });
  return {
    storage,
    registry,
    directory,
    cleanup: async () => {
      await storage.close();
      await dir.cleanup();
    },
  };
}

test('a miss returns a promise; once loaded the device is answered synchronously with a working secret check', async () => {
  const fx = await fixture();
  try {
    const { secret } = await fx.registry.createDevice(T, { id: 'd1', product: 'sensor' });
    const first = fx.directory.lookup(T, 'd1');
    assert.ok(first instanceof Promise, 'the first lookup loads from storage');
    const loaded = await first;
    assert.ok(loaded);
    const cached = fx.directory.lookup(T, 'd1');
    assert.ok(!(cached instanceof Promise), 'a cached device is answered without a promise');
    assert.equal(cached, loaded);
    assert.equal(loaded.verifySecret(secret), true);
    assert.equal(loaded.verifySecret(`${secret}x`), false);
    assert.deepEqual(
      loaded.validator.parse(JSON.stringify({ ts: 1_700_000_000_000, values: { t: 5 } }), 1_700_000_001_000).map((p) => p.value),
      [5],
    );
  } finally {
    await fx.cleanup();
  }
});

test('an unknown device is cached as unknown until the registry creates it', async () => {
  const fx = await fixture();
  try {
    assert.equal(await fx.directory.lookup(T, 'later'), undefined);
    assert.equal(fx.directory.lookup(T, 'later'), undefined, 'the negative answer is cached (synchronous)');
    await fx.registry.createDevice(T, { id: 'later', product: 'sensor' });
    const found = fx.directory.lookup(T, 'later');
    assert.ok(found instanceof Promise, 'the creation dropped the negative entry');
    assert.ok(await found);
  } finally {
    await fx.cleanup();
  }
});

test('concurrent misses of one device share one load', async () => {
  const fx = await fixture();
  try {
    await fx.registry.createDevice(T, { id: 'd1', product: 'sensor' });
    const a = fx.directory.lookup(T, 'd1');
    const b = fx.directory.lookup(T, 'd1');
    assert.ok(a instanceof Promise);
    assert.equal(a, b, 'the second miss waits for the first load');
    assert.equal(await a, await b);
  } finally {
    await fx.cleanup();
  }
});

test('a load that overlaps a deletion is answered but not cached', async () => {
  const fx = await fixture();
  try {
    await fx.registry.createDevice(T, { id: 'd1', product: 'sensor' });
    const loading = fx.directory.lookup(T, 'd1');
    assert.ok(loading instanceof Promise);
    // The device goes away while the load is in flight (it may already have read the row).
    await fx.registry.deleteDevice(T, 'd1');
    await loading;
    const after = fx.directory.lookup(T, 'd1');
    assert.ok(after instanceof Promise, 'the overlapping load left nothing in the cache');
    assert.equal(await after, undefined, 'the deleted device is unknown');
  } finally {
    await fx.cleanup();
  }
});

test('a product model change reaches cached devices (new validator)', async () => {
  const fx = await fixture();
  try {
    await fx.registry.createDevice(T, { id: 'd1', product: 'sensor' });
    const before = await fx.directory.lookup(T, 'd1');
    assert.ok(before);
    const wider = { ...MODEL, properties: [{ ...MODEL.properties[0]!, dataType: { type: 'float' as const, min: 0, max: 1_000 } }] };
    await fx.registry.updateProduct(T, { id: 'sensor', model: wider });
    const after = await fx.directory.lookup(T, 'd1');
    assert.ok(after);
    assert.notEqual(after.validator, before.validator);
    const payload = JSON.stringify({ ts: 1_700_000_000_000, values: { t: 500 } });
    assert.throws(() => before.validator.parse(payload, 1_700_000_001_000));
    assert.deepEqual(after.validator.parse(payload, 1_700_000_001_000).map((p) => p.value), [500]);
  } finally {
    await fx.cleanup();
  }
});

test('a bulk creation tells the directory: small ones device by device, large ones once for the tenant', async () => {
  const fx = await fixture();
  try {
    const changes: Array<string | undefined> = [];
    fx.registry.onChange((_t, d) => changes.push(d));
    // Unknown devices are remembered as unknown (a device that connects before it is created).
    assert.equal(await fx.directory.lookup(T, 'small-1'), undefined);
    assert.equal(await fx.directory.lookup(T, 'big-150'), undefined);
    await fx.registry.createDevices(T, [{ id: 'small-1', product: 'sensor' }, { id: 'small-2', product: 'sensor' }]);
    assert.deepEqual(changes, ['small-1', 'small-2']);
    changes.length = 0;
    await fx.registry.createDevices(T, Array.from({ length: 150 }, (_, i) => ({ id: `big-${i + 1}`, product: 'sensor' })));
    assert.deepEqual(changes, [undefined], 'one tenant-wide change for 150 devices');
    // Both forgot their "unknown" answer.
    assert.notEqual(await fx.directory.lookup(T, 'small-1'), undefined);
    assert.notEqual(await fx.directory.lookup(T, 'big-150'), undefined);
  } finally {
    await fx.cleanup();
  }
});
