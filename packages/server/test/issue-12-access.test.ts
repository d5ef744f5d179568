/**
 * Issue 12 through the real HTTP API: the asset tree, grants on a tenant or a subtree, custom roles, deny by
 * default, another tenant's things, the platform administrator's tenant switch, and the live stream filtered by
 * what the user may read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { startTestPlatform, type TestPlatform } from './fixture.js';

let tp: TestPlatform;
/** Users here share one password that passes the policy (not containing any of their names). */
const USER_PASSWORD = 'harbour-lamp-kettle-7';
type ApiError = { code: string; message: string; details: Record<string, unknown> };

before(async () => {
  tp = await startTestPlatform();
  // plant › hall-1 › line-1, plant › hall-2
  for (const a of [
    { id: 'plant', level: 'site', name: 'Plant', nameZh: '工厂' },
    { id: 'hall-1', parent: 'plant', level: 'area', name: 'Hall 1', nameZh: '一车间' },
    { id: 'line-1', parent: 'hall-1', level: 'line', name: 'Line 1' },
    { id: 'hall-2', parent: 'plant', level: 'area', name: 'Hall 2' },
  ]) {
    const r = await tp.api<ApiError>('POST', '/api/v1/assets', a);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  for (const [id, asset] of [
    ['m-11', 'line-1'],
    ['m-21', 'hall-2'],
    ['m-off', null],
  ] as const) {
    const r = await tp.api<ApiError>('POST', '/api/v1/devices', { id, product: 'sensor', asset });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});
after(() => tp?.close());

async function userWith(username: string, grants: Array<{ role: string; asset?: string | null }>): Promise<(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: ApiError & Record<string, unknown> }>> {
  const created = await tp.api<ApiError>('POST', '/api/v1/users', { username, password: USER_PASSWORD, grants });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username, password: USER_PASSWORD });
  assert.equal(login.status, 200);
  return (method, path, body, headers = {}) => tp.anon(method, path, body, { authorization: `Bearer ${login.body.token}`, ...headers });
}

describe('asset tree', () => {
  test('a move below its own subtree is refused (IIP_ERR_ASSET_CYCLE), a bad level names the field, a non-empty asset stays', async () => {
    const cycle = await tp.api<ApiError>('PATCH', '/api/v1/assets/hall-1', { parent: 'line-1' });
    assert.equal(cycle.status, 409);
    assert.equal(cycle.body.code, 'IIP_ERR_ASSET_CYCLE');
    const level = await tp.api<ApiError>('POST', '/api/v1/assets', { id: 'x', parent: 'line-1', level: 'area', name: 'X' });
    assert.equal(level.status, 400);
    assert.equal(level.body.code, 'IIP_ERR_ASSET_LEVEL');
    const unknownLevel = await tp.api<ApiError>('POST', '/api/v1/assets', { id: 'x', level: 'building', name: 'X' });
    assert.equal(unknownLevel.body.code, 'IIP_ERR_VALIDATION');
    assert.equal(unknownLevel.body.details.field, 'level');
    const notEmpty = await tp.api<ApiError>('DELETE', '/api/v1/assets/line-1');
    assert.equal(notEmpty.status, 409);
    assert.equal(notEmpty.body.code, 'IIP_ERR_ASSET_NOT_EMPTY');
    const tree = await tp.api<{ items: Array<{ id: string; parent: string | null }> }>('GET', '/api/v1/assets');
    assert.deepEqual(Object.fromEntries(tree.body.items.map((a) => [a.id, a.parent])), { plant: null, 'hall-1': 'plant', 'line-1': 'hall-1', 'hall-2': 'plant' });
    const device = await tp.api<{ asset: string }>('GET', '/api/v1/devices/m-11');
    assert.equal(device.body.asset, 'line-1');
  });
});

describe('grants', () => {
  test('deny by default: a user without grants signs in and sees nothing', async () => {
    const as = await userWith('nobody1', []);
    assert.deepEqual((await as('GET', '/api/v1/devices')).body.items, []);
    const product = await as('GET', '/api/v1/products');
    assert.equal(product.status, 403);
    assert.equal(product.body.code, 'IIP_ERR_AUTH_FORBIDDEN');
    assert.equal(product.body.details.permission, 'products:read');
    assert.equal((await as('GET', '/api/v1/devices/m-11')).status, 404, 'a device it may not read is not disclosed');
  });

  test('an operator of hall-1 sees and commands only what is below hall-1', async () => {
    const as = await userWith('op-hall1', [{ role: 'operator', asset: 'hall-1' }]);
    const list = await as('GET', '/api/v1/devices');
    assert.deepEqual((list.body.items as Array<{ id: string }>).map((d) => d.id), ['m-11']);
    assert.equal(list.body.total, 1);
    assert.equal((await as('GET', '/api/v1/devices/m-11')).status, 200);
    assert.equal((await as('GET', '/api/v1/devices/m-21')).status, 404);
    assert.equal((await as('GET', '/api/v1/devices/m-off')).status, 404, 'a device off the tree needs a tenant-wide grant');
    // May write properties below hall-1 (the write then fails for want of a gateway, not of permission) …
    const write = await as('POST', '/api/v1/devices/m-11/properties/note/write', { value: 'hi' });
    assert.notEqual(write.status, 403, JSON.stringify(write.body));
    assert.notEqual(write.body.code, 'IIP_ERR_AUTH_FORBIDDEN');
    // … but not delete devices, nor touch products (tenant-scoped).
    const del = await as('DELETE', '/api/v1/devices/m-11');
    assert.equal(del.status, 403);
    assert.deepEqual({ permission: del.body.details.permission, asset: del.body.details.asset }, { permission: 'devices:write', asset: 'line-1' });
    assert.equal((await as('GET', '/api/v1/products')).status, 403);
    const me = await as('GET', '/api/v1/auth/me');
    assert.deepEqual((me.body as unknown as { access: { tenantWide: string[]; assets: Record<string, string[]> } }).access.tenantWide, []);
    assert.ok((me.body as unknown as { access: { assets: Record<string, string[]> } }).access.assets['hall-1']?.includes('devices:write-property'));
  });

  test('a custom role of chosen permissions; unknown permissions and reserved ids are refused', async () => {
    const unknown = await tp.api<ApiError>('POST', '/api/v1/roles', { id: 'shift-lead', name: 'Shift lead', permissions: ['devices:read', 'devices:fly'] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 'IIP_ERR_ACCESS_UNKNOWN_PERMISSION');
    assert.equal(unknown.body.details.permission, 'devices:fly');
    const platform = await tp.api<ApiError>('POST', '/api/v1/roles', { id: 'shift-lead', name: 'Shift lead', permissions: ['tenants:manage'] });
    assert.equal(platform.body.code, 'IIP_ERR_ACCESS_UNKNOWN_PERMISSION');
    const reserved = await tp.api<ApiError>('POST', '/api/v1/roles', { id: 'viewer', name: 'Mine', permissions: [] });
    assert.equal(reserved.body.code, 'IIP_ERR_ACCESS_RESERVED_ROLE');
    assert.equal((await tp.api('POST', '/api/v1/roles', { id: 'shift-lead', name: 'Shift lead', permissions: ['devices:read', 'products:read'] })).status, 201);
    const as = await userWith('lead1', [{ role: 'shift-lead' }]);
    assert.equal((await as('GET', '/api/v1/products')).status, 200);
    assert.deepEqual(((await as('GET', '/api/v1/devices')).body.items as Array<{ id: string }>).map((d) => d.id).sort(), ['m-11', 'm-21', 'm-off']);
    assert.equal((await as('DELETE', '/api/v1/devices/m-21')).status, 403);
    const inUse = await tp.api<ApiError>('DELETE', '/api/v1/roles/shift-lead');
    assert.equal(inUse.status, 409, 'a role in use stays');
    const unknownRole = await tp.api<ApiError>('POST', '/api/v1/users', { username: 'ghost1', password: USER_PASSWORD, grants: [{ role: 'no-such-role' }] });
    assert.equal(unknownRole.body.code, 'IIP_ERR_ACCESS_UNKNOWN_ROLE');
  });

  test('a tenant administrator manages its users but cannot make anyone a platform administrator', async () => {
    const as = await userWith('tadmin1', [{ role: 'tenant-admin' }]);
    const created = await as('POST', '/api/v1/users', { username: 'eng1', password: USER_PASSWORD, grants: [{ role: 'engineer', asset: 'hall-2' }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const escalate = await as('POST', `/api/v1/users/${created.body.id as string}/grants`, { role: 'platform-admin' });
    assert.equal(escalate.status, 403);
    assert.equal(escalate.body.code, 'IIP_ERR_AUTH_FORBIDDEN');
    assert.equal((await as('GET', '/api/v1/tenants')).status, 403);
  });
});

describe('users and sign-in', () => {
  test('weak passwords are refused naming the rule; disable, reset and sign-out-everywhere work over the API', async () => {
    const weak = await tp.api<ApiError>('POST', '/api/v1/users', { username: 'weak1', password: 'Password2024!' });
    assert.equal(weak.status, 400);
    assert.deepEqual([weak.body.code, weak.body.details.rule], ['IIP_ERR_AUTH_WEAK_PASSWORD', 'common']);
    const as = await userWith('worker1', [{ role: 'viewer' }]);
    const list = await tp.api<{ items: Array<{ id: string; username: string; disabled: boolean }> }>('GET', '/api/v1/users');
    const id = list.body.items.find((u) => u.username === 'worker1')?.id as string;
    assert.equal((await tp.api('POST', `/api/v1/users/${id}/disable`)).status, 200);
    assert.equal((await as('GET', '/api/v1/auth/me')).status, 401, 'a disabled user is signed out');
    assert.equal((await tp.anon<ApiError>('POST', '/api/v1/auth/login', { username: 'worker1', password: USER_PASSWORD })).body.code, 'IIP_ERR_AUTH_USER_DISABLED');
    assert.equal((await tp.api('POST', `/api/v1/users/${id}/enable`)).status, 200);
    const reset = await tp.api<{ password: string }>('POST', `/api/v1/users/${id}/password`, {});
    assert.ok(reset.body.password?.length >= 20, `a generated password is returned once: ${JSON.stringify(reset)}`);
    const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'worker1', password: reset.body.password });
    assert.equal(login.status, 200);
    const auth = { authorization: `Bearer ${login.body.token}` };
    assert.equal((await tp.anon('POST', '/api/v1/auth/password', { currentPassword: reset.body.password, newPassword: 'quiet-river-stone-42' }, auth)).status, 204);
    assert.equal((await tp.anon<{ ended: number }>('POST', '/api/v1/auth/logout-all', undefined, auth)).body.ended, 1);
    assert.equal((await tp.anon('GET', '/api/v1/auth/me', undefined, auth)).status, 401);
    // A tenant administrator cannot disable the platform administrator
    const tadmin = await userWith('tadmin2', [{ role: 'tenant-admin' }]);
    const me = await tp.api<{ id: string }>('GET', '/api/v1/auth/me');
    assert.equal((await tadmin('POST', `/api/v1/users/${me.body.id}/disable`)).status, 403);
  });
});

describe('tenants', () => {
  test('a refused first administrator (weak password, taken name) leaves no tenant behind', async () => {
    const weak = await tp.api<ApiError>('POST', '/api/v1/tenants', { id: 'half-made', name: 'Half', admin: { username: 'half-admin', password: 'short' } });
    assert.equal(weak.status, 400);
    assert.equal(weak.body.code, 'IIP_ERR_AUTH_WEAK_PASSWORD');
    const taken = await tp.api<ApiError>('POST', '/api/v1/tenants', { id: 'half-made', name: 'Half', admin: { username: 'admin', password: USER_PASSWORD } });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'IIP_ERR_CONFLICT');
    const list = await tp.api<{ items: Array<{ id: string }> }>('GET', '/api/v1/tenants');
    assert.ok(!list.body.items.some((t) => t.id === 'half-made'), 'no tenant without an administrator');
  });

  test("another tenant's things: invisible to its neighbours, reachable by the platform administrator through X-IIP-Tenant", async () => {
    const created = await tp.api<ApiError>('POST', '/api/v1/tenants', { id: 'tenant-b', name: 'Tenant B', admin: { username: 'b-admin', password: USER_PASSWORD } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const asB = await (async () => {
      const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'b-admin', password: USER_PASSWORD });
      return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => tp.anon<ApiError & Record<string, unknown>>(method, path, body, { authorization: `Bearer ${login.body.token}`, ...headers });
    })();
    assert.equal((await asB('POST', '/api/v1/assets', { id: 'b-site', level: 'site', name: 'B site' })).status, 201);
    const model = { properties: [{ id: 'temperature', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] };
    assert.equal((await asB('POST', '/api/v1/products', { id: 'sensor', name: 'Sensor', model })).status, 201);
    const bDev = await asB('POST', '/api/v1/devices', { id: 'b-dev', product: 'sensor', asset: 'b-site' });
    assert.equal(bDev.status, 201);
    const bSecret = bDev.body.secret as string;
    // B cannot reach A's devices, nor switch to A
    assert.equal((await asB('GET', '/api/v1/devices/m-11')).status, 404);
    assert.equal((await asB('GET', '/api/v1/devices', undefined, { 'x-iip-tenant': 'default' })).status, 403);
    // A grant in A on B's asset is refused, naming the field
    const me = await tp.api<{ id: string }>('GET', '/api/v1/auth/me');
    const cross = await tp.api<ApiError>('POST', `/api/v1/users/${me.body.id}/grants`, { role: 'viewer', asset: 'b-site' });
    assert.equal(cross.status, 404);
    assert.equal(cross.body.details.field, 'asset');
    // The platform administrator acts on B with the header
    const seen = await tp.api<{ items: Array<{ id: string }> }>('GET', '/api/v1/devices', undefined, { 'x-iip-tenant': 'tenant-b' });
    assert.deepEqual(seen.body.items.map((d) => d.id), ['b-dev']);
    assert.equal((await tp.api<ApiError>('GET', '/api/v1/devices', undefined, { 'x-iip-tenant': 'no-such' })).status, 404);
    // A device of B connected over MQTT 5 before the suspension
    const url = `mqtt://127.0.0.1:${tp.platform.mqttPort}`;
    const before = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'b-dev', username: 'tenant-b/b-dev', password: bSecret, reconnectPeriod: 0 });
    const ended = new Promise<number | undefined>((resolve) => before.once('disconnect', (p) => resolve(p.reasonCode)));
    // Suspended with a reason; the reason is required, and the platform's own tenant cannot be suspended
    assert.equal((await tp.api<ApiError>('PATCH', '/api/v1/tenants/tenant-b', { status: 'suspended' })).body.code, 'IIP_ERR_VALIDATION');
    assert.equal((await tp.api<ApiError>('PATCH', '/api/v1/tenants/default', { status: 'suspended', suspendedReason: 'x' })).body.code, 'IIP_ERR_VALIDATION');
    const suspended = await tp.api<{ status: string; suspendedReason: string }>('PATCH', '/api/v1/tenants/tenant-b', { status: 'suspended', suspendedReason: 'contract ended' });
    assert.deepEqual([suspended.body.status, suspended.body.suspendedReason], ['suspended', 'contract ended']);
    assert.equal(await ended, 0x87, 'the connected device is sent away (MQTT 5 DISCONNECT: not authorized)');
    await before.endAsync(true);
    // Its devices are refused at connect with the reason, and over HTTP
    const again = mqtt.connect(url, { protocolVersion: 5, clientId: 'b-dev', username: 'tenant-b/b-dev', password: bSecret, reconnectPeriod: 0 });
    const connack = await new Promise<{ reasonCode?: number; properties?: { reasonString?: string } }>((resolve) => {
      again.on('packetreceive', (p) => {
        if (p.cmd === 'connack') resolve(p as never);
      });
    });
    again.end(true);
    assert.equal(connack.reasonCode, 0x87);
    assert.match(connack.properties?.reasonString ?? '', /IIP_ERR_TENANT_SUSPENDED.*contract ended/);
    const basic = { authorization: `Basic ${Buffer.from(`tenant-b/b-dev:${bSecret}`).toString('base64')}` };
    const ingest = await tp.anon<ApiError>('POST', '/api/v1/ingest', '{"temperature": 1}', basic);
    assert.equal(ingest.status, 403);
    assert.equal(ingest.body.code, 'IIP_ERR_TENANT_SUSPENDED');
    // Its users are refused, with the reason; signing in again is refused too
    const refused = await asB('GET', '/api/v1/devices');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'IIP_ERR_TENANT_SUSPENDED');
    assert.equal(refused.body.details.reason, 'contract ended');
    assert.equal((await tp.anon<ApiError>('POST', '/api/v1/auth/login', { username: 'b-admin', password: USER_PASSWORD })).body.code, 'IIP_ERR_TENANT_SUSPENDED');
    // Nothing was deleted; re-activated, all works again
    assert.equal((await tp.api('GET', '/api/v1/devices/b-dev', undefined, { 'x-iip-tenant': 'tenant-b' })).status, 200, 'suspension deletes nothing');
    assert.equal((await tp.api('PATCH', '/api/v1/tenants/tenant-b', { status: 'active' })).status, 200);
    assert.equal((await asB('GET', '/api/v1/devices/b-dev')).status, 200);
    assert.equal((await tp.anon('POST', '/api/v1/ingest', '{"temperature": 2}', basic)).status, 202);
  });
});

describe('deleting a tenant', () => {
  test('refused while active (its devices may be online) and for the platform tenant; a suspended one goes with everything but the audit log', async () => {
    assert.equal((await tp.api('POST', '/api/v1/tenants', { id: 'tenant-c', name: 'Tenant C', admin: { username: 'c-admin', password: USER_PASSWORD } })).status, 201);
    const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'c-admin', password: USER_PASSWORD });
    const asC = (method: string, path: string, body?: unknown) => tp.anon<ApiError & Record<string, unknown>>(method, path, body, { authorization: `Bearer ${login.body.token}` });
    const model = { properties: [{ id: 'temperature', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] };
    assert.equal((await asC('POST', '/api/v1/products', { id: 'sensor', model })).status, 201);
    const dev = await asC('POST', '/api/v1/devices', { id: 'c-dev', product: 'sensor' });
    const secret = dev.body.secret as string;
    const url = `mqtt://127.0.0.1:${tp.platform.mqttPort}`;
    const online = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'c-dev', username: 'tenant-c/c-dev', password: secret, reconnectPeriod: 0 });
    await online.publishAsync('iip/tenant-c/c-dev/telemetry', '{"temperature": 5}', { qos: 1 });

    const active = await tp.api<ApiError>('DELETE', '/api/v1/tenants/tenant-c');
    assert.equal(active.status, 409);
    assert.deepEqual([active.body.code, active.body.details.field], ['IIP_ERR_TENANT_ACTIVE', 'status']);
    assert.equal((await tp.api<ApiError>('DELETE', '/api/v1/tenants/default')).body.code, 'IIP_ERR_VALIDATION');
    assert.equal((await asC('DELETE', '/api/v1/tenants/tenant-c')).status, 403, "a tenant's own admin cannot delete it");

    assert.equal((await tp.api('PATCH', '/api/v1/tenants/tenant-c', { status: 'suspended', suspendedReason: 'closing' })).status, 200);
    await waitFor(() => !online.connected, 'the device to be sent away');
    await online.endAsync(true);
    const deleted = await tp.api<{ deleted: boolean; devices: number }>('DELETE', '/api/v1/tenants/tenant-c');
    assert.deepEqual([deleted.status, deleted.body.deleted, deleted.body.devices], [200, true, 1]);
    const tenants = await tp.api<{ items: Array<{ id: string }> }>('GET', '/api/v1/tenants');
    assert.ok(!tenants.body.items.some((t) => t.id === 'tenant-c'));
    assert.equal((await tp.anon<ApiError>('POST', '/api/v1/auth/login', { username: 'c-admin', password: USER_PASSWORD })).body.code, 'IIP_ERR_AUTH_LOGIN_FAILED', 'its users are gone');
    const basic = { authorization: `Basic ${Buffer.from(`tenant-c/c-dev:${secret}`).toString('base64')}` };
    assert.equal((await tp.anon<ApiError>('POST', '/api/v1/ingest', '{"temperature": 6}', basic)).body.code, 'IIP_ERR_DEVICE_UNKNOWN', 'its devices are gone');
    assert.equal((await tp.api<ApiError>('DELETE', '/api/v1/tenants/tenant-c')).status, 404);
    // The audit log outlives the tenant.
    const events = await tp.api<{ items: Array<{ action: string; target: string; result: string }> }>('GET', '/api/v1/audit/events?action=DELETE%20%2Fapi%2Fv1%2Ftenants%2F%3Aid&limit=100');
    assert.ok(events.body.items.some((e) => e.target === 'id=tenant-c' && e.result === 'ok'));
  });
});

describe('live stream', () => {
  test('frames carry only the devices the user may read', async () => {
    const secrets = new Map<string, string>();
    for (const id of ['s-11', 's-21']) {
      const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id, product: 'sensor', asset: id === 's-11' ? 'line-1' : 'hall-2' });
      assert.equal(r.status, 201);
      secrets.set(id, r.body.secret);
    }
    await userWith('op-stream', [{ role: 'operator', asset: 'hall-1' }]);
    const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'op-stream', password: USER_PASSWORD });
    const ws = new WebSocket(`${tp.platform.httpUrl.replace('http', 'ws')}/api/v1/stream`);
    const frames: Array<{ type: string; device?: string }> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'auth', token: login.body.token }));
    await waitFor(() => frames.some((f) => f.type === 'hello'), 'hello');
    for (const [id, secret] of secrets) {
      const basic = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
      assert.equal((await tp.anon('POST', '/api/v1/ingest', '{"temperature": 20}', { authorization: basic })).status, 202);
    }
    await waitFor(() => frames.some((f) => f.device === 's-11'), 'the readable device');
    await new Promise((r) => setTimeout(r, 600)); // two more coalescing rounds: a frame of s-21 would be here by now
    assert.deepEqual([...new Set(frames.filter((f) => f.type === 'telemetry').map((f) => f.device))], ['s-11']);
    ws.close();
  });
});
