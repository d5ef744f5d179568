// The SQLite HandleStore against the handle-store conformance suite (@iip/testkit), plus what only this
// adapter promises: a call on the outer store from inside one of its transactions is refused instead of
// waiting for itself (or, on the one connection, reading what may still roll back).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type HandleStore, openSqliteHandleStore } from '@iip/storage';
import { type HandleStoreFixture, rejectsIipError, runHandleStoreConformance, tempDir } from '@iip/testkit';

async function fixture(): Promise<HandleStoreFixture> {
  const dir = await tempDir('iip-hstore-');
  const file = join(dir.path, 'handles.db');
  let current: HandleStore = openSqliteHandleStore({ file });
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = openSqliteHandleStore({ file });
      return current;
    },
    cleanup: async () => {
      await current.close();
      await dir.cleanup();
    },
  };
}

runHandleStoreConformance('sqlite', fixture);
runHandleStoreConformance('sqlite :memory:', async () => {
  const store = openSqliteHandleStore({ file: ':memory:' });
  return { store, cleanup: () => store.close() };
});

test('inside a transaction, the outer store refuses reads, writes and new transactions (they belong on tx)', async (t) => {
  const fx = await fixture();
  t.after(() => fx.cleanup());
  const s = fx.store;
  await s.create('p/a', { handle: 'p/a', values: [] });
  await s.transaction(async (tx) => {
    await tx.delete('p/a');
    await rejectsIipError(() => s.get('p/a'), 'IIP_ERR_STORAGE_TRANSACTION_MISUSE', /read went to the store/);
    await rejectsIipError(() => s.create('p/b', { handle: 'p/b', values: [] }), 'IIP_ERR_STORAGE_TRANSACTION_MISUSE', /write went to the store/);
    await rejectsIipError(() => s.transaction(async () => undefined), 'IIP_ERR_STORAGE_TRANSACTION_MISUSE', /tx\.transaction/);
  });
  assert.equal(await s.get('p/a'), undefined);
  assert.equal(await s.get('p/b'), undefined);
  assert.equal(await s.lastSeq(), 2);
});

test('committedSeq() follows commits only, never a change still open or rolled back', async (t) => {
  const fx = await fixture();
  t.after(() => fx.cleanup());
  const s = fx.store as ReturnType<typeof openSqliteHandleStore>;
  await s.create('p/a', { handle: 'p/a', values: [] });
  assert.equal(s.committedSeq(), 1);
  await assert.rejects(() =>
    s.transaction(async (tx) => {
      await tx.create('p/b', { handle: 'p/b', values: [] });
      assert.equal(s.committedSeq(), 1, 'not while the transaction is open');
      throw new Error('abort');
    }),
  );
  assert.equal(s.committedSeq(), 1);
  await s.transaction(async (tx) => {
    await tx.create('p/c', { handle: 'p/c', values: [] });
  });
  assert.equal(s.committedSeq(), 2);
});
