/**
 * The NATS lease (one rule evaluator among several workers, issue 13) against a real nats-server: of several
 * contenders exactly one holds it; a holder that gives it up hands over at once; one that stops renewing (a stalled
 * or dead process) loses it when it runs out, and only then does another take it — never two at once.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { connectNatsLease, type NatsLease } from '@iip/bus';
import { type NatsServer, startNats, waitFor } from '@iip/testkit';

let server: NatsServer;
before(async () => {
  server = await startNats();
});
after(async () => {
  await server?.stop();
});

it('exactly one of three holds the lease; closing the holder hands it over at once', async () => {
  // A lease of 6 s: the others try every 2 s, so a hand-over at close lands at their next round, well before the lease
  // would have run out, also on a machine busy with the rest of the suite (with 1.5 s, a round 1 s late failed it).
  const TTL = 6_000;
  const leases = await Promise.all([0, 1, 2].map(() => connectNatsLease({ url: server.url, key: 'rules-a', ttlMs: TTL })));
  try {
    await waitFor(() => leases.filter((l) => l.held).length === 1, 'one holder');
    // Several renewal rounds later, still exactly one, and the same one.
    const holder = leases.find((l) => l.held) as NatsLease;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, TTL / 10));
      assert.deepEqual(leases.map((l) => l.held), leases.map((l) => l === holder));
    }
    const changes: boolean[] = [];
    const rest = leases.filter((l) => l !== holder);
    for (const l of rest) l.onChange((h) => changes.push(h));
    const t0 = Date.now();
    await holder.close();
    await waitFor(() => rest.filter((l) => l.held).length === 1, 'another holder');
    assert.ok(Date.now() - t0 < TTL, 'handed over before the lease would have run out');
    assert.deepEqual(changes, [true]);
  } finally {
    await Promise.all(leases.map((l) => l.close()));
  }
});

it('a holder that stops renewing loses the lease when it runs out; the other takes it only after', async () => {
  const ttl = 1_200;
  const a = await connectNatsLease({ url: server.url, key: 'rules-b', ttlMs: ttl });
  const b = await connectNatsLease({ url: server.url, key: 'rules-b', ttlMs: ttl });
  try {
    await waitFor(() => a.held !== b.held, 'one holder');
    const [holder, other] = a.held ? [a, b] : [b, a];
    let lostAt = 0;
    let gainedAt = 0;
    holder.onChange((h) => {
      if (!h) lostAt = Date.now();
    });
    other.onChange((h) => {
      if (h) gainedAt = Date.now();
    });
    // The holder stalls: its renewals stop (as in a process that hangs, or lost NATS).
    clearInterval((holder as unknown as { timer: NodeJS.Timeout }).timer);
    await waitFor(() => gainedAt > 0, 'the other to take the lease', 10_000);
    assert.ok(lostAt > 0 && lostAt <= gainedAt, `the stalled holder let go (${lostAt}) before the other took it (${gainedAt})`);
    assert.equal(holder.held, false);
    assert.equal(other.held, true);
  } finally {
    await a.close();
    await b.close();
  }
});
