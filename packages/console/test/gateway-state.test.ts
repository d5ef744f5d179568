import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewayConfig } from '@iip/core';
import { linkStateTone, mergeChannels, readGatewayState, syncState } from '../src/gateway-state.ts';

const full = {
  ts: 1_700_000_000_000,
  appliedVersion: 3,
  buffer: { points: 120, bytes: 4096, oldestTs: 1_699_999_990_000, dropped: 0 },
  uplink: { connected: true, sentPoints: 5000, lastConnectedAt: 1_699_999_000_000 },
  channels: [
    {
      channel: 'line-1',
      protocol: 'modbus-tcp',
      connected: true,
      devices: [
        { device: 'press-1', state: 'ok', lastLatencyMs: 12, polls: 100, errors: 1, consecutiveFailures: 0, lastError: { code: 'IIP_ERR_MODBUS_TIMEOUT', message: 'timed out', ts: 5 } },
      ],
    },
  ],
  rules: { fired: 2 },
};

test('readGatewayState reads a complete report', () => {
  const v = readGatewayState(full);
  assert.equal(v.appliedVersion, 3);
  assert.deepEqual(v.buffer, { points: 120, bytes: 4096, oldestTs: 1_699_999_990_000, dropped: 0 });
  assert.equal(v.uplink.connected, true);
  assert.equal(v.rulesFired, 2);
  assert.equal(v.channels[0]?.devices[0]?.lastLatencyMs, 12);
  assert.deepEqual(v.channels[0]?.devices[0]?.lastError, { code: 'IIP_ERR_MODBUS_TIMEOUT', message: 'timed out', ts: 5 });
});

test('readGatewayState survives missing, null and wrongly typed fields', () => {
  for (const doc of [undefined, null, 42, 'x', [], {}, { buffer: null, uplink: 'up', channels: {}, rules: [] }]) {
    const v = readGatewayState(doc);
    assert.equal(v.buffer.points, undefined);
    assert.deepEqual(v.channels, []);
    assert.equal(v.rulesFired, undefined);
  }
  const v = readGatewayState({
    buffer: { points: '12', oldestTs: null, bytes: Number.NaN },
    channels: [null, { protocol: 'x' }, { channel: 'c', devices: [{ state: 'ok' }, { device: 'd', state: 'weird', lastError: { message: 'no code' } }] }],
  });
  assert.deepEqual(v.buffer, { points: undefined, bytes: undefined, oldestTs: undefined, dropped: undefined });
  assert.equal(v.channels.length, 1, 'channels without an id are dropped');
  assert.equal(v.channels[0]?.connected, undefined);
  assert.equal(v.channels[0]?.devices.length, 1, 'devices without an id are dropped');
  assert.equal(v.channels[0]?.devices[0]?.state, 'unknown', 'an unknown state reads as unknown');
  assert.equal(v.channels[0]?.devices[0]?.lastError, undefined, 'an error without a code is not shown');
});

test('mergeChannels lists configured devices, silent ones too, then reported extras', () => {
  const config: GatewayConfig = {
    channels: [
      { id: 'line-1', protocol: 'modbus-tcp', host: 'h', port: 502, devices: [
        { id: 'press-2', unitId: 2, pollIntervalMs: 1000, points: [] },
        { id: 'press-1', unitId: 1, pollIntervalMs: 1000, points: [] },
      ] },
      { id: 'line-2', protocol: 'opcua', endpointUrl: 'opc.tcp://x', securityMode: 'None', devices: [] },
    ],
  };
  const reported = readGatewayState({
    channels: [
      { channel: 'line-1', protocol: 'modbus-tcp', connected: true, devices: [{ device: 'press-1', state: 'ok' }, { device: 'old', state: 'failing' }] },
      { channel: 'legacy', protocol: 'modbus-rtu', connected: false, devices: [] },
    ],
  }).channels;
  const m = mergeChannels(config, reported);
  assert.deepEqual(m.map((c) => c.channel), ['line-1', 'line-2', 'legacy']);
  assert.deepEqual(m[0]?.devices.map((d) => [d.device, d.state]), [['press-2', undefined], ['press-1', 'ok'], ['old', 'failing']]);
  assert.equal(m[1]?.connected, undefined, 'configured but unreported channel');
  assert.equal(m[1]?.protocol, 'opcua');
  assert.deepEqual(mergeChannels(undefined, reported).map((c) => c.channel), ['line-1', 'legacy']);
});

test('syncState and linkStateTone', () => {
  assert.equal(syncState(2, 2), 'inSync');
  assert.equal(syncState(3, 2), 'pending');
  assert.equal(syncState(1, null), 'pending');
  assert.equal(syncState(null, 1), 'noConfig');
  assert.equal(linkStateTone('ok'), 'ok');
  assert.equal(linkStateTone('failing'), 'bad');
  assert.equal(linkStateTone('demoted'), 'warn');
  assert.equal(linkStateTone(undefined), 'unknown');
});
