/**
 * Issue 13, point 2, end to end: a rule over the devices of an asset (`when.assetExpression`) saved through the API,
 * evaluated over what several devices of the asset's subtree send (over MQTT and HTTP), raising one alarm whose
 * source is the asset, and clearing it; the alarm API says so (`source: "asset"`, `device` the asset's id); a backtest
 * of such a rule is refused with its code.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ThingModel } from '@iip/core';
import { waitFor } from '@iip/testkit';
import mqtt from 'mqtt';
import { startTestPlatform, type TestPlatform } from './fixture.js';

const PRESS: ThingModel = {
  properties: [{ id: 't', name: 'Temperature / 温度', dataType: { type: 'float', unit: '°C' }, access: 'r' }],
  events: [],
  services: [],
};

interface AlarmOut {
  id: string;
  rule: string;
  device: string;
  source: string;
  open: boolean;
  active: boolean;
  isaState: string;
}

let tp: TestPlatform;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform();
  assert.equal((await tp.api('POST', '/api/v1/products', { id: 'press', name: 'Press', model: PRESS })).status, 201);
  assert.equal((await tp.api('POST', '/api/v1/assets', { id: 'plant', level: 'site', name: 'Plant' })).status, 201);
  assert.equal((await tp.api('POST', '/api/v1/assets', { id: 'line-1', level: 'line', name: 'Line 1', parent: 'plant' })).status, 201);
  assert.equal((await tp.api('POST', '/api/v1/assets', { id: 'line-2', level: 'line', name: 'Line 2', parent: 'plant' })).status, 201);
  for (const [id, asset] of [['p1', 'line-1'], ['p2', 'line-1'], ['p3', 'line-2']] as const) {
    const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id, product: 'press', asset });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    secrets[id] = r.body.secret;
  }
});
after(() => tp?.close());

const httpSend = (device: string, values: Record<string, unknown>) =>
  tp.anon('POST', '/api/v1/ingest', JSON.stringify({ values }), { authorization: `Basic ${Buffer.from(`default/${device}:${secrets[device]}`).toString('base64')}` });

test('avg over line 1 raises one alarm on the asset, then clears; line 2 does not count', async () => {
  const saved = await tp.api('POST', '/api/v1/rules', {
    id: 'line-1-hot',
    scope: { product: 'press', asset: 'line-1' },
    when: { assetExpression: { expression: 'avg(t) > 80.0 && size(t) >= 2', maxAge: '5m' } },
    alarm: { severity: 'high', message: 'Line 1 runs hot / 1 号线过热' },
  });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));

  const p1 = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { clientId: 'default/p1', username: 'default/p1', password: secrets.p1, reconnectPeriod: 0 });
  try {
    await p1.publishAsync('iip/default/p1/telemetry', JSON.stringify({ values: { t: 100 } }), { qos: 1 });
    assert.equal((await httpSend('p3', { t: 300 })).status, 202); // line 2: not in the lists
    // One device of line 1 so far: size(t) >= 2 does not hold.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await tp.api<{ items: AlarmOut[] }>('GET', '/api/v1/alarms?rule=line-1-hot')).body.items, []);

    // Two devices at once: one alarm, whose source is the asset.
    await Promise.all([p1.publishAsync('iip/default/p1/telemetry', JSON.stringify({ values: { t: 95 } }), { qos: 1 }), httpSend('p2', { t: 90 })]);
    const raised = await waitFor(async () => {
      const items = (await tp.api<{ items: AlarmOut[] }>('GET', '/api/v1/alarms?rule=line-1-hot')).body.items;
      return items.length > 0 ? items : undefined;
    }, 'the asset alarm');
    assert.equal(raised.length, 1);
    assert.equal(raised[0]?.source, 'asset');
    assert.equal(raised[0]?.device, 'line-1');
    assert.equal(raised[0]?.active, true);

    await p1.publishAsync('iip/default/p1/telemetry', JSON.stringify({ values: { t: 60 } }), { qos: 1 });
    const cleared = await waitFor(async () => {
      const a = (await tp.api<AlarmOut>('GET', `/api/v1/alarms/${raised[0]?.id}`)).body;
      return a.active === false ? a : undefined;
    }, 'the asset alarm cleared');
    assert.equal(cleared.isaState, 'rtn-unacked');
    assert.equal((await tp.api<{ items: AlarmOut[] }>('GET', '/api/v1/alarms?rule=line-1-hot')).body.items.length, 1);
  } finally {
    await p1.endAsync();
  }
});

test('refusals name the field: no asset; a backtest of an asset rule', async () => {
  const noAsset = await tp.api<{ code: string; details: { field: string } }>('POST', '/api/v1/rules', {
    id: 'x',
    scope: { product: 'press' },
    when: { assetExpression: { expression: 'avg(t) > 1.0' } },
  });
  assert.equal(noAsset.body.code, 'IIP_ERR_RULE_INVALID');
  assert.equal(noAsset.body.details.field, 'scope.asset');
  const bt = await tp.api<{ code: string; details: { field: string } }>('POST', '/api/v1/rules/backtest', {
    rule: { id: 'y', scope: { product: 'press', asset: 'line-1' }, when: { assetExpression: { expression: 'avg(t) > 1.0' } } },
  });
  assert.equal(bt.body.code, 'IIP_ERR_RULE_INVALID');
  assert.equal(bt.body.details.field, 'when.assetExpression');
});
