/**
 * Issue 19 end to end, as a new user meets it: an OPC UA server exposing a Double[5], an Int32 2×3 matrix, a UInt64
 * beyond 2^53 and a Range structure → a real edge gateway (OPC UA driver, disk buffer, MQTT uplink) → a real platform.
 * The arrays are stored whole and read back through the API; the 64-bit counter is stored exactly (valueAs string);
 * the Range field is a value; what cannot be stored (the structure without a field, the counter bound as a number)
 * is in the gateway state the platform shows, with the reason — never dropped without a word. A server restart is an
 * outage with start, end and reason in the same state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { OpcUaChannelConfig, ThingModel } from '@iip/core';
import { createDriver } from '@iip/device-access';
import { EdgeGateway } from '@iip/edge-gateway';
import { startOpcUaServer, typeSampleNodeId } from '@iip/simulator';
import { tempDir, waitFor } from '@iip/testkit';
import { startTestPlatform } from '../../server/test/fixture.js';

const MODEL: ThingModel = {
  properties: [
    { id: 'spectrum', name: 'Spectrum', dataType: { type: 'array', items: { type: 'float' }, maxItems: 5 }, access: 'r' },
    { id: 'grid', name: 'Grid', dataType: { type: 'array', items: { type: 'int' }, dimensions: [2, 3] }, access: 'r' },
    { id: 'energy_wh', name: 'Energy counter', dataType: { type: 'string' }, access: 'r' },
    { id: 'energy_num', name: 'Energy counter (number)', dataType: { type: 'int' }, access: 'r' },
    { id: 'range_high', name: 'Range high', dataType: { type: 'float' }, access: 'r' },
    { id: 'range', name: 'Range', dataType: { type: 'float' }, access: 'r' },
  ],
  events: [],
  services: [],
};

interface PointFailureView {
  property: string;
  code: string;
  details?: Record<string, unknown>;
}
interface GatewayView {
  reported: {
    state: {
      channels: {
        state: string;
        devices: { device: string; state: string; errors: number; pointFailures?: PointFailureView[] }[];
        outages?: { start: number; end: number | null; code: string; message: string }[];
      }[];
    };
  } | null;
}

test('issue 19: arrays, a matrix, an exact 64-bit counter and a structure field reach the historian; what cannot be stored is reported with its reason; outages are kept', async (t) => {
  const tp = await startTestPlatform();
  t.after(() => tp.close());
  const dir = await tempDir('iip-issue19-gw-');
  t.after(() => dir.cleanup());
  const product = await tp.api('POST', '/api/v1/products', { id: 'ua-types', name: 'OPC UA types', model: MODEL });
  assert.equal(product.status, 201, JSON.stringify(product.body));
  const g = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  const d = await tp.api('POST', '/api/v1/devices', { id: 'cell-1', product: 'ua-types' });
  assert.equal(d.status, 201, JSON.stringify(d.body));

  const server = await startOpcUaServer({ port: 0, devices: [], paused: true, typeSamples: true });
  t.after(() => server.close());
  const channel: OpcUaChannelConfig = {
    id: 'cell-ua',
    protocol: 'opcua',
    endpointUrl: server.endpointUrl,
    securityMode: 'None',
    pkiDir: join(dir.path, 'pki'),
    publishingIntervalMs: 200,
    devices: [
      {
        id: 'cell-1',
        points: [
          { property: 'spectrum', nodeId: typeSampleNodeId('DoubleArray') },
          { property: 'grid', nodeId: typeSampleNodeId('Int32Matrix') },
          { property: 'energy_wh', nodeId: typeSampleNodeId('UInt64'), valueAs: 'string' },
          { property: 'energy_num', nodeId: typeSampleNodeId('UInt64') },
          { property: 'range_high', nodeId: typeSampleNodeId('Range'), field: 'high' },
          { property: 'range', nodeId: typeSampleNodeId('Range') },
        ],
      },
    ],
  };
  const put = await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [channel] });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  const gw = new EdgeGateway({
    platform: { mqttUrl: `mqtt://127.0.0.1:${tp.platform.mqttPort}`, tenant: 'default', gatewayId: 'gw-1', secret: g.body.secret },
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

  const latest = async () => (await tp.api<{ values: Record<string, { value: unknown }> }>('GET', '/api/v1/devices/cell-1/latest')).body.values;
  const stored = await waitFor(async () => {
    const v = await latest();
    return v.spectrum && v.grid && v.energy_wh && v.range_high ? v : undefined;
  }, 'the arrays, the counter and the Range field stored by the platform', 30_000);
  assert.deepEqual(stored.spectrum?.value, [0.5, 1.25, -2, 3.75, 10]);
  assert.deepEqual(stored.grid?.value, [1, 2, 3, 4, 5, 6]);
  assert.equal(stored.energy_wh?.value, '9007199254741207', 'every digit of the UInt64 is kept');
  assert.equal(stored.range_high?.value, 120.5);
  assert.equal(stored.energy_num, undefined, 'no rounded counter was stored');
  assert.equal(stored.range, undefined);

  const view = async () => (await tp.api<GatewayView>('GET', '/api/v1/gateways/gw-1')).body;
  const device = await waitFor(async () => {
    const dev = (await view()).reported?.state?.channels?.[0]?.devices?.find((x) => x.device === 'cell-1');
    return dev && (dev.pointFailures ?? []).length === 2 ? dev : undefined;
  }, 'both refused points, with reasons, in the gateway state on the platform', 20_000);
  const pf = new Map((device.pointFailures ?? []).map((f) => [f.property, f]));
  assert.equal(pf.get('energy_num')?.code, 'IIP_ERR_DRIVER_UNSAFE_INTEGER');
  assert.equal(pf.get('energy_num')?.details?.value, '9007199254741207');
  assert.equal(pf.get('range')?.code, 'IIP_ERR_OPCUA_VALUE_UNSUPPORTED');
  assert.deepEqual(pf.get('range')?.details?.fields, ['low', 'high']);
  assert.ok(device.errors > 0, 'health counts the refusals as errors');

  // An array read back from history, not only as the latest value.
  const hist = await tp.api<{ points: { ts: number; value: unknown }[] }>('GET', '/api/v1/devices/cell-1/properties/spectrum/history');
  assert.equal(hist.status, 200, JSON.stringify(hist.body));
  assert.ok(hist.body.points.some((r) => JSON.stringify(r.value) === '[0.5,1.25,-2,3.75,10]'), JSON.stringify(hist.body).slice(0, 400));

  // A server restart is an outage the platform can see: start, end, reason.
  const before = Date.now();
  await server.restart();
  const outage = await waitFor(async () => {
    const list = (await view()).reported?.state?.channels?.[0]?.outages ?? [];
    return list.find((o) => o.start >= before && o.end !== null);
  }, 'an ended outage after the server restart, in the gateway state', 40_000);
  assert.equal(outage.code, 'IIP_ERR_DRIVER_CONNECT');
  assert.ok((outage.end ?? 0) >= outage.start);

  // The history belongs to the channel, not to one driver: a new configuration version and a gateway restart
  // (both build new drivers) keep it.
  const v2 = await tp.api('PUT', '/api/v1/gateways/gw-1/config', { channels: [{ ...channel, publishingIntervalMs: 300 }] });
  assert.equal(v2.status, 200, JSON.stringify(v2.body));
  const kept = (o: { start: number }) => o.start === outage.start;
  await waitFor(async () => {
    const s = (await view()).reported?.state;
    return (s as { appliedVersion?: number } | undefined)?.appliedVersion === 2 && s?.channels?.[0]?.outages?.some(kept) ? true : undefined;
  }, 'the outage still listed after configuration v2', 20_000);
  await gw.stop();
  const again = new EdgeGateway({
    platform: { mqttUrl: `mqtt://127.0.0.1:${tp.platform.mqttPort}`, tenant: 'default', gatewayId: 'gw-1', secret: g.body.secret },
    dataDir: join(dir.path, 'edge'),
    driverFactory: (c) => createDriver(c),
    stateIntervalMs: 200,
    reconnectPeriodMs: 200,
  });
  t.after(() => again.stop());
  const restartedAt = Date.now();
  await again.start();
  await waitFor(async () => {
    const r = (await view()).reported;
    const ts = (r?.state as { ts?: number } | undefined)?.ts ?? 0;
    return r && ts >= restartedAt && r.state.channels?.[0]?.outages?.some(kept) ? true : undefined;
  }, 'the outage still listed after the gateway restarted', 20_000);
});
