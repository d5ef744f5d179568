// Scale check of issue 4: one million handles in one node file, then random samples resolve to exactly
// what was written. Inserts go in batched transactions, as a bulk registration does.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type StoredHandleValue, openSqliteHandleStore } from '@iip/storage';
import { tempDir } from '@iip/testkit';

const N = 1_000_000;
const BATCH = 50_000;
const perms = { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false };
const enc = new TextEncoder();

function valuesFor(i: number): StoredHandleValue[] {
  return [
    { index: 1, type: 'URL', data: enc.encode(`https://iip.example/things/${i}`), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms },
    { index: 2001, type: 'SERIAL', data: enc.encode(`SN-${i.toString(36)}`), ttlType: 'relative', ttl: 86400, timestamp: 1_700_000_000, references: [], permissions: perms },
  ];
}

test('1,000,000 handles: created in batches, random samples resolve, listing and counts stay exact', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir('iip-hstore-1m-');
  const file = join(dir.path, 'handles.db');
  const store = openSqliteHandleStore({ file });
  t.after(async () => {
    await store.close();
    await dir.cleanup();
  });
  for (let start = 0; start < N; start += BATCH) {
    await store.transaction(async (tx) => {
      for (let i = start; i < start + BATCH; i++) {
        const handle = `88.118.8/pump-${i}`;
        await tx.create(handle, { handle, values: valuesFor(i) });
      }
    });
  }
  assert.equal(await store.count(), N);
  assert.equal(await store.lastSeq(), N);
  let seed = 42;
  for (let k = 0; k < 10_000; k++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    const i = seed % N;
    const rec = await store.get(`88.118.8/pump-${i}`);
    assert.ok(rec, `pump-${i} resolves`);
    assert.deepEqual(rec.values, valuesFor(i));
  }
  assert.equal(await store.get('88.118.8/pump-1000000'), undefined);
  const page = await store.list('88.118.8', { limit: 3, offset: 0 });
  assert.equal(page.total, N);
  assert.deepEqual(page.handles, ['88.118.8/pump-0', '88.118.8/pump-1', '88.118.8/pump-10']);
  const size = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  t.diagnostic(`file ${(size / 1e6).toFixed(0)} MB for ${N} handles (${(size / N).toFixed(0)} B/handle incl. txlog)`);
});
