import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TelemetryValidator } from '@iip/core';
import { factoryProducts, runLoad } from '@iip/simulator';
import { waitFor } from '@iip/testkit';
import { type RecordedPublish, startBroker } from './broker-fixture.js';

const TENANT = 'bench';
const DEVICES = ['meter-01', 'meter-02', 'meter-03'].map((id) => ({ id, secret: `pw-${id}` }));
const SECRETS = new Map(DEVICES.map((d) => [`${TENANT}/${d.id}`, d.secret]));
const METER = factoryProducts().find((p) => p.id === 'energy-meter')!;
const PROPS = ['voltage', 'current', 'active_power', 'power_factor', 'frequency'];

/** Checks every message against the meter model and returns the points per device. */
function pointsByDevice(msgs: readonly RecordedPublish[]): Map<string, { property: string; ts: number }[]> {
  const validator = new TelemetryValidator(METER.model);
  const out = new Map<string, { property: string; ts: number }[]>();
  for (const m of msgs) {
    const device = m.topic.split('/')[2]!;
    assert.equal(m.topic, `iip/${TENANT}/${device}/telemetry`);
    assert.equal(m.clientId, `${TENANT}/${device}`);
    const list = out.get(device) ?? [];
    list.push(...validator.parse(m.payload, Date.now()));
    out.set(device, list);
  }
  return out;
}

for (const [qos, pointsPerMessage] of [
  [1, 10],
  [0, 3],
] as const) {
  test(`runLoad (QoS ${qos}, ${pointsPerMessage} points/message) delivers exactly totalMessages with unique timestamps`, async (t) => {
    const broker = await startBroker(SECRETS);
    t.after(() => broker.close());
    const progress: number[] = [];
    const totalMessages = 301;
    const result = await runLoad({
      mqttUrl: broker.url,
      tenant: TENANT,
      devices: DEVICES,
      pointsPerMessage,
      totalMessages,
      maxInFlight: 16,
      qos,
      propertyIds: PROPS,
      model: METER.model,
      onProgress: (n) => progress.push(n),
    });
    assert.equal(result.messages, totalMessages);
    assert.equal(result.points, totalMessages * pointsPerMessage);
    assert.ok(result.elapsedMs >= 0);
    assert.equal(progress.at(-1), totalMessages);

    await waitFor(() => broker.published.length >= totalMessages, 'all messages at the broker');
    assert.equal(broker.published.length, totalMessages);
    const byDevice = pointsByDevice(broker.published);
    assert.deepEqual([...byDevice.keys()].sort(), DEVICES.map((d) => d.id));
    let points = 0;
    for (const [device, list] of byDevice) {
      points += list.length;
      const keys = new Set(list.map((p) => `${p.property}@${p.ts}`));
      assert.equal(keys.size, list.length, `${device}: no two points share property and timestamp`);
    }
    assert.equal(points, totalMessages * pointsPerMessage);
    for (const m of broker.published) {
      const points = new TelemetryValidator(METER.model).parse(m.payload, Date.now());
      assert.equal(points.length, pointsPerMessage);
    }
  });
}

test('runLoad paced by ratePerSec runs until aborted and reports what it sent', async (t) => {
  const broker = await startBroker(SECRETS);
  t.after(() => broker.close());
  const ac = new AbortController();
  const run = runLoad({
    mqttUrl: broker.url,
    tenant: TENANT,
    devices: DEVICES,
    pointsPerMessage: 5,
    totalMessages: Number.POSITIVE_INFINITY,
    ratePerSec: 200,
    propertyIds: PROPS,
    model: METER.model,
    signal: ac.signal,
  });
  await waitFor(() => broker.published.length >= 20, 'some paced messages');
  ac.abort();
  const result = await run;
  assert.ok(result.messages >= 20);
  await waitFor(() => broker.published.length >= result.messages, 'broker saw every acknowledged message');
  assert.equal(broker.published.length, result.messages);
  const byDevice = pointsByDevice(broker.published);
  for (const list of byDevice.values()) {
    const ts = [...new Set(list.map((p) => p.ts))];
    assert.ok(ts.every((v, i) => i === 0 || v > ts[i - 1]!), 'timestamps strictly increase per device');
    assert.ok(ts.at(-1)! <= Date.now(), 'an unbounded run follows the wall clock');
  }
});

test('runLoad refuses a bad secret and bad options with coded errors', async (t) => {
  const broker = await startBroker(SECRETS);
  t.after(() => broker.close());
  const base = { mqttUrl: broker.url, tenant: TENANT, devices: DEVICES, pointsPerMessage: 1, totalMessages: 1, propertyIds: PROPS };
  await assert.rejects(runLoad({ ...base, devices: [{ id: 'meter-01', secret: 'nope' }] }), { code: 'IIP_ERR_SIM_CONNECT_REFUSED' });
  await assert.rejects(runLoad({ ...base, pointsPerMessage: 0 }), { code: 'IIP_ERR_SIM_BAD_OPTION' });
  await assert.rejects(runLoad({ ...base, totalMessages: Number.POSITIVE_INFINITY }), { code: 'IIP_ERR_SIM_BAD_OPTION' });
  await assert.rejects(runLoad({ ...base, propertyIds: ['voltage', 'nope'], model: METER.model }), { code: 'IIP_ERR_SIM_BAD_OPTION' });
  await waitFor(() => broker.broker.connectedClients === 0, 'no connection left open');
});
