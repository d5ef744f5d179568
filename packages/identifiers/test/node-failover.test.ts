// Disaster recovery: the secondary node for 88.118 has a mirror that pulls its transaction log over HTTP;
// the top level's delegation lists both sites. With the primary stopped, a resolver whose cache is empty
// still resolves 88.118 handles, through the mirror.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HandleNode, RecursiveResolver, basicAuthorization, registerPrefix, startHandleNode } from '@iip/identifiers';
import { freePort, tempDir, waitFor } from '@iip/testkit';

async function ports() {
  return { udpPort: await freePort(), tcpPort: await freePort(), httpPort: await freePort() };
}

describe('failover: secondary primary + mirror', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let top: HandleNode;
  let primary: HandleNode;
  let mirror: HandleNode;
  let primaryStopped = false;
  const TOP_ADMIN = { handle: '0.NA/88', index: 300, secretKey: 'top-secret' };
  const SEC_ADMIN = { handle: '0.NA/88.118', index: 300, secretKey: 'secondary-secret' };

  before(async () => {
    const dir = await tempDir('iip-id-failover-');
    cleanups.push(dir.cleanup);
    top = await startHandleNode({ role: 'top-level', dataDir: `${dir.path}/top`, admin: TOP_ADMIN, ...(await ports()) });
    cleanups.push(() => top.close());
    primary = await startHandleNode({ role: 'secondary', prefix: '88.118', dataDir: `${dir.path}/primary`, admin: SEC_ADMIN, ...(await ports()) });
    cleanups.push(async () => {
      if (!primaryStopped) await primary.close();
    });
    mirror = await startHandleNode({
      role: 'mirror',
      prefix: '88.118',
      dataDir: `${dir.path}/mirror`,
      admin: SEC_ADMIN,
      primaryUrl: `http://127.0.0.1:${primary.httpPort}`,
      mirrorIntervalMs: 50,
      ...(await ports()),
    });
    cleanups.push(() => mirror.close());
    await registerPrefix({ server: { address: '127.0.0.1', tcpPort: top.tcpPort, udpPort: top.udpPort }, admin: TOP_ADMIN }, '88.118', [primary.site, mirror.site]);
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('the mirror copies the primary and answers when the primary is down', async () => {
    const res = await fetch(`http://127.0.0.1:${primary.httpPort}/api/handles/88.118/LINE-7`, {
      method: 'PUT',
      headers: { authorization: basicAuthorization(SEC_ADMIN, SEC_ADMIN.secretKey), 'content-type': 'application/json' },
      body: JSON.stringify({ values: [{ index: 1, type: 'URL', data: 'https://park.example/lines/7' }] }),
    });
    assert.equal(res.status, 201, await res.text());
    await waitFor(async () => {
      try {
        return (await mirror.service.resolve('88.118/LINE-7', {}, null)).length === 1;
      } catch {
        return false;
      }
    }, 'the mirror to replicate 88.118/LINE-7');

    // The mirror refuses writes: it is read-only.
    const write = await fetch(`http://127.0.0.1:${mirror.httpPort}/api/handles/88.118/LINE-8`, {
      method: 'PUT',
      headers: { authorization: basicAuthorization(SEC_ADMIN, SEC_ADMIN.secretKey), 'content-type': 'application/json' },
      body: JSON.stringify({ values: [{ index: 1, type: 'URL', data: 'x' }] }),
    });
    assert.equal(write.status, 501);

    // Compacting the primary's log while the mirror follows: superseded versions go, the mirror still
    // ends with the newest one; only an authenticated administrator may compact.
    const auth = basicAuthorization(SEC_ADMIN, SEC_ADMIN.secretKey);
    for (let v = 2; v <= 4; v++) {
      const put = await fetch(`http://127.0.0.1:${primary.httpPort}/api/handles/88.118/LINE-9`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ values: [{ index: 1, type: 'URL', data: `https://park.example/lines/9/v${v}` }] }),
      });
      assert.ok(put.ok, await put.text());
    }
    assert.equal((await fetch(`http://127.0.0.1:${primary.httpPort}/api/replication/compact`, { method: 'POST' })).status, 401);
    const compacted = await fetch(`http://127.0.0.1:${primary.httpPort}/api/replication/compact`, { method: 'POST', headers: { authorization: auth } });
    const report = (await compacted.json()) as { removed: number; remaining: number };
    assert.equal(compacted.status, 200);
    assert.ok(report.removed >= 2, JSON.stringify(report));
    await waitFor(async () => {
      try {
        return new TextDecoder().decode((await mirror.service.resolve('88.118/LINE-9', {}, null))[0]?.data) === 'https://park.example/lines/9/v4';
      } catch {
        return false;
      }
    }, 'the mirror to reach the newest LINE-9 after compaction');

    const resolver = new RecursiveResolver({ roots: [{ address: '127.0.0.1', udpPort: top.udpPort, tcpPort: top.tcpPort }], timeoutMs: 500 });
    try {
      const before = await resolver.resolve('88.118/LINE-7');
      assert.equal(new TextDecoder().decode(before[0]?.data), 'https://park.example/lines/7');
      assert.equal(resolver.stats().failovers, 0, 'with the primary up, the primary answers');

      await primary.close();
      primaryStopped = true;
      resolver.clearCache();

      const after = await resolver.resolve('88.118/LINE-7');
      assert.equal(new TextDecoder().decode(after[0]?.data), 'https://park.example/lines/7');
      assert.ok(resolver.stats().failovers >= 1, 'the primary did not answer and the mirror did');
    } finally {
      resolver.close();
    }
  });
});
