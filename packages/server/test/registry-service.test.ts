/** RegistryService beyond its HTTP routes: the device quota under concurrent creations. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IipError, type TenantId } from '@iip/core';
import { openSqliteStorage } from '@iip/storage';
import { RegistryService } from '../src/registry-service.js';

const T = 'acme' as TenantId;
const MODEL = { properties: [{ id: 't', dataType: { type: 'float' as const, min: 0, max: 100 }, access: 'r' as const }], events: [], services: [] };

test('concurrent device creations cannot together pass the device quota (a check that takes time, as on PostgreSQL)', async () => {
  const storage = openSqliteStorage({ file: ':memory:' });
  try {
    const registry = new RegistryService(storage.registry);
    await registry.createProduct(T, { id: 'sensor', model: MODEL });
    const limit = 3;
    registry.useDeviceQuota(async (tenant, adding) => {
      const count = (await storage.registry.listDevices(tenant, {}, { limit: 1, offset: 0 })).total;
      // A round trip to a server: every concurrent creation would see the same count without the lock.
      await new Promise((res) => setTimeout(res, 5));
      if (count + adding > limit) throw new IipError('IIP_ERR_QUOTA_DEVICES', `quota ${limit}`, { limit, usage: count, adding });
    });
    const results = await Promise.allSettled([
      ...Array.from({ length: 6 }, (_, i) => registry.createDevice(T, { id: `d${i}`, product: 'sensor' })),
      registry.createDevices(T, [{ id: 'b1', product: 'sensor' }, { id: 'b2', product: 'sensor' }]),
    ]);
    const created = (await storage.registry.listDevices(T, {}, { limit: 100, offset: 0 })).total;
    assert.equal(created, limit, 'exactly the quota, not one more');
    for (const r of results) {
      if (r.status === 'rejected') assert.equal((r.reason as IipError).code, 'IIP_ERR_QUOTA_DEVICES');
    }
  } finally {
    await storage.close();
  }
});
