/**
 * The REST API end to end over real HTTP: sign-in, tenant-scoped products and devices, CSV import,
 * HTTP ingest with device credentials and its bad-input codes, history/trend queries, the live WebSocket,
 * and a clear error when a port is taken.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPlatform } from '@iip/server';
import { tempDir, waitFor } from '@iip/testkit';
import WebSocket from 'ws';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
before(async () => {
  tp = await startTestPlatform({ limits: { maxPayloadBytes: 4096 } });
});
after(async () => {
  await tp?.close();
});

function basic(user: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` };
}

describe('system and sign-in', () => {
  test('GET /api/v1/health needs no sign-in', async () => {
    const r = await tp.anon('GET', '/api/v1/health');
    assert.deepEqual(r, { status: 200, body: { status: 'ok' } });
  });
  test('the API refuses requests without a token', async () => {
    const r = await tp.anon<{ code: string }>('GET', '/api/v1/devices');
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'IIP_ERR_AUTH_REQUIRED');
    const forged = await tp.anon<{ code: string }>('GET', '/api/v1/devices', undefined, { authorization: 'Bearer forged' });
    assert.equal(forged.body.code, 'IIP_ERR_AUTH_REQUIRED');
  });
  test('a wrong password is refused with IIP_ERR_AUTH_LOGIN_FAILED', async () => {
    const r = await tp.anon<{ code: string }>('POST', '/api/v1/auth/login', { username: 'admin', password: 'nope-nope-nope' });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'IIP_ERR_AUTH_LOGIN_FAILED');
  });
  test('logout revokes the token', async () => {
    const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'admin', password: 'correct-horse-battery-staple' });
    const h = { authorization: `Bearer ${login.body.token}` };
    assert.equal((await tp.anon('GET', '/api/v1/auth/me', undefined, h)).status, 200);
    assert.equal((await tp.anon('POST', '/api/v1/auth/logout', undefined, h)).status, 204);
    assert.equal((await tp.anon('GET', '/api/v1/auth/me', undefined, h)).status, 401);
  });
  test('OpenAPI is served at /docs', async () => {
    const r = await tp.anon<{ openapi: string; paths: Record<string, unknown> }>('GET', '/docs/json');
    assert.equal(r.status, 200);
    assert.match(r.body.openapi, /^3\./);
    assert.ok(r.body.paths['/api/v1/devices/{id}/properties/{prop}/trend']);
  });
  test('an unknown route answers IIP_ERR_NOT_FOUND', async () => {
    const r = await tp.api<{ code: string }>('GET', '/api/v1/nothing-here');
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'IIP_ERR_NOT_FOUND');
  });
});

describe('products and devices', () => {
  test('an invalid thing model is refused with the path of the problem', async () => {
    const r = await tp.api<{ code: string; details: { path: string } }>('POST', '/api/v1/products', {
      id: 'broken',
      model: { properties: [{ id: 't', dataType: { type: 'float', min: 10, max: 1 }, access: 'r' }], events: [], services: [] },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'IIP_ERR_MODEL_INVALID');
    assert.equal(r.body.details.path, 'properties[0].dataType');
  });
  test('a duplicate product id is a conflict', async () => {
    const r = await tp.api<{ code: string }>('POST', '/api/v1/products', { id: 'sensor', model: { properties: [], events: [], services: [] } });
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'IIP_ERR_CONFLICT');
  });
  test('a product exports as TSL and WoT TD', async () => {
    const tsl = await tp.api<{ properties: unknown[] }>('GET', '/api/v1/products/sensor/model?format=tsl');
    assert.equal(tsl.status, 200);
    assert.equal(tsl.body.properties.length, 5);
    const td = await tp.api<{ '@context': unknown; properties: Record<string, unknown> }>('GET', '/api/v1/products/sensor/model?format=wot');
    assert.equal(td.status, 200);
    assert.ok(td.body.properties.temperature);
  });
  test('create, get, list and delete a device; the secret is returned once and never again', async () => {
    const c = await tp.api<{ device: { id: string }; secret: string }>('POST', '/api/v1/devices', { id: 'pump-1', name: '泵 1', product: 'sensor' });
    assert.equal(c.status, 201);
    assert.ok(c.body.secret.length >= 32);
    const g = await tp.api<Record<string, unknown>>('GET', '/api/v1/devices/pump-1');
    assert.equal(g.body.name, '泵 1');
    assert.equal('secretHash' in g.body, false);
    assert.equal(JSON.stringify(g.body).includes(c.body.secret), false);
    const l = await tp.api<{ items: Array<{ id: string }>; total: number }>('GET', '/api/v1/devices?product=sensor');
    assert.ok(l.body.items.some((d) => d.id === 'pump-1'));
    assert.equal((await tp.api('DELETE', '/api/v1/devices/pump-1')).status, 204);
    assert.equal((await tp.api('GET', '/api/v1/devices/pump-1')).status, 404);
  });
  test('a device of an unknown product is refused', async () => {
    const r = await tp.api<{ code: string }>('POST', '/api/v1/devices', { id: 'x1', product: 'no-such-product' });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'IIP_ERR_NOT_FOUND');
  });
  test('bulk CSV import creates every row, with attributes and a secret each', async () => {
    const csv = 'id,name,product,line\r\nm-1,"Mill, left",sensor,A\r\nm-2,Mill right,sensor,B\r\n';
    const r = await tp.api<{ created: number; devices: Array<{ device: { id: string; attributes: Record<string, string> }; secret: string }> }>(
      'POST',
      '/api/v1/devices/import',
      csv,
      { 'content-type': 'text/csv' },
    );
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.created, 2);
    assert.deepEqual(r.body.devices[0]?.device.attributes, { line: 'A' });
    const g = await tp.api<{ name: string }>('GET', '/api/v1/devices/m-1');
    assert.equal(g.body.name, 'Mill, left');
  });
  test('a CSV with one bad row creates nothing and names the line', async () => {
    const csv = 'id,name,product\nok-1,,sensor\nbad id!,,sensor\n';
    const r = await tp.api<{ code: string; message: string }>('POST', '/api/v1/devices/import', csv, { 'content-type': 'text/csv' });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'IIP_ERR_VALIDATION');
    assert.match(r.body.message, /line 3/);
    assert.equal((await tp.api('GET', '/api/v1/devices/ok-1')).status, 404);
  });
});

describe('HTTP ingest and queries', () => {
  let secret = '';
  before(async () => {
    secret = await tp.createDevice('http-1');
  });

  test('a device posts a batch with its credential; latest, history and trend return it', async () => {
    const t0 = Date.now() - 10 * 60_000;
    const batch = Array.from({ length: 10 }, (_, i) => ({ ts: t0 + i * 60_000, values: { temperature: 20 + i, running: i % 2 === 0 } }));
    const r = await tp.anon<{ accepted: number }>('POST', '/api/v1/ingest', JSON.stringify(batch), { ...basic('default/http-1', secret), 'content-type': 'application/json' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.accepted, 20);
    const latest = await waitFor(async () => {
      const l = await tp.api<{ values: Record<string, { ts: number; value: unknown }> }>('GET', '/api/v1/devices/http-1/latest');
      return l.body.values.temperature ? l.body.values : undefined;
    }, 'latest values');
    assert.deepEqual(latest.temperature, { ts: t0 + 9 * 60_000, value: 29 });
    assert.deepEqual(latest.running, { ts: t0 + 9 * 60_000, value: false });
    const h = await tp.api<{ points: Array<{ value: number }> }>('GET', `/api/v1/devices/http-1/properties/temperature/history?from=${t0}&to=${t0 + 600_000}`);
    assert.deepEqual(h.body.points.map((p) => p.value), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    const tr = await tp.api<{ buckets: Array<{ min: number; max: number; avg: number; count: number }> }>(
      'GET',
      `/api/v1/devices/http-1/properties/temperature/trend?from=${t0}&to=${t0 + 600_000}&buckets=2`,
    );
    assert.equal(tr.body.buckets.length, 2);
    assert.equal(tr.body.buckets.reduce((n, b) => n + b.count, 0), 10);
    assert.equal(Math.min(...tr.body.buckets.map((b) => b.min)), 20);
    assert.equal(Math.max(...tr.body.buckets.map((b) => b.max)), 29);
  });

  const cases: Array<[string, () => Record<string, string>, string | Buffer, number, string]> = [
    ['unknown device', () => basic('default/ghost', 'x'), '{"temperature":1}', 401, 'IIP_ERR_DEVICE_UNKNOWN'],
    ['bad credential', () => basic('default/http-1', 'wrong'), '{"temperature":1}', 401, 'IIP_ERR_DEVICE_AUTH_FAILED'],
    ['no credential', () => ({}), '{"temperature":1}', 401, 'IIP_ERR_DEVICE_AUTH_FAILED'],
    ['non-JSON', () => basic('default/http-1', secret), 'temperature: 1', 400, 'IIP_ERR_PAYLOAD_NOT_JSON'],
    ['oversize payload', () => basic('default/http-1', secret), JSON.stringify({ note: 'y'.repeat(10_000) }), 413, 'IIP_ERR_PAYLOAD_TOO_LARGE'],
    ['far-future timestamp', () => basic('default/http-1', secret), JSON.stringify({ ts: Date.now() + 7 * 86_400_000, values: { temperature: 1 } }), 422, 'IIP_ERR_TELEMETRY_TS_FUTURE'],
    ['string too long', () => basic('default/http-1', secret), JSON.stringify({ note: 'z'.repeat(17) }), 422, 'IIP_ERR_TELEMETRY_STRING_TOO_LONG'],
  ];
  for (const [what, auth, body, status, code] of cases) {
    test(`${what} → ${status} ${code}, nothing stored`, async () => {
      const before = await tp.api('GET', '/api/v1/devices/http-1/latest');
      const r = await tp.anon<{ code: string; message: string }>('POST', '/api/v1/ingest', body, { ...auth(), 'content-type': 'application/json' });
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.code, code);
      assert.ok(r.body.message.length > 0);
      await tp.platform.historian.flush();
      assert.deepEqual(await tp.api('GET', '/api/v1/devices/http-1/latest'), before);
    });
  }

  test('a trend query with from after to is a validation error', async () => {
    const r = await tp.api<{ code: string }>('GET', '/api/v1/devices/http-1/properties/temperature/trend?from=2000&to=1000');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'IIP_ERR_VALIDATION');
  });
});

describe('live stream', () => {
  const streamUrl = () => `${tp.platform.httpUrl.replace('http', 'ws')}/api/v1/stream`;
  type Frame = { type: string; device?: string; code?: string; points?: Array<{ property: string; value: unknown }> };
  async function open(): Promise<{ ws: WebSocket; frames: Frame[]; closed: Promise<number> }> {
    const ws = new WebSocket(streamUrl());
    const frames: Frame[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { ws, frames, closed };
  }

  test('a WebSocket that authenticates in its first frame receives stored telemetry of its tenant', async () => {
    const secret = await tp.createDevice('live-1');
    const { ws, frames } = await open();
    ws.send(JSON.stringify({ type: 'auth', token: tp.token }));
    ws.send(JSON.stringify({ type: 'subscribe', devices: ['live-1'] }));
    await waitFor(() => frames.some((f) => f.type === 'hello'), 'hello frame');
    const r = await tp.anon('POST', '/api/v1/ingest', '{"temperature": 42.5}', basic('live-1', secret));
    assert.equal(r.status, 202);
    const f = await waitFor(() => frames.find((x) => x.type === 'telemetry'), 'telemetry frame');
    assert.equal(f.device, 'live-1');
    assert.deepEqual(f.points?.map((p) => [p.property, p.value]), [['temperature', 42.5]]);
    ws.close();
  });
  test('a WebSocket whose first frame is not an auth frame is closed (4401, IIP_ERR_AUTH_REQUIRED); a token in the URL counts for nothing', async () => {
    const ws = new WebSocket(`${streamUrl()}?token=${tp.token}`);
    const frames: Frame[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'subscribe', devices: null }));
    assert.equal(await closed, 4401);
    assert.deepEqual(frames.map((f) => [f.type, f.code]), [['error', 'IIP_ERR_AUTH_REQUIRED']]);
  });
  test('a WebSocket with an unknown token is closed (4401) without a hello', async () => {
    const { ws, frames, closed } = await open();
    ws.send(JSON.stringify({ type: 'auth', token: 'not-a-token' }));
    assert.equal(await closed, 4401);
    assert.deepEqual(frames.map((f) => [f.type, f.code]), [['error', 'IIP_ERR_AUTH_REQUIRED']]);
  });
});

describe('ports', () => {
  test('an HTTP port already in use gives IIP_ERR_PORT_IN_USE naming the flag and env var', async () => {
    const dir = await tempDir();
    try {
      await assert.rejects(
        startPlatform({ dataDir: dir.path, httpPort: tp.platform.httpPort, mqttPort: 0, adminPassword: 'another-long-password' }),
        (e: Error & { code?: string }) => e.code === 'IIP_ERR_PORT_IN_USE' && /--port/.test(e.message) && /IIP_HTTP_PORT/.test(e.message),
      );
    } finally {
      await dir.cleanup();
    }
  });
  test('an MQTT port already in use names --mqtt-port and IIP_MQTT_PORT', async () => {
    const dir = await tempDir();
    try {
      await assert.rejects(
        startPlatform({ dataDir: dir.path, httpPort: 0, mqttPort: tp.platform.mqttPort, adminPassword: 'another-long-password' }),
        (e: Error & { code?: string }) => e.code === 'IIP_ERR_PORT_IN_USE' && /--mqtt-port/.test(e.message) && /IIP_MQTT_PORT/.test(e.message),
      );
    } finally {
      await dir.cleanup();
    }
  });
});
