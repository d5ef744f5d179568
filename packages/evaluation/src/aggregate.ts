/**
 * Aggregation up the tree (third → second → first → overall). The report's method is the weighted
 * arithmetic mean X_p = Σ x_c w_c / Σ w_c taken over the children that have a value, so a missing child is
 * left out and its siblings re-weighted. The geometric option is Π x_c^(w_c/Σw) over the same children; it
 * needs positive scores, so values below `floor` are raised to it (default 0.1 % of the score scale — a
 * zero would otherwise wipe out the whole parent). Works in place on typed arrays, allocation-free, because
 * the Monte Carlo loop calls it tens of thousands of times.
 */
import type { Tree } from './tree.js';

export type AggregationMethod = 'arithmetic' | 'geometric';

export const AGGREGATION_METHODS: readonly AggregationMethod[] = ['arithmetic', 'geometric'];

/**
 * `nodes` holds one value per tree node; the leaves must be filled in, the parents are overwritten.
 * `weights` are the local weights by node (any positive scale among siblings).
 */
export function aggregateTree(
  tree: Tree,
  weights: ArrayLike<number>,
  nodes: Float64Array,
  method: AggregationMethod = 'arithmetic',
  floor = 0.1,
): Float64Array {
  const geometric = method === 'geometric';
  for (const p of tree.bottomUp) {
    const kids = tree.children[p]!;
    let num = 0;
    let den = 0;
    for (let k = 0; k < kids.length; k++) {
      const c = kids[k]!;
      const x = nodes[c]!;
      if (Number.isNaN(x)) continue;
      const w = weights[c]!;
      num += geometric ? w * Math.log(Math.max(x, floor)) : w * x;
      den += w;
    }
    nodes[p] = den > 0 ? (geometric ? Math.exp(num / den) : num / den) : Number.NaN;
  }
  return nodes;
}
