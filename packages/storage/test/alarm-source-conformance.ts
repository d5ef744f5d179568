/**
 * Alarm source kinds, on every adapter (sqlite-storage.test.ts, postgres-storage.test.ts call it with their
 * fixture): an alarm's `device` names a device (source 'device', the default) or, for a rule over the devices of
 * one asset, that asset (source 'asset'). The source round-trips through every read, a create without one is a
 * device's, an update without one keeps the stored one, and "one open alarm per (tenant, rule, device)" holds for
 * asset alarms as for device alarms.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceId, TenantId } from '@iip/core';
import type { Alarm, NewAlarm, NewAlarmHistoryEntry, Storage } from '@iip/storage';
import type { StorageFixture } from '@iip/testkit';

const T1 = 'acme' as TenantId;
const T2 = 'globex' as TenantId;

const alarm = (tenant: TenantId, id: string, rule: string, dev: string, raisedAt: number, extra: Partial<NewAlarm> = {}): NewAlarm => ({
  tenant,
  id,
  rule,
  device: dev as DeviceId,
  severity: 'high',
  message: `${rule} on ${dev}`,
  state: { isa: 'unacked', active: true, shelved: null },
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

/** The alarm as every read must return it. */
const stored = (a: NewAlarm, version = 1): Alarm => ({ ...a, source: a.source ?? 'device', version });

const code =
  (expected: string, details: Record<string, unknown> = {}) =>
  (e: unknown): boolean => {
    const err = e as { code?: unknown; details?: Record<string, unknown> };
    assert.equal(err.code, expected, String(e));
    for (const [k, v] of Object.entries(details)) assert.deepEqual(err.details?.[k], v, `details.${k}`);
    return true;
  };

export function runAlarmSourceConformance(name: string, open: () => Promise<StorageFixture>): void {
  const withStore = (fn: (s: Storage, fx: StorageFixture) => Promise<void>) => async () => {
    const fx = await open();
    try {
      await fn(fx.storage, fx);
    } finally {
      await fx.cleanup();
    }
  };

  describe(`${name}: alarm source kinds`, () => {
    it('an alarm created with source asset reads back as asset (get, list, openAlarm); one created without a source as device', withStore(async (s, fx) => {
      const onAsset = alarm(T1, 'a-asset', 'line-avg', 'line-1', 1_000, { source: 'asset' });
      const onDevice = alarm(T1, 'a-device', 'overheat', 'd1', 2_000);
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
}
