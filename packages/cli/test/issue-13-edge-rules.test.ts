/**
 * Issue 13, point 4, end to end: the same rule format runs at the edge. A rule saved with `runAt: "edge"` is pushed
 * to the edge gateway of the device it covers; the gateway (Modbus driver on Debian's pymodbus, disk buffer, MQTT
 * uplink through a TCP relay this test can cut) evaluates it on its readings — while the uplink is down too — and
 * its raise and clear reach the platform afterwards, which opens and clears the alarm exactly once. The platform's
 * own engine leaves the rule to the gateway.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModbusTcpChannelConfig } from '@iip/core';
import { createDriver } from '@iip/device-access';
import { EdgeGateway } from '@iip/edge-gateway';
import { freePort, tempDir, waitFor } from '@iip/testkit';
import { startPymodbus } from '../../device-access/test/fixtures/pymodbus-peer.js';
import { startTestPlatform } from '../../server/test/fixture.js';

function f32(x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x, 0);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

/** A TCP relay to the platform's MQTT port that the test can cut (every connection closed, new ones refused) and mend. */
async function relay(target: number): Promise<{ port: number; cut(): Promise<void>; mend(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const up = connect(target, '127.0.0.1');
        sockets.add(client).add(up);
        client.pipe(up).pipe(client);
        const end = () => {
          client.destroy();
          up.destroy();
        };
        client.on('error', end).on('close', end);
        up.on('error', end).on('close', end);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await open();
  return { port, cut: shut, mend: open, close: shut };
}

type Alarm = { id: string; rule: string; device: string; isaState: string; active: boolean; raisedAt: number };

test('an edge rule runs on the gateway, offline too; its raise and clear open and clear one alarm in the platform', async (t) => {
  const tp = await startTestPlatform();
  t.after(() => tp.close());
  const dir = await tempDir('iip-issue13-edge-');
  t.after(() => dir.cleanup());
  const g = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  await tp.createDevice('meter-1');

  const port = await freePort();
  const peer = await startPymodbus({ tcpPort: port }, [1]);
  t.after(() => peer.stop());
  await peer.set(1, 'holding', 10, f32(20));
  const channel: ModbusTcpChannelConfig = {
    id: 'line-1',
    protocol: 'modbus-tcp',
    host: '127.0.0.1',
    port,
    timeoutMs: 1000,
    devices: [{ id: 'meter-1', unitId: 1, pollIntervalMs: 200, points: [{ property: 'temperature', area: 'holding', address: 10, type: 'float32' }] }],
  };
  assert.equal((await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [channel] })).status, 200);
  const rule = await tp.api('POST', '/api/v1/rules', {
    id: 'edge-hot',
    name: 'Meter hot at the edge / 边缘过热',
    runAt: 'edge',
    scope: { product: 'sensor', devices: ['meter-1'] },
    when: { threshold: { property: 'temperature', op: '>', value: 80, deadband: 5 }, count: 2 },
    alarm: { severity: 'high', message: 'Meter above 80 °C (edge)' },
  });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));

  const link = await relay(tp.platform.mqttPort);
  t.after(() => link.close());
  const gw = new EdgeGateway({
    platform: { mqttUrl: `mqtt://127.0.0.1:${link.port}`, tenant: 'default', gatewayId: 'gw-1', secret: g.body.secret },
    dataDir: join(dir.path, 'edge'),
    driverFactory: (c) => createDriver(c),
    stateIntervalMs: 200,
    reconnectPeriodMs: 200,
    log: (level, msg, fields) => {
      if (process.env.DEBUG_GW && level !== 'debug') console.error(level, msg, JSON.stringify(fields));
    },
  });
  t.after(() => gw.stop());
  await gw.start();
  await waitFor(() => (gw.stats().rules.pushed === 1 ? true : undefined), 'the edge rule pushed to the gateway', 20_000);
  await waitFor(async () => (await tp.api<{ values: Record<string, { value: number }> }>('GET', '/api/v1/devices/meter-1/latest')).body.values.temperature?.value === 20, 'readings flowing');

  // The uplink goes down; the meter overheats: the gateway raises the rule itself.
  await link.cut();
  await waitFor(() => (gw.stats().uplink.connected ? undefined : true), 'the gateway to notice the uplink is down');
  await peer.set(1, 'holding', 10, f32(95));
  await waitFor(() => (gw.stats().rules.fired >= 1 ? true : undefined), 'the rule raised at the edge, offline', 10_000);
  const raisedOfflineAt = Date.now();
  const alarms = async () => (await tp.api<{ items: Alarm[] }>('GET', '/api/v1/alarms?rule=edge-hot')).body.items;
  assert.deepEqual(await alarms(), [], 'nothing reached the platform yet');

  // The uplink is back: the buffered raise arrives and opens the alarm.
  await link.mend();
  const raised = await waitFor(async () => (await alarms())[0], 'the alarm opened from the edge', 20_000);
  assert.deepEqual([raised.device, raised.isaState, raised.active], ['meter-1', 'unacked', true]);
  assert.ok(raised.raisedAt >= raisedOfflineAt - 1_000, 'opened when the message arrived');

  // Cooled down (past the deadband): the clear comes from the edge as well; still one alarm.
  await peer.set(1, 'holding', 10, f32(70));
  const cleared = await waitFor(async () => {
    const a = (await alarms())[0];
    return a && !a.active ? a : undefined;
  }, 'the alarm cleared from the edge', 20_000);
  assert.equal(cleared.isaState, 'rtn-unacked');
  assert.equal((await alarms()).length, 1, 'the platform did not evaluate the rule itself');

  // The rule is moved back to the platform: the gateway's list is emptied.
  const current = await tp.api<{ version: number }>('GET', '/api/v1/rules/edge-hot');
  const put = await tp.api('PUT', '/api/v1/rules/edge-hot', { id: 'edge-hot', runAt: 'platform', scope: { product: 'sensor', devices: ['meter-1'] }, when: { threshold: { property: 'temperature', op: '>', value: 80 } }, version: current.body.version });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  await waitFor(() => (gw.stats().rules.pushed === 0 ? true : undefined), 'the gateway to drop the rule', 20_000);
});
