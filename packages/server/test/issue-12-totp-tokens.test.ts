/**
 * Issue 12: the second factor (TOTP, RFC 6238), the tenant rule that requires it of administrators, service
 * accounts with scoped API tokens, refusals throttled in the audit log, and audit retention. Codes come from the
 * testkit's authenticator (RFC 6238 on node:crypto, checked against the RFC's vectors), not from the library the
 * platform uses, so the two are checked against each other.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TenantId } from '@iip/core';
import { RetentionService } from '@iip/historian';
import { openSqliteStorage, verifyEventChain } from '@iip/storage';
import { authenticator, tempDir } from '@iip/testkit';
import { AuditTrail, REFUSAL_BURST } from '../src/audit-trail.js';
import { startTestPlatform, type TestPlatform } from './fixture.js';

const PASSWORD = 'harbour-lamp-kettle-7';

let tp: TestPlatform;
before(async () => {
  tp = await startTestPlatform();
});
after(() => tp?.close());

async function login(username: string, password = PASSWORD, code?: string) {
  return tp.anon<{ token: string; security: { totpEnabled: boolean; totpRequired: boolean }; code?: string }>('POST', '/api/v1/auth/login', {
    username,
    password,
    ...(code !== undefined && { totp: code }),
  });
}
const as = (token: string) => (method: string, path: string, body?: unknown) => tp.anon<Record<string, unknown>>(method, path, body, { authorization: `Bearer ${token}` });

describe('second factor (TOTP)', () => {
  test('set up, confirm, then sign-in asks for a code; wrong, replayed and missing codes are refused', async () => {
    assert.equal((await tp.api('POST', '/api/v1/users', { username: 'ada', password: PASSWORD, grants: [{ role: 'engineer' }] })).status, 201);
    const first = await login('ada');
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.security, { totpEnabled: false, totpRequired: false });
    const ada = as(first.body.token);

    const setup = await ada('POST', '/api/v1/auth/totp/setup');
    assert.equal(setup.status, 200);
    const secret = setup.body.secret as string;
    assert.match(secret, /^[A-Z2-7]{32}$/, '160 random bits in base32');
    const uri = new URL(setup.body.otpauthUrl as string);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.searchParams.get('secret'), secret);
    assert.equal(uri.searchParams.get('issuer'), 'iip');
    // Not on until confirmed: sign-in still needs no code.
    assert.equal((await login('ada')).status, 200);

    const app = authenticator(secret);
    const wrong = await ada('POST', '/api/v1/auth/totp/enable', { code: app.wrong() });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'IIP_ERR_AUTH_TOTP_INVALID');
    assert.equal((await ada('POST', '/api/v1/auth/totp/enable', { code: await app.next() })).status, 204);
    assert.equal((await tp.api<{ items: Array<{ username: string; totpEnabled: boolean }> }>('GET', '/api/v1/users')).body.items.find((u) => u.username === 'ada')?.totpEnabled, true);

    const noCode = await login('ada');
    assert.equal(noCode.status, 401);
    assert.equal(noCode.body.code, 'IIP_ERR_AUTH_TOTP_REQUIRED');
    assert.equal((await login('ada', 'not-the-password-at-all', app.wrong())).body.code, 'IIP_ERR_AUTH_LOGIN_FAILED', 'the password is checked first');
    const bad = await login('ada', PASSWORD, app.wrong());
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'IIP_ERR_AUTH_TOTP_INVALID');
    // The step of the enable call was used: the app's next code is a later step (or it waits for one).
    const code = await app.next();
    const ok = await login('ada', PASSWORD, code);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.security, { totpEnabled: true, totpRequired: false });
    const replay = await login('ada', PASSWORD, code);
    assert.equal(replay.body.code, 'IIP_ERR_AUTH_TOTP_INVALID', 'a code is good once');

    // Off again with the password (the tenant does not require it).
    const off = await as(ok.body.token)('POST', '/api/v1/auth/totp/disable', { password: PASSWORD });
    assert.equal(off.status, 204);
    assert.equal((await login('ada')).status, 200);
    // Everything was audited, with the code-less and wrong-code refusals among the sign-in attempts.
    const events = await tp.api<{ items: Array<{ action: string; actor: string; result: string; details: { code?: string } }> }>('GET', '/api/v1/audit/events?actor=ada&limit=100');
    const codes = events.body.items.map((e) => e.details.code).filter(Boolean);
    assert.ok(codes.includes('IIP_ERR_AUTH_TOTP_REQUIRED') && codes.includes('IIP_ERR_AUTH_TOTP_INVALID'), JSON.stringify(codes));
    assert.ok(events.body.items.some((e) => e.action === 'POST /api/v1/auth/totp/setup'));
    assert.ok(!JSON.stringify(events.body).includes(secret), 'the secret is not in the audit log');
  });

  test('a tenant that requires it of administrators: an administrator without one may only set it up; others are not affected', async () => {
    const made = await tp.api('POST', '/api/v1/tenants', { id: 'strict', name: 'Strict Ltd', admin: { username: 'strict-admin', password: PASSWORD } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const adminToken = (await login('strict-admin')).body.token;
    const admin = as(adminToken);
    assert.equal((await admin('POST', '/api/v1/users', { username: 'strict-viewer', password: PASSWORD, grants: [{ role: 'viewer' }] })).status, 201);
    const before = (await admin('GET', '/api/v1/tenant/policy')).body as { retention: Record<string, unknown>; quotas: Record<string, unknown> };
    const put = await admin('PUT', '/api/v1/tenant/policy', { ...before, security: { totpRequiredForAdmins: true } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    // An older client that replaces retention and quotas only leaves the rule as it is (here the platform
    // administrator acting on the tenant: the tenant's own administrator is already held to the rule).
    const older = await tp.api<{ security: unknown }>('PUT', '/api/v1/tenant/policy', { retention: { rawDays: 400 }, quotas: before.quotas }, { 'x-iip-tenant': 'strict' });
    assert.equal(older.status, 200, JSON.stringify(older.body));
    assert.deepEqual((older.body as { security: unknown }).security, { totpRequiredForAdmins: true });

    // The session that turned it on is caught at its next request.
    const refused = await admin('GET', '/api/v1/devices');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED');
    const again = await login('strict-admin');
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.security, { totpEnabled: false, totpRequired: true });
    const a2 = as(again.body.token);
    assert.equal((await a2('GET', '/api/v1/users')).body.code, 'IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED');
    assert.equal((await a2('GET', '/api/v1/auth/me')).status, 200, 'who-am-I still answers');
    // A viewer is no administrator: unaffected.
    const viewer = await login('strict-viewer');
    assert.deepEqual(viewer.body.security, { totpEnabled: false, totpRequired: false });
    assert.equal((await as(viewer.body.token)('GET', '/api/v1/devices')).status, 200);

    const setup = await a2('POST', '/api/v1/auth/totp/setup');
    assert.equal((await a2('POST', '/api/v1/auth/totp/enable', { code: await authenticator(setup.body.secret as string).next() })).status, 204);
    assert.equal((await a2('GET', '/api/v1/devices')).status, 200, 'the same session goes on once the factor is on');
    const off = await a2('POST', '/api/v1/auth/totp/disable', { password: PASSWORD });
    assert.equal(off.status, 409);
    assert.equal(off.body.code, 'IIP_ERR_AUTH_TOTP_REQUIRED_BY_TENANT');

    // The platform administrator resets it (a lost phone): the next sign-in needs no code but must set it up again.
    const users = await tp.api<{ items: Array<{ id: string; username: string }> }>('GET', '/api/v1/users', undefined, { 'x-iip-tenant': 'strict' });
    const id = users.body.items.find((u) => u.username === 'strict-admin')?.id as string;
    assert.equal((await tp.api('POST', `/api/v1/users/${id}/totp/reset`, undefined, { 'x-iip-tenant': 'strict' })).status, 200);
    const afterReset = await login('strict-admin');
    assert.deepEqual(afterReset.body.security, { totpEnabled: false, totpRequired: true });
  });
});

describe('service accounts and API tokens', () => {
  test('a scoped token acts with at most its scopes; it is shown once, stored hashed, revoked at once', async () => {
    const made = await tp.api<{ id: string; kind: string }>('POST', '/api/v1/users', { username: 'line-exporter', kind: 'service', grants: [{ role: 'engineer' }] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.kind, 'service');
    const svc = made.body.id;
    // A service account has no password: none at creation, none by reset, no sign-in.
    assert.equal((await tp.api<{ code: string }>('POST', '/api/v1/users', { username: 'svc-with-pw', kind: 'service', password: PASSWORD })).body.code, 'IIP_ERR_AUTH_SERVICE_ACCOUNT');
    assert.equal((await tp.api<{ code: string }>('POST', `/api/v1/users/${svc}/password`, {})).body.code, 'IIP_ERR_AUTH_SERVICE_ACCOUNT');
    assert.equal((await tp.api<{ code: string }>('POST', '/api/v1/users', { username: 'person-without-pw' })).body.code, 'IIP_ERR_VALIDATION');

    const create = (body: unknown) => tp.api<Record<string, unknown>>('POST', `/api/v1/users/${svc}/api-tokens`, body);
    assert.equal((await create({ name: 'x', scopes: ['users:manage'], expiresInDays: 30 })).body.code, 'IIP_ERR_AUTH_TOKEN_SCOPE', 'an engineer does not manage users');
    assert.equal((await create({ name: 'x', scopes: ['devices:fly'], expiresInDays: 30 })).body.code, 'IIP_ERR_ACCESS_UNKNOWN_PERMISSION');
    assert.equal((await create({ name: 'x', scopes: ['devices:read'], expiresInDays: 0 })).status, 400, 'tokens always expire, after 1 to 366 days');
    const made2 = await create({ name: 'historian export', scopes: ['devices:read', 'products:read'], expiresInDays: 90 });
    assert.equal(made2.status, 201, JSON.stringify(made2.body));
    const token = made2.body.token as string;
    assert.match(token, /^iipat_[0-9a-f]{18}_[A-Za-z0-9_-]{43}$/);
    assert.ok(Math.abs((made2.body.expiresAt as number) - (Date.now() + 90 * 86_400_000)) < 60_000);

    const svcCall = as(token);
    assert.equal((await svcCall('GET', '/api/v1/devices')).status, 200, 'within its scopes');
    const write = await svcCall('POST', '/api/v1/devices', { id: 'made-by-token', name: 'x', product: 'sensor' });
    assert.equal(write.status, 403, 'the engineer may create devices, the token may not');
    assert.equal(write.body.code, 'IIP_ERR_AUTH_FORBIDDEN');
    const me = await svcCall('GET', '/api/v1/auth/me');
    assert.deepEqual((me.body.access as { tenantWide: string[] }).tenantWide.filter((p) => p.startsWith('devices:')), ['devices:read']);
    assert.equal((await svcCall('POST', `/api/v1/users/${svc}/api-tokens`, { name: 'y', scopes: ['devices:read'], expiresInDays: 1 })).status, 403, 'a token cannot mint tokens');
    assert.equal((await svcCall('POST', '/api/v1/auth/totp/setup')).status, 403);

    // Listed without its text; the text is nowhere in the database, only its hash.
    const list = await tp.api<{ items: Array<Record<string, unknown>> }>('GET', `/api/v1/users/${svc}/api-tokens`);
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0]?.name, 'historian export');
    assert.equal(list.body.items[0]?.token, undefined);
    assert.ok(!JSON.stringify(list.body).includes(token.slice(25)));
    const db = await readFile(join(tp.dataDir, 'iip.db')).catch(() => Buffer.alloc(0));
    const wal = await readFile(join(tp.dataDir, 'iip.db-wal')).catch(() => Buffer.alloc(0));
    assert.ok(db.length + wal.length > 0);
    assert.ok(!db.includes(token.slice(25)) && !wal.includes(token.slice(25)), 'the secret part is not stored');

    // A forged token with a real id, and a revoked token, are refused.
    assert.equal((await as(`${token.slice(0, 25)}${'A'.repeat(43)}`)('GET', '/api/v1/devices')).status, 401);
    assert.equal((await tp.api('DELETE', `/api/v1/users/${svc}/api-tokens/${made2.body.id as string}`)).status, 204);
    const revoked = await svcCall('GET', '/api/v1/devices');
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.code, 'IIP_ERR_AUTH_REQUIRED');
  });

  test('a user manages its own tokens; a token of a disabled user is refused', async () => {
    assert.equal((await tp.api('POST', '/api/v1/users', { username: 'grace', password: PASSWORD, grants: [{ role: 'viewer' }] })).status, 201);
    const g = await login('grace');
    const grace = as(g.body.token);
    const me = await grace('GET', '/api/v1/auth/me');
    const mine = await grace('POST', `/api/v1/users/${me.body.id as string}/api-tokens`, { name: 'my script', scopes: ['*'], expiresInDays: 7 });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    const admins = await tp.api<{ items: Array<{ id: string; username: string }> }>('GET', '/api/v1/users');
    const adminId = admins.body.items.find((u) => u.username === 'admin')?.id as string;
    assert.equal((await grace('GET', `/api/v1/users/${adminId}/api-tokens`)).status, 403, "another user's tokens need users:manage");
    const scripted = as(mine.body.token as string);
    assert.equal((await scripted('GET', '/api/v1/devices')).status, 200);
    assert.equal((await tp.api('POST', `/api/v1/users/${me.body.id as string}/disable`)).status, 200);
    assert.equal((await scripted('GET', '/api/v1/devices')).status, 401);
  });
});

describe('audit log upkeep', () => {
  test('refusals are throttled per caller: a flood of bad tokens becomes the first few events and one summary', async () => {
    const dir = await tempDir('iip-audit-throttle-');
    const storage = openSqliteStorage({ file: join(dir.path, 'iip.db') });
    try {
      let now = Date.UTC(2026, 0, 1);
      const trail = new AuditTrail(storage.events, 'default', () => {}, () => now);
      const refusal = { actor: '-', source: '10.0.0.9', action: 'GET /api/v1/devices', target: '', details: { status: 401, code: 'IIP_ERR_AUTH_REQUIRED' } };
      for (let i = 0; i < 50; i++) await trail.refusal(refusal);
      await trail.refusal({ ...refusal, source: '10.0.0.10' });
      const T = 'default' as TenantId;
      assert.equal((await storage.events.list(T, { limit: 1000 })).length, REFUSAL_BURST + 1, 'the first 20 of one caller, and another caller');
      assert.equal(trail.stats().suppressed, 50 - REFUSAL_BURST);
      now += 61_000;
      await trail.flush(false);
      const events = await storage.events.list(T, { limit: 1000 });
      const summary = events.find((e) => e.action === 'audit.suppressed');
      assert.ok(summary, 'the rest is one summary event');
      assert.equal(summary.source, '10.0.0.9');
      assert.deepEqual([summary.details.suppressed, summary.details.refusals, summary.details.lastAction], [30, 50, 'GET /api/v1/devices']);
      assert.equal(events.length, REFUSAL_BURST + 2);
      // A new minute starts a new window.
      await trail.refusal(refusal);
      assert.equal((await storage.events.list(T, { limit: 1000 })).length, REFUSAL_BURST + 3);
      assert.equal(verifyEventChain('default', await storage.events.list(T, { limit: 1000 })).ok, true);
    } finally {
      await storage.close();
      await dir.cleanup();
    }
  });

  test('audit retention: at least 30 days; older events go at the retention run and the rest of the chain still verifies', async () => {
    const short = await tp.api<{ code: string; details: { field: string } }>('PUT', '/api/v1/tenant/policy', { retention: { auditDays: 7 }, quotas: {} });
    assert.equal(short.status, 400);
    assert.match(JSON.stringify(short.body), /auditDays/);
    const ok = await tp.api<{ retention: { auditDays: number } }>('PUT', '/api/v1/tenant/policy', { retention: { auditDays: 365 }, quotas: {} });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.retention.auditDays, 365);

    const dir = await tempDir('iip-audit-retention-');
    const storage = openSqliteStorage({ file: join(dir.path, 'iip.db') });
    try {
      const T = 'acme' as TenantId;
      await storage.registry.createTenant({ id: T, name: 'Acme', createdAt: 1 });
      await storage.registry.setTenantPolicy(T, { retention: { auditDays: 30 }, quotas: {} });
      const now = Date.UTC(2026, 5, 1);
      for (const daysAgo of [90, 60, 31, 29, 1]) {
        await storage.events.append({ tenant: T, ts: now - daysAgo * 86_400_000, actor: 'a', source: 's', action: `x-${daysAgo}`, target: '', result: 'ok', details: {} });
      }
      const retention = new RetentionService(storage.registry, storage.telemetry, { now: () => now, events: storage.events });
      const run = await retention.runOnce();
      assert.equal(run.tenants.find((t) => t.tenant === T)?.auditDeleted, 3);
      const left = await storage.events.list(T, { limit: 1000 });
      assert.deepEqual(left.map((e) => e.action).sort(), ['x-1', 'x-29']);
      const anchor = await storage.events.anchor(T);
      assert.equal(verifyEventChain(T, left, anchor).ok, true, 'the kept events still verify from the anchor');
    } finally {
      await storage.close();
      await dir.cleanup();
    }
  });
});
