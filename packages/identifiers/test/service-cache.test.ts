// The resolution cache of LocalHandleService (issue 4): it must make repeated resolves cheap and never
// answer with a record that a write — through the service, straight into the store, replicated, or rolled
// back — has changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalHandleService, ResponseCode as RC } from '@iip/identifiers';
import { ROOT, SITE, node, openStore, responseCodeOf, text } from './service-fixture.js';

const dec = new TextDecoder();
const urls = async (service: LocalHandleService, handle: string, who: typeof ROOT | null = null): Promise<string[]> =>
  (await service.resolve(handle, {}, who)).map((v) => `${v.index}=${dec.decode(v.data)}`);

test('cache: repeated resolves are served from memory, in any ASCII case of the handle', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/c1', [text(1, 'URL', 'a')], ROOT);
  const before = service.cacheStats();
  for (let i = 0; i < 5; i++) assert.deepEqual(await urls(service, i % 2 ? '88.118/C1' : '88.118/c1'), ['1=a']);
  const after = service.cacheStats();
  assert.equal(after.misses - before.misses, 1, 'one store read');
  assert.equal(after.hits - before.hits, 4);
});

test('cache: every write through the service is seen by the next resolve', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/w', [text(1, 'URL', 'a')], ROOT);
  assert.deepEqual(await urls(service, '88.118/w'), ['1=a']);
  await service.modifyValues('88.118/w', [text(1, 'URL', 'b')], ROOT);
  assert.deepEqual(await urls(service, '88.118/w'), ['1=b']);
  await service.addValues('88.118/w', [text(2, 'EMAIL', 'e')], ROOT);
  assert.deepEqual(await urls(service, '88.118/w'), ['1=b', '2=e']);
  await service.removeValues('88.118/w', [1], ROOT);
  assert.deepEqual(await urls(service, '88.118/w'), ['2=e']);
  await service.create('88.118/w', [text(3, 'URL', 'c')], ROOT, { overwrite: true });
  assert.deepEqual(await urls(service, '88.118/w'), ['3=c']);
  await service.delete('88.118/w', ROOT);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/w', {}, null)), RC.HANDLE_NOT_FOUND);
  await service.create('88.118/w', [text(4, 'URL', 'd')], ROOT);
  assert.deepEqual(await urls(service, '88.118/w'), ['4=d'], 'a cached "not found" goes when the handle is created');
  await service.batchRegister([{ handle: '88.118/w2', values: [text(1, 'URL', 'x')] }], ROOT);
  assert.deepEqual(await urls(service, '88.118/w2'), ['1=x']);
});

test('cache: writes straight into the store (another service, a mirror applying changes) are seen too', async (t) => {
  const { service, store } = await node(t);
  await service.create('88.118/s', [text(1, 'URL', 'a')], ROOT);
  assert.deepEqual(await urls(service, '88.118/s'), ['1=a']);
  const other = new LocalHandleService({ store, role: 'secondary', site: SITE, rootAdmins: [ROOT] });
  await other.modifyValues('88.118/s', [text(1, 'URL', 'by-other')], ROOT);
  assert.deepEqual(await urls(service, '88.118/s'), ['1=by-other']);
  await store.put('88.118/s', { handle: '88.118/s', values: [text(1, 'URL', 'raw')] });
  assert.deepEqual(await urls(service, '88.118/s'), ['1=raw']);

  // A mirror's store is only ever written by applyChanges.
  const { store: mirrorStore } = await openStore(t, 'mirror.db');
  const mirror = new LocalHandleService({ store: mirrorStore, role: 'mirror', site: SITE });
  await mirrorStore.applyChanges(await store.changesSince(0, 1000));
  assert.deepEqual(await urls(mirror, '88.118/s'), ['1=raw']);
  await service.modifyValues('88.118/s', [text(1, 'URL', 'replicated')], ROOT);
  await mirrorStore.applyChanges(await store.changesSince(await mirrorStore.lastSeq(), 1000));
  assert.deepEqual(await urls(mirror, '88.118/s'), ['1=replicated']);
  await service.delete('88.118/s', ROOT);
  await mirrorStore.applyChanges(await store.changesSince(await mirrorStore.lastSeq(), 1000));
  assert.equal(await responseCodeOf(() => mirror.resolve('88.118/s', {}, null)), RC.HANDLE_NOT_FOUND);
});

test('cache: a rolled-back write leaves nothing of itself cached', async (t) => {
  const { service, store } = await node(t);
  await service.create('88.118/keep', [text(1, 'URL', 'a')], ROOT);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/new', {}, null)), RC.HANDLE_NOT_FOUND);
  assert.deepEqual(await urls(service, '88.118/keep'), ['1=a']);
  // An atomic batch: the first item is written (and could be read inside), the second fails, all roll back.
  const results = await service.batchRegister(
    [
      { handle: '88.118/new', values: [text(1, 'URL', 'n')] },
      { handle: '88.118/keep', values: [text(1, 'URL', 'dup')] },
    ],
    ROOT,
    { atomic: true },
  );
  assert.equal(results[1]?.ok, false);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/new', {}, null)), RC.HANDLE_NOT_FOUND);
  // A transaction on the store writes and then fails; the service is asked meanwhile.
  const doomed = async (value: string) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let wrote!: () => void;
    const written = new Promise<void>((r) => {
      wrote = r;
    });
    const tx = store.transaction(async (t) => {
      await t.put('88.118/keep', { handle: '88.118/keep', values: [text(1, 'URL', value)] });
      wrote();
      await gate;
      throw new Error('roll back');
    });
    await written;
    const during = urls(service, '88.118/keep');
    release();
    await assert.rejects(tx, /roll back/);
    return during;
  };
  assert.deepEqual(await doomed('uncommitted'), ['1=a'], 'a resolve while the transaction is open never sees its writes');
  assert.deepEqual(await urls(service, '88.118/keep'), ['1=a']);
  // The next committed write takes the same change number the rolled-back one had; the answer is still fresh.
  await service.modifyValues('88.118/keep', [text(1, 'URL', 'committed')], ROOT);
  assert.deepEqual(await urls(service, '88.118/keep'), ['1=committed']);
  // The same, with a commit that bypasses the service.
  assert.deepEqual(await doomed('uncommitted-2'), ['1=committed']);
  await store.put('88.118/keep', { handle: '88.118/keep', values: [text(1, 'URL', 'committed-2')] });
  assert.deepEqual(await urls(service, '88.118/keep'), ['1=committed-2']);
});

test('cache: who may read what is decided per call, not cached with the record', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/p', [text(1, 'URL', 'public'), text(2, 'NOTE', 'admin-only', { publicRead: false })], ROOT);
  assert.deepEqual(await urls(service, '88.118/p', ROOT), ['1=public', '2=admin-only']);
  assert.deepEqual(await urls(service, '88.118/p'), ['1=public'], 'anonymous: publicRead only, even from the cache');
  assert.equal(await responseCodeOf(() => service.resolve('88.118/p', { indexes: [2] }, null)), RC.AUTHENTICATION_NEEDED);
  assert.deepEqual(await urls(service, '88.118/p', ROOT), ['1=public', '2=admin-only']);
});

test('cache: responsibility follows homing and unhoming', async (t) => {
  const { service } = await node(t);
  assert.equal(await responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.SERVER_NOT_RESP);
  await service.homePrefix('20.500', ROOT);
  assert.equal(await responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.HANDLE_NOT_FOUND);
  await service.unhomePrefix('20.500', ROOT);
  assert.equal(await responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.SERVER_NOT_RESP);
});

test('cache: bounded — the least recently used record goes first; 0 disables it', async (t) => {
  const { store } = await node(t);
  const small = new LocalHandleService({ store, role: 'secondary', site: SITE, rootAdmins: [ROOT], cacheEntries: 2 });
  for (const h of ['a', 'b', 'c']) await small.create(`88.118/${h}`, [text(1, 'URL', h)], ROOT);
  for (const h of ['a', 'b', 'a', 'c']) await urls(small, `88.118/${h}`);
  assert.equal(small.cacheStats().size, 2);
  const hits = small.cacheStats().hits;
  await urls(small, '88.118/a');
  assert.equal(small.cacheStats().hits, hits + 1, 'a was used recently, b was evicted');
  await urls(small, '88.118/b');
  assert.equal(small.cacheStats().hits, hits + 1);
  const none = new LocalHandleService({ store, role: 'secondary', site: SITE, cacheEntries: 0 });
  await urls(none, '88.118/a');
  await urls(none, '88.118/a');
  assert.equal(none.cacheStats().hits, 0);
  assert.equal(none.cacheStats().size, 0);
});
