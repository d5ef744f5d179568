// The resolution cache of LocalHandleService (issue 4): it must make repeated resolves cheap and never
// answer with a record that a write — through the service, straight into the store, replicated, or rolled
// back — has changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalHandleService, ResponseCode as RC } from '@iip/identifiers';
import { ROOT, SITE, node, openStore, responseCodeOf, text } from './service-fixture.js';

const dec = new TextDecoder();
const urls = (service: LocalHandleService, handle: string, who: typeof ROOT | null = null): string[] =>
  service.resolve(handle, {}, who).map((v) => `${v.index}=${dec.decode(v.data)}`);

test('cache: repeated resolves are served from memory, in any ASCII case of the handle', async (t) => {
  const { service } = await node(t);
  service.create('88.118/c1', [text(1, 'URL', 'a')], ROOT);
  const before = service.cacheStats();
  for (let i = 0; i < 5; i++) assert.deepEqual(urls(service, i % 2 ? '88.118/C1' : '88.118/c1'), ['1=a']);
  const after = service.cacheStats();
  assert.equal(after.misses - before.misses, 1, 'one store read');
  assert.equal(after.hits - before.hits, 4);
});

test('cache: every write through the service is seen by the next resolve', async (t) => {
  const { service } = await node(t);
  service.create('88.118/w', [text(1, 'URL', 'a')], ROOT);
  assert.deepEqual(urls(service, '88.118/w'), ['1=a']);
  service.modifyValues('88.118/w', [text(1, 'URL', 'b')], ROOT);
  assert.deepEqual(urls(service, '88.118/w'), ['1=b']);
  service.addValues('88.118/w', [text(2, 'EMAIL', 'e')], ROOT);
  assert.deepEqual(urls(service, '88.118/w'), ['1=b', '2=e']);
  service.removeValues('88.118/w', [1], ROOT);
  assert.deepEqual(urls(service, '88.118/w'), ['2=e']);
  service.create('88.118/w', [text(3, 'URL', 'c')], ROOT, { overwrite: true });
  assert.deepEqual(urls(service, '88.118/w'), ['3=c']);
  service.delete('88.118/w', ROOT);
  assert.equal(responseCodeOf(() => service.resolve('88.118/w', {}, null)), RC.HANDLE_NOT_FOUND);
  service.create('88.118/w', [text(4, 'URL', 'd')], ROOT);
  assert.deepEqual(urls(service, '88.118/w'), ['4=d'], 'a cached "not found" goes when the handle is created');
  service.batchRegister([{ handle: '88.118/w2', values: [text(1, 'URL', 'x')] }], ROOT);
  assert.deepEqual(urls(service, '88.118/w2'), ['1=x']);
});

test('cache: writes straight into the store (another service, a mirror applying changes) are seen too', async (t) => {
  const { service, store } = await node(t);
  service.create('88.118/s', [text(1, 'URL', 'a')], ROOT);
  assert.deepEqual(urls(service, '88.118/s'), ['1=a']);
  const other = new LocalHandleService({ store, role: 'secondary', site: SITE, rootAdmins: [ROOT] });
  other.modifyValues('88.118/s', [text(1, 'URL', 'by-other')], ROOT);
  assert.deepEqual(urls(service, '88.118/s'), ['1=by-other']);
  store.put('88.118/s', { handle: '88.118/s', values: [text(1, 'URL', 'raw')] });
  assert.deepEqual(urls(service, '88.118/s'), ['1=raw']);

  // A mirror's store is only ever written by applyChanges.
  const { store: mirrorStore } = await openStore(t, 'mirror.db');
  const mirror = new LocalHandleService({ store: mirrorStore, role: 'mirror', site: SITE });
  mirrorStore.applyChanges(store.changesSince(0, 1000));
  assert.deepEqual(urls(mirror, '88.118/s'), ['1=raw']);
  service.modifyValues('88.118/s', [text(1, 'URL', 'replicated')], ROOT);
  mirrorStore.applyChanges(store.changesSince(mirrorStore.lastSeq(), 1000));
  assert.deepEqual(urls(mirror, '88.118/s'), ['1=replicated']);
  service.delete('88.118/s', ROOT);
  mirrorStore.applyChanges(store.changesSince(mirrorStore.lastSeq(), 1000));
  assert.equal(responseCodeOf(() => mirror.resolve('88.118/s', {}, null)), RC.HANDLE_NOT_FOUND);
});

test('cache: a rolled-back write leaves nothing of itself cached', async (t) => {
  const { service, store } = await node(t);
  service.create('88.118/keep', [text(1, 'URL', 'a')], ROOT);
  assert.equal(responseCodeOf(() => service.resolve('88.118/new', {}, null)), RC.HANDLE_NOT_FOUND);
  assert.deepEqual(urls(service, '88.118/keep'), ['1=a']);
  // An atomic batch: the first item is written (and could be read inside), the second fails, all roll back.
  const results = service.batchRegister(
    [
      { handle: '88.118/new', values: [text(1, 'URL', 'n')] },
      { handle: '88.118/keep', values: [text(1, 'URL', 'dup')] },
    ],
    ROOT,
    { atomic: true },
  );
  assert.equal(results[1]?.ok, false);
  assert.equal(responseCodeOf(() => service.resolve('88.118/new', {}, null)), RC.HANDLE_NOT_FOUND);
  // A transaction around the service that reads its own write through resolve, then fails.
  assert.throws(() =>
    store.transaction(() => {
      service.modifyValues('88.118/keep', [text(1, 'URL', 'uncommitted')], ROOT);
      assert.deepEqual(urls(service, '88.118/keep'), ['1=uncommitted']);
      throw new Error('roll back');
    }),
  );
  assert.deepEqual(urls(service, '88.118/keep'), ['1=a']);
  // The next committed write takes the same change number the rolled-back one had; the answer is still fresh.
  service.modifyValues('88.118/keep', [text(1, 'URL', 'committed')], ROOT);
  assert.deepEqual(urls(service, '88.118/keep'), ['1=committed']);
  // The same, with no read between the rollback and a commit that bypasses the service.
  assert.throws(() =>
    store.transaction(() => {
      store.put('88.118/keep', { handle: '88.118/keep', values: [text(1, 'URL', 'uncommitted-2')] });
      assert.deepEqual(urls(service, '88.118/keep'), ['1=uncommitted-2']);
      throw new Error('roll back');
    }),
  );
  store.put('88.118/keep', { handle: '88.118/keep', values: [text(1, 'URL', 'committed-2')] });
  assert.deepEqual(urls(service, '88.118/keep'), ['1=committed-2']);
});

test('cache: who may read what is decided per call, not cached with the record', async (t) => {
  const { service } = await node(t);
  service.create('88.118/p', [text(1, 'URL', 'public'), text(2, 'NOTE', 'admin-only', { publicRead: false })], ROOT);
  assert.deepEqual(urls(service, '88.118/p', ROOT), ['1=public', '2=admin-only']);
  assert.deepEqual(urls(service, '88.118/p'), ['1=public'], 'anonymous: publicRead only, even from the cache');
  assert.equal(responseCodeOf(() => service.resolve('88.118/p', { indexes: [2] }, null)), RC.AUTHENTICATION_NEEDED);
  assert.deepEqual(urls(service, '88.118/p', ROOT), ['1=public', '2=admin-only']);
});

test('cache: responsibility follows homing and unhoming', async (t) => {
  const { service } = await node(t);
  assert.equal(responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.SERVER_NOT_RESP);
  service.homePrefix('20.500', ROOT);
  assert.equal(responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.HANDLE_NOT_FOUND);
  service.unhomePrefix('20.500', ROOT);
  assert.equal(responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.SERVER_NOT_RESP);
});

test('cache: bounded — the least recently used record goes first; 0 disables it', async (t) => {
  const { store } = await node(t);
  const small = new LocalHandleService({ store, role: 'secondary', site: SITE, rootAdmins: [ROOT], cacheEntries: 2 });
  for (const h of ['a', 'b', 'c']) small.create(`88.118/${h}`, [text(1, 'URL', h)], ROOT);
  for (const h of ['a', 'b', 'a', 'c']) urls(small, `88.118/${h}`);
  assert.equal(small.cacheStats().size, 2);
  const hits = small.cacheStats().hits;
  urls(small, '88.118/a');
  assert.equal(small.cacheStats().hits, hits + 1, 'a was used recently, b was evicted');
  urls(small, '88.118/b');
  assert.equal(small.cacheStats().hits, hits + 1);
  const none = new LocalHandleService({ store, role: 'secondary', site: SITE, cacheEntries: 0 });
  urls(none, '88.118/a');
  urls(none, '88.118/a');
  assert.equal(none.cacheStats().hits, 0);
  assert.equal(none.cacheStats().size, 0);
});
