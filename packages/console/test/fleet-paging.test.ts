// The console loads every page of devices, not just the first 500 (issue 2 left the list at one page).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Device } from '../src/api-types.ts';
import { loadAllDevices } from '../src/use-fleet.ts';

function fleetOf(n: number) {
  const all: Device[] = Array.from({ length: n }, (_, i) => ({ id: `d-${i}`, name: `Device ${i}`, product: 'p', createdAt: 0 }));
  const asked: Array<{ limit: number; offset: number }> = [];
  const fetchPage = async (q: { limit: number; offset: number }) => {
    asked.push(q);
    return { items: all.slice(q.offset, q.offset + q.limit), total: all.length };
  };
  return { all, asked, fetchPage };
}

test('every page is loaded, in order, with no device twice or missing', async () => {
  const f = fleetOf(1234);
  const r = await loadAllDevices(f.fetchPage, 500);
  assert.equal(r.total, 1234);
  assert.deepEqual(
    r.items.map((d) => d.id),
    f.all.map((d) => d.id),
  );
  assert.deepEqual(f.asked, [
    { limit: 500, offset: 0 },
    { limit: 500, offset: 500 },
    { limit: 500, offset: 1000 },
  ]);
});

test('the list stops at its cap and keeps the true total; an empty tenant takes one request', async () => {
  const big = fleetOf(2600);
  const capped = await loadAllDevices(big.fetchPage, 500, 1200);
  assert.equal(capped.items.length, 1200);
  assert.equal(capped.total, 2600);
  assert.deepEqual(big.asked.at(-1), { limit: 200, offset: 1000 });
  const none = fleetOf(0);
  assert.deepEqual(await loadAllDevices(none.fetchPage), { items: [], total: 0 });
  assert.equal(none.asked.length, 1);
});

test('a list that shrinks while it is read ends instead of asking forever', async () => {
  let calls = 0;
  const r = await loadAllDevices(async (q) => {
    calls++;
    // The total still says 900, but devices were deleted meanwhile: the second page comes back empty.
    return { items: q.offset === 0 ? fleetOf(500).all : [], total: 900 };
  }, 500);
  assert.equal(r.items.length, 500);
  assert.equal(calls, 2);
});
