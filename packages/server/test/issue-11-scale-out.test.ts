/**
 * Issue 11, points 4 and 10: a platform of several processes — two front doors and two workers, each
 * `iip up --role …` as its own process — on one throwaway PostgreSQL and one throwaway nats-server -js. Real
 * MQTT 5 devices (mqtt.js) publish QoS 1 readings to either front door; every reading they got a PUBACK for is
 * recorded, and after every fault the test waits until PostgreSQL holds every acknowledged reading:
 *   - a device created through one front door can connect to the other (registry changes travel the bus);
 *   - kill -9 of a front door under load: its devices reconnect to the other one, nothing acknowledged is lost;
 *   - kill -9 of a worker: the other worker takes over, nothing lost, nothing stored twice;
 *   - PostgreSQL stopped for 30 s: intake continues into JetStream and drains afterwards;
 *   - NATS stopped: the front door answers HTTP 503 (IIP_ERR_BUS_UNAVAILABLE) and withholds PUBACKs, and
 *     takes readings again once NATS is back.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { type NatsServer, type PostgresServer, startNats, startPostgres, waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type PlatformProcess, api, login, startProcess, storedTimestamps } from './scale-out-fixture.js';

const MODEL = { properties: [{ id: 'v', dataType: { type: 'int', min: 0 }, access: 'r' }], events: [], services: [] };

/** A device that keeps `window` QoS 1 readings in flight and moves to the next front door when its connection dies. */
class Device {
  readonly acked: number[] = [];
  /** When each reading was acknowledged (for the failure message). */
  readonly ackedAt = new Map<number, number>();
  private next = 0;
  private client: MqttClient | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Index into `urls` of the front door in use. */
  at: number;

  constructor(
    readonly id: string,
    private readonly secret: string,
    private readonly urls: () => string[],
    first: number,
    private readonly t0: number,
    private readonly window = 8,
  ) {
    this.at = first;
  }

  get t0Base(): number {
    return this.t0;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.client?.endAsync(true).catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const urls = this.urls();
      const url = urls[this.at % urls.length] as string;
      let c: MqttClient;
      try {
        c = await mqtt.connectAsync(url, { username: `default/${this.id}`, password: this.secret, clientId: `default/${this.id}`, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3_000 });
      } catch {
        this.at++;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      this.client = c;
      const closed = new Promise<'closed'>((resolve) => c.once('close', () => resolve('closed')));
      const worker = async () => {
        while (this.running && c.connected) {
          const ts = this.t0 + this.next++;
          const r = await Promise.race([c.publishAsync(`iip/default/${this.id}/telemetry`, JSON.stringify({ ts, v: ts - this.t0 }), { qos: 1 }).then((p) => p ?? 'ok'), closed]).catch(() => 'failed');
          if (r === 'closed' || r === 'failed') return;
          // An MQTT 5 PUBACK with a reason code ≥ 0x80 is a refusal, not an acknowledgement.
          const reason = typeof r === 'object' && r && 'reasonCode' in r ? (r as { reasonCode?: number }).reasonCode : undefined;
          if (reason === undefined || reason < 0x80) {
            this.acked.push(ts);
            this.ackedAt.set(ts, Date.now());
          }
        }
      };
      await Promise.all(Array.from({ length: this.window }, worker));
      await c.endAsync(true).catch(() => undefined);
      if (this.running) this.at++;
    }
  }
}

async function allStored(pgUrl: string, devices: readonly Device[], what: string, timeoutMs = 90_000): Promise<Map<string, number[]>> {
  const deadline = Date.now() + timeoutMs;
  // What was acknowledged up to now (the devices keep publishing meanwhile).
  const expected = devices.map((d) => d.acked.slice());
  for (;;) {
    let stored = new Map<string, number[]>();
    let failure = '';
    try {
      stored = await storedTimestamps(
        pgUrl,
        devices.map((d) => d.id),
      );
    } catch (e) {
      failure = ` (reading PostgreSQL: ${(e as Error).message})`;
    }
    const missing = devices.map((d, i) => {
      const have = new Set(stored.get(d.id) ?? []);
      return (expected[i] as number[]).filter((ts) => !have.has(ts)).length;
    });
    if (!failure && missing.every((m) => m === 0)) return stored;
    if (Date.now() > deadline) {
      const detail = devices
        .map((d, i) => {
          const have = new Set(stored.get(d.id) ?? []);
          const lost = (expected[i] as number[]).filter((ts) => !have.has(ts)).slice(0, 5);
          const when = lost.map((ts) => `${ts - d.t0Base}@${new Date(d.ackedAt.get(ts) ?? 0).toISOString().slice(11, 23)}`).join(' ');
          return `${d.id}: ${missing[i]} of ${(expected[i] as number[]).length} missing (first: ${when})`;
        })
        .join(', ');
      throw new Error(`${what}: acknowledged readings not in PostgreSQL after ${timeoutMs} ms — ${detail}${failure}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Whether a worker is the one evaluating the rules (GET /api/v1/status: rules.evaluating). */
async function evaluating(w: PlatformProcess): Promise<boolean> {
  const t = await login(w);
  return (await api<{ rules?: { evaluating?: boolean } }>(w, t, 'GET', '/api/v1/status')).body.rules?.evaluating === true;
}

const waitAcked = (devices: readonly Device[], more: number, what: string) => {
  const base = devices.map((d) => d.acked.length);
  return waitFor(() => devices.every((d, i) => d.acked.length >= (base[i] as number) + more), what, 60_000, 50);
};

describe('issue 11: a platform of several processes on PostgreSQL and NATS, under faults', { timeout: 600_000 }, () => {
  let pgServer: PostgresServer;
  let nats: NatsServer;
  let pgUrl: string;
  const procs: PlatformProcess[] = [];
  let doors: PlatformProcess[] = [];
  const devices: Device[] = [];
  let token: string;
  const t0 = Date.now() - 3_600_000;

  before(async () => {
    pgServer = await startPostgres({ fsync: true });
    nats = await startNats();
    pgUrl = await pgServer.createDatabase('scaleout');
    // The first process migrates; the others start together and find the schema (advisory lock).
    procs.push(await startProcess('worker', pgUrl, nats.url));
    const rest = await Promise.all([startProcess('worker', pgUrl, nats.url), startProcess('front-door', pgUrl, nats.url), startProcess('front-door', pgUrl, nats.url)]);
    procs.push(...rest);
    doors = procs.filter((p) => p.role === 'front-door');
    token = await login(doors[0] as PlatformProcess);
  });

  afterEach((t) => {
    // On a failure, what the processes said is the first thing to read.
    if ((t as { passed?: boolean }).passed === false || process.env.IIP_TEST_VERBOSE) for (const p of procs) console.error(`--- iip up --role ${p.role} ---\n${p.output().slice(-4000)}`);
  });

  after(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await nats?.stop();
    await pgServer?.stop();
  });

  it('a device created through one front door connects to the other, and readings through both are stored', async () => {
    const [a, b] = doors as [PlatformProcess, PlatformProcess];
    assert.equal((await api(a, token, 'POST', '/api/v1/products', { id: 'meter', name: 'Meter', model: MODEL })).status, 201);
    // Front door b learns that "late-1" does not exist (and caches that) before it is created through a.
    const refused = await mqtt.connectAsync(b.mqttUrl, { username: 'default/late-1', password: 'x', clientId: 'default/late-1', protocolVersion: 5, reconnectPeriod: 0 }).then(
      (c) => c.endAsync().then(() => 'connected'),
      (e: Error) => e.message,
    );
    assert.notEqual(refused, 'connected');
    const urls = () => doors.map((p) => p.mqttUrl);
    for (const [i, id] of ['d-1', 'd-2', 'd-3', 'd-4', 'late-1'].entries()) {
      const r = await api<{ secret: string }>(a, token, 'POST', '/api/v1/devices', { id, product: 'meter' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      // d-1, d-3 start on a; d-2, d-4 and late-1 on b.
      devices.push(new Device(id, r.body.secret, urls, i % 2, t0));
    }
    for (const d of devices) d.start();
    await waitAcked(devices, 200, 'PUBACKs through both front doors');
    await allStored(pgUrl, devices, 'steady state');
    const status = await api<{ roles: string[]; bus: string; storage: string }>(b, token, 'GET', '/api/v1/status');
    assert.deepEqual([status.body.roles, status.body.bus, status.body.storage], [['front-door'], 'nats', 'postgres']);
  });

  it('issue 13: a rule saved through a front door runs in the workers; two workers open one alarm per device', async () => {
    const [a, b] = doors as [PlatformProcess, PlatformProcess];
    // Every reading of every device is above the threshold: each device has exactly one open alarm, although the
    // two workers each evaluate some of its batches and race to open it.
    const rule = await api(a, token, 'POST', '/api/v1/rules', { id: 'v-positive', scope: { product: 'meter' }, when: { threshold: { property: 'v', op: '>', value: 0 } }, alarm: { severity: 'low' } });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    type Page = { items: Array<{ device: string; rule: string }> };
    await waitFor(async () => (await api<Page>(b, token, 'GET', '/api/v1/alarms?open=true')).body.items.length >= devices.length, 'an alarm for every device', 60_000, 250);
    await new Promise((r) => setTimeout(r, 2_000));
    const open = (await api<Page>(b, token, 'GET', '/api/v1/alarms?open=true')).body.items;
    assert.deepEqual(open.map((x) => x.device).sort(), devices.map((d) => d.id).sort(), 'one open alarm per device, none twice');
    assert.equal((await api(a, token, 'DELETE', '/api/v1/rules/v-positive')).status, 204);
    // One worker evaluates (a lease in NATS), the other stands by: a device's rule state lives in one place.
    assert.deepEqual((await Promise.all(procs.filter((p) => p.role === 'worker').map((w) => evaluating(w)))).sort(), [false, true]);
  });

  it('issue 12: a grant revoked through one front door takes effect at once in the other (its cached permissions are dropped over the bus)', async () => {
    const [a, b] = doors as [PlatformProcess, PlatformProcess];
    const created = await api<{ id: string; grants: Array<{ id: string }> }>(a, token, 'POST', '/api/v1/users', { username: 'xproc-viewer', password: 'harbour-lamp-kettle-7', grants: [{ role: 'viewer' }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const viewer = await api<{ token: string }>(b, undefined, 'POST', '/api/v1/auth/login', { username: 'xproc-viewer', password: 'harbour-lamp-kettle-7' });
    assert.equal((await api(b, viewer.body.token, 'GET', '/api/v1/products')).status, 200, 'b has compiled and cached the grant');
    const revoked = await api(a, token, 'DELETE', `/api/v1/users/${created.body.id}/grants/${created.body.grants[0]?.id}`);
    assert.equal(revoked.status, 204);
    // Well inside the caches' 30 s max age: only the bus can have told b.
    await waitFor(async () => (await api(b, viewer.body.token, 'GET', '/api/v1/products')).status === 403, 'the revocation to reach the other front door', 5_000);
  });

  it('kill -9 of a front door under load: its devices reconnect to the other, nothing acknowledged is lost', async () => {
    const victim = doors[0] as PlatformProcess;
    const before = devices.map((d) => d.acked.length);
    await victim.kill();
    doors = doors.filter((p) => p !== victim);
    procs.splice(procs.indexOf(victim), 1);
    await waitAcked(devices, 150, 'PUBACKs after the front door died (all devices on the survivor)');
    assert.ok(devices.every((d, i) => d.acked.length > (before[i] as number)));
    await allStored(pgUrl, devices, 'after kill -9 of a front door');
  });

  it('kill -9 of a worker under load: the other worker takes over, nothing is lost or stored twice; it evaluates the rules now', async () => {
    // The worker that evaluates the rules dies: the other takes over storing and, once the lease runs out, rules.
    const workers = procs.filter((p) => p.role === 'worker');
    const victim = (await Promise.all(workers.map(async (w) => ((await evaluating(w)) ? w : undefined)))).find(Boolean) as PlatformProcess;
    const survivor = workers.find((w) => w !== victim) as PlatformProcess;
    await victim.kill();
    procs.splice(procs.indexOf(victim), 1);
    await waitFor(() => evaluating(survivor), 'the surviving worker to evaluate the rules', 30_000, 250);
    const [door] = doors as [PlatformProcess];
    const rule = await api(door, token, 'POST', '/api/v1/rules', { id: 'after-failover', scope: { product: 'meter' }, when: { threshold: { property: 'v', op: '>', value: 0 } }, alarm: { severity: 'low' } });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    type Page = { items: Array<{ device: string }> };
    await waitFor(async () => (await api<Page>(door, token, 'GET', '/api/v1/alarms?open=true&rule=after-failover')).body.items.length >= devices.length, 'alarms of a rule saved after the failover', 60_000, 250);
    assert.equal((await api(door, token, 'DELETE', '/api/v1/rules/after-failover')).status, 204);
    await waitAcked(devices, 200, 'PUBACKs after the worker died');
    const stored = await allStored(pgUrl, devices, 'after kill -9 of a worker');
    for (const d of devices) {
      const ts = stored.get(d.id) ?? [];
      assert.equal(new Set(ts).size, ts.length, `${d.id}: a reading stored twice`);
      // Nothing is stored that was never sent: every stored ts is one of the device's own.
      assert.ok(ts.every((x) => x >= t0 && x < t0 + 10_000_000), `${d.id}: a stored reading the device never sent`);
    }
  });

  it('PostgreSQL stopped for 30 s: intake continues into JetStream and drains afterwards', async () => {
    await pgServer.kill('SIGINT');
    const during = devices.map((d) => d.acked.length);
    await new Promise((r) => setTimeout(r, 30_000));
    const acceptedDuringOutage = devices.reduce((n, d, i) => n + d.acked.length - (during[i] as number), 0);
    assert.ok(acceptedDuringOutage > 0, 'the front door kept acknowledging while PostgreSQL was down (JetStream holds the readings)');
    await pgServer.restart();
    await waitAcked(devices, 50, 'PUBACKs after PostgreSQL came back');
    await allStored(pgUrl, devices, 'after PostgreSQL came back', 180_000);
  });

  it('NATS stopped: the front door answers 503 and withholds PUBACKs, and takes readings again when NATS is back', async () => {
    const door = doors[0] as PlatformProcess;
    const r = await api<{ secret: string }>(door, token, 'POST', '/api/v1/devices', { id: 'http-1', product: 'meter' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const auth = `Basic ${Buffer.from(`default/http-1:${r.body.secret}`).toString('base64')}`;
    const ingest = (ts: number) =>
      fetch(`${door.httpUrl}/api/v1/ingest`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ ts, v: 1 }) }).then(async (res) => ({
        status: res.status,
        body: (await res.json()) as { code?: string },
      }));
    assert.equal((await ingest(t0)).status, 202);

    await nats.kill('SIGTERM');
    const refused = await ingest(t0 + 1);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'IIP_ERR_BUS_UNAVAILABLE');
    // PUBACKs of readings JetStream took before it stopped may still be on their way for a moment.
    await new Promise((r) => setTimeout(r, 500));
    const counts = devices.map((d) => d.acked.length);
    // Give the devices time to publish: nothing may be acknowledged while nothing can be kept.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(
      devices.map((d) => d.acked.length),
      counts,
      'no PUBACK while NATS is down',
    );

    await nats.restart();
    await waitFor(async () => (await ingest(t0 + 2)).status === 202, 'HTTP ingest accepted again after NATS came back', 60_000, 250);
    await waitAcked(devices, 50, 'PUBACKs after NATS came back');
    await allStored(pgUrl, devices, 'after NATS came back');
  });
});
