// Issue 9, points 1, 2 (request digests) and 7: what a strict Handle client checks in every reply, written
// from RFC 3652 §2.2 and the reference client's behaviour — it refuses a reply whose expiration has passed
// (the reference server stamps each reply with the time it answered plus 12 hours), a reply that lacks the
// request digest it asked for, and one that carries the digest of another request; the reference server
// repeats the request's certify / cache-certify / public-only / do-not-refer flags and the recursion count.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { test } from 'node:test';
import {
  DEFAULT_ENVELOPE,
  DigestAlg,
  type HandleError,
  type HandleMessage,
  HandleClient,
  OpCode,
  OpFlag,
  RESPONSE_VALIDITY_SECONDS,
  ResponseCode,
  decodeMessage,
  encodeMessage,
  startHandleNode,
} from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';
import { ROOT, SITE, servedNode, text } from './service-fixture.js';

type Request = { opCode: number; opFlags: number; minor?: number; recursionCount?: number; body: Parameters<typeof encodeMessage>[0]['body'] };

function requestBytes(r: Request, requestId = 41): Buffer {
  return encodeMessage({
    envelope: { ...DEFAULT_ENVELOPE, requestId, minorVersion: r.minor ?? 10 },
    header: { opCode: r.opCode, responseCode: 0, opFlags: r.opFlags, siteInfoSerial: 0, recursionCount: r.recursionCount ?? 0, expiration: 0 },
    body: r.body,
  });
}

async function udpExchange(port: number, bytes: Buffer): Promise<Buffer> {
  const sock = createSocket('udp4');
  try {
    const reply = new Promise<Buffer>((resolve, reject) => {
      sock.once('message', (m) => resolve(m));
      setTimeout(() => reject(new Error('no UDP reply')), 2000).unref();
    });
    sock.send(bytes, port, '127.0.0.1');
    return await reply;
  } finally {
    sock.close();
  }
}

async function tcpExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 20 && got.length >= 20 + got.readUInt32BE(16)) {
        sock.destroy();
        resolve(got.subarray(0, 20 + got.readUInt32BE(16)));
      }
    });
    sock.on('error', reject);
    sock.write(bytes);
  });
}

/** The digest RFC 3652 §3.5 defines: of the request's header and body (not its envelope or credential). */
function digestOf(request: Buffer, alg: 'sha256' | 'sha1'): Buffer {
  return createHash(alg).update(request.subarray(20, 20 + 24 + request.readUInt32BE(20 + 20))).digest();
}

function assertFreshHeader(reply: HandleMessage, sentAt: number, what: string): void {
  const expected = Math.floor(sentAt / 1000) + RESPONSE_VALIDITY_SECONDS;
  assert.ok(Math.abs(reply.header.expiration - expected) <= 5, `${what}: expiration ${reply.header.expiration}, expected about ${expected}`);
  assert.equal(reply.header.siteInfoSerial, SITE.serialNumber, `${what}: the site serial`);
}

test('every reply, over UDP and TCP, carries an expiration 12 h ahead, the site serial, the recursion count and the echoed flags', async (t) => {
  const { service, addr } = await servedNode(t);
  await service.create('88.118/H', [text(1, 'URL', 'https://iip.example/h'), text(2, 'NOTE', 'admins', { publicRead: false })], ROOT);
  const echoed = OpFlag.PUBLIC_ONLY | OpFlag.DO_NOT_REFER | OpFlag.CACHE_CERTIFY;
  const cases: Array<[string, Request, number]> = [
    ['resolution (pre-rendered)', { opCode: OpCode.RESOLUTION, opFlags: echoed | OpFlag.KEEP_ALIVE, recursionCount: 3, body: { kind: 'resolution-request', handle: '88.118/H', indexes: [], types: [] } }, ResponseCode.SUCCESS],
    ['resolution (by type)', { opCode: OpCode.RESOLUTION, opFlags: echoed, recursionCount: 3, body: { kind: 'resolution-request', handle: '88.118/H', indexes: [], types: ['URL'] } }, ResponseCode.SUCCESS],
    ['not found', { opCode: OpCode.RESOLUTION, opFlags: echoed, recursionCount: 3, body: { kind: 'resolution-request', handle: '88.118/NONE', indexes: [], types: [] } }, ResponseCode.HANDLE_NOT_FOUND],
    ['site info', { opCode: OpCode.GET_SITE_INFO, opFlags: echoed, recursionCount: 3, body: { kind: 'handle', handle: '/' } }, ResponseCode.SUCCESS],
    ['challenge', { opCode: OpCode.DELETE_HANDLE, opFlags: echoed, recursionCount: 3, body: { kind: 'handle', handle: '88.118/H' } }, ResponseCode.AUTHENTICATION_NEEDED],
  ];
  for (const [what, req, rc] of cases) {
    for (const [transport, exchange, port] of [
      ['udp', udpExchange, addr.udpPort],
      ['tcp', tcpExchange, addr.tcpPort],
    ] as const) {
      const sentAt = Date.now();
      const reply = decodeMessage(await exchange(port, requestBytes(req)));
      const label = `${what} over ${transport}`;
      assert.equal(reply.header.responseCode, rc, label);
      assertFreshHeader(reply, sentAt, label);
      assert.equal(reply.header.recursionCount, 3, `${label}: recursion count`);
      assert.equal(reply.envelope.requestId, 41, `${label}: request id`);
      assert.equal(reply.header.opFlags & echoed, echoed, `${label}: echoed flags`);
      assert.ok(reply.header.opFlags & OpFlag.AUTHORITATIVE, `${label}: authoritative`);
      assert.equal(reply.header.opFlags & OpFlag.KEEP_ALIVE, 0, `${label}: keep-alive is not echoed`);
    }
  }
});

test('a request asking for the digest gets it in every reply: successes, errors, challenges, unknown op codes and malformed bodies', async (t) => {
  const { service, addr } = await servedNode(t);
  await service.create('88.118/D', [text(1, 'URL', 'https://iip.example/d')], ROOT);
  const RD = OpFlag.REQUEST_DIGEST;
  const unknownOp = requestBytes({ opCode: 777, opFlags: RD, body: { kind: 'handle', handle: '88.118/D' } });
  // A create whose value list stops short: the envelope and header are fine, the body is not.
  const goodCreate = requestBytes({ opCode: OpCode.CREATE_HANDLE, opFlags: RD, body: { kind: 'values', handle: '88.118/NEW', values: [text(1, 'URL', 'x')] } });
  const shortBody = Buffer.from(goodCreate);
  shortBody.writeUInt32BE(goodCreate.readUInt32BE(40) - 6, 40);
  const cases: Array<[string, Buffer, number, 'sha256' | 'sha1']> = [
    ['resolution (pre-rendered)', requestBytes({ opCode: OpCode.RESOLUTION, opFlags: RD | OpFlag.PUBLIC_ONLY, body: { kind: 'resolution-request', handle: '88.118/D', indexes: [], types: [] } }), ResponseCode.SUCCESS, 'sha256'],
    ['resolution at protocol 2.4', requestBytes({ opCode: OpCode.RESOLUTION, opFlags: RD | OpFlag.PUBLIC_ONLY, minor: 4, body: { kind: 'resolution-request', handle: '88.118/D', indexes: [], types: [] } }), ResponseCode.SUCCESS, 'sha1'],
    ['not found', requestBytes({ opCode: OpCode.RESOLUTION, opFlags: RD, body: { kind: 'resolution-request', handle: '88.118/NONE', indexes: [], types: [] } }), ResponseCode.HANDLE_NOT_FOUND, 'sha256'],
    ['challenge', goodCreate, ResponseCode.AUTHENTICATION_NEEDED, 'sha256'],
    ['unknown op code', unknownOp, ResponseCode.OPERATION_NOT_SUPPORTED, 'sha256'],
    ['malformed body', shortBody, ResponseCode.PROTOCOL_ERROR, 'sha256'],
  ];
  for (const [what, bytes, rc, alg] of cases) {
    for (const [transport, exchange, port] of [
      ['udp', udpExchange, addr.udpPort],
      ['tcp', tcpExchange, addr.tcpPort],
    ] as const) {
      const reply = decodeMessage(await exchange(port, bytes));
      const label = `${what} over ${transport}`;
      assert.equal(reply.header.responseCode, rc, label);
      assert.ok(reply.header.opFlags & OpFlag.REQUEST_DIGEST, `${label}: the digest flag`);
      assert.equal(reply.requestDigest?.alg, alg === 'sha256' ? DigestAlg.SHA256 : DigestAlg.SHA1, `${label}: algorithm`);
      assert.deepEqual(Buffer.from(reply.requestDigest?.digest ?? []), digestOf(bytes, alg), `${label}: the digest of the request sent`);
    }
  }
  // Without the flag, no digest (except in a challenge, which always carries the digest of what it challenges).
  const plain = decodeMessage(await udpExchange(addr.udpPort, requestBytes({ opCode: 777, opFlags: 0, body: { kind: 'handle', handle: '88.118/D' } })));
  assert.equal(plain.requestDigest, undefined);
});

/** A stand-in server that answers every UDP request with `craft(request)`. */
async function standIn(t: { after(fn: () => void): void }, craft: (req: HandleMessage, bytes: Buffer) => Buffer): Promise<number> {
  const sock = createSocket('udp4');
  t.after(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  sock.on('message', (m, rinfo) => sock.send(craft(decodeMessage(m), m), rinfo.port, rinfo.address));
  return sock.address().port;
}

function resolutionReply(req: HandleMessage, opts: { expiration: number; digest?: Buffer }): Buffer {
  return encodeMessage({
    envelope: { ...DEFAULT_ENVELOPE, requestId: req.envelope.requestId },
    header: { opCode: OpCode.RESOLUTION, responseCode: ResponseCode.SUCCESS, opFlags: OpFlag.AUTHORITATIVE, siteInfoSerial: 1, recursionCount: 0, expiration: opts.expiration },
    body: { kind: 'resolution-response', handle: '88.118/S', values: [text(1, 'URL', 'from the stand-in')] },
    ...(opts.digest && { requestDigest: { alg: DigestAlg.SHA256, digest: opts.digest } }),
  });
}

test('the strict client refuses an expired reply, a reply without the digest and one with another request’s digest; it takes a good one', async (t) => {
  const later = Math.floor(Date.now() / 1000) + 3600;
  const good = await standIn(t, (req, bytes) => resolutionReply(req, { expiration: later, digest: digestOf(bytes, 'sha256') }));
  const expired = await standIn(t, (req, bytes) => resolutionReply(req, { expiration: 0, digest: digestOf(bytes, 'sha256') }));
  const noDigest = await standIn(t, (req) => resolutionReply(req, { expiration: later }));
  const otherDigest = await standIn(t, (req) => resolutionReply(req, { expiration: later, digest: createHash('sha256').update('another request').digest() }));
  const client = new HandleClient({ timeoutMs: 500, retries: 0 });
  const lenient = new HandleClient({ timeoutMs: 500, retries: 0, strict: false });
  t.after(() => {
    client.close();
    lenient.close();
  });
  const at = (udpPort: number) => ({ address: '127.0.0.1', udpPort });
  assert.equal((await client.resolve(at(good), '88.118/S')).values.length, 1);
  for (const [port, check] of [
    [expired, 'expiration'],
    [noDigest, 'request-digest-missing'],
    [otherDigest, 'request-digest-mismatch'],
  ] as const) {
    await assert.rejects(client.resolve(at(port), '88.118/S'), (e: HandleError) => e.code === 'IIP_ERR_HANDLE_REPLY_REJECTED' && e.details.check === check, check);
    // A non-strict client takes what it is given.
    assert.equal((await lenient.resolve(at(port), '88.118/S')).values.length, 1, `lenient: ${check}`);
  }
});

test('the strict client accepts every kind of reply of a real node, and refuses them once their 12 hours are over', async (t) => {
  const { service, addr } = await servedNode(t);
  await service.create('88.118/C', [text(1, 'URL', 'https://iip.example/c'), text(2, 'NOTE', 'admins', { publicRead: false })], ROOT);
  const auth = { identity: ROOT, secretKey: new TextEncoder().encode('s3cret') };
  const client = new HandleClient({ timeoutMs: 2000, retries: 0 });
  let offset = 0;
  const tomorrow = new HandleClient({ timeoutMs: 2000, retries: 0, now: () => Date.now() + offset });
  t.after(() => {
    client.close();
    tomorrow.close();
  });
  assert.equal((await client.resolve(addr, '88.118/C')).values.length, 1, 'fast-path resolution');
  assert.equal((await client.resolve(addr, '88.118/C', {}, auth)).values.length, 2, 'challenged resolution');
  assert.equal((await client.getSiteInfo(addr)).serialNumber, SITE.serialNumber);
  await client.create(addr, '88.118/NEW', [text(1, 'URL', 'n')], auth);
  await assert.rejects(client.resolve(addr, '88.118/NOPE'), (e: HandleError) => e.responseCode === ResponseCode.HANDLE_NOT_FOUND, 'an error reply passes the checks and reports its own code');
  assert.equal((await tomorrow.resolve(addr, '88.118/C')).values.length, 1, 'same clock: accepted');
  offset = (RESPONSE_VALIDITY_SECONDS + 60) * 1000;
  await assert.rejects(tomorrow.resolve(addr, '88.118/C'), (e: HandleError) => e.code === 'IIP_ERR_HANDLE_REPLY_REJECTED' && e.details.check === 'expiration');
});

test('a protocol warning reaches the node log with its message and details (was a bare "warn")', async (t) => {
  const dir = await tempDir('iip-log-');
  const lines: string[] = [];
  const node = await startHandleNode({
    role: 'secondary',
    prefix: '88.118',
    dataDir: dir.path,
    udpPort: await freePort(),
    tcpPort: await freePort(),
    httpPort: await freePort(),
    admin: { handle: '0.NA/88.118', index: 300, secretKey: 'right-secret' },
    log: (line) => lines.push(line),
    warmAnswers: false,
  });
  const client = new HandleClient({ timeoutMs: 2000, retries: 0 });
  t.after(async () => {
    client.close();
    await node.close();
    await dir.cleanup();
  });
  const server = { address: '127.0.0.1', tcpPort: node.protocol.tcpPort };
  await assert.rejects(client.create(server, '88.118/X', [text(1, 'URL', 'x')], { identity: { handle: '0.NA/88.118', index: 300 }, secretKey: new TextEncoder().encode('wrong-secret') }));
  const warn = lines.find((l) => l.startsWith('warn:'));
  assert.ok(warn, `a warn line among: ${JSON.stringify(lines)}`);
  assert.match(warn, /identifier admin authentication failed/);
  assert.match(warn, /300:0\.NA\/88\.118/);
});
