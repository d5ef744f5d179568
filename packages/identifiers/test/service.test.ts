import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdminPermission as P, HS_SECKEY, HandleError, type Identity, LocalHandleService, ResponseCode as RC } from '@iip/identifiers';
import { ROOT, SITE, admin, node, openStore, responseCodeOf, text, vlist } from './service-fixture.js';

const ALICE = { handle: '88.118/alice', index: 300 };
const BOB = { handle: '88.118/bob', index: 300 };

test('bootstrap: the root identity holds every permission on 0.NA/<prefix>, its secret is findable but never resolvable', async (t) => {
  const { service } = await node(t);
  assert.deepEqual(service.listHomedPrefixes(), ['88.118']);
  assert.deepEqual(await service.secretKeyOf(ROOT), new TextEncoder().encode('s3cret'));
  assert.equal(await service.secretKeyOf({ handle: '0.na/88.118', index: 301 }), undefined);
  const seen = await service.resolve('0.NA/88.118', {}, ROOT);
  assert.ok(!seen.some((v) => v.type === HS_SECKEY), 'HS_SECKEY never leaves over resolve, not even to the admin');
  assert.equal(await responseCodeOf(() => service.resolve('0.NA/88.118', { types: [HS_SECKEY] }, null)), RC.AUTHENTICATION_NEEDED);
  assert.equal(await service.create('88.118/x', [text(1, 'URL', 'u')], ROOT), '88.118/x');
});

test('responsibility: a prefix (or parent) not homed here is SERVER_NOT_RESP (301); prefix handles belong to the top level', async (t) => {
  const { service } = await node(t);
  assert.equal(await responseCodeOf(() => service.resolve('20.500/x', {}, null)), RC.SERVER_NOT_RESP);
  assert.equal(await responseCodeOf(() => service.create('20.500/x', [], ROOT)), RC.SERVER_NOT_RESP);
  assert.equal(await responseCodeOf(() => service.resolve('88.118.8/x', {}, null)), RC.HANDLE_NOT_FOUND, 'a sub-prefix of a homed prefix is ours');
  assert.equal(await responseCodeOf(() => service.resolve('0.NA/20.500', {}, null)), RC.SERVER_NOT_RESP);
  assert.equal(await responseCodeOf(() => service.resolve('0.na/88.118', {}, null)), RC.SUCCESS, 'our own prefix record, any ASCII case');
  assert.equal(await responseCodeOf(() => service.resolve('no-slash', {}, null)), RC.INVALID_HANDLE);
  const { service: top } = await node(t, 'top-level', '88');
  assert.equal(await responseCodeOf(() => top.resolve('0.NA/20.500', {}, null)), RC.HANDLE_NOT_FOUND, 'the top level answers for every 0.NA handle');
  await top.create('0.NA/88.118', [text(1, 'HS_SITE', 'site')], { handle: '0.NA/88', index: 300 });
  assert.equal(await responseCodeOf(() => top.create('0.NA/99', [], { handle: '0.NA/88', index: 300 })), RC.INSUFFICIENT_PERMISSIONS, 'ADD_NA on 0.NA/88 does not reach 0.NA/99');
});

test('authorisation matrix: each operation needs its own HS_ADMIN bit on the handle', async (t) => {
  const { service } = await node(t);
  const ops: Array<[string, number, (who: Identity) => unknown]> = [
    ['add value', P.ADD_VALUE, (w) => service.addValues('88.118/h', [text(9, 'EMAIL', 'a@b')], w)],
    ['modify value', P.MODIFY_VALUE, (w) => service.modifyValues('88.118/h', [text(2, 'URL', 'new')], w)],
    ['remove value', P.REMOVE_VALUE, (w) => service.removeValues('88.118/h', [2], w)],
    ['add admin', P.ADD_ADMIN, (w) => service.addValues('88.118/h', [admin(101, BOB, P.READ_VALUE)], w)],
    ['modify admin', P.MODIFY_ADMIN, (w) => service.modifyValues('88.118/h', [admin(100, ALICE, 0x0fff)], w)],
    ['remove admin', P.REMOVE_ADMIN, (w) => service.removeValues('88.118/h', [100], w)],
    ['delete handle', P.DELETE_HANDLE, (w) => service.delete('88.118/h', w)],
  ];
  for (const [name, bit, op] of ops) {
    for (const granted of [true, false]) {
      // Every bit but the one under test, or only the one under test.
      const perms = granted ? bit : 0x0fff & ~bit;
      await service.create('88.118/h', [admin(100, ALICE, perms), text(2, 'URL', 'old')], ROOT, { overwrite: true });
      assert.equal(await responseCodeOf(() => op(ALICE)), granted ? RC.SUCCESS : RC.INSUFFICIENT_PERMISSIONS, `${name} with${granted ? '' : 'out'} the bit`);
      await service.create('88.118/h', [admin(100, ALICE, perms), text(2, 'URL', 'old')], ROOT, { overwrite: true });
      assert.equal(await responseCodeOf(() => op(null)), RC.AUTHENTICATION_NEEDED, `${name} anonymously`);
      assert.equal(await responseCodeOf(() => op(BOB)), RC.INSUFFICIENT_PERMISSIONS, `${name} by a stranger`);
    }
  }
});

test('creation needs ADD_HANDLE in an HS_ADMIN of the prefix handle; listing needs LIST_HANDLES; homing needs ADD_NA', async (t) => {
  const { service } = await node(t);
  assert.equal(await responseCodeOf(() => service.create('88.118/a', [], ALICE)), RC.INSUFFICIENT_PERMISSIONS);
  await service.addValues('0.NA/88.118', [admin(110, ALICE, P.ADD_HANDLE)], ROOT);
  assert.equal(await responseCodeOf(() => service.create('88.118/a', [], ALICE)), RC.SUCCESS);
  assert.equal(await responseCodeOf(() => service.create('88.118/a', [], ALICE)), RC.HANDLE_ALREADY_EXISTS);
  assert.equal(await responseCodeOf(() => service.create('88.118/a', [], null)), RC.HANDLE_ALREADY_EXISTS, 'existence is checked first, like Handle.Net');
  assert.equal(await responseCodeOf(() => service.create('88.118/b', [], null)), RC.AUTHENTICATION_NEEDED);
  assert.equal(await responseCodeOf(() => service.listHandles('88.118', ALICE, { offset: 0, limit: 10 })), RC.INSUFFICIENT_PERMISSIONS);
  await service.addValues('0.NA/88.118', [admin(111, ALICE, P.LIST_HANDLES)], ROOT);
  assert.deepEqual(await service.listHandles('88.118', ALICE, { offset: 0, limit: 10 }), { handles: ['88.118/a'], total: 1 });
  assert.equal(await responseCodeOf(() => service.homePrefix('88.118.8', ALICE)), RC.INSUFFICIENT_PERMISSIONS);
  await service.homePrefix('88.118.8', ROOT);
  assert.deepEqual(service.listHomedPrefixes(), ['88.118', '88.118.8']);
  await service.unhomePrefix('88.118.8', ROOT);
  assert.deepEqual(service.listHomedPrefixes(), ['88.118']);
  const { store } = await openStore(t);
  const rooted = new LocalHandleService({ store, role: 'enterprise', site: SITE, rootAdmins: [ROOT] });
  await rooted.homePrefix('88.118.9', ROOT);
  assert.deepEqual(rooted.listHomedPrefixes(), ['88.118.9'], "the node's root admin may home a prefix without a prefix record");
});

test('an HS_VLIST group admin acts for its members, nested groups included; a cycle grants nothing and ends', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/groups', [vlist(200, [{ handle: '88.118/groups', index: 201 }, BOB]), vlist(201, [ALICE, { handle: '88.118/groups', index: 200 }])], ROOT);
  await service.create('88.118/h', [admin(100, { handle: '88.118/groups', index: 200 }, P.ADD_VALUE), text(1, 'URL', 'u')], ROOT);
  assert.equal(await responseCodeOf(() => service.addValues('88.118/h', [text(2, 'URL', 'b')], BOB)), RC.SUCCESS, 'direct member');
  assert.equal(await responseCodeOf(() => service.addValues('88.118/h', [text(3, 'URL', 'a')], ALICE)), RC.SUCCESS, 'member of a nested group');
  assert.equal(await responseCodeOf(() => service.addValues('88.118/h', [text(4, 'URL', 'c')], { handle: '88.118/carol', index: 300 })), RC.INSUFFICIENT_PERMISSIONS);
  assert.equal(await responseCodeOf(() => service.addValues('88.118/h', [text(5, 'URL', 'x')], { handle: '88.118/ALICE', index: 300 })), RC.SUCCESS, 'identity handles compare case-insensitively (ASCII)');
});

test('visibility: anonymous sees publicRead only; READ_VALUE admins see adminRead values; filters by type and index', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/v', [admin(100, ALICE, P.READ_VALUE), admin(101, BOB, P.ADD_VALUE), text(1, 'URL', 'pub'), text(2, 'NOTE', 'private', { publicRead: false })], ROOT);
  assert.deepEqual((await service.resolve('88.118/v', {}, null)).map((v) => v.index), [1, 100, 101]);
  assert.deepEqual((await service.resolve('88.118/v', {}, ALICE)).map((v) => v.index), [1, 2, 100, 101]);
  assert.deepEqual((await service.resolve('88.118/v', {}, BOB)).map((v) => v.index), [1, 100, 101], 'an admin without READ_VALUE sees only public values');
  assert.deepEqual((await service.resolve('88.118/v', { types: ['URL'] }, null)).map((v) => v.index), [1]);
  assert.deepEqual((await service.resolve('88.118/v', { indexes: [2], types: ['URL'] }, ALICE)).map((v) => v.index), [1, 2]);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/v', { indexes: [2] }, null)), RC.AUTHENTICATION_NEEDED);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/v', { indexes: [2] }, BOB)), RC.INSUFFICIENT_PERMISSIONS);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/v', { types: ['EMAIL'] }, null)), RC.VALUES_NOT_FOUND);
  assert.equal(await responseCodeOf(() => service.resolve('88.118/none', {}, null)), RC.HANDLE_NOT_FOUND);
});

test('values are validated with the index named; timestamps are set by the node; overwrite replaces all values', async (t) => {
  const { service } = await node(t);
  const bad = async (v: object) => {
    try {
      await service.create('88.118/bad', [{ ...text(1, 'URL', 'u'), ...v }], ROOT);
    } catch (e) {
      assert.ok(e instanceof HandleError);
      return [e.responseCode, e.details.index, e.details.field];
    }
    return 'accepted';
  };
  assert.deepEqual(await bad({ index: 0 }), [RC.INVALID_VALUE, 0, 'index']);
  assert.deepEqual(await bad({ index: 1.5 }), [RC.INVALID_VALUE, 1.5, 'index']);
  assert.deepEqual(await bad({ type: '' }), [RC.INVALID_VALUE, 1, 'type']);
  assert.deepEqual(await bad({ ttl: -1 }), [RC.INVALID_VALUE, 1, 'ttl']);
  assert.deepEqual(await bad({ type: 'HS_ADMIN', data: new Uint8Array([1]) }), [RC.INVALID_VALUE, 1, 'data']);
  assert.equal(await responseCodeOf(() => service.create('88.118/dup', [text(1, 'URL', 'a'), text(1, 'URL', 'b')], ROOT)), RC.INVALID_VALUE);
  await service.create('88.118/o', [text(1, 'URL', 'a'), text(2, 'EMAIL', 'e')], ROOT);
  assert.equal((await service.resolve('88.118/o', {}, null))[0]?.timestamp, 1_700_000_000);
  assert.equal(await responseCodeOf(() => service.addValues('88.118/o', [text(2, 'URL', 'x')], ROOT)), RC.VALUE_ALREADY_EXISTS);
  assert.equal(await responseCodeOf(() => service.modifyValues('88.118/o', [text(7, 'URL', 'x')], ROOT)), RC.VALUES_NOT_FOUND);
  assert.equal(await responseCodeOf(() => service.removeValues('88.118/o', [7], ROOT)), RC.VALUES_NOT_FOUND);
  await service.create('88.118/o', [text(5, 'URL', 'z')], ROOT, { overwrite: true });
  assert.deepEqual((await service.resolve('88.118/o', {}, null)).map((v) => v.index), [5]);
  const minted = await service.create('88.118/', [text(1, 'URL', 'm')], ROOT, { mintNewSuffix: true });
  assert.match(minted, /^88\.118\/[0-9a-f-]{36}$/);
  assert.equal((await service.resolve(minted, {}, null)).length, 1);
});

test('a value with admin-write off cannot be changed by an administrator', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/lock', [admin(100, ALICE, 0x0fff), text(1, 'URL', 'fixed', { adminWrite: false })], ROOT);
  assert.equal(await responseCodeOf(() => service.modifyValues('88.118/lock', [text(1, 'URL', 'x')], ALICE)), RC.INSUFFICIENT_PERMISSIONS);
  assert.equal(await responseCodeOf(() => service.removeValues('88.118/lock', [1], ALICE)), RC.INSUFFICIENT_PERMISSIONS);
});

test('a mirror serves reads and refuses every write with a clear error', async (t) => {
  const { store } = await node(t);
  const mirror = new LocalHandleService({ store, role: 'mirror', site: SITE });
  assert.equal((await mirror.resolve('0.NA/88.118', {}, null)).length > 0, true);
  for (const op of [
    () => mirror.create('88.118/m', [], ROOT),
    () => mirror.delete('0.NA/88.118', ROOT),
    () => mirror.addValues('0.NA/88.118', [text(9, 'URL', 'x')], ROOT),
    () => mirror.homePrefix('99', ROOT),
  ]) {
    await assert.rejects(op, (e: unknown) => e instanceof HandleError && e.responseCode === RC.OPERATION_NOT_SUPPORTED && /read-only mirror/.test(e.message));
  }
});
