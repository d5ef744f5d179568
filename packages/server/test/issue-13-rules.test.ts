/**
 * Issue 13 end to end in the platform: rules saved through the API (validated against the product), evaluated
 * over telemetry as it is stored, raising alarms with the ISA-18.2 lifecycle that operators acknowledge and
 * shelve; one alarm however close together the readings come; permissions on alarms follow the device.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ThingModel } from '@iip/core';
import { waitFor } from '@iip/testkit';
import { startTestPlatform, type TestPlatform } from './fixture.js';

const PASSWORD = 'harbour-lamp-kettle-7';
const PRESS: ThingModel = {
  properties: [
    { id: 't', name: 'Temperature / 温度', dataType: { type: 'float', unit: '°C' }, access: 'r' },
    { id: 'running', dataType: { type: 'bool' }, access: 'r' },
  ],
  events: [],
  services: [],
};

interface AlarmOut {
  id: string;
  rule: string;
  device: string;
  isaState: string;
  open: boolean;
  severity: string;
  message: string;
  history?: Array<{ type: string; user: string | null; comment: string | null; isaState: string }>;
}
interface ApiError {
  code: string;
  details: Record<string, unknown>;
}

let tp: TestPlatform;
const secrets: Record<string, string> = {};
let t0 = 0;

before(async () => {
  tp = await startTestPlatform();
  assert.equal((await tp.api('POST', '/api/v1/products', { id: 'press', name: 'Press', model: PRESS })).status, 201);
  assert.equal((await tp.api('POST', '/api/v1/assets', { id: 'hall-1', level: 'site', name: 'Hall 1' })).status, 201);
  assert.equal((await tp.api('POST', '/api/v1/assets', { id: 'hall-2', level: 'site', name: 'Hall 2' })).status, 201);
  for (const [id, asset] of [['m1', 'hall-1'], ['m2', 'hall-2'], ['m3', 'hall-1']] as const) {
    const r = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id, product: 'press', asset });
    assert.equal(r.status, 201);
    secrets[id] = r.body.secret;
  }
  t0 = Date.now() - 600_000;
});
after(() => tp?.close());

const send = (device: string, ts: number, values: Record<string, unknown>) =>
  tp.anon('POST', '/api/v1/ingest', JSON.stringify({ ts, values }), { authorization: `Basic ${Buffer.from(`default/${device}:${secrets[device]}`).toString('base64')}` });
const alarmsOf = async (query: string) => (await tp.api<{ items: AlarmOut[] }>('GET', `/api/v1/alarms?${query}`)).body.items;

describe('rules through the API', () => {
  test('saved when valid; refused with the code and field otherwise', async () => {
    const ok = await tp.api<{ id: string; version: number; when: unknown }>('POST', '/api/v1/rules', {
      id: 'hot',
      name: 'Too hot / 过热',
      scope: { product: 'press', asset: 'hall-1' },
      when: { threshold: { property: 't', op: '>', value: 80, deadband: 2 } },
      alarm: { severity: 'high', message: 'Press above 80 °C' },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.version, 1);
    const list = await tp.api<{ items: Array<{ id: string }> }>('GET', '/api/v1/rules');
    assert.deepEqual(list.body.items.map((r) => r.id), ['hot']);

    const bad = async (doc: unknown, code: string, field: string) => {
      const r = await tp.api<ApiError>('POST', '/api/v1/rules', doc);
      assert.equal(r.body.code, code, JSON.stringify(r.body));
      assert.equal(r.body.details.field, field);
    };
    await bad({ id: 'x', scope: { product: 'press' }, when: { threshold: { property: 'pressure', op: '>', value: 1 } } }, 'IIP_ERR_RULE_UNKNOWN_PROPERTY', 'when.threshold.property');
    await bad({ id: 'x', scope: { product: 'press' }, when: { expression: 'running > 1' } }, 'IIP_ERR_RULE_TYPE', 'when.expression');
    await bad({ id: 'x', scope: { product: 'press' }, when: { expression: 'running &&' } }, 'IIP_ERR_RULE_EXPRESSION', 'when.expression');
    await bad({ id: 'x', scope: { product: 'lathe' }, when: { expression: 'running' } }, 'IIP_ERR_RULE_INVALID', 'scope.product');
    await bad({ id: 'x', scope: { product: 'press', asset: 'hall-9' }, when: { expression: 'running' } }, 'IIP_ERR_RULE_INVALID', 'scope.asset');
    assert.equal((await tp.api<ApiError>('POST', '/api/v1/rules', { id: 'hot', scope: { product: 'press' }, when: { expression: 'running' } })).body.code, 'IIP_ERR_CONFLICT', 'the id exists');
    const stale = await tp.api<ApiError>('PUT', '/api/v1/rules/hot', { version: 7, scope: { product: 'press', asset: 'hall-1' }, when: { threshold: { property: 't', op: '>', value: 80 } } });
    assert.equal(stale.body.code, 'IIP_ERR_CONFLICT');
    // What GET answers can be sent back as it is (the stored form has forMs, version, updatedAt, updatedBy).
    const read = await tp.api<Record<string, unknown>>('GET', '/api/v1/rules/hot');
    const back = await tp.api<{ version: number }>('PUT', '/api/v1/rules/hot', read.body);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.version, 2);
    const check = await tp.api<{ properties: string[] }>('POST', '/api/v1/rules/validate', { id: 'draft', scope: { product: 'press' }, when: { expression: 'running && t > 90.0' } });
    assert.deepEqual(check.body.properties, ['running', 't']);
    assert.equal((await tp.api<{ items: unknown[] }>('GET', '/api/v1/rules')).body.items.length, 1, 'validate saves nothing');
  });
});

describe('alarms', () => {
  test('raised by stored telemetry, one per (rule, device) however close the readings; acknowledged; cleared; history', async () => {
    // m2 is in hall-2, outside the rule's asset: never alarmed.
    for (const r of await Promise.all([send('m1', t0, { t: 90 }), send('m1', t0 + 1, { t: 91 }), send('m2', t0, { t: 95 })])) assert.equal(r.status, 202);
    await waitFor(async () => (await alarmsOf('open=true')).length === 1, 'the alarm of m1');
    await new Promise((r) => setTimeout(r, 300));
    const open = await alarmsOf('open=true');
    assert.equal(open.length, 1, 'two readings 1 ms apart raise one alarm');
    const a = open[0] as AlarmOut;
    assert.deepEqual([a.rule, a.device, a.isaState, a.severity, a.message], ['hot', 'm1', 'unacked', 'high', 'Press above 80 °C']);

    const acked = await tp.api<AlarmOut>('POST', `/api/v1/alarms/${a.id}/ack`, { comment: 'checking the coolant' });
    assert.equal(acked.status, 200, JSON.stringify(acked.body));
    assert.equal(acked.body.isaState, 'acked');
    const again = await tp.api<ApiError>('POST', `/api/v1/alarms/${a.id}/ack`, {});
    assert.equal(again.body.code, 'IIP_ERR_ALARM_NOT_ACKABLE');
    // Inside the deadband (> 78): still active.
    await send('m1', t0 + 1_000, { t: 79 });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await tp.api<AlarmOut>('GET', `/api/v1/alarms/${a.id}`)).body.isaState, 'acked');
    await send('m1', t0 + 2_000, { t: 70 });
    await waitFor(async () => (await tp.api<AlarmOut>('GET', `/api/v1/alarms/${a.id}`)).body.open === false, 'the alarm to close');
    const done = await tp.api<AlarmOut>('GET', `/api/v1/alarms/${a.id}`);
    assert.equal(done.body.isaState, 'normal');
    assert.deepEqual(
      done.body.history?.map((h) => [h.type, h.user, h.comment, h.isaState]),
      [
        ['activate', null, null, 'unacked'],
        ['ack', 'admin', 'checking the coolant', 'acked'],
        ['clear', null, null, 'normal'],
      ],
    );
  });

  test('a new activation opens a new alarm; one-shot shelving hides it until it returns to normal', async () => {
    await send('m3', t0 + 5_000, { t: 99 });
    await waitFor(async () => (await alarmsOf('open=true&device=m3')).length === 1, 'the alarm of m3');
    const a = (await alarmsOf('open=true&device=m3'))[0] as AlarmOut;
    const shelved = await tp.api<AlarmOut>('POST', `/api/v1/alarms/${a.id}/shelve`, { kind: 'one-shot', comment: 'sensor being replaced' });
    assert.equal(shelved.body.isaState, 'shelved');
    const tooLong = await tp.api<ApiError>('POST', `/api/v1/alarms/${a.id}/shelve`, { kind: 'timed', durationMs: 48 * 3_600_000 });
    assert.ok(['IIP_ERR_ALARM_SHELVE_DURATION', 'IIP_ERR_ALARM_ALREADY_SHELVED'].includes(tooLong.body.code), tooLong.body.code);
    await send('m3', t0 + 6_000, { t: 60 });
    await waitFor(async () => (await tp.api<AlarmOut>('GET', `/api/v1/alarms/${a.id}`)).body.open === false, 'one-shot shelving to end with the return to normal');
    await send('m3', t0 + 7_000, { t: 99 });
    await waitFor(async () => (await alarmsOf('open=true&device=m3')).length === 1, 'a new alarm');
    const b = (await alarmsOf('open=true&device=m3'))[0] as AlarmOut;
    assert.notEqual(b.id, a.id);
    assert.equal(b.isaState, 'unacked');
    assert.equal((await alarmsOf('device=m3')).length, 2, 'both alarms are kept');
  });

  test("permissions follow the device: a viewer of hall-2 sees none of hall-1's alarms; acting needs alarms:ack", async () => {
    const u = await tp.api('POST', '/api/v1/users', { username: 'hall2-viewer', password: PASSWORD, grants: [{ role: 'viewer', asset: 'hall-2' }] });
    assert.equal(u.status, 201);
    const op = await tp.api('POST', '/api/v1/users', { username: 'hall1-viewer', password: PASSWORD, grants: [{ role: 'viewer', asset: 'hall-1' }] });
    assert.equal(op.status, 201);
    const as = async (username: string) => {
      const token = (await tp.anon<{ token: string }>('POST', '/api/v1/auth/login', { username, password: PASSWORD })).body.token;
      return <T>(method: string, path: string, body?: unknown) => tp.anon<T>(method, path, body, { authorization: `Bearer ${token}` });
    };
    const hall2 = await as('hall2-viewer');
    const anyOpen = (await alarmsOf('open=true'))[0] as AlarmOut;
    assert.deepEqual((await hall2<{ items: AlarmOut[] }>('GET', '/api/v1/alarms')).body.items, []);
    assert.equal((await hall2('GET', `/api/v1/alarms/${anyOpen.id}`)).status, 404);
    const hall1 = await as('hall1-viewer');
    assert.ok((await hall1<{ items: AlarmOut[] }>('GET', '/api/v1/alarms')).body.items.length >= 1);
    const ack = await hall1<ApiError>('POST', `/api/v1/alarms/${anyOpen.id}/ack`, {});
    assert.equal(ack.status, 403, 'a viewer may not acknowledge');
    assert.equal(ack.body.details.permission, 'alarms:ack');
  });

  test('backtest: a draft over the stored history says when it would have raised and cleared', async () => {
    const draft = { id: 'draft', scope: { product: 'press', asset: 'hall-1' }, when: { threshold: { property: 't', op: '>', value: 80, deadband: 2 } } };
    const r = await tp.api<{ devices: number; alarms: number; results: Array<{ device: string; alarms: number; transitions: Array<{ kind: string; ts: number }>; activeAtEnd: boolean }> }>(
      'POST',
      '/api/v1/rules/backtest',
      { rule: draft, from: t0 - 1, to: t0 + 10_000 },
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.devices, 2, 'm1 and m3 are in hall-1; m2 is not');
    const by = Object.fromEntries(r.body.results.map((x) => [x.device, x]));
    assert.deepEqual(by.m1?.transitions.map((x) => `${x.kind}@${x.ts - t0}`), ['raise@0', 'clear@2000'], '79 is inside the deadband');
    assert.deepEqual(by.m3?.transitions.map((x) => `${x.kind}@${x.ts - t0}`), ['raise@5000', 'clear@6000', 'raise@7000']);
    assert.equal(by.m3?.activeAtEnd, true);
    assert.equal(r.body.alarms, 3);
    const bad = await tp.api<{ code: string }>('POST', '/api/v1/rules/backtest', { rule: { ...draft, when: { expression: 'pressure > 1.0' } } });
    assert.equal(bad.body.code, 'IIP_ERR_RULE_UNKNOWN_PROPERTY');
  });

  test('KPIs count the activations of the range, their sources and priorities', async () => {
    const k = await tp.api<{ activations: number; topBadActors: Array<{ device: string; count: number }>; priorities: Record<string, { count: number }>; per10Min: { max: number } }>(
      'GET',
      `/api/v1/alarms/kpis?from=${Date.now() - 3_600_000}`,
    );
    assert.equal(k.status, 200, JSON.stringify(k.body));
    assert.equal(k.body.activations, 3, 'm1 once, m3 twice');
    assert.deepEqual(k.body.topBadActors.map((b) => [b.device, b.count]), [['m3', 2], ['m1', 1]]);
    assert.deepEqual(k.body.priorities.high?.count, 3);
    assert.equal(k.body.per10Min.max, 3);
    assert.equal((await tp.api<{ code: string }>('GET', `/api/v1/alarms/kpis?from=${Date.now()}&to=${Date.now() - 1}`)).body.code, 'IIP_ERR_VALIDATION');
  });

  test('a deleted rule raises nothing more', async () => {
    assert.equal((await tp.api('DELETE', '/api/v1/rules/hot')).status, 204);
    const before = (await alarmsOf('device=m1')).length;
    await send('m1', t0 + 20_000, { t: 99 });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await alarmsOf('device=m1')).length, before);
    const status = await tp.api<{ rules: { rules: number; raises: number } }>('GET', '/api/v1/status');
    assert.equal(status.body.rules.rules, 0);
    assert.ok(status.body.rules.raises >= 3);
  });
});
