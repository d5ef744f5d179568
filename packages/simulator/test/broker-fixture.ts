/**
 * A real MQTT broker (aedes) for the simulator's tests, with the platform's device rules: username
 * "{tenant}/{device}", password = the device secret, and every publish recorded for the assertions.
 */
import { createServer, type Server } from 'node:net';
import { freePort } from '@iip/testkit';
import { Aedes, type AuthenticateError } from 'aedes';

export interface RecordedPublish {
  readonly topic: string;
  readonly payload: string;
  readonly clientId: string;
}

export interface TestBroker {
  readonly url: string;
  readonly broker: Aedes;
  readonly published: RecordedPublish[];
  close(): Promise<void>;
}

/** `secrets` maps "{tenant}/{device}" to the device secret. */
export async function startBroker(secrets: ReadonlyMap<string, string>): Promise<TestBroker> {
  const broker = await Aedes.createBroker({
    authenticate(_client, username, password, done) {
      const expected = username === undefined ? undefined : secrets.get(username);
      if (expected !== undefined && password?.toString('utf8') === expected) {
        done(null, true);
        return;
      }
      const err = new Error('bad username or password') as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
  });
  const published: RecordedPublish[] = [];
  broker.on('publish', (packet, client) => {
    if (client) published.push({ topic: packet.topic, payload: packet.payload.toString(), clientId: client.id });
  });
  const port = await freePort();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    broker,
    published,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
