import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type TenantId, isIipError } from '@iip/core';
import {
  checkPasswordPolicy,
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

test('password policy: length in characters, common passwords (also padded), the user name, repetition, runs', () => {
  const rule = (password: string, username?: string): string | undefined => {
    try {
      checkPasswordPolicy(password, username);
      return undefined;
    } catch (e) {
      assert.ok(isIipError(e) && e.code === 'IIP_ERR_AUTH_WEAK_PASSWORD');
      return String((e as { details: Record<string, unknown> }).details.rule);
    }
  };
  assert.equal(rule('short-one'), 'length');
  assert.equal(rule('工业互联网平台安全第一条规'), undefined, 'twelve Chinese characters are twelve characters');
  assert.equal(rule('工业互联网平台安全'), 'length');
  assert.equal(rule('Password2024!'), 'common');
  assert.equal(rule('!!qwerty123456'), 'common');
  assert.equal(rule('123456789012'), 'common');
  assert.equal(rule('woaini1314520'), 'common');
  assert.equal(rule('my-name-is-operator7', 'operator7'), 'username');
  assert.equal(rule('aaaaaaaaaaaaaa'), 'repetitive');
  assert.equal(rule('abababababab'), 'repetitive');
  assert.equal(rule('abcdefghijklmn'), 'sequence');
  assert.equal(rule('=-0987654321'), 'sequence', 'a keyboard row backwards');
  assert.equal(rule('correct-horse-battery-staple'), undefined);
  assert.equal(rule('harbour-lamp-kettle-7', 'alice'), undefined);
});

test('sign-in protection: lockout after repeated failures, throttling per address, idle sessions, disable, reset, sign out everywhere', async () => {
  const dir = await tempDir();
  const storage = openSqliteStorage({ file: `${dir.path}/t.db` });
  let now = 1_800_000_000_000;
  const users = new UserService(storage.users, { now: () => now, signIn: { lockAfter: 3, lockMs: 60_000, throttleAfter: 5, throttleWindowMs: 120_000, idleMs: 10 * 60_000 } });
  const code = (c: string) => (e: unknown) => isIipError(e) && e.code === c;
  try {
    const alice = await users.createUser({ username: 'alice', password: 'harbour-lamp-kettle-7', tenant: 'default' as TenantId });
    for (let i = 0; i < 3; i++) await assert.rejects(users.login('alice', 'wrong-password-x', '10.0.0.1'), code('IIP_ERR_AUTH_LOGIN_FAILED'));
    // Locked now: even the right password is refused until the lock ends.
    await assert.rejects(users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.2'), code('IIP_ERR_AUTH_LOCKED'));
    now += 61_000;
    const session = await users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.2');
    const cleared = await storage.users.getUser(alice.id);
    assert.deepEqual([cleared?.failedLogins, cleared?.lockedUntil], [0, null], 'a successful sign-in clears the count');

    // Throttling per address, whatever the user name (unknown users count too).
    for (let i = 0; i < 5; i++) await assert.rejects(users.login(`nobody${i}`, 'whatever-password', '10.0.0.9'), code('IIP_ERR_AUTH_LOGIN_FAILED'));
    await assert.rejects(users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.9'), code('IIP_ERR_AUTH_THROTTLED'));
    await users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.10'); // another address is not affected

    // Idle expiry: used within the limit it lives on; left idle longer, it ends.
    now += 9 * 60_000;
    assert.equal((await users.authenticate(session.token)).username, 'alice');
    now += 9 * 60_000;
    assert.equal((await users.authenticate(session.token)).username, 'alice', 'each use moves the idle limit');
    now += 11 * 60_000;
    await assert.rejects(users.authenticate(session.token), code('IIP_ERR_AUTH_TOKEN_EXPIRED'));

    // Disable: sessions end, sign-in is refused (only after the right password does it say why).
    const s2 = await users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.3');
    await users.setDisabled(alice.id, true);
    await assert.rejects(users.authenticate(s2.token), code('IIP_ERR_AUTH_REQUIRED'));
    await assert.rejects(users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.3'), code('IIP_ERR_AUTH_USER_DISABLED'));
    await assert.rejects(users.login('alice', 'wrong-password-y', '10.0.0.3'), code('IIP_ERR_AUTH_LOGIN_FAILED'));
    await users.setDisabled(alice.id, false);

    // Change one's own password: this session stays, the others end; the policy applies.
    const a = await users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.4');
    const b = await users.login('alice', 'harbour-lamp-kettle-7', '10.0.0.4');
    await assert.rejects(users.changePassword(alice.id, 'harbour-lamp-kettle-7', 'password12345'), code('IIP_ERR_AUTH_WEAK_PASSWORD'));
    await assert.rejects(users.changePassword(alice.id, 'not-the-current-one', 'quiet-river-stone-42'), code('IIP_ERR_AUTH_LOGIN_FAILED'));
    await users.changePassword(alice.id, 'harbour-lamp-kettle-7', 'quiet-river-stone-42', a.token);
    assert.equal((await users.authenticate(a.token)).username, 'alice');
    await assert.rejects(users.authenticate(b.token), code('IIP_ERR_AUTH_REQUIRED'));

    // Reset by an administrator: a generated password, every session ends.
    const r = await users.resetPassword(alice.id);
    assert.ok(r.generatedPassword && r.generatedPassword.length >= 20);
    await assert.rejects(users.authenticate(a.token), code('IIP_ERR_AUTH_REQUIRED'));
    const c = await users.login('alice', r.generatedPassword as string, '10.0.0.5');
    const d = await users.login('alice', r.generatedPassword as string, '10.0.0.5');
    assert.equal(await users.endSessions(alice.id), 2, 'sign out everywhere');
    await assert.rejects(users.authenticate(c.token), code('IIP_ERR_AUTH_REQUIRED'));
    await assert.rejects(users.authenticate(d.token), code('IIP_ERR_AUTH_REQUIRED'));
  } finally {
    await storage.close();
    await dir.cleanup();
  }
});
