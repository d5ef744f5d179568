/** Issue 10 point 6: the Gateways page reads a channel's run state and error, so a failed channel is shown. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeChannels, readGatewayState } from '../src/gateway-state.ts';

test('a channel the gateway could not start is read as failed with its error, also when merged with the desired config', () => {
  const view = readGatewayState({
    appliedVersion: 2,
    channels: [
      { channel: 'line-1', protocol: 'modbus-tcp', connected: false, devices: [], state: 'failed', error: { code: 'IIP_ERR_DRIVER_CONFIG', message: 'devices[0].points[0].type: unsupported' } },
      { channel: 'line-2', protocol: 'modbus-tcp', connected: true, devices: [], state: 'running', error: null },
      { channel: 'line-3', protocol: 'opcua', connected: false, devices: [], state: 'bogus', error: 'nonsense' },
    ],
  });
  assert.deepEqual(
    view.channels.map((c) => [c.channel, c.state, c.error?.code]),
    [
      ['line-1', 'failed', 'IIP_ERR_DRIVER_CONFIG'],
      ['line-2', 'running', undefined],
      ['line-3', undefined, undefined],
    ],
  );
  const merged = mergeChannels(
    { channels: [{ id: 'line-1', protocol: 'modbus-tcp', host: 'h', port: 502, devices: [{ id: 'm1', unitId: 1, pollIntervalMs: 1000, points: [] }] }] },
    view.channels,
  );
  assert.deepEqual([merged[0]?.state, merged[0]?.error?.message, merged[0]?.devices.map((d) => d.device)], ['failed', 'devices[0].points[0].type: unsupported', ['m1']]);
});
