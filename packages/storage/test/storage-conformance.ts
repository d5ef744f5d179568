/**
 * The one conformance suite every storage adapter must pass (registry, users, telemetry). An adapter's test
 * file calls `runStorageConformance(name, open)`; `open` returns a fresh, empty store. A fixture that can
 * close and reopen the same database provides `reopen`; without it the durability case is skipped and the
 * skip says why.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, ProductId, TenantId, ThingModel, UserId } from '@iip/core';
import type { Device, Product, RawRow, RollupRow, Storage } from '@iip/storage';

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
});

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

export function runStorageConformance(name: string, open: () => Promise<StorageFixture>): void {
  /** Runs `fn` against a fresh store and always cleans up. */
  const withStore = (fn: (s: Storage, fx: StorageFixture) => Promise<void> | void) => async () => {
    const fx = await open();
    try {
      await fn(fx.storage, fx);
    } finally {
      await fx.cleanup();
    }
  };

  describe(`storage conformance: ${name}`, () => {
    describe('registry', () => {
      it('creates, reads and lists tenants; a duplicate id conflicts', withStore((s) => {
        s.registry.createTenant({ id: T2, name: 'Globex', createdAt: 2 });
        s.registry.createTenant({ id: T1, name: 'Acme 有限公司', createdAt: 1 });
        assert.deepEqual(s.registry.getTenant(T1), { id: T1, name: 'Acme 有限公司', createdAt: 1 });
        assert.equal(s.registry.getTenant('nope' as TenantId), undefined);
        assert.deepEqual(s.registry.listTenants().map((t) => t.id), [T1, T2]);
        assert.throws(() => s.registry.createTenant({ id: T1, name: 'again', createdAt: 3 }), code('IIP_ERR_CONFLICT'));
      }));

      it('round-trips the thing model exactly and bumps the version on update', withStore((s) => {
        s.registry.createProduct(product(T1));
        assert.deepEqual(s.registry.getProduct(T1, P1), product(T1));
        assert.throws(() => s.registry.createProduct(product(T1)), code('IIP_ERR_CONFLICT'));
        const model: ThingModel = { ...MODEL, properties: MODEL.properties.slice(0, 1) };
        const updated = s.registry.updateProduct({ tenant: T1, id: P1, name: 'Mill 2', category: 'mill', model });
        assert.equal(updated.version, 2);
        assert.equal(updated.createdAt, product(T1).createdAt);
        assert.deepEqual(s.registry.getProduct(T1, P1), { ...product(T1), name: 'Mill 2', category: 'mill', model, version: 2 });
        assert.throws(
          () => s.registry.updateProduct({ tenant: T1, id: 'ghost' as ProductId, name: 'x', category: 'x', model }),
          code('IIP_ERR_NOT_FOUND'),
        );
      }));

      it('refuses to delete a product that still has devices', withStore((s) => {
        s.registry.createProduct(product(T1));
        s.registry.createDevice(device(T1, 'd1'));
        assert.throws(() => s.registry.deleteProduct(T1, P1), code('IIP_ERR_CONFLICT'));
        assert.equal(s.registry.deleteDevice(T1, 'd1' as DeviceId), true);
        assert.equal(s.registry.deleteDevice(T1, 'd1' as DeviceId), false);
        assert.equal(s.registry.deleteProduct(T1, P1), true);
        assert.equal(s.registry.deleteProduct(T1, P1), false);
      }));

      it('creates devices, round-trips attributes, reports conflicts and unknown products', withStore((s) => {
        s.registry.createProduct(product(T1));
        s.registry.createDevice(device(T1, 'd1'));
        assert.deepEqual(s.registry.getDevice(T1, 'd1' as DeviceId), device(T1, 'd1'));
        assert.throws(() => s.registry.createDevice(device(T1, 'd1')), code('IIP_ERR_CONFLICT'));
        assert.throws(() => s.registry.createDevice(device(T1, 'd2', 'nope' as ProductId)), code('IIP_ERR_NOT_FOUND'));
      }));

      it('createDevices is all or nothing and names the offending row', withStore((s) => {
        s.registry.createProduct(product(T1));
        s.registry.createDevice(device(T1, 'taken'));
        const batch = [device(T1, 'a'), device(T1, 'b'), device(T1, 'taken'), device(T1, 'c')];
        assert.throws(() => s.registry.createDevices(batch), code('IIP_ERR_CONFLICT', { index: 2, device: 'taken' }));
        assert.equal(s.registry.listDevices(T1).total, 1);
        const dupInBatch = [device(T1, 'a'), device(T1, 'a')];
        assert.throws(() => s.registry.createDevices(dupInBatch), code('IIP_ERR_CONFLICT', { index: 1, device: 'a' }));
        const unknown = [device(T1, 'a'), device(T1, 'b', 'ghost' as ProductId)];
        assert.throws(() => s.registry.createDevices(unknown), code('IIP_ERR_NOT_FOUND', { index: 1, device: 'b' }));
        assert.equal(s.registry.listDevices(T1).total, 1);
        s.registry.createDevices([device(T1, 'a'), device(T1, 'b')]);
        assert.equal(s.registry.listDevices(T1).total, 3);
      }));

      it('lists devices by product with paging and a total', withStore((s) => {
        s.registry.createProduct(product(T1));
        s.registry.createProduct(product(T1, 'pump'));
        s.registry.createDevices(['d3', 'd1', 'd2', 'd5', 'd4'].map((id) => device(T1, id)));
        s.registry.createDevices(['p1', 'p2'].map((id) => device(T1, id, 'pump' as ProductId)));
        const all = s.registry.listDevices(T1);
        assert.equal(all.total, 7);
        const page = s.registry.listDevices(T1, { product: P1 }, { limit: 2, offset: 1 });
        assert.equal(page.total, 5);
        assert.deepEqual(page.items.map((d) => d.id), ['d2', 'd3']);
        assert.deepEqual(s.registry.listDevices(T1, { product: 'pump' as ProductId }).items.map((d) => d.id), ['p1', 'p2']);
      }));

      it('isolates tenants: the same ids live side by side and never leak', withStore((s) => {
        for (const t of [T1, T2]) s.registry.createProduct({ ...product(t), name: `mill of ${t}` });
        s.registry.createDevice({ ...device(T1, 'd1'), name: 'acme d1' });
        s.registry.createDevice({ ...device(T2, 'd1'), name: 'globex d1' });
        s.registry.createDevice(device(T2, 'only-globex'));
        assert.equal(s.registry.getProduct(T1, P1)?.name, `mill of ${T1}`);
        assert.equal(s.registry.getDevice(T1, 'd1' as DeviceId)?.name, 'acme d1');
        assert.equal(s.registry.getDevice(T1, 'only-globex' as DeviceId), undefined);
        assert.deepEqual(s.registry.listDevices(T1).items.map((d) => d.id), ['d1']);
        assert.equal(s.registry.listProducts(T1).length, 1);
        assert.equal(s.registry.deleteDevice(T1, 'only-globex' as DeviceId), false);
        assert.equal(s.registry.deleteDevice(T1, 'd1' as DeviceId), true);
        assert.equal(s.registry.getDevice(T2, 'd1' as DeviceId)?.name, 'globex d1');
      }));
    });

    describe('users', () => {
      const user = (id: string, username: string) => ({
        id: id as UserId,
        tenant: T1,
        username,
        passwordHash: `h-${id}`,
        role: 'operator' as const,
        createdAt: 5,
      });

      it('creates and finds users; usernames are unique across tenants', withStore((s) => {
        assert.equal(s.users.countUsers(), 0);
        s.users.createUser(user('u1', 'alice'));
        assert.deepEqual(s.users.getUser('u1' as UserId), user('u1', 'alice'));
        assert.deepEqual(s.users.getUserByName('alice'), user('u1', 'alice'));
        assert.throws(() => s.users.createUser({ ...user('u2', 'alice'), tenant: T2 }), code('IIP_ERR_CONFLICT'));
        s.users.setPasswordHash('u1' as UserId, 'new');
        assert.equal(s.users.getUser('u1' as UserId)?.passwordHash, 'new');
        assert.throws(() => s.users.setPasswordHash('ghost' as UserId, 'x'), code('IIP_ERR_NOT_FOUND'));
        assert.equal(s.users.countUsers(), 1);
      }));

      it('saves, finds, deletes and expires tokens', withStore((s) => {
        s.users.createUser(user('u1', 'alice'));
        const tok = (h: string, expiresAt: number) => ({ tokenHash: h, userId: 'u1' as UserId, tenant: T1, expiresAt, createdAt: 1 });
        s.users.saveToken(tok('a', 100));
        s.users.saveToken(tok('b', 200));
        s.users.saveToken(tok('c', 300));
        assert.deepEqual(s.users.getToken('a'), tok('a', 100));
        s.users.deleteToken('c');
        assert.equal(s.users.getToken('c'), undefined);
        assert.equal(s.users.deleteExpiredTokens(150), 1);
        assert.equal(s.users.getToken('a'), undefined);
        assert.deepEqual(s.users.getToken('b'), tok('b', 200));
      }));
    });

    describe('telemetry', () => {
      it('hands out stable series ids per (tenant, device, property) and refuses a kind change', withStore((s) => {
        const t = s.telemetry;
        const a = t.seriesId(key(T1, 'd1', 'temp'), 'n');
        assert.equal(t.seriesId(key(T1, 'd1', 'temp'), 'n'), a);
        const b = t.seriesId(key(T2, 'd1', 'temp'), 'n');
        const c = t.seriesId(key(T1, 'd1', 'mode'), 's');
        assert.equal(new Set([a, b, c]).size, 3);
        assert.throws(() => t.seriesId(key(T1, 'd1', 'temp'), 's'), code('IIP_ERR_STORAGE_SERIES_KIND'));
        assert.deepEqual(t.listSeries(T1, 'd1' as DeviceId), [
          { id: c, property: 'mode', kind: 's' },
          { id: a, property: 'temp', kind: 'n' },
        ]);
        assert.deepEqual(t.listSeries(T2, 'd1' as DeviceId), [{ id: b, property: 'temp', kind: 'n' }]);
      }));

      it('ignores and counts duplicates, and never counts them twice in rollups', withStore((s) => {
        const t = s.telemetry;
        const sid = t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const t0 = 1_700_000_000_000;
        const rows: RawRow[] = [];
        for (let i = 0; i < 500; i++) rows.push({ series: sid, ts: t0 + i * 7_919, num: (i * 37) % 101, str: null });
        assert.deepEqual(t.write(rows), { inserted: 500, duplicates: 0 });
        assert.deepEqual(t.write(rows), { inserted: 0, duplicates: 500 });
        // Overlapping redelivery with a changed value: the stored value wins, only new points count.
        const overlap = rows.slice(400).map((r) => ({ ...r, num: 9_999 }));
        overlap.push({ series: sid, ts: t0 + 500 * 7_919, num: 3, str: null });
        assert.deepEqual(t.write(overlap), { inserted: 1, duplicates: 100 });
        // Duplicates inside one batch.
        const last = { series: sid, ts: t0 + 501 * 7_919, num: 4, str: null };
        assert.deepEqual(t.write([last, { ...last, num: 5 }]), { inserted: 1, duplicates: 1 });
        const stored = [...rows, overlap.at(-1)!, last];
        assert.deepEqual(t.raw(sid, 0, Number.MAX_SAFE_INTEGER, 10_000), stored);
        for (const level of t.rollupLevels) {
          assert.deepEqual(t.rollups(level, sid, 0, Number.MAX_SAFE_INTEGER), expectedRollups(stored, level), `level ${level}`);
        }
      }));

      it('rolls up numeric and boolean series but not strings', withStore((s) => {
        const t = s.telemetry;
        const on = t.seriesId(key(T1, 'd1', 'on'), 'b');
        const mode = t.seriesId(key(T1, 'd1', 'mode'), 's');
        t.write([
          { series: on, ts: 60_000, num: 1, str: null },
          { series: on, ts: 61_000, num: 0, str: null },
          { series: mode, ts: 60_000, num: null, str: 'run' },
        ]);
        assert.deepEqual(t.rollups(60_000, on, 0, 1e12), [{ series: on, bucket: 60_000, min: 0, max: 1, sum: 1, count: 2 }]);
        assert.deepEqual(t.rollups(60_000, mode, 0, 1e12), []);
        assert.throws(() => t.rollups(12_345, on, 0, 1e12), code('IIP_ERR_VALIDATION'));
      }));

      it('moves latest values forward only, per series', withStore((s) => {
        const t = s.telemetry;
        const temp = t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const mode = t.seriesId(key(T1, 'd1', 'mode'), 's');
        t.write([
          { series: temp, ts: 2_000, num: 20, str: null },
          { series: temp, ts: 3_000, num: 30, str: null },
          { series: temp, ts: 1_000, num: 10, str: null },
          { series: mode, ts: 5_000, num: null, str: 'run' },
        ]);
        t.write([{ series: temp, ts: 2_500, num: 25, str: null }, { series: mode, ts: 4_000, num: null, str: 'stop' }]);
        assert.deepEqual(t.latest([temp, mode]), [
          { series: temp, ts: 3_000, num: 30, str: null },
          { series: mode, ts: 5_000, num: null, str: 'run' },
        ].sort((a, b) => a.series - b.series));
        t.write([{ series: temp, ts: 4_000, num: 40, str: null }]);
        assert.deepEqual(t.latest([temp]), [{ series: temp, ts: 4_000, num: 40, str: null }]);
        assert.deepEqual(t.latest([]), []);
      }));

      it('reads raw ranges with from inclusive, to exclusive and a limit', withStore((s) => {
        const t = s.telemetry;
        const sid = t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const other = t.seriesId(key(T1, 'd2', 'temp'), 'n');
        const rows = [5, 1, 4, 2, 3].map((i) => ({ series: sid, ts: i * 1_000, num: i, str: null }));
        t.write([...rows, { series: other, ts: 2_000, num: 99, str: null }]);
        assert.deepEqual(t.raw(sid, 2_000, 4_000, 100).map((r) => r.ts), [2_000, 3_000]);
        assert.deepEqual(t.raw(sid, 0, 10_000, 2).map((r) => r.ts), [1_000, 2_000]);
        assert.deepEqual(t.rollups(60_000, sid, 60_000, 120_000), []);
        assert.equal(t.rollups(60_000, sid, 0, 60_000)[0]?.count, 5);
      }));

      it('deletes all data of one device and never reuses its series ids', withStore((s) => {
        const t = s.telemetry;
        const gone = t.seriesId(key(T1, 'd1', 'temp'), 'n');
        const kept = t.seriesId(key(T1, 'd2', 'temp'), 'n');
        const sameInOtherTenant = t.seriesId(key(T2, 'd1', 'temp'), 'n');
        const row = (series: number) => ({ series, ts: 90_000, num: 1, str: null });
        t.write([row(gone), row(kept), row(sameInOtherTenant)]);
        t.deleteDevice(T1, 'd1' as DeviceId);
        assert.deepEqual(t.listSeries(T1, 'd1' as DeviceId), []);
        assert.deepEqual(t.raw(gone, 0, 1e12, 10), []);
        for (const level of t.rollupLevels) assert.deepEqual(t.rollups(level, gone, 0, 1e12), []);
        assert.deepEqual(t.latest([gone]), []);
        for (const sid of [kept, sameInOtherTenant]) {
          assert.equal(t.raw(sid, 0, 1e12, 10).length, 1);
          assert.equal(t.latest([sid]).length, 1);
        }
        const again = t.seriesId(key(T1, 'd1', 'temp'), 'n');
        assert.notEqual(again, gone);
        assert.deepEqual(t.raw(again, 0, 1e12, 10), []);
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
        s.registry.createTenant({ id: T1, name: 'Acme', createdAt: 1 });
        s.registry.createProduct(product(T1));
        s.registry.createDevice(device(T1, 'd1'));
        s.users.createUser({ id: 'u1' as UserId, tenant: T1, username: 'alice', passwordHash: 'h', role: 'admin', createdAt: 1 });
        const sid = s.telemetry.seriesId(key(T1, 'd1', 'temp'), 'n');
        const rows = [1, 2, 3].map((i) => ({ series: sid, ts: i * 1_000, num: i / 3, str: null }));
        s.telemetry.write(rows);
        const s2 = await fx.reopen();
        assert.deepEqual(s2.registry.getTenant(T1), { id: T1, name: 'Acme', createdAt: 1 });
        assert.deepEqual(s2.registry.getProduct(T1, P1), product(T1));
        assert.deepEqual(s2.registry.getDevice(T1, 'd1' as DeviceId), device(T1, 'd1'));
        assert.equal(s2.users.getUserByName('alice')?.role, 'admin');
        assert.equal(s2.telemetry.seriesId(key(T1, 'd1', 'temp'), 'n'), sid);
        assert.deepEqual(s2.telemetry.raw(sid, 0, 1e12, 10), rows);
        assert.deepEqual(s2.telemetry.latest([sid]), [rows[2]]);
        assert.deepEqual(s2.telemetry.rollups(60_000, sid, 0, 1e12), expectedRollups(rows, 60_000));
      } finally {
        await fx.cleanup();
      }
    });
  });
}
