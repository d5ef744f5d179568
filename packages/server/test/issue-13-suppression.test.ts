/**
 * Issue 13, point 5: suppression by design in the platform. A rule's alarm.suppressWhen ("the machine is stopped")
 * keeps its alarm suppressed — stored as such (ISA-18.2 "suppressed"), not annunciated — until the machine runs
 * again; readings arrive over MQTT from a real client.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let dev: MqttClient;
before(async () => {
  tp = await startTestPlatform();
  const secret = await tp.createDevice('oven-1');
  dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/oven-1', password: secret, clientId: 'default/oven-1', reconnectPeriod: 0 });
});
after(async () => {
  await dev?.endAsync(true);
  await tp?.close();
});

type Alarm = { id: string; isaState: string; suppressed: boolean; active: boolean };
const send = (values: Record<string, unknown>) => dev.publishAsync('iip/default/oven-1/telemetry', JSON.stringify({ values }), { qos: 1 });

test('an alarm raised while the machine is stopped is suppressed, and shows once it runs again', async () => {
  const r = await tp.api('POST', '/api/v1/rules', {
    id: 'oven-hot',
    scope: { product: 'sensor' },
    when: { threshold: { property: 'temperature', op: '>', value: 80 } },
    alarm: { severity: 'high', suppressWhen: '!running' },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await send({ running: false });
  await send({ temperature: 95 });
  const hidden = await waitFor(async () => (await tp.api<{ items: Alarm[] }>('GET', '/api/v1/alarms?rule=oven-hot')).body.items[0], 'the alarm');
  assert.deepEqual([hidden.isaState, hidden.suppressed, hidden.active], ['suppressed', true, true]);
  await send({ running: true });
  const shown = await waitFor(async () => {
    const a = (await tp.api<{ items: Alarm[] }>('GET', '/api/v1/alarms?rule=oven-hot')).body.items[0];
    return a && !a.suppressed ? a : undefined;
  }, 'the alarm to come out of suppression');
  assert.deepEqual([shown.isaState, shown.active], ['unacked', true]);
  const bad = await tp.api<{ code: string; details: { field: string } }>('POST', '/api/v1/rules/validate', { id: 'x', scope: { product: 'sensor' }, when: { threshold: { property: 'temperature', op: '>', value: 1 } }, alarm: { suppressWhen: 'stopped' } });
  assert.deepEqual([bad.body.code, bad.body.details.field], ['IIP_ERR_RULE_UNKNOWN_PROPERTY', 'alarm.suppressWhen']);
});
