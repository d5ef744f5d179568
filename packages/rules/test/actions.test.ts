/**
 * Rule actions (issue 13, point 3): the format and its refusals, the loop check, the jobs a transition makes, and
 * the dispatcher over the real SQLite outbox — retries with backoff, dead letters, leases, kinds.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type DeviceId, IipError, type TenantId, type ThingModel } from '@iip/core';
import { ActionDispatcher, ActionFailure, type ActionPayload, actionJobs, compileRule, findRuleLoop, type Transition } from '@iip/rules';
import { openSqliteStorage } from '@iip/storage';
import { tempDir } from '@iip/testkit';
import fc from 'fast-check';

const PRESS: ThingModel = {
  properties: [
    { id: 'temp', dataType: { type: 'float' }, access: 'r' },
    { id: 'coolant', dataType: { type: 'bool' }, access: 'rw' },
    { id: 'setpoint', dataType: { type: 'float', min: 0, max: 200 }, access: 'rw' },
  ],
  events: [],
  services: [{ id: 'stop', inputs: [], outputs: [] }],
};

const base = { id: 'hot', scope: { product: 'press' }, when: { threshold: { property: 'temp', op: '>', value: 80 } } };

function refused(actions: unknown, code: string, field: string): void {
  assert.throws(
    () => compileRule({ ...base, actions }, PRESS),
    (e: unknown) => {
      assert.ok(e instanceof IipError, String(e));
      assert.equal(e.code, code, e.message);
      assert.equal(e.details.rule, 'hot');
      assert.equal(e.details.field, field, e.message);
      return true;
    },
  );
}

describe('rule actions: the format', () => {
  test('every kind with its defaults: on raise, no delay', () => {
    const c = compileRule(
      {
        ...base,
        actions: [
          { type: 'webhook', url: 'https://mes.example.com/hooks/alarm', headers: { 'X-Line': '2' } },
          { type: 'email', to: 'ops@example.com', subject: 'Press hot', on: ['raise', 'clear'] },
          { type: 'write', property: 'coolant', value: true, delay: '30s' },
          { type: 'invoke', service: 'stop', on: 'raise' },
          { type: 'publish', topic: 'alerts/hot', on: 'clear', delayMs: 500 },
        ],
      },
      PRESS,
    );
    assert.deepEqual(c.rule.actions, [
      { on: ['raise'], delayMs: 0, type: 'webhook', url: 'https://mes.example.com/hooks/alarm', headers: { 'X-Line': '2' } },
      { on: ['raise', 'clear'], delayMs: 0, type: 'email', to: ['ops@example.com'], subject: 'Press hot' },
      { on: ['raise'], delayMs: 30_000, type: 'write', property: 'coolant', value: true },
      { on: ['raise'], delayMs: 0, type: 'invoke', service: 'stop', inputs: {} },
      { on: ['clear'], delayMs: 500, type: 'publish', topic: 'alerts/hot' },
    ]);
  });

  test('bad actions are refused with a code naming the rule and the action’s field', () => {
    refused({ type: 'write' }, 'IIP_ERR_RULE_INVALID', 'actions');
    refused([{ type: 'fax' }], 'IIP_ERR_RULE_INVALID', 'actions[0].type');
    refused([{ type: 'write', property: 'temp', value: 1.5 }], 'IIP_ERR_RULE_READ_ONLY', 'actions[0].property');
    refused([{ type: 'write', property: 'pressure', value: 1 }], 'IIP_ERR_RULE_UNKNOWN_PROPERTY', 'actions[0].property');
    refused([{ type: 'write', property: 'coolant', value: 'yes' }], 'IIP_ERR_RULE_TYPE', 'actions[0].value');
    refused([{ type: 'write', property: 'setpoint', value: 500 }], 'IIP_ERR_RULE_TYPE', 'actions[0].value');
    refused([{ type: 'write', property: 'coolant' }], 'IIP_ERR_RULE_INVALID', 'actions[0].value');
    refused([{ type: 'webhook', url: 'ftp://example.com/x' }], 'IIP_ERR_RULE_INVALID', 'actions[0].url');
    refused([{ type: 'webhook', url: 'not a url' }], 'IIP_ERR_RULE_INVALID', 'actions[0].url');
    refused([{ type: 'webhook', url: 'https://x.example', headers: { 'X-IIP-Signature': 'forged' } }], 'IIP_ERR_RULE_INVALID', 'actions[0].headers.X-IIP-Signature');
    refused([{ type: 'webhook', url: 'https://x.example', headers: { 'X-A': 'a\r\nInjected: 1' } }], 'IIP_ERR_RULE_INVALID', 'actions[0].headers.X-A');
    refused([{ type: 'email', to: ['not-an-address'] }], 'IIP_ERR_RULE_INVALID', 'actions[0].to');
    refused([{ type: 'email', to: 'a@b.example', subject: 'two\nlines' }], 'IIP_ERR_RULE_INVALID', 'actions[0].subject');
    refused([{ type: 'invoke', service: 'explode' }], 'IIP_ERR_RULE_INVALID', 'actions[0].service');
    refused([{ type: 'publish', topic: '../commands/x' }], 'IIP_ERR_RULE_INVALID', 'actions[0].topic');
    refused([{ type: 'publish', topic: 'a/#' }], 'IIP_ERR_RULE_INVALID', 'actions[0].topic');
    refused([{ type: 'publish', topic: 'ok', on: 'always' }], 'IIP_ERR_RULE_INVALID', 'actions[0].on');
    refused([{ type: 'publish', topic: 'ok', delay: '2d' }], 'IIP_ERR_RULE_INVALID', 'actions[0].delay');
    refused([{ type: 'publish', topic: 'ok', color: 'red' }], 'IIP_ERR_RULE_INVALID', 'actions[0].color');
  });
});

describe('rule actions: the loop check', () => {
  const r = (id: string, reads: string[], writes: string[], product = 'press') => ({ id, product, reads, writes });

  test('a rule writing its own input, two and three rules in a ring; none across products or without writes', () => {
    assert.deepEqual(findRuleLoop([r('a', ['temp'], ['temp'])]), ['a', 'a']);
    assert.deepEqual(findRuleLoop([r('a', ['x'], ['y']), r('b', ['y'], ['x'])]), ['a', 'b', 'a']);
    assert.deepEqual(findRuleLoop([r('a', ['x'], ['y']), r('b', ['y'], ['z']), r('c', ['z'], ['x'])]), ['a', 'b', 'c', 'a']);
    assert.equal(findRuleLoop([r('a', ['x'], ['y']), r('b', ['y'], ['x'], 'other')]), null);
    assert.equal(findRuleLoop([r('a', ['x'], ['y']), r('b', ['y'], ['z']), r('c', ['z'], [])]), null);
  });

  test('finds a loop exactly when one rule can reach itself through writes and reads (against a transitive closure)', () => {
    const props = ['p0', 'p1', 'p2', 'p3'];
    const arbRule = fc.record({ reads: fc.subarray(props, { minLength: 1 }), writes: fc.subarray(props) });
    fc.assert(
      fc.property(fc.array(arbRule, { minLength: 1, maxLength: 6 }), (list) => {
        const rules = list.map((x, i) => r(`r${i}`, x.reads, x.writes));
        const n = rules.length;
        const reach = rules.map((a) => rules.map((b) => b.reads.some((p) => a.writes.includes(p))));
        for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (reach[i]?.[k] && reach[k]?.[j]) (reach[i] as boolean[])[j] = true;
        const expected = rules.some((_, i) => reach[i]?.[i]);
        const cycle = findRuleLoop(rules);
        assert.equal(cycle !== null, expected);
        if (cycle) {
          // A real cycle: it ends where it started, and each rule writes what the next one reads.
          assert.equal(cycle[0], cycle[cycle.length - 1]);
          for (let i = 0; i + 1 < cycle.length; i++) {
            const a = rules.find((x) => x.id === cycle[i]);
            const b = rules.find((x) => x.id === cycle[i + 1]);
            assert.ok(a && b?.reads.some((p) => a.writes.includes(p)));
          }
        }
      }),
    );
  });
});

function transition(kind: 'raise' | 'clear', ts: number, actions: unknown[]): Transition {
  return { tenant: 't1', rule: compileRule({ ...base, actions }, PRESS), device: 'press-1', kind, ts, values: { temp: 91.5 } };
}

describe('rule actions: jobs of a transition', () => {
  test('one job per action that runs on the transition, due after its delay, with an id that repeats for the same transition', () => {
    const actions = [
      { type: 'publish', topic: 'a' },
      { type: 'publish', topic: 'b', on: 'clear' },
      { type: 'write', property: 'coolant', value: true, delay: '1m', on: ['raise', 'clear'] },
    ];
    const jobs = actionJobs(transition('raise', 1_000, actions), 5_000);
    assert.deepEqual(
      jobs.map((j) => [j.id, j.kind, j.dueAt]),
      [
        ['hot:press-1:raise:1000:0', 'publish', 5_000],
        ['hot:press-1:raise:1000:2', 'write', 65_000],
      ],
    );
    const p = jobs[0]?.payload as ActionPayload;
    assert.deepEqual(p.notice, { tenant: 't1', rule: { id: 'hot', name: 'hot' }, device: 'press-1', transition: 'raise', ts: 1_000, severity: 'medium', message: 'hot', values: { temp: 91.5 } });
    assert.deepEqual(actionJobs(transition('raise', 1_000, actions), 9_999).map((j) => j.id), jobs.map((j) => j.id));
    assert.deepEqual(actionJobs(transition('clear', 2_000, actions), 0).map((j) => j.id), ['hot:press-1:clear:2000:1', 'hot:press-1:clear:2000:2']);
  });
});

describe('rule actions: the dispatcher over the SQLite outbox', () => {
  async function setup() {
    const dir = await tempDir('iip-actions-');
    const storage = openSqliteStorage({ file: join(dir.path, 'iip.db') });
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        await dir.cleanup();
      },
    };
  }

  test('done on success; a failure is retried with backoff, then dead-lettered with its code; a permanent one at once', async () => {
    const { storage, cleanup } = await setup();
    try {
      let now = 1_000_000;
      const calls: string[] = [];
      let failUntil = 2;
      const d = new ActionDispatcher(
        storage.actions,
        {
          publish: async (job) => {
            calls.push(job.id);
            if (job.id.startsWith('hot:press-1:raise:1:') && failUntil-- > 0) throw new ActionFailure('IIP_ERR_ACTION_NETWORK', 'connection refused', false);
            if (job.id.startsWith('hot:press-1:raise:2:')) throw new ActionFailure('IIP_ERR_ACTION_HTTP_STATUS', 'answered 404', true);
            if (job.id.startsWith('hot:press-1:raise:3:')) throw new Error('socket hang up');
          },
        },
        { now: () => now, maxAttempts: 3, backoffMs: (n) => n * 1_000 },
      );
      for (const ts of [1, 2, 3]) await storage.actions.enqueue(actionJobs(transition('raise', ts, [{ type: 'publish', topic: 'a' }]), now), now);
      await d.drain();
      assert.deepEqual(calls, ['hot:press-1:raise:1:0', 'hot:press-1:raise:2:0', 'hot:press-1:raise:3:0']);
      const t = 't1' as TenantId;
      assert.equal((await storage.actions.get(t, 'hot:press-1:raise:2:0'))?.state, 'dead', 'a 404 is not retried');
      assert.match((await storage.actions.get(t, 'hot:press-1:raise:2:0'))?.lastError ?? '', /^IIP_ERR_ACTION_HTTP_STATUS: answered 404/);
      const one = await storage.actions.get(t, 'hot:press-1:raise:1:0');
      assert.equal(one?.state, 'pending');
      assert.equal(one?.attempts, 1);
      assert.equal(one?.dueAt, now + 1_000, 'the first retry after 1 s');
      // Not due yet: nothing runs.
      await d.drain();
      assert.equal(calls.length, 3);
      now += 1_000;
      await d.drain();
      assert.equal((await storage.actions.get(t, 'hot:press-1:raise:1:0'))?.dueAt, now + 2_000, 'the second retry after 2 s');
      now += 2_000;
      await d.drain();
      assert.equal((await storage.actions.get(t, 'hot:press-1:raise:1:0'))?.state, 'done', 'the third attempt went through');
      // The one that failed with an unknown error every time: three attempts, then dead, the last error kept.
      const three = await storage.actions.get(t, 'hot:press-1:raise:3:0');
      assert.equal(three?.state, 'dead');
      assert.equal(three?.attempts, 3);
      assert.match(three?.lastError ?? '', /socket hang up/);
      assert.deepEqual(d.stats(), { delivered: 1, retried: 4, dead: 2, outboxFailures: 0 });
      // An operator's retry: pending again, carried out.
      assert.equal(await storage.actions.retry(t, 'hot:press-1:raise:3:0', now), true);
      await d.drain();
      assert.equal((await storage.actions.get(t, 'hot:press-1:raise:3:0'))?.attempts, 1);
      await d.close();
    } finally {
      await cleanup();
    }
  });

  test('a process claims only the kinds it can run; a re-delivered transition is stored once', async () => {
    const { storage, cleanup } = await setup();
    try {
      const now = Date.now();
      const actions = [
        { type: 'publish', topic: 'a' },
        { type: 'write', property: 'coolant', value: true },
      ];
      assert.equal(await storage.actions.enqueue(actionJobs(transition('raise', 7, actions), now), now), 2);
      assert.equal(await storage.actions.enqueue(actionJobs(transition('raise', 7, actions), now), now), 0, 'the same transition again');
      const ran: string[] = [];
      const front = new ActionDispatcher(storage.actions, { publish: async (j) => void ran.push(`front ${j.kind}`) });
      await front.drain();
      assert.deepEqual(ran, ['front publish']);
      assert.deepEqual(await storage.actions.counts('t1' as TenantId), { pending: 1, done: 1, dead: 0 });
      const worker = new ActionDispatcher(storage.actions, { write: async (j) => void ran.push(`worker ${j.kind} ${j.device}`) });
      await worker.drain();
      assert.deepEqual(ran, ['front publish', 'worker write press-1']);
      await Promise.all([front.close(), worker.close()]);
      assert.equal((await storage.actions.list('t1' as TenantId, { device: 'press-1' as DeviceId, limit: 10 })).length, 2);
    } finally {
      await cleanup();
    }
  });
});
