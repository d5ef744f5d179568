// Transaction-log compaction of the handle store (issue 4, scale): the log keeps only each handle's newest
// change and no record copies, and a mirror fed from it — from scratch, or from anywhere it had got to —
// still ends up equal to the primary.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type HandleStore, type StoredHandleValue, openSqliteHandleStore } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import fc from 'fast-check';

const perms = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };
function val(index: number, text: string): StoredHandleValue {
  return { index, type: 'URL', data: new TextEncoder().encode(text), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms };
}

async function stores(t: import('node:test').TestContext, n: number): Promise<HandleStore[]> {
  const dir = await tempDir('iip-hlog-');
  const out = Array.from({ length: n }, (_, i) => openSqliteHandleStore({ file: join(dir.path, `s${i}.db`) }));
  t.after(async () => {
    for (const s of out) await s.close();
    await dir.cleanup();
  });
  return out;
}

/** Everything a node serves from its store. */
async function contents(s: HandleStore) {
  return { handles: await s.scan(undefined, 1_000_000), homed: [...s.homedPrefixes()].sort(), templates: await s.listTemplates() };
}

async function syncAll(from: HandleStore, to: HandleStore, page = 1000): Promise<void> {
  for (;;) {
    const changes = await from.changesSince(await to.lastSeq(), page);
    if (changes.length === 0) return;
    await to.applyChanges(changes);
  }
}

test('compaction keeps the newest change per handle, prefix and template, and no record copies', async (t) => {
  const [primary, mirror] = (await stores(t, 2)) as [HandleStore, HandleStore];
  await primary.create('88.118/a', { handle: '88.118/A', values: [val(1, 'a1')] });
  for (let i = 2; i <= 5; i++) await primary.put('88.118/a', { handle: '88.118/A', values: [val(1, `a${i}`)] });
  await primary.create('88.118/b', { handle: '88.118/b', values: [val(1, 'b')] });
  await primary.delete('88.118/b');
  await primary.homePrefix('88.118');
  await primary.unhomePrefix('88.118');
  await primary.homePrefix('88.118');
  await primary.putTemplate({ id: 'pump', document: { v: 1 } });
  await primary.putTemplate({ id: 'pump', document: { v: 2 } });
  const last = await primary.lastSeq();
  const r = await primary.compactLog();
  assert.deepEqual(r, { removed: 8, stripped: 1, remaining: 4 });
  assert.equal(await primary.lastSeq(), last, 'the change sequence does not move');
  const log = await primary.changesSince(0, 100);
  assert.deepEqual(
    log.map((c) => c.op),
    ['put', 'delete', 'home', 'template-put'],
  );
  assert.deepEqual(log[0]?.op === 'put' && log[0].record, { handle: '88.118/A', values: [val(1, 'a5')] }, 'a stripped put carries the current record');
  assert.equal(log.at(-1)?.seq, last);
  await syncAll(primary, mirror);
  assert.deepEqual(await contents(mirror), await contents(primary));
  assert.equal(await mirror.lastSeq(), last);
  assert.deepEqual(await primary.compactLog(), { removed: 0, stripped: 0, remaining: 4 }, 'idempotent');
});

test('a handle deleted after its put was compacted is replayed as a deletion', async (t) => {
  const [primary, mirror] = (await stores(t, 2)) as [HandleStore, HandleStore];
  await primary.create('p/x', { handle: 'p/x', values: [val(1, 'x')] });
  await primary.compactLog();
  await primary.delete('p/x');
  await primary.create('p/x', { handle: 'p/X', values: [val(1, 'again')] });
  await syncAll(primary, mirror, 1);
  assert.deepEqual(await mirror.get('p/x'), { handle: 'p/X', values: [val(1, 'again')] });
  const [primary2, mirror2] = (await stores(t, 2)) as [HandleStore, HandleStore];
  await primary2.create('p/y', { handle: 'p/y', values: [val(1, 'y')] });
  await primary2.compactLog();
  await primary2.delete('p/y');
  // Before the next compaction the stripped put is still there, its row already gone.
  assert.deepEqual(
    (await primary2.changesSince(0, 10)).map((c) => c.op),
    ['delete', 'delete'],
  );
  await syncAll(primary2, mirror2);
  assert.equal(await mirror2.get('p/y'), undefined);
});

type Op =
  | { kind: 'put'; key: number; text: string }
  | { kind: 'delete'; key: number }
  | { kind: 'home'; prefix: number }
  | { kind: 'unhome'; prefix: number }
  | { kind: 'template'; id: number; v: number }
  | { kind: 'compact'; fraction: number }
  | { kind: 'sync'; page: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.nat(7), text: fc.string({ maxLength: 6 }) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(7) }), weight: 2 },
  fc.record({ kind: fc.constant('home' as const), prefix: fc.nat(2) }),
  fc.record({ kind: fc.constant('unhome' as const), prefix: fc.nat(2) }),
  fc.record({ kind: fc.constant('template' as const), id: fc.nat(2), v: fc.nat(9) }),
  { arbitrary: fc.record({ kind: fc.constant('compact' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('sync' as const), page: fc.integer({ min: 1, max: 5 }) }), weight: 2 },
);

test('any mix of changes, compactions (of all or part of the log) and partial mirror syncs converges (fast-check)', async (t) => {
  const [primary, mirror, fresh] = (await stores(t, 3)) as [HandleStore, HandleStore, HandleStore];
  let round = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
      // Each run starts where the previous left off (new keys per run keep runs apart).
      round++;
      for (const op of ops) {
        const key = `p${round % 3}/k${'key' in op ? op.key : 0}`;
        switch (op.kind) {
          case 'put':
            await primary.put(key, { handle: key.toUpperCase(), values: [val(1, op.text)] });
            break;
          case 'delete':
            await primary.delete(key);
            break;
          case 'home':
            await primary.homePrefix(`p${op.prefix}`);
            break;
          case 'unhome':
            await primary.unhomePrefix(`p${op.prefix}`);
            break;
          case 'template':
            if (op.v === 0) await primary.deleteTemplate(`t${op.id}`);
            else await primary.putTemplate({ id: `t${op.id}`, document: { v: op.v } });
            break;
          case 'compact':
            await primary.compactLog(Math.floor((await primary.lastSeq()) * op.fraction));
            break;
          case 'sync': {
            const changes = await primary.changesSince(await mirror.lastSeq(), op.page);
            if (changes.length > 0) await mirror.applyChanges(changes);
            break;
          }
        }
      }
      await syncAll(primary, mirror, 3);
      assert.deepEqual(await contents(mirror), await contents(primary), 'a mirror that followed along');
      assert.equal(await mirror.lastSeq(), await primary.lastSeq());
      await syncAll(primary, fresh, 1000);
      assert.deepEqual(await contents(fresh), await contents(primary), 'a mirror (kept across runs) that syncs only at the end');
    }),
    { numRuns: 150 },
  );
});
