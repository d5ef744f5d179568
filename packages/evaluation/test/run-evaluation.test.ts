/**
 * The whole pipeline on the synthetic example: every field of the result contract is filled and
 * consistent (weights sum to 100, base year = 100, ranks are a ranking, tiers cover all regions), the run
 * is deterministic and JSON-safe, and pipeline-level options (geometric aggregation, an inconsistent
 * matrix in the framework) behave as documented.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IipError } from '@iip/core';
import { EXAMPLE_LABEL, PROVINCES, builtinFramework, exampleCsv, exampleData, parseDataCsv, parseFramework, runEvaluation } from '@iip/evaluation';

const fw = builtinFramework();

test('the synthetic example: 31 provinces × 2020–2023, labelled, deterministic, with three gaps', () => {
  const d = exampleData();
  assert.equal(new Set(d.observations.map((o) => o.region)).size, 31);
  assert.deepEqual([...new Set(d.observations.map((o) => o.year))], [2020, 2021, 2022, 2023]);
  assert.equal(d.observations.filter((o) => o.value === null).length, 3);
  assert.deepEqual(exampleData(), d);
  assert.match(EXAMPLE_LABEL, /合成|SYNTHETIC/);
  assert.match(d.source, /synthetic/);
  assert.equal(PROVINCES.length, 31);
  // The CSV form reads back to the same observations.
  const back = parseDataCsv(exampleCsv(), fw, { name: 'example.csv' });
  assert.deepEqual(back.observations, d.observations);
  assert.equal(back.regionGroups.广东, '东部');
});

test('runEvaluation fills the whole contract consistently', () => {
  const r = runEvaluation(fw, exampleData(), { monteCarlo: { runs: 200 } });
  assert.equal(r.framework.id, 'caict-2024');
  assert.equal(r.framework.indicators.length, fw.indicators.length);
  assert.deepEqual(r.years, [2020, 2021, 2022, 2023]);
  assert.equal(r.regions.length, 31);

  // Weights: local sums to 100 among siblings, global to 100 per level.
  const byParent = new Map<string, number>();
  for (const w of r.weights) {
    const p = r.framework.indicators.find((i) => i.id === w.id)!.parent ?? 'overall';
    byParent.set(p, (byParent.get(p) ?? 0) + w.local);
  }
  for (const [p, s] of byParent) assert.ok(Math.abs(s - 100) < 1e-9, `${p}: ${s}`);
  for (const level of [1, 2, 3]) {
    const s = r.weights.filter((w) => r.framework.indicators.find((i) => i.id === w.id)!.level === level).reduce((a, w) => a + w.global, 0);
    assert.ok(Math.abs(s - 100) < 1e-9, `level ${level}: ${s}`);
  }
  assert.ok(r.ahp.some((a) => a.matrixId === 'ahp:overall' && a.accepted));

  // National: overall + every indicator, base year = 100, growing.
  assert.equal(r.national.baseYear, 2020);
  assert.equal(r.national.index.length, fw.indicators.length + 1);
  for (const s of r.national.index) assert.ok(Math.abs(s.values[0]! - 100) < 1e-9, s.id);
  const overall = r.national.index.find((s) => s.id === 'overall')!.values;
  assert.ok(overall[3]! > overall[0]!);

  // Regional: each year ranks 1…31 by overall score; scores in 0–100.
  for (const y of r.regional) {
    const sorted = [...y.scores].sort((a, b) => b.overall - a.overall);
    for (let i = 0; i < sorted.length; i++) assert.equal(sorted[i]!.rank, i + 1);
    for (const s of y.scores) {
      assert.ok(s.overall >= 0 && s.overall <= 100);
      assert.equal(Object.keys(s.byIndicator).length, fw.indicators.length);
    }
  }
  const top = r.regional[3]!.scores.find((s) => s.rank === 1)!.region;
  assert.ok(['广东', '江苏', '浙江', '上海', '北京'].includes(top), top);

  assert.equal(r.growth.length, fw.indicators.length + 1);
  assert.equal(r.correlation.ids.length, fw.indicators.length);
  assert.equal(r.correlation.matrix[0]![0], 1);
  assert.ok(r.cronbach.some((c) => c.group === 'overall' && c.alpha !== null));
  assert.equal(r.uncertainty!.runs, 200);
  assert.equal(r.uncertainty!.ranks.length, 31);
  assert.equal(r.tiers.assignments.length, 31);
  assert.deepEqual(r.tiers.names, ['示范引领', '快速崛起', '后发追赶', '孕育起步']);
  assert.ok(r.tiers.assignments.some((a) => a.tier === 0) && r.tiers.assignments.some((a) => a.tier === 3));
  assert.equal(r.coverage.length, 46 * 4);
  assert.deepEqual(r.imputed, []);
  for (const name of ['weights', 'ahp', 'raw', 'national_raw', 'national_index', 'regional_scores', 'growth', 'contributions', 'correlation', 'cronbach', 'uncertainty', 'tiers', 'coverage', 'imputed']) {
    assert.ok(Array.isArray(r.tables[name]), name);
  }
  assert.equal(r.tables.regional_scores!.length, 31 * 4);
  assert.equal((r.options.normalisation as { method: string }).method, 'minmax');
  assert.equal(r.options.missing, 'omit');
  // JSON-safe and deterministic.
  const again = runEvaluation(fw, exampleData(), { monteCarlo: { runs: 200 } });
  assert.equal(JSON.stringify(again), JSON.stringify(r));
});

test('options: mean imputation, geometric aggregation, rank normalisation, fixed counts with a reference', () => {
  const ref = Object.fromEntries(PROVINCES.map((p) => [p.name, p.level > 0.8 ? 0 : p.level > 0.5 ? 1 : p.level > 0.25 ? 2 : 3]));
  const r = runEvaluation(fw, exampleData(), {
    missing: 'mean',
    aggregation: 'geometric',
    monteCarlo: false,
    tiers: { method: 'counts', counts: [6, 11, 10, 4], reference: ref },
  });
  assert.equal(r.imputed.length, 3);
  assert.equal(r.uncertainty, null);
  assert.equal(r.tiers.method, 'counts');
  assert.ok(r.tiers.agreement && r.tiers.agreement.exact > 15 && r.tiers.agreement.ari > 0.3, JSON.stringify(r.tiers.agreement));
  const rank = runEvaluation(fw, exampleData(), { normalisation: { method: 'rank' }, monteCarlo: false });
  assert.ok(rank.regional[0]!.scores.every((s) => s.overall >= 1 && s.overall <= 31));
  assert.throws(
    () => runEvaluation(fw, exampleData(), { normalisation: { method: 'zscore' }, aggregation: 'geometric' }),
    (e: IipError) => e.code === 'IIP_ERR_EVAL_OPTION_INVALID',
  );
  assert.throws(() => runEvaluation(fw, exampleData(), { year: 1999 }), (e: IipError) => e.code === 'IIP_ERR_EVAL_OPTION_INVALID');
});

test('an inconsistent matrix in a framework stops the run naming it, unless allowed', () => {
  const text = `
id: bad
indicators:
  - { id: a, parent: null }
  - { id: b, parent: null }
  - { id: c, parent: null }
groups:
  - parent: overall
    matrix: [[1, 9, 1/9], [1/9, 1, 9], [9, 1/9, 1]]
`;
  const f = parseFramework(text);
  const data = parseDataCsv('region,year,a,b,c\nX,2020,1,2,3\nY,2020,2,3,4\nX,2021,2,2,3\nY,2021,3,3,5\n', f, { name: 'd.csv' });
  assert.throws(
    () => runEvaluation(f, data, { monteCarlo: false }),
    (e: IipError) => e.code === 'IIP_ERR_EVAL_AHP_INCONSISTENT' && /matrix ahp:overall/.test(e.message),
  );
  const r = runEvaluation(f, data, { monteCarlo: false, allowInconsistent: true, tiers: { method: 'quantiles', k: 2 } });
  assert.equal(r.ahp[0]!.accepted, false);
});
