/**
 * Issue 20: the MQTT server routes through a subscription index (a tree of topic levels) instead of matching every
 * message against every session. Property test: for random filters (with `+`, `#`, `$` topics) and topics, the
 * index yields exactly the subscriptions that `matches()` — the MQTT rules, tested on their own — says match, also
 * after subscriptions are removed and owners leave.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubscriptionIndex } from '../src/mqtt/subscription-index.js';
import { matches } from '../src/mqtt/topic-filter.js';
import fc from 'fast-check';

const level = fc.constantFrom('a', 'b', 'iip', 'default', 'dev-1', 'telemetry', '$SYS', '');
const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'))
  .chain((f) => fc.constantFrom(f, '#', '+/#', f));

test('the index matches exactly what matches() matches, through adds and removes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), filter), { maxLength: 30 }),
      fc.array(fc.integer({ min: 0, max: 29 }), { maxLength: 10 }),
      fc.option(fc.integer({ min: 0, max: 5 })),
      fc.array(topic, { minLength: 1, maxLength: 10 }),
      (subs, removals, leaving, topics) => {
        const index = new SubscriptionIndex<number>();
        const live = new Map<string, { owner: number; key: string; filter: string }>();
        subs.forEach(([owner, f], i) => {
          const key = i % 3 === 0 ? `$share/g/${f}` : f;
          index.add(owner, key, f);
          live.set(`${owner}\u0000${key}`, { owner, key, filter: f });
        });
        for (const r of removals) {
          const s = subs[r];
          if (!s) continue;
          const key = r % 3 === 0 ? `$share/g/${s[1]}` : s[1];
          index.remove(s[0], key, s[1]);
          live.delete(`${s[0]}\u0000${key}`);
        }
        if (leaving !== null) {
          index.removeOwner(leaving);
          for (const [k, v] of live) if (v.owner === leaving) live.delete(k);
        }
        assert.equal(index.size, live.size);
        for (const t of topics) {
          const got: string[] = [];
          index.match(t, (owner, key) => got.push(`${owner}\u0000${key}`));
          const want = [...live.values()].filter((v) => matches(v.filter, t)).map((v) => `${v.owner}\u0000${v.key}`);
          assert.deepEqual(got.sort(), want.sort(), `topic ${t}`);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('known cases: # matches the parent level, $ topics are not matched by a leading wildcard, pruning leaves nothing', () => {
  const index = new SubscriptionIndex<string>();
  index.add('s1', 'a/#', 'a/#');
  index.add('s2', '+/b', '+/b');
  index.add('s3', '#', '#');
  index.add('s4', '$SYS/#', '$SYS/#');
  const at = (t: string) => {
    const out: string[] = [];
    index.match(t, (o) => out.push(o));
    return out.sort();
  };
  assert.deepEqual(at('a'), ['s1', 's3']);
  assert.deepEqual(at('a/b'), ['s1', 's2', 's3']);
  assert.deepEqual(at('$SYS/x'), ['s4']);
  for (const [o, f] of [['s1', 'a/#'], ['s2', '+/b'], ['s3', '#'], ['s4', '$SYS/#']] as const) index.remove(o, f, f);
  assert.equal(index.size, 0);
  assert.deepEqual(at('a/b'), []);
  assert.equal((index as unknown as { root: { children: Map<string, unknown> } }).root.children.size, 0, 'empty branches are pruned');
});
