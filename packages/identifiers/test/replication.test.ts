import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { LocalHandleService, httpTransactionLogSource, startMirror, transactionLogSource } from '@iip/identifiers';
import { openSqliteHandleStore } from '@iip/storage';
import { freePort, waitFor } from '@iip/testkit';
import { ROOT, SITE, node, openStore, text } from './service-fixture.js';

test('a mirror converges to the primary after creates, modifies and deletes, and resumes from its last seq after a restart', async (t) => {
  const { service: primary, store: pstore } = await node(t);
  const { store: mstore, file } = await openStore(t, 'mirror.db');
  const source = transactionLogSource(pstore);
  for (let i = 0; i < 30; i++) await primary.create(`88.118/h${i}`, [text(1, 'URL', `u${i}`)], ROOT);
  const mirror = startMirror({ store: mstore, source, intervalMs: 10, batchSize: 7 });
  await mirror.syncOnce();
  assert.equal(await mstore.lastSeq(), await pstore.lastSeq());
  await primary.modifyValues('88.118/h1', [text(1, 'URL', 'changed')], ROOT);
  await primary.delete('88.118/h2', ROOT);
  await primary.addValues('88.118/h3', [text(2, 'EMAIL', 'e@x')], ROOT);
  await waitFor(async () => (await mstore.lastSeq()) === (await pstore.lastSeq()) || undefined, 'the mirror to catch up');
  const served = new LocalHandleService({ store: mstore, role: 'mirror', site: SITE });
  assert.equal(new TextDecoder().decode((await served.resolve('88.118/h1', {}, null))[0]?.data), 'changed');
  await assert.rejects(() => served.resolve('88.118/h2', {}, null));
  assert.deepEqual(await served.resolve('88.118/h3', {}, null), await primary.resolve('88.118/h3', {}, null));
  assert.deepEqual(served.listHomedPrefixes(), ['88.118']);
  await mirror.stop();

  // Restart: a new mirror over the reopened file asks only for what it has not applied.
  await mstore.close();
  await primary.create('88.118/after', [text(1, 'URL', 'late')], ROOT);
  const reopened = openSqliteHandleStore({ file });
  t.after(() => reopened.close());
  const asked: number[] = [];
  const mirror2 = startMirror({
    store: reopened,
    source: {
      changesSince: (since, limit) => {
        asked.push(since);
        return source.changesSince(since, limit);
      },
    },
    intervalMs: 10,
  });
  try {
    await mirror2.syncOnce();
    assert.equal(asked[0], (await pstore.lastSeq()) - 1, 'resumed from the durable seq');
    assert.equal((await reopened.get('88.118/after'))?.handle, '88.118/after');
    assert.equal(mirror2.status().sourceSeq, await pstore.lastSeq());
  } finally {
    await mirror2.stop();
  }
});

test('the HTTP source reads the JSON feed page by page with its Authorization header, and reports refusals', async (t) => {
  const { service: primary, store: pstore } = await node(t);
  for (let i = 0; i < 12; i++) await primary.create(`88.118/w${i}`, [text(1, 'URL', `u${i}`), { ...text(2, 'BIN', ''), data: new Uint8Array([0, 255, 7]) }], ROOT);
  const feed = transactionLogSource(pstore);
  const port = await freePort();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== 'Bearer good') {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'IIP_ERR_HANDLE_AUTH_FAILED', message: 'bad token' }));
      return;
    }
    const body = await feed.changes(Number(url.searchParams.get('since')), Number(url.searchParams.get('limit')));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const { store: mstore } = await openStore(t, 'mirror.db');
  const url = `http://127.0.0.1:${port}/api/replication/changes`;
  const mirror = startMirror({ store: mstore, source: httpTransactionLogSource({ url, auth: 'Bearer good' }), intervalMs: 10, batchSize: 5 });
  // Stopped here, not in t.after: those hooks run first-in first-out, so the fixtures' stores would close first.
  try {
    await mirror.syncOnce();
    assert.equal(await mstore.lastSeq(), await pstore.lastSeq());
    assert.deepEqual(await mstore.get('88.118/w11'), await pstore.get('88.118/w11'), 'binary data survives the JSON feed');
    await assert.rejects(httpTransactionLogSource({ url, auth: 'Bearer bad' }).changesSince(0, 5), /answered 401: bad token/);
    await assert.rejects(httpTransactionLogSource({ url: `http://127.0.0.1:${await freePort()}/x` }).changesSince(0, 5), /unreachable/);
  } finally {
    await mirror.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
