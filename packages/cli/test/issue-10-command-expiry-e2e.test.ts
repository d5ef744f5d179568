/**
 * Issue 10, points 5 and 6, end to end: Debian's pymodbus as the PLC → a real edge gateway (Modbus driver,
 * MQTT uplink, persistent session) → a real platform. A 64-bit meter reading and a 64-bit set point round-trip
 * through the whole chain; a write sent while the gateway is offline is answered "outcome unknown", is
 * queued by the broker, and when the gateway comes back it is refused as expired — the PLC register is
 * unchanged, and the audit log records what really happened.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModbusTcpChannelConfig } from '@iip/core';
import { createDriver } from '@iip/device-access';
import { EdgeGateway } from '@iip/edge-gateway';
import { freePort, tempDir, waitFor } from '@iip/testkit';
import { startPymodbus } from '../../device-access/test/fixtures/pymodbus-peer.js';
import { startTestPlatform } from '../../server/test/fixture.js';

/** The PLC side of a 64-bit integer: four registers, high word first unless `wordOrder` is LE (BigInt, not our codec). */
function words64(v: bigint, wordOrder: 'BE' | 'LE' = 'BE'): number[] {
  let u = v < 0n ? (1n << 64n) + v : v;
  const be: number[] = [];
  for (let i = 0; i < 4; i++) {
    be.unshift(Number(u & 0xffffn));
    u >>= 16n;
  }
  return wordOrder === 'LE' ? be.reverse() : be;
}

test('issue 10.5/10.6: int64 through the chain; a write sent while the gateway is offline expires and is not carried out', async (t) => {
  const tp = await startTestPlatform();
  t.after(() => tp.close());
  const dir = await tempDir('iip-issue10-expiry-');
  t.after(() => dir.cleanup());
  const product = await tp.api('POST', '/api/v1/products', {
    id: 'meter',
    name: 'Meter',
    model: {
      properties: [
        { id: 'energy', dataType: { type: 'int', min: 0 }, access: 'r' },
        { id: 'setpoint', dataType: { type: 'int' }, access: 'rw' },
      ],
      events: [],
      services: [],
    },
  });
  assert.equal(product.status, 201, JSON.stringify(product.body));
  const g = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  assert.equal((await tp.api('POST', '/api/v1/devices', { id: 'meter-1', product: 'meter' })).status, 201);

  const port = await freePort();
  const plc = await startPymodbus({ tcpPort: port }, [1]);
  t.after(() => plc.stop());
  await plc.set(1, 'holding', 0, words64(123_456_789_012_345n));

  const channel: ModbusTcpChannelConfig = {
    id: 'line-1',
    protocol: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    timeoutMs: 1000,
    devices: [
      {
        id: 'meter-1',
        unitId: 1,
        pollIntervalMs: 200,
        points: [
          { property: 'energy', area: 'holding', address: 0, type: 'uint64' },
          { property: 'setpoint', area: 'holding', address: 4, type: 'int64', wordOrder: 'LE' },
        ],
      },
    ],
  };
  const refused = await tp.api<{ code: string; details: { path: string } }>('PUT', '/api/v1/gateways/gw-1/config', {
    channels: [{ ...channel, devices: [{ ...channel.devices[0]!, points: [{ property: 'energy', area: 'holding', address: 0, type: 'int128' }] }] }],
  });
  assert.deepEqual([refused.status, refused.body.code, refused.body.details.path], [400, 'IIP_ERR_GATEWAY_CONFIG_INVALID', 'channels[0].devices[0].points[0].type']);
  const put = await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [channel] });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  const logs: string[] = [];
  const makeGateway = () =>
    new EdgeGateway({
      platform: { mqttUrl: `mqtt://127.0.0.1:${tp.platform.mqttPort}`, tenant: 'default', gatewayId: 'gw-1', secret: g.body.secret },
      dataDir: dir.path,
      driverFactory: (c) => createDriver(c),
      reconnectPeriodMs: 200,
      stateIntervalMs: 300,
      log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
    });
  let gw = makeGateway();
  t.after(() => gw.stop());
  await gw.start();
  await waitFor(async () => (await tp.api<{ inSync: boolean }>('GET', '/api/v1/gateways/gw-1')).body.inSync, 'the gateway in sync', 15_000);

  // 64-bit values both ways, checked on the PLC's own registers.
  await waitFor(async () => {
    const l = await tp.api<{ values: Record<string, { value: number }> }>('GET', '/api/v1/devices/meter-1/latest');
    return l.body.values.energy?.value === 123_456_789_012_345;
  }, 'the uint64 reading stored', 15_000);
  const done = await tp.api<{ outcome: string }>('POST', '/api/v1/devices/meter-1/properties/setpoint/write', { value: -9_007_199_254_740_991 });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal(done.body.outcome, 'done');
  assert.deepEqual(await plc.get(1, 'holding', 4, 4), words64(-9_007_199_254_740_991n, 'LE'));

  // The gateway goes away; its session (clean session off) stays on the broker and queues the command.
  await gw.stop();
  await waitFor(async () => !(await tp.api<{ online: boolean }>('GET', '/api/v1/gateways/gw-1')).body.online, 'the gateway offline');
  type Refusal = { code: string; message: string; details: { outcome: string; requestId: string; sent: boolean; gatewayOnline: boolean } };
  const offline = await tp.api<Refusal>('POST', '/api/v1/devices/meter-1/properties/setpoint/write', { value: 77, timeoutMs: 800 });
  assert.equal(offline.status, 504, JSON.stringify(offline.body));
  assert.deepEqual([offline.body.code, offline.body.details.outcome, offline.body.details.gatewayOnline], ['IIP_ERR_COMMAND_TIMEOUT', 'unknown', false]);
  assert.match(offline.body.message, /may or may not have been carried out/);

  // Back online: the broker delivers the queued command, the gateway refuses it as expired.
  gw = makeGateway();
  await gw.start();
  type Entry = { action: string; newValue: unknown; result: string; error: string | null };
  const audit = await waitFor(async () => {
    const a = await tp.api<{ items: Entry[] }>('GET', '/api/v1/audit?device=meter-1');
    return a.body.items.some((e) => e.action === 'write.late-result') ? a.body.items : undefined;
  }, 'the gateway’s late answer in the audit log', 15_000);
  assert.deepEqual(
    audit.filter((e) => e.action.startsWith('write')).map((e) => [e.action, e.newValue, e.result, e.error]),
    [
      ['write.late-result', 77, 'error', 'IIP_ERR_COMMAND_EXPIRED'],
      ['write', 77, 'error', 'IIP_ERR_COMMAND_TIMEOUT'],
      ['write', -9_007_199_254_740_991, 'ok', null],
    ],
  );
  assert.ok(logs.some((l) => l.includes('IIP_ERR_EDGE_COMMAND_EXPIRED')), 'the gateway logged the refusal');
  assert.deepEqual(await plc.get(1, 'holding', 4, 4), words64(-9_007_199_254_740_991n, 'LE'), 'the PLC register was not written');

  // And the gateway carries out a fresh write as usual.
  const again = await tp.api<{ outcome: string }>('POST', '/api/v1/devices/meter-1/properties/setpoint/write', { value: 77 });
  assert.equal(again.body.outcome, 'done', JSON.stringify(again.body));
  assert.deepEqual(await plc.get(1, 'holding', 4, 4), words64(77n, 'LE'));
});
