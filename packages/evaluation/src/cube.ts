/**
 * The data as a dense cube — years × regions × leaf indicators in one Float64Array, NaN where a value is
 * missing — plus the national rows (全国) when the data has them. Every computation indexes this cube, so
 * the order of regions (as first seen in the data), years (ascending) and leaves (framework order) is fixed
 * here once.
 */
import type { Dataset } from './dataset.js';
import { isNationalName } from './dataset.js';
import type { Tree } from './tree.js';

export interface Cube {
  regions: string[];
  years: number[];
  /** Leaf ids, framework order. */
  leaves: string[];
  /** values[(y · R + r) · L + l]. */
  values: Float64Array;
  /** national[y · L + l] from rows whose region is 全国/national, NaN where absent; null when there are none. */
  national: Float64Array | null;
}

export function cubeIndex(c: Cube, y: number, r: number, l: number): number {
  return (y * c.regions.length + r) * c.leaves.length + l;
}

export function buildCube(tree: Tree, data: Dataset): Cube {
  const regions: string[] = [];
  const regionPos = new Map<string, number>();
  const yearSet = new Set<number>();
  let hasNational = false;
  for (const o of data.observations) {
    yearSet.add(o.year);
    if (isNationalName(o.region)) {
      hasNational = true;
      continue;
    }
    if (!regionPos.has(o.region)) {
      regionPos.set(o.region, regions.length);
      regions.push(o.region);
    }
  }
  const years = [...yearSet].sort((a, b) => a - b);
  const yearPos = new Map(years.map((y, i) => [y, i]));
  const leaves = tree.leaves.map((i) => tree.ids[i]!);
  const leafPos = new Map(leaves.map((id, i) => [id, i]));
  const L = leaves.length;
  const R = regions.length;
  const values = new Float64Array(years.length * R * L).fill(Number.NaN);
  const national = hasNational ? new Float64Array(years.length * L).fill(Number.NaN) : null;
  for (const o of data.observations) {
    const l = leafPos.get(o.indicator);
    if (l === undefined || o.value === null) continue;
    const y = yearPos.get(o.year)!;
    if (isNationalName(o.region)) national![y * L + l] = o.value;
    else values[(y * R + regionPos.get(o.region)!) * L + l] = o.value;
  }
  return { regions, years, leaves, values, national };
}
