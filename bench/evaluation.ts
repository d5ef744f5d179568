/**
 * `npm run bench -- evaluation`: 31 regions × 4 years × 100 third-level indicators (5 × 4 × 5 tree, AHP on
 * the first level), the full `runEvaluation` pipeline plus 10,000 Monte Carlo runs (Dirichlet weights,
 * min-max or rank normalisation, arithmetic or geometric aggregation). Beside it, a baseline measured in the
 * same run: a naive Monte Carlo loop that re-normalises the raw data and aggregates through objects and
 * maps on every run, as a spreadsheet-minded port would (timed over 500 runs and scaled to 10,000).
 * The last line is the issue's: `evaluation: <S> s for 10000 runs`.
 */
import { type Framework, Prng, datasetFromObservations, parseFramework, runEvaluation } from '@iip/evaluation';

const RUNS = 10_000;
const BASELINE_RUNS = 500;
const REGIONS = Array.from({ length: 31 }, (_, i) => `R${String(i + 1).padStart(2, '0')}`);
const YEARS = [2020, 2021, 2022, 2023];

function framework(): Framework {
  const lines = ['id: bench', 'indicators:'];
  for (let a = 0; a < 5; a++) {
    lines.push(`  - { id: f${a}, parent: null }`);
    for (let b = 0; b < 4; b++) {
      lines.push(`  - { id: s${a}${b}, parent: f${a}, weight: ${b + 1} }`);
      for (let c = 0; c < 5; c++) lines.push(`  - { id: t${a}${b}${c}, parent: s${a}${b}, direction: ${c === 4 ? '"-"' : '"+"'} }`);
    }
  }
  lines.push('groups:', '  - parent: overall', '    matrix: [[1, 2, 2, 1, 3], [1/2, 1, 1, 1/2, 2], [1/2, 1, 1, 1/2, 2], [1, 2, 2, 1, 3], [1/3, 1/2, 1/2, 1/3, 1]]');
  return parseFramework(lines.join('\n'), 'bench.yaml');
}

function data(fw: Framework) {
  const rng = new Prng(7);
  const leaves = fw.indicators.filter((i) => i.level === 3);
  const level = REGIONS.map(() => rng.next());
  const obs = leaves.flatMap((leaf) =>
    REGIONS.flatMap((region, r) =>
      YEARS.map((year, y) => ({ region, indicator: leaf.id, year, value: 100 * Math.exp(2 * level[r]! * leaf.direction + 0.3 * rng.normal()) * 1.1 ** y })),
    ),
  );
  return datasetFromObservations(fw, obs);
}

/** The naive loop: everything recomputed through objects each run. */
function naiveMonteCarlo(fw: Framework, values: Map<string, number[]>, runs: number): number {
  const rng = new Prng(1);
  const children = new Map<string | null, string[]>();
  for (const i of fw.indicators) children.set(i.parent, [...(children.get(i.parent) ?? []), i.id]);
  const base = new Map<string, number>(fw.indicators.map((i) => [i.id, 1]));
  let checksum = 0;
  for (let run = 0; run < runs; run++) {
    const w = new Map<string, number>();
    for (const [, kids] of children) {
      const draws = kids.map((k) => rng.gamma(50 * base.get(k)!));
      const s = draws.reduce((a, b) => a + b, 0);
      for (let i = 0; i < kids.length; i++) w.set(kids[i]!, draws[i]! / s);
    }
    const norm = new Map<string, number[]>();
    for (const [id, col] of values) {
      const min = Math.min(...col);
      const max = Math.max(...col);
      const dir = fw.indicators.find((i) => i.id === id)!.direction;
      norm.set(id, col.map((v) => ((dir === 1 ? v - min : max - v) / (max - min)) * 100));
    }
    const score = (id: string | null, r: number): number => {
      const kids = children.get(id);
      if (!kids) return norm.get(id!)![r]!;
      let num = 0;
      let den = 0;
      for (const k of kids) {
        num += w.get(k)! * score(k, r);
        den += w.get(k)!;
      }
      return num / den;
    };
    const scores = REGIONS.map((region, r) => ({ region, s: score(null, r) }));
    scores.sort((a, b) => b.s - a.s);
    checksum += scores[0]!.s;
  }
  return checksum;
}

export async function main(): Promise<void> {
  const fw = framework();
  const ds = data(fw);
  console.log(`evaluation bench: ${REGIONS.length} regions × ${YEARS.length} years × ${fw.indicators.filter((i) => i.level === 3).length} third-level indicators`);

  const t0 = performance.now();
  const r = runEvaluation(fw, ds, {
    monteCarlo: {
      runs: RUNS,
      seed: 1,
      weights: { mode: 'dirichlet', concentration: 50 },
      normalisations: ['minmax', 'rank'],
      aggregations: ['arithmetic', 'geometric'],
    },
  });
  const total = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  runEvaluation(fw, ds, { monteCarlo: false });
  const pipeline = (performance.now() - t1) / 1000;
  const median = r.uncertainty!.ranks.reduce((a, x) => a + x.median, 0);
  console.log(`  full pipeline without Monte Carlo: ${pipeline.toFixed(3)} s`);
  console.log(`  full pipeline + ${RUNS} Monte Carlo runs: ${total.toFixed(3)} s (sum of median ranks ${median})`);

  const lastYear = new Map<string, number[]>();
  const lastRows = ds.observations.filter((o) => o.year === YEARS[YEARS.length - 1]);
  for (const o of lastRows) lastYear.set(o.indicator, [...(lastYear.get(o.indicator) ?? []), o.value!]);
  const t2 = performance.now();
  naiveMonteCarlo(fw, lastYear, BASELINE_RUNS);
  const naive = ((performance.now() - t2) / 1000) * (RUNS / BASELINE_RUNS);
  console.log(`  baseline — naive Monte Carlo (re-normalise, aggregate through maps per run; ${BASELINE_RUNS} runs measured, scaled): ${naive.toFixed(3)} s for ${RUNS} runs`);
  console.log(`  ratio baseline / engine: ${(naive / total).toFixed(1)}×`);
  console.log(`evaluation: ${total.toFixed(3)} s for ${RUNS} runs`);
}
