/**
 * Fuzzing of the UDP multi-packet reassembly (issue 9, point 3) with fast-check: arbitrary packet streams
 * — proper splits of random messages in any order with duplicates, interleaved with mutated, cut,
 * extended and random packets from other senders, with time passing — never make UdpReassembler throw;
 * every proper message comes out byte-identical exactly once; buffered bytes and messages in flight never
 * pass their bounds; and nothing is left once the age limit has passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { UdpReassembler, splitIntoPackets } from '../src/transport/udp-packets.js';

const RUNS = 10_000;
const VALID = { address: '10.0.0.1', port: 2641 };
const NOISE = { address: '10.0.0.2', port: 2641 };

interface Sent {
  readonly packet: Buffer;
  readonly from: typeof VALID;
  /** Milliseconds the clock moves on before this packet. */
  readonly wait: number;
}

/** A small fast PRNG (xorshift32) so long byte strings and orders cost one seed each to generate. */
function prng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function randomBytes(length: number, seed: number): Buffer {
  const next = prng(seed);
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = next() & 0xff;
  return b;
}

/**
 * Body lengths over the whole range: fast-check's default size keeps arrays to a dozen elements, which
 * would never make a message of several 512-byte packets.
 */
const lengthArb = (max: number) => fc.oneof(fc.integer({ min: 1, max: Math.min(max, 40) }), fc.integer({ min: 1, max }));

/** A message of random bytes after an envelope with request id `id`. */
const messageArb = (id: number, maxBody: number) =>
  fc.record({ flags: fc.integer({ min: 0, max: 255 }), session: fc.nat(), length: lengthArb(maxBody), seed: fc.nat() }).map(({ flags, session, length, seed }) => {
    const body = randomBytes(length, seed);
    const m = Buffer.alloc(20 + body.length);
    m[0] = 2;
    m[1] = 10;
    m[2] = flags;
    m.writeUInt32BE(session, 4);
    m.writeUInt32BE(id, 8);
    m.writeUInt32BE(body.length, 16);
    m.set(body, 20);
    return m;
  });

/** What the reassembler hands out for `m`: the same bytes with the truncated flag clear. */
function expected(m: Buffer): Buffer {
  const e = Buffer.from(m);
  e[2] = (e[2] as number) & ~0x20;
  return e;
}

/**
 * One message's packets in a random order, with duplicates of already-sent packets placed anywhere
 * before the last new packet (a duplicate after completion would start a second copy of the message).
 */
const deliveryArb = (packets: Buffer[]) =>
  fc.tuple(fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat()), fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 })).map(([seed, dups]) => {
    // In order, reversed, or a Fisher–Yates shuffle.
    const order = seed === -2 ? [...packets].reverse() : [...packets];
    if (seed >= 0) {
      const next = prng(seed);
      for (let i = order.length - 1; i > 0; i--) {
        const j = next() % (i + 1);
        [order[i], order[j]] = [order[j] as Buffer, order[i] as Buffer];
      }
    }
    const last = order.pop() as Buffer;
    for (const [at, which] of dups) {
      if (order.length === 0) break;
      const pos = at % (order.length + 1);
      // Only packets already placed before `pos` may repeat there.
      const src = order.slice(0, pos);
      if (src.length > 0) order.splice(pos, 0, src[which % src.length] as Buffer);
    }
    order.push(last);
    return order;
  });

/** Noise: mutations of real packets (bit flips, cut, extended, rewritten header fields) and random bytes. */
function noiseArb(source: Buffer[]) {
  const real = source.length > 0 ? fc.constantFrom(...source) : fc.constant(Buffer.alloc(20));
  return fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 700 }), fc.nat()).map(([n, seed]) => randomBytes(n, seed)),
    fc.tuple(fc.integer({ min: 20, max: 700 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 8 })).map(([n, seed, length, seq]) => {
      // Random bytes behind an envelope that claims a multi-packet message.
      const b = randomBytes(n, seed);
      b.writeUInt32BE(seq, 12);
      b.writeUInt32BE(length % 6000, 16);
      return b;
    }),
    fc.tuple(real, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([p, at, bit]) => {
      const c = Buffer.from(p);
      if (c.length > 0) c[at % c.length] = (c[at % c.length] as number) ^ (1 << bit);
      return c;
    }),
    fc.tuple(real, fc.nat()).map(([p, n]) => Buffer.from(p.subarray(0, n % (p.length + 1)))),
    fc.tuple(real, fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([p, extra]) => Buffer.concat([p, extra])),
    fc.tuple(real, fc.constantFrom(12, 16), fc.oneof(fc.nat(), fc.constant(0xffffffff), fc.integer({ min: 0, max: 4 }))).map(([p, field, v]) => {
      const c = Buffer.from(p);
      if (c.length >= 20) c.writeUInt32BE(v >>> 0, field);
      return c;
    }),
  );
}

/** A stream: several messages' deliveries and noise, merged in a random interleaving, with time passing. */
function streamArb(opts: { packetBytes: fc.Arbitrary<number>; maxBody: number; maxMessages: number }) {
  return opts.packetBytes.chain((packetBytes) =>
    fc
      .uniqueArray(fc.oneof(fc.nat(), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: opts.maxMessages })
      .chain((ids) => fc.tuple(...ids.map((id) => messageArb(id, Math.min(opts.maxBody, (packetBytes - 20) * 40)))))
      .chain((messages) => {
        const splits = messages.map((m) => splitIntoPackets(m, packetBytes));
        const all = splits.flat();
        return fc
          .tuple(
            fc.tuple(...splits.map((ps) => deliveryArb(ps))),
            fc.array(noiseArb(all), { maxLength: 12 }),
            fc.array(fc.nat(), { maxLength: 64 }),
            fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 })), { maxLength: 64 }),
          )
          .map(([deliveries, noise, picks, waits]) => {
            const queues: Sent[][] = deliveries.map((d) => d.map((packet) => ({ packet, from: VALID, wait: 0 })));
            queues.push(noise.map((packet) => ({ packet, from: NOISE, wait: 0 })));
            const stream: Sent[] = [];
            let i = 0;
            for (;;) {
              const open = queues.filter((q) => q.length > 0);
              if (open.length === 0) break;
              const q = open[(picks[i % Math.max(1, picks.length)] ?? 0) % open.length] as Sent[];
              stream.push({ ...(q.shift() as Sent), wait: waits[i % Math.max(1, waits.length)] ?? 0 });
              i++;
            }
            return { packetBytes, messages, stream };
          });
      }),
  );
}

test(`every properly split message comes out byte-identical exactly once, whatever else arrives (${RUNS} streams)`, () => {
  const heapBefore = process.memoryUsage().heapUsed;
  fc.assert(
    fc.property(streamArb({ packetBytes: fc.oneof(fc.constant(512), fc.integer({ min: 21, max: 600 })), maxBody: 3000, maxMessages: 5 }), ({ packetBytes, messages, stream }) => {
      // Room for everything, and time that never runs out: nothing is evicted or expires.
      const r = new UdpReassembler({ packetBytes, maxMessages: 10_000, maxBufferedBytes: 64 * 1024 * 1024, maxAgeMs: Number.POSITIVE_INFINITY });
      const byId = new Map(messages.map((m) => [m.readUInt32BE(8), m]));
      const seen = new Map<number, number>();
      for (const s of stream) {
        const out = r.push(s.packet, s.from.address, s.from.port, 1000);
        if (s.from !== VALID) continue;
        const m = byId.get(s.packet.readUInt32BE(8)) as Buffer;
        if (m.length <= packetBytes) {
          assert.equal(out.kind, 'whole');
          seen.set(m.readUInt32BE(8), (seen.get(m.readUInt32BE(8)) ?? 0) + 1);
          continue;
        }
        assert.ok(out.kind === 'pending' || out.kind === 'complete', `a proper packet was ${out.kind}`);
        if (out.kind === 'complete') {
          assert.deepEqual(out.message, expected(m));
          seen.set(m.readUInt32BE(8), (seen.get(m.readUInt32BE(8)) ?? 0) + 1);
        }
      }
      for (const m of messages) assert.equal(seen.get(m.readUInt32BE(8)), 1, `message ${m.readUInt32BE(8)} (${m.length} bytes) came out ${seen.get(m.readUInt32BE(8)) ?? 0} times`);
      const st = r.stats();
      assert.equal(st.evicted + st.expired, 0);
    }),
    { numRuns: RUNS },
  );
  // Each run's reassembler is garbage once the run ends; the heap must not have grown with the runs.
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 1024 * 1024, 'heap grew by more than 256 MiB over the runs');
});

test(`under tight bounds and a running clock nothing throws, bounds hold after every packet and only true messages come out (${RUNS} streams)`, () => {
  fc.assert(
    fc.property(
      streamArb({ packetBytes: fc.constant(512), maxBody: 4000, maxMessages: 6 }),
      fc.record({ maxMessages: fc.integer({ min: 1, max: 4 }), maxBufferedBytes: fc.integer({ min: 0, max: 6000 }), maxMessageBytes: fc.integer({ min: 0, max: 5000 }), maxAgeMs: fc.integer({ min: 0, max: 200 }) }),
      ({ packetBytes, messages, stream }, bounds) => {
        const r = new UdpReassembler({ packetBytes, ...bounds });
        const byId = new Map(messages.map((m) => [m.readUInt32BE(8), m]));
        const completed = new Set<number>();
        let now = 0;
        for (const s of stream) {
          now += s.wait;
          const out = r.push(s.packet, s.from.address, s.from.port, now);
          const st = r.stats();
          assert.ok(st.bufferedBytes <= bounds.maxBufferedBytes, `${st.bufferedBytes} bytes buffered, bound ${bounds.maxBufferedBytes}`);
          assert.ok(st.bufferedBytes >= 0);
          assert.ok(st.inFlight <= bounds.maxMessages, `${st.inFlight} messages in flight, bound ${bounds.maxMessages}`);
          if (out.kind !== 'complete') continue;
          assert.equal(out.message.length, 20 + out.message.readUInt32BE(16));
          assert.ok(out.message.length - 20 <= bounds.maxMessageBytes);
          if (s.from === VALID) {
            const id = out.message.readUInt32BE(8);
            assert.deepEqual(out.message, expected(byId.get(id) as Buffer));
            assert.equal(completed.has(id), false, `message ${id} came out twice`);
            completed.add(id);
          }
        }
        // Past the age limit nothing is held.
        r.sweep(now + bounds.maxAgeMs + 1);
        assert.deepEqual([r.stats().inFlight, r.stats().bufferedBytes], [0, 0]);
      },
    ),
    { numRuns: RUNS },
  );
});

test(`a packet that contradicts its message (total length, sequence number, slice size) drops the message (${RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      messageArb(5, 6000).filter((m) => m.length > 2 * 512),
      fc.nat(),
      fc.constantFrom('length', 'sequence', 'short-slice', 'long-slice'),
      fc.nat(),
      (m, cut, how, v) => {
        const packets = splitIntoPackets(m);
        const at = 1 + (cut % (packets.length - 1)); // at least one packet before, one after
        const liar = Buffer.from(packets[at % packets.length] as Buffer);
        const length = m.length - 20;
        let bad: Buffer = liar;
        if (how === 'length') liar.writeUInt32BE((length + 1 + (v % 100_000)) >>> 0, 16);
        else if (how === 'sequence') liar.writeUInt32BE(packets.length + (v % 1000), 12);
        else if (how === 'short-slice') bad = liar.subarray(0, 20 + (v % (liar.length - 20)));
        else bad = Buffer.concat([liar, Buffer.alloc(1 + (v % 40))]);
        const r = new UdpReassembler({ maxAgeMs: Number.POSITIVE_INFINITY });
        const out = [...packets.slice(0, at), bad, ...packets.slice(at)].map((p) => r.push(p, VALID.address, VALID.port, 0));
        assert.equal(out.filter((o) => o.kind === 'complete').length, 0, `${how}: the message came out although a packet contradicted it`);
        assert.ok(r.stats().rejected >= 1, `${how}: nothing was rejected`);
      },
    ),
    { numRuns: RUNS },
  );
});

test('split: packets of at most the packet size, each with the whole length and its index, that concatenate to the message', () => {
  fc.assert(
    fc.property(fc.integer({ min: 21, max: 1500 }), lengthArb(5000), fc.nat(), fc.boolean(), (size, length, seed, mark) => {
      const body = randomBytes(length, seed);
      const m = Buffer.alloc(20 + body.length);
      m[0] = 2;
      m.writeUInt32BE(77, 8);
      m.writeUInt32BE(body.length, 16);
      m.set(body, 20);
      const ps = splitIntoPackets(m, size, mark);
      if (m.length <= size) {
        assert.deepEqual(ps, [m]);
        return;
      }
      assert.equal(ps.length, Math.ceil(body.length / (size - 20)));
      ps.forEach((p, i) => {
        assert.ok(p.length <= size);
        assert.equal(p.readUInt32BE(12), i);
        assert.equal(p.readUInt32BE(16), body.length);
        assert.equal(p.readUInt32BE(8), 77);
        assert.equal(((p[2] as number) & 0x20) !== 0, mark);
      });
      assert.deepEqual(Buffer.concat(ps.map((p) => p.subarray(20))), Buffer.from(body));
    }),
    { numRuns: 1000 },
  );
});
