/**
 * The conformance suite every HandleStore adapter (the identifier node's storage port) must pass. An
 * adapter's test file calls `runHandleStoreConformance(name, open)`; `open` returns a fresh, empty store
 * each time (some cases open two: a primary and a mirror). A fixture that can close and reopen the same
 * database provides `reopen`; without it the durability case is skipped and the skip says why.
 *
 * Every method but homedPrefixes() returns a promise, and a refusal is a rejected promise. Transactions
 * take an asynchronous function and a store bound to the transaction (`tx`); the cases check that what it
 * writes commits together or not at all, that a savepoint (tx.transaction) rolls back alone, that nobody
 * outside reads what then rolls back, and that a write outside the transaction is not swept into it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HandleStore, StoredHandleValue } from '@iip/storage';

export interface HandleStoreFixture {
  readonly store: HandleStore;
  /** Closes the store and opens the same database again (for the durability case). */
  readonly reopen?: () => Promise<HandleStore>;
  cleanup(): Promise<void>;
}

const perms = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };

function val(index: number, type: string, text: string, extra: Partial<StoredHandleValue> = {}): StoredHandleValue {
  return { index, type, data: new TextEncoder().encode(text), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms, ...extra };
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

/** A promise that settles after `p` without throwing, so a test can let it run while it does other things. */
function settled<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

export function runHandleStoreConformance(name: string, open: () => Promise<HandleStoreFixture>): void {
  /** Runs `fn` against `n` fresh stores and always cleans up. */
  const withStores =
    (n: number, fn: (stores: HandleStore[], fixtures: HandleStoreFixture[]) => Promise<void>) =>
    async (): Promise<void> => {
      const fixtures: HandleStoreFixture[] = [];
      try {
        for (let i = 0; i < n; i++) fixtures.push(await open());
        await fn(
          fixtures.map((f) => f.store),
          fixtures,
        );
      } finally {
        for (const f of fixtures) await f.cleanup();
      }
    };
  const withStore = (fn: (s: HandleStore, fx: HandleStoreFixture) => Promise<void>) =>
    withStores(1, async ([s], [fx]) => fn(s as HandleStore, fx as HandleStoreFixture));

  describe(`handle store conformance: ${name}`, () => {
    it('values round-trip exactly, including binary data, references, TTL kinds and permission bits', withStore(async (s) => {
      const values: StoredHandleValue[] = [
        val(1, 'URL', 'https://example.com/中文'),
        val(2, 'BIN', '', {
          data: new Uint8Array([0, 255, 1, 128]),
          ttlType: 'absolute',
          ttl: 4_000_000_000,
          references: [{ handle: '0.NA/88', index: 300 }],
          permissions: { adminRead: false, adminWrite: true, publicRead: false, publicWrite: true },
        }),
      ];
      assert.equal(await s.create('88.118/a', { handle: '88.118/A', values }), true);
      assert.deepEqual(await s.get('88.118/a'), { handle: '88.118/A', values });
      assert.equal(await s.get('88.118/A'), undefined, 'the store compares keys; the caller normalizes');
      assert.equal(await s.create('88.118/a', { handle: '88.118/a', values: [] }), false);
      assert.deepEqual(await s.get('88.118/a'), { handle: '88.118/A', values }, 'a refused create changes nothing');
    }));

    it('value changes are atomic and report the offending index', withStore(async (s) => {
      await s.create('p/x', { handle: 'p/x', values: [val(1, 'URL', 'a')] });
      assert.deepEqual(await s.addValues('p/x', [val(2, 'EMAIL', 'b'), val(1, 'URL', 'dup')]), { ok: false, reason: 'index-exists', index: 1 });
      assert.equal((await s.get('p/x'))?.values.length, 1, 'nothing added when one index clashes');
      assert.equal((await s.addValues('p/x', [val(3, 'EMAIL', 'c'), val(2, 'EMAIL', 'b')])).ok, true);
      assert.deepEqual((await s.get('p/x'))?.values.map((v) => v.index), [1, 2, 3]);
      assert.deepEqual(await s.modifyValues('p/x', [val(9, 'URL', 'z')]), { ok: false, reason: 'index-not-found', index: 9 });
      const modified = await s.modifyValues('p/x', [val(2, 'EMAIL', 'new')]);
      assert.equal(modified.ok, true);
      assert.equal(new TextDecoder().decode((await s.get('p/x'))?.values[1]?.data), 'new');
      assert.deepEqual(modified.ok && modified.record, await s.get('p/x'), 'the result carries the record as stored');
      assert.deepEqual(await s.removeValues('p/x', [3, 7]), { ok: false, reason: 'index-not-found', index: 7 });
      assert.equal((await s.get('p/x'))?.values.length, 3, 'nothing removed when one index is missing');
      assert.equal((await s.removeValues('p/x', [3])).ok, true);
      assert.deepEqual(await s.addValues('p/none', [val(1, 'URL', 'a')]), { ok: false, reason: 'handle-not-found' });
    }));

    it('listing is per exact prefix, in key order, paged by offset or by cursor, with an O(1) total', withStore(async (s) => {
      await s.transaction(async (tx) => {
        for (let i = 0; i < 25; i++) {
          const h = `88.118/item-${String(i).padStart(2, '0')}`;
          await tx.create(h, { handle: h, values: [] });
        }
        await tx.create('88.118.8/other', { handle: '88.118.8/other', values: [] });
        await tx.create('88.1180/other', { handle: '88.1180/other', values: [] });
      });
      const first = await s.list('88.118', { limit: 10 });
      assert.equal(first.total, 25);
      assert.deepEqual(first.handles.slice(0, 2), ['88.118/item-00', '88.118/item-01']);
      const third = await s.list('88.118', { limit: 10, offset: 20 });
      assert.equal(third.handles.length, 5);
      const second = await s.list('88.118', { limit: 10, after: first.keys.at(-1) as string });
      assert.equal(second.handles[0], '88.118/item-10');
      assert.equal((await s.list('88.118.8', { limit: 10 })).total, 1);
      assert.equal(await s.count(), 27);
      assert.equal(await s.delete('88.118/item-00'), true);
      assert.equal(await s.delete('88.118/item-00'), false, 'deleting what is gone says so');
      assert.equal((await s.list('88.118', { limit: 1 })).total, 24);
      await s.put('88.118/item-01', { handle: '88.118/item-01', values: [val(1, 'URL', 'x')] });
      assert.equal((await s.list('88.118', { limit: 1 })).total, 24, 'replacing does not count twice');
      const scanned = await s.scan(undefined, 3);
      assert.deepEqual(scanned.map((r) => r.key), ['88.118.8/other', '88.118/item-01', '88.118/item-02']);
      assert.deepEqual((await s.scan(scanned.at(-1)?.key, 2)).map((r) => r.key), ['88.118/item-03', '88.118/item-04']);
    }));

    it('templates are kept as JSON documents under their id', withStore(async (s) => {
      await s.putTemplate({ id: 'pump', document: { name: 'Pump', items: [{ type: 'URL' }] } });
      await s.putTemplate({ id: 'a-valve', document: { name: 'Valve' } });
      await s.putTemplate({ id: 'pump', document: { name: 'Pump 2' } });
      assert.deepEqual(await s.getTemplate('pump'), { id: 'pump', document: { name: 'Pump 2' } });
      assert.deepEqual((await s.listTemplates()).map((t) => t.id), ['a-valve', 'pump']);
      assert.equal(await s.deleteTemplate('pump'), true);
      assert.equal(await s.deleteTemplate('pump'), false);
      assert.equal(await s.getTemplate('pump'), undefined);
    }));

    it('every change is in the transaction log, in order; a mirror store applying it converges and skips repeats', withStores(2, async ([store, mirror]) => {
      const s = store as HandleStore;
      const m = mirror as HandleStore;
      await s.homePrefix('88.118');
      assert.ok(s.homedPrefixes().has('88.118'), 'homed prefixes are known at once');
      await s.create('88.118/a', { handle: '88.118/a', values: [val(1, 'URL', 'a')] });
      await s.addValues('88.118/a', [val(2, 'URL', 'b')]);
      await s.create('88.118/b', { handle: '88.118/b', values: [] });
      await s.delete('88.118/b');
      await s.putTemplate({ id: 'pump', document: { name: 'Pump', items: [] } });
      assert.equal(await s.unhomePrefix('88.118'), true);
      assert.equal(await s.unhomePrefix('88.118'), false);
      await s.homePrefix('88.118.8');
      const log = await s.changesSince(0, 100);
      assert.deepEqual(log.map((c) => c.op), ['home', 'put', 'put', 'put', 'delete', 'template-put', 'unhome', 'home']);
      assert.deepEqual(log.map((c) => c.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual((await s.changedKeysSince(5, 100)).map((c) => [c.seq, c.op, c.key]), [
        [6, 'template-put', 'pump'],
        [7, 'unhome', '88.118'],
        [8, 'home', '88.118.8'],
      ]);
      assert.equal(await s.lastSeq(), 8);
      assert.equal(await m.applyChanges(log.slice(0, 5)), 5);
      assert.equal(await m.applyChanges(log), 8, 'the overlap is skipped');
      assert.deepEqual(await m.get('88.118/a'), await s.get('88.118/a'));
      assert.equal(await m.get('88.118/b'), undefined);
      assert.deepEqual([...m.homedPrefixes()], ['88.118.8']);
      assert.deepEqual(await m.getTemplate('pump'), { id: 'pump', document: { name: 'Pump', items: [] } });
      assert.deepEqual(await m.changesSince(0, 100), log, 'the mirror keeps the primary seq numbers and can be a source itself');
    }));

    it('compaction keeps the newest change per handle, prefix and template, and a mirror still converges', withStores(2, async ([store, mirror]) => {
      const s = store as HandleStore;
      await s.create('88.118/a', { handle: '88.118/A', values: [val(1, 'URL', 'a1')] });
      for (let i = 2; i <= 5; i++) await s.put('88.118/a', { handle: '88.118/A', values: [val(1, 'URL', `a${i}`)] });
      await s.create('88.118/b', { handle: '88.118/b', values: [val(1, 'URL', 'b')] });
      await s.delete('88.118/b');
      await s.homePrefix('88.118');
      await s.unhomePrefix('88.118');
      await s.homePrefix('88.118');
      await s.putTemplate({ id: 'pump', document: { v: 1 } });
      await s.putTemplate({ id: 'pump', document: { v: 2 } });
      const last = await s.lastSeq();
      assert.deepEqual(await s.compactLog(), { removed: 8, stripped: 1, remaining: 4 });
      assert.equal(await s.lastSeq(), last, 'the change sequence does not move');
      const log = await s.changesSince(0, 100);
      assert.deepEqual(log.map((c) => c.op), ['put', 'delete', 'home', 'template-put']);
      assert.deepEqual(log[0]?.op === 'put' && log[0].record, { handle: '88.118/A', values: [val(1, 'URL', 'a5')] }, 'a stripped put carries the current record');
      await syncAll(s, mirror as HandleStore);
      assert.deepEqual(await contents(mirror as HandleStore), await contents(s));
      assert.deepEqual(await s.compactLog(), { removed: 0, stripped: 0, remaining: 4 }, 'idempotent');
    }));

    it('a transaction commits everything written through tx together', withStore(async (s) => {
      const out = await s.transaction(async (tx) => {
        await tx.create('p/a', { handle: 'p/a', values: [val(1, 'URL', 'a')] });
        assert.deepEqual((await tx.get('p/a'))?.values.length, 1, 'tx reads its own writes');
        await tx.addValues('p/a', [val(2, 'URL', 'b')]);
        await tx.homePrefix('p');
        await tx.putTemplate({ id: 't', document: {} });
        return 'done';
      });
      assert.equal(out, 'done', 'the transaction resolves with what its function returned');
      assert.deepEqual((await s.get('p/a'))?.values.map((v) => v.index), [1, 2]);
      assert.ok(s.homedPrefixes().has('p'));
      assert.deepEqual((await s.changesSince(0, 10)).map((c) => c.seq), [1, 2, 3, 4]);
      assert.equal(await s.lastSeq(), 4);
    }));

    it('a rejected transaction leaves neither rows, homed prefixes nor log entries behind, and no gap in the log', withStore(async (s) => {
      await assert.rejects(
        () =>
          s.transaction(async (tx) => {
            await tx.create('p/a', { handle: 'p/a', values: [] });
            await tx.homePrefix('p');
            await tx.putTemplate({ id: 't', document: {} });
            throw new Error('abort');
          }),
        /abort/,
      );
      assert.equal(await s.get('p/a'), undefined);
      assert.equal(s.homedPrefixes().has('p'), false);
      assert.equal(await s.getTemplate('t'), undefined);
      assert.deepEqual(await s.changesSince(0, 10), []);
      assert.equal(await s.lastSeq(), 0);
      assert.equal(await s.count(), 0);
      await s.create('p/b', { handle: 'p/b', values: [] });
      assert.deepEqual((await s.changesSince(0, 10)).map((c) => c.seq), [1], 'no gap after a rollback');
    }));

    it('a nested transaction (savepoint) rolls back alone; the outer one still commits', withStore(async (s) => {
      await s.transaction(async (tx) => {
        await tx.create('p/keep', { handle: 'p/keep', values: [] });
        await assert.rejects(
          () =>
            tx.transaction(async (inner) => {
              await inner.create('p/drop', { handle: 'p/drop', values: [] });
              throw new Error('inner abort');
            }),
          /inner abort/,
        );
        assert.equal(await tx.get('p/drop'), undefined, 'the savepoint is rolled back at once');
        assert.equal(await tx.transaction(async (inner) => inner.create('p/also', { handle: 'p/also', values: [] })), true);
      });
      assert.ok(await s.get('p/keep'));
      assert.ok(await s.get('p/also'));
      assert.equal(await s.get('p/drop'), undefined);
      assert.deepEqual((await s.changesSince(0, 10)).map((c) => [c.seq, c.op === 'put' && c.key]), [
        [1, 'p/keep'],
        [2, 'p/also'],
      ]);
    }));

    it('nobody outside a transaction reads what it wrote before it rolls back', withStore(async (s) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let written!: () => void;
      const wrote = new Promise<void>((r) => {
        written = r;
      });
      const tx = settled(
        s.transaction(async (t) => {
          await t.create('p/a', { handle: 'p/a', values: [val(1, 'URL', 'uncommitted')] });
          written();
          await gate;
          throw new Error('roll back');
        }),
      );
      await wrote;
      // Issued while the transaction is open: whenever it runs, it must not see the doomed row.
      const read = settled(s.get('p/a'));
      const seq = settled(s.lastSeq());
      release();
      const r = await tx;
      assert.equal(r.ok, false);
      assert.deepEqual(await read, { ok: true, value: undefined });
      assert.deepEqual(await seq, { ok: true, value: 0 });
    }));

    it('a write outside an open transaction is not swept into its rollback', withStore(async (s) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let written!: () => void;
      const wrote = new Promise<void>((r) => {
        written = r;
      });
      const tx = settled(
        s.transaction(async (t) => {
          await t.create('p/inside', { handle: 'p/inside', values: [] });
          written();
          await gate;
          throw new Error('roll back');
        }),
      );
      await wrote;
      const outside = settled(s.create('p/outside', { handle: 'p/outside', values: [] }));
      release();
      assert.equal((await tx).ok, false);
      assert.deepEqual(await outside, { ok: true, value: true });
      assert.ok(await s.get('p/outside'), 'the outside write committed on its own');
      assert.equal(await s.get('p/inside'), undefined);
      assert.deepEqual((await s.changesSince(0, 10)).map((c) => (c.op === 'put' ? c.key : c.op)), ['p/outside']);
    }));

    it('transactions started together each commit whole, one after another in the log', withStore(async (s) => {
      const one = (tag: string) =>
        s.transaction(async (tx) => {
          for (let i = 0; i < 5; i++) {
            await tx.create(`p/${tag}-${i}`, { handle: `p/${tag}-${i}`, values: [] });
            await new Promise((r) => setImmediate(r));
          }
        });
      await Promise.all([one('a'), one('b'), one('c')]);
      const keys = (await s.changesSince(0, 100)).map((c) => (c.op === 'put' ? c.key : ''));
      assert.equal(keys.length, 15);
      // Each transaction's five changes are consecutive: none interleaves with another's.
      for (let i = 0; i < 15; i += 5) assert.equal(new Set(keys.slice(i, i + 5).map((k) => k.slice(0, 3))).size, 1, keys.join(' '));
      assert.deepEqual((await s.changesSince(0, 100)).map((c) => c.seq), Array.from({ length: 15 }, (_, i) => i + 1));
    }));

    it('a transaction store used after its function settled is refused', withStore(async (s) => {
      let kept: HandleStore | undefined;
      await s.transaction(async (tx) => {
        kept = tx;
      });
      await assert.rejects(() => (kept as HandleStore).create('p/late', { handle: 'p/late', values: [] }));
      assert.equal(await s.get('p/late'), undefined);
    }));

    it('what was written survives closing and reopening the store', async (t) => {
      const fx = await open();
      try {
        if (!fx.reopen) {
          t.skip(`${name} cannot reopen the same database`);
          return;
        }
        await fx.store.homePrefix('88.118.8');
        await fx.store.create('88.118.8/a', { handle: '88.118.8/A', values: [val(1, 'URL', 'a')] });
        const reopened = await fx.reopen();
        try {
          assert.equal(await reopened.lastSeq(), 2);
          assert.deepEqual([...reopened.homedPrefixes()], ['88.118.8']);
          assert.deepEqual(await reopened.get('88.118.8/a'), { handle: '88.118.8/A', values: [val(1, 'URL', 'a')] });
          await reopened.create('88.118.8/b', { handle: '88.118.8/b', values: [] });
          assert.equal(await reopened.lastSeq(), 3, 'the sequence goes on where it stopped');
        } finally {
          await reopened.close();
        }
      } finally {
        await fx.cleanup();
      }
    });
  });
}
