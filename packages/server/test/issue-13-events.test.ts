/**
 * Issue 13, point 1: device events are validated against the thing model, stored before they are acknowledged,
 * queryable per device, and refused with a code on the device's errors topic (and in the HTTP reply) — no longer
 * acknowledged and dropped. Outside peers: Debian's mosquitto_pub, mqtt.js, curl-like fetch with HTTP Basic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import type { DeviceId, TenantId, ThingModel } from '@iip/core';
import { RetentionService } from '@iip/historian';
import { openSqliteStorage } from '@iip/storage';
import { run, tempDir, waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { startTestPlatform, type TestPlatform } from './fixture.js';

const PRESS: ThingModel = {
  properties: [{ id: 'temperature', dataType: { type: 'float' }, access: 'r' }],
  events: [
    {
      id: 'overheat',
      name: 'Overheat / 过热',
      level: 'alert',
      outputs: [
        { id: 'temperature', dataType: { type: 'float', min: -40, max: 400 }, required: true },
        { id: 'zone', dataType: { type: 'enum', values: [{ value: 'spindle' }, { value: 'motor' }] } },
      ],
    },
    { id: 'door_opened', outputs: [] },
  ],
  services: [],
};

interface EventsReply {
  items: Array<{ seq: number; event: string; ts: number; receivedAt: number; level: string; data: Record<string, unknown> }>;
  next?: string;
}

let tp: TestPlatform;
let port = 0;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform();
  port = tp.platform.mqttPort;
  assert.equal((await tp.api('POST', '/api/v1/products', { id: 'press', name: 'Press', model: PRESS })).status, 201);
  for (const id of ['p1', 'p2', 'p3']) {
    const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id, product: 'press' });
    assert.equal(r.status, 201);
    secrets[id] = r.body.secret;
  }
});
after(() => tp?.close());

const events = (device: string, query = '') => tp.api<EventsReply>('GET', `/api/v1/devices/${device}/events${query}`);

describe('device events over MQTT', () => {
  test('mosquitto_pub (QoS 1): a valid event is stored and listed; its level comes from the thing model', async () => {
    const ts = Date.now() - 60_000;
    const r = await run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-i', 'default/p1', '-u', 'default/p1', '-P', secrets.p1 as string,
      '-t', 'iip/default/p1/events', '-m', JSON.stringify({ event: 'overheat', ts, data: { temperature: 91.5, zone: 'spindle' } }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    // PUBACK came after the commit: the event is there at once.
    const got = await events('p1');
    assert.equal(got.status, 200);
    assert.equal(got.body.items.length, 1);
    assert.deepEqual({ ...got.body.items[0], seq: 0 }, { seq: 0, event: 'overheat', ts, receivedAt: got.body.items[0]?.receivedAt, level: 'alert', data: { temperature: 91.5, zone: 'spindle' } });
  });

  test('mqtt.js: refusals come back on the errors topic with their code, and nothing of the message is stored', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'default/p2', password: secrets.p2, clientId: 'default/p2', reconnectPeriod: 0 });
    const errors: Array<{ code: string; details: Record<string, unknown> }> = [];
    c.on('message', (_t, p) => errors.push(JSON.parse(p.toString())));
    await c.subscribeAsync('iip/default/p2/errors', { qos: 1 });
    await c.publishAsync('iip/default/p2/events', 'not json at all', { qos: 1 });
    await c.publishAsync('iip/default/p2/events', JSON.stringify({ event: 'explode' }), { qos: 1 });
    await c.publishAsync('iip/default/p2/events', JSON.stringify([{ event: 'door_opened' }, { event: 'overheat', data: { zone: 'motor' } }]), { qos: 1 });
    await c.publishAsync('iip/default/p2/events', JSON.stringify({ event: 'overheat', data: { temperature: 'hot' } }), { qos: 1 });
    await waitFor(() => errors.length === 4, 'four errors on the errors topic');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['IIP_ERR_PAYLOAD_NOT_JSON', 'IIP_ERR_EVENT_UNKNOWN', 'IIP_ERR_EVENT_OUTPUT_MISSING', 'IIP_ERR_TELEMETRY_TYPE'],
    );
    assert.equal(errors[2]?.details.output, 'temperature');
    assert.deepEqual((await events('p2')).body.items, [], 'the door_opened of the refused batch is not stored either');
    // A batch of valid events is stored whole, in order.
    await c.publishAsync('iip/default/p2/events', JSON.stringify([{ event: 'door_opened' }, { event: 'overheat', data: { temperature: 120 } }]), { qos: 1 });
    assert.deepEqual((await events('p2')).body.items.map((e) => e.event).sort(), ['door_opened', 'overheat']);
    await c.endAsync();
  });
});

describe('device events over HTTP, queries and clean-up', () => {
  test('POST /api/v1/ingest/events with the device credential: 202 with sequence numbers, or the refusal', async () => {
    const basic = { authorization: `Basic ${Buffer.from(`default/p3:${secrets.p3}`).toString('base64')}` };
    const t0 = Date.now() - 10_000;
    const body = JSON.stringify([
      { event: 'door_opened', ts: t0 },
      { event: 'overheat', ts: t0 + 1_000, data: { temperature: 95 } },
      { event: 'door_opened', ts: t0 + 2_000 },
    ]);
    const ok = await tp.anon<{ accepted: number; seqs: number[] }>('POST', '/api/v1/ingest/events', body, basic);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(ok.body.accepted, 3);
    assert.equal(new Set(ok.body.seqs).size, 3);
    const bad = await tp.anon<{ code: string }>('POST', '/api/v1/ingest/events', '{"event":"overheat","data":{"temperature":90,"rpm":3}}', basic);
    assert.equal(bad.status, 422);
    assert.equal(bad.body.code, 'IIP_ERR_EVENT_UNKNOWN_OUTPUT');
    const wrong = await tp.anon<{ code: string }>('POST', '/api/v1/ingest/events', '{"event":"door_opened"}', { authorization: `Basic ${Buffer.from('default/p3:nope').toString('base64')}` });
    assert.equal(wrong.body.code, 'IIP_ERR_DEVICE_AUTH_FAILED');

    // Filters and paging.
    assert.deepEqual((await events('p3', '?event=door_opened')).body.items.map((e) => e.ts), [t0, t0 + 2_000]);
    assert.deepEqual((await events('p3', '?level=alert')).body.items.map((e) => e.event), ['overheat']);
    assert.deepEqual((await events('p3', `?from=${t0 + 500}&to=${t0 + 1_500}`)).body.items.map((e) => e.event), ['overheat']);
    const page = await events('p3', '?limit=2');
    assert.equal(page.body.items.length, 2);
    assert.match(page.body.next ?? '', /^\d+:\d+$/);
    const rest = await events('p3', `?after=${page.body.next}`);
    assert.deepEqual(rest.body.items.map((e) => e.ts), [t0 + 2_000]);
    assert.equal((await events('no-such-device')).status, 404);

    // Deleting the device deletes its events.
    assert.equal((await tp.api('DELETE', '/api/v1/devices/p3')).status, 204);
    assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'p3', product: 'press' })).status, 201);
    assert.deepEqual((await events('p3')).body.items, []);
  });
});

describe('retention of device events', () => {
  test('retention.eventDays in the tenant policy; the retention run deletes older events and keeps the rest', async () => {
    const put = await tp.api<{ retention: { eventDays: number | null; auditDays: number | null } }>('PUT', '/api/v1/tenant/policy', { retention: { eventDays: 90 }, quotas: {} });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.retention.eventDays, 90);
    const older = await tp.api<{ retention: { eventDays: number | null } }>('PUT', '/api/v1/tenant/policy', { retention: { rawDays: 400 }, quotas: {} });
    assert.equal(older.body.retention.eventDays, 90, 'a client that does not send eventDays leaves it as it is');
    assert.equal((await tp.api('PUT', '/api/v1/tenant/policy', { retention: { eventDays: -1 }, quotas: {} })).status, 400);

    const dir = await tempDir('iip-event-retention-');
    const storage = openSqliteStorage({ file: join(dir.path, 'iip.db') });
    try {
      const T = 'acme' as TenantId;
      await storage.registry.createTenant({ id: T, name: 'Acme', createdAt: 1 });
      await storage.registry.setTenantPolicy(T, { retention: { eventDays: 30 }, quotas: {} });
      const now = Date.UTC(2026, 5, 1);
      const day = 86_400_000;
      await storage.deviceEvents.append(
        [90, 31, 29, 1].map((d) => ({ tenant: T, device: 'm1' as DeviceId, event: `e${d}`, ts: now - d * day, receivedAt: now, level: 'info' as const, data: {} })),
      );
      const retention = new RetentionService(storage.registry, storage.telemetry, { now: () => now, deviceEvents: storage.deviceEvents });
      const report = await retention.runOnce();
      assert.equal(report.tenants.find((t) => t.tenant === T)?.deviceEventsDeleted, 2);
      const left = await storage.deviceEvents.listByDevice(T, 'm1' as DeviceId, { limit: 10 });
      assert.deepEqual(left.map((e) => e.event), ['e29', 'e1']);
    } finally {
      await storage.close();
      await dir.cleanup();
    }
  });
});
