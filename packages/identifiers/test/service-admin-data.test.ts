import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdminPermission, HandleError, decodeAdminData, decodeVList, encodeAdminData, encodeVList } from '@iip/identifiers';
import fc from 'fast-check';

test('HS_ADMIN data follows RFC 3651: permissions, length-prefixed handle, index (big-endian)', () => {
  const data = encodeAdminData({ admin: { handle: '0.NA/88', index: 300 }, permissions: AdminPermission.ADD_HANDLE | AdminPermission.READ_VALUE });
  assert.deepEqual([...data], [0x00, 0x81, 0, 0, 0, 7, ...Buffer.from('0.NA/88'), 0, 0, 1, 44]);
  assert.deepEqual(decodeAdminData(data), { admin: { handle: '0.NA/88', index: 300 }, permissions: 0x81 });
});

test('HS_ADMIN decoding accepts the two legacy trailing bytes Handle.Net writes', () => {
  const data = encodeAdminData({ admin: { handle: '0.NA/88', index: 300 }, permissions: 0x0fff });
  const legacy = new Uint8Array([...data, 0, 0]);
  assert.deepEqual(decodeAdminData(legacy), { admin: { handle: '0.NA/88', index: 300 }, permissions: 0x0fff });
});

test('HS_ADMIN and HS_VLIST round-trip any references; truncations are INVALID_VALUE, never a crash', () => {
  const ref = fc.record({ handle: fc.string({ unit: 'grapheme', maxLength: 40 }), index: fc.nat({ max: 0xffffffff }) }).map((r) => ({ ...r }));
  fc.assert(
    fc.property(ref, fc.nat({ max: 0xffff }), (admin, permissions) => {
      const data = encodeAdminData({ admin, permissions });
      assert.deepEqual(decodeAdminData(data), { admin, permissions });
      for (let cut = 0; cut < data.length; cut++) assert.throws(() => decodeAdminData(data.subarray(0, cut)), HandleError);
    }),
  );
  fc.assert(
    fc.property(fc.array(ref, { maxLength: 8 }), (refs) => {
      const data = encodeVList(refs);
      assert.deepEqual(decodeVList(data), refs);
      for (let cut = 0; cut < data.length; cut++) assert.throws(() => decodeVList(data.subarray(0, cut)), HandleError);
    }),
  );
});

test('a HS_VLIST whose count cannot fit is refused without allocating', () => {
  assert.throws(() => decodeVList(new Uint8Array([0xff, 0xff, 0xff, 0xff])), HandleError);
});
