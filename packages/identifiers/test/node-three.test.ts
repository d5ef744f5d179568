// Three real nodes on 127.0.0.1 (top level, secondary 88.118, enterprise 88.118.8) and a cold resolver
// that knows only the top level: it must find 88.118.8/PUMP-0001 through two prefix referrals, then answer
// the second time from its cache. Also the resolver as a service (binary and REST) in front of them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  HandleClient,
  type HandleNode,
  RecursiveResolver,
  type ResolverService,
  basicAuthorization,
  registerPrefix,
  startHandleNode,
  startResolverService,
} from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';

async function ports() {
  return { udpPort: await freePort(), tcpPort: await freePort(), httpPort: await freePort() };
}

describe('three-node hierarchy: top level → secondary 88.118 → enterprise 88.118.8', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let top: HandleNode;
  let secondary: HandleNode;
  let enterprise: HandleNode;
  const client = new HandleClient({ timeoutMs: 1000 });
  const TOP_ADMIN = { handle: '0.NA/88', index: 300, secretKey: 'top-secret' };
  const SEC_ADMIN = { handle: '0.NA/88.118', index: 300, secretKey: 'secondary-secret' };
  const ENT_ADMIN = { handle: '0.NA/88.118.8', index: 300, secretKey: 'enterprise-secret' };

  before(async () => {
    const dir = await tempDir('iip-id-three-');
    cleanups.push(dir.cleanup);
    top = await startHandleNode({ role: 'top-level', dataDir: `${dir.path}/top`, admin: TOP_ADMIN, ...(await ports()) });
    cleanups.push(() => top.close());
    secondary = await startHandleNode({ role: 'secondary', prefix: '88.118', dataDir: `${dir.path}/sec`, admin: SEC_ADMIN, ...(await ports()) });
    cleanups.push(() => secondary.close());
    enterprise = await startHandleNode({ role: 'enterprise', prefix: '88.118.8', dataDir: `${dir.path}/ent`, admin: ENT_ADMIN, ...(await ports()) });
    cleanups.push(() => enterprise.close());

    // Delegations over the binary protocol, as authenticated admins of the parent nodes.
    await registerPrefix({ server: { address: '127.0.0.1', tcpPort: top.tcpPort, udpPort: top.udpPort }, admin: TOP_ADMIN }, '88.118', secondary.site);
    await registerPrefix({ server: { address: '127.0.0.1', tcpPort: secondary.tcpPort, udpPort: secondary.udpPort }, admin: SEC_ADMIN }, '88.118.8', enterprise.site);

    // The enterprise registers its identifier over its own REST API.
    const res = await fetch(`http://127.0.0.1:${enterprise.httpPort}/api/handles/88.118.8/PUMP-0001`, {
      method: 'PUT',
      headers: { authorization: basicAuthorization(ENT_ADMIN, ENT_ADMIN.secretKey), 'content-type': 'application/json' },
      body: JSON.stringify({ values: [{ index: 1, type: 'URL', data: 'https://factory.example/pumps/0001' }, { index: 2, type: 'MODEL', data: 'CP-200', ttl: 600 }] }),
    });
    assert.equal(res.status, 201, await res.text());
  });

  after(async () => {
    client.close();
    for (const c of cleanups.reverse()) await c();
  });

  it('a cold resolver with only the top level as root resolves through referrals, then from cache', async () => {
    const resolver = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: top.udpPort, tcpPort: top.tcpPort }] });
    try {
      const values = await resolver.resolve('88.118.8/PUMP-0001');
      assert.deepEqual(
        values.map((v) => [v.index, v.type, new TextDecoder().decode(v.data)]),
        [
          [1, 'URL', 'https://factory.example/pumps/0001'],
          [2, 'MODEL', 'CP-200'],
        ],
      );
      const cold = resolver.stats();
      assert.equal(cold.misses, 1);
      // top: 0.NA/88.118.8 (not there), 0.NA/88.118 (→ secondary); secondary: 0.NA/88.118.8 (→ enterprise); enterprise: the handle.
      assert.equal(cold.upstreamQueries, 4);
      const again = await resolver.resolve('88.118.8/pump-0001', { types: ['MODEL'] });
      assert.equal(new TextDecoder().decode(again[0]?.data), 'CP-200');
      const warm = resolver.stats();
      assert.equal(warm.hits, 1);
      assert.equal(warm.upstreamQueries, cold.upstreamQueries, 'the second resolution asked no server');
      // A sibling handle under the same prefix reuses the cached delegations: one query, to the enterprise.
      await assert.rejects(resolver.resolve('88.118.8/NOT-THERE'), /not/i);
      assert.equal(resolver.stats().upstreamQueries, cold.upstreamQueries + 1);
    } finally {
      resolver.close();
    }
  });

  it('the top level holds delegations, not enterprise handles', async () => {
    await assert.rejects(client.resolve({ address: '127.0.0.1', udpPort: top.udpPort }, '88.118.8/PUMP-0001'), (e: { responseCode?: number }) => e.responseCode === 100 || e.responseCode === 301);
    const direct = await client.resolve({ address: '127.0.0.1', udpPort: enterprise.udpPort }, '88.118.8/PUMP-0001');
    assert.equal(direct.values.length, 2);
  });

  it('the resolver service answers binary and REST clients', async () => {
    const resolver = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: top.udpPort, tcpPort: top.tcpPort }] });
    let svc: ResolverService | undefined;
    try {
      svc = await startResolverService({ resolver, ...(await ports()) });
      const viaUdp = await client.resolve({ address: '127.0.0.1', udpPort: svc.udpPort }, '88.118.8/PUMP-0001');
      assert.equal(viaUdp.values.length, 2);
      const viaTcp = await client.resolve({ address: '127.0.0.1', tcpPort: svc.tcpPort }, '88.118.8/PUMP-0001', { indexes: [2] });
      assert.deepEqual(
        viaTcp.values.map((v) => v.index),
        [2],
      );
      const res = await fetch(`http://127.0.0.1:${svc.httpPort}/api/handles/88.118.8/PUMP-0001?type=URL`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { responseCode: number; values: Array<{ data: { value: string } }> };
      assert.equal(body.responseCode, 1);
      assert.equal(body.values[0]?.data.value, 'https://factory.example/pumps/0001');
      const missing = await fetch(`http://127.0.0.1:${svc.httpPort}/api/handles/88.118.8/NOPE`);
      assert.equal(missing.status, 404);
      assert.equal(resolver.stats().hits >= 2, true);
      // An answer over 512 bytes comes from the resolver service in 512-byte packets, which a client reading
      // UDP as Handle.Net's does (512-byte buffer) puts back together.
      const long = 'https://factory.example/manuals/' + 'x'.repeat(1500);
      const put = await fetch(`http://127.0.0.1:${enterprise.httpPort}/api/handles/88.118.8/LONG-1`, {
        method: 'PUT',
        headers: { authorization: basicAuthorization(ENT_ADMIN, ENT_ADMIN.secretKey), 'content-type': 'application/json' },
        body: JSON.stringify({ values: [{ index: 1, type: 'URL', data: long }] }),
      });
      assert.equal(put.status, 201, await put.text());
      const packetReader = new HandleClient({ timeoutMs: 1000, retries: 0, referencePacketReads: true });
      try {
        const viaPackets = await packetReader.resolve({ address: '127.0.0.1', udpPort: svc.udpPort }, '88.118.8/LONG-1');
        assert.equal(new TextDecoder().decode(viaPackets.values[0]?.data), long);
      } finally {
        packetReader.close();
      }
    } finally {
      await svc?.close();
      resolver.close();
    }
  });
});
