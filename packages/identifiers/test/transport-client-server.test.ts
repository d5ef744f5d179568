/**
 * HandleClient ↔ startHandleProtocolServer over real UDP and TCP sockets on 127.0.0.1, against a small
 * in-memory HandleService written here (the real service is wired by the node later): resolution,
 * truncated UDP → TCP, authenticated admin operations with a right and a wrong secret, and bad packets
 * that are answered or dropped while the server keeps serving.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  DEFAULT_VALUE_PERMISSIONS,
  DigestAlg,
  HandleClient,
  HandleError,
  type HandleProtocolServer,
  type HandleService,
  type HandleSiteInfo,
  type HandleValue,
  type Identity,
  type ResolveQuery,
  ResponseCode,
  decodeMessage,
  normalizeHandle,
  startHandleProtocolServer,
  toHandleSiteInfo,
} from '@iip/identifiers';

const ADMIN = { handle: '0.NA/88.118', index: 300 };
const SECRET = Buffer.from('correct horse battery staple');

function value(index: number, type: string, data: string | Uint8Array, publicRead = true): HandleValue {
  return { index, type, data: typeof data === 'string' ? Buffer.from(data) : data, ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: { ...DEFAULT_VALUE_PERMISSIONS, publicRead } };
}

/** Just enough of a Handle node for transport tests: one admin, who may do everything; no HS_ADMIN logic. */
class MemoryService implements HandleService {
  readonly role = 'enterprise' as const;
  readonly handles = new Map<string, HandleValue[]>();
  readonly homed = new Set<string>(['88.118']);

  private admin(who: Identity): void {
    if (!who) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'Authenticate first.');
    if (who.handle !== ADMIN.handle || who.index !== ADMIN.index) throw new HandleError(ResponseCode.INSUFFICIENT_PERMISSIONS, 'Not an admin.');
  }
  private get(handle: string): HandleValue[] {
    const v = this.handles.get(normalizeHandle(handle));
    if (!v) throw new HandleError(ResponseCode.HANDLE_NOT_FOUND, `Handle ${handle} not found.`);
    return v;
  }
  async resolve(handle: string, query: ResolveQuery, who: Identity): Promise<HandleValue[]> {
    const all = this.get(handle).filter((v) => who !== null || v.permissions.publicRead);
    const out = all.filter((v) => (!query.types?.length || query.types.includes(v.type)) && (!query.indexes?.length || query.indexes.includes(v.index)));
    if (out.length === 0) throw new HandleError(ResponseCode.VALUES_NOT_FOUND, 'No such values.');
    return out;
  }
  async create(handle: string, values: readonly HandleValue[], who: Identity, opts: { overwrite?: boolean; mintNewSuffix?: boolean } = {}): Promise<string> {
    this.admin(who);
    const name = opts.mintNewSuffix ? `${handle}${this.handles.size}` : handle;
    if (this.handles.has(normalizeHandle(name)) && !opts.overwrite) throw new HandleError(ResponseCode.HANDLE_ALREADY_EXISTS, `${name} exists.`);
    this.handles.set(normalizeHandle(name), [...values]);
    return name;
  }
  async delete(handle: string, who: Identity): Promise<void> {
    this.admin(who);
    this.get(handle);
    this.handles.delete(normalizeHandle(handle));
  }
  async addValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void> {
    this.admin(who);
    this.get(handle).push(...values);
  }
  async removeValues(handle: string, indexes: readonly number[], who: Identity): Promise<void> {
    this.admin(who);
    this.handles.set(
      normalizeHandle(handle),
      this.get(handle).filter((v) => !indexes.includes(v.index)),
    );
  }
  async modifyValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void> {
    this.admin(who);
    const cur = this.get(handle);
    for (const v of values) {
      const i = cur.findIndex((c) => c.index === v.index);
      if (i < 0) throw new HandleError(ResponseCode.VALUES_NOT_FOUND, `No value ${v.index}.`);
      cur[i] = v;
    }
  }
  async listHandles(prefix: string, who: Identity, page: { offset: number; limit: number }): Promise<{ handles: string[]; total: number }> {
    this.admin(who);
    const all = [...this.handles.keys()].filter((h) => h.startsWith(`${normalizeHandle(prefix)}/`)).sort();
    return { handles: all.slice(page.offset, page.offset + page.limit), total: all.length };
  }
  async homePrefix(prefix: string, who: Identity): Promise<void> {
    this.admin(who);
    this.homed.add(prefix);
  }
  async unhomePrefix(prefix: string, who: Identity): Promise<void> {
    this.admin(who);
    this.homed.delete(prefix);
  }
  listHomedPrefixes(): string[] {
    return [...this.homed].sort();
  }
  siteInfo(): HandleSiteInfo {
    return { primary: true, multiPrimary: false, serialNumber: 7, description: 'test node', servers: [{ serverId: 1, address: '127.0.0.1', udpPort: 2641, tcpPort: 2641 }] };
  }
  async secretKeyOf(identity: { handle: string; index: number }): Promise<Uint8Array | undefined> {
    return identity.handle === ADMIN.handle && identity.index === ADMIN.index ? SECRET : undefined;
  }
}

describe('Handle protocol client and server over UDP and TCP', () => {
  const service = new MemoryService();
  let server: HandleProtocolServer;
  const client = new HandleClient({ timeoutMs: 2000, retries: 1 });
  let addr: { address: string; udpPort: number; tcpPort: number };
  const auth = { identity: ADMIN, secretKey: SECRET };

  before(async () => {
    service.handles.set(normalizeHandle('88.118/PUMP-0001'), [value(1, 'URL', 'https://iip.example/devices/pump-1'), value(2, 'EMAIL', 'ops@example.com'), value(3, 'SECRET_NOTE', 'x', false)]);
    service.handles.set(normalizeHandle('88.118/BIG'), [value(1, 'DESC', new Uint8Array(5000).fill(65))]);
    server = await startHandleProtocolServer({ service, udpPort: 0, tcpPort: 0 });
    addr = { address: '127.0.0.1', udpPort: server.udpPort, tcpPort: server.tcpPort };
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test('resolves over UDP, with type and index filters, case-insensitively', async () => {
    const all = await client.resolve(addr, '88.118/pump-0001');
    assert.equal(all.responseCode, 1);
    assert.deepEqual(
      all.values.map((v) => v.index),
      [1, 2],
    );
    assert.equal(Buffer.from(all.values[0]?.data ?? []).toString(), 'https://iip.example/devices/pump-1');
    const byType = await client.resolve(addr, '88.118/PUMP-0001', { types: ['EMAIL'] });
    assert.deepEqual(
      byType.values.map((v) => v.type),
      ['EMAIL'],
    );
    const byIndex = await client.resolve(addr, '88.118/PUMP-0001', { indexes: [1] });
    assert.deepEqual(
      byIndex.values.map((v) => v.index),
      [1],
    );
    assert.equal(server.stats().udpRequests >= 3, true);
  });

  test('errors come back as HandleError with the response code', async () => {
    await assert.rejects(client.resolve(addr, '88.118/NOPE'), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_NOT_FOUND);
    await assert.rejects(client.resolve(addr, '88.118/PUMP-0001', { types: ['NONE'] }), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.VALUES_NOT_FOUND);
  });

  test('a reply too big for one datagram comes back truncated and is fetched again over TCP', async () => {
    const before = server.stats();
    const r = await client.resolve(addr, '88.118/BIG');
    assert.equal(r.values[0]?.data.length, 5000);
    const after = server.stats();
    assert.equal(after.udpTruncated, before.udpTruncated + 1);
    assert.equal(after.tcpRequests, before.tcpRequests + 1);
    // Without a TCP port the client cannot complete and says so.
    await assert.rejects(client.resolve({ address: '127.0.0.1', udpPort: addr.udpPort }, '88.118/BIG'), /truncated/);
  });

  test('resolves over TCP only, and reads the site info', async () => {
    const r = await client.resolve({ address: '127.0.0.1', tcpPort: addr.tcpPort }, '88.118/PUMP-0001');
    assert.equal(r.values.length, 2);
    const site = await client.getSiteInfo(addr);
    assert.deepEqual(toHandleSiteInfo(site), service.siteInfo());
  });

  test('admin operations authenticate by challenge–response (TCP and UDP)', async () => {
    const before = server.stats();
    assert.equal(await client.create(addr, '88.118/NEW-1', [value(1, 'URL', 'https://a')], auth), '88.118/NEW-1');
    await client.addValues(addr, '88.118/NEW-1', [value(2, 'EMAIL', 'a@b')], auth);
    await client.modifyValues(addr, '88.118/NEW-1', [value(1, 'URL', 'https://b')], auth);
    let r = await client.resolve(addr, '88.118/NEW-1');
    assert.deepEqual(
      r.values.map((v) => Buffer.from(v.data).toString()),
      ['https://b', 'a@b'],
    );
    await client.removeValues(addr, '88.118/NEW-1', [2], auth);
    r = await client.resolve(addr, '88.118/NEW-1');
    assert.equal(r.values.length, 1);
    // The same over UDP only, with the other signature algorithms.
    const udpOnly = { address: '127.0.0.1', udpPort: addr.udpPort };
    for (const alg of [DigestAlg.SHA1, DigestAlg.SHA256, DigestAlg.HMAC_SHA1]) await client.addValues(udpOnly, '88.118/NEW-1', [value(10 + alg, 'X', 'y')], { ...auth, alg });
    await assert.rejects(client.create(addr, '88.118/NEW-1', [], auth), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_ALREADY_EXISTS);
    await client.create(addr, '88.118/NEW-1', [value(1, 'URL', 'https://c')], auth, { overwrite: true });
    assert.equal(await client.create(addr, '88.118/M-', [], auth, { mintNewSuffix: true }), `88.118/M-${service.handles.size - 1}`);
    assert.deepEqual(await client.listHandles(addr, '88.118', auth), [...service.handles.keys()].filter((h) => h.startsWith('88.118/')).sort());
    await client.homePrefix(addr, '88.118.8', auth);
    assert.deepEqual(await client.listHomedPrefixes(addr, auth), ['88.118', '88.118.8']);
    await client.unhomePrefix(addr, '88.118.8', auth);
    await client.delete(addr, '88.118/NEW-1', auth);
    await assert.rejects(client.resolve(addr, '88.118/NEW-1'), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_NOT_FOUND);
    assert.equal(server.stats().challenges > before.challenges, true);
  });

  test('a wrong secret or an unknown identity is refused and changes nothing', async () => {
    const before = server.stats().authFailures;
    await assert.rejects(client.create(addr, '88.118/EVIL', [], { identity: ADMIN, secretKey: Buffer.from('wrong') }), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.AUTHENTICATION_FAILED);
    await assert.rejects(client.delete({ address: '127.0.0.1', udpPort: addr.udpPort }, '88.118/PUMP-0001', { identity: { handle: '0.NA/88.118', index: 301 }, secretKey: SECRET }), (e: unknown) => e instanceof HandleError && e.responseCode === ResponseCode.AUTHENTICATION_FAILED);
    assert.equal(service.handles.has(normalizeHandle('88.118/EVIL')), false);
    assert.equal(service.handles.has(normalizeHandle('88.118/PUMP-0001')), true);
    assert.equal(server.stats().authFailures, before + 2);
  });

  test('bad packets are answered with a protocol error or dropped and counted; the server keeps serving', async () => {
    const sock = createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, addr.udpPort, '127.0.0.1', () => r()));
    const before = server.stats();

    await send(Buffer.from([1, 2, 3])); // shorter than an envelope: dropped
    const badLength = Buffer.alloc(44);
    badLength[0] = 2;
    badLength.writeUInt32BE(99, 8); // request id
    badLength.writeUInt32BE(9999, 16); // claims more bytes than sent
    await send(badLength);
    const unknownOp = Buffer.alloc(48);
    unknownOp[0] = 2;
    unknownOp.writeUInt32BE(100, 8);
    unknownOp.writeUInt32BE(28, 16);
    unknownOp.writeUInt32BE(77, 20); // op code 77
    await send(unknownOp);
    const v5 = Buffer.from(unknownOp);
    v5[0] = 5;
    v5.writeUInt32BE(101, 8);
    await send(v5);

    // Still serving, and the replies to the readable packets have arrived by the time this one does.
    const ok = await client.resolve(addr, '88.118/PUMP-0001');
    assert.equal(ok.values.length, 2);
    for (let i = 0; i < 50 && replies.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const byId = new Map(replies.map((b) => [b.readUInt32BE(8), decodeMessage(b)]));
    assert.equal(byId.get(99)?.header.responseCode, ResponseCode.PROTOCOL_ERROR);
    assert.equal(byId.get(100)?.header.responseCode, ResponseCode.OPERATION_NOT_SUPPORTED);
    assert.equal(byId.get(101)?.header.responseCode, ResponseCode.PROTOCOL_ERROR);
    const after = server.stats();
    assert.equal(after.malformed - before.malformed, 4);
    assert.equal(after.dropped - before.dropped, 1);
    sock.close();

    // TCP: a frame claiming 2 GB gets one protocol-error reply and the connection is closed.
    const got = await new Promise<Buffer>((resolve, reject) => {
      const c = connect(addr.tcpPort, '127.0.0.1', () => {
        const f = Buffer.alloc(20);
        f[0] = 2;
        f.writeUInt32BE(555, 8);
        f.writeUInt32BE(0x7fffffff, 16);
        c.write(f);
      });
      const chunks: Buffer[] = [];
      c.on('data', (d) => chunks.push(d));
      c.on('close', () => resolve(Buffer.concat(chunks)));
      c.on('error', reject);
    });
    assert.equal(decodeMessage(got).header.responseCode, ResponseCode.PROTOCOL_ERROR);
    assert.equal((await client.resolve({ address: '127.0.0.1', tcpPort: addr.tcpPort }, '88.118/PUMP-0001')).values.length, 2);
  });
});
