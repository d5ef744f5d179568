/**
 * A clearly labelled SYNTHETIC dataset (合成示例数据，非真实统计) for the built-in CAICT 2024 framework: the
 * 31 provinces, 2020–2023, one value per third-level indicator, generated at load time from a fixed seed so
 * that `iip eval run --example` works out of the box and gives the same report everywhere. Values follow a
 * plausible structure — a province's development level scales every indicator (inversely for lower-is-
 * better ones), each indicator grows at its own rate, and noise keeps provinces from lining up exactly —
 * but they are invented and must not be quoted as statistics. Three cells are left empty on purpose so that
 * coverage and the missing-value options have something to show.
 */
import type { Dataset, Observation } from '../dataset.js';
import { builtinFramework } from '../builtin-frameworks.js';
import type { Framework } from '../framework.js';
import { Prng } from '../prng.js';
import { PROVINCES } from './provinces.js';

export const EXAMPLE_LABEL = '合成示例数据（非真实统计）· SYNTHETIC example data — not real statistics';
export const EXAMPLE_YEARS: readonly number[] = [2020, 2021, 2022, 2023];
export const EXAMPLE_SEED = 20240501;

/** Typical provincial value in 2020, yearly growth, and whether it is a percentage (kept within 0–100). */
type Profile = [typical: number, growth: number, percent?: boolean];

const PROFILES: Record<string, Profile> = {
  net_5g_bs: [5, 0.45],
  net_gigabit: [40, 0.18, true],
  net_5g_factory: [20, 0.6],
  plat_count: [8, 0.2],
  plat_devices: [250, 0.25],
  plat_apps: [1500, 0.22],
  sec_monitored: [900, 0.2],
  sec_incidents: [6, -0.08],
  data_dcmm: [40, 0.35],
  data_centers: [60, 0.15],
  id_nodes: [5, 0.35],
  id_registrations: [20, 0.7],
  id_resolutions: [60, 0.8],
  rnd_intensity: [1.9, 0.05, true],
  rnd_staff: [60, 0.06],
  out_patents: [1800, 0.18],
  out_standards: [12, 0.2],
  out_solutions: [10, 0.25],
  car_labs: [12, 0.08],
  car_hightech: [9, 0.14],
  scale_core: [450, 0.12],
  scale_driven: [1300, 0.13],
  str_digital_share: [7, 0.07, true],
  str_hightech_share: [13, 0.05, true],
  qual_productivity: [28, 0.06],
  qual_energy: [0.9, -0.04],
  qual_profit: [6, 0.02, true],
  act_new_firms: [2500, 0.15],
  act_financing: [25, 0.1],
  bm_lighthouse: [4, 0.3],
  bm_pilots: [12, 0.2],
  dif_cloud: [35, 0.1, true],
  dif_sme: [150, 0.3],
  dif_networked: [40, 0.06, true],
  ad_nc_rate: [52, 0.04, true],
  ad_digital_rd: [72, 0.03, true],
  ad_integration: [56, 0.04],
  pol_documents: [6, 0.15],
  pol_parks: [4, 0.15],
  fund_special: [8, 0.1],
  fund_loans: [20, 0.03, true],
  tal_graduates: [25, 0.05],
  tal_training: [3, 0.3],
  eco_alliance: [60, 0.15],
  eco_events: [15, 0.18],
  eco_service: [120, 0.2],
};

/** Cells left empty on purpose: [region, indicator, year]. */
const GAPS: ReadonlyArray<[string, string, number]> = [
  ['西藏', 'data_dcmm', 2021],
  ['青海', 'id_nodes', 2022],
  ['西藏', 'act_financing', 2023],
];

/** Observations of the synthetic example for a framework's leaves (unknown leaves get a generic profile). */
export function exampleObservations(fw: Framework = builtinFramework('caict-2024'), seed = EXAMPLE_SEED): Observation[] {
  const parents = new Set(fw.indicators.map((i) => i.parent));
  const leaves = fw.indicators.filter((i) => !parents.has(i.id));
  const rng = new Prng(seed);
  const gaps = new Set(GAPS.map((g) => g.join('|')));
  const out: Observation[] = [];
  for (const leaf of leaves) {
    const [typical, growth, percent] = PROFILES[leaf.id] ?? [100, 0.1];
    // How strongly development separates provinces: counts spread widely, percentages less.
    const spread = percent ? 0.9 : 2.2;
    for (const p of PROVINCES) {
      const own = (p.level - 0.5) * spread * leaf.direction + 0.25 * rng.normal();
      // Lagging provinces catch up a little faster, so rankings move from year to year.
      const g = growth + (percent ? 0.3 : 1) * 0.04 * (0.5 - p.level) * Math.sign(growth || 1) + 0.02 * rng.normal();
      for (const year of EXAMPLE_YEARS) {
        const t = year - EXAMPLE_YEARS[0]!;
        let v = typical * Math.exp(own) * (1 + g) ** t * (1 + 0.015 * rng.normal());
        if (percent) v = Math.min(98, Math.max(0.5, v));
        const value = gaps.has(`${p.name}|${leaf.id}|${year}`) ? null : Number(v.toPrecision(4));
        out.push({ region: p.name, indicator: leaf.id, year, value });
      }
    }
  }
  return out;
}

/** The synthetic example as a dataset (with the provinces' groups for the group-mean option). */
export function exampleData(fw: Framework = builtinFramework('caict-2024'), seed = EXAMPLE_SEED): Dataset {
  return {
    source: 'synthetic-example（合成示例数据）',
    observations: exampleObservations(fw, seed),
    regionGroups: Object.fromEntries(PROVINCES.map((p) => [p.name, p.group])),
  };
}

/** The example as long-form CSV text (with the group column), e.g. to show users the expected format. The
 * CSV has no room for a label, so whoever writes it out must say it is synthetic (EXAMPLE_LABEL). */
export function exampleCsv(fw: Framework = builtinFramework('caict-2024'), seed = EXAMPLE_SEED): string {
  const groups = new Map(PROVINCES.map((p) => [p.name, p.group]));
  const lines = ['region,group,indicator,year,value'];
  for (const o of exampleObservations(fw, seed)) lines.push(`${o.region},${groups.get(o.region)},${o.indicator},${o.year},${o.value ?? ''}`);
  return `${lines.join('\n')}\n`;
}
