import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type StoredHandleValue, openSqliteHandleStore } from '@iip/storage';
import { tempDir } from '@iip/testkit';

const perms = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };
function val(index: number, type: string, text: string, extra: Partial<StoredHandleValue> = {}): StoredHandleValue {
  return { index, type, data: new TextEncoder().encode(text), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms, ...extra };
}

async function fresh(t: import('node:test').TestContext) {
  const dir = await tempDir('iip-hstore-');
  const store = openSqliteHandleStore({ file: join(dir.path, 'handles.db') });
  t.after(async () => {
    store.close();
    await dir.cleanup();
  });
  return { store, file: join(dir.path, 'handles.db') };
}

test('values round-trip exactly, including binary data, references, TTL kinds and permission bits', async (t) => {
  const { store } = await fresh(t);
  const values: StoredHandleValue[] = [
    val(1, 'URL', 'https://example.com/中文'),
    val(2, 'BIN', '', { data: new Uint8Array([0, 255, 1, 128]), ttlType: 'absolute', ttl: 4_000_000_000, references: [{ handle: '0.NA/88', index: 300 }], permissions: { adminRead: false, adminWrite: true, publicRead: false, publicWrite: true } }),
  ];
  assert.equal(store.create('88.118/a', { handle: '88.118/A', values }), true);
  assert.deepEqual(store.get('88.118/a'), { handle: '88.118/A', values });
  assert.equal(store.get('88.118/A'), undefined, 'the store compares keys; the caller normalizes');
  assert.equal(store.create('88.118/a', { handle: '88.118/a', values: [] }), false);
});

test('value changes are atomic and report the offending index', async (t) => {
  const { store } = await fresh(t);
  store.create('p/x', { handle: 'p/x', values: [val(1, 'URL', 'a')] });
  assert.deepEqual(store.addValues('p/x', [val(2, 'EMAIL', 'b'), val(1, 'URL', 'dup')]), { ok: false, reason: 'index-exists', index: 1 });
  assert.equal(store.get('p/x')?.values.length, 1, 'nothing added when one index clashes');
  assert.equal(store.addValues('p/x', [val(3, 'EMAIL', 'c'), val(2, 'EMAIL', 'b')]).ok, true);
  assert.deepEqual(store.get('p/x')?.values.map((v) => v.index), [1, 2, 3]);
  assert.deepEqual(store.modifyValues('p/x', [val(9, 'URL', 'z')]), { ok: false, reason: 'index-not-found', index: 9 });
  assert.equal(store.modifyValues('p/x', [val(2, 'EMAIL', 'new')]).ok, true);
  assert.equal(new TextDecoder().decode(store.get('p/x')?.values[1]?.data), 'new');
  assert.deepEqual(store.removeValues('p/x', [3, 7]), { ok: false, reason: 'index-not-found', index: 7 });
  assert.equal(store.removeValues('p/x', [3]).ok, true);
  assert.deepEqual(store.addValues('p/none', [val(1, 'URL', 'a')]), { ok: false, reason: 'handle-not-found' });
});

test('listing is per exact prefix, in key order, paged by offset or by cursor, with an O(1) total', async (t) => {
  const { store } = await fresh(t);
  store.transaction(() => {
    for (let i = 0; i < 25; i++) store.create(`88.118/item-${String(i).padStart(2, '0')}`, { handle: `88.118/item-${String(i).padStart(2, '0')}`, values: [] });
    store.create('88.118.8/other', { handle: '88.118.8/other', values: [] });
    store.create('88.1180/other', { handle: '88.1180/other', values: [] });
  });
  const first = store.list('88.118', { limit: 10 });
  assert.equal(first.total, 25);
  assert.deepEqual(first.handles.slice(0, 2), ['88.118/item-00', '88.118/item-01']);
  const third = store.list('88.118', { limit: 10, offset: 20 });
  assert.equal(third.handles.length, 5);
  const second = store.list('88.118', { limit: 10, after: first.keys.at(-1) });
  assert.equal(second.handles[0], '88.118/item-10');
  assert.equal(store.list('88.118.8', { limit: 10 }).total, 1);
  assert.equal(store.count(), 27);
  store.delete('88.118/item-00');
  assert.equal(store.list('88.118', { limit: 1 }).total, 24);
  store.put('88.118/item-01', { handle: '88.118/item-01', values: [val(1, 'URL', 'x')] });
  assert.equal(store.list('88.118', { limit: 1 }).total, 24, 'replacing does not count twice');
});

test('every change is in the transaction log, in order; a mirror store applying it converges and skips repeats', async (t) => {
  const { store } = await fresh(t);
  const { store: mirror, file } = await fresh(t);
  store.homePrefix('88.118');
  store.create('88.118/a', { handle: '88.118/a', values: [val(1, 'URL', 'a')] });
  store.addValues('88.118/a', [val(2, 'URL', 'b')]);
  store.create('88.118/b', { handle: '88.118/b', values: [] });
  store.delete('88.118/b');
  store.putTemplate({ id: 'pump', document: { name: 'Pump', items: [] } });
  store.unhomePrefix('88.118');
  store.homePrefix('88.118.8');
  const log = store.changesSince(0, 100);
  assert.deepEqual(log.map((c) => c.op), ['home', 'put', 'put', 'put', 'delete', 'template-put', 'unhome', 'home']);
  assert.deepEqual(log.map((c) => c.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(store.lastSeq(), 8);
  assert.equal(mirror.applyChanges(log.slice(0, 5)), 5);
  assert.equal(mirror.applyChanges(log), 8, 'the overlap is skipped');
  assert.deepEqual(mirror.get('88.118/a'), store.get('88.118/a'));
  assert.equal(mirror.get('88.118/b'), undefined);
  assert.deepEqual([...mirror.homedPrefixes()], ['88.118.8']);
  assert.deepEqual(mirror.getTemplate('pump'), { id: 'pump', document: { name: 'Pump', items: [] } });
  assert.deepEqual(mirror.changesSince(0, 100), log, 'the mirror keeps the primary seq numbers and can be a source itself');
  mirror.close();
  const reopened = openSqliteHandleStore({ file });
  t.after(() => reopened.close());
  assert.equal(reopened.lastSeq(), 8);
  assert.deepEqual([...reopened.homedPrefixes()], ['88.118.8']);
});

test('a failing transaction leaves neither rows nor log entries behind', async (t) => {
  const { store } = await fresh(t);
  assert.throws(() =>
    store.transaction(() => {
      store.create('p/a', { handle: 'p/a', values: [] });
      throw new Error('abort');
    }),
  );
  assert.equal(store.get('p/a'), undefined);
  assert.deepEqual(store.changesSince(0, 10), []);
  assert.equal(store.lastSeq(), 0);
  store.create('p/b', { handle: 'p/b', values: [] });
  assert.deepEqual(store.changesSince(0, 10).map((c) => c.seq), [1], 'no gap after a rollback');
});
