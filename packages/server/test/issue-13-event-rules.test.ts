/**
 * Issue 13, points 1 and 2: device events trigger rules. A device announces events over MQTT (mqtt.js); they are
 * stored, go onto the bus, and rules with an event trigger raise — with a condition over the event's outputs, cleared
 * by another event, or returned to normal at once and waiting for the operator's acknowledgement.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
let dev: MqttClient;

type Alarm = { id: string; rule: string; device: string; isaState: string; active: boolean; open: boolean };

before(async () => {
  tp = await startTestPlatform();
  const p = await tp.api('POST', '/api/v1/products', {
    id: 'press',
    name: 'Press / 压力机',
    model: {
      properties: [{ id: 'force', dataType: { type: 'float' }, access: 'r' }],
      events: [
        { id: 'overheat', level: 'alert', outputs: [{ id: 'temperature', dataType: { type: 'float' }, required: true }, { id: 'zone', dataType: { type: 'string' } }] },
        { id: 'cooled', level: 'info', outputs: [] },
        { id: 'door_opened', level: 'warn', outputs: [] },
      ],
      services: [],
    },
  });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const d = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'press-1', product: 'press' });
  dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/press-1', password: d.body.secret, clientId: 'default/press-1', reconnectPeriod: 0 });
});
after(async () => {
  await dev?.endAsync(true);
  await tp?.close();
});

const announce = (body: unknown) => dev.publishAsync('iip/default/press-1/events', JSON.stringify(body), { qos: 1 });
const alarmsOf = async (rule: string) => (await tp.api<{ items: Alarm[] }>('GET', `/api/v1/alarms?rule=${rule}`)).body.items;

test('an event raises a rule when its outputs match, another event clears it; a plain event trigger returns to normal at once', async () => {
  const hot = await tp.api('POST', '/api/v1/rules', {
    id: 'press-overheat',
    scope: { product: 'press' },
    when: { event: { event: 'overheat', where: 'temperature > 90.0', clearOn: 'cooled' } },
    alarm: { severity: 'critical', message: 'Press overheated' },
  });
  assert.equal(hot.status, 201, JSON.stringify(hot.body));
  const door = await tp.api('POST', '/api/v1/rules', { id: 'press-door', scope: { product: 'press' }, when: { event: { event: 'door_opened' } }, alarm: { severity: 'low' } });
  assert.equal(door.status, 201, JSON.stringify(door.body));

  // 85 °C is an overheat event, but not past the rule's 90: nothing.
  await announce({ event: 'overheat', data: { temperature: 85, zone: 'die' } });
  await announce({ event: 'overheat', data: { temperature: 95.5 } });
  const raised = await waitFor(async () => (await alarmsOf('press-overheat'))[0], 'the overheat alarm');
  assert.deepEqual([raised.device, raised.isaState, raised.active], ['press-1', 'unacked', true]);
  // Two more in a row: still one alarm.
  await announce([{ event: 'overheat', data: { temperature: 97 } }, { event: 'overheat', data: { temperature: 99 } }]);
  await announce({ event: 'cooled' });
  const cleared = await waitFor(async () => {
    const a = (await alarmsOf('press-overheat'))[0];
    return a && !a.active ? a : undefined;
  }, 'the overheat alarm to clear');
  assert.equal(cleared.isaState, 'rtn-unacked');
  assert.equal((await alarmsOf('press-overheat')).length, 1, 'one alarm for the whole episode');

  await announce({ event: 'door_opened' });
  const d = await waitFor(async () => (await alarmsOf('press-door'))[0], 'the door alarm');
  assert.deepEqual([d.isaState, d.active, d.open], ['rtn-unacked', false, true], 'back to normal at once, waiting for its ack');
  const ack = await tp.api('POST', `/api/v1/alarms/${d.id}/ack`, { comment: 'door closed again' });
  assert.equal(ack.status, 200, JSON.stringify(ack.body));
  assert.equal((await alarmsOf('press-door'))[0]?.open, false);
});

test('event triggers are checked against the thing model', async () => {
  type Refusal = { code: string; details: { field: string } };
  const cases: Array<[unknown, string, string]> = [
    [{ event: { event: 'explosion' } }, 'IIP_ERR_RULE_INVALID', 'when.event.event'],
    [{ event: { event: 'overheat', clearOn: 'overheat' } }, 'IIP_ERR_RULE_INVALID', 'when.event.clearOn'],
    [{ event: { event: 'overheat', where: 'pressure > 1.0' } }, 'IIP_ERR_RULE_UNKNOWN_PROPERTY', 'when.event.where'],
    [{ event: { event: 'overheat', where: 'zone > 1.0' } }, 'IIP_ERR_RULE_TYPE', 'when.event.where'],
    [{ event: { event: 'overheat' }, for: '1m' }, 'IIP_ERR_RULE_INVALID', 'when.for'],
  ];
  for (const [when, code, field] of cases) {
    const r = await tp.api<Refusal>('POST', '/api/v1/rules/validate', { id: 'x', scope: { product: 'press' }, when });
    assert.deepEqual([r.body.code, r.body.details.field], [code, field], JSON.stringify(r.body));
  }
});
