/**
 * Missing values: coverage counts, and each option — omit (leave out and re-weight), mean, median, group
 * mean (with the fallback to the overall mean) — with every imputed cell flagged in the result.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datasetFromObservations, parseFramework, runEvaluation } from '@iip/evaluation';

const FW = parseFramework(`
id: t
indicators:
  - { id: f, parent: null }
  - { id: a, parent: f }
  - { id: b, parent: f }
`);

// Region R3 lacks b in 2021; the others: b = 10, 20, 60 (2021); groups: R1, R3 east; R2, R4 west.
const rows: Array<[string, string, number, number | null]> = [];
const values: Record<string, [number, number, number, number | null]> = {
  R1: [1, 10, 2, 10],
  R2: [2, 20, 3, 20],
  R3: [3, 30, 4, null],
  R4: [4, 40, 5, 60],
};
for (const [region, [a20, b20, a21, b21]] of Object.entries(values)) {
  rows.push([region, 'a', 2020, a20], [region, 'b', 2020, b20], [region, 'a', 2021, a21], [region, 'b', 2021, b21]);
}
const groups = { R1: 'east', R2: 'west', R3: 'east', R4: 'west' };
const data = datasetFromObservations(
  FW,
  rows.map(([region, indicator, year, value]) => ({ region, indicator, year, value })),
  { regionGroups: groups },
);

const run = (missing: 'omit' | 'mean' | 'median' | 'groupMean') => runEvaluation(FW, data, { missing, monteCarlo: false, tiers: { method: 'quantiles', k: 2 } });

test('coverage counts present and missing cells per indicator and year', () => {
  const r = run('omit');
  assert.deepEqual(r.coverage.find((c) => c.indicator === 'b' && c.year === 2021), { indicator: 'b', year: 2021, present: 3, missing: 1 });
  assert.deepEqual(r.coverage.find((c) => c.indicator === 'a' && c.year === 2021), { indicator: 'a', year: 2021, present: 4, missing: 0 });
});

test('omit: the missing child is left out and its sibling re-weighted', () => {
  const r = run('omit');
  assert.deepEqual(r.imputed, []);
  const s = r.regional.find((y) => y.year === 2021)!.scores.find((x) => x.region === 'R3')!;
  assert.ok(Number.isNaN(s.byIndicator.b!));
  // a is 4 of 2…5 → 66.67; f and overall equal it alone.
  assert.ok(Math.abs(s.byIndicator.f! - 200 / 3) < 1e-9);
  assert.ok(Math.abs(s.overall - 200 / 3) < 1e-9);
});

test('mean and median of the other regions, flagged', () => {
  const mean = run('mean');
  assert.deepEqual(mean.imputed, [{ region: 'R3', indicator: 'b', year: 2021, method: 'mean', value: 30 }]);
  const median = run('median');
  assert.deepEqual(median.imputed, [{ region: 'R3', indicator: 'b', year: 2021, method: 'median', value: 20 }]);
  assert.equal(median.tables.raw!.find((t) => t.region === 'R3' && t.indicator === 'b' && t.year === 2021)!.imputed, 'yes');
});

test('group mean uses the region\'s group; an empty group falls back to the overall mean and says so', () => {
  const g = run('groupMean');
  assert.deepEqual(g.imputed, [{ region: 'R3', indicator: 'b', year: 2021, method: 'groupMean', value: 10 }]);
  const lonely = datasetFromObservations(
    FW,
    rows.map(([region, indicator, year, value]) => ({ region, indicator, year, value })),
    { regionGroups: { ...groups, R1: 'north', R3: 'south' } },
  );
  const f = runEvaluation(FW, lonely, { missing: 'groupMean', monteCarlo: false, tiers: { method: 'quantiles', k: 2 } });
  assert.deepEqual(f.imputed, [{ region: 'R3', indicator: 'b', year: 2021, method: 'mean', value: 30 }]);
});

test('an unknown missing-value option is refused', () => {
  assert.throws(
    () => runEvaluation(FW, data, { missing: 'zero' as 'mean', monteCarlo: false }),
    (e: Error & { code?: string }) => e.code === 'IIP_ERR_EVAL_OPTION_INVALID',
  );
});
