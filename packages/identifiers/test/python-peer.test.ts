// Issue 9: an outside peer — a Handle client written in Python from RFC 3652 and the reference client's
// behaviour (test/fixtures/handle_peer.py, standard library only, no code shared with iip) — resolves, sends
// and reads multi-packet UDP, checks expiration and request digests in every reply, and creates a handle as
// an HS_SECKEY administrator over TCP against a real node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startHandleNode } from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';

const PEER = fileURLToPath(new URL('./fixtures/handle_peer.py', import.meta.url));

test('a Python Handle peer resolves, sends and reads 512-byte packets, checks every reply and creates as an admin', async (t) => {
  const dir = await tempDir('iip-py-peer-');
  const port = await freePort();
  const admin = { handle: '0.NA/88.118', index: 300, secretKey: 'python-peer-secret' };
  const node = await startHandleNode({ role: 'secondary', prefix: '88.118', dataDir: dir.path, udpPort: port, tcpPort: port, httpPort: await freePort(), admin, warmAnswers: false });
  t.after(async () => {
    await node.close();
    await dir.cleanup();
  });
  const value = (index: number, type: string, text: string) => ({
    index,
    type,
    data: new TextEncoder().encode(text),
    ttlType: 'relative' as const,
    ttl: 86400,
    timestamp: 0,
    references: [],
    permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
  });
  await node.service.create('88.118/LONG', [value(1, 'URL', 'https://factory.example/long'), value(2, 'DESC', 'd'.repeat(900))], { handle: admin.handle, index: admin.index });

  // Asynchronously: the node answers from this process's event loop.
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('/usr/bin/python3', [PEER, '127.0.0.1', String(port), admin.handle, String(admin.index), admin.secretKey, '88.118/LONG', '88.118/FROM-PYTHON'], { timeout: 60_000 }, (err, out, errOut) =>
      err ? reject(new Error(`python peer failed: ${err.message}\n${errOut}`)) : resolve(out),
    );
  });
  const f = JSON.parse(stdout) as Record<string, unknown>;

  for (const step of ['longAnswer', 'longRequest', 'siteInfo', 'challenge', 'created', 'resolveNew']) {
    assert.equal(f[`${step}.expirationOk`], true, `${step}: the reply's expiration lies ahead`);
    assert.equal(f[`${step}.digestOk`], true, `${step}: the reply carries the digest of the request it answers`);
  }
  assert.equal(f['longAnswer.rc'], 1);
  assert.ok((f['longAnswer.packets'] as number) >= 2, 'the answer over 512 bytes came as several packets');
  assert.deepEqual(
    (f['longAnswer.values'] as Array<{ index: number; length: number }>).map((v) => [v.index, v.length]),
    [
      [1, 28],
      [2, 900],
    ],
  );
  assert.ok((f['longRequest.bytes'] as number) > 512);
  assert.deepEqual(f['longRequest.types'], ['URL'], 'the multi-packet request was read whole (its last type filter counted)');
  assert.equal(f['siteInfo.rc'], 1);
  assert.equal(f['unknownOp.rc'], 5, 'an unknown op code: OPERATION_NOT_SUPPORTED …');
  assert.equal(f['unknownOp.digestOk'], true, '… with the request digest the client asked for');
  assert.equal(f['challenge.rc'], 402);
  assert.equal(f['created.rc'], 1);
  assert.equal(f['created.op'], 100, 'the reply to the answer is the create’s');
  assert.deepEqual((f['resolveNew.values'] as Array<{ type: string }>).map((v) => v.type), ['URL']);
});
