// The resolver's walk, cache and failover against in-process services. The upstream here is a function
// call, not a socket, so that TTL expiry can run on a fake clock; node-three.test.ts covers the real wire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HS_ALIAS,
  HS_SITE,
  HS_SITE_PREFIX,
  HandleError,
  type HandleService,
  type HandleSiteInfo,
  type HandleValue,
  RecursiveResolver,
  type ResolutionUpstream,
  ResponseCode,
  type ServerAddress,
  PROTOCOL_SITE_CODEC,
} from '@iip/identifiers';
import { MemoryHandleService, textValue } from './rest-memory-service.js';

const ADMIN = { handle: '0.NA/admin', index: 300, secret: 'x' };

function site(port: number, primary = true): HandleSiteInfo {
  return { primary, multiPrimary: false, serialNumber: 1, servers: [{ serverId: 1, address: '127.0.0.1', udpPort: port, tcpPort: port }] };
}

function siteValue(index: number, s: HandleSiteInfo, ttl = 3600): HandleValue {
  return { ...textValue(index, HS_SITE, ''), data: PROTOCOL_SITE_CODEC.encode(s), ttl };
}

class FakeNet implements ResolutionUpstream {
  readonly nodes = new Map<number, HandleService>();
  readonly down = new Set<number>();
  asked: string[] = [];
  async ask(server: ServerAddress, handle: string) {
    const port = server.udpPort ?? 0;
    this.asked.push(`${port} ${handle}`);
    const node = this.nodes.get(port);
    if (!node || this.down.has(port)) throw new Error(`timeout asking ${port}`);
    try {
      return { responseCode: ResponseCode.SUCCESS, values: await node.resolve(handle, {}, null) };
    } catch (e) {
      if (e instanceof HandleError) return { responseCode: e.responseCode, values: [], message: e.message };
      throw e;
    }
  }
}

async function hierarchy() {
  const net = new FakeNet();
  const top = new MemoryHandleService(ADMIN, ['88'], site(1), 'top-level');
  const secondary = new MemoryHandleService(ADMIN, ['88.118'], site(2));
  const mirror = new MemoryHandleService(ADMIN, ['88.118'], site(3, false), 'mirror');
  const enterprise = new MemoryHandleService(ADMIN, ['88.118.8'], site(4), 'enterprise');
  await top.create('0.NA/88.118', [siteValue(1, site(2)), siteValue(2, site(3, false))], ADMIN);
  for (const s of [secondary, mirror]) {
    await s.create('0.NA/88.118.8', [siteValue(1, site(4))], ADMIN);
    await s.create('88.118/LINE-1', [textValue(1, 'URL', 'https://line/1', { ttl: 60 })], ADMIN);
  }
  await enterprise.create('88.118.8/PUMP-0001', [textValue(1, 'URL', 'https://pump/1', { ttl: 120 }), textValue(2, 'EMAIL', 'a@b')], ADMIN);
  net.nodes.set(1, top);
  net.nodes.set(2, secondary);
  net.nodes.set(3, mirror);
  net.nodes.set(4, enterprise);
  return { net, top, secondary, enterprise };
}

describe('RecursiveResolver (in-process hierarchy)', () => {
  it('walks delegations from the top level down, most specific prefix first, then answers from cache', async () => {
    const { net } = await hierarchy();
    let now = 1_000_000;
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net, now: () => now });
    const values = await r.resolve('88.118.8/PUMP-0001');
    assert.deepEqual(
      values.map((v) => v.index),
      [1, 2],
    );
    assert.deepEqual(net.asked, ['1 0.NA/88.118.8', '1 0.NA/88.118', '2 0.NA/88.118.8', '4 88.118.8/PUMP-0001']);
    assert.deepEqual(r.stats(), { hits: 0, misses: 1, upstreamQueries: 4, failovers: 0, cacheEntries: 5 });
    const again = await r.resolve('88.118.8/pump-0001', { types: ['EMAIL'] });
    assert.deepEqual(
      again.map((v) => v.type),
      ['EMAIL'],
    );
    assert.equal(r.stats().upstreamQueries, 4, 'the second resolution is served from the cache');
    assert.equal(r.stats().hits, 1);
    // The record's smallest TTL is 120 s; after it, the answer is fetched again (the delegations, 3600 s, are not).
    now += 121_000;
    await r.resolve('88.118.8/PUMP-0001');
    assert.equal(r.stats().upstreamQueries, 5);
    assert.equal(net.asked.at(-1), '4 88.118.8/PUMP-0001');
    await assert.rejects(r.resolve('88.118.8/PUMP-0001', { types: ['NOPE'] }), (e: HandleError) => e.responseCode === ResponseCode.VALUES_NOT_FOUND);
  });

  it('caches "not found" briefly', async () => {
    const { net } = await hierarchy();
    let now = 1_000_000;
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net, now: () => now, cache: { negativeTtlSeconds: 10 } });
    await assert.rejects(r.resolve('88.118.8/NOPE'), (e: HandleError) => e.responseCode === ResponseCode.HANDLE_NOT_FOUND);
    const q = r.stats().upstreamQueries;
    await assert.rejects(r.resolve('88.118.8/NOPE'), (e: HandleError) => e.responseCode === ResponseCode.HANDLE_NOT_FOUND);
    assert.equal(r.stats().upstreamQueries, q);
    now += 11_000;
    await assert.rejects(r.resolve('88.118.8/NOPE'));
    assert.equal(r.stats().upstreamQueries, q + 1);
  });

  it('fails over to the mirror site when the primary does not answer', async () => {
    const { net } = await hierarchy();
    net.down.add(2);
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net });
    const v = await r.resolve('88.118/LINE-1');
    assert.equal(new TextDecoder().decode(v[0]?.data), 'https://line/1');
    assert.ok(net.asked.includes('3 88.118/LINE-1'));
    assert.equal(r.stats().failovers, 1);
    await r.resolve('88.118.8/PUMP-0001');
    assert.ok(net.asked.includes('3 0.NA/88.118.8'), 'the delegation is read from the mirror too');
  });

  it('reports unreachable when no server of any site answers', async () => {
    const { net } = await hierarchy();
    net.down.add(2);
    net.down.add(3);
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net });
    await assert.rejects(r.resolve('88.118/LINE-1'), (e: HandleError) => e.code === 'IIP_ERR_HANDLE_UNREACHABLE' && /127\.0\.0\.1:2/.test(e.message));
  });

  it('resolves prefix handles at the service of their parent', async () => {
    const { net } = await hierarchy();
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net });
    const v = await r.resolve('0.NA/88.118.8');
    assert.equal(v[0]?.type, HS_SITE);
    assert.equal(net.asked.at(-1), '2 0.NA/88.118.8');
  });

  it('serves a derived prefix without a prefix handle from its ancestor\'s HS_SITE.PREFIX sites', async () => {
    const { net, top } = await hierarchy();
    // 88.200 is homed at node 6; its derived prefixes (88.200.x) at node 7, which has no 0.NA/88.200.5.
    await top.create('0.NA/88.200', [siteValue(1, site(6)), { ...siteValue(2, site(7)), type: HS_SITE_PREFIX }], ADMIN);
    const parent = new MemoryHandleService(ADMIN, ['88.200'], site(6));
    const derived = new MemoryHandleService(ADMIN, ['88.200.5'], site(7), 'enterprise');
    await parent.create('88.200/P', [textValue(1, 'URL', 'https://parent')], ADMIN);
    await derived.create('88.200.5/X', [textValue(1, 'URL', 'https://derived')], ADMIN);
    net.nodes.set(6, parent);
    net.nodes.set(7, derived);
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net });
    const v = await r.resolve('88.200.5/X');
    assert.equal(new TextDecoder().decode(v[0]?.data), 'https://derived');
    assert.deepEqual(net.asked, ['1 0.NA/88.200.5', '1 0.NA/88.200', '7 0.NA/88.200.5', '7 88.200.5/X']);
    // The prefix itself still goes to its HS_SITE.
    const p = await r.resolve('88.200/P');
    assert.equal(new TextDecoder().decode(p[0]?.data), 'https://parent');
    assert.equal(net.asked.at(-1), '6 88.200/P');
  });

  it('follows HS_ALIAS to the handle it names, unless HS_ALIAS is asked for; refuses loops', async () => {
    const { net, secondary } = await hierarchy();
    const alias = (index: number, target: string) => ({ ...textValue(index, HS_ALIAS, target) });
    await secondary.create('88.118/OLD-PUMP', [alias(1, '88.118.8/PUMP-0001')], ADMIN);
    await secondary.create('88.118/LOOP-A', [alias(1, '88.118/LOOP-B')], ADMIN);
    await secondary.create('88.118/LOOP-B', [alias(1, '88.118/loop-a')], ADMIN);
    const r = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net });
    const v = await r.resolve('88.118/OLD-PUMP', { types: ['URL'] });
    assert.equal(new TextDecoder().decode(v[0]?.data), 'https://pump/1');
    assert.ok(net.asked.includes('4 88.118.8/PUMP-0001'), 'the target is resolved at its own node');
    const own = await r.resolve('88.118/OLD-PUMP', { types: [HS_ALIAS] });
    assert.equal(new TextDecoder().decode(own[0]?.data), '88.118.8/PUMP-0001');
    await assert.rejects(r.resolve('88.118/LOOP-A'), (e: HandleError) => e.responseCode === ResponseCode.RECURSION_COUNT_TOO_HIGH && e.code === 'IIP_ERR_HANDLE_TOO_MANY_REFERRALS' && /LOOP-A → 88.118\/LOOP-B → 88.118\/loop-a/.test(e.message));
    const raw = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: 1 }], upstream: net, followAliases: false });
    assert.equal((await raw.resolve('88.118/OLD-PUMP'))[0]?.type, HS_ALIAS);
  });
});
