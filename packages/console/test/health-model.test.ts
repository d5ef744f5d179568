/**
 * Issue 20 in the console, the pure part of the health page: reading `load` of the status (an older platform's
 * status without it is told apart), durations and counts with their units, latency colours, what counts as
 * "server unreachable", the #/health route and the page's dictionary in both languages.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEALTH_DICTIONARY, healthText } from '../src/health/health-i18n.ts';
import { formatCount, formatMs, formatRatio, isUnreachable, latencyLevel, readLoad } from '../src/health/health-model.ts';
import { parseRoute, routeHref } from '../src/route.ts';

const LOAD = {
  measuredAt: 1,
  windowSeconds: 60,
  eventLoop: { delayMs: { samples: 10, p50: 0.1, p90: 0.4, p99: 3, max: 12, mean: 0.2 }, utilization: 0.25 },
  memory: { rssBytes: 1, rssPeakBytes: 2, heapUsedBytes: 3, heapTotalBytes: 4, externalBytes: 5, arrayBuffersBytes: 6 },
  mqtt: { server: 'iip', connections: 3, publishesReceived: 9, pubacksSent: 8, pubackLatencyMs: { samples: 0, p50: null, p90: null, p99: null, max: null } },
  queues: { historianPoints: 0, mqttInboundPending: 0, mqttPausedConnections: 0, mqttOutboundQueued: 0, mqttOutboundInflight: 0, liveSubscribers: 1 },
  points: { stored: 100, duplicates: 0, rejectedMessages: 2 },
};

test('readLoad takes `load` of the status, and nothing from a status without it', () => {
  assert.equal(readLoad({ roles: ['front-door'], load: LOAD })?.mqtt.connections, 3);
  assert.equal(readLoad({ roles: ['front-door'] }), undefined);
  assert.equal(readLoad({ load: { eventLoop: {} } }), undefined);
  assert.equal(readLoad(null), undefined);
  assert.equal(readLoad('text'), undefined);
});

test('durations carry their unit: µs-precise under 1 ms, seconds from 1 s, a dash when there is none', () => {
  assert.equal(formatMs(0.093, 'en'), '0.09 ms');
  assert.equal(formatMs(4.5, 'en'), '4.5 ms');
  assert.equal(formatMs(45.25, 'en'), '45.3 ms');
  assert.equal(formatMs(450.4, 'en'), '450 ms');
  assert.equal(formatMs(1900, 'en'), '1.9 s');
  assert.equal(formatMs(12_345, 'en'), '12.3 s');
  assert.equal(formatMs(null, 'en'), '—');
  assert.equal(formatMs(undefined, 'zh'), '—');
  assert.equal(formatRatio(0.2534, 'en'), '25.3 %');
  assert.equal(formatCount(null, 'en'), '—');
  assert.equal(formatCount(12345, 'en'), '12,345');
});

test('latency colours: ok up to the target, bad beyond the limit, warn between, none without a figure', () => {
  assert.equal(latencyLevel(100, 100, 1000), 'ok');
  assert.equal(latencyLevel(100.1, 100, 1000), 'warn');
  assert.equal(latencyLevel(1000, 100, 1000), 'warn');
  assert.equal(latencyLevel(1000.1, 100, 1000), 'bad');
  assert.equal(latencyLevel(null, 100, 1000), 'none');
});

test('unreachable: no answer at all, or a proxy saying the platform is down — not a refusal', () => {
  for (const code of ['IIP_ERR_CONSOLE_NETWORK', 'HTTP_502', 'HTTP_503', 'HTTP_504']) assert.ok(isUnreachable(code), code);
  for (const code of ['IIP_ERR_AUTH_REQUIRED', 'IIP_ERR_AUTH_FORBIDDEN', 'HTTP_500', 'IIP_ERR_CONSOLE_LOAD']) assert.ok(!isUnreachable(code), code);
});

test('#/health is a route of its own', () => {
  assert.deepEqual(parseRoute('#/health'), { kind: 'health' });
  assert.deepEqual(parseRoute('#/health?x=1'), { kind: 'health' });
  assert.equal(routeHref({ kind: 'health' }), '#/health');
  assert.deepEqual(parseRoute('#/healthy'), { kind: 'devices' });
});

test('the health dictionary: same keys and placeholders in both languages, Chinese in Chinese', () => {
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(HEALTH_DICTIONARY.zh).sort(), Object.keys(HEALTH_DICTIONARY.en).sort());
  for (const [key, en] of Object.entries(HEALTH_DICTIONARY.en)) {
    const zh = HEALTH_DICTIONARY.zh[key as keyof typeof HEALTH_DICTIONARY.en];
    assert.ok(zh.trim().length > 0, `zh:${key} is empty`);
    assert.deepEqual(placeholders(zh), placeholders(en), `zh:${key} placeholders`);
    assert.match(zh, /[\u4e00-\u9fff]/, `zh:${key} is Chinese`);
  }
  assert.equal(healthText('en', 'nav.health'), 'Health');
  assert.equal(healthText('zh', 'nav.health'), '运行状况');
  assert.equal(healthText('en', 'intro', { seconds: 60, refresh: 3 }).includes('60 s'), true);
  assert.equal(healthText('en', 'updated'), 'Updated {age}');
});
