/**
 * Issue 10, points 3 and 4, end to end: Debian's pymodbus with a sparse register map (holes, one point
 * that is itself missing) and a NaN float → a real edge gateway (Modbus driver, disk buffer, MQTT uplink)
 * → a real platform. The good points are stored; the missing point and the NaN are reported in the state
 * the platform shows at GET /api/v1/gateways/{id}. A value the platform refuses (out of the thing model's
 * range) ends in the gateway's dead-letter table — counted, visible there and through `iip edge
 * dead-letter list`, and sent again by `iip edge dead-letter retry`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModbusTcpChannelConfig } from '@iip/core';
import { createDriver } from '@iip/device-access';
import { EdgeGateway } from '@iip/edge-gateway';
import { freePort, tempDir, waitFor } from '@iip/testkit';
import { startPymodbus } from '../../device-access/test/fixtures/pymodbus-peer.js';
import { startTestPlatform } from '../../server/test/fixture.js';
import { edge } from '../src/commands/edge.js';

function f32(x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x, 0);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

interface PointFailureView {
  property: string;
  code: string;
  details?: Record<string, unknown>;
}
interface GatewayView {
  reported: {
    state: {
      channels: { devices: { device: string; state: string; pointFailures?: PointFailureView[] }[] }[];
      deadLetter: { rows: number; points: number; total: number; last: { code: string; device: string } | null };
    };
  } | null;
}

test('issue 10.3/10.4: holes and a NaN lose no good reading; a refused message is dead-lettered, visible and retried', async (t) => {
  const tp = await startTestPlatform();
  t.after(() => tp.close());
  const dir = await tempDir('iip-issue10-gw-');
  t.after(() => dir.cleanup());
  const g = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  await tp.createDevice('meter-1');

  const port = await freePort();
  const peer = await startPymodbus({ tcpPort: port }, [1]);
  t.after(() => peer.stop());
  await peer.set(1, 'holding', 0, [42]);
  await peer.set(1, 'holding', 5, [1]);
  await peer.set(1, 'holding', 10, f32(Number.NaN));
  await peer.holes(1, 'holding', [1, 2, 3, 4, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);

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
          { property: 'count', area: 'holding', address: 0, type: 'uint16' },
          { property: 'running', area: 'holding', address: 5, type: 'bool' },
          { property: 'temperature', area: 'holding', address: 10, type: 'float32' },
          { property: 'note', area: 'holding', address: 20, type: 'string', length: 4 },
        ],
      },
    ],
  };
  const put = await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [channel] });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  const dataDir = join(dir.path, 'edge');
  const gw = new EdgeGateway({
    platform: { mqttUrl: `mqtt://127.0.0.1:${tp.platform.mqttPort}`, tenant: 'default', gatewayId: 'gw-1', secret: g.body.secret },
    dataDir,
    driverFactory: (c) => createDriver(c),
    stateIntervalMs: 200,
    reconnectPeriodMs: 200,
    log: (level, msg, fields) => {
      if (process.env.DEBUG_GW && level !== 'debug') console.error(level, msg, JSON.stringify(fields));
    },
  });
  t.after(() => gw.stop());
  await gw.start();

  const latest = async () => (await tp.api<{ values: Record<string, { value: unknown }> }>('GET', '/api/v1/devices/meter-1/latest')).body.values;
  const stored = await waitFor(async () => {
    const v = await latest();
    return v.count?.value === 42 && v.running?.value === true ? v : undefined;
  }, 'the good points of meter-1 stored by the platform', 30_000);
  assert.equal(stored.temperature, undefined, 'the NaN was left out, not stored and not sent as null');

  const view = async () => (await tp.api<GatewayView>('GET', '/api/v1/gateways/gw-1')).body;
  const reported = await waitFor(async () => {
    const s = (await view()).reported?.state;
    const d = s?.channels?.[0]?.devices?.[0];
    return d && (d.pointFailures ?? []).length === 2 ? { d, s } : undefined;
  }, 'the per-point failures in the reported gateway state', 20_000);
  assert.equal(reported.d.state, 'ok', 'the device is not demoted for holes');
  const pf = new Map(reported.d.pointFailures!.map((f) => [f.property, f]));
  assert.equal(pf.get('temperature')?.code, 'IIP_ERR_DRIVER_BAD_VALUE');
  assert.equal(pf.get('temperature')?.details?.raw, 'NaN');
  assert.equal(pf.get('note')?.code, 'IIP_ERR_MODBUS_EXCEPTION');
  assert.equal(pf.get('note')?.details?.exceptionCode, 2);
  assert.equal(reported.s!.deadLetter.rows, 0);

  // 999 °C is outside the thing model (max 150): the platform refuses those messages, whole.
  await peer.set(1, 'holding', 10, f32(999));
  const dl = await waitFor(async () => {
    const s = (await view()).reported?.state;
    return s && s.deadLetter.rows >= 1 ? s.deadLetter : undefined;
  }, 'refused rows in the dead-letter table, reported to the platform', 20_000);
  assert.equal(dl.last?.code, 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
  assert.equal(dl.last?.device, 'meter-1');
  await peer.set(1, 'holding', 10, f32(20.5));
  await waitFor(async () => (await latest()).temperature?.value === 20.5, 'a good temperature stored after the refusals');
  // The gateway keeps polling every 200 ms, so the newest poll may be on its way: nothing stuck means the
  // buffer drains, not that it is empty at one instant (that raced with the next poll).
  const s = await waitFor(() => {
    const now = gw.stats();
    return now.buffer.points === 0 ? now : undefined;
  }, 'nothing stuck in the buffer', 10_000);
  assert.equal(s.deadLetter.points, s.deadLetter.total, 'every refused point is in the table');
  assert.ok(s.uplink.rejected >= 1, 'the refusal was counted');

  const yaml = join(dir.path, 'gateway.yaml');
  writeFileSync(yaml, `platform:\n  mqttUrl: mqtt://127.0.0.1:${tp.platform.mqttPort}\n  tenant: default\n  gatewayId: gw-1\n  secret: x\ndataDir: ./edge\n`);
  const lines: string[] = [];
  await edge(['dead-letter', 'list', '--config', yaml], (l) => lines.push(l));
  assert.match(lines[0]!, new RegExp(`dead letter: ${s.deadLetter.rows} rows`));
  assert.ok(lines.some((l) => l.includes('IIP_ERR_TELEMETRY_OUT_OF_RANGE') && l.includes('"temperature":999')), lines.join('\n'));

  // Retry sends them again; the platform still refuses 999 °C, so they come back, counted again.
  const before = s.deadLetter;
  await edge(['dead-letter', 'retry', '--config', yaml], (l) => lines.push(l));
  assert.match(lines.at(-1)!, new RegExp(`^${before.rows} dead-letter row`));
  await waitFor(() => gw.stats().deadLetter.total >= before.total * 2 && gw.stats().buffer.points === 0, 'the retried rows refused again');
  assert.equal(gw.stats().deadLetter.rows, before.rows);
});
