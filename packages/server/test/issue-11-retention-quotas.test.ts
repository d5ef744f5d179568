/**
 * Issue 11, point 6, end to end on a real platform: the tenant policy API (admin only to change, validated),
 * quota refusals that reach the sender with their code — HTTP ingest (status + body) and a real MQTT 5 client
 * (PUBACK 0x97 "Quota exceeded" and the errors topic) — with nothing of a refused message stored, device creation
 * refused past the device quota, usage in the API, and retention deleting old points while recent ones stay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

const DAY = 86_400_000;
let tp: TestPlatform;
const secrets: Record<string, string> = {};

interface Policy {
  retention: { rawDays: number | null; rollups: Record<string, number | null>; auditDays: number | null; eventDays: number | null };
  quotas: { devices: number | null; pointsPerDay: number | null; storedBytes: number | null };
  security: { totpRequiredForAdmins: boolean };
}
interface ApiError {
  code: string;
  message: string;
  details: Record<string, unknown>;
}
interface UsageReply {
  usage: { tenant: string; devices: number; pointsToday: number; rawPoints: number; storedBytes: number; day: string };
  policy: Policy;
  rollupLevels: number[];
  retention: { intervalMs: number; lastRun: null | { rawDeleted: number; rawCutoff: number | null; rollupsDeleted: Record<string, number> } };
}

const UNLIMITED: Policy = {
  retention: { rawDays: null, rollups: {}, auditDays: null, eventDays: null },
  quotas: { devices: null, pointsPerDay: null, storedBytes: null },
  security: { totpRequiredForAdmins: false },
};

before(async () => {
  tp = await startTestPlatform();
  for (const id of ['q1', 'q2']) secrets[id] = await tp.createDevice(id);
});
after(async () => {
  await tp?.close();
});

const basic = (device: string) => ({ authorization: `Basic ${Buffer.from(`default/${device}:${secrets[device]}`).toString('base64')}`, 'content-type': 'application/json' });
const ingest = (device: string, body: unknown) => tp.anon<{ accepted: number } & ApiError>('POST', '/api/v1/ingest', JSON.stringify(body), basic(device));
const setPolicy = (p: unknown) => tp.api<Policy & ApiError>('PUT', '/api/v1/tenant/policy', p);
async function history(device: string, prop: string): Promise<Array<{ ts: number; value: unknown }>> {
  const r = await tp.api<{ points: Array<{ ts: number; value: unknown }> }>('GET', `/api/v1/devices/${device}/properties/${prop}/history?from=946684800000&to=${Date.now() + 600_000}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.points;
}

describe('tenant policy API', () => {
  test('the default keeps everything and limits nothing; an admin replaces it; a bad one is refused naming the field', async () => {
    const initial = await tp.api<Policy>('GET', '/api/v1/tenant/policy');
    assert.equal(initial.status, 200);
    assert.deepEqual(initial.body, UNLIMITED);

    const set = await setPolicy({ retention: { rawDays: 30, rollups: { '60000': 365 } }, quotas: { devices: 1000 } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const want: Policy = {
      retention: { rawDays: 30, rollups: { '60000': 365 }, auditDays: null, eventDays: null },
      quotas: { devices: 1000, pointsPerDay: null, storedBytes: null },
      security: { totpRequiredForAdmins: false },
    };
    assert.deepEqual(set.body, want);
    assert.deepEqual((await tp.api<Policy>('GET', '/api/v1/tenant/policy')).body, want);

    const badLevel = await setPolicy({ retention: { rollups: { '1234': 5 } } });
    assert.equal(badLevel.status, 400);
    assert.equal(badLevel.body.code, 'IIP_ERR_VALIDATION');
    assert.equal(badLevel.body.details.field, 'retention.rollups.1234');
    const negative = await setPolicy({ quotas: { devices: -1 } });
    assert.equal(negative.status, 400);
    assert.equal(negative.body.code, 'IIP_ERR_VALIDATION');
    assert.deepEqual((await tp.api<Policy>('GET', '/api/v1/tenant/policy')).body, want, 'a refused policy changes nothing');

    assert.equal((await tp.api('POST', '/api/v1/users', { username: 'viewer1', password: 'viewer-password-1', grants: [{ role: 'viewer' }] })).status, 201);
    const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'viewer1', password: 'viewer-password-1' });
    const asViewer = { authorization: `Bearer ${login.body.token}` };
    assert.equal((await tp.anon('GET', '/api/v1/tenant/policy', undefined, asViewer)).status, 200, 'a viewer may read');
    assert.equal((await tp.anon('GET', '/api/v1/tenant/usage', undefined, asViewer)).status, 200);
    const denied = await tp.anon<ApiError>('PUT', '/api/v1/tenant/policy', UNLIMITED, { ...asViewer, 'content-type': 'application/json' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'IIP_ERR_AUTH_FORBIDDEN');
    assert.equal((await setPolicy(UNLIMITED)).status, 200);
  });
});

describe('quotas', () => {
  test('devices: creation past the quota is refused with IIP_ERR_QUOTA_DEVICES (403) naming limit and usage; nothing is created', async () => {
    const before = (await tp.api<UsageReply>('GET', '/api/v1/tenant/usage')).body.usage.devices;
    assert.equal((await setPolicy({ quotas: { devices: before + 1 } })).status, 200);
    assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'qd1', product: 'sensor' })).status, 201);
    const refused = await tp.api<ApiError>('POST', '/api/v1/devices', { id: 'qd2', product: 'sensor' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'IIP_ERR_QUOTA_DEVICES');
    assert.deepEqual({ ...refused.body.details }, { tenant: 'default', limit: before + 1, usage: before + 1, adding: 1, quota: 'devices' });
    assert.equal((await tp.api('GET', '/api/v1/devices/qd2')).status, 404);
    assert.equal((await tp.api<UsageReply>('GET', '/api/v1/tenant/usage')).body.usage.devices, before + 1);
    assert.equal((await setPolicy(UNLIMITED)).status, 200);
    assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'qd2', product: 'sensor' })).status, 201, 'unlimited again');
  });

  test('points per day: HTTP ingest past the quota gets 429 IIP_ERR_QUOTA_POINTS_PER_DAY; MQTT 5 gets PUBACK 0x97 and the code; nothing of them is stored', async () => {
    const today = (await tp.api<UsageReply>('GET', '/api/v1/tenant/usage')).body.usage.pointsToday;
    assert.equal((await setPolicy({ quotas: { pointsPerDay: today + 3 } })).status, 200);
    const now = Date.now();
    const ok = await ingest('q1', [{ ts: now - 3000, values: { temperature: 1, count: 1 } }]);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    // Two more points would make today + 4: refused as a whole.
    const refused = await ingest('q1', [{ ts: now - 2000, values: { temperature: 2, count: 2 } }]);
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'IIP_ERR_QUOTA_POINTS_PER_DAY');
    assert.deepEqual({ ...refused.body.details }, { tenant: 'default', limit: today + 3, usage: today + 2, points: 2, quota: 'pointsPerDay' });
    assert.deepEqual((await history('q1', 'temperature')).map((p) => p.value), [1], 'nothing of the refused message is stored');
    assert.equal((await tp.api<UsageReply>('GET', '/api/v1/tenant/usage')).body.usage.pointsToday, today + 2);

    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { protocolVersion: 5, clientId: 'default/q2', username: 'default/q2', password: secrets.q2, reconnectPeriod: 0 });
    try {
      const errors: ApiError[] = [];
      c.on('message', (_t, p) => errors.push(JSON.parse(p.toString()) as ApiError));
      await c.subscribeAsync('iip/default/q2/errors', { qos: 0 });
      const pubRefused = await c.publishAsync('iip/default/q2/telemetry', JSON.stringify({ ts: now - 1000, values: { temperature: 3, count: 3 } }), { qos: 1 }).then(
        () => undefined,
        (e: Error & { code?: number }) => e,
      );
      assert.ok(pubRefused, 'the PUBACK refused the reading');
      assert.equal(pubRefused.code, 0x97, String(pubRefused));
      const err = await waitFor(() => errors[0], 'the errors topic');
      assert.equal(err.code, 'IIP_ERR_QUOTA_POINTS_PER_DAY');
      assert.equal(err.details.limit, today + 3);
      // One point still fits.
      await c.publishAsync('iip/default/q2/telemetry', JSON.stringify({ ts: now - 500, values: { temperature: 4 } }), { qos: 1 });
    } finally {
      await c.endAsync();
    }
    assert.deepEqual((await history('q2', 'temperature')).map((p) => p.value), [4]);
    assert.deepEqual(await history('q2', 'count'), []);
    assert.equal((await setPolicy(UNLIMITED)).status, 200);
    assert.equal((await ingest('q1', [{ ts: now - 100, values: { temperature: 5 } }])).status, 202, 'unlimited again');
  });

  test('stored bytes: once usage reaches the quota, HTTP gets 403 IIP_ERR_QUOTA_STORED_BYTES and MQTT 0x97; nothing is stored', async () => {
    const usage = (await tp.api<UsageReply>('GET', '/api/v1/tenant/usage')).body.usage;
    assert.ok(usage.storedBytes > 0);
    assert.equal((await setPolicy({ quotas: { storedBytes: usage.storedBytes } })).status, 200);
    const before = await history('q1', 'temperature');
    const refused = await ingest('q1', { ts: Date.now() - 50, values: { temperature: 6 } });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'IIP_ERR_QUOTA_STORED_BYTES');
    assert.equal(refused.body.details.limit, usage.storedBytes);
    assert.equal(refused.body.details.tenant, 'default');
    assert.ok((refused.body.details.usage as number) >= usage.storedBytes);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { protocolVersion: 5, clientId: 'default/q2', username: 'default/q2', password: secrets.q2, reconnectPeriod: 0 });
    try {
      const e = await c.publishAsync('iip/default/q2/telemetry', JSON.stringify({ values: { temperature: 7 } }), { qos: 1 }).then(
        () => undefined,
        (x: Error & { code?: number }) => x,
      );
      assert.equal(e?.code, 0x97);
    } finally {
      await c.endAsync();
    }
    assert.deepEqual(await history('q1', 'temperature'), before);
    assert.deepEqual((await history('q2', 'temperature')).map((p) => p.value), [4]);
    assert.equal((await setPolicy(UNLIMITED)).status, 200);
  });
});

describe('retention', () => {
  test('old raw points go at the next run, recent ones stay; usage shows the last run', async () => {
    secrets.r1 = await tp.createDevice('r1');
    const now = Date.now();
    const old = [40, 35].map((d) => ({ ts: now - d * DAY, values: { temperature: d } }));
    const recent = [{ ts: now - 2 * DAY, values: { temperature: 2 } }, { ts: now - 60_000, values: { temperature: 0 } }];
    assert.equal((await ingest('r1', [...old, ...recent])).status, 202);
    assert.equal((await setPolicy({ retention: { rawDays: 30 } })).status, 200);
    const report = await tp.platform.tenants.retention.runOnce();
    assert.equal(report.tenants.find((t) => t.tenant === 'default')?.rawDeleted, 2);
    assert.deepEqual((await history('r1', 'temperature')).map((p) => p.value), [2, 0]);
    const u = (await tp.api<UsageReply>('GET', '/api/v1/tenant/usage')).body;
    assert.equal(u.retention.lastRun?.rawDeleted, 2);
    assert.ok(u.retention.lastRun?.rawCutoff && u.retention.lastRun.rawCutoff <= now - 30 * DAY + 60_000);
    assert.deepEqual(u.rollupLevels, [60_000, 3_600_000, 86_400_000]);
    const status = await tp.api<{ retention: { runs: number } }>('GET', '/api/v1/status');
    assert.ok(status.body.retention.runs >= 1);
    assert.equal((await setPolicy(UNLIMITED)).status, 200);
  });
});
