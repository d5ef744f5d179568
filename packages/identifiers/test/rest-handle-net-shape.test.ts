// Issue 9, points 5 and 6: the REST API reads and writes the JSON of Handle.Net v9 (permissions string, ISO
// absolute TTL, single-value PUT bodies, HS_PUBKEY as format "key", GET /api/site, no keys the reference does
// not know), and every value a node stores carries the node's clock as its timestamp, never the client's —
// over REST and over the binary protocol. One real node (SQLite store, UDP/TCP, HTTP) on free ports.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  HandleClient,
  type HandleNode,
  type HandleValue,
  type SiteInfoRecord,
  TransportProtocol,
  basicAuthorization,
  decodePublicKey,
  encodePublicKey,
  startHandleNode,
  valueFromJson,
  valueToJson,
} from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';

const ADMIN = { handle: '0.NA/88.118', index: 300, secretKey: 's3cret' };
const AUTH = basicAuthorization(ADMIN, ADMIN.secretKey);
const CLIENT_AUTH = { identity: { handle: ADMIN.handle, index: ADMIN.index }, secretKey: new TextEncoder().encode(ADMIN.secretKey) };
/** The keys GsonUtility.HandleValueGsonTypeAdapter writes for a value; nothing else may appear. */
const REFERENCE_VALUE_KEYS = new Set(['index', 'type', 'data', 'permissions', 'ttl', 'timestamp', 'references']);
const OLD_TIMESTAMP = '2001-01-01T00:00:00Z';
const OLD_SECONDS = Date.UTC(2001, 0, 1) / 1000;

interface Json {
  [k: string]: unknown;
}

describe('REST shape of Handle.Net v9 and server-side timestamps (issue 9 points 5, 6)', () => {
  let node: HandleNode;
  let base: string;
  let cleanup: () => Promise<void>;
  const client = new HandleClient({ timeoutMs: 2000, retries: 1 });
  let server: { address: string; udpPort: number; tcpPort: number };

  const call = async (method: string, path: string, body?: unknown, auth: string | null = AUTH): Promise<{ status: number; json: Json }> => {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const valuesOf = async (handle: string, auth: string | null = AUTH): Promise<Json[]> => {
    const r = await call('GET', `/api/handles/${handle}`, undefined, auth);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.values as Json[];
  };
  const valueAt = async (handle: string, index: number): Promise<Json> => {
    const v = (await valuesOf(handle)).find((x) => x.index === index);
    assert.ok(v, `value ${index} of ${handle}`);
    return v;
  };
  /** What the node stored, read over the binary protocol (no JSON involved). */
  const stored = async (handle: string, index: number): Promise<HandleValue> => {
    const r = await client.resolve(server, handle, { indexes: [index] }, CLIENT_AUTH);
    const v = r.values.find((x) => x.index === index);
    assert.ok(v, `stored value ${index} of ${handle}`);
    return v;
  };
  const assertInvalid = (r: { status: number; json: Json }, index: number, field: string) => {
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.responseCode, 202);
    assert.equal(r.json.code, 'IIP_ERR_HANDLE_VALUE_INVALID');
    assert.match(String(r.json.message), new RegExp(`value ${index}\\b.*${field.replace(/\./g, '\\.')}`));
  };
  /** A timestamp the node wrote between `from` and now (seconds granularity). */
  const assertFresh = (iso: unknown, from: number) => {
    assert.equal(typeof iso, 'string');
    const s = Date.parse(String(iso)) / 1000;
    assert.ok(s >= Math.floor(from / 1000) && s <= Math.ceil(Date.now() / 1000), `timestamp ${String(iso)} is the node's clock at the write`);
  };

  before(async () => {
    const dir = await tempDir('iip-rest-shape-');
    node = await startHandleNode({
      role: 'secondary',
      dataDir: dir.path,
      admin: ADMIN,
      udpPort: await freePort(),
      tcpPort: await freePort(),
      httpPort: await freePort(),
      warmAnswers: false,
    });
    base = `http://127.0.0.1:${node.httpPort}`;
    server = { address: '127.0.0.1', udpPort: node.udpPort, tcpPort: node.tcpPort };
    cleanup = async () => {
      client.close();
      await node.close();
      await dir.cleanup();
    };
  });
  after(async () => cleanup());

  describe('permissions', () => {
    it('are read from the 4-character string and written back only when not the default "1110"', async () => {
      const r = await call('PUT', '/api/handles/88.118/PERM-1', {
        values: [
          { index: 1, type: 'URL', data: 'https://a.example' },
          { index: 2, type: 'NOTE', data: 'admins only', permissions: '1100' },
          { index: 3, type: 'LOCKED', data: 'no admin write', permissions: '1010' },
          { index: 4, type: 'OPEN', data: 'everything', permissions: '*' },
          { index: 5, type: 'SHORT', data: 'right-aligned', permissions: '11' },
          { index: 6, type: 'DEFAULT', data: 'spelled out', permissions: '1110' },
        ],
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const values = await valuesOf('88.118/PERM-1');
      const perms = Object.fromEntries(values.map((v) => [v.index, v.permissions]));
      assert.deepEqual(perms, { 1: undefined, 2: '1100', 3: '1010', 4: '1111', 5: '1111', 6: undefined });
      for (const v of values) assert.equal('permissions' in v, v.permissions !== undefined);
      // Honoured, not just echoed: the node stores the flags and enforces publicRead.
      assert.deepEqual((await stored('88.118/PERM-1', 3)).permissions, { adminRead: true, adminWrite: false, publicRead: true, publicWrite: false });
      const anon = await valuesOf('88.118/PERM-1', null);
      assert.deepEqual(
        anon.map((v) => v.index),
        [1, 3, 4, 5, 6],
        'value 2 (publicRead=0) is hidden from anonymous readers',
      );
    });

    it('our older boolean keys are still read, and written as the string', async () => {
      const r = await call('PUT', '/api/handles/88.118/PERM-2', [{ index: 1, type: 'URL', data: 'x', adminWrite: false, publicWrite: true }]);
      assert.equal(r.status, 201);
      const v = await valueAt('88.118/PERM-2', 1);
      assert.equal(v.permissions, '1011');
    });

    it('a malformed permission string is 400/202 naming the value index and the field', async () => {
      for (const permissions of ['12', '11100', 'rwr-', 1110]) {
        assertInvalid(await call('PUT', '/api/handles/88.118/PERM-BAD', { values: [{ index: 7, type: 'URL', data: 'x', permissions }] }), 7, 'permissions');
      }
    });
  });

  describe('TTL', () => {
    it('an absolute TTL is an ISO-8601 expiry string on input and on output; anything else is 400/202 naming ttl', async () => {
      const r = await call('PUT', '/api/handles/88.118/TTL-1', {
        values: [
          { index: 1, type: 'URL', data: 'x', ttl: '2030-01-02T03:04:05Z' },
          { index: 2, type: 'URL', data: 'y', ttl: '2030-01-02T11:04:05+08:00' },
          { index: 3, type: 'URL', data: 'z', ttl: 600 },
        ],
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const values = await valuesOf('88.118/TTL-1');
      assert.deepEqual(
        values.map((v) => v.ttl),
        ['2030-01-02T03:04:05Z', '2030-01-02T03:04:05Z', 600],
      );
      const s = await stored('88.118/TTL-1', 1);
      assert.equal(s.ttlType, 'absolute');
      assert.equal(s.ttl, Date.UTC(2030, 0, 2, 3, 4, 5) / 1000);
      assert.equal((await stored('88.118/TTL-1', 3)).ttlType, 'relative');
      for (const ttl of ['tomorrow', '1960-01-01T00:00:00Z', -5, 1.5]) {
        assertInvalid(await call('PUT', '/api/handles/88.118/TTL-BAD', { values: [{ index: 4, type: 'URL', data: 'x', ttl }] }), 4, 'ttl');
      }
    });

    it('our older {ttlType: 1, ttl: seconds} is still read, and written as the ISO string', async () => {
      await call('PUT', '/api/handles/88.118/TTL-2', { values: [{ index: 1, type: 'URL', data: 'x', ttlType: 1, ttl: 1_900_000_000 }] });
      const v = await valueAt('88.118/TTL-2', 1);
      assert.equal(v.ttl, new Date(1_900_000_000_000).toISOString().replace('.000Z', 'Z'));
      assert.equal('ttlType' in v, false);
    });
  });

  describe('PUT bodies', () => {
    it('accepts a single value object, as Handle.Net does, with and without index=; refuses other bodies with 400/202', async () => {
      const created = await call('PUT', '/api/handles/88.118/ONE', { index: 1, type: 'URL', data: { format: 'string', value: 'https://one.example' } });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const added = await call('PUT', '/api/handles/88.118/ONE?index=2', { index: 2, type: 'EMAIL', data: 'ops@one.example' });
      assert.equal(added.status, 201, JSON.stringify(added.json));
      const replaced = await call('PUT', '/api/handles/88.118/ONE?index=1', { index: 1, type: 'URL', data: 'https://two.example' });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.json));
      assert.deepEqual(
        (await valuesOf('88.118/ONE')).map((v) => [v.index, (v.data as Json).value]),
        [
          [1, 'https://two.example'],
          [2, 'ops@one.example'],
        ],
      );
      for (const body of [{ foo: 1 }, { values: 'x' }, 'x']) {
        const r = await call('PUT', '/api/handles/88.118/ONE-BAD', body);
        assert.equal(r.status, 400);
        assert.equal(r.json.responseCode, 202);
        assert.equal(r.json.code, 'IIP_ERR_HANDLE_VALUE_INVALID');
      }
    });
  });

  describe('HS_PUBKEY', () => {
    it('an RSA key is format "key" as a JWK {kty, n, e}, read and written, stored in the Handle encoding', async () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' });
      const r = await call('PUT', '/api/handles/88.118/KEY-RSA', { values: [{ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } } }] });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const v = await valueAt('88.118/KEY-RSA', 300);
      assert.deepEqual(v.data, { format: 'key', value: { kty: 'RSA', n: jwk.n, e: jwk.e } });
      // The stored bytes are the reference's RSA_PUB_KEY encoding of this very key.
      const data = (await stored('88.118/KEY-RSA', 300)).data;
      assert.equal(Buffer.from(data.subarray(4, 15)).toString('latin1'), 'RSA_PUB_KEY');
      assert.deepEqual(decodePublicKey(data).export({ format: 'der', type: 'spki' }), publicKey.export({ format: 'der', type: 'spki' }));
    });

    it('a DSA key sent as base64 bytes comes back as {kty: "DSA", y, p, q, g}; that JSON writes the same key', async () => {
      const { publicKey } = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
      const bytes = encodePublicKey(publicKey);
      await call('PUT', '/api/handles/88.118/KEY-DSA', [{ index: 300, type: 'HS_PUBKEY', data: { format: 'base64', value: Buffer.from(bytes).toString('base64') } }]);
      const v = await valueAt('88.118/KEY-DSA', 300);
      const data = v.data as { format: string; value: Json };
      assert.equal(data.format, 'key');
      assert.deepEqual(Object.keys(data.value), ['kty', 'y', 'p', 'q', 'g']);
      assert.equal(data.value.kty, 'DSA');
      await call('PUT', '/api/handles/88.118/KEY-DSA2', [{ index: 300, type: 'HS_PUBKEY', data }]);
      const again = (await stored('88.118/KEY-DSA2', 300)).data;
      assert.deepEqual(Buffer.from(again), Buffer.from(bytes));
      assert.deepEqual(decodePublicKey(again).export({ format: 'der', type: 'spki' }), publicKey.export({ format: 'der', type: 'spki' }));
    });

    it('HS_PUBKEY data that is no key stays string/base64; a bad key object is 400/202', async () => {
      await call('PUT', '/api/handles/88.118/KEY-RAW', [{ index: 300, type: 'HS_PUBKEY', data: 'not a key' }]);
      assert.deepEqual((await valueAt('88.118/KEY-RAW', 300)).data, { format: 'string', value: 'not a key' });
      assertInvalid(await call('PUT', '/api/handles/88.118/KEY-BAD', [{ index: 301, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'EC', x: 'AA' } } }]), 301, 'data.value');
      assertInvalid(await call('PUT', '/api/handles/88.118/KEY-BAD', [{ index: 302, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: 'AQAB' } } }]), 302, 'data.value');
    });
  });

  it('GET /api/site answers {responseCode: 1, site} in the reference shape, the same site the binary protocol gives', async () => {
    const r = await call('GET', '/api/site', undefined, null);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.responseCode, 1);
    const site = r.json.site as Json;
    const rec: SiteInfoRecord = await client.getSiteInfo(server);
    assert.equal(site.version, rec.dataFormatVersion);
    assert.equal(site.protocolVersion, `${rec.protocolMajor}.${rec.protocolMinor}`);
    assert.equal(site.serialNumber, rec.serialNumber);
    assert.equal(site.primarySite, rec.primary);
    assert.equal(site.multiPrimary, rec.multiPrimary);
    assert.equal(site.hashOption, rec.hashOption === 2 ? undefined : rec.hashOption);
    assert.deepEqual(site.attributes, rec.attributes.map((a) => ({ name: a.name, value: a.value })));
    const servers = site.servers as Json[];
    assert.equal(servers.length, rec.servers.length);
    const names: Record<number, string> = { [TransportProtocol.UDP]: 'UDP', [TransportProtocol.TCP]: 'TCP', [TransportProtocol.HTTP]: 'HTTP' };
    rec.servers.forEach((srv, k) => {
      const j = servers[k] as Json;
      assert.equal(j.serverId, srv.serverId);
      assert.equal(j.address, srv.address);
      assert.deepEqual(
        j.interfaces,
        srv.interfaces.map((i) => ({ query: (i.serviceType & 2) !== 0, admin: (i.serviceType & 1) !== 0, protocol: names[i.protocol], port: i.port })),
      );
      const pk = j.publicKey as { format: string; value: unknown };
      if (srv.publicKey.length === 0) assert.deepEqual(pk, { format: 'base64', value: '' });
      else assert.equal(pk.format, 'key');
    });
    const ports = servers.flatMap((s) => (s.interfaces as Json[]).map((i) => [i.protocol, i.port]));
    assert.ok(ports.some(([p, n]) => p === 'TCP' && n === node.tcpPort));
    assert.ok(ports.some(([p, n]) => p === 'UDP' && n === node.udpPort));
  });

  it('values carry only keys the reference knows (no ttlType, no permission booleans)', async () => {
    await call('PUT', '/api/handles/88.118/KEYS', {
      values: [
        { index: 1, type: 'URL', data: 'x', ttlType: 1, ttl: 1_900_000_000, adminRead: true, adminWrite: false, publicRead: false, publicWrite: true, references: [{ handle: '88.118/ONE', index: 1 }] },
        { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: ADMIN.handle, index: ADMIN.index, permissions: '111111111111' } } },
      ],
    });
    const values = await valuesOf('88.118/KEYS');
    assert.equal(values.length, 2);
    for (const v of values) for (const k of Object.keys(v)) assert.ok(REFERENCE_VALUE_KEYS.has(k), `unexpected key ${k} in ${JSON.stringify(v)}`);
    assert.deepEqual(Object.keys(values[0] as Json), ['index', 'type', 'data', 'permissions', 'ttl', 'timestamp', 'references']);
    assert.equal((values[0] as Json).permissions, '1001');
  });

  describe('timestamps are the node clock at the write, never the client’s', () => {
    it('REST: whole-record PUT, PUT with index= (add and replace)', async () => {
      const t0 = Date.now();
      await call('PUT', '/api/handles/88.118/TS-1', { values: [{ index: 1, type: 'URL', data: 'a', timestamp: OLD_TIMESTAMP }] });
      assertFresh((await valueAt('88.118/TS-1', 1)).timestamp, t0);
      await call('PUT', '/api/handles/88.118/TS-1?index=2', { index: 2, type: 'URL', data: 'b', timestamp: OLD_TIMESTAMP });
      await call('PUT', '/api/handles/88.118/TS-1?index=1', { index: 1, type: 'URL', data: 'c', timestamp: OLD_TIMESTAMP });
      for (const v of await valuesOf('88.118/TS-1')) assertFresh(v.timestamp, t0);
      assert.ok((await stored('88.118/TS-1', 2)).timestamp > OLD_SECONDS);
    });

    it('REST: a client timestamp outside the protocol range (before 1970) does not refuse the value', async () => {
      const t0 = Date.now();
      const r = await call('PUT', '/api/handles/88.118/TS-2', { values: [{ index: 1, type: 'URL', data: 'a', timestamp: '1960-01-01T00:00:00Z' }] });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assertFresh((await valueAt('88.118/TS-2', 1)).timestamp, t0);
      assertInvalid(await call('PUT', '/api/handles/88.118/TS-3', { values: [{ index: 9, type: 'URL', data: 'a', timestamp: 'yesterday' }] }), 9, 'timestamp');
    });

    it('REST: batch registration and registration against a data template', async () => {
      const t0 = Date.now();
      const template = { id: 'ts-tpl', name: 'ts', industry: 'test', version: '1', items: [{ name: 'model', index: 2000, type: 'MODEL', required: true }] };
      assert.equal((await call('POST', '/api/templates', template)).status, 201);
      const batch = await call('POST', '/api/handles/batch', {
        items: [
          { handle: '88.118/TS-B1', values: [{ index: 1, type: 'URL', data: 'a', timestamp: OLD_TIMESTAMP }] },
          { handle: '88.118/TS-B2', template: 'ts-tpl', values: [{ index: 2000, type: 'MODEL', data: 'X1', timestamp: OLD_TIMESTAMP }] },
        ],
      });
      assert.equal(batch.json.created, 2, JSON.stringify(batch.json));
      for (const v of [...(await valuesOf('88.118/TS-B1')), ...(await valuesOf('88.118/TS-B2'))]) assertFresh(v.timestamp, t0);
    });

    it('binary protocol: create, add and modify through HandleClient', async () => {
      const t0 = Date.now();
      const old = (index: number, data: string): HandleValue => ({
        index,
        type: 'URL',
        data: new TextEncoder().encode(data),
        ttlType: 'relative',
        ttl: 86400,
        timestamp: OLD_SECONDS,
        references: [],
        permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
      });
      await client.create(server, '88.118/TS-BIN', [old(1, 'a')], CLIENT_AUTH);
      await client.addValues(server, '88.118/TS-BIN', [old(2, 'b')], CLIENT_AUTH);
      await client.modifyValues(server, '88.118/TS-BIN', [old(1, 'c')], CLIENT_AUTH);
      const r = await client.resolve(server, '88.118/TS-BIN', {}, CLIENT_AUTH);
      assert.equal(r.values.length, 2);
      for (const v of r.values) assert.ok(v.timestamp >= Math.floor(t0 / 1000) && v.timestamp <= Math.ceil(Date.now() / 1000), `timestamp ${v.timestamp}`);
      for (const v of await valuesOf('88.118/TS-BIN')) assertFresh(v.timestamp, t0);
    });

    it('service: a timestamp no protocol field could carry is replaced, not refused', async () => {
      const t0 = Date.now();
      const v: HandleValue = {
        index: 1,
        type: 'URL',
        data: new TextEncoder().encode('x'),
        ttlType: 'relative',
        ttl: 60,
        timestamp: -1,
        references: [],
        permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
      };
      await node.service.create('88.118/TS-SVC', [v], { handle: ADMIN.handle, index: ADMIN.index });
      await node.service.addValues('88.118/TS-SVC', [{ ...v, index: 2, timestamp: Number.NaN }], { handle: ADMIN.handle, index: ADMIN.index });
      for (const x of await valuesOf('88.118/TS-SVC')) assertFresh(x.timestamp, t0);
    });
  });
});

describe('value JSON round trip (property)', () => {
  const permissions = fc.record({ adminRead: fc.boolean(), adminWrite: fc.boolean(), publicRead: fc.boolean(), publicWrite: fc.boolean() }).map((p) => ({ ...p }));
  const value = fc.record({
    index: fc.integer({ min: 1, max: 0xffff_ffff }),
    type: fc.constantFrom('URL', 'EMAIL', 'BLOB', 'DESC', '标识'),
    data: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.string({ maxLength: 32 }).map((t) => new TextEncoder().encode(t)), fc.constant(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]))),
    ttlType: fc.constantFrom('relative' as const, 'absolute' as const),
    ttl: fc.integer({ min: 0, max: 0xffff_ffff }),
    timestamp: fc.integer({ min: 1, max: 0xffff_ffff }),
    references: fc.array(fc.record({ handle: fc.constantFrom('88.118/A', '0.NA/88.118'), index: fc.integer({ min: 0, max: 0xffff_ffff }) }).map((r) => ({ ...r })), { maxLength: 2 }),
    permissions,
  });

  // A positive integer as Java's BigInteger.toByteArray writes it (minimal two's complement).
  const javaInt = fc
    .uint8Array({ minLength: 1, maxLength: 40 })
    .filter((b) => b.some((x) => x !== 0)) // positive: zero is no key part (and findIndex would give -1)
    .map((b) => Buffer.from(b.subarray(b.findIndex((x) => x !== 0))))
    .map((b) => ((b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b));
  const field = (b: Uint8Array) => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return Buffer.concat([n, b]);
  };
  const keyBytes = fc.oneof(
    fc.tuple(javaInt, javaInt).map(([e, n]) => Buffer.concat([field(Buffer.from('RSA_PUB_KEY')), Buffer.alloc(2), field(e), field(n)])),
    fc.tuple(javaInt, javaInt, javaInt, javaInt).map((ints) => Buffer.concat([field(Buffer.from('DSA_PUB_KEY')), Buffer.alloc(2), ...ints.map(field)])),
  );

  it('HS_PUBKEY bytes in the Handle encoding are format "key" and come back byte for byte', () => {
    fc.assert(
      fc.property(keyBytes, (bytes) => {
        const v: HandleValue = {
          index: 300,
          type: 'HS_PUBKEY',
          data: new Uint8Array(bytes),
          ttlType: 'relative',
          ttl: 86400,
          timestamp: 1,
          references: [],
          permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
        };
        const json = JSON.parse(JSON.stringify(valueToJson(v))) as { data: { format: string } };
        assert.equal(json.data.format, 'key');
        assert.deepEqual(Buffer.from(valueFromJson(json, 1).data), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('valueFromJson(valueToJson(v)) is v with the write-time timestamp, and only reference keys are written', () => {
    fc.assert(
      fc.property(value, (v: HandleValue) => {
        const json = JSON.parse(JSON.stringify(valueToJson(v))) as Json;
        for (const k of Object.keys(json)) assert.ok(REFERENCE_VALUE_KEYS.has(k), k);
        const back = valueFromJson(json, 42);
        assert.deepEqual({ ...back, data: Buffer.from(back.data) }, { ...v, data: Buffer.from(v.data), timestamp: 42 });
        assert.equal(json.timestamp, new Date(v.timestamp * 1000).toISOString().replace('.000Z', 'Z'));
      }),
      { numRuns: 500 },
    );
  });
});
