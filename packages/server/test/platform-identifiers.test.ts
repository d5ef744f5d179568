/**
 * Identifiers tied to the platform: a device given a handle resolves — anonymously, through the Handle
 * REST API — to its static metadata and a link to its live state, which works with a signed-in token.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPlatform, type Platform } from '@iip/server';
import { tempDir } from '@iip/testkit';

let platform: Platform;
let dir: { path: string; cleanup(): Promise<void> };
let token = '';

async function call<T>(method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; body: T }> {
  const res = await fetch(platform.httpUrl + path, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

before(async () => {
  dir = await tempDir('iip-ids-');
  platform = await startPlatform({ dataDir: dir.path, httpPort: 0, mqttPort: 0, adminPassword: 'identifiers-password', consoleDir: '/nonexistent', identifiers: { prefix: '88.118.8' } });
  token = (await call<{ token: string }>('POST', '/api/v1/auth/login', { username: 'admin', password: 'identifiers-password' }, false)).body.token;
  await call('POST', '/api/v1/products', {
    id: 'pump',
    name: '离心泵 Centrifugal pump',
    category: 'pump',
    model: { properties: [{ id: 'flow', name: 'Flow', dataType: { type: 'float', unit: 'm³/h' }, access: 'r' }], events: [], services: [] },
  });
  await call('POST', '/api/v1/devices', { id: 'PUMP-0001', name: '1号泵', product: 'pump' });
});
after(async () => {
  await platform?.close();
  await dir?.cleanup();
});

test('a device identifier resolves to its metadata and a link to its live state', async () => {
  const b = await call<{ handle: string }>('POST', '/api/v1/devices/PUMP-0001/identifier');
  assert.equal(b.status, 201, JSON.stringify(b.body));
  assert.equal(b.body.handle, '88.118.8/PUMP-0001');
  const r = await call<{ responseCode: number; values: Array<{ type: string; data: { value: string } }> }>('GET', '/api/handles/88.118.8/pump-0001', undefined, false);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.responseCode, 1);
  const url = r.body.values.find((v) => v.type === 'URL')?.data.value as string;
  assert.match(url, /\/api\/v1\/devices\/PUMP-0001\/latest$/);
  const meta = JSON.parse(r.body.values.find((v) => v.type === 'IIP_DEVICE')?.data.value as string) as { name: string; product: { id: string }; properties: Array<{ id: string; unit: string }> };
  assert.equal(meta.name, '1号泵');
  assert.equal(meta.product.id, 'pump');
  assert.deepEqual(meta.properties.map((p) => [p.id, p.unit]), [['flow', 'm³/h']]);
  // The link leads to the live state for a signed-in user.
  const live = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(live.status, 200);
  assert.equal(((await live.json()) as { device: string }).device, 'PUMP-0001');
});

test('a product identifier carries its thing-model summary; unknown devices are 404', async () => {
  const b = await call<{ handle: string }>('POST', '/api/v1/products/pump/identifier');
  assert.equal(b.body.handle, '88.118.8/product.pump');
  const r = await call<{ values: Array<{ type: string; data: { value: string } }> }>('GET', '/api/handles/88.118.8/product.pump', undefined, false);
  const meta = JSON.parse(r.body.values.find((v) => v.type === 'IIP_PRODUCT')?.data.value as string) as { properties: string[] };
  assert.deepEqual(meta.properties, ['flow']);
  assert.equal((await call('POST', '/api/v1/devices/NOPE/identifier')).status, 404);
  assert.equal((await call('GET', '/api/handles/88.118.8/NOPE', undefined, false)).status, 404);
});

test('only the node admin may write handles over the Handle REST API', async () => {
  const r = await fetch(`${platform.httpUrl}/api/handles/88.118.8/FORGED`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ values: [{ index: 1, type: 'URL', data: { format: 'string', value: 'https://evil.example' } }] }),
  });
  assert.ok(r.status === 401 || r.status === 403, `status ${r.status}`);
});
