/**
 * The PostgreSQL HandleStore against a throwaway PostgreSQL server (one per file, a fresh database per
 * case): the shared HandleStore conformance suite, and what only a shared server adds — two stores (two
 * processes) writing to one database keep one gap-free log, and one sees the other's homed prefixes after
 * refreshHomed().
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { type HandleStore, openPgHandleStore } from '@iip/storage';
import { type PostgresServer, rejectsIipError, runHandleStoreConformance, startPostgres } from '@iip/testkit';

const started: Promise<PostgresServer> = startPostgres();
after(async () => {
  await (await started).stop();
});

runHandleStoreConformance('postgres', async () => {
  const url = await (await started).createDatabase();
  let store: HandleStore = await openPgHandleStore({ url });
  return {
    get store() {
      return store;
    },
    reopen: async () => {
      await store.close();
      store = await openPgHandleStore({ url });
      return store;
    },
    cleanup: async () => {
      await store.close();
    },
  };
});

it('postgres handle store: two stores on one database write one gap-free, ordered log', async () => {
  const url = await (await started).createDatabase();
  const [a, b] = await Promise.all([openPgHandleStore({ url }), openPgHandleStore({ url })]);
  try {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      writes.push(a.create(`p/a-${i}`, { handle: `p/a-${i}`, values: [] }));
      writes.push(b.transaction(async (tx) => {
        await tx.create(`p/b-${i}`, { handle: `p/b-${i}`, values: [] });
        await tx.create(`p/c-${i}`, { handle: `p/c-${i}`, values: [] });
      }));
    }
    await Promise.all(writes);
    const log = await a.changesSince(0, 1_000);
    assert.deepEqual(log.map((c) => c.seq), Array.from({ length: 60 }, (_, i) => i + 1));
    // Each transaction's two changes are adjacent.
    const keys = log.map((c) => (c.op === 'put' ? c.key : ''));
    for (let i = 0; i < 20; i++) assert.equal(keys.indexOf(`p/c-${i}`), keys.indexOf(`p/b-${i}`) + 1, keys.join(' '));
    assert.equal(await b.count(), 60);
    await a.homePrefix('p');
    assert.equal(b.homedPrefixes().has('p'), false, 'b has not looked yet');
    await b.refreshHomed();
    assert.equal(b.homedPrefixes().has('p'), true);
  } finally {
    await a.close();
    await b.close();
  }
});

it('postgres handle store: inside a transaction, a write on the outer store is refused and a read sees only committed data', async () => {
  const url = await (await started).createDatabase();
  const s = await openPgHandleStore({ url });
  try {
    await s.create('p/old', { handle: 'p/old', values: [] });
    await s.transaction(async (tx) => {
      await tx.create('p/new', { handle: 'p/new', values: [] });
      await rejectsIipError(() => s.create('p/outer', { handle: 'p/outer', values: [] }), 'IIP_ERR_STORAGE_TRANSACTION_MISUSE', /through the transaction/);
      await rejectsIipError(() => s.transaction(async () => undefined), 'IIP_ERR_STORAGE_TRANSACTION_MISUSE', /tx\.transaction/);
      assert.ok(await s.get('p/old'));
      assert.equal(await s.get('p/new'), undefined, 'not committed yet');
      assert.ok(await tx.get('p/new'));
    });
    assert.ok(await s.get('p/new'));
    assert.equal(await s.get('p/outer'), undefined);
    assert.equal(await s.lastSeq(), 2);
  } finally {
    await s.close();
  }
});
