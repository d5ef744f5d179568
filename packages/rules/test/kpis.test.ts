/**
 * Issue 13, point 6: alarm-management KPIs (ISA-18.2 / EEMUA 191) from activations and open alarms, on a
 * hand-made day whose answers are counted by hand below.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Activation, alarmKpis } from '@iip/rules';

const from = Date.UTC(2026, 11, 1);
const to = from + 86_400_000;
const at = (min: number, sec = 0) => from + min * 60_000 + sec * 1_000;

test('rates, flood, bad actors, chattering, stale alarms and priorities', () => {
  const acts: Activation[] = [];
  // A flood: 12 alarms of pump-1/high in the first 10 minutes, 4 of them within one minute (chattering).
  for (const s of [0, 10, 20, 40]) acts.push({ ts: at(1, s), rule: 'high', device: 'pump-1', severity: 'high' });
  for (let i = 0; i < 8; i++) acts.push({ ts: at(2 + i), rule: 'high', device: 'pump-1', severity: 'high' });
  // Two more sources later in the day, one of them twice within a minute (not chattering).
  acts.push({ ts: at(600), rule: 'low', device: 'tank-2', severity: 'low' }, { ts: at(600, 30), rule: 'low', device: 'tank-2', severity: 'low' });
  acts.push({ ts: at(700), rule: 'door', device: 'cell-3', severity: 'medium' });
  // Outside the range: ignored.
  acts.push({ ts: to + 1, rule: 'high', device: 'pump-1', severity: 'high' });
  const now = to + 60_000;
  const k = alarmKpis(acts, [
    { id: 'a1', rule: 'door', device: 'cell-3', severity: 'medium', activeSince: now - 25 * 3_600_000 },
    { id: 'a2', rule: 'low', device: 'tank-2', severity: 'low', activeSince: now - 3_600_000 },
    { id: 'a3', rule: 'x', device: 'y', severity: 'low', activeSince: null },
  ], from, to, now);
  assert.equal(k.activations, 15);
  assert.deepEqual(k.per10Min, { mean: 15 / 144, max: 12 });
  assert.equal(k.perDay, 15);
  assert.equal(k.floodShare, 1 / 144, 'one 10-minute period of 144 had more than 10');
  assert.deepEqual(k.topBadActors.map((b) => [b.rule, b.device, b.count]), [['high', 'pump-1', 12], ['low', 'tank-2', 2], ['door', 'cell-3', 1]]);
  assert.equal(k.topBadActors[0]?.share, 12 / 15);
  assert.deepEqual(k.chattering, [{ rule: 'high', device: 'pump-1', maxPerMinute: 4 }]);
  assert.deepEqual(k.stale.map((s) => s.id), ['a1']);
  assert.deepEqual(Object.fromEntries(Object.entries(k.priorities).map(([p, v]) => [p, v.count])), { high: 12, low: 2, medium: 1 });
  const empty = alarmKpis([], [], from, to, now);
  assert.deepEqual([empty.activations, empty.floodShare, empty.per10Min.max, empty.topBadActors.length], [0, 0, 0, 0]);
});
