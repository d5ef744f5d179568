import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AdminPermission,
  HandleError,
  ResponseCode,
  type TemplateApi,
  basicAuthorization,
  buildHandleRestApp,
  encodeAdminData,
  httpStatusFor,
  secretKeyAuth,
} from '@iip/identifiers';
import { freePort } from '@iip/testkit';
import type { FastifyInstance } from 'fastify';
import { MemoryHandleService, textValue } from './rest-memory-service.js';

const ADMIN = { handle: '0.NA/88.118', index: 300, secret: 's3cret:with%odd chars' };
const AUTH = basicAuthorization(ADMIN, ADMIN.secret);

interface Json {
  [k: string]: unknown;
}

describe('REST API (Handle.Net v9 shape)', () => {
  let app: FastifyInstance;
  let base: string;
  let service: MemoryHandleService;

  const call = async (method: string, path: string, body?: unknown, auth: string | null = AUTH): Promise<{ status: number; json: Json }> => {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as Json };
  };

  before(async () => {
    service = new MemoryHandleService(ADMIN, ['88.118', '88.118.8']);
    await service.create(
      '88.118.8/PUMP-0001',
      [
        textValue(1, 'URL', 'https://example.com/pump/1'),
        textValue(2, 'EMAIL', 'ops@example.com'),
        textValue(3, 'SECRET_NOTE', 'internal', { permissions: { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false } }),
        textValue(4, 'BLOB', '', { data: new Uint8Array([0xff, 0x00, 0xfe]), ttlType: 'absolute', ttl: 1_900_000_000 }),
        {
          ...textValue(100, 'HS_ADMIN', ''),
          data: encodeAdminData({ admin: { handle: '0.NA/88.118', index: 300 }, permissions: 0x07f3 }),
        },
      ],
      ADMIN,
    );
    const templates = new Map<string, { id: string; items: Array<{ index: number; type: string; required: boolean }> }>();
    const templateApi: TemplateApi = {
      listTemplates: async () => [...templates.values()],
      getTemplate: async (id) => templates.get(id),
      createTemplate: async (t, who) => {
        if (who === null) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'who?');
        const tt = t as { id: string; items: Array<{ index: number; type: string; required: boolean }> };
        templates.set(tt.id, tt);
        return tt;
      },
      batchRegister: async (items, who) => {
        const out = [];
        for (const item of items) {
          try {
            for (const ti of templates.get(item.templateId ?? '')?.items ?? []) {
              if (ti.required && !item.values.some((v) => v.index === ti.index && v.type === ti.type)) {
                throw new HandleError(ResponseCode.INVALID_VALUE, `item ${ti.type} (${ti.index}) is required`, { item: ti.type }, 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');
              }
            }
            await service.create(item.handle, item.values, who);
            out.push({ handle: item.handle, ok: true as const });
          } catch (e) {
            const he = e as HandleError;
            out.push({ handle: item.handle, ok: false as const, error: { code: he.code, responseCode: he.responseCode, message: he.message } });
          }
        }
        return out;
      },
    };
    const changes = [{ seq: 1, op: 'create', handle: '88.118.8/PUMP-0001' }];
    app = await buildHandleRestApp(service, {
      auth: secretKeyAuth(service),
      templates: templateApi,
      replicationSource: { changes: (since: number, limit: number) => ({ changes: changes.filter((c) => c.seq > since).slice(0, limit), next: 1 }) },
    });
    const port = await freePort();
    await app.listen({ host: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await app.close();
  });

  it('GET resolves anonymously to public values, in the Handle.Net JSON shape', async () => {
    const { status, json } = await call('GET', '/api/handles/88.118.8/PUMP-0001', undefined, null);
    assert.equal(status, 200);
    assert.equal(json.responseCode, 1);
    assert.equal(json.handle, '88.118.8/PUMP-0001');
    const values = json.values as Json[];
    assert.deepEqual(
      values.map((v) => v.index),
      [1, 2, 4, 100],
      'the non-public value 3 is hidden from anonymous readers',
    );
    assert.deepEqual(values[0], { index: 1, type: 'URL', data: { format: 'string', value: 'https://example.com/pump/1' }, ttl: 86400, timestamp: '2023-11-14T22:13:20Z' });
    assert.deepEqual(values[2]?.data, { format: 'base64', value: Buffer.from([0xff, 0x00, 0xfe]).toString('base64') });
    // An absolute TTL is the expiry as an ISO string (Handle.Net); we used to write ttlType: 1 and seconds.
    assert.equal(values[2]?.ttl, '2030-03-17T17:46:40Z');
    assert.equal('ttlType' in (values[2] as Json), false);
    assert.deepEqual(values[3]?.data, { format: 'admin', value: { handle: '0.NA/88.118', index: 300, permissions: '011111110011' } });
  });

  it('GET as the admin sees non-public values; handles are case-insensitive; %2F works', async () => {
    const { json } = await call('GET', '/api/handles/88.118.8%2Fpump-0001');
    assert.deepEqual(
      (json.values as Json[]).map((v) => v.index),
      [1, 2, 3, 4, 100],
    );
    const sv = (json.values as Json[])[2] as Json;
    // Handle.Net's permission string (adminRead adminWrite publicRead publicWrite); we used to write publicRead: false.
    assert.equal(sv.permissions, '1100');
    assert.equal('publicRead' in sv, false);
  });

  it('GET filters by repeated type= and index=; no match is 200 with responseCode 200', async () => {
    const byType = await call('GET', '/api/handles/88.118.8/PUMP-0001?type=URL&type=EMAIL', undefined, null);
    assert.deepEqual(
      (byType.json.values as Json[]).map((v) => v.type),
      ['URL', 'EMAIL'],
    );
    const byIndex = await call('GET', '/api/handles/88.118.8/PUMP-0001?index=100', undefined, null);
    assert.deepEqual(
      (byIndex.json.values as Json[]).map((v) => v.index),
      [100],
    );
    const none = await call('GET', '/api/handles/88.118.8/PUMP-0001?type=NOPE', undefined, null);
    assert.equal(none.status, 200);
    assert.equal(none.json.responseCode, 200);
    assert.deepEqual(none.json.values, []);
  });

  it('GET of a missing handle is 404/100; of an invalid one 400/102; of a foreign prefix 400/301', async () => {
    const missing = await call('GET', '/api/handles/88.118.8/NOPE', undefined, null);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.responseCode, 100);
    assert.equal(missing.json.handle, '88.118.8/NOPE');
    assert.equal(typeof missing.json.message, 'string');
    const invalid = await call('GET', '/api/handles/noslash', undefined, null);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.responseCode, 102);
    const foreign = await call('GET', '/api/handles/99.1/x', undefined, null);
    assert.equal(foreign.status, 400);
    assert.equal(foreign.json.responseCode, 301);
  });

  it('PUT creates (201), replaces (200), and refuses overwrite=false on an existing handle (409/101)', async () => {
    const body = { values: [{ index: 1, type: 'URL', data: { format: 'string', value: 'https://example.com/v1' } }] };
    const created = await call('PUT', '/api/handles/88.118.8/VALVE-1', body);
    assert.equal(created.status, 201);
    assert.deepEqual(created.json, { responseCode: 1, handle: '88.118.8/VALVE-1' });
    const replaced = await call('PUT', '/api/handles/88.118.8/VALVE-1', {
      values: [
        { index: 1, type: 'URL', data: 'https://example.com/v2' },
        { index: 5, type: 'RAW', data: { format: 'hex', value: 'cafe' }, ttl: 60 },
      ],
    });
    assert.equal(replaced.status, 200);
    const refused = await call('PUT', '/api/handles/88.118.8/VALVE-1?overwrite=false', body);
    assert.equal(refused.status, 409);
    assert.equal(refused.json.responseCode, 101);
    const got = await call('GET', '/api/handles/88.118.8/VALVE-1');
    assert.deepEqual(got.json.values, [
      { index: 1, type: 'URL', data: { format: 'string', value: 'https://example.com/v2' }, ttl: 86400, timestamp: (got.json.values as Json[])[0]?.timestamp },
      { index: 5, type: 'RAW', data: { format: 'base64', value: Buffer.from('cafe', 'hex').toString('base64') }, ttl: 60, timestamp: (got.json.values as Json[])[1]?.timestamp },
    ]);
  });

  it('PUT with index= adds or replaces only those values; overwrite=false refuses an existing index (409/201)', async () => {
    await call('PUT', '/api/handles/88.118.8/VALVE-2', { values: [{ index: 1, type: 'URL', data: 'a' }, { index: 2, type: 'EMAIL', data: 'b' }] });
    const r = await call('PUT', '/api/handles/88.118.8/VALVE-2?index=2&index=7', {
      values: [
        { index: 1, type: 'URL', data: 'ignored, not named' },
        { index: 2, type: 'EMAIL', data: 'b2' },
        { index: 7, type: 'DESC', data: 'new' },
      ],
    });
    assert.equal(r.status, 201);
    const got = await call('GET', '/api/handles/88.118.8/VALVE-2');
    assert.deepEqual(
      (got.json.values as Json[]).map((v) => [v.index, (v.data as Json).value]),
      [
        [1, 'a'],
        [2, 'b2'],
        [7, 'new'],
      ],
    );
    const refused = await call('PUT', '/api/handles/88.118.8/VALVE-2?index=2&overwrite=false', { values: [{ index: 2, type: 'EMAIL', data: 'x' }] });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.responseCode, 201);
  });

  it('PUT with mintNewSuffix=true answers the minted handle', async () => {
    const r = await call('PUT', '/api/handles/88.118.8/AUTO-?mintNewSuffix=true', { values: [{ index: 1, type: 'URL', data: 'x' }] });
    assert.equal(r.status, 201);
    assert.match(String(r.json.handle), /^88\.118\.8\/AUTO-.+/);
    const got = await call('GET', `/api/handles/${String(r.json.handle)}`, undefined, null);
    assert.equal(got.status, 200);
  });

  it('PUT with a bad value is 400/202 naming the field; without credentials 401/402; wrong secret 403/403', async () => {
    const bad = await call('PUT', '/api/handles/88.118.8/BAD', { values: [{ index: 0, type: 'URL', data: 'x' }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.responseCode, 202);
    assert.match(String(bad.json.message), /index/);
    const badFormat = await call('PUT', '/api/handles/88.118.8/BAD', { values: [{ index: 1, type: 'URL', data: { format: 'nope', value: 'x' } }] });
    assert.equal(badFormat.status, 400);
    assert.match(String(badFormat.json.message), /data\.format/);
    const anon = await call('PUT', '/api/handles/88.118.8/ANON', { values: [{ index: 1, type: 'URL', data: 'x' }] }, null);
    assert.equal(anon.status, 401);
    assert.equal(anon.json.responseCode, 402);
    const wrong = await call('PUT', '/api/handles/88.118.8/ANON', { values: [{ index: 1, type: 'URL', data: 'x' }] }, basicAuthorization(ADMIN, 'nope'));
    assert.equal(wrong.status, 403);
    assert.equal(wrong.json.responseCode, 403);
    const notJson = await fetch(`${base}/api/handles/88.118.8/BAD`, { method: 'PUT', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: '{' });
    assert.equal(notJson.status, 400);
  });

  it('Basic usernames are read URL-encoded (Handle.Net) and also raw', async () => {
    const raw = `Basic ${Buffer.from(`300:0.NA/88.118:${encodeURIComponent(ADMIN.secret)}`).toString('base64')}`;
    const r = await call('GET', '/api/handles?prefix=88.118.8', undefined, raw);
    assert.equal(r.status, 200);
  });

  it('HS_ADMIN and HS_VLIST round-trip through their JSON formats', async () => {
    const r = await call('PUT', '/api/handles/88.118.8/GROUP', {
      values: [
        { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/88.118', index: 300, permissions: '111111111111' } } },
        { index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '0.NA/88.118', index: 300 }] } },
      ],
    });
    assert.equal(r.status, 201);
    const got = await call('GET', '/api/handles/88.118.8/GROUP');
    const values = got.json.values as Json[];
    assert.deepEqual(values[0]?.data, { format: 'admin', value: { handle: '0.NA/88.118', index: 300, permissions: '111111111111' } });
    assert.deepEqual(values[1]?.data, { format: 'vlist', value: [{ handle: '0.NA/88.118', index: 300 }] });
    assert.equal(AdminPermission.LIST_HANDLES, 0x800);
  });

  it('DELETE removes values by index, then the whole handle', async () => {
    await call('PUT', '/api/handles/88.118.8/GONE', { values: [{ index: 1, type: 'URL', data: 'a' }, { index: 2, type: 'URL', data: 'b' }] });
    const one = await call('DELETE', '/api/handles/88.118.8/GONE?index=2');
    assert.deepEqual(one.json, { responseCode: 1, handle: '88.118.8/GONE' });
    const left = await call('GET', '/api/handles/88.118.8/GONE');
    assert.deepEqual(
      (left.json.values as Json[]).map((v) => v.index),
      [1],
    );
    assert.equal((await call('DELETE', '/api/handles/88.118.8/GONE')).status, 200);
    assert.equal((await call('GET', '/api/handles/88.118.8/GONE')).status, 404);
    assert.equal((await call('DELETE', '/api/handles/88.118.8/GONE')).status, 404);
  });

  it('GET /api/handles?prefix= lists handles in pages (page counts from 0); needs an admin', async () => {
    for (let i = 0; i < 5; i++) await call('PUT', `/api/handles/88.118/LIST-${i}`, { values: [{ index: 1, type: 'URL', data: String(i) }] });
    const p0 = await call('GET', '/api/handles?prefix=88.118&page=0&pageSize=2');
    assert.deepEqual(p0.json, { responseCode: 1, prefix: '88.118', totalCount: 5, page: 0, pageSize: 2, handles: ['88.118/LIST-0', '88.118/LIST-1'] });
    const p2 = await call('GET', '/api/handles?prefix=88.118&page=2&pageSize=2');
    assert.deepEqual(p2.json.handles, ['88.118/LIST-4']);
    assert.equal((await call('GET', '/api/handles?prefix=88.118&pageSize=0')).status, 400);
    assert.equal((await call('GET', '/api/handles')).status, 400);
    assert.equal((await call('GET', '/api/handles?prefix=88.118', undefined, null)).status, 401);
  });

  it('templates: define, list, get; batch registration reports each item', async () => {
    const t = { id: 'pump', items: [{ index: 2001, type: 'MODEL', required: true }] };
    assert.equal((await call('POST', '/api/templates', t, null)).status, 401);
    assert.equal((await call('POST', '/api/templates', t)).status, 201);
    assert.deepEqual((await call('GET', '/api/templates', undefined, null)).json.templates, [t]);
    assert.deepEqual((await call('GET', '/api/templates/pump', undefined, null)).json.template, t);
    assert.equal((await call('GET', '/api/templates/nope', undefined, null)).status, 404);
    const batch = await call('POST', '/api/handles/batch', {
      template: 'pump',
      items: [
        { handle: '88.118.8/B-1', values: [{ index: 2001, type: 'MODEL', data: 'X1' }] },
        { handle: '88.118.8/B-2', values: [{ index: 2002, type: 'OTHER', data: 'no model' }] },
        { handle: '88.118.8/PUMP-0001', values: [{ index: 2001, type: 'MODEL', data: 'dup' }] },
      ],
    });
    assert.equal(batch.status, 200);
    assert.equal(batch.json.created, 1);
    const results = batch.json.results as Json[];
    assert.deepEqual(results[0], { handle: '88.118.8/B-1', responseCode: 1 });
    assert.equal(results[1]?.code, 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');
    assert.match(String(results[1]?.message), /MODEL/);
    assert.equal(results[2]?.responseCode, 101);
    const parseError = await call('POST', '/api/handles/batch', { template: 'pump', items: [{ handle: '88.118.8/B-3', values: [{ index: -1, type: 'X', data: 'x' }] }] });
    assert.equal((parseError.json.results as Json[])[0]?.responseCode, 202);
    assert.equal((await call('POST', '/api/handles/batch', { template: 'nope', items: [] })).status, 400);
  });

  it('the change feed needs an authenticated admin', async () => {
    assert.equal((await call('GET', '/api/replication/changes?since=0', undefined, null)).status, 401);
    const r = await call('GET', '/api/replication/changes?since=0&limit=10');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { changes: [{ seq: 1, op: 'create', handle: '88.118.8/PUMP-0001' }], next: 1 });
    assert.equal((await call('GET', '/api/replication/changes?since=-1')).status, 400);
  });

  it('httpStatusFor follows the Handle.Net table', () => {
    const table: Array<[number, number]> = [
      [1, 200],
      [2, 500],
      [100, 404],
      [101, 409],
      [102, 400],
      [200, 400],
      [201, 409],
      [202, 400],
      [301, 400],
      [402, 401],
      [400, 403],
      [401, 403],
      [403, 403],
      [404, 403],
      [406, 403],
    ];
    for (const [code, status] of table) assert.equal(httpStatusFor(code), status, `responseCode ${code}`);
    assert.equal(httpStatusFor(200, 'resolution'), 200);
  });
});
