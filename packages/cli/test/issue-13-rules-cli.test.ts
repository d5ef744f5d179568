/**
 * Issue 13 from the command line, against a real running platform: `iip rule check|apply|list|show|delete` with
 * JSON and YAML files, telemetry through HTTP ingest raising an alarm, and `iip alarm list|ack|show|shelve`.
 * Commands run through `main` as bin/iip.mjs runs them (and once as a real process, for a rule on stdin).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { type Platform, startPlatform } from '@iip/server';
import { tempDir, waitFor } from '@iip/testkit';
import { iip, iipProcess, json, ok, refused, } from './harness.js';

let platform: Platform;
let dir: { path: string; cleanup(): Promise<void> };
let secret = '';
const ADMIN_PASSWORD = 'cobalt-river-lantern-42';

before(async () => {
  dir = await tempDir('iip-cli-rules-');
  platform = await startPlatform({ dataDir: `${dir.path}/data`, httpPort: 0, mqttPort: 0, adminPassword: ADMIN_PASSWORD, consoleDir: '/nonexistent' });
  await platform.registry.createProduct('default' as never, {
    id: 'oven',
    model: { properties: [{ id: 't', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] },
  });
  secret = (await platform.registry.createDevice('default' as never, { id: 'oven-1', product: 'oven' })).secret;
  process.env.IIP_URL = platform.httpUrl;
  process.env.IIP_PASSWORD = ADMIN_PASSWORD;
  delete process.env.IIP_USERNAME;
  delete process.env.IIP_TENANT;
  delete process.env.IIP_TOKEN;
});
after(async () => {
  await platform?.close();
  await dir?.cleanup();
});

interface RuleOut {
  id: string;
  version: number;
  name: string;
  when: { threshold?: { property: string; op: string; value: number; deadband: number }; forMs: number; count: number };
  alarm: { severity: string; message: string; latching: boolean };
}
interface AlarmOut {
  id: string;
  rule: string;
  device: string;
  severity: string;
  isaState: string;
  open: boolean;
  history?: Array<{ type: string; user: string | null; comment: string | null; isaState: string }>;
}

test('iip rule check refuses an unknown property with its code and field (exit 1), and shows the defaults of a good rule', async () => {
  const bad = `${dir.path}/bad.json`;
  await writeFile(bad, JSON.stringify({ id: 'hot', scope: { product: 'oven' }, when: { threshold: { property: 'pressure', op: '>', value: 1 } } }));
  const r = await iip('rule', 'check', '-f', bad);
  refused(r, 'IIP_ERR_RULE_UNKNOWN_PROPERTY');
  assert.match(r.err, /field \/ 字段: when\.threshold\.property/);
  assert.match(r.err, /pressure/);

  // An expression that does not parse: the position, with a caret under the expression.
  const expr = `${dir.path}/expr.yaml`;
  await writeFile(expr, 'id: hot\nscope: { product: oven }\nwhen:\n  expression: "t > 80 &&"\n');
  const e = await iip('rule', 'check', '-f', expr);
  refused(e, 'IIP_ERR_RULE_EXPRESSION');
  assert.match(e.err, /field \/ 字段: when\.expression/);

  const good = `${dir.path}/good.yaml`;
  await writeFile(good, 'id: hot\nscope:\n  product: oven\nwhen:\n  threshold: { property: t, op: ">", value: 80 }\n');
  const c = json<RuleOut & { properties: string[] }>(await iip('rule', 'check', '-f', good, '--json'));
  assert.deepEqual([c.name, c.alarm.severity, c.when.forMs, c.when.count, c.properties], ['hot', 'medium', 0, 1, ['t']]);
  assert.equal(json<{ items: unknown[] }>(await iip('rule', 'list', '--json')).items.length, 0, 'check saves nothing');

  // A file that is not a rule file at all: a usage error, nothing sent.
  await writeFile(`${dir.path}/broken.json`, '{"id": ');
  assert.equal((await iip('rule', 'check', '-f', `${dir.path}/broken.json`)).code, 2);
  assert.equal((await iip('rule', 'check')).code, 2, '-f is required');
});

test('rules applied from JSON then YAML, telemetry raises an alarm, the operator acknowledges it; shelving over 24 h is refused', async () => {
  const first = `${dir.path}/hot.json`;
  await writeFile(
    first,
    JSON.stringify({ id: 'oven-hot', name: 'Oven hot / 烤箱过热', scope: { product: 'oven' }, when: { threshold: { property: 't', op: '>', value: 80 } }, alarm: { severity: 'medium', message: 'above 80' } }),
  );
  const created = ok(await iip('rule', 'apply', '-f', first));
  assert.match(created.out, /Created rule \/ 已创建规则 oven-hot \(version \/ 版本 1\)/);

  // The YAML file changes it (a list of one): replaced with the version read, so version 2.
  const second = `${dir.path}/hot.yaml`;
  await writeFile(
    second,
    ['- id: oven-hot', '  name: Oven hot / 烤箱过热', '  scope:', '    product: oven', '  when:', '    threshold: { property: t, op: ">", value: 90, deadband: 2 }', '  alarm:', '    severity: high', '    message: Oven above 90 °C', ''].join('\n'),
  );
  const replaced = json<Array<RuleOut & { created: boolean }>>(await iip('rule', 'apply', '-f', second, '--json'));
  assert.equal(replaced.length, 1);
  assert.deepEqual([replaced[0]?.version, replaced[0]?.created, replaced[0]?.when.threshold?.value, replaced[0]?.alarm.severity], [2, false, 90, 'high']);

  const list = ok(await iip('rule', 'list'));
  assert.match(list.out, /^ID\s+PRODUCT\s+ASSET\s+CONDITION/);
  assert.match(list.out, /oven-hot\s+oven\s+-\s+t > 90 \(deadband 2\)\s+high\s+yes\s+2/);
  assert.match(list.out, /1 rules/);
  const shown = json<RuleOut>(await iip('rule', 'show', 'oven-hot', '--json'));
  assert.equal(shown.version, 2);

  // What `rule show --json` prints can be applied again (version 3).
  await writeFile(`${dir.path}/shown.json`, JSON.stringify(shown));
  assert.match(ok(await iip('rule', 'apply', '-f', `${dir.path}/shown.json`)).out, /Replaced rule \/ 已替换规则 oven-hot \(version \/ 版本 3\)/);

  const ingest = await fetch(`${platform.httpUrl}/api/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/oven-1:${secret}`).toString('base64')}` },
    body: JSON.stringify({ ts: Date.now(), values: { t: 95 } }),
  });
  assert.equal(ingest.status, 202, await ingest.text());

  let alarms: AlarmOut[] = [];
  await waitFor(async () => {
    alarms = json<{ items: AlarmOut[] }>(await iip('alarm', 'list', '--open', '--json')).items;
    return alarms.length > 0;
  }, 'the alarm of oven-1');
  assert.equal(alarms.length, 1);
  const a = alarms[0] as AlarmOut;
  assert.deepEqual([a.rule, a.device, a.severity, a.isaState, a.open], ['oven-hot', 'oven-1', 'high', 'unacked', true]);
  const table = ok(await iip('alarm', 'list', '--severity', 'high', '--device', 'oven-1', '--rule', 'oven-hot'));
  assert.match(table.out, /^ID\s+RAISED\s+SEVERITY\s+STATE\s+DEVICE\s+RULE\s+MESSAGE/);
  assert.match(table.out, new RegExp(`${a.id}\\s+\\S+Z\\s+high\\s+unacked\\s+oven-1\\s+oven-hot\\s+Oven above 90 °C`));
  assert.equal(json<{ items: AlarmOut[] }>(await iip('alarm', 'list', '--severity', 'low', '--json')).items.length, 0);

  const acked = ok(await iip('alarm', 'ack', a.id, '--comment', 'door was open'));
  assert.match(acked.out, new RegExp(`Acknowledged / 已确认 ${a.id}: acked`));
  refused(await iip('alarm', 'ack', a.id), 'IIP_ERR_ALARM_NOT_ACKABLE');

  // Assigned to a user of the tenant (not to a name nobody has), in the history, shown; and back to nobody.
  assert.match(ok(await iip('alarm', 'assign', a.id, 'admin', '--comment', 'check the door seal')).out, new RegExp(`Assigned to admin / 已指派给 admin: ${a.id}: acked`));
  const nobody = await iip('alarm', 'assign', a.id, 'no-such-user');
  refused(nobody, 'IIP_ERR_VALIDATION');
  assert.match(nobody.err, /no user "no-such-user" in this tenant/);
  assert.equal((await iip('alarm', 'assign', a.id)).code, 2, 'neither a user nor --nobody');
  const shown2 = ok(await iip('alarm', 'show', a.id));
  assert.match(shown2.out, /history \/ 历史:/);
  assert.match(shown2.out, /\s+ack\s+admin\s+acked\s+door was open/);
  assert.match(shown2.out, /assignee \/ 处理人: admin/);
  assert.match(ok(await iip('alarm', 'assign', a.id, '--nobody')).out, /Unassigned \/ 已取消指派/);
  const detail = json<AlarmOut>(await iip('alarm', 'show', a.id, '--json'));
  assert.deepEqual(
    detail.history?.map((h) => [h.type, h.user, h.comment, h.isaState]),
    [
      ['activate', null, null, 'unacked'],
      ['ack', 'admin', 'door was open', 'acked'],
      ['assign', 'admin', 'check the door seal', 'acked'],
      ['assign', 'admin', null, 'acked'],
    ],
  );

  const tooLong = await iip('alarm', 'shelve', a.id, '--for', '48h');
  refused(tooLong, 'IIP_ERR_ALARM_SHELVE_DURATION');
  assert.equal((await iip('alarm', 'shelve', a.id)).code, 2, 'neither --for nor --one-shot');
  assert.equal((await iip('alarm', 'shelve', a.id, '--for', 'soon')).code, 2);
  const shelved = json<AlarmOut>(await iip('alarm', 'shelve', a.id, '--for', '15m', '--comment', 'maintenance', '--json'));
  assert.equal(shelved.isaState, 'shelved');
  assert.match(ok(await iip('alarm', 'unshelve', a.id)).out, /: acked/);
  assert.match(ok(await iip('alarm', 'out-of-service', a.id)).out, /: out-of-service/);
  refused(await iip('alarm', 'out-of-service', a.id), 'IIP_ERR_ALARM_OUT_OF_SERVICE');
  assert.match(ok(await iip('alarm', 'return-to-service', a.id)).out, /: acked/);

  assert.match(ok(await iip('rule', 'delete', 'oven-hot')).out, /Deleted rule \/ 已删除规则 oven-hot/);
  refused(await iip('rule', 'show', 'oven-hot'), 'IIP_ERR_NOT_FOUND');
  assert.equal(json<{ items: AlarmOut[] }>(await iip('alarm', 'list', '--json')).items.length, 1, 'its alarm stays');
});

test('a rule on standard input (-f -) in a real process: YAML with several documents', async () => {
  const yaml = ['id: cold', 'scope: { product: oven }', 'when: { threshold: { property: t, op: "<", value: 5 } }', '---', 'id: warm', 'scope: { product: oven }', 'when: { expression: "t > 40" }', ''].join('\n');
  const r = await iipProcess(['rule', 'apply', '-f', '-'], yaml);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Created rule \/ 已创建规则 cold \(version \/ 版本 1\)\nCreated rule \/ 已创建规则 warm \(version \/ 版本 1\)/);
  const ids = json<{ items: Array<{ id: string }> }>(await iip('rule', 'list', '--json')).items.map((x) => x.id);
  assert.deepEqual(ids.sort(), ['cold', 'warm']);
});

test('iip rule actions lists a dead-lettered webhook with its code, iip rule retry sends it again, iip rule signing-secret prints the secret', async () => {
  const { createServer } = await import('node:http');
  let calls = 0;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      res.statusCode = calls === 1 ? 410 : 204;
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/alarms`;
    await writeFile(`${dir.path}/hook.yaml`, `id: oven-hook\nscope: { product: oven }\nwhen: { threshold: { property: t, op: '>', value: 200 } }\nactions:\n  - { type: webhook, url: '${url}', delay: 0s }\n`);
    ok(await iip('rule', 'apply', '-f', `${dir.path}/hook.yaml`));
    assert.match(ok(await iip('rule', 'show', 'oven-hook')).out, /actions \/ 动作: {4}on raise: webhook http:\/\/127\.0\.0\.1:\d+\/alarms/);
    const ingest = await fetch(`${platform.httpUrl}/api/v1/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`default/oven-1:${secret}`).toString('base64')}` },
      body: JSON.stringify({ ts: Date.now(), values: { t: 250 } }),
    });
    assert.equal(ingest.status, 202, await ingest.text());
    type Delivery = { id: string; state: string; lastError: string | null; attempts: number };
    const dead = await waitFor(async () => json<{ items: Delivery[] }>(await iip('rule', 'actions', '--state', 'dead', '--rule', 'oven-hook', '--json')).items[0], 'the dead letter');
    assert.match(dead.lastError ?? '', /^IIP_ERR_ACTION_HTTP_STATUS: .* answered 410/);
    const listed = ok(await iip('rule', 'actions', '--rule', 'oven-hook')).out;
    assert.match(listed, /oven-hook +oven-1 +webhook +raise +dead +1 +IIP_ERR_ACTION_HTTP_STATUS/);
    assert.match(listed, /dead \/ 死信 1/);
    assert.match(ok(await iip('rule', 'retry', dead.id)).out, /Retrying \/ 正在重试 oven-hook:oven-1:raise:\d+:0 \(webhook/);
    await waitFor(async () => json<{ items: Delivery[] }>(await iip('rule', 'actions', '--rule', 'oven-hook', '--json')).items[0]?.state === 'done', 'the retried delivery to be done');
    assert.equal(calls, 2);
    refused(await iip('rule', 'retry', dead.id), 'IIP_ERR_CONFLICT');
    const usage = await iip('rule', 'actions', '--state', 'lost');
    assert.equal(usage.code, 2);
    assert.match(usage.err, /^IIP_ERR_CLI_USAGE: --state lost: pending, done or dead/);
    const s1 = ok(await iip('rule', 'signing-secret')).out.trim();
    assert.match(s1, /^[A-Za-z0-9_-]{43}$/);
    const s2 = ok(await iip('rule', 'signing-secret', '--rotate')).out;
    assert.match(s2, /^New signing secret \/ 新签名密钥: [A-Za-z0-9_-]{43}$/m);
    assert.ok(!s2.includes(s1), 'rotated');
  } finally {
    await new Promise<void>((r) => hook.close(() => r()));
  }
});

test('iip rule check shows window and rate conditions in a line', async () => {
  await writeFile(
    `${dir.path}/win.yaml`,
    `id: oven-avg\nscope: { product: oven }\nwhen: { window: { property: t, fn: avg, size: 5m, op: '>', value: 180, deadband: 5 } }\n---\nid: oven-rise\nscope: { product: oven }\nwhen: { rate: { property: t, per: 1m, op: '>', value: 10 }, for: 30s }\n`,
  );
  const out = ok(await iip('rule', 'check', '-f', `${dir.path}/win.yaml`)).out;
  assert.match(out, /when \/ 条件: {7}avg\(t\) over 5m > 180 \(deadband 5\)/);
  assert.match(out, /when \/ 条件: {7}rate\(t\) per 1m > 10 for 30s/);
  assert.match(out, /OK \/ 校验通过: 2 rules/);
});

test('iip rule check shows a no-data condition in a line, not "?"', async () => {
  await writeFile(`${dir.path}/quiet.yaml`, `id: oven-quiet\nscope: { product: oven }\nwhen: { noData: { after: 2m, property: t } }\n`);
  const out = ok(await iip('rule', 'check', '-f', `${dir.path}/quiet.yaml`)).out;
  assert.match(out, /when \/ 条件: {7}no data of t for 2m/);
});
