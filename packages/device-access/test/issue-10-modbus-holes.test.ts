/**
 * Issue 10, points 3 and 4, against Debian's pymodbus with a sparse register map: a coalesced read that
 * spans holes is refused with exception 2, so the driver must split it, keep polling the points that exist,
 * report the one point that is itself missing, and leave a NaN float out with a reason — without demoting
 * the device or losing the good values of the same poll.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DriverReading, ModbusDeviceConfig } from '@iip/core';
import { ModbusDriver, planReads } from '@iip/device-access';
import { freePort, waitFor } from '@iip/testkit';
import { startPymodbus } from './fixtures/pymodbus-peer.js';

const device: ModbusDeviceConfig = {
  id: 'meter',
  unitId: 1,
  pollIntervalMs: 50,
  points: [
    { property: 'level', area: 'holding', address: 0, type: 'uint16' },
    { property: 'pressure', area: 'holding', address: 5, type: 'uint16' },
    { property: 'flow', area: 'holding', address: 10, type: 'float32' },
    { property: 'temp', area: 'holding', address: 14, type: 'float32' },
    { property: 'ghost', area: 'holding', address: 20, type: 'uint16' },
  ],
};

/** float32 big-endian as two registers. */
function f32(x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x, 0);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

test('issue 10.3/10.4: holes split the plan, a missing point and a NaN are reported per point, the rest is read', async (t) => {
  const port = await freePort();
  const peer = await startPymodbus({ tcpPort: port }, [1]);
  t.after(() => peer.stop());
  await peer.set(1, 'holding', 0, [42]);
  await peer.set(1, 'holding', 5, [7]);
  await peer.set(1, 'holding', 10, f32(Number.NaN));
  await peer.set(1, 'holding', 14, f32(21.5));
  await peer.holes(1, 'holding', [1, 2, 3, 4, 6, 7, 8, 9, 12, 13, 16, 17, 18, 19, 20]);
  // The default coalescing reads 0..20 in one request, which spans the holes.
  assert.equal(planReads(device).length, 1);

  const driver = new ModbusDriver({ id: 'sparse', protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 1000, devices: [device] });
  t.after(() => driver.close());
  const readings: DriverReading[] = [];
  const batches: string[][] = [];
  await driver.connect();
  await driver.subscribe((rs) => {
    readings.push(...rs);
    batches.push(rs.map((r) => r.property).sort());
  });
  const health = () => driver.health().devices[0]!;
  await waitFor(() => health().polls >= 5, 'five polls', 20_000);

  const got = (p: string) => readings.filter((r) => r.property === p).map((r) => r.value);
  assert.equal(got('level')[0], 42);
  assert.equal(got('pressure')[0], 7);
  assert.equal(got('temp')[0], 21.5);
  assert.deepEqual(got('flow'), [], 'the NaN is left out, not sent as null');
  assert.deepEqual(got('ghost'), []);
  // The good values of the very first poll (the one that met the refusal) were delivered, together.
  assert.deepEqual(batches[0], ['level', 'pressure', 'temp']);

  const h = health();
  assert.equal(h.state, 'ok', 'holes do not demote the device');
  assert.equal(h.consecutiveFailures, 0);
  assert.equal(h.errors, 0);
  const failures = new Map((h.pointFailures ?? []).map((f) => [f.property, f]));
  assert.deepEqual([...failures.keys()].sort(), ['flow', 'ghost']);
  assert.equal(failures.get('ghost')!.code, 'IIP_ERR_MODBUS_EXCEPTION');
  assert.equal(failures.get('ghost')!.details?.exceptionCode, 2);
  assert.equal(failures.get('ghost')!.details?.address, 20);
  assert.equal(failures.get('flow')!.code, 'IIP_ERR_DRIVER_BAD_VALUE');
  assert.equal(failures.get('flow')!.details?.raw, 'NaN');
  assert.ok(failures.get('flow')!.count >= 5, 'a bad value is counted on every poll');

  // The learned plan skips the holes and the missing point: later polls send no refused request.
  const plan = driver.readPlan();
  assert.deepEqual(
    plan.map((e) => e.properties),
    [['level'], ['pressure'], ['flow'], ['temp']],
  );
  assert.ok(plan.every((e) => !/\b20\b/.test(e.request)));

  // A good value again: it flows and its failure clears.
  await peer.set(1, 'holding', 10, f32(3.25));
  await waitFor(() => got('flow').includes(3.25), 'flow after the NaN is gone');
  await waitFor(() => !(health().pointFailures ?? []).some((f) => f.property === 'flow'), 'the bad-value failure to clear');
  assert.equal(health().state, 'ok');
});

test('issue 10.3: a unit that refuses every address is still a failing device (not a map of holes)', async (t) => {
  const port = await freePort();
  const peer = await startPymodbus({ tcpPort: port }, [1]);
  t.after(() => peer.stop());
  await peer.mode(1, 'exception');
  const driver = new ModbusDriver({ id: 'refuser', protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 1000, devices: [device] });
  t.after(() => driver.close());
  await driver.connect();
  await driver.subscribe(() => {});
  const health = () => driver.health().devices[0]!;
  await waitFor(() => health().state === 'demoted', 'demoted', 20_000);
  assert.equal(health().lastError?.details?.address, 0, 'the failure names the original request');
  assert.equal(health().pointFailures, undefined, 'nothing was learned from a unit that refuses everything');
  assert.equal(driver.readPlan().length, 1);
});
