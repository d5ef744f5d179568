/**
 * Reliability of the Modbus driver against misbehaving peers: a unit that answers with exceptions, a unit
 * that stays silent (both served by Debian's pymodbus), and raw TCP peers that send malformed frames. The
 * driver must report typed errors, keep polling the healthy device, demote the failing ones, promote them
 * when they answer again, and never crash. Rates are compared by counting polls, never by timing.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import type { DriverFailure, DriverReading, ModbusDeviceConfig } from '@iip/core';
import { ModbusDriver } from '@iip/device-access';
import { freePort, waitFor } from '@iip/testkit';
import { startPymodbus } from './fixtures/pymodbus-peer.js';

const points: ModbusDeviceConfig['points'] = [
  { property: 'level', area: 'holding', address: 0, type: 'uint16' },
  { property: 'flow', area: 'holding', address: 1, type: 'float32' },
];
const dev = (id: string, unitId: number): ModbusDeviceConfig => ({ id, unitId, pollIntervalMs: 100, points });

test('exceptions and silence are typed, the failing units are demoted and promoted back, the healthy unit keeps its rate', async (t) => {
  const port = await freePort();
  const peer = await startPymodbus({ tcpPort: port }, [1, 2, 3]);
  t.after(() => peer.stop());
  await peer.set(1, 'holding', 0, [42]);
  await peer.mode(2, 'exception');
  await peer.mode(3, 'silent');
  const logs: string[] = [];
  const driver = new ModbusDriver(
    { id: 'mixed', protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 300, devices: [dev('healthy', 1), dev('refuser', 2), dev('mute', 3)] },
    { log: (_level, msg) => logs.push(msg) },
  );
  t.after(() => driver.close());
  const failures: { device: string; failure: DriverFailure }[] = [];
  const readings: DriverReading[] = [];
  await driver.connect();
  await driver.subscribe(
    (rs) => readings.push(...rs),
    (device, failure) => failures.push({ device, failure }),
  );

  const state = (id: string) => driver.health().devices.find((d) => d.device === id)!;
  await waitFor(() => state('refuser').state === 'demoted' && state('mute').state === 'demoted', 'both failing units demoted', 20_000);

  const exc = failures.find((f) => f.device === 'refuser')!.failure;
  assert.equal(exc.code, 'IIP_ERR_MODBUS_EXCEPTION');
  assert.equal(exc.details?.exceptionCode, 2);
  assert.equal(exc.details?.function, 3);
  assert.equal(exc.details?.unit, 2);
  assert.equal(exc.details?.address, 0);
  const silent = failures.find((f) => f.device === 'mute')!.failure;
  assert.equal(silent.code, 'IIP_ERR_DRIVER_TIMEOUT');
  assert.equal(state('mute').lastError?.code, 'IIP_ERR_DRIVER_TIMEOUT');
  assert.ok(logs.some((l) => l.includes('demoted')), 'demotion is logged');

  // While demoted, the failing units are polled far less often than the healthy one.
  const before = { healthy: state('healthy').polls, refuser: state('refuser').polls, mute: state('mute').polls };
  await waitFor(() => state('healthy').polls >= before.healthy + 30, '30 more polls of the healthy unit', 30_000);
  const grew = (id: 'refuser' | 'mute') => state(id).polls - before[id];
  assert.ok(grew('refuser') * 3 < 30, `demoted unit polled ${grew('refuser')} times during 30 healthy polls`);
  assert.ok(grew('mute') * 3 < 30, `silent unit polled ${grew('mute')} times during 30 healthy polls`);
  assert.equal(state('healthy').state, 'ok');
  assert.equal(state('healthy').consecutiveFailures, 0);
  assert.ok(readings.some((r) => r.device === 'healthy' && r.property === 'level' && r.value === 42));
  assert.equal(driver.health().connected, true);

  // Recovery: both answer again and are promoted on their first success.
  await peer.set(2, 'holding', 0, [7]);
  await peer.mode(2, 'ok');
  await peer.mode(3, 'ok');
  await waitFor(() => state('refuser').state === 'ok' && state('mute').state === 'ok', 'both units promoted back', 20_000);
  await waitFor(() => readings.some((r) => r.device === 'refuser' && r.property === 'level' && r.value === 7), 'readings from the recovered unit');
  assert.ok(logs.some((l) => l.includes('promoted')));
});

/** A TCP peer that answers every request with `reply(request)` (or nothing). */
async function rawPeer(reply: (req: Buffer) => Buffer): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => s.write(reply(d)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, server };
}

for (const [name, reply] of [
  ['bytes that are not Modbus TCP at all', () => Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')],
  [
    'a well-framed response whose byte count is wrong',
    (req: Buffer) => {
      // echo transaction id and unit, claim FC3 with 2 bytes of data but send 6
      const head = Buffer.from(req.subarray(0, 7));
      const pdu = Buffer.from([3, 2, 0, 1, 0, 2, 0, 3]);
      head.writeUInt16BE(pdu.length + 1, 4);
      return Buffer.concat([head, pdu]);
    },
  ],
] as const) {
  test(`a peer sending ${name}: IIP_ERR_MODBUS_FRAME, no crash, polling goes on`, async (t) => {
    const { port } = await rawPeer(reply);
    const driver = new ModbusDriver({ id: `garbage-${port}`, protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 500, devices: [dev('confused', 1)] });
    t.after(() => driver.close());
    await driver.connect();
    await assert.rejects(driver.readOnce('confused'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_MODBUS_FRAME');
    const failures: DriverFailure[] = [];
    await driver.subscribe(
      () => {},
      (_d, f) => failures.push(f),
    );
    await waitFor(() => failures.length >= 3, 'three frame failures while polling on', 20_000);
    assert.ok(failures.every((f) => f.code === 'IIP_ERR_MODBUS_FRAME'), failures.map((f) => f.code).join(','));
    await waitFor(() => driver.health().devices[0]!.state === 'demoted', 'the confused device demoted');
  });
}

test('connect() to a port nobody listens on rejects with IIP_ERR_DRIVER_CONNECT', async () => {
  const port = await freePort();
  const driver = new ModbusDriver({ id: 'nobody', protocol: 'modbus-tcp', host: '127.0.0.1', port, devices: [dev('ghost', 1)] });
  await assert.rejects(driver.connect(), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_CONNECT');
  assert.equal(driver.health().connected, false);
  await driver.close();
});
