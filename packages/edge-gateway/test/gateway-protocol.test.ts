/**
 * The gateway ↔ platform protocol against a real broker: buffer bounds (oldest dropped and counted), edge
 * rules firing offline, configuration pushed as a retained message (and persisted for an offline restart),
 * write commands with results, rejections on `.../errors`, and state reports. SyntheticDrivers stand in
 * for PLCs so these tests measure the gateway, not a protocol.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VersionedGatewayConfig } from '@iip/core';
import { IipError } from '@iip/core';
import { tempDir, waitFor } from '@iip/testkit';
import { makeGateway } from './fixtures/harness.js';
import { syntheticChannel } from './fixtures/synthetic-driver.js';
import { TestPlatform } from './fixtures/test-platform.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{ platform: TestPlatform; dataDir: string }> {
  const platform = await TestPlatform.start();
  const dir = await tempDir('iip-edge-protocol-');
  t.after(async () => {
    await platform.close();
    await dir.cleanup();
  });
  return { platform, dataDir: dir.path };
}

const tick = () => new Promise((r) => setImmediate(r));
/** Every command carries its absolute expiry (issue 10); these are due well within the test. */
const soon = () => Date.now() + 60_000;

test('over maxBytes the oldest rows are dropped, counted and logged; the newest arrive', async (t) => {
  const { platform, dataDir } = await setup(t);
  platform.cut();
  const maxBytes = 100_000;
  const h = makeGateway(platform, dataDir, { version: 1, config: { channels: [syntheticChannel('c1', ['m1', 'm2'])] } }, { buffer: { maxBytes } });
  t.after(() => h.gw.stop());
  await h.gw.start();
  const drv = h.driver('c1');
  await waitFor(() => drv.readPlan().length > 0 && h.gw.stats().channels.length === 1, 'the channel to run');
  await tick();
  for (let i = 0; i < 20; i++) {
    drv.emitRecords(100);
    await tick();
  }
  await waitFor(() => h.gw.stats().collectedPoints === drv.emitted, 'all readings committed');
  const s = h.gw.stats().buffer;
  assert.ok(s.dropped > 0, 'something was dropped');
  assert.ok(s.bytes <= maxBytes, `buffer ${s.bytes} bytes is within ${maxBytes}`);
  assert.equal(s.dropped + s.points, drv.emitted, 'dropped + buffered = collected');
  assert.ok(h.logs.some((l) => l.level === 'warn' && l.msg.includes('dropped')), 'a warning was logged');

  platform.restore();
  await waitFor(() => h.gw.stats().buffer.points === 0 && platform.points.length === s.points, 'the rest to drain');
  // What arrived is the newest part of every series: a gap-free run that ends at the last reading.
  const bySeries = new Map<string, number[]>();
  for (const p of platform.points) bySeries.set(`${p.device}|${p.property}`, [...(bySeries.get(`${p.device}|${p.property}`) ?? []), p.ts]);
  assert.equal(bySeries.size, 20);
  for (const [k, ts] of bySeries) {
    assert.equal(ts.length, ts.at(-1)! - ts[0]! + 1, `${k} has no gaps`);
    assert.equal(ts.at(-1), drv.lastTs(k.split('|')[0]!), `${k} ends at the newest reading`);
  }
  assert.equal(h.gw.stats().buffer.dropped, s.dropped, 'the dropped counter is kept');
});

test('edge rules fire while offline (on transitions only) and their events arrive after reconnect', async (t) => {
  const { platform, dataDir } = await setup(t);
  const config: VersionedGatewayConfig = {
    version: 1,
    config: {
      channels: [syntheticChannel('c1', ['boiler'])],
      rules: [{ id: 'overheat', device: 'boiler', property: 'p0', op: '>', threshold: 100, severity: 'alert', message: 'boiler too hot' }],
    },
  };
  const h = makeGateway(platform, dataDir, config);
  t.after(() => h.gw.stop());
  await h.gw.start();
  await waitFor(() => h.gw.stats().uplink.connected, 'connected');
  platform.cut();
  await waitFor(() => !h.gw.stats().uplink.connected, 'offline');
  const drv = h.driver('c1');
  for (const v of [50, 150, 160, 20, 120]) {
    drv.push('boiler', 'p0', v);
    await tick();
  }
  await waitFor(() => h.gw.stats().collectedPoints === 5, 'readings committed');
  assert.equal(h.gw.stats().rules.fired, 2, 'fired on 50→150 and on 20→120, not on 160');
  assert.equal(h.logs.filter((l) => l.msg === 'edge rule fired').length, 2);
  assert.equal(platform.events.length, 0);

  platform.restore();
  await waitFor(() => platform.events.length === 2 && platform.points.length === 5, 'events and telemetry after reconnect', 15_000);
  const [a, b] = platform.events;
  assert.equal(a!.device, 'boiler');
  assert.deepEqual({ ...a!.body, ts: 0 }, { ts: 0, event: 'threshold', rule: 'overheat', severity: 'alert', property: 'p0', value: 150, message: 'boiler too hot' });
  assert.equal(b!.body.value, 120);
  assert.equal(typeof a!.body.ts, 'number');
});

test('a pushed retained config switches drivers, is reported, and survives an offline restart', async (t) => {
  const { platform, dataDir } = await setup(t);
  const v1: VersionedGatewayConfig = { version: 1, config: { channels: [syntheticChannel('old', ['d1'])] } };
  const v2: VersionedGatewayConfig = { version: 2, config: { channels: [syntheticChannel('new', ['d2', 'd3'])] } };
  const h = makeGateway(platform, dataDir, v1, { stateIntervalMs: 200 });
  await h.gw.start();
  await waitFor(() => platform.states.some((s) => s.appliedVersion === 1), 'state with version 1');

  await platform.publish('config', v2, true);
  await waitFor(() => platform.states.some((s) => s.appliedVersion === 2), 'state with version 2');
  assert.equal(h.driver('old').closed, true, 'the old driver was closed');
  assert.equal(h.driver('new').closed, false);
  assert.deepEqual(
    h.gw.stats().channels.map((c) => c.channel),
    ['new'],
  );
  const state = platform.states.findLast((s) => s.appliedVersion === 2)!;
  assert.deepEqual(Object.keys(state).sort(), ['appliedVersion', 'badValues', 'buffer', 'channels', 'deadLetter', 'rules', 'ts', 'uplink']);
  assert.deepEqual(Object.keys(state.buffer as object).sort(), ['bytes', 'dropped', 'oldestTs', 'points']);
  assert.equal((state.uplink as { connected: boolean }).connected, true);

  // An older version (a replayed message) changes nothing.
  assert.equal(await h.gw.applyConfig(v1), false);
  assert.equal(h.gw.stats().appliedVersion, 2);
  await h.gw.stop();

  // Restart while offline with the initial v1 from gateway.yaml: the persisted v2 wins.
  platform.cut();
  const again = makeGateway(platform, dataDir, v1);
  t.after(() => again.gw.stop());
  await again.gw.start();
  assert.equal(again.gw.stats().appliedVersion, 2);
  assert.deepEqual(
    again.drivers.map((d) => d.channel),
    ['new'],
  );
});

test('write commands reach driver.write and their results come back; rejections are counted', async (t) => {
  const { platform, dataDir } = await setup(t);
  const h = makeGateway(platform, dataDir, { version: 1, config: { channels: [syntheticChannel('c1', ['valve'])] } });
  t.after(() => h.gw.stop());
  await h.gw.start();
  await waitFor(() => h.gw.stats().uplink.connected, 'connected');
  await waitFor(() => platform.states.length > 0, 'first state (subscriptions are in place once it is sent)');
  const drv = h.driver('c1');

  await platform.publish('commands/req-1', { type: 'write', expiresAt: soon(), device: 'valve', property: 'p3', value: 42 });
  await waitFor(() => platform.commandResults.get('req-1'), 'result of req-1');
  assert.deepEqual(platform.commandResults.get('req-1'), { ok: true });
  assert.deepEqual(drv.writes, [{ device: 'valve', property: 'p3', value: 42 }]);

  await platform.publish('commands/req-2', { type: 'write', expiresAt: soon(), device: 'nowhere', property: 'p3', value: 1 });
  await waitFor(() => platform.commandResults.get('req-2'), 'result of req-2');
  assert.equal((platform.commandResults.get('req-2')!.error as { code: string }).code, 'IIP_ERR_EDGE_DEVICE_UNKNOWN');

  drv.writeError = new IipError('IIP_ERR_MODBUS_EXCEPTION', 'illegal data address', { exceptionCode: 2 });
  await platform.publish('commands/req-3', { type: 'write', expiresAt: soon(), device: 'valve', property: 'p3', value: 7 });
  await waitFor(() => platform.commandResults.get('req-3'), 'result of req-3');
  assert.deepEqual(platform.commandResults.get('req-3'), {
    ok: false,
    error: { code: 'IIP_ERR_MODBUS_EXCEPTION', message: 'illegal data address', details: { exceptionCode: 2 } },
  });

  await platform.publish('commands/req-4', { type: 'reboot' });
  await waitFor(() => platform.commandResults.get('req-4'), 'result of req-4');
  assert.equal((platform.commandResults.get('req-4')!.error as { code: string }).code, 'IIP_ERR_EDGE_COMMAND_INVALID');

  await platform.publish('errors', { code: 'IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', message: 'no property p9', details: { device: 'valve', property: 'p9' } });
  await waitFor(() => h.gw.stats().uplink.rejected === 1, 'the rejection to be counted');
  assert.ok(h.logs.some((l) => l.msg === 'platform rejected a message'));
});

test('a service command carries out its writes in order and stops at the first failure, naming the step', async (t) => {
  const { platform, dataDir } = await setup(t);
  const h = makeGateway(platform, dataDir, { version: 1, config: { channels: [syntheticChannel('c1', ['pump'])] } });
  t.after(() => h.gw.stop());
  await h.gw.start();
  await waitFor(() => h.gw.stats().uplink.connected, 'connected');
  await waitFor(() => platform.states.length > 0, 'first state');
  const drv = h.driver('c1');

  await platform.publish('commands/svc-1', { type: 'writes', expiresAt: soon(), device: 'pump', service: 'start', writes: [{ property: 'p2', value: 1500 }, { property: 'p1', value: true }] });
  await waitFor(() => platform.commandResults.get('svc-1'), 'result of svc-1');
  assert.deepEqual(platform.commandResults.get('svc-1'), { ok: true });
  assert.deepEqual(drv.writes, [
    { device: 'pump', property: 'p2', value: 1500 },
    { device: 'pump', property: 'p1', value: true },
  ]);

  // The second write names a point the device does not have: the first is done, the third never starts.
  await platform.publish('commands/svc-2', { type: 'writes', expiresAt: soon(), device: 'pump', service: 'start', writes: [{ property: 'p2', value: 10 }, { property: 'p99', value: 1 }, { property: 'p1', value: false }] });
  await waitFor(() => platform.commandResults.get('svc-2'), 'result of svc-2');
  const err = (platform.commandResults.get('svc-2') as { ok: false; error: { code: string; message: string; details: Record<string, unknown> } }).error;
  assert.equal(err.code, 'IIP_ERR_DRIVER_UNKNOWN_POINT');
  assert.match(err.message, /^step 2 of 3 \(p99 ← 1\) failed/);
  assert.deepEqual([err.details.step, err.details.done, err.details.property, err.details.service], [1, 1, 'p99', 'start']);
  assert.deepEqual(drv.writes.slice(2), [{ device: 'pump', property: 'p2', value: 10 }]);

  await platform.publish('commands/svc-3', { type: 'writes', expiresAt: soon(), device: 'pump', writes: [] });
  await waitFor(() => platform.commandResults.get('svc-3'), 'result of svc-3');
  assert.equal((platform.commandResults.get('svc-3')!.error as { code: string }).code, 'IIP_ERR_EDGE_COMMAND_INVALID');
});

test('wrong secret: the broker refuses the gateway, which keeps collecting into its buffer', async (t) => {
  const { platform, dataDir } = await setup(t);
  const h = makeGateway(platform, dataDir, { version: 1, config: { channels: [syntheticChannel('c1', ['m1'])] } }, { secret: 'not-the-secret' });
  t.after(() => h.gw.stop());
  await h.gw.start();
  h.driver('c1').emitRecords(10);
  await waitFor(() => platform.authFailures > 0 && h.gw.stats().collectedPoints === 100, 'refused, and readings buffered');
  assert.equal(h.gw.stats().uplink.connected, false);
  assert.equal(h.gw.stats().buffer.points, 100);
});
