// Authenticated resolution over the binary protocol (RFC 3652): a request without PUBLIC_ONLY for a handle
// with values only administrators may read is answered with a challenge; the client proves an identity with
// its HS_SECKEY and gets every value that identity may read. Anonymous clients keep getting public values.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { DEFAULT_ENVELOPE, type HandleError, OpCode, OpFlag, ResponseCode, decodeMessage, encodeMessage } from '@iip/identifiers';
import { ROOT, servedNode, text } from './service-fixture.js';

const dec = new TextDecoder();
const show = (values: readonly { index: number; data: Uint8Array }[]): string => values.map((v) => `${v.index}=${dec.decode(v.data)}`).join(',');

async function rawResolve(port: number, handle: string, opFlags: number): Promise<ReturnType<typeof decodeMessage>> {
  const sock = createSocket('udp4');
  try {
    const reply = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
    const bytes = encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, requestId: 7 },
      header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'resolution-request', handle, indexes: [], types: [] },
    });
    sock.send(bytes, port, '127.0.0.1');
    return decodeMessage(await reply);
  } finally {
    sock.close();
  }
}

test('binary resolution: public values anonymously, restricted ones after a challenge answered as an administrator', async (t) => {
  const { service, server, client, addr } = await servedNode(t);
  await service.create('88.118/R', [text(1, 'URL', 'public'), text(2, 'NOTE', 'admins only', { publicRead: false })], ROOT);
  await service.create('88.118/P', [text(1, 'URL', 'only public')], ROOT);
  const auth = { identity: ROOT, secretKey: new TextEncoder().encode('s3cret') };

  // The client without credentials says PUBLIC_ONLY: no challenge, public values (twice: the second from
  // the pre-rendered answers).
  for (let i = 0; i < 2; i++) assert.equal(show((await client.resolve(addr, '88.118/R')).values), '1=public');
  // With credentials: challenged, answered, and every value the administrator may read comes back.
  assert.equal(show((await client.resolve(addr, '88.118/R', {}, auth)).values), '1=public,2=admins only');
  assert.equal(show((await client.resolve(addr, '88.118/R', { types: ['NOTE'] }, auth)).values), '2=admins only');
  // A handle without restricted values needs no challenge even when the client could answer one.
  const challenges = server.stats().challenges;
  assert.equal(show((await client.resolve(addr, '88.118/P', {}, auth)).values), '1=only public');
  assert.equal(server.stats().challenges, challenges);
  // A wrong key is refused.
  await assert.rejects(client.resolve(addr, '88.118/R', {}, { ...auth, secretKey: new TextEncoder().encode('wrong') }), (e: HandleError) => e.responseCode === ResponseCode.AUTHENTICATION_FAILED);
  // Asking anonymously for the restricted value alone is refused with 402 and a message, not a challenge.
  await assert.rejects(client.resolve(addr, '88.118/R', { types: ['NOTE'] }), (e: HandleError) => e.responseCode === ResponseCode.AUTHENTICATION_NEEDED);

  // On the wire: without PUBLIC_ONLY the node challenges (also when the answer is pre-rendered); with it, it answers.
  const strict = await rawResolve(server.udpPort, '88.118/R', 0);
  assert.equal(strict.header.responseCode, ResponseCode.AUTHENTICATION_NEEDED);
  assert.equal(strict.body.kind, 'challenge');
  const lenient = await rawResolve(server.udpPort, '88.118/R', OpFlag.PUBLIC_ONLY);
  assert.equal(lenient.header.responseCode, ResponseCode.SUCCESS);
  assert.equal(lenient.body.kind === 'resolution-response' && show(lenient.body.values), '1=public');
  const open = await rawResolve(server.udpPort, '88.118/P', 0);
  assert.equal(open.header.responseCode, ResponseCode.SUCCESS, 'no restricted values: answered without a challenge');
  assert.ok(server.stats().answerHits >= 3, `pre-rendered answers used (${server.stats().answerHits})`);
});
