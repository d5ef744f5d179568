/**
 * Issue 12 from the command line, against a real running platform: `iip asset`, `iip user`, `iip role`,
 * `iip tenant list|create|suspend|resume|delete`, `iip audit events` and the platform administrator's --tenant.
 * Commands run through `main` as bin/iip.mjs runs them (and once as a real process, for a password on stdin).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Platform, startPlatform } from '@iip/server';
import { authenticator, tempDir, waitFor } from '@iip/testkit';
import { iip, iipProcess, json, ok, refused, type Run } from './harness.js';

let platform: Platform;
let dir: { path: string; cleanup(): Promise<void> };
const ADMIN_PASSWORD = 'cobalt-river-lantern-42';
/** Users here share one password that passes the policy (not containing any of their names). */
const PASSWORD = 'harbour-lamp-kettle-7';

before(async () => {
  dir = await tempDir('iip-cli-admin-');
  platform = await startPlatform({ dataDir: `${dir.path}/data`, httpPort: 0, mqttPort: 0, adminPassword: ADMIN_PASSWORD, consoleDir: '/nonexistent' });
  await platform.registry.createProduct('default' as never, {
    id: 'sensor',
    model: { properties: [{ id: 't', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] },
  });
  process.env.IIP_URL = platform.httpUrl;
  process.env.IIP_PASSWORD = ADMIN_PASSWORD;
  delete process.env.IIP_USERNAME;
  delete process.env.IIP_TENANT;
  delete process.env.IIP_TOKEN;
  delete process.env.IIP_NEW_PASSWORD;
});
after(async () => {
  await platform?.close();
  await dir?.cleanup();
});

/** Runs `iip` with some environment variables set (a signed-in user other than admin, say), then restores them. */
async function iipWith(env: Record<string, string | undefined>, ...argv: string[]): Promise<Run> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await iip(...argv);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const asUser = (username: string, password: string, ...argv: string[]) => iipWith({ IIP_USERNAME: username, IIP_PASSWORD: password }, ...argv);

interface TreeNode {
  id: string;
  parent: string | null;
  level: string;
  devices: number;
  subtreeDevices: number;
  children: TreeNode[];
}

describe('iip asset', () => {
  test('builds a tree, places devices, moves a node; a cycle, a bad level and a non-empty delete are refused', async () => {
    for (const a of [
      ['acme', '--level', 'enterprise', '--name', 'Acme', '--name-zh', '艾克米'],
      ['plant-1', '--level', 'site', '--name', 'Plant 1', '--parent', 'acme'],
      ['hall-1', '--level', 'area', '--name', 'Hall 1', '--parent', 'plant-1'],
      ['hall-2', '--level', 'area', '--name', 'Hall 2', '--parent', 'plant-1'],
      ['line-1', '--level', 'line', '--name', 'Line 1', '--parent', 'hall-1'],
      ['cell-1', '--level', 'cell', '--name', 'Cell 1', '--parent', 'line-1'],
    ]) {
      ok(await iip('asset', 'create', ...a));
    }
    for (const id of ['m-1', 'm-2', 'm-3']) ok(await iip('device', 'create', '--product', 'sensor', '--id', id));
    assert.match(ok(await iip('asset', 'place', 'm-1', 'cell-1')).out, /Placed device .*m-1 on .*cell-1/);
    ok(await iip('asset', 'place', 'm-2', 'hall-1'));

    const tree = ok(await iip('asset', 'tree')).out.split('\n');
    assert.deepEqual(tree, [
      '└─ Acme / 艾克米  [acme, enterprise]  0 devices / 台设备 (2 in subtree / 含下级)',
      '   └─ Plant 1  [plant-1, site]  0 devices / 台设备 (2 in subtree / 含下级)',
      '      ├─ Hall 1  [hall-1, area]  1 device / 台设备 (2 in subtree / 含下级)',
      '      │  └─ Line 1  [line-1, line]  0 devices / 台设备 (1 in subtree / 含下级)',
      '      │     └─ Cell 1  [cell-1, cell]  1 device / 台设备',
      '      └─ Hall 2  [hall-2, area]  0 devices / 台设备',
      'not on the tree / 未放置: 1 device / 台设备',
    ]);

    const moved = json<{ id: string; parent: string }>(await iip('asset', 'move', 'line-1', 'hall-2', '--json'));
    assert.deepEqual([moved.id, moved.parent], ['line-1', 'hall-2']);
    const cycle = await iip('asset', 'move', 'plant-1', 'cell-1');
    refused(cycle, 'IIP_ERR_ASSET_CYCLE');
    assert.match(cycle.err, /fix \/ 处理: Choose a new parent outside the subtree/);
    refused(await iip('asset', 'create', 'x-1', '--level', 'site', '--name', 'X', '--parent', 'cell-1'), 'IIP_ERR_ASSET_LEVEL');
    refused(await iip('asset', 'delete', 'hall-1'), 'IIP_ERR_ASSET_NOT_EMPTY');

    const after = json<{ tree: TreeNode[]; unplacedDevices: number }>(await iip('asset', 'tree', '--json'));
    const plant = after.tree[0]?.children[0];
    assert.deepEqual(
      plant?.children.map((h) => [h.id, h.devices, h.subtreeDevices, h.children.map((c) => c.id)]),
      [
        ['hall-1', 1, 1, []],
        ['hall-2', 0, 1, ['line-1']],
      ],
    );

    ok(await iip('asset', 'place', 'm-2', 'none'));
    assert.equal(json<{ unplacedDevices: number }>(await iip('asset', 'tree', '--json')).unplacedDevices, 2);
    assert.match(ok(await iip('asset', 'delete', 'hall-1')).out, /Deleted asset .*hall-1/);
    const renamed = json<{ name: string; nameZh: string }>(await iip('asset', 'rename', 'hall-2', '--name', 'Hall Two', '--name-zh', '二车间', '--json'));
    assert.deepEqual([renamed.name, renamed.nameZh], ['Hall Two', '二车间']);
    const list = ok(await iip('asset', 'list')).out;
    assert.match(list, /^hall-2\s+area\s+plant-1\s+Hall Two\s+二车间/m);
    assert.doesNotMatch(list, /hall-1/);
  });

  test('usage errors exit 2 without calling the API', async () => {
    assert.equal((await iip('asset', 'create', 'y-1', '--name', 'Y')).code, 2, 'no --level');
    assert.equal((await iip('asset', 'move', 'line-1')).code, 2, 'no new parent');
    assert.equal((await iip('asset', 'frobnicate')).code, 2);
    for (const [cmd, word] of [
      ['asset', 'place <device-id>'],
      ['user', 'reset-password <user>'],
      ['role', 'permissions'],
      ['tenant', 'suspend <id> --reason'],
      ['audit', 'events [--actor'],
    ] as const) {
      const help = ok(await iip(cmd, '--help'));
      assert.ok(help.out.includes(word), `${cmd} --help: ${help.out}`);
    }
  });
});

describe('iip user and iip role', () => {
  test('create with a grant on a subtree, list, grant and revoke, disable and enable, reset the password', async () => {
    const created = await iip('user', 'create', 'alice', '--password', PASSWORD, '--role', 'viewer@hall-2');
    ok(created);
    assert.match(created.out, /Created user .*alice.*roles \/ 角色: viewer@hall-2/);
    assert.doesNotMatch(created.out, new RegExp(PASSWORD));

    const list = ok(await iip('user', 'list')).out;
    assert.match(list, /^alice\s+\S+\s+active \/ 正常\s+viewer@hall-2/m);

    // Alice sees the hall-2 subtree only.
    const seen = json<{ items: Array<{ id: string }> }>(await asUser('alice', PASSWORD, 'asset', 'list', '--json'));
    assert.deepEqual(seen.items.map((a) => a.id).sort(), ['cell-1', 'hall-2', 'line-1']);
    refused(await asUser('alice', PASSWORD, 'user', 'list'), 'IIP_ERR_AUTH_FORBIDDEN');

    const granted = json<Array<{ role: string; asset: string | null }>>(await iip('user', 'grant', 'alice', '--role', 'auditor', '--role', 'operator@plant-1', '--json'));
    assert.deepEqual(
      granted.map((g) => [g.role, g.asset]),
      [
        ['auditor', null],
        ['operator', 'plant-1'],
      ],
    );
    ok(await asUser('alice', PASSWORD, 'user', 'list'));
    refused(await iip('user', 'grant', 'alice', '--role', 'no-such-role'), 'IIP_ERR_ACCESS_UNKNOWN_ROLE');
    ok(await iip('user', 'revoke', 'alice', '--role', 'auditor'));
    refused(await iip('user', 'revoke', 'alice', '--role', 'auditor'), 'IIP_ERR_NOT_FOUND');
    const users = json<{ items: Array<{ username: string; disabled: boolean; grants: Array<{ role: string; asset: string | null }> }> }>(await iip('user', 'list', '--json'));
    const alice = users.items.find((u) => u.username === 'alice');
    assert.deepEqual(alice?.grants.map((g) => `${g.role}@${g.asset}`).sort(), ['operator@plant-1', 'viewer@hall-2']);

    assert.match(ok(await iip('user', 'disable', 'alice')).out, /Disabled .*alice/);
    assert.equal(json<{ items: Array<{ username: string; disabled: boolean }> }>(await iip('user', 'list', '--json')).items.find((u) => u.username === 'alice')?.disabled, true);
    refused(await asUser('alice', PASSWORD, 'asset', 'list'), 'IIP_ERR_AUTH_USER_DISABLED');
    ok(await iip('user', 'enable', 'alice'));
    ok(await asUser('alice', PASSWORD, 'asset', 'list'));

    const reset = ok(await iip('user', 'reset-password', 'alice')).out;
    const generated = /new password \/ 新密码 \(shown once \/ 仅显示一次\): (\S+)$/m.exec(reset)?.[1];
    assert.ok(generated && generated.length >= 12, reset);
    refused(await asUser('alice', PASSWORD, 'asset', 'list'), 'IIP_ERR_AUTH_LOGIN_FAILED');
    ok(await asUser('alice', generated, 'asset', 'list'));
    const chosen = ok(await iip('user', 'reset-password', 'alice', '--password', PASSWORD)).out;
    assert.doesNotMatch(chosen, /new password/);
    ok(await asUser('alice', PASSWORD, 'asset', 'list'));
  });

  test('create takes the password from IIP_NEW_PASSWORD, or from standard input, and never prints it', async () => {
    const fromEnv = await iipWith({ IIP_NEW_PASSWORD: PASSWORD }, 'user', 'create', 'bob', '--role', 'viewer');
    assert.doesNotMatch(ok(fromEnv).out, new RegExp(PASSWORD));
    ok(await asUser('bob', PASSWORD, 'asset', 'list'));

    // The real `iip` process, the password piped in.
    const r = await iipProcess(['user', 'create', 'carol', '--role', 'viewer@plant-1'], `${PASSWORD}\n`, { IIP_NEW_PASSWORD: '' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Created user .*carol/);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(PASSWORD));
    ok(await asUser('carol', PASSWORD, 'asset', 'list'));

    const none = await iipProcess(['user', 'create', 'dave'], '', { IIP_NEW_PASSWORD: '' });
    assert.equal(none.status, 2, none.stderr);
    assert.match(none.stderr, /IIP_ERR_CLI_USAGE: no password given/);
  });

  test('roles: the catalogue, a custom role granted, its deletion refused while used', async () => {
    const perms = json<{ items: Array<{ id: string; scope: string }> }>(await iip('role', 'permissions', '--json'));
    assert.equal(perms.items.find((p) => p.id === 'tenants:manage')?.scope, 'platform');
    assert.match(ok(await iip('role', 'permissions')).out, /^assets:read\s+asset\s+See the asset tree\s+查看资产树$/m);

    ok(await iip('role', 'create', 'inspector', '--name', 'Inspector', '--permission', 'assets:read,devices:read', '--permission', 'audit:read'));
    refused(await iip('role', 'create', 'bad', '--name', 'Bad', '--permission', 'tenants:manage'), 'IIP_ERR_ACCESS_UNKNOWN_PERMISSION');
    refused(await iip('role', 'create', 'viewer', '--name', 'Mine', '--permission', 'assets:read'), 'IIP_ERR_ACCESS_RESERVED_ROLE');
    assert.match(ok(await iip('role', 'list')).out, /^inspector\s+custom \/ 自定义\s+Inspector\s+3$/m);
    const shown = ok(await iip('role', 'show', 'inspector')).out;
    assert.match(shown, /^audit:read\s+tenant\s+/m);
    assert.match(shown, /^devices:read\s+asset\s+/m);

    ok(await iip('user', 'grant', 'bob', '--role', 'inspector@plant-1'));
    refused(await iip('role', 'delete', 'inspector'), 'IIP_ERR_CONFLICT');
    ok(await iip('user', 'revoke', 'bob', '--role', 'inspector@plant-1'));
    ok(await iip('role', 'delete', 'inspector'));
    refused(await iip('role', 'show', 'inspector'), 'IIP_ERR_NOT_FOUND');
  });
});

describe('iip tenant as the platform administrator, and --tenant', () => {
  test('create with a first admin, act on it with --tenant, suspend, delete (refused while active)', async () => {
    const made = json<{ id: string; status: string; admin: string }>(
      await iip('tenant', 'create', 'tenant-b', '--name', 'Tenant B', '--admin', 'b-admin', '--admin-password', PASSWORD, '--json'),
    );
    assert.deepEqual([made.id, made.status, made.admin], ['tenant-b', 'active', 'b-admin']);
    assert.match(ok(await iip('tenant', 'list')).out, /^tenant-b\s+active \/ 正常\s+Tenant B/m);
    // (Products have no CLI yet: made through the registry, as the other CLI tests do.)
    await platform.registry.createProduct('tenant-b' as never, { id: 'sensor', model: { properties: [], events: [], services: [] } });

    // The platform administrator works inside tenant B: by flag after the command, before it, or IIP_TENANT.
    ok(await iip('asset', 'create', 'b-site', '--level', 'site', '--name', 'B site', '--tenant', 'tenant-b'));
    ok(await iip('--tenant', 'tenant-b', 'device', 'create', '--product', 'sensor', '--id', 'b-dev'));
    refused(await iip('--tenant', 'tenant-b', 'device', 'create', '--product', 'no-such', '--id', 'b-dev-2'), 'IIP_ERR_NOT_FOUND');
    const bAssets = json<{ items: Array<{ id: string }> }>(await iipWith({ IIP_TENANT: 'tenant-b' }, 'asset', 'list', '--json'));
    assert.deepEqual(
      bAssets.items.map((a) => a.id),
      ['b-site'],
    );
    const bUsers = json<{ items: Array<{ username: string; tenant: string; grants: Array<{ role: string }> }> }>(await iip('user', 'list', '--tenant', 'tenant-b', '--json'));
    assert.deepEqual(
      bUsers.items.map((u) => [u.username, u.tenant, u.grants.map((g) => g.role)]),
      [['b-admin', 'tenant-b', ['tenant-admin']]],
    );
    const own = json<{ items: Array<{ id: string }> }>(await iip('asset', 'list', '--json'));
    assert.equal(
      own.items.some((a) => a.id === 'b-site'),
      false,
      'without --tenant the administrator is in its own tenant',
    );

    // B's administrator sees B and cannot switch tenants.
    const asB = json<{ items: Array<{ id: string }> }>(await asUser('b-admin', PASSWORD, 'device', 'list', '--json'));
    assert.deepEqual(
      asB.items.map((d) => d.id),
      ['b-dev'],
    );
    refused(await asUser('b-admin', PASSWORD, '--tenant', 'default', 'asset', 'list'), 'IIP_ERR_AUTH_FORBIDDEN');
    refused(await asUser('b-admin', PASSWORD, 'tenant', 'list'), 'IIP_ERR_AUTH_FORBIDDEN');
    refused(await iip('asset', 'list', '--tenant', 'no-such-tenant'), 'IIP_ERR_NOT_FOUND');

    const active = await iip('tenant', 'delete', 'tenant-b');
    refused(active, 'IIP_ERR_TENANT_ACTIVE');
    assert.match(active.err, /fix \/ 处理: PATCH \/api\/v1\/tenants/);
    assert.equal((await iip('tenant', 'suspend', 'tenant-b')).code, 2, 'a reason is required');
    const suspended = json<{ status: string; suspendedReason: string }>(await iip('tenant', 'suspend', 'tenant-b', '--reason', 'contract ended', '--json'));
    assert.deepEqual([suspended.status, suspended.suspendedReason], ['suspended', 'contract ended']);
    assert.match(ok(await iip('tenant', 'list')).out, /^tenant-b\s+suspended \/ 已停用\s+Tenant B\s+\S+\s+contract ended$/m);
    const refusedB = await asUser('b-admin', PASSWORD, 'asset', 'list');
    refused(refusedB, 'IIP_ERR_TENANT_SUSPENDED');
    assert.match(refusedB.err, /contract ended/);

    ok(await iip('tenant', 'resume', 'tenant-b'));
    ok(await asUser('b-admin', PASSWORD, 'asset', 'list'));
    ok(await iip('tenant', 'suspend', 'tenant-b', '--reason', 'closing'));
    const deleted = json<{ id: string; deleted: boolean; devices: number }>(await iip('tenant', 'delete', 'tenant-b', '--json'));
    assert.deepEqual(deleted, { id: 'tenant-b', deleted: true, devices: 1 });
    assert.doesNotMatch(ok(await iip('tenant', 'list')).out, /tenant-b/);
    refused(await iip('asset', 'list', '--tenant', 'tenant-b'), 'IIP_ERR_NOT_FOUND');
  });

  test('tenant usage and policy keep working next to the new subcommands', async () => {
    assert.match(ok(await iip('tenant', 'usage')).out, /devices \/ 设备:\s+\d+ of unlimited/);
    assert.match(ok(await iip('tenant', 'policy')).out, /quotas \/ 配额:/);
    assert.equal((await iip('tenant', 'bogus')).code, 2);
  });
});

describe('iip audit events', () => {
  test('filtered by action, actor and result; exported as CSV', async () => {
    type Events = { items: Array<{ seq: number; actor: string; action: string; target: string; result: string; details: { code?: string } }> };
    // Events are appended just after each response: wait until the last user created above is in the log.
    let created: Events = { items: [] };
    await waitFor(async () => {
      created = json<Events>(await iip('audit', 'events', '--action', 'POST /api/v1/users', '--json'));
      return created.items.length >= 3;
    }, 'three user creations in the audit log');
    assert.ok(
      created.items.every((e) => e.action === 'POST /api/v1/users'),
      'only the action asked for',
    );
    assert.deepEqual(
      created.items.map((e) => [e.actor, e.result]),
      [
        ['admin', 'ok'],
        ['admin', 'ok'],
        ['admin', 'ok'],
      ],
    );

    const cycle = json<Events>(await iip('audit', 'events', '--action', 'PATCH /api/v1/assets/:id', '--result', 'failed', '--since', '1h', '--json'));
    assert.deepEqual(
      cycle.items.map((e) => [e.target, e.details.code]),
      [['id=plant-1', 'IIP_ERR_ASSET_CYCLE']],
    );
    const byAlice = json<Events>(await iip('audit', 'events', '--actor', 'alice', '--result', 'denied', '--json'));
    assert.ok(byAlice.items.length >= 1, 'alice was refused the user list');
    assert.ok(byAlice.items.every((e) => e.actor === 'alice' && e.result === 'denied'));
    assert.deepEqual(json<Events>(await iip('audit', 'events', '--action', 'POST /api/v1/users', '--until', '2000-01-01', '--json')).items, []);

    const paged = json<Events & { nextAfterSeq?: number }>(await iip('audit', 'events', '--action', 'POST /api/v1/users', '--limit', '2', '--json'));
    assert.equal(paged.items.length, 2);
    assert.equal(paged.nextAfterSeq, paged.items[1]?.seq);
    const rest = json<Events>(await iip('audit', 'events', '--action', 'POST /api/v1/users', '--after-seq', String(paged.nextAfterSeq), '--json'));
    assert.equal(rest.items[0]?.seq, created.items[2]?.seq);

    const csv = ok(await iip('audit', 'events', '--action', 'POST /api/v1/users', '--csv')).out.split('\r\n');
    assert.equal(csv[0], 'seq,time,tenant,actor,source,action,target,result,details,hash');
    assert.equal(csv.length, 1 + created.items.length);
    for (const line of csv.slice(1)) assert.match(line, /^"\d+","[^"]+Z","default","admin","[^"]*","POST \/api\/v1\/users","","ok",/);

    const table = ok(await iip('audit', 'events', '--action', 'POST /api/v1/users')).out;
    assert.match(table, /^SEQ\s+TIME\s+ACTOR/);
    assert.match(table, /3 events \/ 条事件$/);

    assert.equal((await iip('audit', 'events', '--result', 'maybe')).code, 2);
    assert.equal((await iip('audit', 'events', '--since', 'yesterday-ish')).code, 2);
    assert.equal((await iip('audit', 'events', '--csv', '--json')).code, 2);
  });
});

describe('a user with a second factor', () => {
  test('signs in with IIP_TOTP; without it the refusal says what to set', async () => {
    ok(await iip('user', 'create', 'tina', '--password', PASSWORD, '--role', 'viewer'));
    const post = async (path: string, token: string | undefined, body: unknown) => {
      const r = await fetch(`${platform.httpUrl}/api/v1${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, string> };
    };
    const token = (await post('/auth/login', undefined, { username: 'tina', password: PASSWORD })).body.token;
    const app = authenticator((await post('/auth/totp/setup', token, {})).body.secret as string);
    assert.equal((await post('/auth/totp/enable', token, { code: await app.next() })).status, 204);

    const without = await asUser('tina', PASSWORD, 'device', 'list');
    refused(without, 'IIP_ERR_AUTH_TOTP_REQUIRED');
    assert.match(without.err, /IIP_TOTP/);
    const withCode = await iipWith({ IIP_USERNAME: 'tina', IIP_PASSWORD: PASSWORD, IIP_TOTP: await app.next() }, 'device', 'list');
    ok(withCode);
  });
});
