/**
 * Issue 20, point 3 — the platform reports its own load. A real platform takes QoS 1 telemetry from a real MQTT
 * client (mqtt.js); GET /metrics is then read by a real Prometheus text-format parser (parse-prometheus-text-format,
 * a port of the Prometheus Python client's parser), and by Prometheus's own `promtool check metrics` where Debian's
 * prometheus package is installed. The PUBACK histogram counts exactly the messages acknowledged, its buckets are
 * cumulative, memory gauges are positive, GET /api/v1/status `load` agrees, and /metrics asks for a token like the
 * status does (an API token of a service account, as Prometheus would send, will do). The aedes fallback measures
 * its PUBACKs too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { PUBACK_BUCKETS_SECONDS } from '../src/load-metrics.js';
import { type TestPlatform, startTestPlatform } from './fixture.js';

const QOS1_MESSAGES = 40;
const QOS0_MESSAGES = 5;

interface LoadStatus {
  load: {
    windowSeconds: number;
    eventLoop: { delayMs: { samples: number; p50: number | null; p99: number | null; max: number | null }; utilization: number };
    memory: Record<'rssBytes' | 'rssPeakBytes' | 'heapUsedBytes' | 'heapTotalBytes' | 'externalBytes' | 'arrayBuffersBytes', number>;
    mqtt: {
      server: string;
      connections: number;
      publishesReceived: number;
      pubacksSent: number;
      pubackLatencyMs: { samples: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
    };
    queues: Record<'historianPoints' | 'liveSubscribers' | 'liveLagging' | 'liveBufferedBytes', number> &
      Record<'mqttInboundPending' | 'mqttPausedConnections' | 'mqttOutboundQueued' | 'mqttOutboundInflight' | 'mqttSessionBytes' | 'mqttWriteBufferedBytes' | 'mqttSlowConnections', number | null>;
    points: { stored: number; duplicates: number; rejectedMessages: number };
  };
}

function connect(url: string, device: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username: `default/${device}`, password: secret, reconnectPeriod: 0, connectTimeout: 5000 });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

/**
 * Publishes QOS0_MESSAGES QoS 0 telemetry messages, then QOS1_MESSAGES QoS 1 ones, resolved by their PUBACKs: the
 * server answers one connection's PUBLISHes in order, so by then the QoS 0 ones are handled too.
 */
async function publishTelemetry(c: MqttClient, device: string): Promise<void> {
  const topic = `iip/default/${device}/telemetry`;
  const t0 = Date.now() - 60_000;
  for (let i = 0; i < QOS0_MESSAGES; i++) await c.publishAsync(topic, JSON.stringify({ ts: t0 + i, count: i }), { qos: 0 });
  await Promise.all(
    Array.from({ length: QOS1_MESSAGES }, (_, i) => c.publishAsync(topic, JSON.stringify({ ts: t0 + 1000 + i, temperature: 20 + (i % 10), count: i }), { qos: 1 })),
  );
}

async function scrape(tp: TestPlatform, token: string | undefined): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${tp.platform.httpUrl}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

function family(families: readonly ParsedFamily[], name: string): ParsedFamily {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `metric family ${name} is in the scrape`);
  return f;
}

function value(families: readonly ParsedFamily[], name: string): number {
  const s = family(families, name).metrics[0];
  assert.ok(s?.value !== undefined, `${name} has a value`);
  return Number(s.value);
}

describe('GET /metrics on the iip MQTT front door', () => {
  let tp: TestPlatform;
  let client: MqttClient;
  let text = '';
  let families: ParsedFamily[] = [];

  before(async () => {
    tp = await startTestPlatform();
    const secret = await tp.createDevice('meter-1');
    client = await connect(tp.platform.mqttUrl, 'meter-1', secret);
    await publishTelemetry(client, 'meter-1');
    const r = await scrape(tp, tp.token);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    text = r.text;
    families = parsePrometheusTextFormat(text);
  });
  after(async () => {
    client?.end(true);
    await tp?.close();
  });

  test('the iip_* families are there with their types, beside the default process metrics', () => {
    const types: Record<string, ParsedFamily['type']> = {
      iip_event_loop_delay_seconds: 'SUMMARY',
      iip_event_loop_delay_max_seconds: 'GAUGE',
      iip_event_loop_utilization_ratio: 'GAUGE',
      iip_memory_rss_bytes: 'GAUGE',
      iip_memory_rss_peak_bytes: 'GAUGE',
      iip_memory_heap_used_bytes: 'GAUGE',
      iip_memory_heap_total_bytes: 'GAUGE',
      iip_memory_external_bytes: 'GAUGE',
      iip_memory_array_buffers_bytes: 'GAUGE',
      iip_mqtt_connections: 'GAUGE',
      iip_mqtt_sessions: 'GAUGE',
      iip_mqtt_publishes_received_total: 'COUNTER',
      iip_mqtt_pubacks_sent_total: 'COUNTER',
      iip_mqtt_puback_latency_seconds: 'HISTOGRAM',
      iip_mqtt_puback_latency_window_p50_seconds: 'GAUGE',
      iip_mqtt_puback_latency_window_p90_seconds: 'GAUGE',
      iip_mqtt_puback_latency_window_p99_seconds: 'GAUGE',
      iip_mqtt_puback_latency_window_max_seconds: 'GAUGE',
      iip_mqtt_inbound_pending_publishes: 'GAUGE',
      iip_mqtt_paused_connections: 'GAUGE',
      iip_mqtt_fleet_budget_pauses_total: 'COUNTER',
      iip_mqtt_outbound_queued_messages: 'GAUGE',
      iip_mqtt_outbound_inflight_messages: 'GAUGE',
      iip_mqtt_outbound_dropped_messages_total: 'COUNTER',
      iip_mqtt_session_bytes: 'GAUGE',
      iip_mqtt_write_buffered_bytes: 'GAUGE',
      iip_mqtt_slow_connections: 'GAUGE',
      iip_mqtt_slow_consumer_disconnects_total: 'COUNTER',
      iip_mqtt_qos0_dropped_messages_total: 'COUNTER',
      iip_historian_queued_points: 'GAUGE',
      iip_historian_written_points_total: 'COUNTER',
      iip_ingest_stored_points_total: 'COUNTER',
      iip_ingest_duplicate_points_total: 'COUNTER',
      iip_ingest_rejected_messages_total: 'COUNTER',
      iip_live_subscribers: 'GAUGE',
      iip_live_lagging_subscribers: 'GAUGE',
      iip_live_buffered_bytes: 'GAUGE',
      iip_live_closed_lagging_total: 'COUNTER',
      process_cpu_seconds_total: 'COUNTER',
      process_resident_memory_bytes: 'GAUGE',
      nodejs_heap_size_used_bytes: 'GAUGE',
      nodejs_eventloop_lag_seconds: 'GAUGE',
    };
    for (const [name, type] of Object.entries(types)) {
      const f = family(families, name);
      assert.equal(f.type, type, `${name} is a ${type}`);
      assert.ok(f.help.length > 10, `${name} has a help text`);
    }
    for (const f of families.filter((x) => x.name.startsWith('iip_'))) assert.ok(f.name in types, `${f.name} is listed in this test (and in docs/reference/monitoring.md)`);
  });

  test('the PUBACK histogram counts every QoS 1 message acknowledged, in cumulative buckets', () => {
    const h = family(families, 'iip_mqtt_puback_latency_seconds').metrics[0];
    assert.ok(h?.buckets && h.count !== undefined && h.sum !== undefined, 'a histogram sample with buckets, count and sum');
    assert.equal(Number(h.count), QOS1_MESSAGES);
    // Object keys that look like integers (1, 2, 5, 10) come first: put the buckets in `le` order.
    const buckets = Object.entries(h.buckets)
      .map(([le, n]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(n)] as const)
      .sort((a, b) => a[0] - b[0]);
    assert.deepEqual(
      buckets.map(([le]) => le),
      [...PUBACK_BUCKETS_SECONDS, Number.POSITIVE_INFINITY],
    );
    for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i]?.[1] as number) >= (buckets[i - 1]?.[1] as number), `bucket le=${buckets[i]?.[0]} is cumulative`);
    assert.equal(buckets.at(-1)?.[1], QOS1_MESSAGES, '+Inf holds them all');
    assert.ok(Number(h.sum) > 0 && Number(h.sum) < QOS1_MESSAGES * 10, `sum ${h.sum} s`);
    assert.equal(value(families, 'iip_mqtt_pubacks_sent_total'), QOS1_MESSAGES);
    assert.equal(value(families, 'iip_mqtt_publishes_received_total'), QOS1_MESSAGES + QOS0_MESSAGES);
    const window = ['p50', 'p90', 'p99', 'max'].map((p) => value(families, `iip_mqtt_puback_latency_window_${p}_seconds`));
    for (let i = 1; i < window.length; i++) assert.ok((window[i - 1] as number) <= (window[i] as number) * 1.001, `window percentiles ascend: ${window}`);
  });

  test('gauges hold what is there: positive memory, one connection, nothing waiting, the points stored', () => {
    for (const name of ['iip_memory_rss_bytes', 'iip_memory_rss_peak_bytes', 'iip_memory_heap_used_bytes', 'iip_memory_heap_total_bytes', 'iip_memory_external_bytes', 'iip_memory_array_buffers_bytes']) {
      assert.ok(value(families, name) > 0, `${name} > 0`);
    }
    assert.ok(value(families, 'iip_memory_rss_peak_bytes') >= value(families, 'iip_memory_rss_bytes') * 0.5);
    assert.equal(value(families, 'iip_mqtt_connections'), 1);
    assert.equal(value(families, 'iip_mqtt_inbound_pending_publishes'), 0);
    assert.equal(value(families, 'iip_mqtt_paused_connections'), 0);
    assert.equal(value(families, 'iip_mqtt_fleet_budget_pauses_total'), 0);
    assert.equal(value(families, 'iip_mqtt_slow_connections'), 0);
    assert.ok(value(families, 'iip_mqtt_write_buffered_bytes') >= 0);
    assert.ok(value(families, 'iip_ingest_stored_points_total') >= QOS1_MESSAGES * 2, 'the QoS 1 messages’ points are stored');
    const loop = family(families, 'iip_event_loop_delay_seconds').metrics[0];
    assert.ok(loop?.quantiles && Number(loop.count) > 0, 'the event-loop summary has samples');
    assert.deepEqual(Object.keys(loop.quantiles).sort(), ['0.5', '0.9', '0.99']);
    const u = value(families, 'iip_event_loop_utilization_ratio');
    assert.ok(u > 0 && u <= 1, `utilisation ${u}`);
  });

  test('GET /api/v1/status `load` agrees with the scrape', async () => {
    const r = await tp.api<LoadStatus>('GET', '/api/v1/status');
    assert.equal(r.status, 200);
    const l = r.body.load;
    assert.equal(l.windowSeconds, 60);
    assert.equal(l.mqtt.server, 'iip');
    assert.equal(l.mqtt.connections, 1);
    assert.equal(l.mqtt.pubacksSent, QOS1_MESSAGES);
    assert.equal(l.mqtt.publishesReceived, QOS1_MESSAGES + QOS0_MESSAGES);
    const p = l.mqtt.pubackLatencyMs;
    assert.equal(p.samples, QOS1_MESSAGES, 'every PUBACK of the last minute is in the window');
    assert.ok(p.p50 !== null && p.p90 !== null && p.p99 !== null && p.max !== null);
    assert.ok(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.max * 1.001, JSON.stringify(p));
    assert.ok(l.eventLoop.delayMs.samples > 0 && l.eventLoop.delayMs.p50 !== null, JSON.stringify(l.eventLoop));
    for (const [k, v] of Object.entries(l.memory)) assert.ok(v > 0, `memory.${k} > 0`);
    assert.deepEqual(
      {
        inbound: l.queues.mqttInboundPending,
        paused: l.queues.mqttPausedConnections,
        slow: l.queues.mqttSlowConnections,
        sessionBytes: typeof l.queues.mqttSessionBytes,
        historian: typeof l.queues.historianPoints,
        live: l.queues.liveSubscribers,
        lagging: l.queues.liveLagging,
      },
      { inbound: 0, paused: 0, slow: 0, sessionBytes: 'number', historian: 'number', live: 0, lagging: 0 },
    );
    assert.equal(l.points.stored, value(families, 'iip_ingest_stored_points_total'));
  });

  test('the metrics are refused without a token, and read with an API token of a service account', async () => {
    const none = await scrape(tp, undefined);
    assert.equal(none.status, 401);
    assert.equal((JSON.parse(none.text) as { code: string }).code, 'IIP_ERR_AUTH_REQUIRED');
    const bad = await scrape(tp, 'iipat_not_a_token');
    assert.equal(bad.status, 401);
    const service = await tp.api<{ id: string }>('POST', '/api/v1/users', { username: 'prometheus', kind: 'service', grants: [{ role: 'viewer' }] });
    assert.equal(service.status, 201, JSON.stringify(service.body));
    const token = await tp.api<{ token: string }>('POST', `/api/v1/users/${service.body.id}/api-tokens`, { name: 'scrape', scopes: ['devices:read'], expiresInDays: 30 });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    const r = await scrape(tp, token.body.token);
    assert.equal(r.status, 200);
    assert.ok(parsePrometheusTextFormat(r.text).some((f) => f.name === 'iip_mqtt_puback_latency_seconds'));
  });

  test('GET /metrics is in the OpenAPI document with a description', async () => {
    const doc = await tp.anon<{ paths: Record<string, { get?: { description?: string } }> }>('GET', '/docs/json');
    assert.match(doc.body.paths['/metrics']?.get?.description ?? '', /Prometheus/);
  });

  test('promtool check metrics passes the scrape', (t) => {
    const which = spawnSync('promtool', ['--version']);
    if (which.error) {
      t.skip('promtool is not installed (Debian package prometheus); the parser above checked the format');
      return;
    }
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });
});

describe('GET /metrics on the aedes fallback', () => {
  let tp: TestPlatform;
  let client: MqttClient;

  before(async () => {
    tp = await startTestPlatform({ mqttServer: 'aedes' });
    const secret = await tp.createDevice('meter-a');
    client = await connect(tp.platform.mqttUrl, 'meter-a', secret);
    await publishTelemetry(client, 'meter-a');
  });
  after(async () => {
    client?.end(true);
    await tp?.close();
  });

  test('its PUBACKs are counted and measured too; its own queues are not reported', async () => {
    const r = await scrape(tp, tp.token);
    assert.equal(r.status, 200);
    const families = parsePrometheusTextFormat(r.text);
    assert.equal(Number(family(families, 'iip_mqtt_puback_latency_seconds').metrics[0]?.count), QOS1_MESSAGES);
    assert.equal(value(families, 'iip_mqtt_publishes_received_total'), QOS1_MESSAGES + QOS0_MESSAGES);
    assert.equal(family(families, 'iip_mqtt_inbound_pending_publishes').metrics.length, 0);
    const status = await tp.api<LoadStatus>('GET', '/api/v1/status');
    assert.equal(status.body.load.mqtt.server, 'aedes');
    assert.equal(status.body.load.mqtt.pubacksSent, QOS1_MESSAGES);
    assert.equal(status.body.load.queues.mqttInboundPending, null);
    assert.equal(status.body.load.queues.mqttSessionBytes, null);
  });
});
