/**
 * Handle.Net sessions against a real node over TCP (issue 9, point 2): DH setup gives a session id; the
 * first admin request in the session is challenged once, later ones go through on the session MAC alone
 * (the reference client's default admin path); encrypted requests and replies; a wrong MAC (502), a
 * replayed counter (505), an unknown or expired session id (500), a terminated session (500) and an
 * unsupported key exchange mode (501) are refused with Handle.Net's response codes. The client runs in
 * strict mode: every reply must carry a valid session MAC with a fresh counter.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TestContext, describe, test } from 'node:test';
import {
  DEFAULT_ENVELOPE,
  type HandleMessage,
  HandleSession,
  KeyExchange,
  MacAlg,
  type MessageBody,
  OpCode,
  OpFlag,
  ResponseCode,
  computeSessionMac,
  decodeMessage,
  encodeMacCredential,
  encodeMessage,
} from '@iip/identifiers';
import { ROOT, servedNode, text } from './service-fixture.js';

const auth = { identity: ROOT, secretKey: new TextEncoder().encode('s3cret') };

async function served(t: TestContext, opts: { encrypt?: boolean; sessionTimeoutSeconds?: number } = {}) {
  const n = await servedNode(t);
  const session = await HandleSession.open(n.addr.address, n.addr.tcpPort, auth, { timeoutMs: 3000, ...opts });
  t.after(() => session.close());
  return { ...n, session };
}

function createBody(handle: string): MessageBody {
  return { kind: 'values', handle, values: [text(1, 'URL', `https://example.org/${handle}`)] };
}

/** A request in `sessionId` built by hand, optionally with a MAC under `key` and `counter`. */
function rawRequest(requestId: number, sessionId: number, opCode: number, body: MessageBody, mac?: { key: Uint8Array; counter: number }): Buffer {
  const msg: HandleMessage = { envelope: { ...DEFAULT_ENVELOPE, requestId, sessionId }, header: { opCode, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 }, body };
  const bytes = encodeMessage(msg);
  if (!mac) return bytes;
  const hb = bytes.subarray(20, 44 + bytes.readUInt32BE(40));
  const m = computeSessionMac(mac.key, { majorVersion: 2, minorVersion: msg.envelope.minorVersion, suggestedMajor: 0, suggestedMinor: 0, sessionId, requestId, counter: mac.counter }, hb);
  return encodeMessage({ ...msg, credential: encodeMacCredential({ counter: mac.counter, alg: MacAlg.HMAC_SHA256, mac: m }) });
}

describe('sessions over TCP', () => {
  test('DH setup gives a session id; the first admin request is challenged once inside the session, the next ones are not', async (t) => {
    const { session, server, client, addr } = await served(t);
    assert.ok(session.sessionId > 0 && session.sessionId <= 0x7fffffff, 'a positive 31-bit session id');
    const before = server.stats().challenges;
    const r1 = await session.request(OpCode.CREATE_HANDLE, createBody('88.118/S-1'));
    assert.equal(r1.header.responseCode, ResponseCode.SUCCESS);
    assert.equal(session.isAuthenticated, true);
    assert.equal(server.stats().challenges, before + 1, 'one challenge, inside the session');
    const r2 = await session.request(OpCode.CREATE_HANDLE, createBody('88.118/S-2'));
    const r3 = await session.request(OpCode.DELETE_HANDLE, { kind: 'handle', handle: '88.118/S-1' });
    assert.equal(r2.header.responseCode, ResponseCode.SUCCESS);
    assert.equal(r3.header.responseCode, ResponseCode.SUCCESS);
    assert.equal(server.stats().challenges, before + 1, 'no further challenge: the session MAC authenticates');
    const values = await client.resolve(addr, '88.118/S-2');
    assert.equal(new TextDecoder().decode(values.values[0]?.data), 'https://example.org/88.118/S-2');
    await assert.rejects(client.resolve(addr, '88.118/S-1'), (e: unknown) => (e as { responseCode?: number }).responseCode === ResponseCode.HANDLE_NOT_FOUND);
  });

  test('encrypted requests and replies (ENCRYPT), each reply with a verified MAC', async (t) => {
    const { session, client, addr } = await served(t, { encrypt: true });
    assert.equal((await session.request(OpCode.CREATE_HANDLE, createBody('88.118/ENC-1'))).header.responseCode, ResponseCode.SUCCESS);
    assert.equal((await session.request(OpCode.CREATE_HANDLE, createBody('88.118/ENC-2'))).header.responseCode, ResponseCode.SUCCESS);
    assert.equal((await client.resolve(addr, '88.118/ENC-2')).values.length, 1);
    // Bytes that do not decrypt under the session key: SESSION_FAILED.
    const junk = rawRequest(7001, session.sessionId, OpCode.RESOLUTION, { kind: 'resolution-request', handle: '88.118/ENC-1', indexes: [], types: [] });
    junk[2] = (junk[2] as number) | 0x40;
    const reply = decodeMessage(await session.send(7001, junk));
    assert.equal(reply.header.responseCode, ResponseCode.SESSION_FAILED);
  });

  test('a wrong MAC is refused (502) and a replayed counter too (505)', async (t) => {
    const { session } = await served(t);
    assert.equal((await session.request(OpCode.CREATE_HANDLE, createBody('88.118/M-1'))).header.responseCode, ResponseCode.SUCCESS);
    const wrongKey = new Uint8Array(32).fill(7);
    const forged = rawRequest(8001, session.sessionId, OpCode.DELETE_HANDLE, { kind: 'handle', handle: '88.118/M-1' }, { key: wrongKey, counter: 1000 });
    const r = decodeMessage(await session.send(8001, forged));
    assert.equal(r.header.responseCode, ResponseCode.NO_SESSION_KEY);
    const noMac = rawRequest(8002, session.sessionId, OpCode.DELETE_HANDLE, { kind: 'handle', handle: '88.118/M-1' });
    assert.equal(decodeMessage(await session.send(8002, noMac)).header.responseCode, ResponseCode.INVALID_CREDENTIAL);
    // Replay: the exact bytes of an accepted request (same counter, same MAC) sent again.
    const first = await session.request(OpCode.ADD_VALUE, { kind: 'values', handle: '88.118/M-1', values: [text(2, 'EMAIL', 'a@example.org')] });
    assert.equal(first.header.responseCode, ResponseCode.SUCCESS);
    const replayed = session.lastSent;
    assert.ok(replayed);
    const again = decodeMessage(await session.send(replayed.readUInt32BE(8), replayed));
    assert.equal(again.header.responseCode, ResponseCode.SESSION_MESSAGE_REJECTED);
  });

  test('an unknown session id is refused with SESSION_TIMEOUT; so is one after terminate or after its idle timeout', async (t) => {
    const { session, addr } = await served(t, { sessionTimeoutSeconds: 1 });
    const unknown = rawRequest(9001, (session.sessionId ^ 0x5a5a5a) & 0x7fffffff || 1, OpCode.RESOLUTION, { kind: 'resolution-request', handle: '88.118/X', indexes: [], types: [] });
    const r = decodeMessage(await session.send(9001, unknown));
    assert.equal(r.header.responseCode, ResponseCode.SESSION_TIMEOUT);
    assert.match(r.body.kind === 'error' ? r.body.message : '', /session/i);
    await sleep(1200);
    const expired = rawRequest(9002, session.sessionId, OpCode.RESOLUTION, { kind: 'resolution-request', handle: '88.118/X', indexes: [], types: [] });
    assert.equal(decodeMessage(await session.send(9002, expired)).header.responseCode, ResponseCode.SESSION_TIMEOUT);
    const s2 = await HandleSession.open(addr.address, addr.tcpPort, auth, { timeoutMs: 3000 });
    t.after(() => s2.close());
    const id = s2.sessionId;
    const probe = await HandleSession.open(addr.address, addr.tcpPort, auth, { timeoutMs: 3000 });
    t.after(() => probe.close());
    await s2.terminate();
    const after = rawRequest(9003, id, OpCode.RESOLUTION, { kind: 'resolution-request', handle: '88.118/X', indexes: [], types: [] });
    assert.equal(decodeMessage(await probe.send(9003, after)).header.responseCode, ResponseCode.SESSION_TIMEOUT);
  });

  test('setup with an unsupported key exchange mode is refused with SESSION_FAILED and says which modes work', async (t) => {
    const { session } = await served(t);
    for (const mode of [KeyExchange.CIPHER_SERVER, KeyExchange.NONE, 9]) {
      const req = encodeMessage({
        envelope: { ...DEFAULT_ENVELOPE, requestId: 100 + mode },
        header: { opCode: OpCode.SESSION_SETUP, responseCode: 0, opFlags: OpFlag.REQUEST_DIGEST, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
        body: { kind: 'session-setup', keyExchangeMode: mode, timeout: 0, identityHandle: '', identityIndex: -1 },
      });
      const r = decodeMessage(await session.send(100 + mode, req));
      assert.equal(r.header.responseCode, ResponseCode.SESSION_FAILED, `mode ${mode}`);
      assert.match(r.body.kind === 'error' ? r.body.message : '', /DH \(4\)/);
      assert.ok(r.requestDigest, 'the refusal carries the request digest it was asked for');
    }
  });
});
