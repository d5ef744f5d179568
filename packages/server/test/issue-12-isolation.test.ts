/**
 * Tenant isolation, generated from the OpenAPI document: every /api/v1 route, called by every built-in role of
 * tenant A (and a custom role, and the platform administrator without a tenant switch) with the ids of tenant
 * B's things in its path and body. No response may carry a byte of B's data (B's names are marked), no route
 * aimed at one of B's things may succeed, and B's data must be exactly as before. The live stream is checked the
 * same way: no frame of B's device reaches A's sockets.
 *
 * A route added later is walked too (its path parameters need an entry in IDS below, or the test fails and
 * says which), so isolation cannot be forgotten for a new resource.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import { WebSocket } from 'ws';
import { startTestPlatform, type TestPlatform } from './fixture.js';

/** Marks every name of tenant B's things: any of it in a response to A is a leak. (The tenant's own record is
 * the platform's: its administrator lists tenants by design, so the tenant's name is not marked.) */
const MARK = 'Zq7-B-SECRET';
const PASSWORD = 'harbour-lamp-kettle-7';

let tp: TestPlatform;
const b = { userId: '', grantId: '', token: '', secret: '', serviceId: '', apiTokenId: '', alarmId: '', deliveryId: '' };

type Caller = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: unknown }>;

async function signIn(username: string): Promise<{ call: Caller; token: string }> {
  const login = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username, password: PASSWORD });
  assert.equal(login.status, 200, `sign in ${username}`);
  const token = login.body.token;
  return { token, call: (method, path, body, headers = {}) => tp.anon(method, path, body, { authorization: `Bearer ${token}`, ...headers }) };
}

/** B's state as B's administrator sees it, to compare before and after the walk. */
async function snapshotOfB(asB: Caller): Promise<string> {
  const paths = ['/api/v1/products', '/api/v1/devices', '/api/v1/assets', '/api/v1/roles', '/api/v1/users', `/api/v1/users/${b.serviceId}/api-tokens`, '/api/v1/rules', '/api/v1/alarms'];
  const parts = await Promise.all(paths.map((p) => asB('GET', p)));
  return JSON.stringify(parts.map((p) => p.body));
}

before(async () => {
  tp = await startTestPlatform();
  const created = await tp.api('POST', '/api/v1/tenants', { id: 'tenant-b', name: 'Tenant B', admin: { username: 'b-admin', password: PASSWORD } });
  assert.equal(created.status, 201);
  const asB = (await signIn('b-admin')).call;
  const model = { properties: [{ id: 'temperature', name: `Temp ${MARK}`, dataType: { type: 'float' }, access: 'rw' }], events: [], services: [{ id: 'reset', name: `Reset ${MARK}`, inputs: [], outputs: [] }] };
  for (const [path, body] of [
    ['/api/v1/products', { id: 'pb', name: `Product ${MARK}`, model }],
    ['/api/v1/assets', { id: 'ab', level: 'site', name: `Site ${MARK}` }],
    ['/api/v1/roles', { id: 'rb', name: `Role ${MARK}`, permissions: ['devices:read'] }],
  ] as const) {
    const r = await asB('POST', path, body);
    assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.body)}`);
  }
  const dev = await asB('POST', '/api/v1/devices', { id: 'db', name: `Device ${MARK}`, product: 'pb', asset: 'ab', attributes: { note: MARK } });
  assert.equal(dev.status, 201);
  b.secret = (dev.body as { secret: string }).secret;
  const user = await asB('POST', '/api/v1/users', { username: 'b-secret-user', password: PASSWORD, grants: [{ role: 'rb', asset: 'ab' }] });
  assert.equal(user.status, 201);
  b.userId = (user.body as { id: string }).id;
  b.grantId = (user.body as { grants: Array<{ id: string }> }).grants[0]?.id as string;
  const service = await asB('POST', '/api/v1/users', { username: 'b-service', kind: 'service', grants: [{ role: 'viewer' }] });
  assert.equal(service.status, 201, JSON.stringify(service.body));
  b.serviceId = (service.body as { id: string }).id;
  const apiToken = await asB('POST', `/api/v1/users/${b.serviceId}/api-tokens`, { name: `Token ${MARK}`, scopes: ['devices:read'], expiresInDays: 30 });
  assert.equal(apiToken.status, 201, JSON.stringify(apiToken.body));
  b.apiTokenId = (apiToken.body as { id: string }).id;
  // A rule of B that the reading below trips: B has a rule and an alarm for the walk to aim at.
  const rule = await asB('POST', '/api/v1/rules', { id: 'rb-rule', name: `Rule ${MARK}`, scope: { product: 'pb' }, when: { threshold: { property: 'temperature', op: '>', value: 20 } }, alarm: { message: `Alarm ${MARK}` }, actions: [{ type: 'publish', topic: 'probe' }] });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));
  const basic = `Basic ${Buffer.from(`tenant-b/db:${b.secret}`).toString('base64')}`;
  assert.equal((await tp.anon('POST', '/api/v1/ingest', '{"temperature": 21.5}', { authorization: basic })).status, 202);
  await waitFor(async () => ((await asB('GET', '/api/v1/alarms')).body as { items: unknown[] }).items.length === 1, "B's alarm");
  b.alarmId = ((await asB('GET', '/api/v1/alarms')).body as { items: Array<{ id: string }> }).items[0]?.id as string;
  // …and its action's delivery.
  b.deliveryId = await waitFor(async () => ((await asB('GET', '/api/v1/rule-actions')).body as { items: Array<{ id: string }> }).items[0]?.id, "B's rule-action delivery");

  // Tenant A: one user per built-in role (platform-admin is the fixture's admin) and one with a custom role.
  assert.equal((await tp.api('POST', '/api/v1/roles', { id: 'ra', name: 'A custom', permissions: ['devices:read', 'devices:write', 'assets:write', 'users:manage', 'audit:read'] })).status, 201);
  for (const role of ['tenant-admin', 'engineer', 'operator', 'viewer', 'auditor', 'ra']) {
    const r = await tp.api('POST', '/api/v1/users', { username: `a-${role}`, password: PASSWORD, grants: [{ role }] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});
after(() => tp?.close());

/** What to put for each path parameter: always one of B's things. */
function ids(path: string): Record<string, string> {
  const resource = path.split('/')[3];
  const id: Record<string, string> = {
    devices: 'db',
    gateways: 'db',
    products: 'pb',
    assets: 'ab',
    roles: 'rb',
    users: b.userId,
    tenants: 'tenant-b',
    runs: 'run-of-b',
    frameworks: 'no-such-framework',
    rules: 'rb-rule',
    alarms: b.alarmId,
    'rule-actions': b.deliveryId,
  };
  return { id: id[resource as string] ?? id[path.split('/')[4] as string] ?? '', prop: 'temperature', service: 'reset', grant: b.grantId, token: b.apiTokenId, channel: 'line-b' };
}

/** A body naming B's things wherever a field can name one. */
const BODY = {
  id: 'isolation-probe',
  name: 'probe',
  product: 'pb',
  asset: 'ab',
  parent: 'ab',
  level: 'area',
  role: 'rb',
  userId: 'b-secret-user',
  grants: [{ role: 'rb', asset: 'ab' }],
  permissions: ['devices:read'],
  value: 1,
  inputs: {},
  model: { properties: [], events: [], services: [] },
  username: 'probe-user-x',
  password: PASSWORD,
  currentPassword: PASSWORD,
  newPassword: 'quiet-river-stone-42',
  status: 'suspended',
  suspendedReason: 'probe',
  scopes: ['devices:read'],
  expiresInDays: 30,
  thumbprint: 'A1'.repeat(20),
};

describe('tenant isolation (generated from the OpenAPI document)', () => {
  test('no route, for any role of tenant A, reads, changes or reveals tenant B', async () => {
    const asB = (await signIn('b-admin')).call;
    const before = await snapshotOfB(asB);
    const doc = (await tp.anon<{ paths: Record<string, Record<string, unknown>> }>('GET', '/docs/json')).body;
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/') && !['/api/v1/health', '/api/v1/auth/login', '/api/v1/ingest', '/api/v1/stream', '/api/v1/auth/logout-all', '/api/v1/auth/logout', '/api/v1/auth/password'].includes(path))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })));
    assert.ok(routes.length >= 40, `the walk covers the API (${routes.length} routes)`);
    const callers: Array<{ who: string; call: Caller }> = [{ who: 'platform-admin (no tenant switch)', call: (m, p, body, h) => tp.api(m, p, body, h) }];
    for (const role of ['tenant-admin', 'engineer', 'operator', 'viewer', 'auditor', 'ra']) callers.push({ who: role, call: (await signIn(`a-${role}`)).call });

    let calls = 0;
    const problems: string[] = [];
    for (const { who, call } of callers) {
      for (const { method, path } of routes) {
        // Deleting tenants is the platform administrator's own job (and would delete B for the rest of the walk);
        // for every other caller it is walked like the rest.
        if (who.startsWith('platform-admin') && method === 'DELETE' && path === '/api/v1/tenants/{id}') continue;
        const params = ids(path);
        const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
          const v = params[name];
          if (!v) throw new Error(`no tenant-B value for {${name}} in ${path}: add it to ids()`);
          return encodeURIComponent(v);
        });
        const body = ['POST', 'PUT', 'PATCH'].includes(method) ? (path.endsWith('/import') ? undefined : BODY) : undefined;
        const r = await call(method, url, body);
        calls++;
        const text = JSON.stringify(r.body ?? '');
        if (text.includes(MARK)) problems.push(`${who} ${method} ${url}: response carries tenant B's data (${r.status})`);
        // A route aimed at one of B's things (a path id) must not succeed; tenants/* is the platform's, and the
        // platform administrator may manage tenants by design.
        const aimsAtB = /\{\w+\}/.test(path) && !(path.startsWith('/api/v1/tenants') && who.startsWith('platform-admin')) && !path.startsWith('/api/v1/evaluation/frameworks');
        if (aimsAtB && r.status < 400) problems.push(`${who} ${method} ${url}: ${r.status} on tenant B's thing`);
        if (r.status >= 500) problems.push(`${who} ${method} ${url}: ${r.status} ${text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(problems, [], `${problems.length} isolation problems in ${calls} calls`);
    // The platform administrator's PATCH /tenants/tenant-b suspended B (by design): re-activate to compare.
    assert.equal((await tp.api('PATCH', '/api/v1/tenants/tenant-b', { status: 'active' })).status, 200);
    assert.equal(await snapshotOfB((await signIn('b-admin')).call), before, "tenant B's data is exactly as before");
  });

  test("no live-stream frame of B's device reaches a socket of A", async () => {
    const sockets: Array<{ ws: WebSocket; frames: string[] }> = [];
    for (const username of ['a-tenant-admin', 'a-viewer', 'a-ra']) {
      const { token } = await signIn(username);
      const ws = new WebSocket(`${tp.platform.httpUrl.replace('http', 'ws')}/api/v1/stream`);
      const frames: string[] = [];
      ws.on('message', (d) => frames.push(d.toString()));
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(JSON.stringify({ type: 'auth', token }));
      ws.send(JSON.stringify({ type: 'subscribe', devices: ['db'] })); // asking for B's device by its id
      sockets.push({ ws, frames });
    }
    const { token: adminToken } = { token: tp.token };
    const own = new WebSocket(`${tp.platform.httpUrl.replace('http', 'ws')}/api/v1/stream`);
    const ownFrames: string[] = [];
    own.on('message', (d) => ownFrames.push(d.toString()));
    await new Promise((resolve) => own.once('open', resolve));
    own.send(JSON.stringify({ type: 'auth', token: adminToken, tenant: 'tenant-b' }));
    await waitFor(() => sockets.every((s) => s.frames.some((f) => f.includes('"hello"'))) && ownFrames.some((f) => f.includes('"hello"')), 'hello on every socket');
    const basic = `Basic ${Buffer.from(`tenant-b/db:${b.secret}`).toString('base64')}`;
    assert.equal((await tp.anon('POST', '/api/v1/ingest', '{"temperature": 33.5}', { authorization: basic })).status, 202);
    // The platform administrator switched to B sees it: so the frame was sent, and A's sockets did not get it.
    await waitFor(() => ownFrames.some((f) => f.includes('"telemetry"') && f.includes('"db"')), "B's frame on B's socket");
    await new Promise((r) => setTimeout(r, 600));
    for (const s of sockets) {
      assert.deepEqual(s.frames.filter((f) => f.includes('"telemetry"')), [], 'no telemetry frame of B on a socket of A');
      s.ws.close();
    }
    own.close();
  });
});
