import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TelemetryValidator } from '@iip/core';
import { factoryDevicePlan, factoryProducts, VirtualFactory } from '@iip/simulator';
import { waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { startBroker } from './broker-fixture.js';

const TENANT = 'acme';

function devicesFor(count: number): { id: string; product: string; secret: string }[] {
  return factoryDevicePlan(count).map((d) => ({ id: d.id, product: d.product, secret: `s3cret-${d.id}` }));
}

function secretsOf(devices: readonly { id: string; secret: string }[]): Map<string, string> {
  return new Map(devices.map((d) => [`${TENANT}/${d.id}`, d.secret]));
}

test('the virtual factory connects every device and publishes valid telemetry to its own topic', async (t) => {
  const devices = devicesFor(8);
  const broker = await startBroker(secretsOf(devices));
  t.after(() => broker.close());
  const lines: string[] = [];
  const factory = new VirtualFactory({ mqttUrl: broker.url, tenant: TENANT, devices, intervalMs: 50, seed: 3, log: (l) => lines.push(l) });
  t.after(() => factory.stop());
  await factory.start();
  assert.equal(factory.stats().connected, devices.length);

  const telemetry = (id: string) => broker.published.filter((p) => p.topic === `iip/${TENANT}/${id}/telemetry`);
  await waitFor(() => devices.every((d) => telemetry(d.id).length >= 3), 'three messages from every device');

  const models = new Map(factoryProducts().map((p) => [p.id, new TelemetryValidator(p.model)]));
  for (const d of devices) {
    const validator = models.get(d.product)!;
    const msgs = telemetry(d.id);
    let lastTs = 0;
    for (const m of msgs) {
      assert.equal(m.clientId, `${TENANT}/${d.id}`, 'published over the device’s own connection');
      const points = validator.parse(m.payload, Date.now());
      const ts = points[0]!.ts;
      assert.ok(ts > lastTs, 'timestamps increase per device');
      lastTs = ts;
    }
  }
  assert.ok(
    broker.published.every((p) => /^iip\/acme\/[a-z]+-\d+\/telemetry$/.test(p.topic)),
    'nothing is published outside the devices’ telemetry topics',
  );
  assert.ok(factory.stats().published >= devices.length * 3);
  assert.ok(lines.some((l) => l.includes('8 devices connected')));

  await factory.stop();
  await waitFor(() => broker.broker.connectedClients === 0, 'clients disconnected after stop()');
  assert.equal(factory.stats().connected, 0);
});

test('a device with a wrong secret is refused with a clear error naming it and the CONNACK reason', async (t) => {
  const devices = devicesFor(4);
  const broker = await startBroker(secretsOf(devices));
  t.after(() => broker.close());
  const wrong = devices.map((d) => (d.id === 'moulding-01' ? { ...d, secret: 'wrong' } : d));
  const factory = new VirtualFactory({ mqttUrl: broker.url, tenant: TENANT, devices: wrong, intervalMs: 50 });
  t.after(() => factory.stop());
  await assert.rejects(factory.start(), (e: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(e.code, 'IIP_ERR_SIM_CONNECT_REFUSED');
    assert.match(e.message, /moulding-01/);
    assert.match(e.message, /Bad username or password/i);
    assert.equal(e.details?.reasonCode, 4);
    return true;
  });
  await waitFor(() => broker.broker.connectedClients === 0, 'the devices that did connect are closed again');
});

test('an unreachable broker is reported with the URL and the device', async () => {
  const factory = new VirtualFactory({
    mqttUrl: 'mqtt://127.0.0.1:1',
    tenant: TENANT,
    devices: devicesFor(1),
  });
  await assert.rejects(factory.start(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'IIP_ERR_SIM_CONNECT_FAILED');
    assert.match(e.message, /cnc-01/);
    assert.match(e.message, /127\.0\.0\.1:1/);
    return true;
  });
});

test('error reports on a device’s errors topic are counted, and injected faults show up', async (t) => {
  const devices = devicesFor(4);
  const broker = await startBroker(secretsOf(devices));
  t.after(() => broker.close());
  const factory = new VirtualFactory({ mqttUrl: broker.url, tenant: TENANT, devices, intervalMs: 50, seed: 11 });
  t.after(() => factory.stop());
  await factory.start();

  // the platform side: a separate client reports a rejected message to the device
  const platform = await mqtt.connectAsync(broker.url, { username: `${TENANT}/meter-01`, password: 's3cret-meter-01' });
  t.after(() => platform.endAsync());
  const report = { code: 'IIP_ERR_TELEMETRY_OUT_OF_RANGE', message: 'property "voltage": 900 V is outside [0, 480] V', details: {} };
  await platform.publishAsync(`iip/${TENANT}/cnc-01/errors`, JSON.stringify(report), { qos: 1 });
  await waitFor(() => factory.stats().errors === 1, 'the error report is counted');
  assert.match(factory.stats().lastError ?? '', /^cnc-01: IIP_ERR_TELEMETRY_OUT_OF_RANGE/);

  const before = broker.published.length;
  factory.injectFault('compressor-01');
  const faulted = await waitFor(
    () =>
      broker.published
        .slice(before)
        .filter((p) => p.topic === `iip/${TENANT}/compressor-01/telemetry`)
        .map((p) => JSON.parse(p.payload) as { values: { state: string; running: boolean } })
        .find((m) => m.values.state === 'fault'),
    'a fault state from compressor-01',
  );
  assert.equal(faulted.values.running, false);
  assert.throws(() => factory.injectFault('nope-99'), { code: 'IIP_ERR_SIM_UNKNOWN_DEVICE' });
});

test('a device naming an unknown product is refused before anything connects', () => {
  assert.throws(
    () => new VirtualFactory({ mqttUrl: 'mqtt://127.0.0.1:1', tenant: TENANT, devices: [{ id: 'x-01', product: 'toaster', secret: 's' }] }),
    { code: 'IIP_ERR_SIM_UNKNOWN_PRODUCT' },
  );
});

test('stop() during start() leaves nothing connected', async (t) => {
  const devices = devicesFor(6);
  const broker = await startBroker(secretsOf(devices));
  t.after(() => broker.close());
  const factory = new VirtualFactory({ mqttUrl: broker.url, tenant: TENANT, devices, intervalMs: 50, connectConcurrency: 2 });
  const starting = factory.start();
  await factory.stop();
  await starting;
  await waitFor(() => broker.broker.connectedClients === 0, 'no client left connected');
  assert.equal(factory.stats().connected, 0);
});
