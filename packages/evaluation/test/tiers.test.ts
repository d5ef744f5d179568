/**
 * Tiers: ckmeans against simple-statistics (a known series and random ones), fixed thresholds, quantiles,
 * fixed counts (6/11/10/4 over 31 regions), the four names, and agreement with a reference tiering (exact
 * matches and the adjusted Rand index on known values).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TIER_NAMES, adjustedRandIndex, assignTiers, ckmeans, exactMatches } from '@iip/evaluation';
import fc from 'fast-check';
import { ckmeans as ssCkmeans } from 'simple-statistics';

test('ckmeans matches simple-statistics on a known series', () => {
  const series = [1, 2, 4, 5, 12, 43, 52, 123, 234, 1244];
  assert.deepEqual(ckmeans(series, 3), ssCkmeans(series, 3));
  assert.deepEqual(ckmeans(series, 3), [[1, 2, 4, 5, 12, 43, 52], [123, 234], [1244]]);
  const scores = [82.3, 73.9, 66.7, 66.6, 62.8, 55.5, 40.3, 37.3, 35, 33.1, 30.2, 28.8, 25, 24.1, 22.2, 20, 18.5, 15, 12.2, 10, 9.1, 8, 6.5, 5.5, 4, 3.3, 2, 1.5, 1, 0.5, 0];
  assert.deepEqual(ckmeans(scores, 4), ssCkmeans(scores, 4));
});

test('property: ckmeans equals simple-statistics on random data', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 6 }), (xs, k) => {
      const distinct = new Set(xs).size;
      fc.pre(k <= distinct);
      // Compare the within-group cost (the optimum is unique in cost; ties may split equal values differently).
      const cost = (groups: number[][]): number =>
        groups.reduce((acc, g) => {
          const m = g.reduce((a, b) => a + b, 0) / g.length;
          return acc + g.reduce((a, b) => a + (b - m) ** 2, 0);
        }, 0);
      const mine = ckmeans(xs, k);
      const theirs = ssCkmeans(xs, k);
      assert.equal(mine.length, theirs.length);
      assert.ok(Math.abs(cost(mine) - cost(theirs)) < 1e-6 * (1 + cost(theirs)), `${cost(mine)} vs ${cost(theirs)}`);
    }),
    { numRuns: 300 },
  );
});

test('ckmeans with fewer distinct values than k makes fewer groups; k > n is refused', () => {
  assert.deepEqual(ckmeans([5, 5, 5], 2), [[5, 5, 5]]);
  assert.throws(() => ckmeans([1, 2], 3), /cannot make 3 groups of 2 values/);
});

const REGIONS = Array.from({ length: 31 }, (_, i) => `R${i + 1}`);
const SCORES = REGIONS.map((_, i) => 100 - i * 3 - (i > 5 ? 10 : 0) - (i > 16 ? 10 : 0) - (i > 26 ? 10 : 0));

test('ckmeans tiers (k = 4 by default) with the four names, best first', () => {
  const t = assignTiers(REGIONS, SCORES);
  assert.equal(t.method, 'ckmeans');
  assert.deepEqual(t.names, [...TIER_NAMES]);
  assert.deepEqual(t.names, ['示范引领', '快速崛起', '后发追赶', '孕育起步']);
  const counts = [0, 1, 2, 3].map((k) => t.assignments.filter((a) => a.tier === k).length);
  assert.deepEqual(counts, [6, 11, 10, 4]);
  assert.equal(t.breaks.length, 3);
  assert.equal(t.breaks[0], SCORES[5]);
});

test('fixed counts 6/11/10/4, thresholds and quantiles', () => {
  const shuffled = [...SCORES].reverse();
  const c = assignTiers([...REGIONS].reverse(), shuffled, { method: 'counts', counts: [6, 11, 10, 4] });
  assert.deepEqual(
    [0, 1, 2, 3].map((k) => c.assignments.filter((a) => a.tier === k).length),
    [6, 11, 10, 4],
  );
  assert.equal(c.assignments.find((a) => a.region === 'R1')!.tier, 0);
  assert.throws(() => assignTiers(REGIONS, SCORES, { method: 'counts', counts: [6, 11, 10, 3] }), /add up to 30, but there are 31/);
  const th = assignTiers(['a', 'b', 'c', 'd'], [90, 70, 50, 10], { method: 'thresholds', thresholds: [80, 60, 40] });
  assert.deepEqual(
    th.assignments.map((a) => a.tier),
    [0, 1, 2, 3],
  );
  assert.throws(() => assignTiers(['a'], [1], { method: 'thresholds', thresholds: [1, 2] }), /descending/);
  const q = assignTiers(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], [8, 7, 6, 5, 4, 3, 2, 1], { method: 'quantiles' });
  assert.deepEqual(
    q.assignments.map((a) => a.tier),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
  // Ties never straddle a boundary.
  const tie = assignTiers(['a', 'b', 'c', 'd'], [5, 5, 5, 1], { method: 'counts', counts: [1, 1, 1, 1] });
  assert.deepEqual(
    tie.assignments.map((a) => a.tier),
    [0, 0, 0, 3],
  );
});

test('adjusted Rand index on known values', () => {
  assert.equal(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 1]), 1);
  assert.equal(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0]), 1);
  assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1]) - 4 / 7) < 1e-12);
  assert.ok(Math.abs(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]) - -0.5) < 1e-12);
  // Hubert & Arabie's worked form: a = [0,0,0,1,1,1], b = [0,0,1,1,2,2] → 0.2424…
  assert.ok(Math.abs(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) - 8 / 33) < 1e-12);
  assert.equal(adjustedRandIndex([0, 0, 0], [1, 1, 1]), 1);
  assert.equal(exactMatches([0, 1, 2, 3], [0, 1, 3, 3]), 3);
});

test('agreement with a reference tiering, given by index or by name', () => {
  const t = assignTiers(REGIONS, SCORES, {
    reference: Object.fromEntries(REGIONS.map((r, i) => [r, i < 6 ? '示范引领' : i < 17 ? 1 : i < 27 ? 2 : 3])),
  });
  assert.deepEqual(t.agreement, { exact: 31, ari: 1 });
  const off = assignTiers(REGIONS, SCORES, { method: 'counts', counts: [7, 10, 10, 4], reference: Object.fromEntries(REGIONS.map((r, i) => [r, i < 6 ? 0 : i < 17 ? 1 : i < 27 ? 2 : 3])) });
  assert.equal(off.agreement!.exact, 30);
  assert.ok(off.agreement!.ari < 1 && off.agreement!.ari > 0.8);
  assert.throws(() => assignTiers(['a'], [1], { method: 'quantiles', k: 1, reference: { a: '第九梯队' } }), /not one of/);
});
