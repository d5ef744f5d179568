import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KPIS_DICTIONARY, kpisErrorText, kpisText } from '../src/alarm-kpis/alarm-kpis-i18n.ts';
import {
  type AlarmKpis,
  formatRate,
  formatShare,
  KPI_PERIODS,
  kpisApi,
  perHour,
  periodRange,
  priorityBars,
  rateLevel,
  shareLevel,
  topTenShare,
} from '../src/alarm-kpis/alarm-kpis-model.ts';
import type { ApiClient } from '../src/api-client.ts';
import { parseRoute, routeHref } from '../src/route.ts';
import { formatDuration } from '../src/value-format.ts';

test('periods end now and reach back 24 h, 7 d, 30 d', () => {
  assert.deepEqual(KPI_PERIODS, ['24h', '7d', '30d']);
  assert.deepEqual(periodRange('24h', 1_000_000_000.7), { from: 1_000_000_000 - 86_400_000, to: 1_000_000_000 });
  assert.equal(periodRange('7d', 10 * 86_400_000).from, 3 * 86_400_000);
  assert.equal(periodRange('30d', 31 * 86_400_000).from, 86_400_000);
});

test('the KPI call asks the platform for the range', async () => {
  const calls: Array<[string, string]> = [];
  const call = async (method: string, path: string) => {
    calls.push([method, path]);
    return { activations: 0 };
  };
  const api = { call } as unknown as ApiClient;
  await kpisApi.get(api, { from: 5, to: 86_400_005 });
  assert.deepEqual(calls, [['GET', '/alarms/kpis?from=5&to=86400005']]);
});

test('a rate against its target: at or under it ok, up to twice it warn (maximum manageable), beyond bad', () => {
  assert.equal(rateLevel(0, 1), 'ok');
  assert.equal(rateLevel(1, 1), 'ok');
  assert.equal(rateLevel(1.5, 1), 'warn');
  assert.equal(rateLevel(2, 1), 'warn');
  assert.equal(rateLevel(2.01, 1), 'bad');
  assert.equal(rateLevel(150, 150), 'ok');
  assert.equal(rateLevel(301, 150), 'bad');
  assert.equal(shareLevel(0.01, 0.01), 'ok');
  assert.equal(shareLevel(0.03, 0.01), 'warn');
  assert.equal(shareLevel(0.2, 0.01), 'bad');
});

test('the top ten’s share of all alarms', () => {
  const k = { topBadActors: [{ rule: 'a', device: 'd', count: 3, share: 0.5 }, { rule: 'b', device: 'd', count: 1, share: 0.25 }] };
  assert.equal(topTenShare(k), 0.75);
  assert.equal(topTenShare({ topBadActors: [] }), 0);
  // Float noise never makes it more than everything.
  assert.equal(topTenShare({ topBadActors: [0.4, 0.3, 0.30000000001].map((share) => ({ rule: 'r', device: 'd', count: 1, share })) }), 1);
});

test('rates and shares as people read them, in both languages', () => {
  assert.equal(formatRate(0, 'en'), '0');
  assert.equal(formatRate(0.4166666, 'en'), '0.42');
  assert.equal(formatRate(6.25, 'zh'), '6.25');
  assert.equal(formatRate(150, 'en'), '150');
  assert.equal(formatRate(12_345.6, 'en'), '12,346');
  assert.equal(formatShare(0, 'en'), '0%');
  assert.equal(formatShare(0.01, 'en'), '1%');
  assert.equal(formatShare(0.0125, 'en'), '1.3%');
  assert.equal(formatShare(0.5, 'zh'), '50%');
  assert.equal(formatShare(0.00001, 'en'), '<0.1%');
  assert.equal(perHour(150), 6.25);
});

test('priority bars: the four severities most severe first, always, then any other; width is the share', () => {
  const bars = priorityBars({ low: { count: 6, share: 0.6 }, critical: { count: 1, share: 0.1 }, urgent: { count: 3, share: 0.3 } });
  assert.deepEqual(
    bars.map((b) => [b.severity, b.count, b.width]),
    [
      ['critical', 1, 10],
      ['high', 0, 0],
      ['medium', 0, 0],
      ['low', 6, 60],
      ['urgent', 3, 30],
    ],
  );
  assert.deepEqual(
    priorityBars({}).map((b) => b.severity),
    ['critical', 'high', 'medium', 'low'],
  );
});

test('a whole reply shapes without surprises', () => {
  const k: AlarmKpis = {
    from: 0,
    to: 86_400_000,
    activations: 0,
    per10Min: { mean: 0, max: 0 },
    perDay: 0,
    floodShare: 0,
    topBadActors: [],
    chattering: [],
    stale: [],
    priorities: {},
    targets: { per10Min: 1, perDay: 150, floodShare: 0.01, topTenShare: 0.05 },
  };
  assert.equal(rateLevel(k.per10Min.mean, k.targets.per10Min), 'ok');
  assert.equal(shareLevel(topTenShare(k), k.targets.topTenShare), 'ok');
  assert.equal(priorityBars(k.priorities).every((b) => b.width === 0), true);
});

test('durations in their two largest units', () => {
  assert.equal(formatDuration(0, 'en'), '0 s');
  assert.equal(formatDuration(42_000, 'en'), '42 s');
  assert.equal(formatDuration(125 * 60_000, 'en'), '2 h 5 min');
  assert.equal(formatDuration(2 * 3_600_000, 'en'), '2 h');
  assert.equal(formatDuration(26 * 3_600_000 + 59_000, 'en'), '1 d 2 h');
  assert.equal(formatDuration(3 * 86_400_000 + 5 * 60_000, 'en'), '3 d');
  assert.equal(formatDuration(90 * 60_000, 'zh'), '1 小时 30 分钟');
});

test('route #/alarm-kpis', () => {
  assert.deepEqual(parseRoute('#/alarm-kpis'), { kind: 'alarm-kpis' });
  assert.deepEqual(parseRoute('#/alarm-kpis?period=7d'), { kind: 'alarm-kpis' });
  assert.deepEqual(parseRoute('#/alarms'), { kind: 'alarms' });
  assert.equal(routeHref({ kind: 'alarm-kpis' }), '#/alarm-kpis');
});

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('the KPI page’s dictionary: same keys, same placeholders, nothing empty, Chinese in Chinese', () => {
  const keys = Object.keys(KPIS_DICTIONARY.en).sort();
  assert.deepEqual(Object.keys(KPIS_DICTIONARY.zh).sort(), keys);
  for (const k of keys as Array<keyof typeof KPIS_DICTIONARY.en>) {
    assert.ok(KPIS_DICTIONARY.en[k].trim() && KPIS_DICTIONARY.zh[k].trim(), `${k} is empty`);
    assert.deepEqual(placeholders(KPIS_DICTIONARY.zh[k]), placeholders(KPIS_DICTIONARY.en[k]), `${k} placeholders`);
    assert.match(KPIS_DICTIONARY.zh[k], /[\u4e00-\u9fff]/, `${k} is not Chinese`);
  }
  assert.equal(kpisText('en', 'total', { n: 7 }), '7 alarms in the period');
  assert.equal(kpisText('zh', 'nav.kpis'), '报警指标');
  assert.match(kpisErrorText('en', 'IIP_ERR_AUTH_FORBIDDEN') ?? '', /whole tenant/);
  assert.equal(kpisErrorText('en', 'IIP_ERR_SOMETHING'), undefined);
});
