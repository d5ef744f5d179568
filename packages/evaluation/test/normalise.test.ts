/**
 * Normalisation: the national base-year method on hand-computed numbers (exactly), min-max extremes and the
 * constant-column rule, z-score, rank, goalposts and target; and the fast-check properties —
 * reversing direction mirrors min-max scores, scaling an indicator by a positive constant changes nothing,
 * weights always sum to 100.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  baseYearIndex,
  compileTree,
  datasetFromObservations,
  normaliseColumn,
  parseFramework,
  resolveWeights,
  runEvaluation,
} from '@iip/evaluation';
import fc from 'fast-check';

test('base-year index X = Y_t / Y_base × 100, inverse ratio for lower-is-better', () => {
  assert.equal(baseYearIndex(60, 50, 1), 120);
  assert.equal(baseYearIndex(75, 50, 1), 150);
  assert.equal(baseYearIndex(8, 10, -1), 125);
  assert.equal(baseYearIndex(5, 10, -1), 200);
  assert.equal(baseYearIndex(50, 50, 1), 100);
  assert.ok(Number.isNaN(baseYearIndex(5, 0, 1)));
  assert.ok(Number.isNaN(baseYearIndex(0, 10, -1)));
});

test('the national method reproduces a hand-computed index exactly (national rows and regional sums)', () => {
  const fw = parseFramework(`
id: hand
indicators:
  - { id: f, parent: null, weight: 60 }
  - { id: g, parent: null, weight: 40 }
  - { id: a, parent: f }
  - { id: b, parent: g, direction: "-" }
  - { id: c, parent: g, nationalAggregate: sum }
`);
  const obs = [
    // a comes from the 全国 rows; b and c from the regions (b: mean, c: sum).
    ...[50, 60, 75].map((v, i) => ({ region: '全国', indicator: 'a', year: 2020 + i, value: v })),
    ...[
      [12, 10, 4],
      [8, 6, 6],
    ].flatMap((vals, r) => vals.map((v, i) => ({ region: `R${r}`, indicator: 'b', year: 2020 + i, value: v }))),
    ...[
      [30, 33, 40],
      [10, 15, 20],
    ].flatMap((vals, r) => vals.map((v, i) => ({ region: `R${r}`, indicator: 'c', year: 2020 + i, value: v }))),
    ...[1, 2, 3].flatMap((v, i) => ['R0', 'R1'].map((region) => ({ region, indicator: 'a', year: 2020 + i, value: v }))),
  ];
  const r = runEvaluation(fw, datasetFromObservations(fw, obs), { monteCarlo: false, tiers: { method: 'quantiles', k: 2 } });
  const series = (id: string): number[] => r.national.index.find((x) => x.id === id)!.values;
  // a: 50 → 60 → 75 gives 100, 120, 150.
  assert.deepEqual(series('a'), [100, 120, 150]);
  // b (lower is better): national mean 10 → 8 → 5 gives 100, 125, 200.
  assert.deepEqual(series('b'), [100, 125, 200]);
  // c: national sum 40 → 48 → 60 gives 100, 120, 150.
  assert.deepEqual(series('c'), [100, 120, 150]);
  // g = equal-weight mean of b and c: 100, 122.5, 175; overall = 0.6·f + 0.4·g.
  assert.deepEqual(series('g'), [100, 122.5, 175]);
  assert.deepEqual(series('overall'), [100, 0.6 * 120 + 0.4 * 122.5, 0.6 * 150 + 0.4 * 175]);
  assert.equal(r.national.baseYear, 2020);
  // The 全国 rows are not a region.
  assert.deepEqual(r.regions, ['R0', 'R1']);
});

test('min-max gives 0 and 1 (or 0 and 100) at the extremes, respecting direction', () => {
  const v = [3, 7, 5, 11, 9];
  const up = normaliseColumn(v, { method: 'minmax', direction: 1, scale: 1 });
  assert.equal(up[0], 0);
  assert.equal(up[3], 1);
  assert.equal(up[1], 0.5);
  const down = normaliseColumn(v, { method: 'minmax', direction: -1, scale: 100 });
  assert.equal(down[0], 100);
  assert.equal(down[3], 0);
});

test('a constant column gives the middle (min-max 0.5·scale), z-score 0, tied ranks — no division by zero', () => {
  const c = [4, 4, 4];
  assert.deepEqual([...normaliseColumn(c, { method: 'minmax', direction: 1, scale: 1 })], [0.5, 0.5, 0.5]);
  assert.deepEqual([...normaliseColumn(c, { method: 'minmax', direction: -1 })], [50, 50, 50]);
  assert.deepEqual([...normaliseColumn(c, { method: 'zscore', direction: 1 })], [0, 0, 0]);
  assert.deepEqual([...normaliseColumn(c, { method: 'rank', direction: 1 })], [2, 2, 2]);
});

test('missing values stay missing and are ignored by min, max and mean', () => {
  const s = normaliseColumn([1, Number.NaN, 3], { method: 'minmax', direction: 1, scale: 1 });
  assert.deepEqual([s[0], s[2]], [0, 1]);
  assert.ok(Number.isNaN(s[1]!));
});

test('z-score, rank, goalposts and target', () => {
  const z = normaliseColumn([1, 2, 3], { method: 'zscore', direction: 1 });
  assert.deepEqual([...z], [-1, 0, 1]);
  const zr = normaliseColumn([1, 2, 3], { method: 'zscore', direction: -1 });
  assert.deepEqual([...zr], [1, -0, -1]);
  assert.deepEqual([...normaliseColumn([10, 30, 20, 30], { method: 'rank', direction: 1 })], [1, 3.5, 2, 3.5]);
  assert.deepEqual([...normaliseColumn([10, 30, 20], { method: 'rank', direction: -1 })], [3, 1, 2]);
  const g = normaliseColumn([0, 50, 150, -5], { method: 'goalposts', direction: 1, goalposts: [0, 100], scale: 100 });
  assert.deepEqual([...g], [0, 50, 100, 0]);
  const gd = normaliseColumn([25], { method: 'goalposts', direction: -1, goalposts: [0, 100], scale: 1 });
  assert.equal(gd[0], 0.75);
  const t = normaliseColumn([40, 80, 120], { method: 'target', direction: 1, target: 80, scale: 100 });
  assert.deepEqual([...t], [50, 100, 100]);
  const td = normaliseColumn([2, 1, 0.5], { method: 'target', direction: -1, target: 1, scale: 1 });
  assert.deepEqual([...td], [0.5, 1, 1]);
  assert.throws(() => normaliseColumn([1], { method: 'goalposts', direction: 1, indicator: 'x' }), /goalposts.*x/);
});

// Indicator values are real measurements: subnormal magnitudes (below ~1e-300) never occur, and scaling
// them underflows to 0 in floating point, which no normalisation can be invariant to. They map to 0 here.
const column = fc.array(
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => (Math.abs(x) < 1e-200 ? 0 : x)),
  { minLength: 2, maxLength: 40 },
);

test('property: reversing direction mirrors min-max scores (s′ = 1 − s)', () => {
  fc.assert(
    fc.property(column, (v) => {
      const a = normaliseColumn(v, { method: 'minmax', direction: 1, scale: 1 });
      const b = normaliseColumn(v, { method: 'minmax', direction: -1, scale: 1 });
      for (let i = 0; i < v.length; i++) assert.ok(Math.abs(b[i]! - (1 - a[i]!)) < 1e-9, `${a[i]} vs ${b[i]}`);
    }),
  );
});

test('property: scaling an indicator by a positive constant changes no min-max score', () => {
  fc.assert(
    fc.property(column, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), fc.constantFrom<1 | -1>(1, -1), (v, k, dir) => {
      const a = normaliseColumn(v, { method: 'minmax', direction: dir, scale: 1 });
      const b = normaliseColumn(
        v.map((x) => x * k),
        { method: 'minmax', direction: dir, scale: 1 },
      );
      for (let i = 0; i < v.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-9, `${a[i]} vs ${b[i]}`);
    }),
  );
});

const SAATY = [1 / 9, 1 / 7, 1 / 5, 1 / 3, 1 / 2, 1, 2, 3, 5, 7, 9];

/** A random framework: 1–4 first-level indicators, each with 0–4 children, each with 0–3 children. */
const randomFramework = fc
  .array(fc.array(fc.nat({ max: 3 }), { maxLength: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) => {
    const lines: string[] = ['id: random', 'indicators:'];
    const groups: Array<{ parent: string; n: number }> = [{ parent: 'overall', n: shape.length }];
    shape.forEach((kids, i) => {
      lines.push(`  - { id: f${i}, parent: null }`);
      if (kids.length) groups.push({ parent: `f${i}`, n: kids.length });
      kids.forEach((g, j) => {
        lines.push(`  - { id: s${i}_${j}, parent: f${i} }`);
        if (g) groups.push({ parent: `s${i}_${j}`, n: g });
        for (let k = 0; k < g; k++) lines.push(`  - { id: t${i}_${j}_${k}, parent: s${i}_${j} }`);
      });
    });
    const groupArb = groups.map((g) =>
      fc.oneof(
        fc.constant(null),
        fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: g.n, maxLength: g.n }).map((s) => ({ kind: 'scores' as const, s })),
        fc.array(fc.constantFrom(...SAATY), { minLength: (g.n * (g.n - 1)) / 2, maxLength: (g.n * (g.n - 1)) / 2 }).map((s) => ({ kind: 'matrix' as const, s })),
      ),
    );
    return fc.tuple(...groupArb).map((choices) => {
      const out = [...lines, 'groups:'];
      choices.forEach((c, gi) => {
        const g = groups[gi]!;
        if (!c) return;
        if (c.kind === 'scores') out.push(`  - { parent: ${g.parent}, expertScores: [${c.s.join(', ')}] }`);
        else {
          const m = Array.from({ length: g.n }, () => new Array<number>(g.n).fill(1));
          let k = 0;
          for (let i = 0; i < g.n; i++) {
            for (let j = i + 1; j < g.n; j++) {
              m[i]![j] = c.s[k]!;
              m[j]![i] = 1 / c.s[k++]!;
            }
          }
          out.push(`  - { parent: ${g.parent}, allowInconsistent: true, matrix: ${JSON.stringify(m)} }`);
        }
      });
      return out.join('\n');
    });
  });

test('property: weights always sum to 100 among siblings, and global weights to 100 on each level', () => {
  fc.assert(
    fc.property(randomFramework, (text) => {
      const fw = parseFramework(text);
      const tree = compileTree(fw);
      const w = resolveWeights(fw, tree);
      for (let p = 0; p < tree.ids.length; p++) {
        const kids = tree.children[p]!;
        if (kids.length === 0) continue;
        const sum = kids.reduce((a, k) => a + w.local[k]! * 100, 0);
        assert.ok(Math.abs(sum - 100) < 1e-9, `siblings of ${tree.ids[p]} sum to ${sum}`);
      }
      // Every leaf's global weight, plus those of parents above shallower leaves, cover the whole index.
      const leafSum = tree.leaves.reduce((a, l) => a + w.global[l]! * 100, 0);
      assert.ok(Math.abs(leafSum - 100) < 1e-9, `leaves' global weights sum to ${leafSum}`);
      const l1 = tree.children[0]!.reduce((a, k) => a + w.global[k]! * 100, 0);
      assert.ok(Math.abs(l1 - 100) < 1e-9);
    }),
    { numRuns: 200 },
  );
});
