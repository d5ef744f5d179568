/**
 * Issue 20: when a device's MQTT connection is accepted, the platform loads its telemetry series into the
 * historian's cache (Historian.prepare), so that its first message does not wait for the store. Both MQTT servers,
 * a real mqtt.js device; the series are there and the device's first point is stored.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { startTestPlatform } from './fixture.js';

for (const mqttServer of ['iip', 'aedes'] as const) {
  describe(`series loaded when a device connects (${mqttServer}) (issue 20)`, () => {
    it('a connecting device is prepared in the historian, once per connection; its first point is stored', async () => {
      const tp = await startTestPlatform({ mqttServer });
      try {
        const secret = await tp.createDevice('meter-7');
        const historian = tp.platform.historian;
        const prepared: string[] = [];
        const prepare = historian.prepare.bind(historian);
        historian.prepare = (tenant: string, device: string) => {
          prepared.push(`${tenant}/${device}`);
          prepare(tenant, device);
        };
        const client = await mqtt.connectAsync(tp.platform.mqttUrl, { username: 'default/meter-7', password: secret, clientId: 'default/meter-7', reconnectPeriod: 0 });
        try {
          await waitFor(() => prepared.length > 0, 'prepare on connect');
          assert.deepEqual(prepared, ['default/meter-7']);
          await client.publishAsync('iip/default/meter-7/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
          const latest = await historian.latest('default' as never, 'meter-7' as never);
          assert.equal(latest.temperature?.value, 21.5);
        } finally {
          await client.endAsync();
        }
      } finally {
        await tp.close();
      }
    });
  });
}
