/**
 * Issue 20, point 4: a device that publishes faster than storage commits is slowed by flow control, not queued
 * for without limit. The chain under test, all real: an mqtt.js device → the MQTT front door (MqttAccess) →
 * TelemetryAdmission → the Historian → the SQLite telemetry store. The store's commits are held back by a gate
 * in front of it (a disk that has stalled): the historian's queue fills to maxQueuedPoints, its ingest waits,
 * the front door's answers wait, and at maxPendingPerConnection it stops reading the device's socket — what
 * the device keeps sending stays on its side. Once the gate opens, everything is stored and acknowledged.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { InProcessBus } from '@iip/bus';
import { DEFAULT_INGEST_LIMITS, type ThingModel, TelemetryValidator } from '@iip/core';
import { type DeviceEntry, MqttAccess, TelemetryAdmission } from '@iip/device-access';
import { Historian } from '@iip/historian';
import { type TelemetryStore, openStorage } from '@iip/storage';
import { tempDir, waitFor } from '@iip/testkit';
import mqtt from 'mqtt';

const MODEL: ThingModel = {
  properties: Array.from({ length: 6 }, (_, i) => ({ id: `v${i}`, dataType: { type: 'float' as const }, access: 'r' as const })),
  events: [],
  services: [],
};

test('a device publishing faster than storage commits is paused by flow control: the historian and the front door hold their bounds', async () => {
  const dir = await tempDir('iip-issue-20-bp-');
  const storage = await openStorage(join(dir.path, 'iip.db'));
  let open = false;
  let release: () => void = () => undefined;
  const opened = new Promise<void>((r) => {
    release = () => {
      open = true;
      r();
    };
  });
  // The real store, whose commits wait while the gate is shut.
  const store = storage.telemetry;
  const gated: TelemetryStore = new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'write') return async (rows: Parameters<TelemetryStore['write']>[0]) => (open ? target.write(rows) : opened.then(() => target.write(rows)));
      const v = Reflect.get(target, key, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const historian = new Historian(gated, { maxBatchPoints: 600, maxQueuedPoints: 1200 });
  const entry: DeviceEntry = { verifySecret: (s) => s === 'secret', validator: new TelemetryValidator(MODEL) };
  const directory = { lookup: () => entry };
  const bus = new InProcessBus();
  const admission = new TelemetryAdmission(directory, bus, DEFAULT_INGEST_LIMITS, Date.now, historian);
  const access = new MqttAccess({ directory, admission, defaultTenant: 'default', host: '127.0.0.1', port: 0, limits: { maxPendingPerConnection: 50 } });
  const port = await access.listen();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: 'default/fast', username: 'default/fast', password: 'secret', reconnectPeriod: 0 });
  try {
    const total = 3000;
    let acked = 0;
    const t0 = Date.now() - 3_600_000;
    const sent = Array.from({ length: total }, (_, i) =>
      client.publishAsync('iip/default/fast/telemetry', JSON.stringify({ ts: t0 + i, values: { v0: i, v1: 1, v2: 2, v3: 3, v4: 4, v5: 5 } }), { qos: 1 }).then(() => void acked++),
    );
    // The gate is shut: the historian fills to its bound, then the front door stops reading.
    await waitFor(() => access.queueDepths()?.pausedConnections === 1, 'the device’s connection to be paused');
    await new Promise((r) => setTimeout(r, 500));
    const queued = historian.stats().queued;
    const depths = access.queueDepths();
    assert.ok(queued <= 1200 + 6, `points in the historian's queue: ${queued}`);
    // Reading pauses at 50 unanswered; the packets of the read that crossed it are handled too (one read is at
    // most 64 KiB: here about 600 of these ~100-byte PUBLISHes).
    assert.ok(depths && depths.inboundPending <= 50 + 700, `PUBLISHes read and not answered: ${JSON.stringify(depths)}`);
    assert.equal(depths?.pausedConnections, 1);
    const read = access.stats().publishesReceived;
    assert.ok(read < total / 2, `the front door read ${read} of ${total} messages while nothing could be committed`);
    assert.equal(acked, 0, 'nothing acknowledged before it is committed');
    // The disk comes back: everything is stored and acknowledged, in the end.
    release();
    await Promise.all(sent);
    assert.equal(acked, total);
    await waitFor(() => historian.stats().written === total * 6, 'every point to be written');
  } finally {
    release();
    await client.endAsync(true);
    await access.close();
    await historian.close?.();
    await bus.close();
    await storage.close();
    await dir.cleanup();
  }
});
