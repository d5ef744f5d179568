/** `iip id` against a real identifier node: create, resolve (direct over UDP), list, delete, templates, serve. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { main } from '@iip/cli';
import { type HandleNode, startHandleNode } from '@iip/identifiers';
import { freePort, tempDir, waitFor } from '@iip/testkit';

let node: HandleNode;
let dir: { path: string; cleanup(): Promise<void> };
const SECRET = 'cli-test-admin-secret';

async function iip(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(argv, (s) => lines.push(s));
  return { code, out: lines.join('\n') };
}

before(async () => {
  dir = await tempDir('iip-cli-id-');
  const port = await freePort();
  node = await startHandleNode({
    role: 'secondary',
    prefix: '88.118',
    dataDir: dir.path,
    udpPort: port,
    tcpPort: port,
    httpPort: await freePort(),
    admin: { handle: '0.NA/88.118', index: 300, secretKey: SECRET },
  });
  process.env.IIP_ID_NODE = `http://127.0.0.1:${node.httpPort}`;
  process.env.IIP_ID_SECRET = SECRET;
});
after(async () => {
  await node?.close();
  await dir?.cleanup();
});

test('create, resolve over UDP, list and delete an identifier', async () => {
  const c = await iip('id', 'create', '88.118/PUMP-0001', '--url', 'https://example.com/pump/1', '--value', 'EMAIL=ops@example.com');
  assert.equal(c.code, 0, c.out);
  const again = await iip('id', 'create', '88.118/PUMP-0001', '--url', 'https://example.com/other');
  assert.equal(again.code, 2, 'creating an existing handle without --overwrite is refused');
  const r = await iip('id', 'resolve', '88.118/pump-0001', '--server', `127.0.0.1:${node.udpPort}`, '--json');
  assert.equal(r.code, 0, r.out);
  const doc = JSON.parse(r.out) as { values: Array<{ type: string; data: { value: string } }> };
  assert.deepEqual(doc.values.map((v) => [v.type, v.data.value]), [
    ['URL', 'https://example.com/pump/1'],
    ['EMAIL', 'ops@example.com'],
  ]);
  const l = await iip('id', 'list', '--prefix', '88.118');
  assert.equal(l.code, 0, l.out);
  assert.match(l.out, /88\.118\/PUMP-0001/);
  assert.equal((await iip('id', 'delete', '88.118/PUMP-0001')).code, 0);
  const gone = await iip('id', 'resolve', '88.118/PUMP-0001', '--server', `127.0.0.1:${node.udpPort}`);
  assert.equal(gone.code, 1);
});

test('a wrong secret is refused', async () => {
  const saved = process.env.IIP_ID_SECRET;
  process.env.IIP_ID_SECRET = 'wrong';
  try {
    const r = await iip('id', 'create', '88.118/X-1', '--url', 'https://example.com');
    assert.equal(r.code, 2);
  } finally {
    process.env.IIP_ID_SECRET = saved;
  }
});

test('iip id serve runs a node until SIGINT and prints its admin secret once', async () => {
  const data = `${dir.path}/served`;
  const [udp, http] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'id', 'serve', '--role', 'enterprise', '--prefix', '88.118.8', '--data', data, '--udp-port', String(udp), '--tcp-port', String(udp), '--http-port', String(http)], {
    env: { ...process.env, IIP_ID_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  try {
    await waitFor(() => /admin secret/.test(out), 'the node to start', 30_000);
    const res = await fetch(`http://127.0.0.1:${http}/api/handles/0.NA/88.118.8`);
    assert.equal(res.status, 200);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
  assert.match(out, /Stopping/);
});

test('compact: the node drops superseded changes from its transaction log and says how many', async () => {
  for (let i = 0; i < 4; i++) assert.equal((await iip('id', 'create', '88.118/COMPACT-1', '--url', `https://example.com/v${i}`, '--overwrite')).code, 0);
  const c = await iip('id', 'compact', '--prefix', '88.118');
  assert.equal(c.code, 0, c.out);
  const m = /(\d+) superseded changes removed, (\d+) record copies dropped, (\d+) changes kept/.exec(c.out);
  assert.ok(m, c.out);
  assert.ok(Number(m[1]) >= 3, `at least the three superseded versions of COMPACT-1 (${c.out})`);
  const again = await iip('id', 'compact', '--prefix', '88.118', '--json');
  assert.equal((JSON.parse(again.out) as { removed: number }).removed, 0, 'nothing left to remove');
  const r = await iip('id', 'resolve', '88.118/COMPACT-1', '--server', `127.0.0.1:${node.udpPort}`, '--json');
  assert.equal((JSON.parse(r.out) as { values: Array<{ data: { value: string } }> }).values[0]?.data.value, 'https://example.com/v3');
});

test('resolve --secret: an administrator also gets the values only administrators may read', async () => {
  const perms = { adminRead: true, adminWrite: true, publicRead: false, publicWrite: false };
  await node.service.create(
    '88.118/SECRET-NOTE',
    [
      { index: 1, type: 'URL', data: new TextEncoder().encode('https://example.com/open'), ttlType: 'relative', ttl: 86400, timestamp: 0, references: [], permissions: { ...perms, publicRead: true } },
      { index: 2, type: 'NOTE', data: new TextEncoder().encode('for admins'), ttlType: 'relative', ttl: 86400, timestamp: 0, references: [], permissions: perms },
    ],
    { handle: '0.NA/88.118', index: 300 },
  );
  const server = `127.0.0.1:${node.udpPort}`;
  const anonymous = await iip('id', 'resolve', '88.118/SECRET-NOTE', '--server', server, '--json');
  assert.deepEqual((JSON.parse(anonymous.out) as { values: Array<{ index: number }> }).values.map((v) => v.index), [1]);
  const admin = await iip('id', 'resolve', '88.118/SECRET-NOTE', '--server', server, '--secret', SECRET, '--json');
  assert.equal(admin.code, 0, admin.out);
  assert.deepEqual((JSON.parse(admin.out) as { values: Array<{ index: number }> }).values.map((v) => v.index), [1, 2]);
  const wrong = await iip('id', 'resolve', '88.118/SECRET-NOTE', '--server', server, '--secret', 'nope');
  assert.notEqual(wrong.code, 0, 'a wrong secret fails the resolution (the reason goes to stderr)');
});

test('resolve --private-key (HS_PUBKEY identity), site info with the server key, and --server-key (certified replies)', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { AdminPermission, encodeAdminData, encodePrivateKeyFile, encodePublicKey } = await import('@iip/identifiers');
  const value = (index: number, type: string, data: Uint8Array, publicRead = true) => ({
    index,
    type,
    data,
    ttlType: 'relative' as const,
    ttl: 86400,
    timestamp: 0,
    references: [],
    permissions: { adminRead: true, adminWrite: true, publicRead, publicWrite: false },
  });
  const root = { handle: '0.NA/88.118', index: 300 };
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // The key holder is 301:0.NA/88.118 (an HS_PUBKEY value) and may read the restricted value of PK-NOTE.
  await node.service.addValues('0.NA/88.118', [value(301, 'HS_PUBKEY', encodePublicKey(keys.publicKey))], root);
  await node.service.create(
    '88.118/PK-NOTE',
    [
      value(1, 'URL', new TextEncoder().encode('https://example.com/open')),
      value(2, 'NOTE', new TextEncoder().encode('for key holders'), false),
      value(100, 'HS_ADMIN', encodeAdminData({ admin: { handle: '0.NA/88.118', index: 301 }, permissions: AdminPermission.READ_VALUE })),
    ],
    root,
  );
  const keyFile = join(dir.path, 'admin-privkey.bin');
  writeFileSync(keyFile, encodePrivateKeyFile(keys.privateKey, 'pass phrase'), { mode: 0o600 });
  const server = `127.0.0.1:${node.udpPort}`;
  const indexes = (out: string) => (JSON.parse(out) as { values: Array<{ index: number }> }).values.map((v) => v.index);

  const withKey = await iip('id', 'resolve', '88.118/PK-NOTE', '--server', server, '--admin', '301:0.NA/88.118', '--private-key', keyFile, '--passphrase', 'pass phrase', '--json');
  assert.equal(withKey.code, 0, withKey.out);
  assert.deepEqual(indexes(withKey.out), [1, 2, 100]);
  const badPass = await iip('id', 'resolve', '88.118/PK-NOTE', '--server', server, '--admin', '301:0.NA/88.118', '--private-key', keyFile, '--passphrase', 'wrong');
  assert.notEqual(badPass.code, 0, 'a wrong passphrase does not open the key file');

  const site = await iip('id', 'site', '--server', server);
  assert.equal(site.code, 0, site.out);
  const published = Buffer.from(encodePublicKey(node.serverPublicKey)).toString('base64');
  assert.ok(site.out.includes(published), `the site info shows the node's server key:\n${site.out}`);

  const certified = await iip('id', 'resolve', '88.118/PK-NOTE', '--server', server, '--server-key', join(dir.path, 'pubkey.bin'), '--json');
  assert.equal(certified.code, 0, certified.out);
  assert.deepEqual(indexes(certified.out), [1, 100]);
  const otherKey = join(dir.path, 'other-pubkey.bin');
  writeFileSync(otherKey, encodePublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey));
  const refused = await iip('id', 'resolve', '88.118/PK-NOTE', '--server', server, '--server-key', otherKey);
  assert.notEqual(refused.code, 0, 'a reply signed by another key than the one given is refused');
});
