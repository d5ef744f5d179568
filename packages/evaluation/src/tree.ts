/**
 * The framework compiled into index arrays for computation: node 0 is the overall index, the others follow
 * framework order; `bottomUp` lists the parents so that every child is computed before its parent. The
 * Monte Carlo loop runs over these arrays so that no map look-up or allocation happens per run.
 */
import { type Framework, OVERALL } from './framework.js';

export interface Tree {
  /** ids[0] = 'overall'. */
  ids: string[];
  index: Map<string, number>;
  parent: Int32Array;
  children: number[][];
  level: Int32Array;
  direction: Int8Array;
  /** Node indices of the leaves (where data lives), in framework order. */
  leaves: number[];
  /** Position of a node among the leaves, or -1. */
  leafPos: Int32Array;
  /** Parents (non-leaves, including 0), children before parents. */
  bottomUp: number[];
}

export function compileTree(fw: Framework): Tree {
  const ids = [OVERALL, ...fw.indicators.map((i) => i.id)];
  const index = new Map(ids.map((id, i) => [id, i]));
  const n = ids.length;
  const parent = new Int32Array(n).fill(-1);
  const level = new Int32Array(n);
  const direction = new Int8Array(n).fill(1);
  const children: number[][] = ids.map(() => []);
  fw.indicators.forEach((ind, k) => {
    const i = k + 1;
    const p = ind.parent === null ? 0 : index.get(ind.parent)!;
    parent[i] = p;
    level[i] = ind.level;
    direction[i] = ind.direction;
    children[p]!.push(i);
  });
  const leaves: number[] = [];
  const leafPos = new Int32Array(n).fill(-1);
  for (let i = 1; i < n; i++) {
    if (children[i]!.length === 0) {
      leafPos[i] = leaves.length;
      leaves.push(i);
    }
  }
  const bottomUp: number[] = [];
  for (let lv = 3; lv >= 0; lv--) {
    for (let i = 0; i < n; i++) if (level[i] === lv && children[i]!.length > 0) bottomUp.push(i);
  }
  return { ids, index, parent, children, level, direction, leaves, leafPos, bottomUp };
}
