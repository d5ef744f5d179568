/**
 * HS_PUBKEY authentication and certified replies against a real node (issue 9, point 4): identities whose
 * HS_PUBKEY values (DSA and RSA, in Handle.Net's key encoding) have admin rights create and delete handles
 * over TCP and over UDP by answering the challenge with a signature; a wrong key is refused and writes
 * nothing. The node's server key is published in its HS_SITE; a client in certify mode sets CERTIFY,
 * checks every reply's HS_SIGNED credential with that key and refuses a reply altered on the way.
 */
import assert from 'node:assert/strict';
import { type KeyObject, generateKeyPairSync } from 'node:crypto';
import { type RemoteInfo, createSocket } from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import {
  ALL_ADMIN_PERMISSIONS,
  DEFAULT_ENVELOPE,
  HS_PUBKEY,
  HandleClient,
  HandleError,
  type HandleReference,
  type HandleValue,
  LocalHandleService,
  OpCode,
  OpFlag,
  ResponseCode,
  checkSignedMessage,
  decodeMessage,
  decodePublicKey,
  encodeMessage,
  encodePublicKey,
  startHandleNode,
  startHandleProtocolServer,
} from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';
import { ROOT, SITE, admin, openStore, text } from './service-fixture.js';

const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const serverKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

const KEYS = '88.118/keys';
const DSA_ID: HandleReference = { handle: KEYS, index: 300 };
const RSA_ID: HandleReference = { handle: KEYS, index: 301 };
const SECKEY_ID: HandleReference = { handle: KEYS, index: 302 };

function pubkey(index: number, key: KeyObject): HandleValue {
  return { ...text(index, HS_PUBKEY, ''), data: encodePublicKey(key) };
}

const rejectsWith = (code: number) => (e: unknown) => e instanceof HandleError && e.responseCode === code;
const rejectedReply = (check: string) => (e: unknown) => e instanceof HandleError && e.code === 'IIP_ERR_HANDLE_REPLY_REJECTED' && (e.details as { check?: string }).check === check;

/** A node with an identity handle holding DSA and RSA HS_PUBKEY values (and an HS_SECKEY) that may create under 88.118. */
async function keyNode(t: TestContext) {
  const { store } = await openStore(t);
  LocalHandleService.bootstrap({ store, prefix: '88.118', adminHandle: '0.NA/88.118', adminIndex: 300, secretKey: new TextEncoder().encode('s3cret') });
  // The node publishes its server key in its HS_SITE (startHandleNode does this from its key file).
  const site = { ...SITE, servers: SITE.servers.map((s) => ({ ...s, publicKey: encodePublicKey(serverKey.publicKey) })) };
  const service = new LocalHandleService({ store, role: 'secondary', site, rootAdmins: [ROOT] });
  await service.create(KEYS, [pubkey(300, dsa.publicKey), pubkey(301, rsa.publicKey), { ...text(302, 'HS_SECKEY', 'sekrit', { publicRead: false }) }, admin(100, ROOT, ALL_ADMIN_PERMISSIONS)], ROOT);
  await service.addValues('0.NA/88.118', [admin(101, DSA_ID, ALL_ADMIN_PERMISSIONS), admin(102, RSA_ID, ALL_ADMIN_PERMISSIONS)], ROOT);
  const server = await startHandleProtocolServer({ service, udpPort: 0, tcpPort: 0, serverKey: serverKey.privateKey });
  const client = new HandleClient({ timeoutMs: 2000, retries: 1 });
  t.after(async () => {
    client.close();
    await server.close();
  });
  const tcp = { address: '127.0.0.1', tcpPort: server.tcpPort };
  const udp = { address: '127.0.0.1', udpPort: server.udpPort };
  return { service, server, client, tcp, udp, both: { ...tcp, ...udp } };
}

const exists = async (service: { resolve: (h: string, q: object, who: null) => Promise<unknown> }, handle: string): Promise<boolean> => {
  try {
    await service.resolve(handle, {}, null);
    return true;
  } catch (e) {
    if (e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_NOT_FOUND) return false;
    throw e;
  }
};

describe('HS_PUBKEY challenge–response', () => {
  test('DSA and RSA identities create and delete handles over TCP and over UDP', async (t) => {
    const { service, client, tcp, udp } = await keyNode(t);
    for (const [name, identity, privateKey] of [
      ['dsa', DSA_ID, dsa.privateKey],
      ['rsa', RSA_ID, rsa.privateKey],
    ] as const) {
      for (const [via, addr] of [
        ['tcp', tcp],
        ['udp', udp],
      ] as const) {
        const handle = `88.118/pk-${name}-${via}`;
        const auth = { identity, privateKey };
        assert.equal(await client.create(addr, handle, [text(1, 'URL', `https://example.org/${name}/${via}`), admin(100, identity, ALL_ADMIN_PERMISSIONS)], auth), handle);
        assert.equal(await exists(service, handle), true, `${handle} created`);
        await client.addValues(addr, handle, [text(2, 'EMAIL', 'ops@example.org')], auth);
        assert.equal((await service.resolve(handle, {}, null)).length, 3);
        await client.delete(addr, handle, auth);
        assert.equal(await exists(service, handle), false, `${handle} deleted`);
      }
    }
  });

  test('identity index 0 means any HS_PUBKEY value of the handle, as Handle.Net reads it', async (t) => {
    const { service, client, tcp } = await keyNode(t);
    await client.create(tcp, '88.118/pk-any', [text(1, 'URL', 'x')], { identity: { handle: KEYS, index: 0 }, privateKey: rsa.privateKey });
    assert.equal(await exists(service, '88.118/pk-any'), true);
  });

  test('a wrong key, a key of another index or an HS_SECKEY index is refused (403) and nothing is written', async (t) => {
    const { service, server, client, tcp, udp } = await keyNode(t);
    const failures = server.stats().authFailures;
    const attempts: Array<[string, Parameters<HandleClient['create']>[3], typeof tcp | typeof udp]> = [
      ['stranger key at the RSA index', { identity: RSA_ID, privateKey: stranger.privateKey }, tcp],
      ['RSA key at the DSA index', { identity: DSA_ID, privateKey: rsa.privateKey }, udp],
      ['DSA key at the RSA index', { identity: RSA_ID, privateKey: dsa.privateKey }, tcp],
      ['a private key for an HS_SECKEY index', { identity: SECKEY_ID, privateKey: rsa.privateKey }, tcp],
      ['a stranger key at index 0', { identity: { handle: KEYS, index: 0 }, privateKey: stranger.privateKey }, udp],
      ['an HS_SECKEY answer for an HS_PUBKEY index', { identity: RSA_ID, secretKey: new TextEncoder().encode('sekrit') }, tcp],
    ];
    for (const [what, auth, addr] of attempts) {
      await assert.rejects(client.create(addr, '88.118/never', [text(1, 'URL', 'x')], auth), rejectsWith(ResponseCode.AUTHENTICATION_FAILED), what);
      assert.equal(await exists(service, '88.118/never'), false, `${what}: nothing written`);
    }
    assert.equal(server.stats().authFailures, failures + attempts.length);
    // The HS_SECKEY value of the same handle still authenticates the old way; it has no admin rights, so the
    // create is refused for permissions — not for authentication.
    await assert.rejects(client.create(tcp, '88.118/by-secret', [text(1, 'URL', 'x')], { identity: SECKEY_ID, secretKey: new TextEncoder().encode('sekrit') }), rejectsWith(ResponseCode.INSUFFICIENT_PERMISSIONS));
  });
});

/** Relays UDP between a client and the server, letting `alter` change each reply on the way back. */
async function udpRelay(t: TestContext, serverPort: number, alter: (reply: Buffer) => Buffer): Promise<number> {
  const sock = createSocket('udp4');
  const upstream = createSocket('udp4');
  let client: RemoteInfo | undefined;
  sock.on('message', (m, from) => {
    client = from;
    upstream.send(m, serverPort, '127.0.0.1');
  });
  upstream.on('message', (m) => {
    if (client) sock.send(alter(Buffer.from(m)), client.port, client.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.after(() => {
    sock.close();
    upstream.close();
  });
  return sock.address().port;
}

async function rawUdp(port: number, bytes: Buffer): Promise<Buffer> {
  const sock = createSocket('udp4');
  try {
    const reply = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
    sock.send(bytes, port, '127.0.0.1');
    return await reply;
  } finally {
    sock.close();
  }
}

describe('the server key and certified replies', () => {
  test('HS_SITE carries the server public key in the Handle encoding', async (t) => {
    const { client, both } = await keyNode(t);
    const site = await client.getSiteInfo(both);
    assert.equal(site.servers.length, 1);
    assert.ok(decodePublicKey(site.servers[0]?.publicKey ?? new Uint8Array()).equals(serverKey.publicKey));
  });

  test('a CERTIFY request gets an HS_SIGNED reply that verifies with the site key; any altered byte does not', async (t) => {
    const { server, service } = await keyNode(t);
    await service.create('88.118/signed', [text(1, 'URL', 'https://example.org/signed')], ROOT);
    const request = encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, requestId: 77 },
      header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: (OpFlag.CERTIFY | OpFlag.PUBLIC_ONLY) >>> 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'resolution-request', handle: '88.118/signed', indexes: [], types: [] },
    });
    const reply = await rawUdp(server.udpPort, request);
    const m = decodeMessage(reply);
    assert.equal(m.header.responseCode, ResponseCode.SUCCESS);
    assert.ok(m.credential, 'the reply carries a credential');
    assert.deepEqual(checkSignedMessage(reply, serverKey.publicKey), { valid: true, hash: 'SHA256' });
    assert.equal(checkSignedMessage(reply, stranger.publicKey).valid, false);
    const dataAt = reply.indexOf(Buffer.from('https://example.org/signed'));
    const altered = Buffer.from(reply);
    altered[dataAt + 8] = 'X'.charCodeAt(0);
    assert.equal(checkSignedMessage(altered, serverKey.publicKey).valid, false);
    // Without CERTIFY nothing is signed (the common case stays cheap).
    const plain = decodeMessage(await rawUdp(server.udpPort, encodeMessage({ ...decodeMessage(request), header: { ...decodeMessage(request).header, opFlags: OpFlag.PUBLIC_ONLY } })));
    assert.equal(plain.credential, undefined);
  });

  test('a certifying client resolves over UDP and TCP, also restricted values and admin operations, and errors verify too', async (t) => {
    const { service, tcp, udp } = await keyNode(t);
    await service.create('88.118/c', [text(1, 'URL', 'public'), text(2, 'NOTE', 'admins', { publicRead: false }), admin(100, RSA_ID, ALL_ADMIN_PERMISSIONS)], ROOT);
    const strict = new HandleClient({ timeoutMs: 2000, retries: 1, certify: { publicKey: serverKey.publicKey } });
    t.after(() => strict.close());
    for (const addr of [tcp, udp]) {
      assert.equal((await strict.resolve(addr, '88.118/c')).values.length, 2, 'URL and HS_ADMIN are public');
      const all = await strict.resolve(addr, '88.118/c', {}, { identity: RSA_ID, privateKey: rsa.privateKey });
      assert.equal(all.values.length, 3);
      await assert.rejects(strict.resolve(addr, '88.118/missing'), rejectsWith(ResponseCode.HANDLE_NOT_FOUND));
    }
    await strict.create(tcp, '88.118/c2', [text(1, 'URL', 'x')], { identity: DSA_ID, privateKey: dsa.privateKey });
    assert.equal(await exists(service, '88.118/c2'), true);
    // The wrong server key: every reply is refused.
    const fooled = new HandleClient({ timeoutMs: 2000, retries: 1, certify: { publicKey: stranger.publicKey } });
    t.after(() => fooled.close());
    await assert.rejects(fooled.resolve(udp, '88.118/c'), rejectedReply('signature'));
  });

  test('a reply altered on the way is refused by the certifying client and taken by a plain one', async (t) => {
    const { service, server } = await keyNode(t);
    await service.create('88.118/mitm', [text(1, 'URL', 'https://good.example.org/')], ROOT);
    const port = await udpRelay(t, server.udpPort, (reply) => {
      const at = reply.indexOf(Buffer.from('good'));
      if (at >= 0) reply.write('evil', at, 'latin1');
      return reply;
    });
    const plain = new HandleClient({ timeoutMs: 2000, retries: 0 });
    const strict = new HandleClient({ timeoutMs: 2000, retries: 0, certify: { publicKey: serverKey.publicKey } });
    t.after(() => {
      plain.close();
      strict.close();
    });
    const taken = await plain.resolve({ address: '127.0.0.1', udpPort: port }, '88.118/mitm');
    assert.equal(new TextDecoder().decode(taken.values[0]?.data), 'https://evil.example.org/');
    await assert.rejects(strict.resolve({ address: '127.0.0.1', udpPort: port }, '88.118/mitm'), rejectedReply('signature'));
  });
});

describe('the node key', () => {
  test('made on first start (privkey.bin 0600, pubkey.bin), published in HS_SITE, reused on restart', async (t) => {
    const dir = await tempDir('iip-id-key-');
    t.after(() => dir.cleanup());
    const opts = async () => ({ role: 'secondary' as const, prefix: '88.118', dataDir: dir.path, udpPort: await freePort(), tcpPort: await freePort(), httpPort: await freePort(), admin: { handle: '0.NA/88.118', index: 300, secretKey: 'k' }, warmAnswers: false });
    const first = await startHandleNode(await opts());
    const client = new HandleClient({ timeoutMs: 2000, retries: 1 });
    let firstKey: KeyObject;
    try {
      assert.equal(statSync(join(dir.path, 'privkey.bin')).mode & 0o777, 0o600);
      assert.deepEqual(new Uint8Array(readFileSync(join(dir.path, 'pubkey.bin'))), encodePublicKey(first.serverPublicKey));
      const site = await client.getSiteInfo({ address: '127.0.0.1', tcpPort: first.tcpPort });
      firstKey = decodePublicKey(site.servers[0]?.publicKey ?? new Uint8Array());
      assert.ok(firstKey.equals(first.serverPublicKey));
      assert.equal(firstKey.asymmetricKeyType, 'rsa');
      assert.equal(firstKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.ok(first.site.servers[0]?.publicKey, 'the node site model carries the key');
    } finally {
      await first.close();
    }
    const second = await startHandleNode(await opts());
    try {
      assert.ok(second.serverPublicKey.equals(firstKey), 'the same key after a restart');
      const strict = new HandleClient({ timeoutMs: 2000, retries: 1, certify: { publicKey: firstKey } });
      try {
        await assert.rejects(strict.resolve({ address: '127.0.0.1', udpPort: second.udpPort }, '88.118/none'), rejectsWith(ResponseCode.HANDLE_NOT_FOUND));
      } finally {
        strict.close();
      }
    } finally {
      client.close();
      await second.close();
    }
  });
});
