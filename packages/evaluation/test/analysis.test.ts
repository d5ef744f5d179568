/**
 * Analysis: year-on-year growth and CAGR, contributions to a parent's change (adding up to 100 %), Pearson
 * correlation and Cronbach's alpha on known values, and Monte Carlo rank intervals — reproducible from a
 * seed, degenerate when nothing varies, and wider when weights vary more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Prng,
  builtinFramework,
  cagr,
  contributionShares,
  cronbachAlpha,
  exampleData,
  pearson,
  quantileSorted,
  runEvaluation,
  yoyGrowth,
} from '@iip/evaluation';

test('YoY growth and CAGR in %', () => {
  assert.deepEqual(yoyGrowth([100, 110, 121]), [null, 10.000000000000009, 10.000000000000009]);
  const y = yoyGrowth([100, 0, 50]);
  assert.deepEqual(y, [null, -100, null]);
  assert.ok(Math.abs(cagr(100, 121, 2)! - 10) < 1e-12);
  assert.ok(Math.abs(cagr(100, 200, 3)! - (2 ** (1 / 3) - 1) * 100) < 1e-12);
  assert.equal(cagr(0, 10, 2), null);
  assert.equal(cagr(10, 10, 0), null);
});

test('contributions: w·Δchild / Σ w·Δ, adding up to 100 %', () => {
  // 标识 rose 20 points with weight 0.5, 网络 10 with 0.3, 平台 fell 2 with 0.2.
  const s = contributionShares([0.5, 0.3, 0.2], [100, 100, 100], [120, 110, 98]);
  const total = 0.5 * 20 + 0.3 * 10 + 0.2 * -2;
  assert.ok(Math.abs(s[0]! - (10 / total) * 100) < 1e-12);
  assert.ok(s[2]! < 0);
  assert.ok(Math.abs(s.reduce((a, b) => a + b, 0) - 100) < 1e-9);
  assert.deepEqual(contributionShares([1, 1], [5, 5], [5, 5]), [0, 0]);
});

test('Pearson correlation and Cronbach\'s alpha on known values', () => {
  assert.equal(pearson([1, 2, 3], [2, 4, 6]), 1);
  assert.equal(pearson([1, 2, 3], [3, 2, 1]), -1);
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
  assert.equal(pearson([1, Number.NaN, 3, 4], [1, 7, 3, 4]), 1);
  assert.equal(cronbachAlpha([[1, 2, 3], [1, 2, 3]]), 1);
  // Three items, four respondents, by hand: Σvar = 5/3 + 11/12 + 19/12, var(total) = 34/3, α = 0.94853.
  const items = [
    [1, 2, 3, 4],
    [2, 2, 3, 4],
    [1, 3, 3, 4],
  ];
  const a = cronbachAlpha(items)!;
  const vars = [5 / 3, 11 / 12, 19 / 12].reduce((x, y) => x + y, 0);
  const totals = [4, 7, 9, 12];
  const m = 8;
  const vt = totals.reduce((s, t) => s + (t - m) ** 2, 0) / 3;
  assert.ok(Math.abs(a - 1.5 * (1 - vars / vt)) < 1e-12);
  assert.ok(Math.abs(a - 0.9485294117647058) < 1e-12);
  assert.equal(cronbachAlpha([[1, 2, 3]]), null);
});

test('contributions of the example add up to 100 % for every parent and period', () => {
  const fw = builtinFramework();
  const r = runEvaluation(fw, exampleData(fw), { monteCarlo: false });
  assert.ok(r.contributions.length > 0);
  for (const c of r.contributions) {
    const sum = c.shares.reduce((a, s) => a + s.share, 0);
    assert.ok(Math.abs(sum - 100) < 1e-6, `${c.parent} ${c.fromYear}→${c.toYear}: ${sum}`);
  }
  // The arithmetic mean makes the parent's change exactly the weighted children's.
  const f = r.national.index.find((x) => x.id === 'foundation')!.values;
  const growth = r.growth.find((g) => g.id === 'foundation')!;
  assert.ok(Math.abs(growth.cagr! - ((f[3]! / f[0]!) ** (1 / 3) - 1) * 100) < 1e-9);
  assert.equal(growth.yoy[0], null);
});

test('the PRNG is reproducible and its draws have the right moments', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  for (let i = 0; i < 5; i++) assert.equal(a.next(), b.next());
  const g = new Prng(7);
  let s = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) s += g.gamma(3);
  assert.ok(Math.abs(s / n - 3) < 0.1, `gamma mean ${s / n}`);
  const out = new Float64Array(3);
  g.dirichlet([2, 1, 1], out);
  assert.ok(Math.abs(out[0]! + out[1]! + out[2]! - 1) < 1e-12);
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
});

test('Monte Carlo: same seed, same intervals; no variation, no spread; more variation, wider intervals', () => {
  const fw = builtinFramework();
  const data = exampleData(fw);
  const mc = (monteCarlo: Parameters<typeof runEvaluation>[2] extends infer O ? (O extends { monteCarlo?: infer M } ? M : never) : never) =>
    runEvaluation(fw, data, { monteCarlo }).uncertainty!;
  const a = mc({ runs: 300, seed: 9 });
  const b = mc({ runs: 300, seed: 9 });
  assert.deepEqual(a, b);
  assert.equal(a.runs, 300);
  const fixed = mc({ runs: 50, weights: { mode: 'none' } });
  const det = runEvaluation(fw, data, { monteCarlo: false });
  const last = det.regional[det.regional.length - 1]!;
  for (const r of fixed.ranks) {
    const rank = last.scores.find((s) => s.region === r.region)!.rank;
    assert.deepEqual([r.min, r.p5, r.median, r.p95, r.max], [rank, rank, rank, rank, rank]);
  }
  const width = (u: typeof a) => u.ranks.reduce((s, r) => s + (r.p95 - r.p5), 0);
  const tight = mc({ runs: 400, seed: 3, weights: { mode: 'dirichlet', concentration: 5000 } });
  const loose = mc({ runs: 400, seed: 3, weights: { mode: 'dirichlet', concentration: 5 } });
  assert.ok(width(loose) > width(tight), `${width(loose)} vs ${width(tight)}`);
  const methods = mc({ runs: 200, normalisations: ['minmax', 'rank', 'zscore'], aggregations: ['arithmetic', 'geometric'] });
  for (const r of methods.ranks) assert.ok(r.min <= r.p5 && r.p5 <= r.median && r.median <= r.p95 && r.p95 <= r.max);
  assert.throws(() => mc({ runs: 10, normalisations: ['zscore'], aggregations: ['geometric'] }), /geometric/);
  assert.throws(() => mc({ runs: 0 }), /runs/);
});
