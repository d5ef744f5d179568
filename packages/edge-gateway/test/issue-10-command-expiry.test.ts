/**
 * Issue 10 points 5 and 6 on the gateway side, against a real broker (aedes, the gateway's persistent MQTT
 * session): a command carries its absolute expiry and the gateway refuses one that reaches it later —
 * including one the broker queued while the gateway was offline — without touching the device; a command
 * redelivered under the same request id is answered again, not carried out again; and every channel of the
 * applied configuration is reported with its state (running / starting / failed with code and message).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChannelConfig, VersionedGatewayConfig } from '@iip/core';
import { IipError } from '@iip/core';
import { EdgeGateway } from '@iip/edge-gateway';
import { tempDir, waitFor } from '@iip/testkit';
import { makeGateway } from './fixtures/harness.js';
import { SyntheticDriver, syntheticChannel } from './fixtures/synthetic-driver.js';
import { TestPlatform } from './fixtures/test-platform.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{ platform: TestPlatform; dataDir: string }> {
  const platform = await TestPlatform.start();
  const dir = await tempDir('iip-edge-expiry-');
  t.after(async () => {
    await platform.close();
    await dir.cleanup();
  });
  return { platform, dataDir: dir.path };
}

type Result = { ok: boolean; error?: { code: string; message: string; details: Record<string, unknown> } };

test('a command past its expiry is refused unexecuted; one without an expiry is refused; a redelivery is not run twice', async (t) => {
  const { platform, dataDir } = await setup(t);
  const h = makeGateway(platform, dataDir, { version: 1, config: { channels: [syntheticChannel('c1', ['valve'])] } });
  t.after(() => h.gw.stop());
  await h.gw.start();
  await waitFor(() => platform.states.length > 0, 'first state (subscriptions in place)');
  const drv = h.driver('c1');

  await platform.publish('commands/late-1', { type: 'write', device: 'valve', property: 'p3', value: 42, expiresAt: Date.now() - 1 });
  const late = (await waitFor(() => platform.commandResults.get('late-1'), 'result of late-1')) as Result;
  assert.equal(late.ok, false);
  assert.equal(late.error?.code, 'IIP_ERR_EDGE_COMMAND_EXPIRED');
  assert.equal(typeof late.error?.details.expiresAt, 'number');
  await platform.publish('commands/late-2', { type: 'writes', device: 'valve', writes: [{ property: 'p3', value: 1 }], expiresAt: Date.now() - 1 });
  assert.equal(((await waitFor(() => platform.commandResults.get('late-2'), 'result of late-2')) as Result).error?.code, 'IIP_ERR_EDGE_COMMAND_EXPIRED');
  await platform.publish('commands/no-expiry', { type: 'write', device: 'valve', property: 'p3', value: 42 });
  const noExpiry = (await waitFor(() => platform.commandResults.get('no-expiry'), 'result of no-expiry')) as Result;
  assert.deepEqual([noExpiry.error?.code, noExpiry.error?.details.field], ['IIP_ERR_EDGE_COMMAND_INVALID', 'expiresAt']);
  assert.deepEqual(drv.writes, [], 'the device was never touched');

  await platform.publish('commands/once', { type: 'write', device: 'valve', property: 'p3', value: 7, expiresAt: Date.now() + 60_000 });
  await waitFor(() => platform.commandResults.get('once'), 'result of once');
  platform.commandResults.delete('once');
  // The same request again (a QoS 1 redelivery after a lost PUBACK looks like this): answered, not re-run.
  await platform.publish('commands/once', { type: 'write', device: 'valve', property: 'p3', value: 7, expiresAt: Date.now() + 60_000 });
  assert.deepEqual(await waitFor(() => platform.commandResults.get('once'), 'the repeated answer'), { ok: true });
  assert.deepEqual(drv.writes, [{ device: 'valve', property: 'p3', value: 7 }]);
});

test('a command the broker queued while the gateway was offline does not run after its expiry', async (t) => {
  const { platform, dataDir } = await setup(t);
  const h = makeGateway(platform, dataDir, { version: 1, config: { channels: [syntheticChannel('c1', ['valve'])] } });
  t.after(() => h.gw.stop());
  await h.gw.start();
  await waitFor(() => platform.states.length > 0, 'first state (subscriptions in place)');
  platform.cut();
  await waitFor(() => !h.gw.stats().uplink.connected, 'offline');
  // Queued in the gateway's persistent session (QoS 1, clean session off); one expires while it is away.
  await platform.publish('commands/queued-stale', { type: 'write', device: 'valve', property: 'p3', value: 99, expiresAt: Date.now() + 300 });
  await platform.publish('commands/queued-fresh', { type: 'write', device: 'valve', property: 'p4', value: 5, expiresAt: Date.now() + 60_000 });
  await new Promise((r) => setTimeout(r, 600));
  platform.restore();
  const stale = (await waitFor(() => platform.commandResults.get('queued-stale'), 'the queued stale command to be answered', 15_000)) as Result;
  assert.equal(stale.error?.code, 'IIP_ERR_EDGE_COMMAND_EXPIRED');
  assert.deepEqual(await waitFor(() => platform.commandResults.get('queued-fresh'), 'the queued fresh command'), { ok: true });
  assert.deepEqual(h.driver('c1').writes, [{ device: 'valve', property: 'p4', value: 5 }], 'only the unexpired command touched the device');
});

/** A driver the gateway cannot start: its connect refuses the configuration like a real driver would. */
class RefusingDriver extends SyntheticDriver {
  override async connect(): Promise<void> {
    throw new IipError('IIP_ERR_DRIVER_CONFIG', 'devices[0].points[0].type: must be int16, …', { path: 'devices[0].points[0].type' });
  }
}

/** A driver whose link does not come up (the PLC is off): the channel retries and says why. */
class UnreachableDriver extends SyntheticDriver {
  override async connect(): Promise<void> {
    throw new IipError('IIP_ERR_DRIVER_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:1502', {});
  }
}

test('each channel is reported with its state: running, starting (retrying, with the error), failed (with code and message)', async (t) => {
  const { platform, dataDir } = await setup(t);
  const channels: ChannelConfig[] = [syntheticChannel('ok', ['m1']), syntheticChannel('bad-type', ['m2']), syntheticChannel('no-driver', ['m3']), syntheticChannel('plc-off', ['m4'])];
  const config: VersionedGatewayConfig = { version: 3, config: { channels } };
  const gw = new EdgeGateway({
    platform: { mqttUrl: platform.url, tenant: platform.tenant, gatewayId: platform.gatewayId, secret: platform.secret },
    dataDir,
    initialConfig: config,
    stateIntervalMs: 200,
    reconnectPeriodMs: 200,
    driverFactory: (c) => {
      if (c.id === 'no-driver') throw new IipError('IIP_ERR_DRIVER_CONFIG', 'unknown point type "int128"', { path: 'devices[0].points[0].type' });
      if (c.id === 'bad-type') return new RefusingDriver(c, { rate: 0 });
      if (c.id === 'plc-off') return new UnreachableDriver(c, { rate: 0 });
      return new SyntheticDriver(c, { rate: 0 });
    },
  });
  t.after(() => gw.stop());
  await gw.start();
  const byChannel = (list: ReadonlyArray<Record<string, unknown>>) => Object.fromEntries(list.map((c) => [c.channel, c]));
  const state = await waitFor(() => {
    const s = platform.states.findLast((x) => x.appliedVersion === 3);
    const chs = byChannel((s?.channels ?? []) as Array<Record<string, unknown>>);
    return chs.ok?.state === 'running' && chs['bad-type']?.state === 'failed' ? chs : undefined;
  }, 'a state message with every channel');
  assert.deepEqual(Object.keys(state).sort(), ['bad-type', 'no-driver', 'ok', 'plc-off']);
  assert.deepEqual([state.ok?.state, state.ok?.error], ['running', null]);
  assert.deepEqual(state['no-driver'], {
    channel: 'no-driver',
    protocol: channels[2]!.protocol,
    connected: false,
    devices: [],
    state: 'failed',
    error: { code: 'IIP_ERR_DRIVER_CONFIG', message: 'unknown point type "int128"' },
  });
  assert.equal((state['bad-type']?.error as { code?: string } | undefined)?.code, 'IIP_ERR_DRIVER_CONFIG');
  assert.equal(state['plc-off']?.state, 'starting');
  assert.equal((state['plc-off']?.error as { code?: string } | undefined)?.code, 'IIP_ERR_DRIVER_UNREACHABLE');
  assert.deepEqual(
    gw.stats().channels.map((c) => [c.channel, c.state]),
    [
      ['ok', 'running'],
      ['bad-type', 'failed'],
      ['plc-off', 'starting'],
      ['no-driver', 'failed'],
    ],
  );
});
