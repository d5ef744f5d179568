import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type TenantId, isIipError } from '@iip/core';
import {
  UserService,
  generateDeviceSecret,
  hashDeviceSecret,
  hashPassword,
  verifyDeviceSecret,
  verifyPassword,
} from '@iip/security';
import { openSqliteStorage } from '@iip/storage';
import { tempDir } from '@iip/testkit';

test('scrypt password hashes verify the right password only, and are salted', async () => {
  const h1 = await hashPassword('a long enough password');
  const h2 = await hashPassword('a long enough password');
  assert.match(h1, /^scrypt\$32768\$8\$1\$/);
  assert.notEqual(h1, h2);
  assert.equal(await verifyPassword('a long enough password', h1), true);
  assert.equal(await verifyPassword('a long enough passworD', h1), false);
  assert.equal(await verifyPassword('x', 'not-a-hash'), false);
});

test('device secrets are random, stored as salted hashes, and verified exactly', () => {
  const s = generateDeviceSecret();
  assert.ok(s.length >= 32);
  assert.notEqual(s, generateDeviceSecret());
  const h = hashDeviceSecret(s);
  assert.equal(h.includes(s), false);
  assert.equal(verifyDeviceSecret(s, h), true);
  assert.equal(verifyDeviceSecret(`${s}x`, h), false);
  assert.equal(verifyDeviceSecret(s, hashDeviceSecret('other')), false);
  assert.equal(verifyDeviceSecret(s, 'garbage'), false);
});

test('first admin, login, token expiry and logout', async () => {
  const dir = await tempDir();
  const storage = openSqliteStorage({ file: `${dir.path}/t.db` });
  let now = 1_800_000_000_000;
  const users = new UserService(storage.users, { tokenTtlMs: 60_000, now: () => now });
  try {
    const first = await users.ensureAdmin();
    assert.equal(first.created, true);
    assert.ok(first.generatedPassword && first.generatedPassword.length >= 20);
    assert.deepEqual(await users.ensureAdmin(), { created: false, username: 'admin' });
    const stored = await storage.users.getUserByName('admin');
    assert.ok(stored && !stored.passwordHash.includes(first.generatedPassword as string));

    await assert.rejects(users.login('admin', 'wrong password!!'), (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_LOGIN_FAILED');
    await assert.rejects(users.login('nobody', 'whatever'), (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_LOGIN_FAILED');
    const { token } = await users.login('admin', first.generatedPassword as string);
    assert.equal((await users.authenticate(token)).username, 'admin');
    assert.equal((await users.authenticate(token)).tenant, 'default');
    now += 61_000;
    await assert.rejects(users.authenticate(token), (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_TOKEN_EXPIRED');
    // The expired token is gone from the store: the next use is an unknown token.
    await assert.rejects(users.authenticate(token), (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_REQUIRED');
    const again = await users.login('admin', first.generatedPassword as string);
    await users.logout(again.token);
    await assert.rejects(users.authenticate(again.token), (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_REQUIRED');
    await assert.rejects(users.authenticate(undefined), (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_REQUIRED');
    await assert.rejects(
      users.createUser({ username: 'op', password: 'short', tenant: 'default' as TenantId }),
      (e) => isIipError(e) && e.code === 'IIP_ERR_AUTH_WEAK_PASSWORD',
    );
  } finally {
    await storage.close();
    await dir.cleanup();
  }
});
