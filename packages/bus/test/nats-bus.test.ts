/**
 * The NATS JetStream adapter against a real nats-server (-js, file store, free port): the shared bus
 * conformance suite, then what only a durable, networked bus can show — messages kept for an absent group,
 * acknowledged messages surviving kill -9 of the server, publish refusing while the server is down, and a
 * group shared by two processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type TestContext, after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Bus, type NatsBusOptions, connectNatsBus, decodeSubjectToken, encodeSubjectToken } from '@iip/bus';
import type { DeviceId, IipError, TelemetryBatch, TenantId } from '@iip/core';
import { type NatsServer, freePort, rejectsIipError, runBusConformance, startNats, waitFor } from '@iip/testkit';

let server: NatsServer;
let seq = 0;

before(async () => {
  server = await startNats();
});
after(async () => {
  await server?.stop();
});

const quiet = { onError: () => undefined, retryDelayMs: 20 } satisfies Partial<NatsBusOptions>;

runBusConformance('nats', async () => {
  const prefix = `c${++seq}`;
  const opened: Bus[] = [];
  const open = async (): Promise<Bus> => {
    const b = await connectNatsBus({ url: server.url, prefix, ...quiet });
    opened.push(b);
    return b;
  };
  const bus = await open();
  return { bus, peer: open, cleanup: async () => void (await Promise.all(opened.map((b) => b.close()))) };
});

describe('subject tokens', () => {
  it('encode what NATS subjects cannot carry, reversibly', () => {
    for (const id of ['plain-id_1', 'line-1.press_2', 'a*b>c d\te', '~tilde', '温度计', 'x.y.z']) {
      const t = encodeSubjectToken(id);
      assert.match(t, /^[A-Za-z0-9_~-]+$/, `${id} → ${t}`);
      assert.equal(decodeSubjectToken(t), id);
    }
    assert.equal(encodeSubjectToken('plain-id_1'), 'plain-id_1');
    assert.notEqual(encodeSubjectToken('a.b'), encodeSubjectToken('a~2Eb'));
  });
});

const TENANT = 'acme' as TenantId;
const batch = (n: number): TelemetryBatch => ({
  tenant: TENANT,
  device: `dev-${n % 8}` as DeviceId,
  points: [{ property: 'seq', ts: 1_700_000_000_000 + n, value: n }],
  receivedAt: 1_700_000_000_000,
});
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Opens buses on `srv` with one prefix and closes them all at the end of the test. */
function buses(t: TestContext, srv: () => NatsServer, extra: Partial<NatsBusOptions> = {}) {
  const prefix = `n${++seq}`;
  const opened: Bus[] = [];
  t.after(async () => void (await Promise.all(opened.map((b) => b.close()))));
  return async (more: Partial<NatsBusOptions> = {}) => {
    const b = await connectNatsBus({ url: srv().url, prefix, ...quiet, ...extra, ...more });
    opened.push(b);
    return b;
  };
}

describe('nats bus: what only a durable, networked bus can show', () => {
  it('a declared group keeps what is published while no member runs, and hands it to the first member that comes', async (t) => {
    // A member that leaves may still have a pull request open at the server; what the server hands to it comes
    // back only after the ack wait. Under load that outlived this test's wait with the 30 s default, so the
    // group here uses a 6 s ack wait (and the wait below allows for one): the assertions (every message reaches a
    // member exactly once) are unchanged. 2 s was too short on a loaded machine: an ack that took longer than
    // that to reach the server made the server hand the message out a second time, as JetStream should.
    const open = buses(t, () => server, { groups: { telemetry: ['historian'] }, ackWaitMs: 6_000 });
    const publisher = await open();
    const ns = range(300);
    await Promise.all(ns.map((n) => publisher.publish('telemetry', batch(n))));

    const got = new Map<number, number>();
    const member = await open();
    const sub = member.subscribe('telemetry', (m) => void got.set(m.points[0]?.value as number, (got.get(m.points[0]?.value as number) ?? 0) + 1), { group: 'historian' });
    await sub.ready;
    await waitFor(() => got.size >= ns.length, 'the messages published before the member came');
    // The member leaves; what comes meanwhile waits for the next member (in another connection).
    await sub.unsubscribe();
    const later = range(200, 1_000);
    await Promise.all(later.map((n) => publisher.publish('telemetry', batch(n))));
    const next = await open();
    const sub2 = next.subscribe('telemetry', (m) => void got.set(m.points[0]?.value as number, (got.get(m.points[0]?.value as number) ?? 0) + 1), { group: 'historian' });
    await sub2.ready;
    await waitFor(() => got.size >= ns.length + later.length, 'the messages published while no member ran', 30_000);
    for (const n of [...ns, ...later]) assert.equal(got.get(n), 1, `message ${n}`);
  });

  it('kill -9 of nats-server: every acknowledged publish is still there after the restart; none hangs; the bus reconnects', async (t) => {
    const own = await startNats();
    t.after(() => own.stop());
    const open = buses(t, () => own, { groups: { telemetry: ['historian'] }, publishTimeoutMs: 3_000 });
    const bus = await open();
    const ns = range(20_000);
    const acked = new Set<number>();
    let killed: Promise<void> | undefined;
    const results = await Promise.allSettled(
      ns.map((n) =>
        bus.publish('telemetry', batch(n)).then(() => {
          acked.add(n);
          if (acked.size === 2_000) killed = own.kill('SIGKILL');
        }),
      ),
    );
    await killed;
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    for (const r of refused) assert.equal((r.reason as IipError).code, 'IIP_ERR_BUS_UNAVAILABLE', String(r.reason));
    assert.ok(acked.size >= 2_000, `acknowledged ${acked.size}`);
    assert.equal(acked.size + refused.length, ns.length, 'every publish settled');

    await own.restart();
    await waitFor(() => (bus as Bus & { connected: boolean }).connected, 'the bus to reconnect', 30_000);
    await bus.publish('telemetry', batch(99_999));
    const got = new Set<number>();
    const sub = bus.subscribe('telemetry', (m) => void got.add(m.points[0]?.value as number), { group: 'historian' });
    await sub.ready;
    await waitFor(() => got.has(99_999) && [...acked].every((n) => got.has(n)), 'every acknowledged message after the restart', 60_000);
    t.diagnostic(`acknowledged ${acked.size}, refused ${refused.length}, delivered after the restart ${got.size}`);
  });

  it('nats-server stopped (SIGTERM) and restarted while a group consumes and acks: every acknowledged publish still reaches the group', async (t) => {
    // With interest retention (deletion on ack inside the server) nats-server 2.9.10 lost 379 of ~50,000
    // acknowledged messages in this very situation; limits retention plus the bus's own purge loses none.
    const own = await startNats();
    t.after(() => own.stop());
    const open = buses(t, () => own, { groups: { telemetry: ['historian'] }, publishTimeoutMs: 3_000, purgeIntervalMs: 200 });
    const bus = await open();
    const got = new Set<number>();
    const sub = bus.subscribe(
      'telemetry',
      async (m) => {
        await new Promise((r) => setTimeout(r, 2));
        got.add(m.points[0]?.value as number);
      },
      { group: 'historian' },
    );
    await sub.ready;
    const acked = new Set<number>();
    let next = 0;
    let stop = false;
    const publishers = Array.from({ length: 32 }, async () => {
      while (!stop) {
        const n = next++;
        await bus.publish('telemetry', batch(n)).then(
          () => void acked.add(n),
          () => new Promise((r) => setTimeout(r, 20)),
        );
      }
    });
    await waitFor(() => acked.size >= 5_000, 'publishes acknowledged before the stop', 60_000);
    await own.kill('SIGTERM');
    await own.restart();
    await waitFor(() => (bus as Bus & { connected: boolean }).connected, 'the bus to reconnect', 30_000);
    const before = acked.size;
    await waitFor(() => acked.size >= before + 2_000, 'publishes acknowledged after the restart', 60_000);
    stop = true;
    await Promise.all(publishers);
    await waitFor(() => [...acked].every((n) => got.has(n)), 'every acknowledged message at the group', 90_000, 200);
    t.diagnostic(`acknowledged ${acked.size}, delivered ${got.size}`);
  });

  it('what every group has acknowledged is purged from the stream; what a group has not is kept', async (t) => {
    const open = buses(t, () => server, { groups: { telemetry: ['a', 'b'] }, purgeIntervalMs: 100 });
    const bus = await open();
    const jsm = await (await import('nats')).connect({ servers: server.url }).then((nc) => {
      t.after(() => nc.close());
      return nc.jetstreamManager();
    });
    const stream = (bus as unknown as { streamName(t: string): string }).streamName('telemetry');
    await Promise.all(range(500).map((n) => bus.publish('telemetry', batch(n))));
    // Batches of one device published in one turn travel bundled: fewer stream messages than batches.
    const held = (await jsm.streams.info(stream)).state.messages;
    assert.ok(held >= 8 && held < 500, `${held} stream messages hold the 500 batches of 8 devices`);
    const gotA = new Set<number>();
    const subA = bus.subscribe('telemetry', (m) => void gotA.add(m.points[0]?.value as number), { group: 'a' });
    await subA.ready;
    await waitFor(() => gotA.size === 500, 'group a has every message', 30_000);
    // Group b has acknowledged nothing: every message stays.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await jsm.streams.info(stream)).state.messages, held);
    const gotB = new Set<number>();
    const subB = bus.subscribe('telemetry', (m) => void gotB.add(m.points[0]?.value as number), { group: 'b' });
    await subB.ready;
    await waitFor(() => gotB.size === 500, 'group b has every message', 30_000);
    await waitFor(async () => (await jsm.streams.info(stream)).state.messages === 0, 'the stream to be purged once both groups acknowledged', 30_000, 100);
  });

  it('publish while nats-server is down rejects with IIP_ERR_BUS_UNAVAILABLE (it does not hang); after the restart it succeeds', async (t) => {
    const own = await startNats();
    t.after(() => own.stop());
    const open = buses(t, () => own, { publishTimeoutMs: 1_000 });
    const bus = await open();
    await bus.publish('telemetry', batch(1));
    await own.kill('SIGKILL');
    await rejectsIipError(() => bus.publish('telemetry', batch(2)), 'IIP_ERR_BUS_UNAVAILABLE');
    await waitFor(() => !(bus as Bus & { connected: boolean }).connected, 'the bus to notice the lost connection');
    await rejectsIipError(() => bus.publish('telemetry', batch(3)), 'IIP_ERR_BUS_UNAVAILABLE', /not connected/);
    await own.restart();
    await waitFor(() => (bus as Bus & { connected: boolean }).connected, 'the bus to reconnect', 30_000);
    await bus.publish('telemetry', batch(4));
  });

  it('connecting to a port where no nats-server listens rejects with IIP_ERR_BUS_UNAVAILABLE', async () => {
    const port = await freePort();
    await rejectsIipError(() => connectNatsBus({ url: `nats://127.0.0.1:${port}`, connectTimeoutMs: 1_000 }), 'IIP_ERR_BUS_UNAVAILABLE');
  });

  it('two processes in one group share the work; kill -9 of one loses nothing (each message at least once)', async (t) => {
    const prefix = `p${++seq}`;
    const open = buses(t, () => server);
    const publisher = await open({ prefix, groups: { telemetry: ['historian'] } } as Partial<NatsBusOptions>);
    const member = fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url));
    const seen = new Map<number, number>();
    const perChild = [0, 0];
    const children = [0, 1].map((i) => {
      const c = spawn(process.execPath, ['--import', 'tsx', member, server.url, prefix, 'historian'], { stdio: ['ignore', 'pipe', 'inherit'] });
      t.after(() => void c.kill('SIGKILL'));
      let buf = '';
      let ready = false;
      c.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const line of lines) {
          if (line === 'ready') ready = true;
          else {
            const n = Number(line);
            seen.set(n, (seen.get(n) ?? 0) + 1);
            perChild[i] = (perChild[i] ?? 0) + 1;
          }
        }
      });
      return { c, ready: () => ready };
    });
    await waitFor(() => children.every((c) => c.ready()), 'both group members ready', 30_000);
    const first = range(5_000);
    await Promise.all(first.map((n) => publisher.publish('telemetry', batch(n))));
    await waitFor(() => seen.size >= 1_000, 'the members to start working');
    const [victim] = children;
    victim?.c.kill('SIGKILL');
    await new Promise((r) => victim?.c.once('exit', r));
    const second = range(5_000, 10_000);
    await Promise.all(second.map((n) => publisher.publish('telemetry', batch(n))));
    await waitFor(() => [...first, ...second].every((n) => seen.has(n)), 'every message handled by a member', 90_000).catch((e) => {
      const missing = [...first, ...second].filter((n) => !seen.has(n));
      throw new Error(`${e.message}; missing ${missing.length}: ${missing.slice(0, 20).join(',')} (per child ${perChild.join('+')})`);
    });
    const twice = [...seen.values()].filter((k) => k > 1).length;
    t.diagnostic(`handled by the members: ${perChild.join(' + ')}; handled more than once (redelivered after the kill): ${twice}`);
    assert.ok((perChild[0] ?? 0) > 0 && (perChild[1] ?? 0) > 0, 'both members did work');
  });
});
