/**
 * The one conformance suite every storage adapter must pass (registry, users, telemetry of every series kind,
 * gateways, audit, access: asset tree, placements, roles, grants; device events; rules and alarms (with their source
 * kinds); the rule-action outbox).
 * An adapter's test file calls `runStorageConformance(name, open)`; `open` returns a fresh, empty store. A
 * fixture that can close and reopen the same database provides `reopen`; without it the durability case is
 * skipped and the skip says why. Every port method returns a promise, and a refusal must be a rejected
 * promise (never a synchronous throw): the cases await every call and check refusals with `assert.rejects`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, GatewayConfig, ProductId, TenantId, ThingModel, UserId } from '@iip/core';
import type {
  ActionJob,
  ActionJobFilter,
  Alarm,
  AlarmFilter,
  Asset,
  AssetLevel,
  AuditEntry,
  CustomRole,
  Device,
  DeviceEventLevel,
  Grant,
  NewActionJob,
  NewAlarm,
  NewAlarmHistoryEntry,
  NewDeviceEvent,
  Product,
  RawRow,
  RollupRow,
  Storage,
  StoredRule,
  TenantPolicy,
} from '@iip/storage';
import { estimateStoredBytes, eventHash, GENESIS_HASH, verifyEventChain } from '@iip/storage';

export interface StorageFixture {
  readonly storage: Storage;
  /** Closes the store and opens the same database again (for the durability case). */
  readonly reopen?: () => Promise<Storage>;
  cleanup(): Promise<void>;
}

const T1 = 'acme' as TenantId;
const T2 = 'globex' as TenantId;
const P1 = 'cnc' as ProductId;

const MODEL: ThingModel = {
  properties: [
    { id: 'temp', name: '温度', dataType: { type: 'float', min: -40, max: 125.5, unit: '°C' }, access: 'r' },
    { id: 'mode', dataType: { type: 'enum', values: [{ value: 'run', text: '运行' }, { value: 'stop' }] }, access: 'rw' },
    { id: 'on', dataType: { type: 'bool', trueText: 'an', falseText: 'aus' }, access: 'r' },
  ],
  events: [{ id: 'fault', level: 'alert', outputs: [{ id: 'code', dataType: { type: 'int' }, required: true }] }],
  services: [{ id: 'reset', description: 'quote " and \\ backslash', inputs: [], outputs: [] }],
};

const product = (tenant: TenantId, id: string = P1): Product => ({
  tenant,
  id: id as ProductId,
  name: 'CNC mill',
  category: 'cnc',
  model: MODEL,
  version: 1,
  createdAt: 1_700_000_000_000,
});

const device = (tenant: TenantId, id: string, p = P1): Device => ({
  tenant,
  id: id as DeviceId,
  product: p,
  name: `Device ${id}`,
  secretHash: `hash-${id}`,
  attributes: { line: 'A', 位置: '车间 3', empty: '' },
  createdAt: 1_700_000_000_001,
  // As read back: a new device is not on the asset tree (AccessStore.placeDevice puts it there).
  asset: null,
});

const asset = (tenant: TenantId, id: string, level: AssetLevel, parent: string | null, extra: Partial<Asset> = {}): Asset => ({
  tenant,
  id,
  parent,
  level,
  name: `Asset ${id}`,
  nameZh: null,
  createdAt: 1_700_000_000_002,
  ...extra,
});

const role = (tenant: TenantId, id: string, permissions: readonly string[] = ['device:read']): CustomRole => ({
  tenant,
  id,
  name: `Role ${id}`,
  permissions,
  createdAt: 1_700_000_000_003,
});

const grant = (tenant: TenantId, id: string, userId: string, roleId: string, on: string | null): Grant => ({
  tenant,
  id,
  userId: userId as UserId,
  role: roleId,
  asset: on,
  createdAt: 1_700_000_000_004,
});

const member = (tenant: TenantId, id: string) => ({
  id: id as UserId,
  tenant,
  username: `${id}@${tenant}`,
  passwordHash: `h-${id}`,
  role: 'viewer' as const,
  createdAt: 6,
});

/**
 * A tenant's tree used by the access cases:
 *   ent (enterprise) › site (site) › area-1 (area) › line-1 (line) › cell-1, cell-2 (cell)
 *                                  › area-2 (area) › line-2 (line)
 */
async function buildTree(s: Storage, tenant: TenantId): Promise<void> {
  await s.access.createAsset(asset(tenant, 'ent', 'enterprise', null));
  await s.access.createAsset(asset(tenant, 'site', 'site', 'ent'));
  await s.access.createAsset(asset(tenant, 'area-1', 'area', 'site'));
  await s.access.createAsset(asset(tenant, 'area-2', 'area', 'site'));
  await s.access.createAsset(asset(tenant, 'line-1', 'line', 'area-1'));
  await s.access.createAsset(asset(tenant, 'line-2', 'line', 'area-2'));
  await s.access.createAsset(asset(tenant, 'cell-1', 'cell', 'line-1'));
  await s.access.createAsset(asset(tenant, 'cell-2', 'cell', 'line-1'));
}

/** id → parent of every asset of the tenant. */
async function parents(s: Storage, tenant: TenantId): Promise<Record<string, string | null>> {
  return Object.fromEntries((await s.access.listAssets(tenant)).map((a) => [a.id, a.parent]));
}

const key = (tenant: TenantId, dev: string, property: string) => ({ tenant, device: dev as DeviceId, property });

function code(expected: string, details?: Record<string, unknown>) {
  return (e: unknown): boolean => {
    const err = e as { code?: string; details?: Record<string, unknown> };
    assert.equal(err.code, expected, `expected ${expected}, got ${String(e)}`);
    for (const [k, v] of Object.entries(details ?? {})) assert.deepEqual(err.details?.[k], v, `details.${k}`);
    return true;
  };
}

/** Brute-force rollup of raw points: what every level must hold. */
function expectedRollups(points: readonly RawRow[], level: number): RollupRow[] {
  const cells = new Map<string, RollupRow>();
  for (const p of points) {
    if (p.num === null) continue;
    const bucket = Math.floor(p.ts / level) * level;
    const k = `${p.series}:${bucket}`;
    const c = cells.get(k);
    cells.set(
      k,
      c
        ? { ...c, min: Math.min(c.min, p.num), max: Math.max(c.max, p.num), sum: c.sum + p.num, count: c.count + 1 }
        : { series: p.series, bucket, min: p.num, max: p.num, sum: p.num, count: 1 },
    );
  }
  return [...cells.values()].sort((a, b) => a.series - b.series || a.bucket - b.bucket);
}

const GW = 'gw-1' as DeviceId;
const GATEWAY_CONFIG: GatewayConfig = {
  channels: [
    {
      id: 'ch1',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port: 502,
      devices: [{ id: 'plc-1', unitId: 1, pollIntervalMs: 1_000, points: [{ property: 'temp', area: 'holding', address: 0, type: 'float32', scale: 0.1 }] }],
    },
  ],
};

export function runStorageConformance(name: string, open: () => Promise<StorageFixture>): void {
  /** Runs `fn` against a fresh store and always cleans up. */
  const withStore = (fn: (s: Storage, fx: StorageFixture) => Promise<void>) => async () => {
    const fx = await open();
    try {
      await fn(fx.storage, fx);
    } finally {
      await fx.cleanup();
    }
  };

  describe(`storage conformance: ${name}`, () => {
    describe('registry', () => {
      it('creates, reads and lists tenants; a duplicate id conflicts', withStore(async (s) => {
        await s.registry.createTenant({ id: T2, name: 'Globex', createdAt: 2 });
        await s.registry.createTenant({ id: T1, name: 'Acme 有限公司', createdAt: 1 });
        assert.deepEqual(await s.registry.getTenant(T1), { id: T1, name: 'Acme 有限公司', createdAt: 1, status: 'active', suspendedReason: null });
        assert.equal(await s.registry.getTenant('nope' as TenantId), undefined);
        assert.deepEqual((await s.registry.listTenants()).map((t) => t.id), [T1, T2]);
        await assert.rejects(() => s.registry.createTenant({ id: T1, name: 'again', createdAt: 3 }), code('IIP_ERR_CONFLICT'));
        assert.equal((await s.registry.getTenant(T1))?.name, 'Acme 有限公司');
      }));

      it('round-trips the thing model exactly and bumps the version on update', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        assert.deepEqual(await s.registry.getProduct(T1, P1), product(T1));
        await assert.rejects(() => s.registry.createProduct(product(T1)), code('IIP_ERR_CONFLICT'));
        const model: ThingModel = { ...MODEL, properties: MODEL.properties.slice(0, 1) };
        const updated = await s.registry.updateProduct({ tenant: T1, id: P1, name: 'Mill 2', category: 'mill', model });
        assert.equal(updated.version, 2);
        assert.equal(updated.createdAt, product(T1).createdAt);
        assert.deepEqual(await s.registry.getProduct(T1, P1), { ...product(T1), name: 'Mill 2', category: 'mill', model, version: 2 });
        await assert.rejects(
          () => s.registry.updateProduct({ tenant: T1, id: 'ghost' as ProductId, name: 'x', category: 'x', model }),
          code('IIP_ERR_NOT_FOUND'),
        );
        await assert.rejects(
          () => s.registry.updateProduct({ tenant: T2, id: P1, name: 'x', category: 'x', model }),
          code('IIP_ERR_NOT_FOUND'),
        );
      }));

      it('concurrent product updates each get their own version (no update is lost)', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
        const results = await Promise.all(
          names.map((n) => s.registry.updateProduct({ tenant: T1, id: P1, name: n, category: 'cnc', model: MODEL })),
        );
        assert.deepEqual(results.map((p) => p.version).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9]);
        const last = results.find((p) => p.version === 9);
        assert.deepEqual(await s.registry.getProduct(T1, P1), last);
      }));

      it('lists products of one tenant in id order', withStore(async (s) => {
        for (const id of ['pump', 'cnc', 'oven']) await s.registry.createProduct(product(T1, id));
        await s.registry.createProduct(product(T2, 'zeta'));
        assert.deepEqual((await s.registry.listProducts(T1)).map((p) => p.id), ['cnc', 'oven', 'pump']);
        assert.deepEqual(await s.registry.listProducts('nobody' as TenantId), []);
      }));

      it('refuses to delete a product that still has devices', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        await s.registry.createDevice(device(T1, 'd1'));
        await assert.rejects(() => s.registry.deleteProduct(T1, P1), code('IIP_ERR_CONFLICT'));
        assert.ok(await s.registry.getProduct(T1, P1), 'the refused delete left the product');
        assert.equal(await s.registry.deleteDevice(T1, 'd1' as DeviceId), true);
        assert.equal(await s.registry.deleteDevice(T1, 'd1' as DeviceId), false);
        assert.equal(await s.registry.deleteProduct(T1, P1), true);
        assert.equal(await s.registry.deleteProduct(T1, P1), false);
      }));

      it('creates devices, round-trips attributes, reports conflicts and unknown products', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        await s.registry.createDevice(device(T1, 'd1'));
        assert.deepEqual(await s.registry.getDevice(T1, 'd1' as DeviceId), device(T1, 'd1'));
        await assert.rejects(() => s.registry.createDevice(device(T1, 'd1')), code('IIP_ERR_CONFLICT', { device: 'd1' }));
        await assert.rejects(() => s.registry.createDevice(device(T1, 'd2', 'nope' as ProductId)), code('IIP_ERR_NOT_FOUND', { device: 'd2' }));
        // A product of another tenant does not count.
        await s.registry.createProduct(product(T2, 'only-globex'));
        await assert.rejects(() => s.registry.createDevice(device(T1, 'd3', 'only-globex' as ProductId)), code('IIP_ERR_NOT_FOUND'));
        assert.equal((await s.registry.listDevices(T1)).total, 1);
      }));

      it('createDevices is all or nothing and names the offending row', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        await s.registry.createDevice(device(T1, 'taken'));
        const batch = [device(T1, 'a'), device(T1, 'b'), device(T1, 'taken'), device(T1, 'c')];
        await assert.rejects(() => s.registry.createDevices(batch), code('IIP_ERR_CONFLICT', { index: 2, device: 'taken' }));
        assert.equal((await s.registry.listDevices(T1)).total, 1);
        const dupInBatch = [device(T1, 'a'), device(T1, 'a')];
        await assert.rejects(() => s.registry.createDevices(dupInBatch), code('IIP_ERR_CONFLICT', { index: 1, device: 'a' }));
        const unknown = [device(T1, 'a'), device(T1, 'b', 'ghost' as ProductId)];
        await assert.rejects(() => s.registry.createDevices(unknown), code('IIP_ERR_NOT_FOUND', { index: 1, device: 'b' }));
        assert.equal((await s.registry.listDevices(T1)).total, 1);
        await s.registry.createDevices([device(T1, 'a'), device(T1, 'b')]);
        assert.equal((await s.registry.listDevices(T1)).total, 3);
        await s.registry.createDevices([]);
        assert.equal((await s.registry.listDevices(T1)).total, 3);
      }));

      it('creates a large batch of devices in one call', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        const ids = Array.from({ length: 2_500 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
        await s.registry.createDevices(ids.map((id) => device(T1, id)));
        const page = await s.registry.listDevices(T1, undefined, { limit: 3, offset: 2_497 });
        assert.equal(page.total, 2_500);
        assert.deepEqual(page.items.map((d) => d.id), ids.slice(2_497));
        assert.deepEqual(page.items[0], device(T1, ids[2_497]!));
      }));

      it('lists devices by product with paging and a total', withStore(async (s) => {
        await s.registry.createProduct(product(T1));
        await s.registry.createProduct(product(T1, 'pump'));
        await s.registry.createDevices(['d3', 'd1', 'd2', 'd5', 'd4'].map((id) => device(T1, id)));
        await s.registry.createDevices(['p1', 'p2'].map((id) => device(T1, id, 'pump' as ProductId)));
        const all = await s.registry.listDevices(T1);
        assert.equal(all.total, 7);
        assert.deepEqual(all.items.map((d) => d.id), ['d1', 'd2', 'd3', 'd4', 'd5', 'p1', 'p2']);
        const page = await s.registry.listDevices(T1, { product: P1 }, { limit: 2, offset: 1 });
        assert.equal(page.total, 5);
        assert.deepEqual(page.items.map((d) => d.id), ['d2', 'd3']);
        assert.deepEqual((await s.registry.listDevices(T1, { product: 'pump' as ProductId })).items.map((d) => d.id), ['p1', 'p2']);
        const beyond = await s.registry.listDevices(T1, {}, { limit: 10, offset: 50 });
        assert.deepEqual(beyond, { items: [], total: 7 });
      }));

      it('isolates tenants: the same ids live side by side and never leak', withStore(async (s) => {
        for (const t of [T1, T2]) await s.registry.createProduct({ ...product(t), name: `mill of ${t}` });
        await s.registry.createDevice({ ...device(T1, 'd1'), name: 'acme d1' });
        await s.registry.createDevice({ ...device(T2, 'd1'), name: 'globex d1' });
        await s.registry.createDevice(device(T2, 'only-globex'));
        assert.equal((await s.registry.getProduct(T1, P1))?.name, `mill of ${T1}`);
        assert.equal((await s.registry.getDevice(T1, 'd1' as DeviceId))?.name, 'acme d1');
        assert.equal(await s.registry.getDevice(T1, 'only-globex' as DeviceId), undefined);
        assert.deepEqual((await s.registry.listDevices(T1)).items.map((d) => d.id), ['d1']);
        assert.equal((await s.registry.listProducts(T1)).length, 1);
        assert.equal(await s.registry.deleteDevice(T1, 'only-globex' as DeviceId), false);
        assert.equal(await s.registry.deleteDevice(T1, 'd1' as DeviceId), true);
        assert.equal((await s.registry.getDevice(T2, 'd1' as DeviceId))?.name, 'globex d1');
        assert.equal(await s.registry.deleteProduct(T1, P1), true);
        assert.equal((await s.registry.getProduct(T2, P1))?.name, `mill of ${T2}`);
      }));

      it('updates a tenant: renames, suspends with a reason, re-activates; absent is not found', withStore(async (s) => {
        await s.registry.createTenant({ id: T1, name: 'Acme', createdAt: 1 });
        await s.registry.createTenant({ id: T2, name: 'Globex', createdAt: 2 });
        const active = { id: T1, name: 'Acme', createdAt: 1, status: 'active', suspendedReason: null };
        assert.deepEqual(await s.registry.getTenant(T1), active);
        const suspended = await s.registry.updateTenant(T1, { status: 'suspended', suspendedReason: '合同到期 (contract ended)' });
        assert.deepEqual(suspended, { ...active, status: 'suspended', suspendedReason: '合同到期 (contract ended)' });
        assert.deepEqual(await s.registry.getTenant(T1), suspended);
        // A rename alone keeps the suspension and its reason.
        const renamed = await s.registry.updateTenant(T1, { name: 'Acme GmbH' });
        assert.deepEqual(renamed, { ...suspended, name: 'Acme GmbH' });
        assert.deepEqual((await s.registry.listTenants()).map((t) => [t.id, t.status]), [[T1, 'suspended'], [T2, 'active']]);
        // Re-activating clears the reason.
        const back = await s.registry.updateTenant(T1, { status: 'active' });
        assert.deepEqual(back, { ...active, name: 'Acme GmbH' });
        assert.deepEqual(await s.registry.getTenant(T1), back);
        await assert.rejects(() => s.registry.updateTenant('ghost' as TenantId, { name: 'x' }), code('IIP_ERR_NOT_FOUND', { tenant: 'ghost' }));
        assert.equal(await s.registry.getTenant('ghost' as TenantId), undefined, 'a refused update creates nothing');
        assert.deepEqual(await s.registry.getTenant(T2), { id: T2, name: 'Globex', createdAt: 2, status: 'active', suspendedReason: null });
      }));

      it('deletes a tenant with every row of it and leaves other tenants untouched', withStore(async (s) => {
        // Two tenants with the same ids everywhere.
        for (const t of [T1, T2]) {
          await s.registry.createTenant({ id: t, name: `tenant ${t}`, createdAt: 1 });
          await s.registry.setTenantPolicy(t, { retention: {}, quotas: { devices: 30 } });
          await s.registry.createProduct(product(t));
          await s.registry.createDevices([device(t, 'd1'), device(t, 'd2')]);
          await buildTree(s, t);
          await s.access.placeDevice(t, 'd1', 'cell-1');
          await s.users.createUser(member(t, `u-${t}`));
          await s.users.saveToken({ tokenHash: `tok-${t}`, userId: `u-${t}` as UserId, tenant: t, expiresAt: 9e12, createdAt: 1 });
          await s.users.saveApiToken({ id: `api-${t}`, tenant: t, userId: `u-${t}` as UserId, name: 'ci', tokenHash: `h-${t}`, scopes: ['*'], expiresAt: 9e12, createdAt: 1 });
          await s.access.createRole(role(t, 'shift-lead'));
          await s.access.addGrant(grant(t, 'g1', `u-${t}`, 'shift-lead', 'line-1'));
          await s.access.addGrant(grant(t, 'g2', `u-${t}`, 'viewer', null));
          await s.gateways.saveConfig({ tenant: t, gateway: GW, version: 1, config: GATEWAY_CONFIG, createdAt: 1, createdBy: 'admin' });
          await s.gateways.saveState({ tenant: t, gateway: GW, appliedVersion: 1, state: {}, updatedAt: 2 });
          await s.audit.append({ tenant: t, ts: 3, actor: 'admin', action: 'write', device: 'd1', property: 'mode', oldValue: 'stop', newValue: 'run', result: 'ok', error: null });
          await s.deviceEvents.append([{ tenant: t, device: 'd1' as DeviceId, event: 'fault', ts: 4, receivedAt: 5, level: 'alert', data: { code: 7 } }]);
          await s.rules.putRule({ tenant: t, id: 'r1', doc: { id: 'r1' }, enabled: true, updatedAt: 6, updatedBy: 'admin' });
          await s.rules.saveStates(t, [{ rule: 'r1', device: 'd1' as DeviceId, state: { phase: 'raised' } }]);
          const a = { tenant: t, id: 'a1', rule: 'r1', device: 'd1' as DeviceId, severity: 'high', message: 'm', state: {}, open: true, raisedAt: 7, updatedAt: 7 };
          const e = { tenant: t, alarm: 'a1', ts: 7, type: 'activate', user: null, comment: null, isaState: 'unacked' };
          await s.alarms.createAlarm(a, e);
          await s.alarms.updateAlarm({ ...a, updatedAt: 8 }, 1, { ...e, ts: 8, type: 'ack', user: 'admin', isaState: 'acked' });
          await s.actions.enqueue([{ tenant: t, id: 'j1', rule: 'r1', device: 'd1' as DeviceId, kind: 'webhook', payload: { t }, dueAt: 9 }], 9);
        }
        const secrets = { [T1]: await s.actions.signingSecret(T1), [T2]: await s.actions.signingSecret(T2) };
        const sid = await s.telemetry.seriesId(key(T1, 'd1', 'temp'), 'n');
        await s.telemetry.write([{ series: sid, ts: 1_000, num: 1, str: null }]);

        assert.equal(await s.registry.deleteTenant(T1), true);

        assert.equal(await s.registry.getTenant(T1), undefined);
        assert.deepEqual((await s.registry.listTenants()).map((t) => t.id), [T2]);
        assert.equal(await s.registry.getTenantPolicy(T1), undefined);
        assert.deepEqual(await s.registry.listProducts(T1), []);
        assert.deepEqual(await s.registry.listDevices(T1), { items: [], total: 0 });
        assert.deepEqual(await s.access.listAssets(T1), []);
        assert.deepEqual(await s.access.listPlacements(T1), []);
        assert.deepEqual(await s.access.listRoles(T1), []);
        assert.deepEqual(await s.access.listGrants(T1), []);
        assert.equal(await s.users.getUser(`u-${T1}` as UserId), undefined);
        assert.equal(await s.users.getUserByName(`u-${T1}@${T1}`), undefined);
        assert.equal(await s.users.getToken(`tok-${T1}`), undefined);
        assert.equal(await s.users.getApiToken(`api-${T1}`), undefined);
        assert.equal((await s.users.getApiToken(`api-${T2}`))?.tenant, T2);
        assert.equal(await s.gateways.latestConfig(T1, GW), undefined);
        assert.equal(await s.gateways.getState(T1, GW), undefined);
        assert.deepEqual(await s.gateways.listGateways(T1), []);
        assert.deepEqual(await s.deviceEvents.listByTenant(T1, { limit: 10 }), []);
        assert.deepEqual(await s.rules.listRules(T1), []);
        assert.deepEqual((await s.rules.listEnabledRules()).map((r) => r.tenant), [T2]);
        assert.deepEqual(await s.rules.loadStates(T1, 'r1'), []);
        assert.equal(await s.alarms.getAlarm(T1, 'a1'), undefined);
        assert.equal(await s.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId), undefined);
        assert.deepEqual(await s.alarms.listAlarms(T1, { limit: 10 }), []);
        assert.deepEqual(await s.alarms.history(T1, 'a1'), []);
        assert.deepEqual(await s.alarms.listHistory(T1, { limit: 10 }), []);
        assert.equal(await s.actions.get(T1, 'j1'), undefined);
        assert.deepEqual(await s.actions.counts(T1), { pending: 0, done: 0, dead: 0 });
        // The audit log outlives the tenant; telemetry is the caller's to delete.
        assert.equal((await s.audit.list(T1, { limit: 10 })).length, 1);
        assert.deepEqual(await s.telemetry.raw(sid, 0, 1e12, 10), [{ series: sid, ts: 1_000, num: 1, str: null }]);

        // The other tenant keeps everything.
        assert.equal((await s.registry.getTenant(T2))?.name, `tenant ${T2}`);
        assert.deepEqual(await s.registry.getTenantPolicy(T2), { retention: {}, quotas: { devices: 30 } });
        assert.deepEqual((await s.registry.listDevices(T2)).items.map((d) => [d.id, d.asset]), [['d1', 'cell-1'], ['d2', null]]);
        assert.equal((await s.access.listAssets(T2)).length, 8);
        assert.deepEqual(await s.access.listPlacements(T2), [{ device: 'd1', asset: 'cell-1' }]);
        assert.deepEqual((await s.access.listRoles(T2)).map((r) => r.id), ['shift-lead']);
        assert.deepEqual((await s.access.listGrants(T2)).map((g) => g.id), ['g1', 'g2']);
        assert.equal((await s.users.getUser(`u-${T2}` as UserId))?.tenant, T2);
        assert.equal((await s.users.getToken(`tok-${T2}`))?.userId, `u-${T2}`);
        assert.equal((await s.gateways.latestConfig(T2, GW))?.version, 1);
        assert.equal((await s.gateways.getState(T2, GW))?.appliedVersion, 1);
        assert.deepEqual((await s.deviceEvents.listByTenant(T2, { limit: 10 })).map((e) => [e.device, e.event, e.seq]), [['d1', 'fault', 1]]);
        assert.equal((await s.rules.getRule(T2, 'r1'))?.version, 1);
        assert.deepEqual((await s.rules.loadStates(T2, 'r1')).map((r) => r.state), [{ phase: 'raised' }]);
        assert.equal((await s.alarms.openAlarm(T2, 'r1', 'd1' as DeviceId))?.version, 2);
        assert.deepEqual((await s.alarms.history(T2, 'a1')).map((e) => [e.seq, e.type]), [[1, 'activate'], [2, 'ack']]);
        assert.deepEqual((await s.actions.get(T2, 'j1'))?.payload, { t: T2 });
        assert.equal(await s.actions.signingSecret(T2), secrets[T2]);

        assert.equal(await s.registry.deleteTenant(T1), false);
        assert.equal(await s.registry.deleteTenant('ghost' as TenantId), false);
        // The ids are free again.
        await s.registry.createTenant({ id: T1, name: 'again', createdAt: 5 });
        await s.users.createUser(member(T1, `u-${T1}`));
        await s.registry.createProduct(product(T1));
        await s.access.createAsset(asset(T1, 'ent', 'enterprise', null));
        assert.deepEqual((await s.access.listAssets(T1)).map((a) => a.id), ['ent']);
        const [again] = await s.deviceEvents.append([{ tenant: T1, device: 'd1' as DeviceId, event: 'fault', ts: 6, receivedAt: 6, level: 'info', data: {} }]);
        assert.equal(again?.seq, 2, "a deleted tenant's event seqs are not handed out again");
        assert.equal((await s.rules.putRule({ tenant: T1, id: 'r1', doc: {}, enabled: true, updatedAt: 9, updatedBy: 'admin' }, 0)).version, 1);
        const a1 = { tenant: T1, id: 'a1', rule: 'r1', device: 'd1' as DeviceId, severity: 'high', message: 'm', state: {}, open: true, raisedAt: 9, updatedAt: 9 };
        const { entry } = await s.alarms.createAlarm(a1, { tenant: T1, alarm: 'a1', ts: 9, type: 'activate', user: null, comment: null, isaState: 'unacked' });
        assert.equal(entry.seq, 3, "a deleted tenant's alarm history seqs are not handed out again");
        assert.notEqual(await s.actions.signingSecret(T1), secrets[T1], "a deleted tenant's webhook signing secret is not handed to a new one");
      }));
    });

    describe('users', () => {
      const user = (id: string, username: string) => ({
        id: id as UserId,
        tenant: T1,
        username,
        passwordHash: `h-${id}`,
        createdAt: 5,
        disabled: false,
        failedLogins: 0,
        lockedUntil: null,
        kind: 'person' as const,
        totpSecret: null,
        totpPending: null,
        totpLastStep: null,
      });

      it('creates and finds users; usernames are unique across tenants', withStore(async (s) => {
        assert.equal(await s.users.countUsers(), 0);
        await s.users.createUser(user('u1', 'alice'));
        assert.deepEqual(await s.users.getUser('u1' as UserId), user('u1', 'alice'));
        assert.deepEqual(await s.users.getUserByName('alice'), user('u1', 'alice'));
        assert.equal(await s.users.getUserByName('Alice'), undefined, 'usernames compare exactly');
        assert.equal(await s.users.getUser('ghost' as UserId), undefined);
        await assert.rejects(() => s.users.createUser({ ...user('u2', 'alice'), tenant: T2 }), code('IIP_ERR_CONFLICT'));
        await assert.rejects(() => s.users.createUser(user('u1', 'bob')), code('IIP_ERR_CONFLICT'));
        await s.users.setPasswordHash('u1' as UserId, 'new');
        assert.equal((await s.users.getUser('u1' as UserId))?.passwordHash, 'new');
        await assert.rejects(() => s.users.setPasswordHash('ghost' as UserId, 'x'), code('IIP_ERR_NOT_FOUND'));
        assert.equal(await s.users.countUsers(), 1);
        for (const name of ['carol', 'bob'] as const) {
          await s.users.createUser({ ...user(`u-${name}`, name), tenant: T2 });
          assert.equal((await s.users.getUserByName(name))?.tenant, T2);
        }
        assert.equal(await s.users.countUsers(), 3);
        // A tenant's users, by username; none of another tenant's.
        assert.deepEqual((await s.users.listUsers(T2)).map((u) => u.username), ['bob', 'carol']);
        assert.deepEqual((await s.users.listUsers('nobody' as TenantId)).map((u) => u.username), []);
      }));

      it('saves, finds, deletes and expires tokens', withStore(async (s) => {
        await s.users.createUser(user('u1', 'alice'));
        const tok = (h: string, expiresAt: number) => ({ tokenHash: h, userId: 'u1' as UserId, tenant: T1, expiresAt, createdAt: 1, lastUsedAt: null });
        await s.users.saveToken(tok('a', 100));
        await s.users.saveToken(tok('b', 200));
        await s.users.saveToken(tok('c', 300));
        assert.deepEqual(await s.users.getToken('a'), tok('a', 100));
        await s.users.deleteToken('c');
        assert.equal(await s.users.getToken('c'), undefined);
        await s.users.deleteToken('never-saved');
        assert.equal(await s.users.deleteExpiredTokens(150), 1);
        assert.equal(await s.users.getToken('a'), undefined);
        assert.deepEqual(await s.users.getToken('b'), tok('b', 200));
        assert.equal(await s.users.deleteExpiredTokens(200), 1, 'a token expiring exactly now is expired');
        assert.equal(await s.users.getToken('b'), undefined);
      }));

      it('refuses a token of an unknown user and a duplicate token hash', withStore(async (s) => {
        await s.users.createUser(user('u1', 'alice'));
        const tok = { tokenHash: 'x', userId: 'u1' as UserId, tenant: T1, expiresAt: 100, createdAt: 1, lastUsedAt: null };
        await assert.rejects(() => s.users.saveToken({ ...tok, userId: 'ghost' as UserId }), code('IIP_ERR_NOT_FOUND'));
        await s.users.saveToken(tok);
        await assert.rejects(() => s.users.saveToken({ ...tok, expiresAt: 999 }), code('IIP_ERR_CONFLICT'));
        assert.deepEqual(await s.users.getToken('x'), tok);
      }));

      it('counts failed sign-ins atomically and locks at the threshold; success clears; disable; touch; sign out everywhere', withStore(async (s) => {
        await s.users.createUser(user('u1', 'alice'));
        await s.users.createUser(user('u2', 'bob'));
        // Concurrent failures are all counted (one statement each).
        const counts = await Promise.all([1, 2, 3, 4].map(() => s.users.loginFailed('u1' as UserId, 1_000, 5, 60_000)));
        assert.deepEqual(counts.map((c) => c.failedLogins).sort(), [1, 2, 3, 4]);
        assert.ok(counts.every((c) => c.lockedUntil === null), 'not locked below the threshold');
        assert.deepEqual(await s.users.loginFailed('u1' as UserId, 2_000, 5, 60_000), { failedLogins: 5, lockedUntil: 62_000 });
        assert.deepEqual(await s.users.loginFailed('u1' as UserId, 3_000, 5, 60_000), { failedLogins: 6, lockedUntil: 63_000 }, 'each failure while locked extends the lock');
        const locked = await s.users.getUser('u1' as UserId);
        assert.deepEqual([locked?.failedLogins, locked?.lockedUntil], [6, 63_000]);
        await s.users.loginSucceeded('u1' as UserId);
        const cleared = await s.users.getUser('u1' as UserId);
        assert.deepEqual([cleared?.failedLogins, cleared?.lockedUntil], [0, null]);
        await assert.rejects(() => s.users.loginFailed('ghost' as UserId, 1, 5, 1), code('IIP_ERR_NOT_FOUND'));

        await s.users.setDisabled('u1' as UserId, true);
        assert.equal((await s.users.getUser('u1' as UserId))?.disabled, true);
        await s.users.setDisabled('u1' as UserId, false);
        assert.equal((await s.users.getUser('u1' as UserId))?.disabled, false);
        await assert.rejects(() => s.users.setDisabled('ghost' as UserId, true), code('IIP_ERR_NOT_FOUND'));

        const tok = (h: string, userId: string) => ({ tokenHash: h, userId: userId as UserId, tenant: T1, expiresAt: 10_000, createdAt: 1 });
        for (const [h, u] of [['a', 'u1'], ['b', 'u1'], ['c', 'u2']] as const) await s.users.saveToken(tok(h, u));
        await s.users.touchToken('a', 4_242);
        assert.equal((await s.users.getToken('a'))?.lastUsedAt, 4_242);
        assert.equal((await s.users.getToken('b'))?.lastUsedAt, null);
        assert.equal(await s.users.deleteTokensOfUser('u1' as UserId), 2);
        assert.equal(await s.users.getToken('a'), undefined);
        assert.equal(await s.users.getToken('b'), undefined);
        assert.equal((await s.users.getToken('c'))?.userId, 'u2', "another user's sessions stay");
      }));

      it('keeps the TOTP state and accepts each time step once, in order, even when asked concurrently', withStore(async (s) => {
        await s.users.createUser(user('u1', 'alice'));
        await s.users.setTotp('u1' as UserId, { secret: null, pending: 'PENDINGSECRET' });
        let u = await s.users.getUser('u1' as UserId);
        assert.deepEqual([u?.totpSecret, u?.totpPending, u?.totpLastStep], [null, 'PENDINGSECRET', null]);
        await s.users.setTotp('u1' as UserId, { secret: 'ONSECRET', pending: null });
        assert.equal(await s.users.claimTotpStep('u1' as UserId, 100), true);
        // The same step twice at once: exactly one wins (a code cannot be replayed, even across processes).
        const both = await Promise.all([s.users.claimTotpStep('u1' as UserId, 101), s.users.claimTotpStep('u1' as UserId, 101)]);
        assert.deepEqual(both.sort(), [false, true]);
        assert.equal(await s.users.claimTotpStep('u1' as UserId, 100), false, 'an earlier step is refused');
        u = await s.users.getUser('u1' as UserId);
        assert.deepEqual([u?.totpSecret, u?.totpPending, u?.totpLastStep], ['ONSECRET', null, 101]);
        await s.users.setTotp('u1' as UserId, { secret: null, pending: null });
        assert.equal((await s.users.getUser('u1' as UserId))?.totpLastStep, null, 'turning it off forgets the last step');
        await assert.rejects(() => s.users.setTotp('ghost' as UserId, { secret: 'x', pending: null }), code('IIP_ERR_NOT_FOUND'));
        assert.equal(await s.users.claimTotpStep('ghost' as UserId, 1), false);
        await s.users.createUser({ ...user('svc', 'robot'), kind: 'service' });
        assert.equal((await s.users.getUser('svc' as UserId))?.kind, 'service');
      }));

      it('saves, lists, touches and deletes API tokens; a token of an unknown user or a duplicate id is refused', withStore(async (s) => {
        await s.users.createUser(user('u1', 'alice'));
        await s.users.createUser(user('u2', 'bob'));
        const api = (id: string, userId: string, createdAt: number) => ({
          id,
          tenant: T1,
          userId: userId as UserId,
          name: `token ${id}`,
          tokenHash: `hash-${id}`,
          scopes: ['devices:read', 'telemetry:read'],
          expiresAt: 99_000,
          createdAt,
          lastUsedAt: null,
        });
        await s.users.saveApiToken(api('t1', 'u1', 10));
        await s.users.saveApiToken(api('t2', 'u1', 20));
        await s.users.saveApiToken(api('t3', 'u2', 30));
        assert.deepEqual(await s.users.getApiToken('t1'), api('t1', 'u1', 10));
        assert.deepEqual((await s.users.listApiTokens('u1' as UserId)).map((t) => t.id), ['t2', 't1'], 'newest first, only the user\'s');
        await assert.rejects(() => s.users.saveApiToken(api('t1', 'u2', 40)), code('IIP_ERR_CONFLICT'));
        await assert.rejects(() => s.users.saveApiToken(api('t9', 'ghost', 40)), code('IIP_ERR_NOT_FOUND'));
        await s.users.touchApiToken('t1', 5_000);
        assert.equal((await s.users.getApiToken('t1'))?.lastUsedAt, 5_000);
        assert.equal(await s.users.deleteApiToken('u2' as UserId, 't1'), false, "another user's token is not deleted");
        assert.equal(await s.users.deleteApiToken('u1' as UserId, 't1'), true);
        assert.equal(await s.users.getApiToken('t1'), undefined);
        assert.equal(await s.users.deleteApiToken('u1' as UserId, 't1'), false);
        // Session tokens are not API tokens: ending every session leaves API tokens alone.
        await s.users.deleteTokensOfUser('u1' as UserId);
        assert.equal((await s.users.getApiToken('t2'))?.name, 'token t2');
      }));
    });

    describe('telemetry', () => {
      it('hands out stable series ids per (tenant, device, property) and refuses a kind change', withStore(async (s) => {
        const t = s.telemetry;
        const a = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        assert.equal(await t.seriesId(key(T1, 'd1', 'temp'), 'n'), a);
        const b = await t.seriesId(key(T2, 'd1', 'temp'), 'n');
        const c = await t.seriesId(key(T1, 'd1', 'mode'), 's');
        assert.equal(new Set([a, b, c]).size, 3);
        await assert.rejects(() => t.seriesId(key(T1, 'd1', 'temp'), 's'), code('IIP_ERR_STORAGE_SERIES_KIND'));
        assert.deepEqual(await t.listSeries(T1, 'd1' as DeviceId), [
          { id: c, property: 'mode', kind: 's' },
          { id: a, property: 'temp', kind: 'n' },
        ]);
        assert.deepEqual(await t.listSeries(T2, 'd1' as DeviceId), [{ id: b, property: 'temp', kind: 'n' }]);
      }));

      it('gives concurrent first uses of one series the same id', withStore(async (s) => {
        const t = s.telemetry;
        const ids = await Promise.all(Array.from({ length: 8 }, () => t.seriesId(key(T1, 'd9', 'temp'), 'n')));
        assert.equal(new Set(ids).size, 1);
        assert.deepEqual(await t.listSeries(T1, 'd9' as DeviceId), [{ id: ids[0], property: 'temp', kind: 'n' }]);
      }));

      it('ignores and counts duplicates, and never counts them twice in rollups', withStore(async (s) => {
        const t = s.telemetry;
        const sid = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const t0 = 1_700_000_000_000;
        const rows: RawRow[] = [];
        for (let i = 0; i < 500; i++) rows.push({ series: sid, ts: t0 + i * 7_919, num: (i * 37) % 101, str: null });
        assert.deepEqual(await t.write(rows), { inserted: 500, duplicates: 0 });
        assert.deepEqual(await t.write(rows), { inserted: 0, duplicates: 500 });
        // Overlapping redelivery with a changed value: the stored value wins, only new points count.
        const overlap = rows.slice(400).map((r) => ({ ...r, num: 9_999 }));
        overlap.push({ series: sid, ts: t0 + 500 * 7_919, num: 3, str: null });
        assert.deepEqual(await t.write(overlap), { inserted: 1, duplicates: 100 });
        // Duplicates inside one batch.
        const last = { series: sid, ts: t0 + 501 * 7_919, num: 4, str: null };
        assert.deepEqual(await t.write([last, { ...last, num: 5 }]), { inserted: 1, duplicates: 1 });
        const stored = [...rows, overlap.at(-1)!, last];
        assert.deepEqual(await t.raw(sid, 0, Number.MAX_SAFE_INTEGER, 10_000), stored);
        for (const level of t.rollupLevels) {
          assert.deepEqual(await t.rollups(level, sid, 0, Number.MAX_SAFE_INTEGER), expectedRollups(stored, level), `level ${level}`);
        }
      }));

      it('stores each point once when concurrent writes overlap, and rolls up each once', withStore(async (s) => {
        const t = s.telemetry;
        const a = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const b = await t.seriesId(key(T1, 'd1', 'press'), 'n');
        const t0 = 1_700_000_000_000;
        const batch = (from: number, to: number): RawRow[] => {
          const rows: RawRow[] = [];
          for (let i = from; i < to; i++) rows.push({ series: i % 2 ? a : b, ts: t0 + i * 1_000, num: i % 97, str: null });
          return rows;
        };
        // Three writers at once: 0-1200, 800-2000 and 1600-2400 overlap pairwise; 2,400 distinct points in all.
        const results = await Promise.all([t.write(batch(0, 1_200)), t.write(batch(800, 2_000)), t.write(batch(1_600, 2_400))]);
        assert.equal(results.reduce((n, r) => n + r.inserted, 0), 2_400);
        assert.equal(results.reduce((n, r) => n + r.duplicates, 0), 800);
        const all = batch(0, 2_400);
        for (const sid of [a, b]) {
          const stored = all.filter((r) => r.series === sid);
          assert.deepEqual(await t.raw(sid, 0, Number.MAX_SAFE_INTEGER, 10_000), stored);
          for (const level of t.rollupLevels) {
            assert.deepEqual(await t.rollups(level, sid, 0, Number.MAX_SAFE_INTEGER), expectedRollups(stored, level), `level ${level}`);
          }
        }
        assert.deepEqual(await t.latest([a, b]), [all[2_399], all[2_398]].sort((x, y) => x!.series - y!.series));
      }));

      it('rolls up numeric and boolean series but not strings', withStore(async (s) => {
        const t = s.telemetry;
        const on = await t.seriesId(key(T1, 'd1', 'on'), 'b');
        const mode = await t.seriesId(key(T1, 'd1', 'mode'), 's');
        await t.write([
          { series: on, ts: 60_000, num: 1, str: null },
          { series: on, ts: 61_000, num: 0, str: null },
          { series: mode, ts: 60_000, num: null, str: 'run' },
        ]);
        assert.deepEqual(await t.rollups(60_000, on, 0, 1e12), [{ series: on, bucket: 60_000, min: 0, max: 1, sum: 1, count: 2 }]);
        assert.deepEqual(await t.rollups(60_000, mode, 0, 1e12), []);
        await assert.rejects(() => t.rollups(12_345, on, 0, 1e12), code('IIP_ERR_VALIDATION'));
      }));

      it('stores array series (kind a, issue 19) as JSON text: raw and latest read back exactly, no rollups, kind kept', withStore(async (s) => {
        const t = s.telemetry;
        const wave = await t.seriesId(key(T1, 'd1', 'waveform'), 'a');
        assert.equal(await t.seriesId(key(T1, 'd1', 'waveform'), 'a'), wave);
        await assert.rejects(() => t.seriesId(key(T1, 'd1', 'waveform'), 's'), code('IIP_ERR_STORAGE_SERIES_KIND', { stored: 'a', requested: 's' }));
        const temp = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        await assert.rejects(() => t.seriesId(key(T1, 'd1', 'temp'), 'a'), code('IIP_ERR_STORAGE_SERIES_KIND', { stored: 'n', requested: 'a' }));
        // A long waveform, a matrix of mixed signs, an empty array, strings with quotes and non-ASCII text.
        const long = JSON.stringify(Array.from({ length: 4_096 }, (_, i) => Math.sin(i / 10) * 12.5));
        const rows: RawRow[] = [
          { series: wave, ts: 60_000, num: null, str: '[0.1,0.4,-0.2]' },
          { series: wave, ts: 61_000, num: null, str: long },
          { series: wave, ts: 62_000, num: null, str: '[]' },
          { series: wave, ts: 63_000, num: null, str: '["a\\"b","振动",""]' },
          { series: wave, ts: 64_000, num: null, str: '[true,false,1e-300,-5e+300]' },
        ];
        assert.deepEqual(await t.write([...rows, { series: temp, ts: 60_000, num: 20, str: null }]), { inserted: 6, duplicates: 0 });
        assert.deepEqual(await t.raw(wave, 0, 1e12, 100), rows);
        assert.deepEqual((await t.raw(wave, 61_000, 62_000, 100))[0]?.str, long);
        assert.deepEqual(await t.latest([wave]), [rows[4]]);
        for (const level of t.rollupLevels) assert.deepEqual(await t.rollups(level, wave, 0, 1e12), [], `level ${level}`);
        assert.equal((await t.rollups(60_000, temp, 0, 1e12)).length, 1);
        // Re-delivery is a duplicate as for any series; an older point does not move latest back.
        assert.deepEqual(await t.write([rows[0]!, { series: wave, ts: 59_000, num: null, str: '[9]' }]), { inserted: 1, duplicates: 1 });
        assert.deepEqual(await t.latest([wave]), [rows[4]]);
        assert.deepEqual(await t.listSeries(T1, 'd1' as DeviceId), [
          { id: temp, property: 'temp', kind: 'n' },
          { id: wave, property: 'waveform', kind: 'a' },
        ]);
        await t.deleteDevice(T1, 'd1' as DeviceId);
        assert.deepEqual(await t.raw(wave, 0, 1e12, 100), []);
      }));

      it('moves latest values forward only, per series', withStore(async (s) => {
        const t = s.telemetry;
        const temp = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const mode = await t.seriesId(key(T1, 'd1', 'mode'), 's');
        await t.write([
          { series: temp, ts: 2_000, num: 20, str: null },
          { series: temp, ts: 3_000, num: 30, str: null },
          { series: temp, ts: 1_000, num: 10, str: null },
          { series: mode, ts: 5_000, num: null, str: 'run' },
        ]);
        await t.write([{ series: temp, ts: 2_500, num: 25, str: null }, { series: mode, ts: 4_000, num: null, str: 'stop' }]);
        assert.deepEqual(await t.latest([temp, mode]), [
          { series: temp, ts: 3_000, num: 30, str: null },
          { series: mode, ts: 5_000, num: null, str: 'run' },
        ].sort((a, b) => a.series - b.series));
        await t.write([{ series: temp, ts: 4_000, num: 40, str: null }]);
        assert.deepEqual(await t.latest([temp]), [{ series: temp, ts: 4_000, num: 40, str: null }]);
        assert.deepEqual(await t.latest([]), []);
      }));

      it('reads raw ranges with from inclusive, to exclusive and a limit', withStore(async (s) => {
        const t = s.telemetry;
        const sid = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const other = await t.seriesId(key(T1, 'd2', 'temp'), 'n');
        const rows = [5, 1, 4, 2, 3].map((i) => ({ series: sid, ts: i * 1_000, num: i, str: null }));
        await t.write([...rows, { series: other, ts: 2_000, num: 99, str: null }]);
        assert.deepEqual((await t.raw(sid, 2_000, 4_000, 100)).map((r) => r.ts), [2_000, 3_000]);
        assert.deepEqual((await t.raw(sid, 0, 10_000, 2)).map((r) => r.ts), [1_000, 2_000]);
        assert.deepEqual(await t.rollups(60_000, sid, 60_000, 120_000), []);
        assert.equal((await t.rollups(60_000, sid, 0, 60_000))[0]?.count, 5);
      }));

      it('deletes all data of one device and never reuses its series ids', withStore(async (s) => {
        const t = s.telemetry;
        const gone = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const kept = await t.seriesId(key(T1, 'd2', 'temp'), 'n');
        const sameInOtherTenant = await t.seriesId(key(T2, 'd1', 'temp'), 'n');
        const row = (series: number) => ({ series, ts: 90_000, num: 1, str: null });
        await t.write([row(gone), row(kept), row(sameInOtherTenant)]);
        await t.deleteDevice(T1, 'd1' as DeviceId);
        assert.deepEqual(await t.listSeries(T1, 'd1' as DeviceId), []);
        assert.deepEqual(await t.raw(gone, 0, 1e12, 10), []);
        for (const level of t.rollupLevels) assert.deepEqual(await t.rollups(level, gone, 0, 1e12), []);
        assert.deepEqual(await t.latest([gone]), []);
        for (const sid of [kept, sameInOtherTenant]) {
          assert.equal((await t.raw(sid, 0, 1e12, 10)).length, 1);
          assert.equal((await t.latest([sid])).length, 1);
        }
        const again = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        assert.notEqual(again, gone);
        assert.deepEqual(await t.raw(again, 0, 1e12, 10), []);
      }));
    });

    describe('tenant policy, retention and usage', () => {
      const POLICY: TenantPolicy = {
        retention: { rawDays: 30, rollups: { '60000': 365, '3600000': null } },
        quotas: { devices: 100, pointsPerDay: 1_000_000, storedBytes: null },
      };

      it('keeps one policy per tenant: none until set, replaced as a whole, unknown tenant refused', withStore(async (s) => {
        const r = s.registry;
        await r.createTenant({ id: T1, name: 'Acme', createdAt: 1 });
        await r.createTenant({ id: T2, name: 'Globex', createdAt: 2 });
        assert.equal(await r.getTenantPolicy(T1), undefined);
        await r.setTenantPolicy(T1, POLICY);
        assert.deepEqual(await r.getTenantPolicy(T1), POLICY);
        assert.equal(await r.getTenantPolicy(T2), undefined);
        const next: TenantPolicy = { retention: {}, quotas: { devices: 3 } };
        await r.setTenantPolicy(T1, next);
        assert.deepEqual(await r.getTenantPolicy(T1), next);
        await assert.rejects(() => r.setTenantPolicy('nobody' as TenantId, POLICY), code('IIP_ERR_NOT_FOUND', { tenant: 'nobody' }));
      }));

      /** Points of T1 (two series) and T2 every 10 minutes over 3 days, from `t0`. */
      async function seed(s: Storage, t0: number) {
        const t = s.telemetry;
        const a = await t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const b = await t.seriesId(key(T1, 'd2', 'mode'), 's');
        const c = await t.seriesId(key(T2, 'd1', 'temp'), 'n');
        const rows: RawRow[] = [];
        for (let i = 0; i < 3 * 144; i++) {
          const ts = t0 + i * 600_000;
          rows.push({ series: a, ts, num: i % 50, str: null }, { series: b, ts, num: null, str: i % 2 ? 'run' : '停止' }, { series: c, ts, num: i, str: null });
        }
        await t.write(rows);
        return { a, b, c, rows };
      }

      it('deletes raw points before the cutoff for one tenant only, in batches, and keeps rollups and latest', withStore(async (s) => {
        const t = s.telemetry;
        const DAY = 86_400_000;
        const t0 = 1_700_006_400_000; // a UTC midnight
        const { a, b, c, rows } = await seed(s, t0);
        const cutoff = t0 + DAY + 1; // keeps the points at t0 + DAY + 600,000 and later
        const rollupsBefore = await t.rollups(60_000, a, 0, Number.MAX_SAFE_INTEGER);
        const latestBefore = await t.latest([a, b, c]);
        const expectedGone = rows.filter((r) => r.series !== c && r.ts < cutoff).length;
        assert.equal(await t.deleteRawBefore(T1, cutoff, { batchSize: 7 }), expectedGone);
        for (const sid of [a, b]) {
          assert.deepEqual(await t.raw(sid, 0, Number.MAX_SAFE_INTEGER, 10_000), rows.filter((r) => r.series === sid && r.ts >= cutoff), `series ${sid}`);
        }
        assert.deepEqual(await t.raw(c, 0, Number.MAX_SAFE_INTEGER, 10_000), rows.filter((r) => r.series === c), 'the other tenant keeps everything');
        assert.deepEqual(await t.rollups(60_000, a, 0, Number.MAX_SAFE_INTEGER), rollupsBefore, 'rollups outlive raw');
        assert.deepEqual(await t.latest([a, b, c]), latestBefore);
        assert.equal(await t.deleteRawBefore(T1, cutoff), 0, 'a second run finds nothing');
      }));

      it('deletes rollup cells of one level that end at or before the cutoff; other levels and tenants stay', withStore(async (s) => {
        const t = s.telemetry;
        const DAY = 86_400_000;
        const HOUR = 3_600_000;
        const t0 = 1_700_006_400_000;
        const { a, c, rows } = await seed(s, t0);
        const cutoff = t0 + DAY + 30 * 60_000 + 30_000; // mid-bucket: the 1-minute cell holding it stays
        const minute = expectedRollups(rows.filter((r) => r.series === a), 60_000);
        const gone = minute.filter((r) => r.bucket + 60_000 <= cutoff).length;
        assert.equal(await t.deleteRollupsBefore(T1, 60_000, cutoff, { batchSize: 5 }), gone);
        assert.deepEqual(await t.rollups(60_000, a, 0, Number.MAX_SAFE_INTEGER), minute.filter((r) => r.bucket + 60_000 > cutoff));
        assert.deepEqual(await t.rollups(HOUR, a, 0, Number.MAX_SAFE_INTEGER), expectedRollups(rows.filter((r) => r.series === a), HOUR), 'hourly untouched');
        assert.deepEqual(await t.rollups(60_000, c, 0, Number.MAX_SAFE_INTEGER), expectedRollups(rows.filter((r) => r.series === c), 60_000), 'other tenant untouched');
        assert.equal((await t.raw(a, 0, Number.MAX_SAFE_INTEGER, 10_000)).length, 3 * 144, 'raw untouched');
        // Hourly: the cell [t0 + DAY, t0 + DAY + HOUR) ends after the cutoff and stays.
        const hourly = expectedRollups(rows.filter((r) => r.series === a), HOUR);
        assert.equal(await t.deleteRollupsBefore(T1, HOUR, cutoff), hourly.filter((r) => r.bucket + HOUR <= cutoff).length);
        assert.deepEqual(await t.rollups(HOUR, a, 0, Number.MAX_SAFE_INTEGER), hourly.filter((r) => r.bucket + HOUR > cutoff));
        await assert.rejects(() => t.deleteRollupsBefore(T1, 1_234, cutoff), code('IIP_ERR_VALIDATION', { level: 1_234 }));
      }));

      it('reports usage per tenant: series, raw points, points of the UTC day, rollup cells, estimated bytes', withStore(async (s) => {
        const t = s.telemetry;
        const DAY = 86_400_000;
        const t0 = 1_700_006_400_000;
        const empty = await t.usage(T1, t0);
        assert.deepEqual(empty, { series: 0, rawPoints: 0, pointsToday: 0, rollupRows: 0, storedBytes: 0 });
        const { c, rows } = await seed(s, t0);
        const mine = rows.filter((r) => r.series !== c);
        const rollupRows = t.rollupLevels.reduce((n, level) => n + expectedRollups(mine, level).length, 0);
        const strBytes = mine.reduce((n, r) => n + (r.str === null ? 0 : Buffer.byteLength(r.str)), 0);
        const u = await t.usage(T1, t0 + DAY + 5);
        assert.deepEqual(u, {
          series: 2,
          rawPoints: mine.length,
          pointsToday: mine.filter((r) => r.ts >= t0 + DAY && r.ts < t0 + 2 * DAY).length,
          rollupRows,
          storedBytes: estimateStoredBytes({ series: 2, rawPoints: mine.length, rawStringBytes: strBytes, rollupRows }),
        });
        assert.equal((await t.usage(T2, t0)).rawPoints, 3 * 144);
        await t.deleteRawBefore(T1, t0 + DAY);
        const after = await t.usage(T1, t0 + DAY + 5);
        assert.equal(after.rawPoints, mine.filter((r) => r.ts >= t0 + DAY).length);
        assert.ok(after.storedBytes < u.storedBytes);
      }));
    });

    describe('gateways', () => {
      const cfg = (version: number, config: GatewayConfig = GATEWAY_CONFIG, tenant = T1, gateway = GW) => ({
        tenant,
        gateway,
        version,
        config,
        createdAt: 1_000 + version,
        createdBy: `admin-${version}`,
      });

      it('keeps configs as append-only versions starting at 1; a gap or a repeat conflicts', withStore(async (s) => {
        assert.equal(await s.gateways.latestConfig(T1, GW), undefined);
        await assert.rejects(() => s.gateways.saveConfig(cfg(2)), code('IIP_ERR_CONFLICT', { gateway: GW, latest: 0 }));
        await assert.rejects(() => s.gateways.saveConfig(cfg(0)), code('IIP_ERR_CONFLICT'));
        await s.gateways.saveConfig(cfg(1));
        assert.deepEqual(await s.gateways.latestConfig(T1, GW), cfg(1));
        await assert.rejects(() => s.gateways.saveConfig(cfg(1)), code('IIP_ERR_CONFLICT', { latest: 1 }));
        await assert.rejects(() => s.gateways.saveConfig(cfg(3)), code('IIP_ERR_CONFLICT', { latest: 1 }));
        const second: GatewayConfig = {
          channels: [],
          rules: [{ id: 'r1', device: 'plc-1', property: 'temp', op: '>=', threshold: 80.5, severity: 'alert', message: '过热' }],
          services: [{ device: 'plc-1', service: 'start', writes: [{ property: 'speed', input: 'rpm' }, { property: 'run', value: true }] }],
        };
        await s.gateways.saveConfig(cfg(2, second));
        assert.deepEqual(await s.gateways.latestConfig(T1, GW), cfg(2, second));
      }));

      it('lets exactly one of two concurrent saves of the same version win', withStore(async (s) => {
        await s.gateways.saveConfig(cfg(1));
        const outcomes = await Promise.allSettled([s.gateways.saveConfig(cfg(2)), s.gateways.saveConfig({ ...cfg(2), createdBy: 'other' })]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'one save wins');
        const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult | undefined;
        assert.ok(lost, 'the other save is refused');
        code('IIP_ERR_CONFLICT')(lost.reason);
        assert.equal((await s.gateways.latestConfig(T1, GW))?.version, 2);
      }));

      it('upserts the reported state and lists gateways with desired and applied versions', withStore(async (s) => {
        assert.deepEqual(await s.gateways.listGateways(T1), []);
        assert.equal(await s.gateways.getState(T1, GW), undefined);
        await s.gateways.saveConfig(cfg(1));
        await s.gateways.saveConfig(cfg(2));
        await s.gateways.saveState({ tenant: T1, gateway: GW, appliedVersion: 1, state: { buffer: { points: 5 } }, updatedAt: 10 });
        await s.gateways.saveState({ tenant: T1, gateway: GW, appliedVersion: 2, state: { buffer: { points: 0 }, 名: 'ü' }, updatedAt: 11 });
        assert.deepEqual(await s.gateways.getState(T1, GW), {
          tenant: T1,
          gateway: GW,
          appliedVersion: 2,
          state: { buffer: { points: 0 }, 名: 'ü' },
          updatedAt: 11,
        });
        // A gateway that reported state before it was ever configured, and one configured that never reported.
        await s.gateways.saveState({ tenant: T1, gateway: 'gw-0' as DeviceId, appliedVersion: null, state: {}, updatedAt: 20 });
        await s.gateways.saveConfig(cfg(1, GATEWAY_CONFIG, T1, 'gw-2' as DeviceId));
        assert.deepEqual(await s.gateways.listGateways(T1), [
          { gateway: 'gw-0', desiredVersion: null, appliedVersion: null, updatedAt: 20 },
          { gateway: GW, desiredVersion: 2, appliedVersion: 2, updatedAt: 11 },
          { gateway: 'gw-2', desiredVersion: 1, appliedVersion: null, updatedAt: null },
        ]);
      }));

      it('isolates tenants: versions, states and lists are per tenant', withStore(async (s) => {
        await s.gateways.saveConfig(cfg(1));
        await s.gateways.saveConfig(cfg(1, { channels: [] }, T2));
        await s.gateways.saveConfig(cfg(2, { channels: [] }, T2));
        await s.gateways.saveState({ tenant: T2, gateway: GW, appliedVersion: 2, state: { ok: true }, updatedAt: 5 });
        assert.equal((await s.gateways.latestConfig(T1, GW))?.version, 1);
        assert.deepEqual((await s.gateways.latestConfig(T2, GW))?.config, { channels: [] });
        assert.equal(await s.gateways.getState(T1, GW), undefined);
        assert.deepEqual(await s.gateways.listGateways(T1), [{ gateway: GW, desiredVersion: 1, appliedVersion: null, updatedAt: null }]);
        assert.deepEqual(await s.gateways.listGateways('other' as TenantId), []);
      }));
    });

    describe('access', () => {
      it('creates, reads and lists assets; a duplicate id conflicts; a root may have any level', withStore(async (s) => {
        await buildTree(s, T1);
        assert.deepEqual(await s.access.getAsset(T1, 'line-1'), asset(T1, 'line-1', 'line', 'area-1'));
        const zh = asset(T1, 'cell-zh', 'cell', 'line-2', { name: 'Welding cell', nameZh: '焊接单元' });
        await s.access.createAsset(zh);
        assert.deepEqual(await s.access.getAsset(T1, 'cell-zh'), zh);
        assert.equal(await s.access.getAsset(T1, 'ghost'), undefined);
        assert.deepEqual((await s.access.listAssets(T1)).map((a) => a.id), ['area-1', 'area-2', 'cell-1', 'cell-2', 'cell-zh', 'ent', 'line-1', 'line-2', 'site']);
        assert.deepEqual(await parents(s, T1), {
          'area-1': 'site',
          'area-2': 'site',
          'cell-1': 'line-1',
          'cell-2': 'line-1',
          'cell-zh': 'line-2',
          ent: null,
          'line-1': 'area-1',
          'line-2': 'area-2',
          site: 'ent',
        });
        await assert.rejects(() => s.access.createAsset(asset(T1, 'site', 'site', 'ent', { name: 'again' })), code('IIP_ERR_CONFLICT', { asset: 'site' }));
        await assert.rejects(() => s.access.createAsset(asset(T1, 'area-1', 'enterprise', null)), code('IIP_ERR_CONFLICT', { asset: 'area-1' }));
        assert.equal((await s.access.getAsset(T1, 'site'))?.name, 'Asset site', 'the refused create changed nothing');
        // Roots of any level.
        await s.access.createAsset(asset(T1, 'lonely-cell', 'cell', null));
        await s.access.createAsset(asset(T1, 'lonely-line', 'line', null));
        assert.equal((await s.access.getAsset(T1, 'lonely-cell'))?.parent, null);
        // The same ids live side by side in another tenant; lists never leak.
        await s.access.createAsset(asset(T2, 'site', 'site', null));
        assert.deepEqual((await s.access.listAssets(T2)).map((a) => a.id), ['site']);
        assert.equal((await s.access.getAsset(T2, 'site'))?.parent, null);
        assert.equal((await s.access.listAssets(T1)).length, 11);
        assert.deepEqual(await s.access.listAssets('nobody' as TenantId), []);
      }));

      it('refuses a parent that is missing or belongs to another tenant', withStore(async (s) => {
        await buildTree(s, T1);
        await s.access.createAsset(asset(T2, 'g-site', 'site', null));
        await assert.rejects(() => s.access.createAsset(asset(T1, 'a', 'area', 'ghost')), code('IIP_ERR_ASSET_PARENT', { asset: 'a', parent: 'ghost' }));
        await assert.rejects(() => s.access.createAsset(asset(T1, 'a', 'area', 'g-site')), code('IIP_ERR_ASSET_PARENT', { asset: 'a', parent: 'g-site' }));
        await assert.rejects(() => s.access.createAsset(asset(T2, 'a', 'cell', 'line-1')), code('IIP_ERR_ASSET_PARENT', { tenant: T2, parent: 'line-1' }));
        assert.equal(await s.access.getAsset(T1, 'a'), undefined);
        assert.equal(await s.access.getAsset(T2, 'a'), undefined);
      }));

      it('refuses a level that is not deeper than the parent\'s; levels may be skipped', withStore(async (s) => {
        await buildTree(s, T1);
        await assert.rejects(
          () => s.access.createAsset(asset(T1, 'site-b', 'site', 'site')),
          code('IIP_ERR_ASSET_LEVEL', { asset: 'site-b', level: 'site', parent: 'site', parentLevel: 'site' }),
        );
        await assert.rejects(() => s.access.createAsset(asset(T1, 'e2', 'enterprise', 'line-1')), code('IIP_ERR_ASSET_LEVEL', { parentLevel: 'line' }));
        await assert.rejects(() => s.access.createAsset(asset(T1, 'c', 'cell', 'cell-1')), code('IIP_ERR_ASSET_LEVEL', { parentLevel: 'cell' }));
        await assert.rejects(() => s.access.createAsset(asset(T1, 'p', 'plant' as AssetLevel, null)), code('IIP_ERR_ASSET_LEVEL', { level: 'plant' }));
        assert.equal(await s.access.getAsset(T1, 'site-b'), undefined);
        assert.equal(await s.access.getAsset(T1, 'p'), undefined);
        // Skipping levels is fine: a line straight below the site, a cell straight below the enterprise.
        await s.access.createAsset(asset(T1, 'line-s', 'line', 'site'));
        await s.access.createAsset(asset(T1, 'cell-e', 'cell', 'ent'));
        assert.equal((await s.access.getAsset(T1, 'line-s'))?.parent, 'site');
        assert.equal((await s.access.getAsset(T1, 'cell-e'))?.parent, 'ent');
      }));

      it('renames and moves assets; a deep move carries the subtree and keeps every level', withStore(async (s) => {
        await buildTree(s, T1);
        const renamed = await s.access.updateAsset(T1, 'line-1', { name: 'Line 1', nameZh: '一号线' });
        assert.deepEqual(renamed, asset(T1, 'line-1', 'line', 'area-1', { name: 'Line 1', nameZh: '一号线' }));
        assert.deepEqual(await s.access.getAsset(T1, 'line-1'), renamed);
        // Move line-1 (with its two cells) from area-1 to area-2.
        const moved = await s.access.updateAsset(T1, 'line-1', { parent: 'area-2' });
        assert.deepEqual(moved, { ...renamed, parent: 'area-2' }, 'a move keeps name, nameZh, level and createdAt');
        const after = await parents(s, T1);
        assert.equal(after['line-1'], 'area-2');
        assert.equal(after['cell-1'], 'line-1');
        assert.equal(after['cell-2'], 'line-1');
        assert.deepEqual(
          (await s.access.listAssets(T1)).map((a) => [a.id, a.level]),
          [['area-1', 'area'], ['area-2', 'area'], ['cell-1', 'cell'], ['cell-2', 'cell'], ['ent', 'enterprise'], ['line-1', 'line'], ['line-2', 'line'], ['site', 'site']],
        );
        // Move area-2 (two lines, two cells below) straight under the enterprise: skipping the site level is allowed.
        await s.access.updateAsset(T1, 'area-2', { parent: 'ent' });
        assert.equal((await s.access.getAsset(T1, 'area-2'))?.parent, 'ent');
        assert.equal((await s.access.getAsset(T1, 'cell-2'))?.parent, 'line-1');
        // To the root, then back; nameZh cleared with null; a name-only patch does not move.
        await s.access.updateAsset(T1, 'area-2', { parent: null });
        assert.equal((await s.access.getAsset(T1, 'area-2'))?.parent, null);
        await s.access.updateAsset(T1, 'area-2', { parent: 'site' });
        assert.equal((await s.access.updateAsset(T1, 'line-1', { nameZh: null })).nameZh, null);
        assert.equal((await s.access.updateAsset(T1, 'line-1', { name: 'L1' })).parent, 'area-2');
        await assert.rejects(() => s.access.updateAsset(T1, 'ghost', { name: 'x' }), code('IIP_ERR_NOT_FOUND', { asset: 'ghost' }));
        await assert.rejects(() => s.access.updateAsset(T2, 'line-1', { name: 'x' }), code('IIP_ERR_NOT_FOUND', { tenant: T2, asset: 'line-1' }));
        await assert.rejects(() => s.access.updateAsset(T1, 'line-1', { parent: 'ghost' }), code('IIP_ERR_ASSET_PARENT', { asset: 'line-1', parent: 'ghost' }));
        // A move that would leave the area no deeper than its new parent.
        await assert.rejects(
          () => s.access.updateAsset(T1, 'area-1', { parent: 'line-2' }),
          code('IIP_ERR_ASSET_LEVEL', { asset: 'area-1', level: 'area', parent: 'line-2', parentLevel: 'line' }),
        );
        await assert.rejects(() => s.access.updateAsset(T1, 'area-1', { parent: 'area-2' }), code('IIP_ERR_ASSET_LEVEL'));
        assert.equal((await s.access.getAsset(T1, 'area-1'))?.parent, 'site', 'the refused move changed nothing');
        assert.equal((await s.access.getAsset(T1, 'line-1'))?.name, 'L1');
      }));

      it('refuses a move below the asset itself or one of its descendants (a cycle)', withStore(async (s) => {
        await buildTree(s, T1);
        const before = await parents(s, T1);
        await assert.rejects(() => s.access.updateAsset(T1, 'site', { parent: 'site' }), code('IIP_ERR_ASSET_CYCLE', { asset: 'site', parent: 'site' }));
        await assert.rejects(() => s.access.updateAsset(T1, 'area-1', { parent: 'line-1' }), code('IIP_ERR_ASSET_CYCLE', { asset: 'area-1', parent: 'line-1' }));
        await assert.rejects(() => s.access.updateAsset(T1, 'ent', { parent: 'cell-2' }), code('IIP_ERR_ASSET_CYCLE', { asset: 'ent', parent: 'cell-2' }));
        await assert.rejects(() => s.access.updateAsset(T1, 'site', { parent: 'line-2', name: 'renamed' }), code('IIP_ERR_ASSET_CYCLE'));
        assert.deepEqual(await parents(s, T1), before, 'the tree is unchanged');
        assert.equal((await s.access.getAsset(T1, 'site'))?.name, 'Asset site', 'a refused move renames nothing');
        // Moving under a sibling's subtree (not its own) is no cycle.
        await s.access.createAsset(asset(T1, 'cell-3', 'cell', 'area-1'));
        await s.access.updateAsset(T1, 'cell-3', { parent: 'line-2' });
        assert.equal((await s.access.getAsset(T1, 'cell-3'))?.parent, 'line-2');
        // Another tenant's asset is no parent at all.
        await s.access.createAsset(asset(T2, 'g-ent', 'enterprise', null));
        await assert.rejects(() => s.access.updateAsset(T1, 'site', { parent: 'g-ent' }), code('IIP_ERR_ASSET_PARENT', { parent: 'g-ent' }));
      }));

      it('deletes an asset only when it has no children, devices or grants', withStore(async (s) => {
        await buildTree(s, T1);
        await s.registry.createProduct(product(T1));
        await s.registry.createDevices([device(T1, 'd1'), device(T1, 'd2')]);
        await s.users.createUser(member(T1, 'u1'));
        await s.access.placeDevice(T1, 'd1', 'cell-1');
        await s.access.placeDevice(T1, 'd2', 'cell-1');
        await s.access.addGrant(grant(T1, 'g1', 'u1', 'viewer', 'cell-1'));
        await assert.rejects(() => s.access.deleteAsset(T1, 'line-1'), code('IIP_ERR_ASSET_NOT_EMPTY', { asset: 'line-1', children: 2, devices: 0, grants: 0 }));
        await assert.rejects(() => s.access.deleteAsset(T1, 'cell-1'), code('IIP_ERR_ASSET_NOT_EMPTY', { children: 0, devices: 2, grants: 1 }));
        await s.access.placeDevice(T1, 'd1', 'cell-2');
        await s.access.placeDevice(T1, 'd2', null);
        await assert.rejects(() => s.access.deleteAsset(T1, 'cell-1'), code('IIP_ERR_ASSET_NOT_EMPTY', { children: 0, devices: 0, grants: 1 }));
        assert.ok(await s.access.getAsset(T1, 'cell-1'), 'refused deletes delete nothing');
        assert.equal(await s.access.removeGrant(T1, 'g1'), true);
        assert.equal(await s.access.deleteAsset(T1, 'cell-1'), true);
        assert.equal(await s.access.getAsset(T1, 'cell-1'), undefined);
        assert.equal(await s.access.deleteAsset(T1, 'cell-1'), false);
        assert.equal(await s.access.deleteAsset(T1, 'ghost'), false);
        // Another tenant's asset of the same id is neither counted nor deleted.
        await s.access.createAsset(asset(T2, 'cell-2', 'cell', null));
        await assert.rejects(() => s.access.deleteAsset(T1, 'cell-2'), code('IIP_ERR_ASSET_NOT_EMPTY', { children: 0, devices: 1, grants: 0 }));
        assert.equal(await s.access.deleteAsset(T2, 'cell-2'), true);
        assert.ok(await s.access.getAsset(T1, 'cell-2'));
        assert.equal(await s.access.deleteAsset(T2, 'line-2'), false);
        assert.ok(await s.access.getAsset(T1, 'line-2'));
      }));

      it('places devices on assets of their tenant, lists placements, takes them off again', withStore(async (s) => {
        await buildTree(s, T1);
        await s.access.createAsset(asset(T2, 'g-cell', 'cell', null));
        await s.registry.createProduct(product(T1));
        await s.registry.createProduct(product(T2));
        await s.registry.createDevices([device(T1, 'd1'), device(T1, 'd2'), device(T1, 'd3')]);
        await s.registry.createDevice(device(T2, 'g1'));
        assert.deepEqual(await s.access.listPlacements(T1), []);
        await s.access.placeDevice(T1, 'd2', 'cell-1');
        await s.access.placeDevice(T1, 'd1', 'line-2');
        assert.deepEqual(await s.registry.getDevice(T1, 'd2' as DeviceId), { ...device(T1, 'd2'), asset: 'cell-1' });
        assert.deepEqual((await s.registry.listDevices(T1)).items.map((d) => [d.id, d.asset]), [['d1', 'line-2'], ['d2', 'cell-1'], ['d3', null]]);
        assert.deepEqual(await s.access.listPlacements(T1), [
          { device: 'd1', asset: 'line-2' },
          { device: 'd2', asset: 'cell-1' },
        ]);
        // Re-placing moves it; null takes it off the tree.
        await s.access.placeDevice(T1, 'd2', 'cell-2');
        await s.access.placeDevice(T1, 'd1', null);
        assert.deepEqual(await s.access.listPlacements(T1), [{ device: 'd2', asset: 'cell-2' }]);
        assert.equal((await s.registry.getDevice(T1, 'd1' as DeviceId))?.asset, null);
        // Unknown device or asset, or one of another tenant: not found, and details say which.
        await assert.rejects(() => s.access.placeDevice(T1, 'ghost', 'cell-1'), code('IIP_ERR_NOT_FOUND', { field: 'device', device: 'ghost' }));
        await assert.rejects(() => s.access.placeDevice(T1, 'g1', 'cell-1'), code('IIP_ERR_NOT_FOUND', { field: 'device', device: 'g1' }));
        await assert.rejects(() => s.access.placeDevice(T1, 'd3', 'ghost'), code('IIP_ERR_NOT_FOUND', { field: 'asset', asset: 'ghost' }));
        await assert.rejects(() => s.access.placeDevice(T1, 'd3', 'g-cell'), code('IIP_ERR_NOT_FOUND', { field: 'asset', asset: 'g-cell' }));
        await assert.rejects(() => s.access.placeDevice(T2, 'g1', 'cell-1'), code('IIP_ERR_NOT_FOUND', { field: 'asset', tenant: T2 }));
        await assert.rejects(() => s.access.placeDevice(T1, 'ghost', null), code('IIP_ERR_NOT_FOUND', { field: 'device' }));
        assert.equal((await s.registry.getDevice(T1, 'd3' as DeviceId))?.asset, null);
        assert.equal((await s.registry.getDevice(T2, 'g1' as DeviceId))?.asset, null);
        assert.deepEqual(await s.access.listPlacements(T2), []);
        // A deleted device leaves no placement behind.
        assert.equal(await s.registry.deleteDevice(T1, 'd2' as DeviceId), true);
        assert.deepEqual(await s.access.listPlacements(T1), []);
        assert.equal(await s.access.deleteAsset(T1, 'cell-2'), true);
      }));

      it('creates devices already placed on an asset of their tenant, and lists the devices on given assets', withStore(async (s) => {
        await buildTree(s, T1);
        await s.access.createAsset(asset(T2, 'g-cell', 'cell', null));
        await s.registry.createProduct(product(T1));
        await s.registry.createProduct(product(T1, 'pump'));
        await s.registry.createDevice({ ...device(T1, 'd1'), asset: 'cell-1' });
        assert.deepEqual(await s.registry.getDevice(T1, 'd1' as DeviceId), { ...device(T1, 'd1'), asset: 'cell-1' });
        await assert.rejects(
          () => s.registry.createDevice({ ...device(T1, 'd2'), asset: 'ghost' }),
          code('IIP_ERR_NOT_FOUND', { field: 'asset', asset: 'ghost', device: 'd2' }),
        );
        await assert.rejects(() => s.registry.createDevice({ ...device(T1, 'd2'), asset: 'g-cell' }), code('IIP_ERR_NOT_FOUND', { field: 'asset', asset: 'g-cell' }));
        assert.equal(await s.registry.getDevice(T1, 'd2' as DeviceId), undefined, 'a refused create creates nothing');
        // In bulk: all or nothing, and the row with the unknown asset is named.
        const batch = [{ ...device(T1, 'd2'), asset: 'cell-2' }, device(T1, 'd3'), { ...device(T1, 'd4'), asset: 'g-cell' }];
        await assert.rejects(() => s.registry.createDevices(batch), code('IIP_ERR_NOT_FOUND', { index: 2, device: 'd4', field: 'asset', asset: 'g-cell' }));
        assert.equal((await s.registry.listDevices(T1)).total, 1);
        await s.registry.createDevices([
          { ...device(T1, 'd2'), asset: 'cell-2' },
          device(T1, 'd3'),
          { ...device(T1, 'd4'), asset: 'line-2' },
          { ...device(T1, 'p1', 'pump' as ProductId), asset: 'cell-1' },
          { ...device(T1, 'p2', 'pump' as ProductId), asset: null },
        ]);
        assert.deepEqual(await s.access.listPlacements(T1), [
          { device: 'd1', asset: 'cell-1' },
          { device: 'd2', asset: 'cell-2' },
          { device: 'd4', asset: 'line-2' },
          { device: 'p1', asset: 'cell-1' },
        ]);
        await assert.rejects(() => s.access.deleteAsset(T1, 'cell-1'), code('IIP_ERR_ASSET_NOT_EMPTY', { devices: 2 }));
        // The assets filter: devices placed on any of the listed assets, with product filter and paging.
        const ids = (r: { items: Device[]; total: number }) => [r.items.map((d) => d.id), r.total];
        assert.deepEqual(ids(await s.registry.listDevices(T1, { assets: ['cell-1', 'cell-2', 'line-1'] })), [['d1', 'd2', 'p1'], 3]);
        assert.deepEqual(ids(await s.registry.listDevices(T1, { assets: ['cell-1'], product: P1 })), [['d1'], 1]);
        assert.deepEqual(ids(await s.registry.listDevices(T1, { assets: ['cell-1', 'cell-2', 'line-2'] }, { limit: 2, offset: 1 })), [['d2', 'd4'], 4]);
        assert.deepEqual(ids(await s.registry.listDevices(T1, { assets: [] })), [[], 0], 'an empty list matches none');
        assert.deepEqual(ids(await s.registry.listDevices(T1, { assets: ['ghost'] })), [[], 0]);
        assert.deepEqual(ids(await s.registry.listDevices(T1, { product: 'pump' as ProductId, assets: ['cell-1', 'line-2'] })), [['p1'], 1]);
        // Devices of another tenant on an asset of the same id are never listed.
        await s.registry.createProduct(product(T2));
        await s.access.createAsset(asset(T2, 'cell-1', 'cell', null));
        await s.registry.createDevice({ ...device(T2, 'g1'), asset: 'cell-1' });
        assert.deepEqual(ids(await s.registry.listDevices(T1, { assets: ['cell-1'] })), [['d1', 'p1'], 2]);
        assert.deepEqual(ids(await s.registry.listDevices(T2, { assets: ['cell-1'] })), [['g1'], 1]);
      }));

      it('creates, updates, lists and deletes custom roles; a role in use is not deleted', withStore(async (s) => {
        await s.users.createUser(member(T1, 'u1'));
        await s.access.createRole(role(T1, 'shift-lead', ['device:read', 'device:write']));
        await s.access.createRole(role(T1, 'auditor', ['audit:read']));
        await s.access.createRole(role(T2, 'shift-lead', ['device:read']));
        assert.deepEqual(await s.access.listRoles(T1), [role(T1, 'auditor', ['audit:read']), role(T1, 'shift-lead', ['device:read', 'device:write'])]);
        assert.deepEqual(await s.access.listRoles(T2), [role(T2, 'shift-lead', ['device:read'])]);
        await assert.rejects(() => s.access.createRole(role(T1, 'auditor', [])), code('IIP_ERR_CONFLICT', { role: 'auditor' }));
        const updated = await s.access.updateRole({ tenant: T1, id: 'auditor', name: '审计员', permissions: ['audit:read', 'telemetry:read'] });
        assert.deepEqual(updated, { ...role(T1, 'auditor'), name: '审计员', permissions: ['audit:read', 'telemetry:read'] });
        assert.deepEqual((await s.access.listRoles(T1))[0], updated);
        assert.deepEqual((await s.access.updateRole({ tenant: T1, id: 'auditor', name: 'none', permissions: [] })).permissions, []);
        await assert.rejects(() => s.access.updateRole({ tenant: T1, id: 'ghost', name: 'x', permissions: [] }), code('IIP_ERR_NOT_FOUND', { role: 'ghost' }));
        await assert.rejects(() => s.access.updateRole({ tenant: T2, id: 'auditor', name: 'x', permissions: [] }), code('IIP_ERR_NOT_FOUND', { tenant: T2 }));
        // In use by a grant: refused until the grant is gone.
        await s.access.addGrant(grant(T1, 'g1', 'u1', 'shift-lead', null));
        await assert.rejects(() => s.access.deleteRole(T1, 'shift-lead'), code('IIP_ERR_CONFLICT', { role: 'shift-lead' }));
        assert.equal((await s.access.listRoles(T1)).length, 2);
        // The other tenant's role of the same id is not in use.
        assert.equal(await s.access.deleteRole(T2, 'shift-lead'), true);
        assert.equal(await s.access.removeGrant(T1, 'g1'), true);
        assert.equal(await s.access.deleteRole(T1, 'shift-lead'), true);
        assert.equal(await s.access.deleteRole(T1, 'shift-lead'), false);
        assert.equal(await s.access.deleteRole(T1, 'ghost'), false);
        assert.deepEqual((await s.access.listRoles(T1)).map((r) => r.id), ['auditor']);
        assert.deepEqual(await s.access.listRoles(T2), []);
      }));

      it('adds, lists and removes grants; duplicates conflict, also tenant-wide ones', withStore(async (s) => {
        await buildTree(s, T1);
        await s.users.createUser(member(T1, 'u1'));
        await s.users.createUser(member(T1, 'u2'));
        await s.access.addGrant(grant(T1, 'g-wide', 'u1', 'viewer', null));
        await s.access.addGrant(grant(T1, 'g-line', 'u1', 'operator', 'line-1'));
        await s.access.addGrant(grant(T1, 'g-cell', 'u1', 'operator', 'cell-2'));
        await s.access.addGrant(grant(T1, 'g-u2', 'u2', 'viewer', null));
        assert.deepEqual(await s.access.listGrants(T1, { userId: 'u1' as UserId }), [
          grant(T1, 'g-cell', 'u1', 'operator', 'cell-2'),
          grant(T1, 'g-line', 'u1', 'operator', 'line-1'),
          grant(T1, 'g-wide', 'u1', 'viewer', null),
        ]);
        assert.deepEqual((await s.access.listGrants(T1)).map((g) => g.id), ['g-cell', 'g-line', 'g-u2', 'g-wide']);
        assert.deepEqual(await s.access.listGrants(T1, { userId: 'nobody' as UserId }), []);
        // The same (user, role, asset) again, under a new grant id: refused, tenant-wide (null asset) included.
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g-wide-2', 'u1', 'viewer', null)), code('IIP_ERR_CONFLICT', { userId: 'u1', asset: null }));
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g-line-2', 'u1', 'operator', 'line-1')), code('IIP_ERR_CONFLICT', { asset: 'line-1' }));
        // A grant id taken.
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g-wide', 'u2', 'operator', 'site')), code('IIP_ERR_CONFLICT', { grant: 'g-wide' }));
        assert.equal((await s.access.listGrants(T1)).length, 4, 'refused grants add nothing');
        // Another role on the same asset, the same role on another asset: fine.
        await s.access.addGrant(grant(T1, 'g-line-v', 'u1', 'viewer', 'line-1'));
        await s.access.addGrant(grant(T1, 'g-site', 'u1', 'operator', 'site'));
        assert.equal((await s.access.listGrants(T1, { userId: 'u1' as UserId })).length, 5);
        assert.equal(await s.access.removeGrant(T1, 'g-wide'), true);
        assert.equal(await s.access.removeGrant(T1, 'g-wide'), false);
        assert.equal(await s.access.removeGrant(T2, 'g-line'), false, 'another tenant cannot remove it');
        assert.ok((await s.access.listGrants(T1)).some((g) => g.id === 'g-line'));
        // Removed, the same tenant-wide grant may be given again.
        await s.access.addGrant(grant(T1, 'g-wide-2', 'u1', 'viewer', null));
        assert.deepEqual((await s.access.listGrants(T1, { userId: 'u1' as UserId })).filter((g) => g.asset === null).map((g) => g.id), ['g-wide-2']);
      }));

      it('never grants across tenants: the user and the asset must be of the grant\'s tenant', withStore(async (s) => {
        await buildTree(s, T1);
        await buildTree(s, T2);
        await s.access.createAsset(asset(T2, 'g-only', 'site', null));
        await s.users.createUser(member(T1, 'u1'));
        await s.users.createUser(member(T2, 'u2'));
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g1', 'u1', 'viewer', 'g-only')), code('IIP_ERR_NOT_FOUND', { field: 'asset', asset: 'g-only' }));
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g1', 'u2', 'viewer', null)), code('IIP_ERR_NOT_FOUND', { field: 'userId', userId: 'u2' }));
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g1', 'u2', 'viewer', 'site')), code('IIP_ERR_NOT_FOUND', { field: 'userId' }));
        await assert.rejects(() => s.access.addGrant(grant(T2, 'g1', 'u1', 'viewer', 'site')), code('IIP_ERR_NOT_FOUND', { field: 'userId', tenant: T2 }));
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g1', 'ghost', 'viewer', null)), code('IIP_ERR_NOT_FOUND', { field: 'userId' }));
        await assert.rejects(() => s.access.addGrant(grant(T1, 'g1', 'u1', 'viewer', 'ghost')), code('IIP_ERR_NOT_FOUND', { field: 'asset' }));
        assert.deepEqual(await s.access.listGrants(T1), []);
        assert.deepEqual(await s.access.listGrants(T2), []);
        // Each on its own tenant works, with the same asset id on both sides.
        await s.access.addGrant(grant(T1, 'g1', 'u1', 'viewer', 'site'));
        await s.access.addGrant(grant(T2, 'g1', 'u2', 'viewer', 'site'));
        assert.deepEqual(await s.access.listGrants(T2), [grant(T2, 'g1', 'u2', 'viewer', 'site')]);
        assert.deepEqual(await s.access.listGrants(T2, { userId: 'u1' as UserId }), []);
        // The T1 grant on "site" does not hold T2's "site".
        assert.equal(await s.access.removeGrant(T2, 'g1'), true);
        assert.equal(await s.access.deleteAsset(T2, 'g-only'), true);
        await assert.rejects(() => s.access.deleteAsset(T1, 'site'), code('IIP_ERR_ASSET_NOT_EMPTY', { grants: 1 }));
      }));

      it('keeps the rules when writers race: no orphan child, placement or grant; no two duplicate grants', withStore(async (s) => {
        await s.access.createAsset(asset(T1, 'ent', 'enterprise', null));
        await s.registry.createProduct(product(T1));
        await s.users.createUser(member(T1, 'u1'));
        const rounds = 12;
        await s.registry.createDevices(Array.from({ length: rounds }, (_, i) => device(T1, `d${i}`)));
        for (let i = 0; i < rounds; i++) {
          const p = `site-${i}`;
          await s.access.createAsset(asset(T1, p, 'site', 'ent'));
          // Everything that needs the asset, against its delete, all at once.
          const results = await Promise.allSettled([
            s.access.createAsset(asset(T1, `area-${i}`, 'area', p)),
            s.access.placeDevice(T1, `d${i}`, p),
            s.access.addGrant(grant(T1, `g-${i}`, 'u1', 'viewer', p)),
            s.registry.createDevice({ ...device(T1, `new-${i}`), asset: p }),
            s.access.deleteAsset(T1, p),
          ]);
          for (const r of results) {
            if (r.status === 'rejected') {
              const c = (r.reason as { code?: string }).code;
              assert.ok(['IIP_ERR_ASSET_PARENT', 'IIP_ERR_NOT_FOUND', 'IIP_ERR_ASSET_NOT_EMPTY'].includes(c ?? ''), `unexpected refusal ${String(r.reason)}`);
            }
          }
          const del = results[4];
          const deleted = del.status === 'fulfilled' && del.value === true;
          const dependents = results.slice(0, 4).filter((r) => r.status === 'fulfilled').length;
          assert.ok(deleted ? dependents === 0 : true, `round ${i}: the asset was deleted while something was added to it`);
          assert.ok(!deleted || (await s.access.getAsset(T1, p)) === undefined);
        }
        const ids = new Set((await s.access.listAssets(T1)).map((a) => a.id));
        for (const a of await s.access.listAssets(T1)) assert.ok(a.parent === null || ids.has(a.parent), `asset ${a.id} has no parent ${a.parent}`);
        for (const pl of await s.access.listPlacements(T1)) assert.ok(ids.has(pl.asset), `device ${pl.device} sits on missing ${pl.asset}`);
        for (const g of await s.access.listGrants(T1)) assert.ok(g.asset === null || ids.has(g.asset), `grant ${g.id} on missing ${g.asset}`);
        // Eight identical tenant-wide grants at once: exactly one gets in.
        const same = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s.access.addGrant(grant(T1, `w-${i}`, 'u1', 'admin', null))));
        assert.equal(same.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of same) if (r.status === 'rejected') code('IIP_ERR_CONFLICT')(r.reason);
        assert.equal((await s.access.listGrants(T1)).filter((g) => g.role === 'admin').length, 1);
        // Two areas moved under each other at once: as levels only deepen downwards (and a move keeps the level),
        // no pair of moves can close a cycle; here both are refused (an area may not hold an area).
        await s.access.createAsset(asset(T1, 'x', 'area', 'ent'));
        await s.access.createAsset(asset(T1, 'y', 'area', 'ent'));
        const moves = await Promise.allSettled([s.access.updateAsset(T1, 'x', { parent: 'y' }), s.access.updateAsset(T1, 'y', { parent: 'x' })]);
        assert.equal(moves.filter((r) => r.status === 'fulfilled').length, 0);
        assert.deepEqual([(await s.access.getAsset(T1, 'x'))?.parent, (await s.access.getAsset(T1, 'y'))?.parent], ['ent', 'ent']);
      }));
    });

    describe('audit event log', () => {
      const ev = (tenant: TenantId, ts: number, action: string, result: 'ok' | 'denied' | 'failed' = 'ok') => ({
        tenant,
        ts,
        actor: 'alice',
        source: '10.0.0.1',
        action,
        target: 'd1',
        result,
        details: { status: result === 'ok' ? 200 : 403, b: [1, 'two'], a: null },
      });

      it('appends one hash chain per tenant, also under concurrent appends; filters; the chain verifies', withStore(async (s) => {
        const first = await s.events.append(ev(T1, 1_000, 'POST /api/v1/devices'));
        assert.deepEqual([first.seq, first.prevHash], [1, GENESIS_HASH]);
        assert.equal(first.hash, eventHash(GENESIS_HASH, { ...ev(T1, 1_000, 'POST /api/v1/devices'), seq: 1 }));
        const many = await Promise.all(Array.from({ length: 20 }, (_, i) => s.events.append(ev(T1, 2_000 + i, 'PUT /api/v1/x', i % 3 === 0 ? 'denied' : 'ok'))));
        assert.deepEqual(many.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 2), 'every append got its own seq');
        await s.events.append(ev(T2, 5_000, 'auth.login', 'failed'));
        const all = await s.events.list(T1, { limit: 1_000 });
        assert.equal(all.length, 21);
        assert.deepEqual(all[0], first, 'read back exactly as written');
        assert.equal(verifyEventChain(T1, all).ok, true);
        assert.equal(verifyEventChain(T2, await s.events.list(T2, { limit: 10 })).ok, true, "another tenant's chain is its own");
        assert.equal((await s.events.list(T1, { result: 'denied', limit: 100 })).length, 7);
        assert.deepEqual((await s.events.list(T1, { from: 2_005, to: 2_007, limit: 100 })).map((e) => e.ts).sort(), [2_005, 2_006], 'concurrent appends: seq is commit order, not ts order');
        assert.deepEqual((await s.events.list(T1, { afterSeq: 19, limit: 100 })).map((e) => e.seq), [20, 21]);
        assert.equal((await s.events.list(T1, { actor: 'bob', limit: 100 })).length, 0);
        assert.deepEqual(await s.events.tenants(), [T1, T2].sort());
      }));

      it('detects a changed, a removed and an inserted event; retention keeps an anchor so the rest still verifies', withStore(async (s) => {
        for (let i = 0; i < 10; i++) await s.events.append(ev(T1, 1_000 + i * 1_000, `a${i}`));
        const all = await s.events.list(T1, { limit: 100 });
        const changed = all.map((e, i) => (i === 4 ? { ...e, actor: 'mallory' } : e));
        assert.deepEqual(verifyEventChain(T1, changed).brokenAt?.seq, 5);
        assert.match(verifyEventChain(T1, changed).brokenAt?.reason ?? '', /content/);
        assert.deepEqual(verifyEventChain(T1, all.filter((_, i) => i !== 6)).brokenAt?.seq, 8);
        assert.equal(verifyEventChain(T1, [...all.slice(0, 3), { ...all[3] as (typeof all)[number], seq: 4 }, ...all.slice(3)]).ok, false);
        assert.equal(await s.events.deleteBefore(T1, 4_500), 4);
        assert.deepEqual(await s.events.anchor(T1), { seq: 4, hash: (all[3] as (typeof all)[number]).hash });
        const rest = await s.events.list(T1, { limit: 100 });
        assert.deepEqual(rest.map((e) => e.seq), [5, 6, 7, 8, 9, 10]);
        assert.equal(verifyEventChain(T1, rest, await s.events.anchor(T1)).ok, true);
        assert.equal(verifyEventChain(T1, rest).ok, false, 'without the anchor the trimmed chain does not verify');
        // Appending after retention continues the chain; deleting everything continues it from the anchor.
        assert.equal((await s.events.append(ev(T1, 20_000, 'later'))).seq, 11);
        assert.equal(await s.events.deleteBefore(T1, 1_000_000), 7);
        const next = await s.events.append(ev(T1, 2_000_000, 'after all gone'));
        assert.equal(next.seq, 12);
        assert.equal(verifyEventChain(T1, await s.events.list(T1, { limit: 10 }), await s.events.anchor(T1)).ok, true);
        assert.equal(await s.events.deleteBefore(T2, 1_000_000), 0, 'nothing to delete');
      }));
    });

    describe('device events', () => {
      const dev = (tenant: TenantId, device: string, ts: number, event = 'overheat', level: DeviceEventLevel = 'warn', data: Record<string, unknown> = { temp: ts / 10 }): NewDeviceEvent => ({
        tenant,
        device: device as DeviceId,
        event,
        ts,
        receivedAt: ts + 5,
        level,
        data,
      });
      const seqs = (events: ReadonlyArray<{ seq: number }>) => events.map((e) => e.seq);

      it('appends with per-tenant increasing seqs in the given order and reads the same values back; data round-trips exactly', withStore(async (s) => {
        const data = {
          temp: 98.625,
          code: 42,
          negative: -7,
          big: 2 ** 53 - 1,
          tiny: 1e-9,
          message: '过热 "quoted" \\ backslash\nnew line \u0000 nul',
          ok: true,
          off: false,
          none: null,
          nested: { list: [1, 'two', { three: null, four: [false] }], empty: {}, none: [] },
        };
        const batch = [dev(T1, 'd1', 1_000, 'overheat', 'alert', data), dev(T2, 'd1', 900), dev(T1, 'd2', 500, 'door', 'info', {}), dev(T2, 'd9', 800)];
        const stored = await s.deviceEvents.append(batch);
        assert.deepEqual(stored, batch.map((e, i) => ({ ...e, seq: [1, 1, 2, 2][i] })), 'seqs per tenant, in the given order');
        assert.deepEqual(await s.deviceEvents.listByTenant(T1, { limit: 10 }), [stored[0], stored[2]], 'read back exactly as written');
        assert.deepEqual(await s.deviceEvents.listByTenant(T2, { limit: 10 }), [stored[1], stored[3]]);
        assert.deepEqual((await s.deviceEvents.listByDevice(T1, 'd1' as DeviceId, { limit: 10 }))[0]?.data, data);
        assert.deepEqual(seqs(await s.deviceEvents.append([dev(T1, 'd1', 2_000), dev(T1, 'd1', 1_500)])), [3, 4]);
        assert.deepEqual(await s.deviceEvents.append([]), []);
        assert.deepEqual(seqs(await s.deviceEvents.append([dev(T1, 'd3', 3_000)])), [5]);
      }));

      it('an append is all or nothing', withStore(async (s) => {
        await assert.rejects(() => s.deviceEvents.append([dev(T1, 'd1', 1_000), dev(T1, 'd1', 1_001, 'overheat', 'panic' as DeviceEventLevel)]), 'a level outside info/warn/alert');
        await assert.rejects(() => s.deviceEvents.append([dev(T1, 'd1', 1_000), dev(T1, 'd1', 1_001, 'overheat', 'warn', { n: 1n })]), 'data that is not JSON');
        assert.deepEqual(await s.deviceEvents.listByTenant(T1, { limit: 10 }), []);
        assert.deepEqual(seqs(await s.deviceEvents.append([dev(T1, 'd1', 1_002)])), [1], 'a failed append uses no seq');
      }));

      it('lists one device by (ts, seq) and a tenant by seq; filters from, to, event, level, afterSeq and limit; another tenant is invisible', withStore(async (s) => {
        await s.deviceEvents.append([
          dev(T1, 'd1', 3_000), // 1
          dev(T1, 'd1', 1_000, 'fault', 'alert'), // 2
          dev(T1, 'd2', 2_000), // 3
          dev(T1, 'd1', 1_000), // 4
          dev(T1, 'd1', 2_000, 'fault', 'alert'), // 5
          dev(T2, 'd1', 1_500), // T2: 1
        ]);
        await s.deviceEvents.append([dev(T1, 'd1', 500, 'door', 'info')]); // 6
        const d1 = (f: Partial<Parameters<Storage['deviceEvents']['listByDevice']>[2]> = {}) => s.deviceEvents.listByDevice(T1, 'd1' as DeviceId, { limit: 100, ...f }).then(seqs);
        const all = (f: Partial<Parameters<Storage['deviceEvents']['listByTenant']>[1]> = {}) => s.deviceEvents.listByTenant(T1, { limit: 100, ...f }).then(seqs);
        assert.deepEqual(await d1(), [6, 2, 4, 5, 1], 'oldest first by ts, then seq');
        assert.deepEqual(await all(), [1, 2, 3, 4, 5, 6], 'by seq');
        assert.deepEqual(await d1({ from: 1_000, to: 3_000 }), [2, 4, 5], 'from inclusive, to exclusive');
        assert.deepEqual(await all({ from: 2_000 }), [1, 3, 5]);
        assert.deepEqual(await all({ to: 1_000 }), [6]);
        assert.deepEqual(await d1({ event: 'fault' }), [2, 5]);
        assert.deepEqual(await all({ level: 'warn' }), [1, 3, 4]);
        assert.deepEqual(await all({ level: 'alert', event: 'overheat' }), []);
        assert.deepEqual(await d1({ afterSeq: 2 }), [6, 4, 5]);
        assert.deepEqual(await all({ afterSeq: 4, limit: 1 }), [5]);
        assert.deepEqual(await d1({ limit: 2 }), [6, 2]);
        // Paging one device by its (ts, seq) cursor reaches every event, also one that arrived late with an older
        // ts (6 came last but sorts first; 4 has a higher seq than 2 at the same ts).
        assert.deepEqual(await d1({ after: { ts: 1_000, seq: 2 } }), [4, 5, 1]);
        assert.deepEqual(await d1({ after: { ts: 500, seq: 6 }, limit: 2 }), [2, 4]);
        const pages: number[] = [];
        let cursor: { ts: number; seq: number } | undefined;
        for (;;) {
          const page = await s.deviceEvents.listByDevice(T1, 'd1' as DeviceId, { limit: 2, ...(cursor && { after: cursor }) });
          pages.push(...page.map((e) => e.seq));
          const last = page[page.length - 1];
          if (page.length < 2 || !last) break;
          cursor = { ts: last.ts, seq: last.seq };
        }
        assert.deepEqual(pages, [6, 2, 4, 5, 1]);
        assert.deepEqual(await s.deviceEvents.listByDevice(T1, 'd9' as DeviceId, { limit: 100 }), []);
        assert.deepEqual((await s.deviceEvents.listByDevice(T2, 'd1' as DeviceId, { limit: 100 })).map((e) => [e.tenant, e.seq, e.ts]), [[T2, 1, 1_500]]);
        assert.deepEqual(await s.deviceEvents.listByTenant('nobody' as TenantId, { limit: 100 }), []);
      }));

      it('concurrent appends of one tenant each get their own seqs', withStore(async (s) => {
        const results = await Promise.all([
          ...Array.from({ length: 20 }, (_, i) => s.deviceEvents.append([dev(T1, `d${i % 4}`, 1_000 + i)])),
          ...Array.from({ length: 5 }, (_, i) => s.deviceEvents.append([dev(T2, 'd1', i), dev(T1, 'd9', 5_000 + i)])),
        ]);
        const t1 = results.flat().filter((e) => e.tenant === T1);
        assert.deepEqual(seqs(t1).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1), 'distinct, no gaps');
        assert.deepEqual(seqs(results.flat().filter((e) => e.tenant === T2)).sort((a, b) => a - b), [1, 2, 3, 4, 5]);
        assert.deepEqual(await s.deviceEvents.listByTenant(T1, { limit: 100 }), [...t1].sort((a, b) => a.seq - b.seq), 'stored as returned');
      }));

      it('deletes one device\'s events and a tenant\'s events before a cutoff; their seqs are not handed out again', withStore(async (s) => {
        await s.deviceEvents.append([dev(T1, 'd1', 1_000), dev(T1, 'd2', 2_000), dev(T1, 'd1', 3_000), dev(T1, 'd2', 4_000), dev(T2, 'd1', 1_000), dev(T2, 'd2', 1_000)]);
        assert.equal(await s.deviceEvents.deleteDevice(T1, 'd1' as DeviceId), 2);
        assert.equal(await s.deviceEvents.deleteDevice(T1, 'd1' as DeviceId), 0);
        assert.deepEqual(seqs(await s.deviceEvents.listByTenant(T1, { limit: 100 })), [2, 4]);
        assert.equal((await s.deviceEvents.listByTenant(T2, { limit: 100 })).length, 2, "another tenant's device of that id keeps its events");
        assert.equal(await s.deviceEvents.deleteBefore(T1, 4_000), 1, 'ts < cutoff');
        assert.deepEqual(seqs(await s.deviceEvents.listByTenant(T1, { limit: 100 })), [4]);
        assert.equal(await s.deviceEvents.deleteBefore(T1, 1e13), 1);
        assert.equal((await s.deviceEvents.listByTenant(T2, { limit: 100 })).length, 2, 'retention is per tenant');
        assert.deepEqual(seqs(await s.deviceEvents.append([dev(T1, 'd1', 5_000)])), [5], 'the seq goes on after everything was deleted');
        assert.equal(await s.deviceEvents.deleteBefore(T2, 0), 0);
      }));
    });

    describe('rules and alarms', () => {
      const DOC = {
        id: 'overheat',
        name: { en: 'Overheat', zh: '过热' },
        scope: { products: ['cnc'], devices: [] },
        condition: { kind: 'threshold', property: 'temp', op: '>', value: 80.5, deadband: 0.5, for: { ms: 60_000 }, count: null },
        alarm: { severity: 'high', message: 'temp "{{temp}}" \\ too high\n第二行', latching: true },
      };
      const rule = (tenant: TenantId, id: string, extra: Partial<Omit<StoredRule, 'version'>> = {}): Omit<StoredRule, 'version'> => ({
        tenant,
        id,
        doc: { ...DOC, id },
        enabled: true,
        updatedAt: 1_700_000_000_000,
        updatedBy: 'alice',
        ...extra,
      });
      const alarm = (tenant: TenantId, id: string, ruleId: string, dev: string, raisedAt: number, extra: Partial<Omit<Alarm, 'version'>> = {}): Omit<Alarm, 'version'> => ({
        tenant,
        id,
        rule: ruleId,
        source: 'device',
        device: dev as DeviceId,
        severity: 'high',
        message: `${ruleId} on ${dev}`,
        state: { isa: 'unacked', active: true, latched: { since: raisedAt, values: [98.625, null, '过热'] }, shelved: null },
        open: true,
        raisedAt,
        updatedAt: raisedAt,
        ...extra,
      });
      const entry = (a: { tenant: TenantId; id: string }, type: string, ts: number, extra: Partial<NewAlarmHistoryEntry> = {}): NewAlarmHistoryEntry => ({
        tenant: a.tenant,
        alarm: a.id,
        ts,
        type,
        user: null,
        comment: null,
        isaState: 'unacked',
        ...extra,
      });
      const ids = (xs: ReadonlyArray<{ id: string }>) => xs.map((x) => x.id);

      it('puts a rule as version 1 and every replacement as +1; the document round-trips exactly; another tenant is separate', withStore(async (s) => {
        const v1 = await s.rules.putRule(rule(T1, 'overheat'));
        assert.deepEqual(v1, { ...rule(T1, 'overheat'), version: 1 });
        assert.deepEqual(await s.rules.getRule(T1, 'overheat'), v1, 'read back exactly as written');
        const v2 = await s.rules.putRule(rule(T1, 'overheat', { enabled: false, updatedAt: 1_700_000_000_500, updatedBy: 'iip', doc: { ...DOC, extra: [1, { a: [] }] } }));
        assert.deepEqual(v2, { ...rule(T1, 'overheat', { enabled: false, updatedAt: 1_700_000_000_500, updatedBy: 'iip', doc: { ...DOC, extra: [1, { a: [] }] } }), version: 2 });
        assert.deepEqual(await s.rules.getRule(T1, 'overheat'), v2);
        assert.equal((await s.rules.putRule(rule(T1, 'overheat'), 2)).version, 3, 'with the stored version');
        assert.equal((await s.rules.putRule(rule(T1, 'new-one'), 0)).version, 1, 'expectedVersion 0: a new rule');
        // The same id in the other tenant is another rule.
        assert.equal((await s.rules.putRule(rule(T2, 'overheat', { updatedBy: 'bob' }))).version, 1);
        assert.equal((await s.rules.getRule(T1, 'overheat'))?.version, 3);
        assert.equal((await s.rules.getRule(T2, 'overheat'))?.updatedBy, 'bob');
        assert.deepEqual(ids(await s.rules.listRules(T1)), ['new-one', 'overheat'], 'by id');
        assert.deepEqual(ids(await s.rules.listRules(T2)), ['overheat']);
        assert.deepEqual(await s.rules.listRules('nobody' as TenantId), []);
        assert.equal(await s.rules.getRule(T1, 'ghost'), undefined);
        assert.equal(await s.rules.getRule('nobody' as TenantId, 'overheat'), undefined);
      }));

      it('refuses a save over another version with IIP_ERR_CONFLICT and changes nothing', withStore(async (s) => {
        await s.rules.putRule(rule(T1, 'r1'));
        await s.rules.putRule(rule(T1, 'r1'));
        await assert.rejects(() => s.rules.putRule(rule(T1, 'r1', { updatedBy: 'mallory' }), 1), code('IIP_ERR_CONFLICT', { tenant: T1, rule: 'r1', expectedVersion: 1, version: 2 }));
        await assert.rejects(() => s.rules.putRule(rule(T1, 'r1', { updatedBy: 'mallory' }), 0), code('IIP_ERR_CONFLICT', { rule: 'r1', expectedVersion: 0, version: 2 }), '0: must be new');
        await assert.rejects(() => s.rules.putRule(rule(T1, 'r1', { updatedBy: 'mallory' }), 3), code('IIP_ERR_CONFLICT', { expectedVersion: 3, version: 2 }));
        await assert.rejects(() => s.rules.putRule(rule(T1, 'absent'), 1), code('IIP_ERR_CONFLICT', { rule: 'absent', expectedVersion: 1, version: 0 }));
        await assert.rejects(() => s.rules.putRule(rule(T2, 'r1'), 2), code('IIP_ERR_CONFLICT', { tenant: T2, version: 0 }), 'versions are per tenant');
        assert.deepEqual(await s.rules.getRule(T1, 'r1'), { ...rule(T1, 'r1'), version: 2 });
        assert.equal(await s.rules.getRule(T1, 'absent'), undefined);
        assert.deepEqual(await s.rules.listRules(T2), []);
        await assert.rejects(() => s.rules.putRule(rule(T1, 'r2', { doc: { n: 1n } })), 'a document that is not JSON');
        assert.equal(await s.rules.getRule(T1, 'r2'), undefined);
        // Of concurrent saves over one version, exactly one wins.
        const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => s.rules.putRule(rule(T1, 'r1', { updatedBy: `u${i}` }), 2)));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') code('IIP_ERR_CONFLICT')(r.reason);
        assert.equal((await s.rules.getRule(T1, 'r1'))?.version, 3);
      }));

      it("lists every tenant's enabled rules", withStore(async (s) => {
        await s.rules.putRule(rule(T2, 'b'));
        await s.rules.putRule(rule(T1, 'b'));
        await s.rules.putRule(rule(T1, 'a', { enabled: false }));
        await s.rules.putRule(rule(T1, 'c'));
        await s.rules.putRule(rule(T2, 'a'));
        assert.deepEqual((await s.rules.listEnabledRules()).map((r) => [r.tenant, r.id, r.enabled]), [[T1, 'b', true], [T1, 'c', true], [T2, 'a', true], [T2, 'b', true]]);
        await s.rules.putRule(rule(T1, 'c', { enabled: false }));
        await s.rules.putRule(rule(T1, 'a'));
        assert.deepEqual((await s.rules.listEnabledRules()).map((r) => `${r.tenant}/${r.id}`), [`${T1}/a`, `${T1}/b`, `${T2}/a`, `${T2}/b`]);
        assert.deepEqual((await s.rules.listRules(T1)).map((r) => [r.id, r.enabled]), [['a', true], ['b', true], ['c', false]]);
      }));

      it('saves evaluation states all or nothing, upserts them, loads them by device and clears them, per rule and tenant', withStore(async (s) => {
        const st = (n: number) => ({ phase: 'pending', since: 1_000 + n, count: n, last: { ts: 2_000, value: 80.75 + n }, window: [true, false, null] });
        await s.rules.saveStates(T1, [
          { rule: 'r1', device: 'd2' as DeviceId, state: st(2) },
          { rule: 'r1', device: 'd1' as DeviceId, state: st(1) },
          { rule: 'r2', device: 'd1' as DeviceId, state: st(3) },
        ]);
        await s.rules.saveStates(T2, [{ rule: 'r1', device: 'd1' as DeviceId, state: { other: 'tenant' } }]);
        assert.deepEqual(await s.rules.loadStates(T1, 'r1'), [
          { rule: 'r1', device: 'd1', state: st(1) },
          { rule: 'r1', device: 'd2', state: st(2) },
        ]);
        await s.rules.saveStates(T1, [{ rule: 'r1', device: 'd1' as DeviceId, state: { phase: 'idle' } }, { rule: 'r1', device: 'd3' as DeviceId, state: null }]);
        assert.deepEqual(await s.rules.loadStates(T1, 'r1'), [
          { rule: 'r1', device: 'd1', state: { phase: 'idle' } },
          { rule: 'r1', device: 'd2', state: st(2) },
          { rule: 'r1', device: 'd3', state: null },
        ]);
        await s.rules.saveStates(T1, []);
        // A failing row (a device that is missing) leaves every row of the batch unsaved.
        await assert.rejects(() =>
          s.rules.saveStates(T1, [
            { rule: 'r1', device: 'd1' as DeviceId, state: { phase: 'changed' } },
            { rule: 'r1', device: 'd9' as DeviceId, state: {} },
            { rule: 'r1', device: null as unknown as DeviceId, state: {} },
          ]),
        );
        await assert.rejects(() => s.rules.saveStates(T1, [{ rule: 'r1', device: 'd1' as DeviceId, state: { phase: 'changed' } }, { rule: 'r1', device: 'd8' as DeviceId, state: { n: 1n } }]));
        assert.deepEqual((await s.rules.loadStates(T1, 'r1')).map((r) => [r.device, r.state]), [['d1', { phase: 'idle' }], ['d2', st(2)], ['d3', null]]);
        assert.deepEqual(await s.rules.loadStates(T2, 'r1'), [{ rule: 'r1', device: 'd1', state: { other: 'tenant' } }]);
        await s.rules.clearStates(T1, 'r1');
        assert.deepEqual(await s.rules.loadStates(T1, 'r1'), []);
        assert.deepEqual((await s.rules.loadStates(T1, 'r2')).length, 1, "another rule's states stay");
        assert.deepEqual((await s.rules.loadStates(T2, 'r1')).length, 1, "another tenant's states stay");
      }));

      it('deletes a rule with its states; its alarms and their history stay', withStore(async (s) => {
        await s.rules.putRule(rule(T1, 'r1'));
        await s.rules.putRule(rule(T2, 'r1'));
        await s.rules.saveStates(T1, [{ rule: 'r1', device: 'd1' as DeviceId, state: { n: 1 } }]);
        await s.rules.saveStates(T2, [{ rule: 'r1', device: 'd1' as DeviceId, state: { n: 2 } }]);
        const a = alarm(T1, 'a1', 'r1', 'd1', 1_000);
        await s.alarms.createAlarm(a, entry(a, 'activate', 1_000));
        assert.equal(await s.rules.deleteRule(T1, 'r1'), true);
        assert.equal(await s.rules.deleteRule(T1, 'r1'), false);
        assert.equal(await s.rules.deleteRule(T1, 'ghost'), false);
        assert.equal(await s.rules.getRule(T1, 'r1'), undefined);
        assert.deepEqual(await s.rules.loadStates(T1, 'r1'), []);
        assert.equal((await s.alarms.getAlarm(T1, 'a1'))?.rule, 'r1');
        assert.equal((await s.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId))?.id, 'a1');
        assert.deepEqual((await s.alarms.history(T1, 'a1')).map((e) => e.type), ['activate']);
        assert.equal((await s.rules.getRule(T2, 'r1'))?.version, 1, "the other tenant's rule of that id stays");
        assert.equal((await s.rules.loadStates(T2, 'r1')).length, 1);
        // The id is free again, as version 1.
        assert.equal((await s.rules.putRule(rule(T1, 'r1'), 0)).version, 1);
      }));

      it('creates an alarm with its first history entry; the state round-trips exactly', withStore(async (s) => {
        const a = alarm(T1, 'r1/d1/1000', 'r1', 'd1', 1_000);
        const e = entry(a, 'activate', 1_000);
        const created = await s.alarms.createAlarm(a, e);
        assert.deepEqual(created, { alarm: { ...a, version: 1 }, entry: { ...e, seq: 1 } });
        assert.deepEqual(await s.alarms.getAlarm(T1, a.id), created.alarm, 'read back exactly as written');
        assert.deepEqual(await s.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId), created.alarm);
        assert.deepEqual(await s.alarms.history(T1, a.id), [created.entry]);
        assert.equal(await s.alarms.openAlarm(T1, 'r1', 'd2' as DeviceId), undefined);
        assert.equal(await s.alarms.openAlarm(T2, 'r1', 'd1' as DeviceId), undefined);
        assert.equal(await s.alarms.getAlarm(T2, a.id), undefined);
        assert.deepEqual(await s.alarms.history(T2, a.id), []);
        // A closed alarm is not the open one.
        const b = alarm(T1, 'b', 'r2', 'd1', 2_000, { open: false, state: { isa: 'normal' } });
        await s.alarms.createAlarm(b, entry(b, 'expire', 2_000, { isaState: 'normal' }));
        assert.equal(await s.alarms.openAlarm(T1, 'r2', 'd1' as DeviceId), undefined);
        assert.deepEqual(await s.alarms.getAlarm(T1, 'b'), { ...b, version: 1 });
      }));

      it('refuses a second open alarm for one (rule, device) and a taken id with IIP_ERR_CONFLICT, writing nothing; a closed one makes room', withStore(async (s) => {
        const a = alarm(T1, 'a1', 'r1', 'd1', 1_000);
        await s.alarms.createAlarm(a, entry(a, 'activate', 1_000));
        const dup = alarm(T1, 'a2', 'r1', 'd1', 2_000);
        await assert.rejects(() => s.alarms.createAlarm(dup, entry(dup, 'activate', 2_000)), code('IIP_ERR_CONFLICT', { tenant: T1, rule: 'r1', device: 'd1' }));
        const taken = alarm(T1, 'a1', 'r9', 'd9', 2_000);
        await assert.rejects(() => s.alarms.createAlarm(taken, entry(taken, 'activate', 2_000)), code('IIP_ERR_CONFLICT', { tenant: T1, alarm: 'a1' }));
        assert.equal(await s.alarms.getAlarm(T1, 'a2'), undefined);
        assert.deepEqual((await s.alarms.getAlarm(T1, 'a1'))?.rule, 'r1');
        assert.deepEqual((await s.alarms.listHistory(T1, { limit: 10 })).map((e) => [e.alarm, e.seq]), [['a1', 1]], 'a refused create writes no history');
        // Another device, another rule, another tenant: each may have its own open alarm.
        for (const x of [alarm(T1, 'a3', 'r1', 'd2', 3_000), alarm(T1, 'a4', 'r2', 'd1', 3_000), alarm(T2, 'a1', 'r1', 'd1', 3_000)]) {
          await s.alarms.createAlarm(x, entry(x, 'activate', 3_000));
        }
        assert.deepEqual((await s.alarms.listHistory(T1, { limit: 10 })).map((e) => [e.alarm, e.seq]), [['a1', 1], ['a3', 2], ['a4', 3]], 'a refused create used no seq');
        assert.deepEqual((await s.alarms.listHistory(T2, { limit: 10 })).map((e) => [e.alarm, e.seq]), [['a1', 1]], 'seqs are per tenant');
        // Once the open alarm is closed, the (rule, device) may raise a new one.
        const closed = await s.alarms.updateAlarm({ ...a, open: false, state: { isa: 'normal' }, updatedAt: 4_000 }, 1, entry(a, 'ack', 4_000, { user: 'alice', isaState: 'normal' }));
        assert.equal(closed.alarm.open, false);
        assert.equal(await s.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId), undefined);
        const again = await s.alarms.createAlarm(dup, entry(dup, 'activate', 5_000));
        assert.equal(again.alarm.version, 1);
        assert.equal((await s.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId))?.id, 'a2');
        // Reopening the closed one while a2 is open is refused too.
        await assert.rejects(() => s.alarms.updateAlarm({ ...a, open: true, updatedAt: 6_000 }, 2, entry(a, 'activate', 6_000)), code('IIP_ERR_CONFLICT', { rule: 'r1', device: 'd1' }));
        assert.deepEqual(await s.alarms.getAlarm(T1, 'a1'), closed.alarm);
        // The entry must be the alarm's; state must be JSON.
        const c = alarm(T1, 'c', 'r3', 'd1', 7_000);
        await assert.rejects(() => s.alarms.createAlarm(c, entry({ tenant: T2, id: 'c' }, 'activate', 7_000)), code('IIP_ERR_VALIDATION'));
        await assert.rejects(() => s.alarms.createAlarm(c, entry({ tenant: T1, id: 'other' }, 'activate', 7_000)), code('IIP_ERR_VALIDATION'));
        await assert.rejects(() => s.alarms.createAlarm({ ...c, state: { n: 1n } }, entry(c, 'activate', 7_000)));
        assert.equal(await s.alarms.getAlarm(T1, 'c'), undefined);
      }));

      it('of concurrent creates of an open alarm for one (rule, device), exactly one wins', withStore(async (s) => {
        const tries = Array.from({ length: 10 }, (_, i) => alarm(T1, `race-${i}`, 'r1', 'd1', 1_000 + i));
        const results = await Promise.allSettled(tries.map((a) => s.alarms.createAlarm(a, entry(a, 'activate', a.raisedAt))));
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        assert.equal(won.length, 1, 'exactly one');
        for (const r of results) if (r.status === 'rejected') code('IIP_ERR_CONFLICT', { tenant: T1, rule: 'r1', device: 'd1' })(r.reason);
        assert.deepEqual(await s.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId), won[0]?.alarm);
        assert.deepEqual(ids(await s.alarms.listAlarms(T1, { limit: 100 })), [won[0]?.alarm.id]);
        assert.deepEqual(await s.alarms.listHistory(T1, { limit: 100 }), [won[0]?.entry]);
        assert.equal(won[0]?.entry.seq, 1);
      }));

      it('updates an alarm over its stored version only, appending the history entry in the same transaction', withStore(async (s) => {
        const a = alarm(T1, 'a1', 'r1', 'd1', 1_000);
        await s.alarms.createAlarm(a, entry(a, 'activate', 1_000));
        const ackState = { isa: 'acked', active: true, ack: { by: 'alice', at: 2_000, comment: '已确认 "ok"' } };
        const acked = await s.alarms.updateAlarm({ ...a, state: ackState, updatedAt: 2_000 }, 1, entry(a, 'ack', 2_000, { user: 'alice', comment: '已确认 "ok"', isaState: 'acked' }));
        assert.deepEqual(acked, {
          alarm: { ...a, state: ackState, updatedAt: 2_000, version: 2 },
          entry: { tenant: T1, alarm: 'a1', seq: 2, ts: 2_000, type: 'ack', user: 'alice', comment: '已确认 "ok"', isaState: 'acked' },
        });
        assert.deepEqual(await s.alarms.getAlarm(T1, 'a1'), acked.alarm);
        await assert.rejects(
          () => s.alarms.updateAlarm({ ...a, severity: 'low', updatedAt: 3_000 }, 1, entry(a, 'shelve', 3_000, { user: 'bob' })),
          code('IIP_ERR_CONFLICT', { tenant: T1, alarm: 'a1', expectedVersion: 1, version: 2 }),
        );
        await assert.rejects(() => s.alarms.updateAlarm({ ...a, id: 'ghost' }, 1, entry({ tenant: T1, id: 'ghost' }, 'ack', 3_000)), code('IIP_ERR_NOT_FOUND', { tenant: T1, alarm: 'ghost' }));
        await assert.rejects(() => s.alarms.updateAlarm({ ...a, tenant: T2 }, 2, entry({ tenant: T2, id: 'a1' }, 'ack', 3_000)), code('IIP_ERR_NOT_FOUND'), 'not in the other tenant');
        await assert.rejects(() => s.alarms.updateAlarm({ ...a, updatedAt: 3_000 }, 2, entry({ tenant: T1, id: 'other' }, 'ack', 3_000)), code('IIP_ERR_VALIDATION'));
        await assert.rejects(() => s.alarms.updateAlarm({ ...a, state: { n: 1n }, updatedAt: 3_000 }, 2, entry(a, 'ack', 3_000)));
        assert.deepEqual(await s.alarms.getAlarm(T1, 'a1'), acked.alarm, 'refused updates change nothing');
        assert.deepEqual((await s.alarms.history(T1, 'a1')).map((e) => [e.seq, e.type]), [[1, 'activate'], [2, 'ack']], 'and write no history');
        // Of concurrent updates from one version, exactly one wins.
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => s.alarms.updateAlarm({ ...a, state: { i }, updatedAt: 4_000 + i }, 2, entry(a, 'shelve', 4_000 + i, { user: `u${i}` }))),
        );
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        assert.equal(won.length, 1);
        for (const r of results) if (r.status === 'rejected') code('IIP_ERR_CONFLICT', { expectedVersion: 2, version: 3 })(r.reason);
        assert.deepEqual(await s.alarms.getAlarm(T1, 'a1'), won[0]?.alarm);
        assert.equal(won[0]?.alarm.version, 3);
        assert.deepEqual(await s.alarms.history(T1, 'a1'), [
          { ...entry(a, 'activate', 1_000), seq: 1 },
          acked.entry,
          won[0]?.entry,
        ], 'oldest first');
        assert.equal(won[0]?.entry.seq, 3);
      }));

      it('lists alarms newest first by (raisedAt, id), filtered by open, device, rule, severity, from and to, paged with before and limit', withStore(async (s) => {
        const all = [
          alarm(T1, 'a', 'r1', 'd1', 1_000),
          alarm(T1, 'b', 'r1', 'd2', 2_000, { severity: 'low' }),
          alarm(T1, 'c', 'r2', 'd1', 2_000, { open: false }),
          alarm(T1, 'd', 'r2', 'd2', 3_000, { severity: 'low', open: false }),
          alarm(T1, 'e', 'r1', 'd3', 2_000),
          alarm(T2, 'f', 'r1', 'd1', 2_500),
        ];
        for (const a of all) await s.alarms.createAlarm(a, entry(a, 'activate', a.raisedAt));
        const list = (f: Partial<AlarmFilter> = {}) => s.alarms.listAlarms(T1, { limit: 100, ...f }).then(ids);
        assert.deepEqual(await list(), ['d', 'e', 'c', 'b', 'a'], 'raisedAt desc, then id desc');
        assert.deepEqual(await s.alarms.listAlarms(T1, { limit: 1 }), [{ ...all[3], version: 1 }]);
        assert.deepEqual(await list({ open: true }), ['e', 'b', 'a']);
        assert.deepEqual(await list({ open: false }), ['d', 'c']);
        assert.deepEqual(await list({ device: 'd1' }), ['c', 'a']);
        assert.deepEqual(await list({ rule: 'r2' }), ['d', 'c']);
        assert.deepEqual(await list({ severity: 'low' }), ['d', 'b']);
        assert.deepEqual(await list({ severity: 'low', open: true, rule: 'r1', device: 'd2' }), ['b']);
        assert.deepEqual(await list({ from: 2_000, to: 3_000 }), ['e', 'c', 'b'], 'from inclusive, to exclusive');
        assert.deepEqual(await list({ to: 2_000 }), ['a']);
        assert.deepEqual(await list({ device: 'd9' }), []);
        // Paging: each page starts after the last (raisedAt, id) of the one before, also inside one raisedAt.
        const pages: string[][] = [];
        let before: AlarmFilter['before'];
        for (;;) {
          const page = await s.alarms.listAlarms(T1, { limit: 2, ...(before ? { before } : {}) });
          if (page.length === 0) break;
          pages.push(ids(page));
          const last = page[page.length - 1] as Alarm;
          before = { raisedAt: last.raisedAt, id: last.id };
        }
        assert.deepEqual(pages, [['d', 'e'], ['c', 'b'], ['a']]);
        assert.deepEqual(await list({ before: { raisedAt: 2_000, id: 'd' } }), ['c', 'b', 'a'], 'before within one raisedAt compares ids');
        assert.deepEqual(await list({ before: { raisedAt: 2_000, id: 'c' }, open: true }), ['b', 'a']);
        assert.deepEqual(ids(await s.alarms.listAlarms(T2, { limit: 100 })), ['f']);
        assert.deepEqual(await s.alarms.listAlarms('nobody' as TenantId, { limit: 100 }), []);
      }));

      it("lists a tenant's history by seq, filtered by ts from/to and afterSeq, at most limit", withStore(async (s) => {
        const a = alarm(T1, 'a', 'r1', 'd1', 1_000);
        const b = alarm(T1, 'b', 'r1', 'd2', 1_500);
        await s.alarms.createAlarm(a, entry(a, 'activate', 1_000)); // 1
        await s.alarms.createAlarm(b, entry(b, 'activate', 1_500)); // 2
        await s.alarms.updateAlarm({ ...a, updatedAt: 3_000 }, 1, entry(a, 'ack', 3_000, { user: 'alice', isaState: 'acked' })); // 3
        await s.alarms.updateAlarm({ ...b, updatedAt: 2_000 }, 1, entry(b, 'clear', 2_000, { isaState: 'rtn-unacked' })); // 4: ts goes back
        await s.alarms.updateAlarm({ ...a, open: false, updatedAt: 4_000 }, 2, entry(a, 'clear', 4_000, { isaState: 'normal' })); // 5
        const c = alarm(T2, 'a', 'r1', 'd1', 1_000);
        await s.alarms.createAlarm(c, entry(c, 'activate', 1_000));
        const seqs = (f: Partial<Parameters<Storage['alarms']['listHistory']>[1]> = {}) => s.alarms.listHistory(T1, { limit: 100, ...f }).then((es) => es.map((e) => e.seq));
        assert.deepEqual(await seqs(), [1, 2, 3, 4, 5], 'by seq, not by ts');
        assert.deepEqual(await seqs({ from: 1_500, to: 3_000 }), [2, 4], 'from inclusive, to exclusive');
        assert.deepEqual(await seqs({ from: 3_000 }), [3, 5]);
        assert.deepEqual(await seqs({ afterSeq: 2 }), [3, 4, 5]);
        assert.deepEqual(await seqs({ afterSeq: 2, limit: 2 }), [3, 4]);
        assert.deepEqual(await seqs({ afterSeq: 5 }), []);
        assert.deepEqual((await s.alarms.history(T1, 'a')).map((e) => [e.seq, e.type, e.user, e.isaState]), [[1, 'activate', null, 'unacked'], [3, 'ack', 'alice', 'acked'], [5, 'clear', null, 'normal']]);
        assert.deepEqual((await s.alarms.history(T1, 'b')).map((e) => e.seq), [2, 4]);
        assert.deepEqual((await s.alarms.listHistory(T2, { limit: 100 })).map((e) => [e.tenant, e.alarm, e.seq]), [[T2, 'a', 1]]);
        assert.deepEqual((await s.alarms.history(T2, 'a')).length, 1, 'same alarm id in two tenants never mixes');
      }));

      /**
       * An alarm's `device` names a device (source 'device', the default) or, for a rule over the devices of one
       * asset, that asset (source 'asset'). The source round-trips through every read, a create without one is a
       * device's, an update without one keeps the stored one, and "one open alarm per (tenant, rule, device)" holds
       * for asset alarms as for device alarms.
       */
      describe('alarm source kinds', () => {
        /** The alarm as every read must return it. */
        const stored = (a: NewAlarm, version = 1): Alarm => ({ ...a, source: a.source ?? 'device', version });

        it('an alarm created with source asset reads back as asset (get, list, openAlarm); one created without a source as device', withStore(async (s, fx) => {
          const onAsset = alarm(T1, 'a-asset', 'line-avg', 'line-1', 1_000, { source: 'asset' });
          const { source: _, ...onDevice } = alarm(T1, 'a-device', 'overheat', 'd1', 2_000);
          assert.equal('source' in onDevice, false, 'created without a source');
          const explicit = alarm(T1, 'a-explicit', 'overheat', 'd2', 3_000, { source: 'device' });
          const created = [
            await s.alarms.createAlarm(onAsset, entry(onAsset, 'activate', 1_000)),
            await s.alarms.createAlarm(onDevice, entry(onDevice, 'activate', 2_000)),
            await s.alarms.createAlarm(explicit, entry(explicit, 'activate', 3_000)),
          ];
          assert.deepEqual(
            created.map((c) => c.alarm),
            [stored(onAsset), stored(onDevice), stored(explicit)],
          );
          assert.equal(created[0]?.alarm.source, 'asset');
          assert.equal(created[1]?.alarm.source, 'device');
          const check = async (st: Storage) => {
            assert.deepEqual(await st.alarms.getAlarm(T1, 'a-asset'), stored(onAsset));
            assert.deepEqual(await st.alarms.getAlarm(T1, 'a-device'), stored(onDevice));
            assert.deepEqual(await st.alarms.openAlarm(T1, 'line-avg', 'line-1' as DeviceId), stored(onAsset));
            assert.deepEqual(await st.alarms.openAlarm(T1, 'overheat', 'd1' as DeviceId), stored(onDevice));
            assert.deepEqual(await st.alarms.listAlarms(T1, { limit: 10 }), [stored(explicit), stored(onDevice), stored(onAsset)]);
            // The list filter still goes by the device field, which for an asset alarm holds the asset id.
            assert.deepEqual(await st.alarms.listAlarms(T1, { device: 'line-1', limit: 10 }), [stored(onAsset)]);
            assert.deepEqual(await st.alarms.listAlarms(T1, { open: true, rule: 'line-avg', limit: 10 }), [stored(onAsset)]);
          };
          await check(s);
          if (fx.reopen) await check(await fx.reopen());
        }));

        it('one open alarm per (tenant, rule, device) holds for asset alarms, refused with IIP_ERR_CONFLICT writing nothing', withStore(async (s) => {
          const a = alarm(T1, 'a1', 'line-avg', 'line-1', 1_000, { source: 'asset' });
          await s.alarms.createAlarm(a, entry(a, 'activate', 1_000));
          const dup = alarm(T1, 'a2', 'line-avg', 'line-1', 2_000, { source: 'asset' });
          await assert.rejects(() => s.alarms.createAlarm(dup, entry(dup, 'activate', 2_000)), code('IIP_ERR_CONFLICT', { tenant: T1, rule: 'line-avg', device: 'line-1', openAlarm: 'a1' }));
          // (rule, device) is the key whatever the source.
          const sameKeyAsDevice = alarm(T1, 'a3', 'line-avg', 'line-1', 2_000);
          await assert.rejects(() => s.alarms.createAlarm(sameKeyAsDevice, entry(sameKeyAsDevice, 'activate', 2_000)), code('IIP_ERR_CONFLICT', { rule: 'line-avg', device: 'line-1' }));
          assert.equal(await s.alarms.getAlarm(T1, 'a2'), undefined);
          assert.equal(await s.alarms.getAlarm(T1, 'a3'), undefined);
          assert.deepEqual((await s.alarms.listHistory(T1, { limit: 10 })).map((e) => [e.alarm, e.seq]), [['a1', 1]], 'a refused create writes no history');
          // Another asset, another rule, another tenant: each may have its own open asset alarm.
          for (const x of [
            alarm(T1, 'a4', 'line-avg', 'line-2', 3_000, { source: 'asset' }),
            alarm(T1, 'a5', 'line-max', 'line-1', 3_000, { source: 'asset' }),
            alarm(T2, 'a1', 'line-avg', 'line-1', 3_000, { source: 'asset' }),
          ]) {
            await s.alarms.createAlarm(x, entry(x, 'activate', 3_000));
          }
          // Once the open one is closed, the (rule, asset) may raise a new one.
          const closed = await s.alarms.updateAlarm({ ...a, open: false, state: { isa: 'normal' }, updatedAt: 4_000 }, 1, entry(a, 'ack', 4_000, { user: 'alice', isaState: 'normal' }));
          assert.deepEqual(closed.alarm, { ...stored(a, 2), open: false, state: { isa: 'normal' }, updatedAt: 4_000 });
          assert.equal(await s.alarms.openAlarm(T1, 'line-avg', 'line-1' as DeviceId), undefined);
          await s.alarms.createAlarm(dup, entry(dup, 'activate', 5_000));
          assert.deepEqual(await s.alarms.openAlarm(T1, 'line-avg', 'line-1' as DeviceId), stored(dup));
          // Reopening the closed one now would make two open alarms.
          await assert.rejects(
            () => s.alarms.updateAlarm({ ...a, open: true, updatedAt: 6_000 }, 2, entry(a, 'activate', 6_000)),
            code('IIP_ERR_CONFLICT', { rule: 'line-avg', device: 'line-1', openAlarm: 'a2' }),
          );
        }));

        it('of concurrent creates of an open asset alarm for one (rule, asset), exactly one wins', withStore(async (s) => {
          const tries = Array.from({ length: 8 }, (_, i) => alarm(T1, `race-${i}`, 'line-avg', 'line-1', 1_000 + i, { source: 'asset' }));
          const results = await Promise.allSettled(tries.map((a) => s.alarms.createAlarm(a, entry(a, 'activate', a.raisedAt))));
          const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
          assert.equal(won.length, 1);
          for (const r of results) if (r.status === 'rejected') code('IIP_ERR_CONFLICT', { rule: 'line-avg', device: 'line-1' })(r.reason);
          assert.equal(won[0]?.alarm.source, 'asset');
          assert.deepEqual(await s.alarms.openAlarm(T1, 'line-avg', 'line-1' as DeviceId), won[0]?.alarm);
        }));

        it('an update without a source keeps the stored one, with one writes it; any other source is refused before anything is written', withStore(async (s) => {
          const a = alarm(T1, 'a1', 'line-avg', 'line-1', 1_000, { source: 'asset' });
          await s.alarms.createAlarm(a, entry(a, 'activate', 1_000));
          const { source: _, ...withoutSource } = a;
          const kept = await s.alarms.updateAlarm({ ...withoutSource, updatedAt: 2_000 }, 1, entry(a, 'ack', 2_000, { user: 'alice', isaState: 'acked' }));
          assert.equal(kept.alarm.source, 'asset');
          assert.deepEqual(await s.alarms.getAlarm(T1, 'a1'), { ...stored(a, 2), updatedAt: 2_000 });
          // As the rule engine does it: the stored alarm spread into the next one carries its source.
          const current = (await s.alarms.getAlarm(T1, 'a1')) as Alarm;
          const { version: __, ...spread } = current;
          const again = await s.alarms.updateAlarm({ ...spread, updatedAt: 3_000 }, 2, entry(a, 'shelve', 3_000, { user: 'alice', isaState: 'shelved' }));
          assert.equal(again.alarm.source, 'asset');
          const changed = await s.alarms.updateAlarm({ ...spread, source: 'device', updatedAt: 4_000 }, 3, entry(a, 'unshelve', 4_000, { user: 'alice' }));
          assert.equal(changed.alarm.source, 'device');
          assert.equal((await s.alarms.openAlarm(T1, 'line-avg', 'line-1' as DeviceId))?.source, 'device');

          const bad = { ...alarm(T1, 'b1', 'r1', 'd1', 5_000), source: 'gateway' } as unknown as NewAlarm;
          await assert.rejects(() => s.alarms.createAlarm(bad, entry(bad, 'activate', 5_000)), code('IIP_ERR_VALIDATION', { tenant: T1, alarm: 'b1', field: 'source' }));
          assert.equal(await s.alarms.getAlarm(T1, 'b1'), undefined);
          const badUpdate = { ...spread, source: 'gateway', updatedAt: 6_000 } as unknown as NewAlarm;
          await assert.rejects(() => s.alarms.updateAlarm(badUpdate, 4, entry(a, 'ack', 6_000)), code('IIP_ERR_VALIDATION', { field: 'source' }));
          assert.deepEqual((await s.alarms.getAlarm(T1, 'a1'))?.version, 4);
          assert.deepEqual((await s.alarms.history(T1, 'a1')).map((e) => e.type), ['activate', 'ack', 'shelve', 'unshelve'], 'a refused write appends no history');
        }));
      });
    });

    describe('action outbox', () => {
      const PAYLOAD = {
        url: 'https://hooks.example.com/iip?x=1&y=2',
        headers: { 'X-Line': 'A' },
        body: { temp: 98.625, note: '过热 "hot" \\ too high\n第二行 🚀 e\u0301', values: [1, null, true, { deep: { deeper: [] } }], empty: '' },
      };
      const job = (tenant: TenantId, id: string, extra: Partial<NewActionJob> = {}): NewActionJob => ({
        tenant,
        id,
        rule: 'r1',
        device: 'd1' as DeviceId,
        kind: 'webhook',
        payload: PAYLOAD,
        dueAt: 1_000,
        ...extra,
      });
      /** A job as enqueue stores it at `now`. */
      const stored = (j: NewActionJob, now: number, extra: Partial<ActionJob> = {}): ActionJob => ({
        ...j,
        state: 'pending',
        attempts: 0,
        createdAt: now,
        updatedAt: now,
        lastError: null,
        leaseUntil: 0,
        ...extra,
      });
      const keys = (jobs: readonly ActionJob[]) => jobs.map((j) => `${j.tenant}/${j.id}`);
      const ids = (jobs: readonly ActionJob[]) => jobs.map((j) => j.id);
      const SECRET = /^[A-Za-z0-9_-]{43}$/;

      it('enqueues pending jobs and counts the new ones; a stored id is left as it is; a payload that is not JSON writes nothing', withStore(async (s) => {
        const a = job(T1, 'a');
        const b = job(T1, 'b', { rule: 'r2', device: 'd2' as DeviceId, kind: 'email', payload: { to: ['ops@example.com'] }, dueAt: 5_000 });
        assert.equal(await s.actions.enqueue([a, b], 100), 2);
        assert.deepEqual(await s.actions.get(T1, 'a'), stored(a, 100));
        assert.deepEqual(await s.actions.get(T1, 'b'), stored(b, 100));
        // A re-delivery: the stored job is left as it is (not its payload, due time nor times), only the new one counts,
        // and an id given twice in one batch is one job (the first).
        const c = job(T1, 'c', { payload: { first: true } });
        assert.equal(await s.actions.enqueue([job(T1, 'a', { payload: { changed: true }, dueAt: 9 }), c, job(T1, 'c', { payload: { first: false } })], 200), 1);
        assert.deepEqual(await s.actions.get(T1, 'a'), stored(a, 100));
        assert.deepEqual(await s.actions.get(T1, 'c'), stored(c, 200));
        assert.equal(await s.actions.enqueue([a, b, c], 300), 0);
        assert.equal(await s.actions.enqueue([], 300), 0);
        // The same id in another tenant is another job.
        assert.equal(await s.actions.enqueue([job(T2, 'a', { payload: 'other' })], 300), 1);
        assert.deepEqual(await s.actions.counts(T1), { pending: 3, done: 0, dead: 0 });
        assert.deepEqual(await s.actions.counts(T2), { pending: 1, done: 0, dead: 0 });
        assert.deepEqual(await s.actions.counts('nobody' as TenantId), { pending: 0, done: 0, dead: 0 });
        assert.equal(await s.actions.get(T1, 'ghost'), undefined);
        // All or nothing: one payload JSON cannot hold refuses the batch before anything is written.
        await assert.rejects(() => s.actions.enqueue([job(T1, 'd'), job(T1, 'e', { payload: { n: 1n } })], 400), code('IIP_ERR_VALIDATION', { field: 'payload' }));
        await assert.rejects(() => s.actions.enqueue([job(T1, 'f'), job(T1, 'g', { payload: undefined })], 400), code('IIP_ERR_VALIDATION'));
        assert.equal(await s.actions.get(T1, 'd'), undefined);
        assert.equal(await s.actions.get(T1, 'f'), undefined);
        assert.deepEqual(await s.actions.counts(T1), { pending: 3, done: 0, dead: 0 });
      }));

      it('claims due jobs of the given kinds only, due first then created, tenant and id, at most `limit`, and leases them', withStore(async (s) => {
        await s.actions.enqueue(
          [
            job(T1, 'late', { dueAt: 50_000 }),
            job(T2, 'a', { dueAt: 500 }),
            job(T1, 'b', { dueAt: 500 }),
            job(T1, 'mail', { kind: 'email', dueAt: 0 }),
            job(T1, 'a', { dueAt: 500 }),
          ],
          100,
        );
        await s.actions.enqueue([job(T2, 'c', { dueAt: 500 }), job(T1, 'first', { dueAt: 400 })], 90);
        assert.deepEqual(await s.actions.claimDue(['webhook'], 399, 30_000, 10), [], 'nothing due yet');
        const first = await s.actions.claimDue(['webhook'], 1_000, 30_000, 3);
        assert.deepEqual(keys(first), [`${T1}/first`, `${T2}/c`, `${T1}/a`]);
        assert.deepEqual(first[0], stored(job(T1, 'first', { dueAt: 400 }), 90, { leaseUntil: 31_000 }), 'returned with its lease, nothing else changed');
        assert.deepEqual(await s.actions.get(T1, 'first'), first[0], 'the lease is stored');
        // A claimed job is not claimed again while its lease lasts.
        assert.deepEqual(keys(await s.actions.claimDue(['webhook'], 1_000, 30_000, 10)), [`${T1}/b`, `${T2}/a`]);
        assert.deepEqual(await s.actions.claimDue(['webhook'], 1_000, 30_000, 10), []);
        assert.deepEqual(await s.actions.claimDue(['webhook'], 30_999, 30_000, 10), [], 'leases until 31,000');
        // Kinds: only those asked for; none asked, none claimed.
        assert.deepEqual(await s.actions.claimDue([], 1_000, 30_000, 10), []);
        assert.deepEqual(await s.actions.claimDue(['sms'], 1_000, 30_000, 10), []);
        assert.deepEqual(await s.actions.claimDue(['webhook'], 1_000, 30_000, 0), [], 'limit 0');
        assert.deepEqual(keys(await s.actions.claimDue(['sms', 'email'], 1_000, 500, 10)), [`${T1}/mail`]);
        assert.equal((await s.actions.get(T1, 'mail'))?.leaseUntil, 1_500);
        // Once a lease has run out (a claimant that died), the job is claimed again, in the same order.
        const again = await s.actions.claimDue(['email', 'webhook'], 31_000, 30_000, 10);
        assert.deepEqual(keys(again), [`${T1}/mail`, `${T1}/first`, `${T2}/c`, `${T1}/a`, `${T1}/b`, `${T2}/a`]);
        assert.ok(again.every((j) => j.leaseUntil === 61_000 && j.state === 'pending' && j.attempts === 0));
        assert.deepEqual(keys(await s.actions.claimDue(['webhook'], 50_000, 30_000, 10)), [`${T1}/late`], 'the others are leased until 61,000');
        assert.deepEqual(await s.actions.counts(T1), { pending: 5, done: 0, dead: 0 }, 'a claim changes no state');
      }));

      it('completes an attempt: done, pending again later, or dead; a job that is not pending is left as it is', withStore(async (s) => {
        await s.actions.enqueue([job(T1, 'a', { dueAt: 100 }), job(T1, 'b', { dueAt: 100 }), job(T1, 'c', { dueAt: 100 })], 50);
        assert.deepEqual(ids(await s.actions.claimDue(['webhook'], 200, 1_000, 10)), ['a', 'b', 'c']);

        assert.equal(await s.actions.complete(T1, 'a', { state: 'done' }, 300), true);
        assert.deepEqual(await s.actions.get(T1, 'a'), stored(job(T1, 'a', { dueAt: 100 }), 50, { state: 'done', attempts: 1, updatedAt: 300 }));

        assert.equal(await s.actions.complete(T1, 'c', { state: 'dead', error: 'IIP_ERR_ACTION_HTTP_STATUS: 410 Gone' }, 300), true);
        const dead = stored(job(T1, 'c', { dueAt: 100 }), 50, { state: 'dead', attempts: 1, updatedAt: 300, lastError: 'IIP_ERR_ACTION_HTTP_STATUS: 410 Gone' });
        assert.deepEqual(await s.actions.get(T1, 'c'), dead);

        const failed = 'IIP_ERR_ACTION_HTTP_STATUS: 503 Service Unavailable';
        assert.equal(await s.actions.complete(T1, 'b', { state: 'pending', dueAt: 5_000, error: failed }, 300), true);
        assert.deepEqual(await s.actions.get(T1, 'b'), stored(job(T1, 'b'), 50, { dueAt: 5_000, attempts: 1, updatedAt: 300, lastError: failed }));
        assert.deepEqual(await s.actions.claimDue(['webhook'], 4_999, 1_000, 10), [], 'its lease is cleared, but it is due later');
        assert.deepEqual(ids(await s.actions.claimDue(['webhook'], 5_000, 1_000, 10)), ['b']);
        // Done keeps the last error as it was.
        assert.equal(await s.actions.complete(T1, 'b', { state: 'done' }, 5_100), true);
        assert.deepEqual(await s.actions.get(T1, 'b'), stored(job(T1, 'b'), 50, { state: 'done', dueAt: 5_000, attempts: 2, updatedAt: 5_100, lastError: failed }));


        // Not pending (done, dead, gone, or of another tenant): false, and nothing changes.
        assert.equal(await s.actions.complete(T1, 'a', { state: 'dead', error: 'late' }, 400), false);
        assert.equal(await s.actions.complete(T1, 'c', { state: 'pending', dueAt: 0, error: 'late' }, 400), false);
        assert.equal(await s.actions.complete(T1, 'c', { state: 'done' }, 400), false);
        assert.equal(await s.actions.complete(T1, 'ghost', { state: 'done' }, 400), false);
        assert.equal(await s.actions.complete(T2, 'a', { state: 'done' }, 400), false);
        assert.equal((await s.actions.get(T1, 'a'))?.state, 'done');
        assert.equal((await s.actions.get(T1, 'a'))?.attempts, 1);
        assert.deepEqual(await s.actions.get(T1, 'c'), dead);
        assert.equal(await s.actions.get(T2, 'a'), undefined);
        assert.deepEqual(await s.actions.claimDue(['webhook'], 1e12, 1_000, 10), [], 'done and dead jobs are never claimed');
        assert.deepEqual(await s.actions.counts(T1), { pending: 0, done: 2, dead: 1 });
      }));

      it('lists newest first by (createdAt, id), filtered by state, rule and device, paged with `before`', withStore(async (s) => {
        const d1 = 'd1' as DeviceId;
        const d2 = 'd2' as DeviceId;
        await s.actions.enqueue([job(T1, 'j-1', { device: d1 }), job(T1, 'j-2', { device: d2 })], 100);
        await s.actions.enqueue([job(T1, 'j-3', { rule: 'r2', device: d1 }), job(T1, 'j-4', { rule: 'r2', device: d2 }), job(T1, 'j-0', { device: d1 })], 200);
        await s.actions.enqueue([job(T1, 'j-5', { device: d2 })], 300);
        await s.actions.enqueue([job(T2, 'j-1', { device: d1 })], 400);
        const list = (f: Partial<ActionJobFilter> = {}) => s.actions.list(T1, { limit: 100, ...f }).then(ids);
        assert.deepEqual(await list(), ['j-5', 'j-4', 'j-3', 'j-0', 'j-2', 'j-1']);
        assert.deepEqual(await list({ limit: 2 }), ['j-5', 'j-4']);
        assert.deepEqual(await list({ limit: 2, before: { createdAt: 200, id: 'j-4' } }), ['j-3', 'j-0'], 'the same createdAt: by id');
        assert.deepEqual(await list({ before: { createdAt: 200, id: 'j-0' } }), ['j-2', 'j-1']);
        assert.deepEqual(await list({ before: { createdAt: 100, id: 'j-1' } }), []);
        assert.deepEqual(await list({ rule: 'r1' }), ['j-5', 'j-0', 'j-2', 'j-1']);
        assert.deepEqual(await list({ device: 'd1' }), ['j-3', 'j-0', 'j-1']);
        assert.deepEqual(await list({ rule: 'r1', device: 'd2' }), ['j-5', 'j-2']);
        assert.deepEqual(await list({ rule: 'r1', device: 'd2', before: { createdAt: 300, id: 'j-5' } }), ['j-2']);
        await s.actions.claimDue(['webhook'], 2_000, 1_000, 100);
        await s.actions.complete(T1, 'j-3', { state: 'done' }, 2_100);
        await s.actions.complete(T1, 'j-2', { state: 'dead', error: 'gone' }, 2_100);
        assert.deepEqual(await list({ state: 'done' }), ['j-3']);
        assert.deepEqual(await list({ state: 'dead' }), ['j-2']);
        assert.deepEqual(await list({ state: 'pending' }), ['j-5', 'j-4', 'j-0', 'j-1']);
        assert.deepEqual(await list({ state: 'dead', rule: 'r2' }), []);
        assert.deepEqual(await list({ state: 'pending', device: 'd2', rule: 'r2' }), ['j-4']);
        // Whole jobs, as get returns them; the other tenant's list holds only its own.
        assert.deepEqual(await s.actions.list(T1, { state: 'dead', limit: 10 }), [await s.actions.get(T1, 'j-2')]);
        assert.deepEqual(await s.actions.list(T2, { limit: 10 }), [stored(job(T2, 'j-1', { device: d1 }), 400, { leaseUntil: 3_000 })]);
        assert.deepEqual(await s.actions.list('nobody' as TenantId, { limit: 10 }), []);
      }));

      it('retries only a dead job (pending, due now, attempts 0, its last error kept); purges only done and dead jobs older than the cutoff', withStore(async (s) => {
        await s.actions.enqueue([job(T1, 'ok'), job(T1, 'failed'), job(T1, 'waiting', { dueAt: 1e9 }), job(T1, 'recent'), job(T2, 'ok')], 100);
        await s.actions.claimDue(['webhook'], 1_000, 10_000, 10);
        await s.actions.complete(T1, 'ok', { state: 'done' }, 300);
        await s.actions.complete(T2, 'ok', { state: 'done' }, 300);
        await s.actions.complete(T1, 'failed', { state: 'dead', error: 'IIP_ERR_ACTION_NETWORK' }, 300);
        await s.actions.complete(T1, 'recent', { state: 'done' }, 600);
        assert.deepEqual(await s.actions.counts(T1), { pending: 1, done: 2, dead: 1 });

        assert.equal(await s.actions.retry(T1, 'ok', 400), false, 'done');
        assert.equal(await s.actions.retry(T1, 'waiting', 400), false, 'pending');
        assert.equal(await s.actions.retry(T1, 'ghost', 400), false);
        assert.equal(await s.actions.retry(T2, 'failed', 400), false, 'another tenant');
        assert.equal((await s.actions.get(T1, 'ok'))?.state, 'done');
        assert.equal(await s.actions.retry(T1, 'failed', 400), true);
        assert.deepEqual(await s.actions.get(T1, 'failed'), stored(job(T1, 'failed'), 100, { dueAt: 400, updatedAt: 400, lastError: 'IIP_ERR_ACTION_NETWORK' }));
        assert.equal(await s.actions.retry(T1, 'failed', 500), false, 'pending again');
        assert.deepEqual(ids(await s.actions.claimDue(['webhook'], 400, 1_000, 10)), ['failed'], 'due now');
        await s.actions.complete(T1, 'failed', { state: 'dead', error: 'IIP_ERR_ACTION_NETWORK' }, 300);
        assert.deepEqual(await s.actions.counts(T1), { pending: 1, done: 2, dead: 1 });

        // Done and dead jobs updated before the cutoff, of every tenant; pending ones stay however old.
        assert.equal(await s.actions.purge(300), 0, 'the cutoff is exclusive');
        assert.equal(await s.actions.purge(301), 3);
        assert.deepEqual(await s.actions.counts(T1), { pending: 1, done: 1, dead: 0 });
        assert.deepEqual(await s.actions.counts(T2), { pending: 0, done: 0, dead: 0 });
        assert.equal(await s.actions.get(T1, 'failed'), undefined);
        assert.equal(await s.actions.purge(301), 0, 'a second run finds nothing');
        assert.equal(await s.actions.purge(1e12), 1);
        assert.deepEqual(ids(await s.actions.list(T1, { limit: 10 })), ['waiting']);
      }));

      it('keeps tenants apart; deleteTenant deletes only that tenant\'s jobs', withStore(async (s) => {
        await s.actions.enqueue([job(T1, 'x', { payload: { tenant: 1 } }), job(T2, 'x', { payload: { tenant: 2 } }), job(T1, 'y'), job(T2, 'z')], 100);
        assert.deepEqual((await s.actions.get(T1, 'x'))?.payload, { tenant: 1 });
        assert.deepEqual((await s.actions.get(T2, 'x'))?.payload, { tenant: 2 });
        assert.equal(await s.actions.get(T1, 'z'), undefined);
        assert.equal(await s.actions.get(T2, 'y'), undefined);
        assert.deepEqual(ids(await s.actions.list(T1, { limit: 10 })), ['y', 'x']);
        assert.deepEqual(ids(await s.actions.list(T2, { limit: 10 })), ['z', 'x']);
        await s.actions.claimDue(['webhook'], 1_000, 1_000, 10);
        assert.equal(await s.actions.complete(T1, 'x', { state: 'dead', error: 'e' }, 200), true);
        assert.equal((await s.actions.get(T2, 'x'))?.state, 'pending', 'the same id in the other tenant is untouched');
        assert.deepEqual(await s.actions.counts(T1), { pending: 1, done: 0, dead: 1 });
        assert.deepEqual(await s.actions.counts(T2), { pending: 2, done: 0, dead: 0 });
        assert.equal(await s.actions.retry(T2, 'x', 300), false);

        assert.equal(await s.actions.deleteTenant(T1), 2);
        assert.deepEqual(await s.actions.list(T1, { limit: 10 }), []);
        assert.deepEqual(await s.actions.counts(T1), { pending: 0, done: 0, dead: 0 });
        assert.deepEqual(ids(await s.actions.list(T2, { limit: 10 })), ['z', 'x']);
        assert.deepEqual((await s.actions.get(T2, 'x'))?.payload, { tenant: 2 });
        assert.equal(await s.actions.deleteTenant(T1), 0);
        assert.equal(await s.actions.enqueue([job(T1, 'x')], 400), 1, 'the ids are free again');
      }));

      it('round-trips payloads exactly: nested objects, arrays, unicode, escapes and bare JSON values', withStore(async (s) => {
        const payloads: unknown[] = [
          PAYLOAD,
          { a: { b: { c: { d: [1, [2, [3, { e: 'f' }]]] } } }, z: 0, y: -1.5e-7, x: 12345678901234, w: false },
          { '键 with space': '值', emoji: '👩‍🔧 🛠️', rtl: 'עברית', nul: 'a\u0000b', tab: '\t', quote: '\'"`', slash: '/\\' },
          'plain text',
          42.5,
          true,
          null,
          [],
          {},
        ];
        const jobs = payloads.map((payload, i) => job(T1, `p-${i}`, { payload, dueAt: i }));
        assert.equal(await s.actions.enqueue(jobs, 100), payloads.length);
        for (const [i, p] of payloads.entries()) assert.deepEqual((await s.actions.get(T1, `p-${i}`))?.payload, p, `payload ${i} (get)`);
        assert.deepEqual((await s.actions.list(T1, { limit: 100 })).map((j) => j.payload).reverse(), payloads, 'list (newest first)');
        assert.deepEqual((await s.actions.claimDue(['webhook'], 1_000, 1_000, 100)).map((j) => j.payload), payloads, 'claimDue');
      }));

      it('keeps one signing secret per tenant (32 random bytes, base64url) until it is rotated', withStore(async (s) => {
        const first = await s.actions.signingSecret(T1);
        assert.match(first, SECRET);
        assert.equal(Buffer.from(first, 'base64url').length, 32);
        assert.equal(await s.actions.signingSecret(T1), first, 'the same on every call');
        const other = await s.actions.signingSecret(T2);
        assert.match(other, SECRET);
        assert.notEqual(other, first, 'each tenant has its own');
        const rotated = await s.actions.rotateSigningSecret(T1);
        assert.match(rotated, SECRET);
        assert.notEqual(rotated, first);
        assert.equal(await s.actions.signingSecret(T1), rotated);
        assert.equal(await s.actions.signingSecret(T2), other, 'rotating one tenant\'s leaves the other\'s');
        // Rotating before any first use makes one too.
        const fresh = await s.actions.rotateSigningSecret('t3' as TenantId);
        assert.equal(await s.actions.signingSecret('t3' as TenantId), fresh);
        // Concurrent first uses agree on one secret.
        const many = await Promise.all(Array.from({ length: 8 }, () => s.actions.signingSecret('t4' as TenantId)));
        assert.equal(new Set(many).size, 1);
        assert.equal(await s.actions.signingSecret('t4' as TenantId), many[0]);
        // A deleted tenant's secret goes with it: a new tenant of the same id gets another.
        await s.actions.deleteTenant(T1);
        const after = await s.actions.signingSecret(T1);
        assert.notEqual(after, rotated);
        assert.equal(await s.actions.signingSecret(T2), other);
      }));

      it('of claims racing for the same due jobs, each job goes to exactly one', withStore(async (s) => {
        for (let round = 0; round < 5; round++) {
          const jobs = Array.from({ length: 10 }, (_, i) => job(i % 2 ? T1 : T2, `race-${round}-${i}`, { dueAt: 0 }));
          assert.equal(await s.actions.enqueue(jobs, 10), 10);
          const [a, b] = await Promise.all([s.actions.claimDue(['webhook'], 1_000, 60_000, 10), s.actions.claimDue(['webhook'], 1_000, 60_000, 10)]);
          const taken = [...keys(a!), ...keys(b!)];
          assert.equal(new Set(taken).size, taken.length, `round ${round}: no job claimed twice (${keys(a!)} / ${keys(b!)})`);
          assert.deepEqual(taken.sort(), keys(jobs.map((j) => stored(j, 10))).sort(), `round ${round}: every job claimed`);
        }
        // More claimants than jobs, with small limits.
        const jobs = Array.from({ length: 30 }, (_, i) => job(T1, `many-${String(i).padStart(2, '0')}`, { dueAt: 0 }));
        await s.actions.enqueue(jobs, 10);
        const claims = await Promise.all(Array.from({ length: 8 }, () => s.actions.claimDue(['webhook'], 1_000, 60_000, 5)));
        const taken = claims.flatMap(keys);
        assert.equal(new Set(taken).size, taken.length, 'no job claimed twice');
        for (const c of claims) assert.deepEqual(keys(c), keys(c).slice().sort(), 'each claim in order');
        const rest = await s.actions.claimDue(['webhook'], 1_000, 60_000, 100);
        assert.deepEqual([...taken, ...keys(rest)].sort(), jobs.map((j) => `${j.tenant}/${j.id}`), 'what the racers left is claimed after');
      }));
    });

    describe('audit', () => {
      const base = { tenant: T1, actor: 'admin', action: 'write', property: 'setpoint', error: null } as const;

      it('keeps who, what, old and new value and result, newest first, per tenant', withStore(async (s) => {
        const id1 = await s.audit.append({ ...base, ts: 1, device: 'plc-1', oldValue: 10, newValue: 12.5, result: 'ok' });
        const id2 = await s.audit.append({ ...base, ts: 2, device: 'plc-2', oldValue: null, newValue: true, result: 'error', error: 'IIP_ERR_MODBUS_EXCEPTION' });
        await s.audit.append({ ...base, tenant: T2, ts: 3, device: 'plc-1', oldValue: 1, newValue: 2, result: 'ok' });
        assert.ok(id2 > id1, 'ids grow');
        const all = await s.audit.list(T1, { limit: 10 });
        assert.deepEqual(all, [
          { ...base, id: id2, ts: 2, device: 'plc-2', oldValue: null, newValue: true, result: 'error', error: 'IIP_ERR_MODBUS_EXCEPTION' },
          { ...base, id: id1, ts: 1, device: 'plc-1', oldValue: 10, newValue: 12.5, result: 'ok' },
        ]);
        assert.deepEqual((await s.audit.list(T1, { device: 'plc-1', limit: 10 })).map((e) => e.oldValue), [10]);
        assert.deepEqual((await s.audit.list(T2, { limit: 10 })).map((e) => e.newValue), [2]);
        assert.deepEqual(await s.audit.list('other' as TenantId, { limit: 10 }), []);
      }));

      it('round-trips structured values and a missing property, and honours the limit', withStore(async (s) => {
        const entries: AuditEntry[] = [
          { ...base, ts: 10, device: 'gw-1', action: 'config', property: null, oldValue: { version: 1 }, newValue: { version: 2, channels: ['a', 'ü'] }, result: 'ok' },
          { ...base, ts: 11, device: 'gw-1', oldValue: 'text "quoted"', newValue: [1, 2.5, null], result: 'ok' },
          { ...base, ts: 12, device: 'gw-1', oldValue: false, newValue: 0, result: 'ok' },
        ];
        const ids: number[] = [];
        for (const e of entries) ids.push(await s.audit.append(e));
        const listed = await s.audit.list(T1, { device: 'gw-1', limit: 10 });
        assert.deepEqual(listed, entries.map((e, i) => ({ ...e, id: ids[i] })).reverse());
        assert.deepEqual((await s.audit.list(T1, { limit: 2 })).map((e) => e.ts), [12, 11]);
        assert.deepEqual((await s.audit.list(T1, { device: 'gw-1', limit: 1 })).map((e) => e.ts), [12]);
      }));
    });

    it('keeps everything across close and reopen', async (ctx) => {
      const fx = await open();
      try {
        if (!fx.reopen) {
          ctx.skip(`${name} fixture provides no reopen(); durability is not tested for it`);
          return;
        }
        const s = fx.storage;
        await s.registry.createTenant({ id: T1, name: 'Acme', createdAt: 1 });
        await s.registry.createProduct(product(T1));
        await s.registry.createDevice(device(T1, 'd1'));
        await s.users.createUser({ id: 'u1' as UserId, tenant: T1, username: 'alice', passwordHash: 'h', createdAt: 1 });
        await s.users.saveToken({ tokenHash: 'tk', userId: 'u1' as UserId, tenant: T1, expiresAt: 99, createdAt: 1 });
        await s.registry.updateTenant(T1, { status: 'suspended', suspendedReason: 'audit' });
        await buildTree(s, T1);
        await s.access.placeDevice(T1, 'd1', 'cell-2');
        await s.access.createRole(role(T1, 'shift-lead', ['device:read', 'device:write']));
        await s.access.addGrant(grant(T1, 'g1', 'u1', 'shift-lead', 'line-1'));
        await s.access.addGrant(grant(T1, 'g2', 'u1', 'viewer', null));
        await s.gateways.saveConfig({ tenant: T1, gateway: GW, version: 1, config: GATEWAY_CONFIG, createdAt: 1, createdBy: 'admin' });
        await s.gateways.saveState({ tenant: T1, gateway: GW, appliedVersion: 1, state: { buffer: { points: 0 } }, updatedAt: 2 });
        const auditId = await s.audit.append({ tenant: T1, ts: 3, actor: 'admin', action: 'write', device: 'd1', property: 'mode', oldValue: 'stop', newValue: 'run', result: 'ok', error: null });
        const sid = await s.telemetry.seriesId(key(T1, 'd1', 'temp'), 'n');
        const rows = [1, 2, 3].map((i) => ({ series: sid, ts: i * 1_000, num: i / 3, str: null }));
        await s.telemetry.write(rows);
        const storedRule = await s.rules.putRule({ tenant: T1, id: 'r1', doc: { when: { gt: [{ p: 'temp' }, 80.5] } }, enabled: true, updatedAt: 4, updatedBy: 'admin' });
        await s.rules.saveStates(T1, [{ rule: 'r1', device: 'd1' as DeviceId, state: { phase: 'pending', since: 3 } }]);
        const newAlarm = { tenant: T1, id: 'a1', rule: 'r1', device: 'd1' as DeviceId, severity: 'high', message: 'hot', state: { isa: 'unacked' }, open: true, raisedAt: 5, updatedAt: 5 };
        const raised = await s.alarms.createAlarm(newAlarm, { tenant: T1, alarm: 'a1', ts: 5, type: 'activate', user: null, comment: null, isaState: 'unacked' });
        const jobs = ['j1', 'j2', 'j3'].map((id) => ({ tenant: T1, id, rule: 'r1', device: 'd1' as DeviceId, kind: 'webhook', payload: { id, 值: [1.5, null] }, dueAt: 6 }));
        await s.actions.enqueue(jobs, 6);
        const [claimed] = await s.actions.claimDue(['webhook'], 7, 1_000, 1);
        await s.actions.claimDue(['webhook'], 7, 1_000, 1);
        await s.actions.complete(T1, 'j2', { state: 'dead', error: 'IIP_ERR_ACTION_NETWORK' }, 8);
        const secret = await s.actions.signingSecret(T1);
        const s2 = await fx.reopen();
        assert.deepEqual(await s2.registry.getTenant(T1), { id: T1, name: 'Acme', createdAt: 1, status: 'suspended', suspendedReason: 'audit' });
        assert.deepEqual(await s2.registry.getProduct(T1, P1), product(T1));
        assert.deepEqual(await s2.registry.getDevice(T1, 'd1' as DeviceId), { ...device(T1, 'd1'), asset: 'cell-2' });
        assert.deepEqual(await s2.access.getAsset(T1, 'cell-2'), asset(T1, 'cell-2', 'cell', 'line-1'));
        assert.equal((await s2.access.listAssets(T1)).length, 8);
        assert.deepEqual(await s2.access.listPlacements(T1), [{ device: 'd1', asset: 'cell-2' }]);
        assert.deepEqual(await s2.access.listRoles(T1), [role(T1, 'shift-lead', ['device:read', 'device:write'])]);
        assert.deepEqual(await s2.access.listGrants(T1), [grant(T1, 'g1', 'u1', 'shift-lead', 'line-1'), grant(T1, 'g2', 'u1', 'viewer', null)]);
        // The rules hold on the reopened store too (the tenant-wide grant's uniqueness lives in the schema).
        await assert.rejects(() => s2.access.addGrant(grant(T1, 'g3', 'u1', 'viewer', null)), code('IIP_ERR_CONFLICT'));
        await assert.rejects(() => s2.access.updateAsset(T1, 'site', { parent: 'cell-1' }), code('IIP_ERR_ASSET_CYCLE'));
        assert.equal((await s2.users.getUserByName('alice'))?.tenant, T1);
        assert.equal((await s2.users.getToken('tk'))?.userId, 'u1');
        assert.deepEqual((await s2.gateways.latestConfig(T1, GW))?.config, GATEWAY_CONFIG);
        assert.equal((await s2.gateways.getState(T1, GW))?.appliedVersion, 1);
        assert.deepEqual((await s2.audit.list(T1, { limit: 5 })).map((e) => [e.id, e.newValue]), [[auditId, 'run']]);
        assert.equal(await s2.telemetry.seriesId(key(T1, 'd1', 'temp'), 'n'), sid);
        assert.deepEqual(await s2.telemetry.raw(sid, 0, 1e12, 10), rows);
        assert.deepEqual(await s2.telemetry.latest([sid]), [rows[2]]);
        assert.deepEqual(await s2.telemetry.rollups(60_000, sid, 0, 1e12), expectedRollups(rows, 60_000));
        assert.deepEqual(await s2.rules.getRule(T1, 'r1'), storedRule);
        assert.deepEqual(await s2.rules.loadStates(T1, 'r1'), [{ rule: 'r1', device: 'd1', state: { phase: 'pending', since: 3 } }]);
        assert.deepEqual(await s2.alarms.openAlarm(T1, 'r1', 'd1' as DeviceId), raised.alarm);
        assert.deepEqual(await s2.alarms.history(T1, 'a1'), [raised.entry]);
        // One open alarm per (rule, device) holds on the reopened store too, and the history seq goes on.
        await assert.rejects(() => s2.alarms.createAlarm({ ...newAlarm, id: 'a2' }, { ...raised.entry, alarm: 'a2' }), code('IIP_ERR_CONFLICT'));
        assert.equal((await s2.alarms.updateAlarm({ ...newAlarm, open: false }, 1, { ...raised.entry, type: 'clear', isaState: 'normal' })).entry.seq, 2);
        // The outbox: jobs, their states and leases, and the signing secret.
        assert.deepEqual(await s2.actions.get(T1, 'j1'), claimed);
        assert.equal((await s2.actions.get(T1, 'j2'))?.state, 'dead');
        assert.deepEqual(await s2.actions.counts(T1), { pending: 2, done: 0, dead: 1 });
        assert.deepEqual((await s2.actions.claimDue(['webhook'], 7, 1_000, 10)).map((j) => j.id), ['j3'], 'a lease holds across a reopen');
        assert.deepEqual((await s2.actions.claimDue(['webhook'], 1_007, 1_000, 10)).map((j) => j.id), ['j1', 'j3'], 'and runs out as before');
        assert.equal(await s2.actions.signingSecret(T1), secret);
        assert.equal(await s2.actions.enqueue(jobs, 9), 0, 'a re-delivery after a restart stores nothing twice');
      } finally {
        await fx.cleanup();
      }
    });
  });
}
