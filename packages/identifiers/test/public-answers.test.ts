// Pre-rendered public answers (issue 4, resolution speed): the UDP/TCP and REST front ends answer plain
// anonymous resolutions from renderings kept in memory. They must be byte for byte what the full path sends,
// never show a value an anonymous caller may not see, and follow every change of the store handle by handle.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import {
  DEFAULT_ENVELOPE,
  HandleClient,
  LocalHandleService,
  OpCode,
  OpFlag,
  ResponseCode,
  buildHandleRestApp,
  encodeMessage,
  secretKeyAuth,
  startHandleNode,
} from '@iip/identifiers';
import { freePort, tempDir } from '@iip/testkit';
import fc from 'fast-check';
import { RequestHandler } from '../src/transport/request-handler.js';
import { ROOT, SITE, node, openStore, servedNode, text } from './service-fixture.js';

const dec = new TextDecoder();
const show = (values: readonly { index: number; data: Uint8Array }[]): string => values.map((v) => `${v.index}=${dec.decode(v.data)}`).join(',');

test('public answers: hits after the first render, in any ASCII case; nothing for unknown, foreign or invalid handles', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/a', [text(1, 'URL', 'a'), text(2, 'NOTE', 'admin-only', { publicRead: false })], ROOT);
  const answers = service.publicAnswers(show);
  assert.equal(await answers.get('88.118/a'), '1=a', 'admin-only values are not in an anonymous answer');
  assert.equal(answers.get('88.118/A'), '1=a', 'a kept answer comes back at once, without a promise');
  assert.deepEqual({ hits: answers.stats().hits, misses: answers.stats().misses, size: answers.stats().size }, { hits: 1, misses: 1, size: 1 });
  assert.equal(await answers.get('88.118/missing'), undefined);
  assert.equal(await answers.get('20.500/a'), undefined, 'not homed here');
  assert.equal(await answers.get('no-slash'), undefined);
  // The prefix handle carries the admin's HS_SECKEY: never part of any answer.
  assert.doesNotMatch(await answers.get('0.NA/88.118') ?? '', /s3cret/);
  answers.dispose();
  assert.equal(answers.stats().size, 0);
});

test('public answers: every kind of change drops exactly the changed handle', async (t) => {
  const { service, store } = await node(t);
  for (const h of ['w', 'x', 'y']) await service.create(`88.118/${h}`, [text(1, 'URL', h)], ROOT);
  const answers = service.publicAnswers(show);
  for (const h of ['w', 'x', 'y']) await answers.get(`88.118/${h}`);
  const steps: Array<[string, () => Promise<unknown>, string | undefined]> = [
    ['modify', () => service.modifyValues('88.118/w', [text(1, 'URL', 'b')], ROOT), '1=b'],
    ['add', () => service.addValues('88.118/w', [text(2, 'EMAIL', 'e')], ROOT), '1=b,2=e'],
    ['remove', () => service.removeValues('88.118/w', [1], ROOT), '2=e'],
    ['overwrite', () => service.create('88.118/w', [text(3, 'URL', 'c')], ROOT, { overwrite: true }), '3=c'],
    ['hidden', () => service.modifyValues('88.118/w', [text(3, 'URL', 'c', { publicRead: false })], ROOT), ''],
    ['delete', () => service.delete('88.118/w', ROOT), undefined],
    ['re-create', () => service.create('88.118/w', [text(4, 'URL', 'd')], ROOT), '4=d'],
    ['store put', () => store.put('88.118/w', { handle: '88.118/w', values: [text(5, 'URL', 'raw')] }), '5=raw'],
  ];
  for (const [what, change, expected] of steps) {
    const invalidated = answers.stats().invalidated;
    await change();
    assert.equal(await answers.get('88.118/w'), expected, what);
    assert.ok(answers.stats().invalidated <= invalidated + 1, `${what}: only the changed handle is dropped`);
    assert.equal(await answers.get('88.118/x'), '1=x', `${what}: others stay`);
  }
  // A transaction that rolls back leaves nothing of itself, even when asked while it is open.
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let wrote!: () => void;
  const written = new Promise<void>((r) => {
    wrote = r;
  });
  const tx = store.transaction(async (t) => {
    await t.put('88.118/x', { handle: '88.118/x', values: [text(1, 'URL', 'uncommitted')] });
    wrote();
    await gate;
    throw new Error('roll back');
  });
  await written;
  const during = answers.get('88.118/x');
  release();
  await assert.rejects(tx, /roll back/);
  assert.equal(await during, '1=x', 'an answer while the transaction is open is the committed one');
  assert.equal(await answers.get('88.118/x'), '1=x');
  await service.modifyValues('88.118/x', [text(1, 'URL', 'committed')], ROOT);
  assert.equal(await answers.get('88.118/x'), '1=committed', 'the seq the rolled-back change had is reused by this commit');
  // Unhoming changes responsibility: everything goes.
  await service.unhomePrefix('88.118', ROOT);
  assert.equal(await answers.get('88.118/y'), undefined);
});

test('public answers: a mirror applying replicated changes serves the new values', async (t) => {
  const { service, store } = await node(t);
  await service.create('88.118/m', [text(1, 'URL', 'a')], ROOT);
  const { store: mirrorStore } = await openStore(t, 'mirror.db');
  const mirror = new LocalHandleService({ store: mirrorStore, role: 'mirror', site: SITE });
  await mirrorStore.applyChanges(await store.changesSince(0, 1000));
  const answers = mirror.publicAnswers(show);
  assert.equal(await answers.get('88.118/m'), '1=a');
  await service.modifyValues('88.118/m', [text(1, 'URL', 'replicated')], ROOT);
  await mirrorStore.applyChanges(await store.changesSince(await mirrorStore.lastSeq(), 1000));
  assert.equal(await answers.get('88.118/m'), '1=replicated');
  await service.delete('88.118/m', ROOT);
  await mirrorStore.applyChanges(await store.changesSince(await mirrorStore.lastSeq(), 1000));
  assert.equal(await answers.get('88.118/m'), undefined);
});

test('public answers: warming reads the store into every cache up to its capacity, with progress', async (t) => {
  const { store } = await node(t);
  const service = new LocalHandleService({ store, role: 'secondary', site: SITE, rootAdmins: [ROOT], answerEntries: 50 });
  await service.homePrefix('20.500', ROOT);
  for (let i = 0; i < 30; i++) await service.create(`88.118/h${i}`, [text(1, 'URL', `u${i}`)], ROOT);
  for (let i = 0; i < 5; i++) await service.create(`20.500/o${i}`, [text(1, 'URL', `o${i}`)], ROOT);
  await service.unhomePrefix('20.500', ROOT);
  const a = service.publicAnswers(show);
  const b = service.publicAnswers((values) => JSON.stringify(values.map((v) => v.index)));
  const progress: number[] = [];
  const r = await service.warmPublicAnswers({ chunk: 7, onProgress: (read) => progress.push(read) });
  // 30 handles + the prefix handle 0.NA/88.118; the records under 20.500 are not this node's any more.
  assert.equal(a.stats().size, 31);
  assert.equal(b.stats().size, 31);
  assert.equal(r.added, 62);
  assert.equal(r.read, await store.count());
  assert.deepEqual(progress, [...progress].sort((x, y) => x - y));
  assert.equal(progress.at(-1), await store.count());
  const misses = a.stats().misses;
  assert.equal(await a.get('88.118/h7'), '1=u7');
  assert.equal(await b.get('88.118/H7'), '[1]');
  assert.equal(a.stats().misses, misses, 'warmed: no render on first use');
  assert.equal(await a.get('20.500/o1'), undefined, 'not warmed for a prefix this node no longer homes');

  // Capacity bounds warming, and a full cache makes room for a new answer by dropping its oldest one.
  const small = new LocalHandleService({ store, role: 'secondary', site: SITE, answerEntries: 10 });
  const c = small.publicAnswers(show);
  await small.warmPublicAnswers({ chunk: 4 });
  assert.equal(c.stats().size, 10);
  const first = (await store.scan(undefined, 1))[0]?.key as string;
  assert.equal(await c.get('88.118/h29'), '1=u29');
  assert.equal(c.stats().size, 10);
  const hits = c.stats().hits;
  await c.get(first);
  assert.equal(c.stats().hits, hits, 'the oldest entry made room');
  const none = new LocalHandleService({ store, role: 'secondary', site: SITE, answerEntries: 0 });
  const d = none.publicAnswers(show);
  assert.equal(await d.get('88.118/h1'), '1=u1', 'capacity 0: rendered every time, kept never');
  assert.equal(d.stats().size, 0);
});

/** A resolution request as a client would send it, with the variations the fast path must tell apart. */
const requestArb = fc
  .record({
    handle: fc.oneof(
      fc.constantFrom('88.118/h1', '88.118/H1', '88.118/h2', '88.118/hidden', '88.118/none', '0.NA/88.118', '0.na/88.118', '20.500/x', '88.118/ünï', 'bad'),
      fc.string({ minLength: 1, maxLength: 20 }).map((s) => `88.118/${s}`),
    ),
    minor: fc.integer({ min: 0, max: 15 }),
    flags: fc.constantFrom(0, OpFlag.RECURSIVE, OpFlag.PUBLIC_ONLY, OpFlag.KEEP_ALIVE | OpFlag.AUTHORITATIVE, OpFlag.REQUEST_DIGEST, OpFlag.PUBLIC_ONLY | OpFlag.REQUEST_DIGEST, OpFlag.DO_NOT_REFER | OpFlag.CACHE_CERTIFY, OpFlag.CERTIFY, OpFlag.CACHE_CERTIFY),
    // Mostly outside a session (the fast path's case); a session id the node does not know is refused by both.
    sessionId: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, fc.nat()),
    requestId: fc.nat(),
    recursionCount: fc.integer({ min: 0, max: 255 }),
    // Weighted towards what the fast path answers, so that both paths are compared often.
    indexes: fc.oneof({ arbitrary: fc.constant([]), weight: 6 }, fc.constantFrom([1], [2, 1])),
    types: fc.oneof({ arbitrary: fc.constant([]), weight: 6 }, fc.constant(['URL'])),
    credential: fc.oneof({ arbitrary: fc.constantFrom('empty', 'absent'), weight: 6 }, fc.constant('some')),
  })
  .map((r) => {
    const bytes = encodeMessage({
      envelope: { ...DEFAULT_ENVELOPE, minorVersion: r.minor, sessionId: r.sessionId, requestId: r.requestId },
      header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: r.flags, siteInfoSerial: 3, recursionCount: r.recursionCount, expiration: 0 },
      body: { kind: 'resolution-request', handle: r.handle, indexes: r.indexes, types: r.types },
      ...(r.credential === 'some' && { credential: new Uint8Array([1, 2, 3]) }),
    });
    if (r.credential !== 'absent') return bytes;
    // Old peers leave the credential section out: drop its 4-byte length and say so in the envelope.
    const cut = Buffer.from(bytes.subarray(0, bytes.length - 4));
    cut.writeUInt32BE(cut.length - 20, 16);
    return cut;
  });

test('UDP/TCP: replies from pre-rendered answers are byte for byte those of the full path (fast-check)', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/h1', [text(1, 'URL', 'https://iip.example/1'), text(2, 'SERIAL', 'SN-1', { publicRead: false })], ROOT);
  await service.create('88.118/h2', [text(1, 'URL', 'x'.repeat(300)), text(7, 'EMAIL', 'a@b')], ROOT);
  await service.create('88.118/hidden', [text(1, 'NOTE', 'n', { publicRead: false })], ROOT);
  await service.create('88.118/ünï', [text(1, 'URL', 'utf8')], ROOT);
  // One pinned clock for both: every reply carries an expiration counted from the time it is made.
  const now = () => 1_700_000_000_000;
  const fast = new RequestHandler(service, undefined, { now });
  const full = new RequestHandler(service, undefined, { publicAnswers: false, now });
  t.after(() => fast.dispose());
  await fc.assert(
    fc.asyncProperty(requestArb, async (req) => {
      const a = await fast.handle(req);
      const b = await full.handle(req);
      if (b && b.readUInt32BE(24) === ResponseCode.AUTHENTICATION_NEEDED) {
        // A challenge (restricted values, no PUBLIC_ONLY) carries a fresh nonce and session id each time.
        assert.equal(a?.readUInt32BE(24), ResponseCode.AUTHENTICATION_NEEDED);
        assert.equal(a?.length, b.length);
      } else assert.deepEqual(a, b);
    }),
    { numRuns: 600 },
  );
  const stats = fast.answerStats();
  assert.ok(stats && stats.hits > 50, `the fast path was taken (${stats?.hits} hits)`);
  assert.equal(full.answerStats(), undefined);
});

test('UDP: a real client sees changes at once through the pre-rendered answers', async (t) => {
  const { service, server, client, addr } = await servedNode(t);
  await service.create('88.118/live', [text(1, 'URL', 'v1')], ROOT);
  const urlOf = async () => {
    const r = await client.resolve(addr, '88.118/LIVE');
    return `${r.responseCode}:${show(r.values)}`;
  };
  assert.equal(await urlOf(), '1:1=v1');
  assert.equal(await urlOf(), '1:1=v1');
  assert.equal(server.stats().answerHits, 1);
  await service.modifyValues('88.118/live', [text(1, 'URL', 'v2')], ROOT);
  assert.equal(await urlOf(), '1:1=v2');
  await service.delete('88.118/live', ROOT);
  await assert.rejects(client.resolve(addr, '88.118/live'), (e: Error & { responseCode?: number }) => e.responseCode === 100);
});

test('REST: answers from pre-rendered JSON equal the full path in status, headers and body', async (t) => {
  const { service } = await node(t);
  await service.create('88.118/r1', [text(1, 'URL', 'https://iip.example/r1'), text(2, 'NOTE', 'admin', { publicRead: false })], ROOT);
  await service.create('88.118/ünï', [text(1, 'URL', 'ü "quoted" \\ path')], ROOT);
  const fastApp = await buildHandleRestApp(service, { auth: secretKeyAuth(service) });
  const fullApp = await buildHandleRestApp(service, { auth: secretKeyAuth(service), publicAnswers: false });
  t.after(async () => {
    await fastApp.close();
    await fullApp.close();
  });
  const paths = ['/api/handles/88.118/r1', '/api/handles/88.118/R1', '/api/handles/88.118/%C3%BCn%C3%AF', '/api/handles/88.118/nope', '/api/handles/20.500/x', '/api/handles/88.118/r1?type=URL', '/api/handles/0.NA/88.118'];
  for (let round = 0; round < 2; round++) {
    for (const url of paths) {
      const a = await fastApp.inject({ method: 'GET', url });
      const b = await fullApp.inject({ method: 'GET', url });
      assert.equal(a.statusCode, b.statusCode, url);
      assert.equal(a.headers['content-type'], b.headers['content-type'], url);
      assert.equal(a.body, b.body, url);
    }
  }
  // Answered from memory: a hit per request once rendered, and the admin-only value is not there.
  const fastRes = await fastApp.inject({ method: 'GET', url: '/api/handles/88.118/r1' });
  assert.deepEqual(JSON.parse(fastRes.body).values.map((v: { index: number }) => v.index), [1]);
});

test('node: a restarted node warms its answers from the store in the background and answers from them', async (t) => {
  const dir = await tempDir('iip-id-warm-');
  t.after(() => dir.cleanup());
  const opts = async () => {
    const port = await freePort();
    return { role: 'secondary' as const, prefix: '88.118', dataDir: dir.path, udpPort: port, tcpPort: port, httpPort: await freePort(), admin: { handle: '0.NA/88.118', index: 300, secretKey: 'warm' } };
  };
  const first = await startHandleNode(await opts());
  for (let i = 0; i < 100; i++) await first.service.create(`88.118/W-${i}`, [text(1, 'URL', `u${i}`)], ROOT);
  await first.close();
  const lines: string[] = [];
  const second = await startHandleNode({ ...(await opts()), log: (l) => lines.push(l) });
  const client = new HandleClient({ timeoutMs: 2000, retries: 1 });
  t.after(async () => {
    client.close();
    await second.close();
  });
  const warmed = await second.warmed;
  assert.equal(warmed.read, 101, '100 handles and the prefix handle');
  assert.equal(warmed.added, 202, 'one UDP and one REST rendering each');
  assert.ok(lines.some((l) => l.includes('pre-rendered from 101 records')), lines.join('\n'));
  const r = await client.resolve({ address: '127.0.0.1', udpPort: second.udpPort }, '88.118/w-42');
  assert.equal(show(r.values), '1=u42');
  assert.deepEqual({ hits: second.protocol.stats().answerHits, misses: second.protocol.stats().answerMisses }, { hits: 1, misses: 0 });
  const res = await fetch(`http://127.0.0.1:${second.httpPort}/api/handles/88.118/W-7`);
  assert.equal(((await res.json()) as { values: { data: { value: string } }[] }).values[0]?.data.value, 'u7');
});

test('TCP: replies keep the order of the requests when a slow one (read from the store) precedes a kept answer', async (t) => {
  const { service, server } = await servedNode(t);
  await service.create('88.118/kept', [text(1, 'URL', 'k')], ROOT);
  await service.create('88.118/other', [text(1, 'URL', 'o'), text(2, 'EMAIL', 'e')], ROOT);
  const request = (requestId: number, handle: string, types: string[]) =>
    Buffer.from(
      encodeMessage({
        envelope: { ...DEFAULT_ENVELOPE, requestId },
        header: { opCode: OpCode.RESOLUTION, responseCode: 0, opFlags: OpFlag.PUBLIC_ONLY, siteInfoSerial: 0, recursionCount: 0, expiration: 0 },
        body: { kind: 'resolution-request', handle, indexes: [], types },
      }),
    );
  // Warm the kept answer, then check it is answered without a promise while a filtered request is not.
  const handler = new RequestHandler(service);
  t.after(() => handler.dispose());
  await handler.handle(request(1, '88.118/kept', []));
  assert.ok(handler.handle(request(2, '88.118/kept', [])) instanceof Buffer, 'a kept answer is made at once');
  const slow = handler.handle(request(3, '88.118/other', ['EMAIL']));
  assert.ok(slow instanceof Promise, 'a filtered resolution reads the store');
  await slow;
  const order: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const socket = connect(server.tcpPort, '127.0.0.1');
    let got = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      while (got.length >= 20 && got.length >= 20 + got.readUInt32BE(16)) {
        order.push(got.readUInt32BE(8));
        got = got.subarray(20 + got.readUInt32BE(16));
      }
      if (order.length === 4) {
        socket.destroy();
        resolve();
      }
    });
    // One write: slow, kept, slow, kept.
    socket.write(Buffer.concat([request(11, '88.118/other', ['EMAIL']), request(12, '88.118/kept', []), request(13, '88.118/other', ['URL']), request(14, '88.118/kept', [])]));
  });
  assert.deepEqual(order, [11, 12, 13, 14]);
});
