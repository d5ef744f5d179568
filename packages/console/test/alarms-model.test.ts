import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALARMS_DICTIONARY, alarmsErrorText, alarmsText } from '../src/alarms/alarms-i18n.ts';
import {
  type AlarmItem,
  alarmsApi,
  alarmsCsv,
  assigneeChoices,
  annunciationKeys,
  bannerSummary,
  conditionSummary,
  csvField,
  editableJson,
  filterAndSort,
  ISA_STATES,
  newlyAnnunciated,
  parseRuleJson,
  SEVERITIES,
} from '../src/alarms/alarms-model.ts';
import type { ApiClient } from '../src/api-client.ts';
import { parseRoute, routeHref } from '../src/route.ts';

function alarm(id: string, over: Partial<AlarmItem> = {}): AlarmItem {
  return {
    id,
    rule: 'hot',
    ruleName: 'Too hot / 过热',
    device: 'm1',
    severity: 'medium',
    message: 'too hot',
    open: true,
    isaState: 'unacked',
    active: true,
    acked: false,
    latched: false,
    shelving: { kind: 'unshelved' },
    suppressed: false,
    outOfService: false,
    activeSince: 1_000,
    activations: 1,
    lastAction: null,
    assignee: null,
    raisedAt: 1_000,
    updatedAt: 1_000,
    version: 1,
    ...over,
  };
}

test('the banner counts unacked, returned-unacknowledged and latched alarms, coloured by the most severe of them', () => {
  const items = [
    alarm('a', { isaState: 'acked', severity: 'critical' }),
    alarm('b', { isaState: 'unacked', severity: 'low' }),
    alarm('c', { isaState: 'rtn-unacked', severity: 'high' }),
    alarm('d', { isaState: 'latched', severity: 'medium' }),
    alarm('e', { isaState: 'shelved', severity: 'critical' }),
    alarm('f', { isaState: 'out-of-service', severity: 'critical' }),
  ];
  assert.deepEqual(bannerSummary(items), { count: 3, severity: 'high' });
  assert.deepEqual(bannerSummary([alarm('x', { isaState: 'acked' })]), { count: 0, severity: undefined });
});

test('a beep for an alarm that newly waits, not for what was there at the first look; a new activation is new', () => {
  const first = annunciationKeys([alarm('a')]);
  assert.equal(newlyAnnunciated(undefined, first), false);
  assert.equal(newlyAnnunciated(first, annunciationKeys([alarm('a')])), false);
  assert.equal(newlyAnnunciated(first, annunciationKeys([alarm('a'), alarm('b')])), true);
  assert.equal(newlyAnnunciated(first, annunciationKeys([alarm('a', { activations: 2 })])), true);
  assert.equal(newlyAnnunciated(first, annunciationKeys([alarm('a', { isaState: 'acked' })])), false);
});

test('the open list filters by severity and state and sorts by time or severity', () => {
  const items = [
    alarm('old-crit', { severity: 'critical', activeSince: 100 }),
    alarm('new-low', { severity: 'low', activeSince: 300 }),
    alarm('mid-high', { severity: 'high', activeSince: 200, isaState: 'acked' }),
    alarm('inactive', { severity: 'high', activeSince: null, raisedAt: 250, isaState: 'rtn-unacked' }),
  ];
  const ids = (xs: AlarmItem[]) => xs.map((a) => a.id);
  assert.deepEqual(ids(filterAndSort(items, { severity: '', state: '', sort: 'time' })), ['new-low', 'inactive', 'mid-high', 'old-crit']);
  assert.deepEqual(ids(filterAndSort(items, { severity: '', state: '', sort: 'severity' })), ['old-crit', 'inactive', 'mid-high', 'new-low']);
  assert.deepEqual(ids(filterAndSort(items, { severity: 'high', state: '', sort: 'time' })), ['inactive', 'mid-high']);
  assert.deepEqual(ids(filterAndSort(items, { severity: '', state: 'acked', sort: 'time' })), ['mid-high']);
  assert.equal(items[0]?.id, 'old-crit', 'the input is not reordered');
});

test('"assigned to me" keeps the alarms assigned to that user, with the other filters and the sort', () => {
  const items = [
    alarm('mine-old', { assignee: 'ana', activeSince: 100 }),
    alarm('theirs', { assignee: 'bo', activeSince: 200 }),
    alarm('nobodys', { activeSince: 300 }),
    alarm('mine-new', { assignee: 'ana', activeSince: 400, severity: 'low' }),
  ];
  const ids = (xs: AlarmItem[]) => xs.map((a) => a.id);
  assert.deepEqual(ids(filterAndSort(items, { severity: '', state: '', sort: 'time', assignedTo: 'ana' })), ['mine-new', 'mine-old']);
  assert.deepEqual(ids(filterAndSort(items, { severity: 'low', state: '', sort: 'time', assignedTo: 'ana' })), ['mine-new']);
  assert.deepEqual(ids(filterAndSort(items, { severity: '', state: '', sort: 'time', assignedTo: 'cy' })), []);
  assert.equal(filterAndSort(items, { severity: '', state: '', sort: 'time', assignedTo: '' }).length, 4, 'empty: anyone');
});

test('the Assign picker offers people who can sign in, sorted, and keeps the current assignee', () => {
  const users = [
    { username: 'zoe', kind: 'person', disabled: false },
    { username: 'etl-bot', kind: 'service', disabled: false },
    { username: 'gone', kind: 'person', disabled: true },
    { username: 'admin', disabled: false },
  ];
  assert.deepEqual(assigneeChoices(users, null), ['admin', 'zoe']);
  assert.deepEqual(assigneeChoices(users, 'gone'), ['admin', 'gone', 'zoe']);
  assert.deepEqual(assigneeChoices(users, 'zoe'), ['admin', 'zoe']);
  assert.deepEqual(assigneeChoices([], null), []);
});

test('an assignment is POSTed as {assignee, comment?}; null assigns to nobody', async () => {
  const calls: Array<[string, string, unknown]> = [];
  const api = {
    call: async (method: string, path: string, body?: unknown) => {
      calls.push([method, path, body]);
      return alarm('a/1');
    },
  } as unknown as ApiClient;
  await alarmsApi.act(api, 'a/1', { type: 'assign', assignee: 'ana', comment: ' on it ' });
  await alarmsApi.act(api, 'a/1', { type: 'assign', assignee: null, comment: '  ' });
  await alarmsApi.act(api, 'a/1', { type: 'ack' });
  assert.deepEqual(calls, [
    ['POST', '/alarms/a%2F1/assign', { assignee: 'ana', comment: 'on it' }],
    ['POST', '/alarms/a%2F1/assign', { assignee: null }],
    ['POST', '/alarms/a%2F1/ack', {}],
  ]);
});

test('CSV: the documented columns, quoted fields, formulas defused, ISO times', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a, "b"'), '"a, ""b"""');
  assert.equal(csvField('=SUM(A1)'), "'=SUM(A1)");
  const csv = alarmsCsv([alarm('a', { message: 'hot, very', raisedAt: Date.UTC(2025, 0, 2, 3, 4, 5), updatedAt: Date.UTC(2025, 0, 2, 3, 5, 0), isaState: 'normal' })]);
  assert.equal(csv, 'raised,device,rule,severity,message,state,last change\r\n2025-01-02T03:04:05.000Z,m1,hot,medium,"hot, very",normal,2025-01-02T03:05:00.000Z\r\n');
});

test('a rule condition in one line; the editor shows the document without what the platform adds', () => {
  assert.equal(conditionSummary({ id: 'r', when: { threshold: { property: 't', op: '>', value: 80, deadband: 2 }, for: '1m', count: 3 } }), 't > 80 ±2 ⏱1m ×3');
  assert.equal(conditionSummary({ id: 'r', when: { expression: 'running && t > 80' } }), 'running && t > 80');
  assert.equal(conditionSummary({ id: 'r', when: { window: { property: 't', fn: 'avg', sizeMs: 300_000, kind: 'sliding', op: '>', value: 80 } } }), 'avg(t, 5m) > 80');
  assert.equal(conditionSummary({ id: 'r', when: { window: { property: 't', fn: 'max', size: '1h', kind: 'tumbling', op: '>=', value: 9, deadband: 1 } } }), 'max(t, 1h, tumbling) >= 9 ±1');
  assert.equal(conditionSummary({ id: 'r', when: { rate: { property: 't', perMs: 60_000, op: '>', value: 5 }, forMs: 30_000 } }), 'Δt/1m > 5 ⏱30s');
  assert.equal(conditionSummary({ id: 'r', when: { event: { event: 'overheat', where: 'temperature > 90.0', clearOn: 'cooled' } } }), '⚡overheat [temperature > 90.0] → cooled');
  // As the platform stores it: `forMs`, deadband 0, count 1.
  assert.equal(conditionSummary({ id: 'r', when: { threshold: { property: 't', op: '<=', value: 5, deadband: 0 }, forMs: 90_000, count: 1 } }), 't <= 5 ⏱90s');
  assert.equal(conditionSummary({ id: 'r', when: { expression: 'x', forMs: 0 } }), 'x');
  assert.deepEqual(JSON.parse(editableJson({ id: 'r', version: 3, updatedAt: 5, updatedBy: 'admin', name: 'R' })), { id: 'r', name: 'R' });
  assert.deepEqual(parseRuleJson('{"id":"r"}'), { ok: true, doc: { id: 'r' } });
  assert.equal(parseRuleJson('{"id":').ok, false);
  assert.equal(parseRuleJson('[1]').ok, false);
});

test('routes #/alarms and #/rules', () => {
  assert.deepEqual(parseRoute('#/alarms'), { kind: 'alarms' });
  assert.deepEqual(parseRoute('#/rules?x=1'), { kind: 'rules' });
  assert.equal(routeHref({ kind: 'alarms' }), '#/alarms');
  assert.equal(routeHref({ kind: 'rules' }), '#/rules');
});

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('the alarm and rule pages’ dictionary: same keys, same placeholders, nothing empty, Chinese in Chinese', () => {
  const keys = Object.keys(ALARMS_DICTIONARY.en).sort();
  assert.deepEqual(Object.keys(ALARMS_DICTIONARY.zh).sort(), keys);
  for (const k of keys as Array<keyof typeof ALARMS_DICTIONARY.en>) {
    assert.ok(ALARMS_DICTIONARY.en[k].trim() && ALARMS_DICTIONARY.zh[k].trim(), `${k} is empty`);
    assert.deepEqual(placeholders(ALARMS_DICTIONARY.zh[k]), placeholders(ALARMS_DICTIONARY.en[k]), `${k} placeholders`);
    // Column headers "ID" stay Latin in both.
    if (k !== 'rules.col.id') assert.match(ALARMS_DICTIONARY.zh[k], /[\u4e00-\u9fff]/, `${k} is not Chinese`);
  }
  // Every state and severity the pages can show has words in both languages.
  for (const s of ISA_STATES) assert.ok(Object.hasOwn(ALARMS_DICTIONARY.en, `state.${s}`), `state.${s}`);
  for (const s of SEVERITIES) assert.ok(Object.hasOwn(ALARMS_DICTIONARY.en, `severity.${s}`), `severity.${s}`);
  assert.equal(alarmsText('zh', 'state.unacked'), '未确认');
  assert.equal(alarmsText('en', 'state.unacked'), 'Unacknowledged');
  assert.deepEqual([alarmsText('en', 'col.assignee'), alarmsText('zh', 'col.assignee')], ['Assignee', '处理人']);
  assert.deepEqual([alarmsText('en', 'act.assign'), alarmsText('zh', 'act.assign'), alarmsText('zh', 'assign.nobody')], ['Assign', '指派', '无人']);
  assert.ok(Object.hasOwn(ALARMS_DICTIONARY.en, 'action.assign'), 'the history names assign entries');
  assert.equal(alarmsText('en', 'open.count', { shown: 1, total: 2 }), '1 of 2 open alarms shown.');
  assert.match(alarmsErrorText('zh', 'IIP_ERR_ALARM_NOT_ACKABLE') ?? '', /确认/);
  assert.equal(alarmsErrorText('en', 'IIP_ERR_SOMETHING'), undefined);
});
