import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RULE_ACTIONS_DICTIONARY, ruleActionsErrorText, ruleActionsKey, ruleActionsText } from '../src/rule-actions/rule-actions-i18n.ts';
import {
  ACTION_KINDS,
  actionDetail,
  actionSummary,
  actionTarget,
  canRetry,
  countFor,
  cursorOf,
  delaySuffix,
  errorParts,
  isOlder,
  JOB_STATES,
  listPath,
  nextCursor,
  type RuleActionJob,
  STATE_FILTERS,
  valueLiteral,
  withOlder,
} from '../src/rule-actions/rule-actions-model.ts';

function job(id: string, createdAt: number, over: Partial<RuleActionJob> = {}): RuleActionJob {
  return {
    id,
    rule: 'hot',
    device: 'm1',
    kind: 'webhook',
    state: 'done',
    attempts: 1,
    dueAt: createdAt,
    createdAt,
    updatedAt: createdAt,
    lastError: null,
    action: { type: 'webhook', url: 'https://mes.example.com/hooks/alarm', on: ['raise'], delayMs: 0 },
    notice: { transition: 'raise', ts: createdAt },
    ...over,
  };
}

test('an action in one short line, as the stored (checked) action has it', () => {
  assert.equal(actionSummary({ type: 'webhook', url: 'https://mes.example.com/hooks/alarm?x=1', headers: {} }), 'webhook → mes.example.com');
  assert.equal(actionSummary({ type: 'webhook', url: 'http://127.0.0.1:8123/hook' }), 'webhook → 127.0.0.1:8123');
  assert.equal(actionSummary({ type: 'email', to: ['a@example.com', 'b@example.com'], subject: null }), 'email → 2 recipients');
  assert.equal(actionSummary({ type: 'email', to: ['ops@example.com'], subject: null }), 'email → ops@example.com');
  assert.equal(actionSummary({ type: 'write', property: 'note', value: 'x' }), "write note = 'x'");
  assert.equal(actionSummary({ type: 'write', property: 'coolantValve', value: true }), 'write coolantValve = true');
  assert.equal(actionSummary({ type: 'write', property: 'speed', value: 12.5 }), 'write speed = 12.5');
  assert.equal(actionSummary({ type: 'invoke', service: 'stop', inputs: { mode: 'controlled' } }), "invoke stop(mode: 'controlled')");
  assert.equal(actionSummary({ type: 'invoke', service: 'reset', inputs: {} }), 'invoke reset()');
  assert.equal(actionSummary({ type: 'invoke', service: 's', inputs: { a: 1, b: 2, c: 3 } }), 'invoke s(a: 1, b: 2, …)');
  assert.equal(actionSummary({ type: 'publish', topic: 'alerts/hot' }), 'publish rules/alerts/hot');
  // A delayed action says how long it waits.
  assert.equal(actionSummary({ type: 'publish', topic: 'alerts/hot', delayMs: 120_000 }), 'publish rules/alerts/hot ⏱2m');
  assert.equal(delaySuffix({ type: 'publish', delayMs: 90_000 }), ' ⏱90s');
  assert.equal(delaySuffix({ type: 'publish', delayMs: 0 }), '');
  // The job's kind stands in when the action is missing, or of a kind this console does not know.
  assert.equal(actionSummary(null, 'webhook'), 'webhook');
  assert.equal(actionSummary({ type: 'sms', to: ['+86…'] }), 'sms');
  assert.equal(actionSummary(null), '—');
});

test('the recipients count is in the chosen language; the rest of the line is the same in both', () => {
  assert.equal(actionTarget({ type: 'email', to: ['a@x.cn', 'b@x.cn', 'c@x.cn'] }, 'zh'), '→ 3 个收件人');
  assert.equal(actionTarget({ type: 'email', to: ['a@x.cn', 'b@x.cn', 'c@x.cn'] }, 'en'), '→ 3 recipients');
  assert.equal(actionTarget({ type: 'webhook', url: 'https://h.example.cn/a' }, 'zh'), '→ h.example.cn');
  assert.equal(actionTarget({ type: 'webhook', url: 'not a url' }), '→ not a url');
  assert.equal(actionTarget(null), '');
  assert.equal(actionSummary({ type: 'email', to: ['a@x.cn', 'b@x.cn'] }, undefined, 'zh'), 'email → 2 个收件人');
});

test('values are written as typed: text quoted (quotes escaped), long ones cut short', () => {
  assert.equal(valueLiteral("it's"), "'it\\'s'");
  assert.equal(valueLiteral(null), 'null');
  assert.equal(valueLiteral([1, 2]), '[1,2]');
  const long = valueLiteral('x'.repeat(100));
  assert.equal(long.length, 40);
  assert.ok(long.endsWith('…'));
});

test('the tooltip holds what the short line leaves out', () => {
  assert.equal(actionDetail({ type: 'webhook', url: 'https://mes.example.com/hooks/alarm' }), 'https://mes.example.com/hooks/alarm');
  assert.equal(actionDetail({ type: 'email', to: ['a@x.cn', 'b@x.cn'], subject: 'Hot' }), 'a@x.cn, b@x.cn — Hot');
  assert.equal(actionDetail({ type: 'write', property: 'p', value: 1 }), '{"type":"write","property":"p","value":1}');
  assert.equal(actionDetail(null), '');
});

test('the last error splits into its IIP_ERR_* code and the text', () => {
  assert.deepEqual(errorParts('IIP_ERR_ACTION_HTTP_STATUS: http://127.0.0.1:9/hook answered 404 (not retried: a 4xx other than 408/429)'), {
    code: 'IIP_ERR_ACTION_HTTP_STATUS',
    text: 'http://127.0.0.1:9/hook answered 404 (not retried: a 4xx other than 408/429)',
  });
  assert.deepEqual(errorParts('IIP_ERR_ACTION_SMTP: 550 no such user\nsecond line'), { code: 'IIP_ERR_ACTION_SMTP', text: '550 no such user\nsecond line' });
  assert.deepEqual(errorParts('something odd happened'), { code: '', text: 'something odd happened' });
  assert.equal(errorParts(null), undefined);
  assert.equal(errorParts(''), undefined);
});

test('the list path carries the filter and the cursor; ids with ":" are encoded', () => {
  assert.equal(listPath({ limit: 50 }), '/rule-actions?limit=50');
  assert.equal(listPath({ state: 'dead', limit: 50, before: '1700000000000:hot:m1:raise:1:0' }), '/rule-actions?limit=50&state=dead&before=1700000000000%3Ahot%3Am1%3Araise%3A1%3A0');
  assert.equal(listPath({ rule: 'a b', device: 'd', limit: 5000 }), '/rule-actions?limit=1000&rule=a+b&device=d');
  assert.equal(listPath({ limit: 0 }), '/rule-actions?limit=1');
});

test('paging: the cursor of the last row, only while the pages come full', () => {
  const rows = [job('b', 20), job('a', 20), job('c', 10)];
  assert.equal(cursorOf(job('hot:m1:raise:5:0', 7)), '7:hot:m1:raise:5:0');
  assert.equal(nextCursor(rows, 3, 3), '10:c');
  assert.equal(nextCursor(rows, 2, 3), undefined);
  assert.equal(nextCursor([], 0, 3), undefined);
  // The platform's order: createdAt descending, then id descending.
  assert.equal(isOlder(job('a', 20), job('b', 20)), true);
  assert.equal(isOlder(job('b', 20), job('a', 20)), false);
  assert.equal(isOlder(job('z', 10), job('a', 20)), true);
  assert.equal(isOlder(job('a', 20), job('a', 20)), false);
});

test('older rows join the refreshed head without repeats, the head having the newer state', () => {
  const head = [job('d', 40), job('c', 30, { state: 'done' })];
  const older = [job('c', 30, { state: 'dead' }), job('b', 20), job('a', 10)];
  assert.deepEqual(
    withOlder(head, older).map((j) => `${j.id}/${j.state}`),
    ['d/done', 'c/done', 'b/done', 'a/done'],
  );
  // A refresh read deep enough to hold them all: nothing of the older pages is shown twice.
  const deep = [job('e', 50), job('d', 40), job('c', 30), job('b', 20), job('a', 10)];
  assert.deepEqual(
    withOlder(deep, older).map((j) => j.id),
    ['e', 'd', 'c', 'b', 'a'],
  );
  // Rows newer than the head's end that are not in it (deleted meanwhile) are not brought back.
  assert.deepEqual(
    withOlder([job('d', 40), job('b', 20)], [job('c', 30), job('a', 10)]).map((j) => j.id),
    ['d', 'b', 'a'],
  );
  assert.deepEqual(
    withOlder([], older).map((j) => j.id),
    ['c', 'b', 'a'],
  );
});

test('filter counts: all is the sum; nothing before the first answer', () => {
  const counts = { pending: 2, done: 5, dead: 1 };
  assert.deepEqual(
    STATE_FILTERS.map((f) => countFor(counts, f)),
    [8, 2, 5, 1],
  );
  assert.equal(countFor(undefined, 'dead'), undefined);
});

test('only a dead delivery is retried, and only by someone who may edit rules', () => {
  assert.equal(canRetry({ state: 'dead' }, true), true);
  assert.equal(canRetry({ state: 'dead' }, false), false);
  assert.equal(canRetry({ state: 'pending' }, true), false);
  assert.equal(canRetry({ state: 'done' }, true), false);
});

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('the panel speaks English and Chinese: same keys, same placeholders, nothing empty, Chinese in Chinese', () => {
  const { en, zh } = RULE_ACTIONS_DICTIONARY;
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(en)) {
    const z = zh[k as keyof typeof en];
    assert.ok(v.trim() && z.trim(), `${k} is empty`);
    assert.deepEqual(placeholders(z), placeholders(v), `${k} placeholders`);
    assert.match(z, /[\u4e00-\u9fff]/, `zh:${k} is not Chinese`);
  }
  // Every kind, state and transition the platform sends has its words.
  for (const k of ACTION_KINDS) assert.ok(ruleActionsKey(`kind.${k}`), `kind.${k}`);
  for (const s of JOB_STATES) assert.ok(ruleActionsKey(`state.${s}`) && ruleActionsKey(`filter.${s}`), `state.${s}`);
  for (const tr of ['raise', 'clear']) assert.ok(ruleActionsKey(`transition.${tr}`), `transition.${tr}`);
  assert.equal(ruleActionsText('en', 'title'), 'Deliveries');
  assert.equal(ruleActionsText('zh', 'title'), '动作投递');
  assert.equal(ruleActionsText('en', 'count', { shown: 3, total: 9 }), '3 of 9 shown, newest first.');
  assert.equal(ruleActionsText('zh', 'retried', {}), '投递 {id} 已重新排队，几秒内会再次尝试。');
  assert.match(ruleActionsErrorText('zh', 'IIP_ERR_CONFLICT') ?? '', /死信/);
  assert.equal(ruleActionsErrorText('en', 'IIP_ERR_SOMETHING_ELSE'), undefined);
});
