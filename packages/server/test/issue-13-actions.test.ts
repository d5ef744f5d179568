/**
 * Issue 13, point 3, end to end with real peers: devices publish over MQTT (mqtt.js), a rule raises and clears, and
 * its actions are carried out from the durable outbox —
 * - a webhook to a real HTTP server: signed (HMAC-SHA256 with the tenant's signing secret), retried after a 503 with
 *   the same delivery id, dead-lettered at once on a 404 and retried by an operator through the API;
 * - e-mail to a real SMTP server (smtp-server, from nodemailer's authors) started here; a refused recipient (550)
 *   is dead-lettered with IIP_ERR_ACTION_SMTP;
 * - an MQTT publish the device itself receives on iip/<tenant>/<device>/rules/…;
 * - a property write through the audited command path to a stand-in gateway, with the rule as the actor.
 * And the refusals when a rule is saved: a loop, a read-only property, e-mail without an SMTP server.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { type TestPlatform, startTestPlatform } from './fixture.js';

interface Hook {
  headers: IncomingMessage['headers'];
  body: string;
  path: string;
}
interface Mail {
  from: string;
  to: string[];
  data: string;
}

let tp: TestPlatform;
let hooks: Server;
let hookUrl: string;
const received: Hook[] = [];
/** Status codes the receiver answers with, by path, in turn (200 once a path's list is used up). */
const answers = new Map<string, number[]>();
let smtp: SMTPServer;
const mails: Mail[] = [];
const devices = new Map<string, MqttClient>();

async function device(id: string): Promise<MqttClient> {
  const secret = await tp.createDevice(id);
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: `default/${id}`, password: secret, clientId: `default/${id}`, reconnectPeriod: 0 });
  devices.set(id, c);
  return c;
}

const send = (id: string, values: Record<string, unknown>) => devices.get(id)?.publishAsync(`iip/default/${id}/telemetry`, JSON.stringify({ values }), { qos: 1 });

async function rule(doc: Record<string, unknown>): Promise<void> {
  const r = await tp.api('POST', '/api/v1/rules', doc);
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

type Job = { id: string; rule: string; state: string; attempts: number; lastError: string | null; kind: string };
async function jobsOf(rule: string): Promise<Job[]> {
  return (await tp.api<{ items: Job[] }>('GET', `/api/v1/rule-actions?rule=${rule}`)).body.items;
}

before(async () => {
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ headers: req.headers, body, path });
      res.statusCode = answers.get(path)?.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;

  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('bounce@')) {
        const e = new Error('mailbox unavailable') as Error & { responseCode: number };
        e.responseCode = 550;
        cb(e);
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      let data = '';
      stream.on('data', (d: Buffer) => {
        data += d.toString();
      });
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  tp = await startTestPlatform({
    platform: {
      smtp: { url: `smtp://127.0.0.1:${smtpPort}`, from: 'iip@factory.example' },
      // Quick retries for the test: looked for every 50 ms, 200 ms between attempts, 3 attempts.
      ruleActions: { pollMs: 50, backoffMs: () => 200, maxAttempts: 3 },
    },
  });
});

after(async () => {
  for (const c of devices.values()) await c.endAsync(true);
  await tp?.close();
  await new Promise<void>((r) => hooks.close(() => r()));
  await new Promise<void>((r) => smtp.close(() => r()));
});

describe('rule actions, carried out', () => {
  test('a webhook is signed, retried after a 503 with the same delivery id, and sent again on the clear', async () => {
    await device('s1');
    answers.set('/hook/s1', [503]);
    await rule({
      id: 'r-hook',
      name: 'Too hot / 过热',
      scope: { product: 'sensor', devices: ['s1'] },
      when: { threshold: { property: 'temperature', op: '>', value: 80 } },
      alarm: { severity: 'high', message: 'Temperature above 80 °C' },
      actions: [{ type: 'webhook', url: `${hookUrl}/hook/s1`, headers: { 'X-Line': 'line-2' }, on: ['raise', 'clear'] }],
    });
    await send('s1', { temperature: 91.5 });
    const calls = await waitFor(() => {
      const c = received.filter((h) => h.path === '/hook/s1');
      return c.length >= 2 ? c : undefined;
    }, 'the webhook and its retry');
    const secret = (await tp.api<{ secret: string }>('GET', '/api/v1/rules/signing-secret')).body.secret;
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    for (const h of calls) {
      const expected = `sha256=${createHmac('sha256', secret).update(`${h.headers['x-iip-timestamp']}.${h.body}`).digest('hex')}`;
      assert.equal(h.headers['x-iip-signature'], expected, 'the receiver can check the signature');
      assert.equal(h.headers['content-type'], 'application/json');
      assert.equal(h.headers['x-line'], 'line-2');
    }
    assert.equal(calls[0]?.headers['x-iip-delivery'], calls[1]?.headers['x-iip-delivery'], 'a retry is the same delivery');
    const notice = JSON.parse(calls[1]?.body ?? '{}');
    assert.deepEqual(
      { rule: notice.rule, device: notice.device, transition: notice.transition, severity: notice.severity, message: notice.message, t: notice.values.temperature },
      { rule: { id: 'r-hook', name: 'Too hot / 过热' }, device: 's1', transition: 'raise', severity: 'high', message: 'Temperature above 80 °C', t: 91.5 },
    );
    // The alarm names its rule (what the console and CLI show).
    const alarm = (await tp.api<{ items: Array<{ rule: string; ruleName: string | null }> }>('GET', '/api/v1/alarms?rule=r-hook')).body.items[0];
    assert.deepEqual([alarm?.rule, alarm?.ruleName], ['r-hook', 'Too hot / 过热']);
    const done = await waitFor(async () => (await jobsOf('r-hook')).find((j) => j.state === 'done'), 'the delivery recorded as done');
    assert.equal(done.attempts, 2);
    assert.match(done.lastError ?? '', /^IIP_ERR_ACTION_HTTP_STATUS: .* answered 503/);
    // Back to normal: the clear is delivered too.
    await send('s1', { temperature: 20 });
    const clear = await waitFor(() => received.find((h) => h.path === '/hook/s1' && JSON.parse(h.body).transition === 'clear'), 'the clear');
    assert.notEqual(clear.headers['x-iip-delivery'], calls[0]?.headers['x-iip-delivery']);
  });

  test('a 404 is dead-lettered at once, listed with its code, and retried by an operator', async () => {
    await device('s2');
    answers.set('/hook/s2', [404]);
    await rule({ id: 'r-404', scope: { product: 'sensor', devices: ['s2'] }, when: { threshold: { property: 'temperature', op: '>', value: 80 } }, actions: [{ type: 'webhook', url: `${hookUrl}/hook/s2` }] });
    await send('s2', { temperature: 85 });
    const dead = await waitFor(async () => (await jobsOf('r-404')).find((j) => j.state === 'dead'), 'the dead letter');
    assert.equal(dead.attempts, 1, 'a 404 is not retried');
    assert.match(dead.lastError ?? '', /^IIP_ERR_ACTION_HTTP_STATUS: .* answered 404 \(not retried/);
    const listed = await tp.api<{ items: Job[]; counts: Record<string, number> }>('GET', '/api/v1/rule-actions?state=dead');
    assert.ok(listed.body.items.some((j) => j.id === dead.id));
    assert.ok((listed.body.counts.dead ?? 0) >= 1);
    // The receiver is fixed; an operator retries it.
    const retried = await tp.api<Job>('POST', `/api/v1/rule-actions/${encodeURIComponent(dead.id)}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.attempts, 0);
    await waitFor(async () => (await tp.api<Job>('GET', `/api/v1/rule-actions/${encodeURIComponent(dead.id)}`)).body.state === 'done', 'the retried delivery to be done');
    assert.equal(received.filter((h) => h.path === '/hook/s2').length, 2);
    // Only a dead delivery is retried.
    const again = await tp.api<{ code: string }>('POST', `/api/v1/rule-actions/${encodeURIComponent(dead.id)}/retry`);
    assert.deepEqual([again.status, again.body.code], [409, 'IIP_ERR_CONFLICT']);
  });

  test('e-mail reaches a real SMTP server in English and Chinese; a refused recipient is dead-lettered with IIP_ERR_ACTION_SMTP', async () => {
    await device('s3');
    await rule({
      id: 'r-mail',
      scope: { product: 'sensor', devices: ['s3'] },
      when: { threshold: { property: 'temperature', op: '>', value: 80 } },
      alarm: { message: 'Oven hot' },
      actions: [
        { type: 'email', to: ['ops@factory.example', 'shift-lead@factory.example'] },
        { type: 'email', to: 'bounce@factory.example', subject: 'never arrives' },
      ],
    });
    await send('s3', { temperature: 99 });
    const mail = await waitFor(() => mails.find((m) => m.to.includes('ops@factory.example')), 'the e-mail');
    assert.equal(mail.from, 'iip@factory.example');
    assert.deepEqual(mail.to, ['ops@factory.example', 'shift-lead@factory.example']);
    // Read as a mail client would (MIME: encoded subject, quoted-printable body).
    const parsed = await simpleParser(mail.data);
    assert.equal(parsed.subject, '[iip] 报警 raised: Oven hot (s3)');
    assert.match(String(parsed.headers.get('x-iip-delivery')), /^r-mail:s3:raise:\d+:0$/);
    assert.match(parsed.text ?? '', /Device \/ 设备: s3/);
    assert.match(parsed.text ?? '', /"temperature":99/);
    const dead = await waitFor(async () => (await jobsOf('r-mail')).find((j) => j.state === 'dead'), 'the refused e-mail');
    assert.match(dead.lastError ?? '', /^IIP_ERR_ACTION_SMTP: the SMTP server answered 550/);
    assert.equal(mails.filter((m) => m.to.includes('bounce@factory.example')).length, 0);
  });

  test('a publish reaches the device on its rules/ topics, after its delay', async () => {
    const c = await device('s4');
    const got: Array<{ topic: string; body: { transition: string }; at: number }> = [];
    c.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()), at: Date.now() }));
    await c.subscribeAsync('iip/default/s4/rules/#', { qos: 1 });
    await rule({ id: 'r-pub', scope: { product: 'sensor', devices: ['s4'] }, when: { threshold: { property: 'temperature', op: '>', value: 80 } }, actions: [{ type: 'publish', topic: 'alerts/hot', delay: '300ms' }] });
    const sent = Date.now();
    await send('s4', { temperature: 90 });
    const m = await waitFor(() => got[0], 'the rule’s message on the device’s topic');
    assert.equal(m.topic, 'iip/default/s4/rules/alerts/hot');
    assert.equal(m.body.transition, 'raise');
    assert.ok(m.at - sent >= 300, `delivered ${m.at - sent} ms after the reading: the delay holds`);
  });

  test('a write goes through the audited command path to the gateway, with the rule as the actor', async () => {
    const gwDevice = await tp.api<{ secret: string }>('POST', '/api/v1/devices', { id: 'gw-1', product: 'iip-edge-gateway' });
    assert.equal(gwDevice.status, 201);
    await device('plc-1');
    const gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, { username: 'default/gw-1', password: gwDevice.body.secret, clientId: 'default/gw-1', reconnectPeriod: 0 });
    devices.set('gw-1', gw);
    const commands: Array<Record<string, unknown>> = [];
    gw.on('message', (topic, payload) => {
      const m = /^iip\/default\/gw-1\/commands\/(.+)$/.exec(topic);
      if (!m) return;
      commands.push(JSON.parse(payload.toString()));
      void gw.publishAsync(`iip/default/gw-1/command-results/${m[1]}`, JSON.stringify({ ok: true }), { qos: 1 });
    });
    await gw.subscribeAsync('iip/default/gw-1/commands/+', { qos: 1 });
    const config = await tp.api('PUT', '/api/v1/gateways/gw-1/config', {
      channels: [
        {
          id: 'line-1',
          protocol: 'modbus-tcp',
          host: '127.0.0.1',
          port: 5020,
          devices: [{ id: 'plc-1', unitId: 1, pollIntervalMs: 1000, points: [{ property: 'note', area: 'holding', address: 10, type: 'string', length: 16 }] }],
        },
      ],
    });
    assert.equal(config.status, 200, JSON.stringify(config.body));
    await rule({ id: 'r-write', scope: { product: 'sensor', devices: ['plc-1'] }, when: { threshold: { property: 'temperature', op: '>', value: 80 } }, actions: [{ type: 'write', property: 'note', value: 'cool down' }] });
    await send('plc-1', { temperature: 88 });
    const cmd = await waitFor(() => commands.find((c) => c.type === 'write'), 'the write command at the gateway');
    assert.deepEqual([cmd.device, cmd.property, cmd.value], ['plc-1', 'note', 'cool down']);
    await waitFor(async () => (await jobsOf('r-write')).find((j) => j.state === 'done'), 'the write recorded as done');
    type Entry = { action: string; actor: string; newValue: unknown; result: string };
    const audit = await tp.api<{ items: Entry[] }>('GET', '/api/v1/audit?device=plc-1');
    const entry = audit.body.items.find((e) => e.action === 'write');
    assert.deepEqual([entry?.actor, entry?.newValue, entry?.result], ['rule:r-write', 'cool down', 'ok']);
  });
});

describe('rule actions, refused when saved', () => {
  test('a loop, a read-only property and a bad value are refused naming the rule and the action', async () => {
    type Refusal = { code: string; message: string; details: { rule: string; field: string; cycle?: string[] } };
    const loop = await tp.api<Refusal>('POST', '/api/v1/rules', {
      id: 'r-loop',
      scope: { product: 'sensor' },
      when: { expression: 'note == "hot"' },
      actions: [{ type: 'write', property: 'note', value: 'cold' }],
    });
    assert.deepEqual([loop.status, loop.body.code, loop.body.details.field, loop.body.details.cycle], [422, 'IIP_ERR_RULE_LOOP', 'actions[0]', ['r-loop', 'r-loop']]);
    const ro = await tp.api<Refusal>('POST', '/api/v1/rules', { id: 'r-ro', scope: { product: 'sensor' }, when: { threshold: { property: 'temperature', op: '>', value: 1 } }, actions: [{ type: 'write', property: 'count', value: 1 }] });
    assert.deepEqual([ro.status, ro.body.code, ro.body.details.field], [422, 'IIP_ERR_RULE_READ_ONLY', 'actions[0].property']);
    const bad = await tp.api<Refusal>('POST', '/api/v1/rules/validate', { id: 'r-bad', scope: { product: 'sensor' }, when: { threshold: { property: 'temperature', op: '>', value: 1 } }, actions: [{ type: 'write', property: 'note', value: 'far too long for sixteen' }] });
    assert.deepEqual([bad.status, bad.body.code, bad.body.details.field], [422, 'IIP_ERR_RULE_TYPE', 'actions[0].value']);
    assert.equal((await tp.api('GET', '/api/v1/rules/r-loop')).status, 404, 'nothing was stored');
  });

  test('e-mail without an SMTP server is refused when saved', async () => {
    const bare = await startTestPlatform();
    try {
      const r = await bare.api<{ code: string; details: { field: string } }>('POST', '/api/v1/rules', {
        id: 'r-mail',
        scope: { product: 'sensor' },
        when: { threshold: { property: 'temperature', op: '>', value: 1 } },
        actions: [{ type: 'publish', topic: 'x' }, { type: 'email', to: 'ops@factory.example' }],
      });
      assert.deepEqual([r.status, r.body.code, r.body.details.field], [422, 'IIP_ERR_RULE_ACTION_UNAVAILABLE', 'actions[1]']);
    } finally {
      await bare.close();
    }
  });
});
