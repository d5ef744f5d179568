// Sign-in security in the console (issue 12), the pure parts: the second-factor key as shown, the OIDC return in
// the address, token lifetimes and scopes, who must enroll, the account route, the bilingual dictionary; and the
// browser tests' own TOTP computation against RFC 6238's test vectors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heldByAccess } from '../src/account/account-page.tsx';
import { cleanCode, daysLeft, groupSecret, mustEnroll, parseOidcReturn, parseTokenDays, withoutOidcParams } from '../src/account/security-api.ts';
import { SECURITY_DICTIONARY, secErrorText, secText } from '../src/account/security-i18n.ts';
import { heldPermissions } from '../src/admin/admin-access.ts';
import { parseRoute, routeHref } from '../src/route.ts';
import { authenticator, base32Decode, totpAt } from '@iip/testkit';

test('the key is shown in groups of four; a typed code loses its spaces and dashes', () => {
  assert.equal(groupSecret('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'), 'JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP');
  assert.equal(groupSecret('ABCDEF'), 'ABCD EF');
  assert.equal(groupSecret(' AB CD EF '), 'ABCD EF');
  assert.equal(cleanCode('123 456'), '123456');
  assert.equal(cleanCode('123-456'), '123456');
});

test('the OIDC return: a one-time code, a refusal code (only IIP_ERR_… passes through), or nothing', () => {
  assert.deepEqual(parseOidcReturn('?oidc=abc_DEF-1'), { kind: 'code', code: 'abc_DEF-1' });
  assert.deepEqual(parseOidcReturn('?oidc_error=IIP_ERR_AUTH_OIDC_STATE'), { kind: 'error', code: 'IIP_ERR_AUTH_OIDC_STATE' });
  assert.deepEqual(parseOidcReturn('?oidc_error=<script>'), { kind: 'error', code: 'IIP_ERR_AUTH_OIDC_DENIED' });
  assert.deepEqual(parseOidcReturn('?oidc=x&oidc_error=IIP_ERR_AUTH_OIDC_CODE'), { kind: 'error', code: 'IIP_ERR_AUTH_OIDC_CODE' });
  assert.deepEqual(parseOidcReturn(''), { kind: 'none' });
  assert.deepEqual(parseOidcReturn('?lang=zh'), { kind: 'none' });
  assert.equal(withoutOidcParams('http://h:1/?oidc=abc#/devices'), '/#/devices');
  assert.equal(withoutOidcParams('http://h:1/console/?x=1&oidc_error=IIP_ERR_X'), '/console/?x=1');
});

test('token lifetimes: whole days 1..366; a started day counts as left, none once expired', () => {
  assert.equal(parseTokenDays('30'), 30);
  assert.equal(parseTokenDays(' 366 '), 366);
  for (const bad of ['0', '367', '1.5', '', 'abc', '-3']) assert.equal(parseTokenDays(bad), undefined, bad);
  const now = 1_000_000_000_000;
  assert.equal(daysLeft(now + 30 * 86_400_000, now), 30);
  assert.equal(daysLeft(now + 30 * 86_400_000 - 5, now), 30);
  assert.equal(daysLeft(now + 1, now), 1);
  assert.equal(daysLeft(now, now), 0);
  assert.equal(daysLeft(now - 5, now), 0);
});

test('scopes offered: what the grants hold (users page) or what the access summary holds (own account)', () => {
  const roles = [
    { id: 'viewer', permissions: ['devices:read', 'tenant-policy:read'] },
    { id: 'auditor', permissions: ['audit:read', 'devices:read'] },
  ];
  assert.deepEqual([...heldPermissions([{ role: 'viewer' }, { role: 'auditor' }], roles)].sort(), ['audit:read', 'devices:read', 'tenant-policy:read']);
  assert.deepEqual([...heldPermissions([{ role: 'gone' }], roles)], []);
  const access = { tenant: 't', homeTenant: 't', platformAdmin: false, tenantWide: ['audit:read'], assets: { hall: ['devices:read', 'devices:write-property'] } };
  assert.deepEqual([...(heldByAccess(access) ?? [])].sort(), ['audit:read', 'devices:read', 'devices:write-property']);
  assert.equal(heldByAccess(undefined), undefined);
});

test('only a session the tenant requires a second factor of, without one, must enroll', () => {
  assert.equal(mustEnroll({ totpRequired: true, totpEnabled: false }), true);
  assert.equal(mustEnroll({ totpRequired: true, totpEnabled: true }), false);
  assert.equal(mustEnroll({ totpRequired: false, totpEnabled: false }), false);
  assert.equal(mustEnroll(undefined), false);
});

test('#/account is a route of its own', () => {
  assert.deepEqual(parseRoute('#/account'), { kind: 'account' });
  assert.equal(routeHref({ kind: 'account' }), '#/account');
});

test('the security dictionary: same keys and placeholders in both languages, Chinese is Chinese, codes map', () => {
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  const { en, zh } = SECURITY_DICTIONARY;
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const [key, text] of Object.entries(en)) {
    const other = zh[key as keyof typeof en];
    assert.ok(other.trim().length > 0, `zh:${key} is empty`);
    assert.deepEqual(placeholders(other), placeholders(text), `zh:${key} placeholders`);
    assert.match(other, /[\u4e00-\u9fff]/, `zh:${key} is not Chinese`);
  }
  assert.equal(secText('en', 'login.totpHint', { username: 'ada' }), 'Enter the 6-digit code your authenticator app shows for ada.');
  assert.match(secErrorText('zh', 'IIP_ERR_AUTH_TOTP_INVALID') ?? '', /验证码/);
  assert.equal(secErrorText('en', 'IIP_ERR_SOMETHING_ELSE'), undefined);
});

test('the tests’ TOTP matches RFC 6238 appendix B (SHA-1) and never reuses a step', async () => {
  const key = Buffer.from('12345678901234567890', 'ascii');
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [t, code] of vectors) assert.equal(totpAt(key, Math.floor(t / 30), 8), code, `T=${t}`);
  assert.equal(totpAt(key, 1), '287082');
  // base32 of the same key (RFC 4648 alphabet), as an authenticator app is given it.
  assert.deepEqual(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), key);
  const auth = authenticator('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  const a = await auth.next();
  const b = await auth.next();
  assert.notEqual(a, b, 'two codes in a row are of two steps');
  assert.match(auth.wrong(), /^\d{6}$/);
});
