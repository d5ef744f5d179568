/**
 * The retention service against both storage adapters (a real SQLite file and a throwaway PostgreSQL): old raw
 * points go, recent ones stay; rollups expire per level as the policy says; a tenant without a policy keeps
 * everything; a tenant whose policy cannot be applied is reported and does not stop the others.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DeviceId, TenantId } from '@iip/core';
import { RetentionService } from '@iip/historian';
import { type RawRow, type Storage, openPostgresStorage, openSqliteStorage } from '@iip/storage';
import { type PostgresServer, startPostgres, tempDir } from '@iip/testkit';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);
const T1 = 'acme' as TenantId;
const T2 = 'globex' as TenantId;
const T3 = 'broken' as TenantId;
const AGES_DAYS = [400, 100, 31, 29, 0.5];

let pg: Promise<PostgresServer> | undefined;
after(async () => {
  if (pg) await (await pg).stop();
});

const adapters: Array<[string, () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>]> = [
  [
    'sqlite',
    async () => {
      const dir = await tempDir('iip-retention-');
      const storage = openSqliteStorage({ file: join(dir.path, 'iip.db') });
      const cleanup = async () => {
        await storage.close();
        await dir.cleanup();
      };
      return { storage, cleanup };
    },
  ],
  [
    'postgres',
    async () => {
      pg ??= startPostgres();
      const storage = await openPostgresStorage({ url: await (await pg).createDatabase() });
      return { storage, cleanup: () => storage.close() };
    },
  ],
];

async function seed(s: Storage): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  for (const t of [T1, T2, T3]) {
    await s.registry.createTenant({ id: t, name: t, createdAt: 1 });
    const sid = await s.telemetry.seriesId({ tenant: t, device: 'd1' as DeviceId, property: 'temp' }, 'n');
    ids[t] = sid;
    const rows: RawRow[] = AGES_DAYS.map((d, i) => ({ series: sid, ts: NOW - d * DAY, num: i, str: null }));
    await s.telemetry.write(rows);
  }
  return ids;
}

const allTs = (s: Storage, sid: number) => s.telemetry.raw(sid, 0, NOW + DAY, 100).then((r) => r.map((x) => x.ts));
const buckets = (s: Storage, level: number, sid: number) => s.telemetry.rollups(level, sid, 0, NOW + DAY).then((r) => r.length);

for (const [name, open] of adapters) {
  describe(`retention service: ${name}`, () => {
    it('deletes per tenant what its policy says has expired, per level, and nothing without a policy', async () => {
      const { storage: s, cleanup } = await open();
      try {
        const ids = await seed(s);
        await s.registry.setTenantPolicy(T1, {
          retention: { rawDays: 30, rollups: { '60000': 365, '3600000': 90, '86400000': null } },
          quotas: {},
        });
        // A level this store does not maintain: stored behind the API's back, so the run must report it.
        await s.registry.setTenantPolicy(T3, { retention: { rawDays: 30, rollups: { '1000': 1 } }, quotas: {} });
        const logs: string[] = [];
        const svc = new RetentionService(s.registry, s.telemetry, { now: () => NOW, batchSize: 2, log: (m) => logs.push(m) });
        const report = await svc.runOnce();

        assert.deepEqual(await allTs(s, ids[T1]!), [NOW - 29 * DAY, NOW - 0.5 * DAY], 'raw: 30 days kept');
        assert.equal(await buckets(s, 60_000, ids[T1]!), 4, '1-minute cells: the 400-day-old one is gone');
        assert.equal(await buckets(s, 3_600_000, ids[T1]!), 3, 'hourly cells: 90 days');
        assert.equal(await buckets(s, 86_400_000, ids[T1]!), 5, 'daily cells: for ever');
        assert.equal((await s.telemetry.latest([ids[T1]!]))[0]?.ts, NOW - 0.5 * DAY, 'latest value stays');

        assert.deepEqual(await allTs(s, ids[T2]!), AGES_DAYS.map((d) => NOW - d * DAY), 'no policy: everything stays');
        assert.equal(await buckets(s, 60_000, ids[T2]!), 5);
        assert.deepEqual(await allTs(s, ids[T3]!), AGES_DAYS.map((d) => NOW - d * DAY), 'a policy that cannot be applied deletes nothing');

        const byTenant = new Map(report.tenants.map((t) => [t.tenant, t]));
        assert.equal(byTenant.get(T1)?.rawDeleted, 3);
        assert.deepEqual(byTenant.get(T1)?.rollupsDeleted, { '60000': 1, '3600000': 2 });
        assert.equal(byTenant.get(T2)?.rawDeleted, 0);
        assert.equal(byTenant.get(T3)?.error?.code, 'IIP_ERR_VALIDATION');
        assert.equal(report.rawDeleted, 3);
        assert.equal(report.rollupsDeleted, 3);
        assert.deepEqual(svc.status().lastRun, report);
        assert.ok(logs.some((m) => m.includes('raw points deleted')));
        assert.ok(logs.some((m) => m.includes('tenant failed')));

        // A second run finds nothing more to do.
        const again = await svc.runOnce();
        assert.equal(again.rawDeleted + again.rollupsDeleted, 0);
        assert.equal(svc.status().runs, 2);
        await svc.close();
      } finally {
        await cleanup();
      }
    });
  });
}
