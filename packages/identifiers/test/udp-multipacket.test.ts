/**
 * Issue 9, point 3: UDP messages over 512 bytes travel as several packets, as RFC 3652 §2.2.1 and
 * Handle.Net's client and server do it — each packet a 20-byte envelope (same request id, sequence number
 * = packet index from 0, message length = the whole message) and the next ≤ 492 bytes of the message.
 * Against a real node on free ports with real dgram sockets: requests split and sent in order, reversed,
 * shuffled, with duplicates, with a packet missing, interleaved from two senders; answers over 512 bytes
 * read the way Handle.Net's client reads them (512-byte buffer, packet n at n × 492); answers over the UDP
 * bound truncated and fetched again over TCP.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { type TestContext, test } from 'node:test';
import { DEFAULT_ENVELOPE, HandleClient, type HandleMessage, type HandleProtocolServer, OpCode, OpFlag, ResponseCode, decodeMessage, encodeMessage, startHandleProtocolServer } from '@iip/identifiers';
import { ROOT, node, text } from './service-fixture.js';

/** Handle.Net: Common.MAX_UDP_PACKET_SIZE and the data part of a packet (MAX_UDP_DATA_SIZE). */
const PACKET = 512;
const SLICE = PACKET - 20;
const REASSEMBLY_MS = 300;
const UDP_BOUND = 4096;

function resolutionRequest(requestId: number, handle: string, types: string[] = []): Buffer {
  return encodeMessage({
    envelope: { ...DEFAULT_ENVELOPE, requestId },
    header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: OpFlag.PUBLIC_ONLY, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
    body: { kind: 'resolution-request', handle, indexes: [], types },
  });
}

/** A request well over one packet: a resolution asking for many types (only URL exists). */
function bigRequest(requestId: number, handle = '88.118/SMALL'): Buffer {
  const types = Array.from({ length: 120 }, (_, i) => `NO-SUCH-TYPE-${String(i).padStart(4, '0')}`);
  return resolutionRequest(requestId, handle, [...types, 'URL']);
}

/**
 * Splits as Handle.Net's HandleResolver.getUdpPacketsForRequest does, written here from the RFC so the
 * test does not lean on the code under test: the envelope with the truncated flag, sequence number i, the
 * whole length; then bytes [i × 492, (i + 1) × 492) of the message.
 */
function referencePackets(message: Buffer): Buffer[] {
  const body = message.subarray(20);
  const out: Buffer[] = [];
  for (let i = 0; i * SLICE < body.length; i++) {
    const slice = body.subarray(i * SLICE, (i + 1) * SLICE);
    const p = Buffer.concat([message.subarray(0, 20), slice]);
    p[2] = (p[2] as number) | 0x20;
    p.writeUInt32BE(i, 12);
    p.writeUInt32BE(body.length, 16);
    out.push(p);
  }
  return out;
}

/**
 * Reads replies as Handle.Net's client does in sendHdlUdpRequest: each datagram into a 512-byte buffer,
 * the packet count from the first packet's message length, packet n copied to n × 492; done when every
 * packet is in. Anything longer than 512 bytes would be cut there, so it fails the test here.
 */
function referenceReader(): { push(d: Buffer): void; message(): Buffer | undefined; packets: Buffer[] } {
  const packets: Buffer[] = [];
  let whole: Buffer | undefined;
  let got: boolean[] | undefined;
  let envelope: Buffer | undefined;
  return {
    packets,
    push(d) {
      packets.push(d);
      assert.ok(d.length <= PACKET, `a ${d.length}-byte datagram reaches Handle.Net's client cut to ${PACKET} bytes`);
      const length = d.readUInt32BE(16);
      if (!whole || !got) {
        whole = Buffer.alloc(length);
        got = new Array(Math.ceil(length / SLICE)).fill(false);
        envelope = Buffer.from(d.subarray(0, 20));
      }
      const seq = d.readUInt32BE(12);
      got[seq] = true;
      d.copy(whole, seq * SLICE, 20);
    },
    message() {
      if (!whole || !got || !envelope || got.includes(false)) return undefined;
      return Buffer.concat([envelope, whole]);
    },
  };
}

interface Peer {
  socket: Socket;
  replies: Buffer[];
  send(packets: Buffer[]): Promise<void>;
  close(): void;
}

async function peer(port: number): Promise<Peer> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    socket,
    replies,
    send: async (packets) => {
      for (const p of packets) await new Promise<void>((r, j) => socket.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
    },
    close: () => socket.close(),
  };
}

async function until<T>(what: string, f: () => T | undefined, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The whole reply to `requestId` read reference-style from what `p` has received so far. */
function replyTo(p: Peer, requestId: number): HandleMessage | undefined {
  const reader = referenceReader();
  for (const d of p.replies) if (d.readUInt32BE(8) === requestId) reader.push(d);
  const m = reader.message();
  return m && decodeMessage(m);
}

function urlOf(m: HandleMessage): string {
  assert.equal(m.header.responseCode, ResponseCode.SUCCESS, JSON.stringify(m.body));
  assert.equal(m.body.kind, 'resolution-response');
  if (m.body.kind !== 'resolution-response') return '';
  return m.body.values.map((v) => `${v.type}=${Buffer.from(v.data).toString()}`).join(',');
}

async function served(t: TestContext): Promise<{ server: HandleProtocolServer; udpPort: number; tcpPort: number }> {
  const { service } = await node(t);
  await service.create('88.118/SMALL', [text(1, 'URL', 'https://small.example')], ROOT);
  await service.create('88.118/OTHER', [text(1, 'URL', 'https://other.example')], ROOT);
  await service.create('88.118/MID', [text(1, 'URL', 'https://mid.example'), text(2, 'DESC', 'm'.repeat(1500))], ROOT);
  await service.create('88.118/HUGE', [text(1, 'DESC', 'h'.repeat(6000))], ROOT);
  const server = await startHandleProtocolServer({ service, udpPort: 0, tcpPort: 0, maxUdpPayload: UDP_BOUND, udpReassembly: { maxAgeMs: REASSEMBLY_MS } });
  t.after(() => server.close());
  return { server, udpPort: server.udpPort, tcpPort: server.tcpPort };
}

test('a request over 512 bytes sent as reference packets is answered, in order, reversed, shuffled and with duplicates', async (t) => {
  const { server, udpPort } = await served(t);
  const p = await peer(udpPort);
  t.after(() => p.close());
  const orders: [string, (ps: Buffer[]) => Buffer[]][] = [
    ['in order', (ps) => ps],
    ['reversed', (ps) => [...ps].reverse()],
    ['shuffled', (ps) => [ps[2], ps[0], ps[4], ps[1], ps[3], ...ps.slice(5)] as Buffer[]],
    ['duplicated', (ps) => [ps[0], ps[0], ps[1], ...ps.slice(1), ps[0]] as Buffer[]],
  ];
  let id = 7000;
  for (const [name, order] of orders) {
    const before = server.stats();
    const request = bigRequest(++id);
    const packets = referencePackets(request);
    assert.ok(packets.length >= 5, `the request needs ${packets.length} packets`);
    assert.ok(packets.every((x) => x.length <= PACKET));
    await p.send(order(packets));
    const reply = await until(`the reply (${name})`, () => replyTo(p, id));
    assert.equal(reply.envelope.requestId, id);
    assert.equal(urlOf(reply), 'URL=https://small.example', name);
    const after = server.stats();
    assert.equal(after.udpReassembled, before.udpReassembled + 1, name);
    assert.equal(after.udpRequests, before.udpRequests + 1, `${name}: one request, however many packets`);
  }
  // The duplicates sent after the message was complete start a partial that never completes: no second
  // reply, and the partial is later counted as expired.
  await sleep(100);
  assert.equal(p.replies.filter((d) => d.readUInt32BE(8) === id).length, 1);
});

test('a request with a packet missing gets no answer and its partial expires and is counted', async (t) => {
  const { server, udpPort } = await served(t);
  const p = await peer(udpPort);
  t.after(() => p.close());
  const before = server.stats();
  const packets = referencePackets(bigRequest(8001));
  await p.send(packets.filter((_, i) => i !== 2));
  await until('the partial to expire', () => (server.stats().udpReassemblyExpired > before.udpReassemblyExpired ? true : undefined), REASSEMBLY_MS * 10);
  assert.equal(p.replies.length, 0);
  assert.equal(server.stats().udpRequests, before.udpRequests);
  // The missing packet alone, after the partial is gone, is no message either.
  await p.send([packets[2] as Buffer]);
  await sleep(REASSEMBLY_MS / 2);
  assert.equal(p.replies.length, 0);
  assert.equal(server.stats().udpReassembled, before.udpReassembled);
  // A packet that contradicts the others (another total length) drops the message.
  const liar = Buffer.from(packets[1] as Buffer);
  liar.writeUInt32BE(liar.readUInt32BE(16) + SLICE, 16);
  await p.send([packets[0] as Buffer, liar, ...packets.slice(2)]);
  await sleep(REASSEMBLY_MS / 2);
  assert.equal(p.replies.length, 0);
  assert.ok(server.stats().udpReassemblyRejected > before.udpReassemblyRejected);
});

test('two senders using the same request id, packets interleaved, each get their own answer', async (t) => {
  const { server, udpPort } = await served(t);
  const a = await peer(udpPort);
  const b = await peer(udpPort);
  t.after(() => {
    a.close();
    b.close();
  });
  const pa = referencePackets(bigRequest(4242, '88.118/SMALL'));
  const pb = referencePackets(bigRequest(4242, '88.118/OTHER'));
  const before = server.stats().udpReassembled;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i]) await a.send([pa[i] as Buffer]);
    if (pb[pb.length - 1 - i]) await b.send([pb[pb.length - 1 - i] as Buffer]);
  }
  assert.equal(urlOf(await until('A’s reply', () => replyTo(a, 4242))), 'URL=https://small.example');
  assert.equal(urlOf(await until('B’s reply', () => replyTo(b, 4242))), 'URL=https://other.example');
  assert.equal(server.stats().udpReassembled, before + 2);
});

test('an answer over 512 bytes comes as ≤ 512-byte packets that reassemble to the TCP answer', async (t) => {
  const { server, udpPort, tcpPort } = await served(t);
  const p = await peer(udpPort);
  t.after(() => p.close());
  const before = server.stats();
  const request = resolutionRequest(9001, '88.118/MID');
  await p.send([request]);
  const viaUdp = await until('the multi-packet answer', () => {
    const reader = referenceReader();
    for (const d of p.replies) reader.push(d);
    return reader.message();
  });
  assert.ok(viaUdp.length > PACKET);
  assert.equal(p.replies.length, Math.ceil((viaUdp.length - 20) / SLICE));
  assert.deepEqual(
    p.replies.map((d) => d.readUInt32BE(12)).sort((x, y) => x - y),
    p.replies.map((_, i) => i),
  );
  assert.ok(p.replies.every((d) => d.readUInt32BE(8) === 9001 && d.readUInt32BE(16) === viaUdp.length - 20));
  // Clear, as Handle.Net's server leaves it for a one-packet request: set, it would read "ask over TCP".
  assert.ok(p.replies.every((d) => ((d[2] as number) & 0x20) === 0));
  assert.equal(server.stats().udpMultiPacketReplies, before.udpMultiPacketReplies + 1);

  const viaTcp = await new Promise<Buffer>((resolve, reject) => {
    const c = connect(tcpPort, '127.0.0.1', () => c.write(request));
    let got = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 20 && got.length === 20 + got.readUInt32BE(16)) {
        c.end();
        resolve(got);
      }
    });
    c.on('error', reject);
  });
  // The same message; only the sequence number is that of whichever packet came first, and the header's
  // expiration (a time) may have moved on by a second between the two answers.
  const masked = (m: Buffer) => Buffer.concat([m.subarray(0, 12), m.subarray(16, 36), m.subarray(40)]);
  assert.deepEqual(masked(viaUdp), masked(viaTcp));
  assert.equal(urlOf(decodeMessage(viaUdp)).startsWith('URL=https://mid.example,DESC=mmm'), true);

  // Our client, reading packets as Handle.Net's does, over UDP only (no TCP to fall back to).
  const client = new HandleClient({ timeoutMs: 1000, retries: 0, referencePacketReads: true });
  t.after(() => client.close());
  const r = await client.resolve({ address: '127.0.0.1', udpPort }, '88.118/MID');
  assert.equal(Buffer.from(r.values[1]?.data ?? []).toString(), 'm'.repeat(1500));
  // And it sends its own requests over 512 bytes as packets the server puts back together.
  const reassembled = server.stats().udpReassembled;
  const typed = await client.resolve({ address: '127.0.0.1', udpPort }, '88.118/SMALL', { types: [...Array.from({ length: 60 }, (_, i) => `T-${i}-${'x'.repeat(8)}`), 'URL'] });
  assert.equal(Buffer.from(typed.values[0]?.data ?? []).toString(), 'https://small.example');
  assert.equal(server.stats().udpReassembled, reassembled + 1);
});

test('an answer over the UDP bound comes truncated and HandleClient asks again over TCP', async (t) => {
  const { server, udpPort, tcpPort } = await served(t);
  const p = await peer(udpPort);
  t.after(() => p.close());
  await p.send([resolutionRequest(9100, '88.118/HUGE')]);
  const d = await until('the truncated reply', () => p.replies[0]);
  await sleep(50);
  assert.equal(p.replies.length, 1, 'one header-only packet, not a burst');
  assert.ok(d.length <= PACKET);
  const m = decodeMessage(d);
  assert.equal(m.envelope.truncated, true);
  assert.equal(m.envelope.requestId, 9100);

  const client = new HandleClient({ timeoutMs: 1000, retries: 0, referencePacketReads: true });
  t.after(() => client.close());
  const before = server.stats();
  const r = await client.resolve({ address: '127.0.0.1', udpPort, tcpPort }, '88.118/HUGE');
  assert.equal(r.values[0]?.data.length, 6000);
  const after = server.stats();
  assert.equal(after.udpTruncated, before.udpTruncated + 1);
  assert.equal(after.tcpRequests, before.tcpRequests + 1);
  await assert.rejects(client.resolve({ address: '127.0.0.1', udpPort }, '88.118/HUGE'), /truncated/);
});

test('a reference-reading client cannot read one datagram over 512 bytes (why replies are split)', async (t) => {
  // A stand-in for the old behaviour: a server that answers with one 1,400-byte datagram.
  const oldServer = createSocket('udp4');
  t.after(() => oldServer.close());
  await new Promise<void>((r) => oldServer.bind(0, '127.0.0.1', () => r()));
  oldServer.on('message', (req, rinfo) => {
    const id = req.readUInt32BE(8);
    const reply = encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, requestId: id },
      header: { opCode: OpCode.RESOLUTION, responseCode: ResponseCode.SUCCESS, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
      body: { kind: 'resolution-response', handle: '88.118/X', values: [text(1, 'DESC', 'x'.repeat(1300))] },
    });
    oldServer.send(reply, rinfo.port, rinfo.address);
  });
  const port = oldServer.address().port;
  const lenient = new HandleClient({ timeoutMs: 300, retries: 0, strict: false }); // the stand-in writes no expiration or digest
  const strict = new HandleClient({ timeoutMs: 300, retries: 0, referencePacketReads: true });
  t.after(() => {
    lenient.close();
    strict.close();
  });
  assert.equal((await lenient.resolve({ address: '127.0.0.1', udpPort: port }, '88.118/X')).values[0]?.data.length, 1300);
  await assert.rejects(strict.resolve({ address: '127.0.0.1', udpPort: port }, '88.118/X'), /No UDP reply/);
});
