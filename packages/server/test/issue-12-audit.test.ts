/**
 * Issue 12, the audit event log through the real platform: state-changing requests, refusals and sign-ins are
 * recorded with who, tenant, UTC time, source, action, target and result; the chain verifies over the API and
 * with `iip audit verify`; a changed event is detected by both; CSV export.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { startTestPlatform, type TestPlatform } from './fixture.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let tp: TestPlatform;
type Event = { seq: number; tenant: string; ts: number; actor: string; source: string; action: string; target: string; result: string; details: { status: number; code?: string } };

before(async () => {
  tp = await startTestPlatform();
});
after(() => tp?.close());

function cliVerify(): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'audit', 'verify', '--data', tp.dataDir], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout + r.stderr };
}

describe('audit event log', () => {
  test('records changes, refusals and sign-ins; verifies; detects a changed event; exports CSV', async () => {
    assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'audited-1', product: 'sensor' })).status, 201);
    assert.equal((await tp.anon('POST', '/api/v1/auth/login', { username: 'admin', password: 'not-the-password' })).status, 401);
    assert.equal((await tp.api('POST', '/api/v1/users', { username: 'watcher2', password: 'harbour-lamp-kettle-7', grants: [{ role: 'viewer' }] })).status, 201);
    const viewer = await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username: 'watcher2', password: 'harbour-lamp-kettle-7' });
    assert.equal((await tp.anon('DELETE', '/api/v1/devices/audited-1', undefined, { authorization: `Bearer ${viewer.body.token}` })).status, 403);
    assert.equal((await tp.anon('GET', '/api/v1/devices', undefined, { authorization: 'Bearer forged-token' })).status, 401);

    const all = (await tp.api<{ items: Event[] }>('GET', '/api/v1/audit/events?limit=1000')).body.items;
    const find = (action: string, pred: (e: Event) => boolean = () => true) => all.find((e) => e.action === action && pred(e));
    const created = find('POST /api/v1/devices');
    assert.ok(created, JSON.stringify(all.map((e) => e.action)));
    assert.deepEqual([created.actor, created.tenant, created.result, created.details.status], ['admin', 'default', 'ok', 201]);
    assert.match(created.source, /127\.0\.0\.1/);
    assert.ok(Math.abs(created.ts - Date.now()) < 60_000);
    const failedLogin = find('auth.login', (e) => e.result !== 'ok' && e.actor === 'admin');
    assert.deepEqual([failedLogin?.result, failedLogin?.details.code], ['denied', 'IIP_ERR_AUTH_LOGIN_FAILED']);
    const denied = find('DELETE /api/v1/devices/:id');
    assert.deepEqual([denied?.actor, denied?.target, denied?.result, denied?.details.code], ['watcher2', 'id=audited-1', 'denied', 'IIP_ERR_AUTH_FORBIDDEN']);
    const forged = find('GET /api/v1/devices', (e) => e.details.status === 401);
    assert.deepEqual([forged?.actor, forged?.result], ['-', 'denied']);
    assert.ok(find('auth.login', (e) => e.actor === 'watcher2' && e.result === 'ok'));
    // Reading is not an audit event
    assert.equal(find('GET /api/v1/audit/events'), undefined);

    // A viewer may not read the log; an auditor may
    assert.equal((await tp.anon('GET', '/api/v1/audit/events', undefined, { authorization: `Bearer ${viewer.body.token}` })).status, 403);

    const verified = await tp.api<{ ok: boolean; events: number; headSeq: number }>('GET', '/api/v1/audit/verify');
    assert.equal(verified.body.ok, true);
    assert.ok(verified.body.events >= all.length);
    const ok = cliVerify();
    assert.equal(ok.status, 0, ok.stdout);
    assert.match(ok.stdout, /^ok\s+default: \d+ events, head #\d+ [0-9a-f]{64}$/m);

    const csv = await fetch(`${tp.platform.httpUrl}/api/v1/audit/events?format=csv`, { headers: { authorization: `Bearer ${tp.token}` } });
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'seq,time,tenant,actor,source,action,target,result,details,hash');
    assert.ok(lines.length > all.length, 'every event and the header');

    // Someone with access to the database file changes one event: both checks name it.
    const db = new Database(join(tp.dataDir, 'iip.db'));
    db.prepare("UPDATE audit_events SET actor = 'nobody' WHERE tenant = 'default' AND seq = ?").run(created.seq);
    db.close();
    const broken = await tp.api<{ ok: boolean; brokenAt: { seq: number; reason: string } }>('GET', '/api/v1/audit/verify');
    assert.equal(broken.body.ok, false);
    assert.equal(broken.body.brokenAt.seq, created.seq);
    const bad = cliVerify();
    assert.equal(bad.status, 1, bad.stdout);
    assert.match(bad.stdout, new RegExp(`BROKEN\\s+default: at event #${created.seq}: its content does not match its hash`));
  });
});
