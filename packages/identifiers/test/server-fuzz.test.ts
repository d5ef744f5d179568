/**
 * Fuzzing the running servers (not just the codec): arbitrary and mutated datagrams, arbitrary TCP byte
 * streams and arbitrary REST paths never crash a node or make it stop serving, and bad packets are counted.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { HandleClient, type HandleNode, startHandleNode } from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';
import fc from 'fast-check';

let node: HandleNode;
let dir: { path: string; cleanup(): Promise<void> };
let validRequest: Buffer;
const server = () => ({ address: '127.0.0.1', udpPort: node.udpPort, tcpPort: node.tcpPort });

/** Captures the bytes of a real resolution request by pointing the client at a socket that only listens. */
async function captureRequest(): Promise<Buffer> {
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
  const port = sink.address().port;
  const got = new Promise<Buffer>((r) => sink.once('message', (m) => r(m)));
  const client = new HandleClient({ timeoutMs: 200, retries: 0 });
  const pending = client.resolve({ address: '127.0.0.1', udpPort: port }, '88.118/FUZZ-1').catch(() => undefined);
  const bytes = await got;
  await pending;
  client.close();
  sink.close();
  return bytes;
}

async function stillServes(): Promise<void> {
  const client = new HandleClient({ timeoutMs: 2000 });
  try {
    const r = await client.resolve(server(), '0.NA/88.118');
    assert.equal(r.responseCode, 1);
  } finally {
    client.close();
  }
}

before(async () => {
  dir = await tempDir('iip-id-fuzz-');
  const port = await freePort();
  node = await startHandleNode({ role: 'secondary', prefix: '88.118', dataDir: dir.path, udpPort: port, tcpPort: port, httpPort: await freePort(), admin: { handle: '0.NA/88.118', index: 300, secretKey: 'fuzz-secret' } });
  validRequest = await captureRequest();
});
after(async () => {
  await node?.close();
  await dir?.cleanup();
});

test('arbitrary and mutated UDP datagrams: the node counts them and keeps answering', async () => {
  const sock = createSocket('udp4');
  const datagram = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 1500 }),
    // Valid request with bytes flipped, cut, or extended: the parser's hardest cases.
    fc.tuple(fc.array(fc.tuple(fc.nat(validRequest.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }), fc.nat(validRequest.length), fc.uint8Array({ maxLength: 64 })).map(([flips, cut, extra]) => {
      const b = Buffer.from(validRequest);
      for (const [i, x] of flips) b[i] = (b[i] as number) ^ x;
      return Buffer.concat([b.subarray(0, Math.max(cut, 1)), extra]);
    }),
  );
  const before = node.protocol.stats();
  await fc.assert(
    fc.asyncProperty(fc.array(datagram, { minLength: 1, maxLength: 20 }), async (batch) => {
      for (const d of batch) sock.send(d, node.udpPort, '127.0.0.1');
      await stillServes();
    }),
    { numRuns: 40 },
  );
  sock.close();
  const after = node.protocol.stats();
  assert.ok(after.malformed + after.dropped + after.errors > before.malformed + before.dropped + before.errors, 'bad packets were counted');
});

test('arbitrary TCP byte streams: the node closes or answers and keeps serving', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4096 }), async (bytes) => {
      await new Promise<void>((resolve) => {
        const s = connect(node.tcpPort, '127.0.0.1', () => s.end(Buffer.from(bytes)));
        s.on('data', () => {});
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(1500, () => s.destroy());
      });
      await stillServes();
    }),
    { numRuns: 25 },
  );
});

test('arbitrary REST paths and queries answer with a Handle response code, never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 80 }), fc.string({ maxLength: 40 }), async (path, query) => {
      const res = await fetch(`http://127.0.0.1:${node.httpPort}/api/handles/${encodeURIComponent(path).replace(/%2F/g, '/')}?index=${encodeURIComponent(query)}&type=${encodeURIComponent(query)}`);
      assert.ok(res.status < 500, `HTTP ${res.status} for ${JSON.stringify(path)} ? ${JSON.stringify(query)}`);
      const body = (await res.json()) as { responseCode?: number; code?: string };
      assert.ok(typeof body.responseCode === 'number' || typeof body.code === 'string');
    }),
    { numRuns: 150 },
  );
  await stillServes();
});
