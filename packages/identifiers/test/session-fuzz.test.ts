// Fuzzing the session paths of the request handler (issue 9, point 2): mutated session setups, and mutated,
// cut or random encrypted messages under a live session, never throw and never stop the session working.
// An encrypted message that cannot be read — whether it fails to decrypt or decrypts to something that does
// not decode — always gets the same answer (501, one message), built from its clear envelope only: answers
// that told the two apart would make the node a CBC padding oracle for captured session traffic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ClientDh,
  DEFAULT_ENVELOPE,
  ENVELOPE_SIZE,
  EnvelopeFlag,
  KeyExchange,
  OpCode,
  OpFlag,
  ResponseCode,
  decodeMessage,
  decryptSessionMessage,
  encodeMessage,
  encryptSessionMessage,
} from '@iip/identifiers';
import fc from 'fast-check';
import { RequestHandler } from '../src/transport/request-handler.js';
import { ROOT, node, text } from './service-fixture.js';

function setupRequest(dh: ClientDh): Buffer {
  return encodeMessage({
    envelope: { ...DEFAULT_ENVELOPE, requestId: 1 },
    header: { opCode: OpCode.SESSION_SETUP, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
    body: { kind: 'session-setup', keyExchangeMode: KeyExchange.DH, timeout: 0, identityHandle: '', identityIndex: -1, publicKey: dh.publicKey },
  });
}

function encrypted(alg: number, key: Uint8Array, sessionId: number, requestId: number, handle: string): Buffer {
  const plain = encodeMessage({
    envelope: { ...DEFAULT_ENVELOPE, sessionId, requestId },
    header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: (OpFlag.PUBLIC_ONLY | OpFlag.ENCRYPT) >>> 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
    body: { kind: 'resolution-request', handle, indexes: [], types: [] },
  });
  const cipher = encryptSessionMessage(alg, key, plain.subarray(ENVELOPE_SIZE));
  const out = Buffer.concat([plain.subarray(0, ENVELOPE_SIZE), cipher]);
  out[2] = ((out[2] as number) | EnvelopeFlag.ENCRYPTED) & 0xff;
  out.writeUInt32BE(cipher.length, 16);
  return out;
}

test('session setup, encrypted and MAC paths under fuzzing: no throw, one answer for unreadable ciphertext, the session keeps working', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/S', [text(1, 'URL', 'https://iip.example/s')], ROOT);
  const handler = new RequestHandler(service);
  t.after(() => handler.dispose());
  const dh = new ClientDh('modp14');
  const setup = setupRequest(dh);
  const reply = decodeMessage((await handler.handle(setup)) as Buffer);
  assert.equal(reply.header.responseCode, ResponseCode.SUCCESS);
  assert.equal(reply.body.kind, 'session-setup-response');
  const { alg, sessionKey } = dh.agree(reply.body.kind === 'session-setup-response' ? reply.body.data : new Uint8Array(0));
  const sessionId = reply.envelope.sessionId;

  const resolveInSession = async (requestId: number): Promise<string> => {
    const out = (await handler.handle(encrypted(alg, sessionKey, sessionId, requestId, '88.118/S'))) as Buffer;
    assert.ok(((out[2] as number) & EnvelopeFlag.ENCRYPTED) !== 0, 'the reply is encrypted, as asked');
    const plain = Buffer.concat([out.subarray(0, ENVELOPE_SIZE), decryptSessionMessage(alg, sessionKey, out.subarray(ENVELOPE_SIZE))]);
    plain[2] = (plain[2] as number) & ~EnvelopeFlag.ENCRYPTED & 0xff;
    plain.writeUInt32BE(plain.length - ENVELOPE_SIZE, 16);
    const m = decodeMessage(plain);
    return m.body.kind === 'resolution-response' ? new TextDecoder().decode(m.body.values[0]?.data) : `rc ${m.header.responseCode}`;
  };
  assert.equal(await resolveInSession(2), 'https://iip.example/s');

  const good = encrypted(alg, sessionKey, sessionId, 3, '88.118/S');
  const mutate = (base: Buffer) =>
    fc.tuple(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), fc.nat(base.length), fc.uint8Array({ maxLength: 48 })).map(([flips, cut, extra]) => {
      const b = Buffer.from(base);
      for (const [i, x] of flips) b[i] = (b[i] as number) ^ x;
      const out = Buffer.concat([b.subarray(0, Math.max(cut, ENVELOPE_SIZE)), extra]);
      if (out.length >= ENVELOPE_SIZE) out.writeUInt32BE(out.length - ENVELOPE_SIZE, 16);
      return out;
    });
  const unreadable = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        mutate(setup),
        // Ciphertext flipped, cut or extended, under the live session and its envelope (flag kept).
        mutate(good).map((b) => {
          b[2] = ((b[2] as number) | EnvelopeFlag.ENCRYPTED) & 0xff;
          b.writeUInt32BE(sessionId, 4);
          return b;
        }),
        // Random bytes claiming to be encrypted in the live session.
        fc.uint8Array({ minLength: 0, maxLength: 200 }).map((bytes) => {
          const b = Buffer.concat([good.subarray(0, ENVELOPE_SIZE), bytes]);
          b.writeUInt32BE(bytes.length, 16);
          return b;
        }),
      ),
      async (msg) => {
        const out = await handler.handle(msg);
        if (!out) return;
        // A reply sealed for the session answers a request that decrypted and decoded: nothing to check here.
        if (((out[2] as number) & EnvelopeFlag.ENCRYPTED) !== 0) return;
        const m = decodeMessage(out);
        const encryptedInLiveSession = ((msg[2] as number) & EnvelopeFlag.ENCRYPTED) !== 0 && msg.length >= 8 && msg.readUInt32BE(4) === sessionId;
        if (encryptedInLiveSession && m.header.responseCode !== ResponseCode.SUCCESS) {
          // Anything but a clean answer to a request that decrypted and decoded: the one refusal.
          assert.equal(m.header.responseCode, ResponseCode.SESSION_FAILED, `rc ${m.header.responseCode}: ${m.body.kind === 'error' ? m.body.message : ''}`);
          assert.equal(m.header.opCode, 0, 'nothing of the plaintext is echoed');
          assert.equal(m.requestDigest, undefined, 'no digest of a plaintext nobody could read');
          if (m.body.kind === 'error') unreadable.add(m.body.message);
        }
      },
    ),
    { numRuns: 3000 },
  );
  assert.equal(unreadable.size, 1, `one message for every unreadable ciphertext: ${[...unreadable].join(' | ')}`);
  assert.equal(await resolveInSession(99), 'https://iip.example/s', 'the session still works');
});
