import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DeviceId, type TenantId, isIipError } from '@iip/core';
import { openSqliteStorage } from '@iip/storage';
import { tempDir } from '@iip/testkit';

const T = 'acme' as TenantId;
const G = 'gw-1' as DeviceId;

test('gateway configs are append-only versions; states upsert; both survive reopen', async () => {
  const dir = await tempDir();
  const file = `${dir.path}/s.db`;
  let s = openSqliteStorage({ file });
  try {
    const config = { channels: [{ id: 'ch1', protocol: 'modbus-tcp' as const, host: '127.0.0.1', port: 502, devices: [] }] };
    s.gateways.saveConfig({ tenant: T, gateway: G, version: 1, config, createdAt: 1, createdBy: 'admin' });
    assert.throws(() => s.gateways.saveConfig({ tenant: T, gateway: G, version: 1, config, createdAt: 2, createdBy: 'admin' }), (e) => isIipError(e) && e.code === 'IIP_ERR_CONFLICT');
    assert.throws(() => s.gateways.saveConfig({ tenant: T, gateway: G, version: 3, config, createdAt: 2, createdBy: 'admin' }), (e) => isIipError(e) && e.code === 'IIP_ERR_CONFLICT');
    s.gateways.saveConfig({ tenant: T, gateway: G, version: 2, config: { channels: [] }, createdAt: 3, createdBy: 'op' });
    s.gateways.saveState({ tenant: T, gateway: G, appliedVersion: 1, state: { buffer: { points: 5 } }, updatedAt: 10 });
    s.gateways.saveState({ tenant: T, gateway: G, appliedVersion: 2, state: { buffer: { points: 0 } }, updatedAt: 11 });
    s.close();
    s = openSqliteStorage({ file });
    assert.deepEqual(s.gateways.latestConfig(T, G)?.version, 2);
    assert.deepEqual(s.gateways.latestConfig(T, G)?.config, { channels: [] });
    assert.deepEqual(s.gateways.getState(T, G), { tenant: T, gateway: G, appliedVersion: 2, state: { buffer: { points: 0 } }, updatedAt: 11 });
    assert.deepEqual(s.gateways.listGateways(T), [{ gateway: G, desiredVersion: 2, appliedVersion: 2, updatedAt: 11 }]);
    assert.deepEqual(s.gateways.listGateways('other' as TenantId), []);
    assert.equal(s.gateways.latestConfig('other' as TenantId, G), undefined);
  } finally {
    s.close();
    await dir.cleanup();
  }
});

test('the audit log keeps who, what, old and new value and result, newest first, per tenant', async () => {
  const dir = await tempDir();
  const s = openSqliteStorage({ file: `${dir.path}/a.db` });
  try {
    const base = { tenant: T, actor: 'admin', action: 'write', property: 'setpoint', error: null } as const;
    s.audit.append({ ...base, ts: 1, device: 'plc-1', oldValue: 10, newValue: 12.5, result: 'ok' });
    s.audit.append({ ...base, ts: 2, device: 'plc-2', oldValue: null, newValue: true, result: 'error', error: 'IIP_ERR_MODBUS_EXCEPTION' });
    s.audit.append({ ...base, tenant: 'other' as TenantId, ts: 3, device: 'plc-1', oldValue: 1, newValue: 2, result: 'ok' });
    const all = s.audit.list(T, { limit: 10 });
    assert.deepEqual(all.map((e) => e.device), ['plc-2', 'plc-1']);
    assert.equal(all[1]?.newValue, 12.5);
    assert.equal(all[0]?.error, 'IIP_ERR_MODBUS_EXCEPTION');
    assert.deepEqual(s.audit.list(T, { device: 'plc-1', limit: 10 }).map((e) => e.oldValue), [10]);
  } finally {
    s.close();
    await dir.cleanup();
  }
});
