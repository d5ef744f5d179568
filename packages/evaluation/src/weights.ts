/**
 * Weights of every sibling group of a framework, in this order of precedence: an AHP judgment matrix (or
 * several experts' matrices, group AHP), blended with expert scores when both are given as
 * w = α·w_ahp + (1 − α)·w_expert (each normalised to sum 1 first, α default 0.5); expert scores alone; the
 * indicators' direct `weight`s; equal weights. Local weights sum to 100 among siblings; a global weight is
 * the product of the local fractions down the tree, so global weights sum to 100 on each level.
 */
import { IipError } from '@iip/core';
import { type AhpOptions, type AhpResult, ahpWeights, groupAhp } from './ahp.js';
import type { Framework, WeightingGroup } from './framework.js';
import type { Tree } from './tree.js';

export interface WeightOptions {
  /** Accept judgment matrices with CR ≥ 0.1 everywhere (a group may also allow it for itself). */
  allowInconsistent?: boolean;
  /** Random index table by matrix size (default Saaty's). */
  ri?: readonly number[];
  /** Default α of the AHP/expert blend (a group's own alpha wins). */
  alpha?: number;
  /** Group AHP default when a group does not say (default geometric). */
  combine?: 'geometric' | 'arithmetic';
}

export interface ResolvedWeights {
  /** Fraction among siblings (sums to 1 per group), by tree node; node 0 (overall) is 1. */
  local: Float64Array;
  /** Fraction of the overall index, by tree node. */
  global: Float64Array;
  ahp: AhpResult[];
}

/** Scales non-negative numbers to sum to 1; refuses negatives, non-finite values and an all-zero list. */
export function normaliseToOne(values: readonly number[], group: string): number[] {
  let sum = 0;
  for (const v of values) {
    if (!Number.isFinite(v) || v < 0) {
      throw new IipError('IIP_ERR_EVAL_WEIGHTS_INVALID', `group ${group}: weight ${v} is negative or not finite`, { group, values });
    }
    sum += v;
  }
  if (sum <= 0) throw new IipError('IIP_ERR_EVAL_WEIGHTS_INVALID', `group ${group}: the weights sum to 0`, { group, values });
  return values.map((v) => v / sum);
}

/** w = α·a + (1 − α)·b, renormalised (both inputs already sum to 1, so this only removes rounding). */
export function blendWeights(ahp: readonly number[], expert: readonly number[], alpha: number, group = 'group'): number[] {
  return normaliseToOne(
    ahp.map((a, i) => alpha * a + (1 - alpha) * expert[i]!),
    group,
  );
}

function groupWeights(g: WeightingGroup, opts: WeightOptions, ahpOut: AhpResult[]): number[] | null {
  const ahpOpts: AhpOptions = { id: g.id, allowInconsistent: opts.allowInconsistent || g.allowInconsistent === true };
  if (opts.ri) ahpOpts.ri = opts.ri;
  let wAhp: number[] | null = null;
  if (g.matrix) {
    const r = ahpWeights(g.matrix, g.ids, ahpOpts);
    ahpOut.push(r);
    wAhp = r.weights;
  } else if (g.experts) {
    const rs = groupAhp(g.experts, g.ids, g.combine ?? opts.combine ?? 'geometric', ahpOpts);
    ahpOut.push(...rs);
    wAhp = rs[rs.length - 1]!.weights;
  }
  const wExpert = g.expertScores ? normaliseToOne(g.expertScores, g.id) : null;
  if (wAhp && wExpert) return blendWeights(wAhp, wExpert, g.alpha ?? opts.alpha ?? 0.5, g.id);
  return wAhp ?? wExpert;
}

export function resolveWeights(fw: Framework, tree: Tree, opts: WeightOptions = {}): ResolvedWeights {
  const n = tree.ids.length;
  const local = new Float64Array(n);
  const global = new Float64Array(n);
  local[0] = 1;
  const ahp: AhpResult[] = [];
  const byParent = new Map(fw.groups.map((g) => [g.parent, g]));
  const byId = new Map(fw.indicators.map((i) => [i.id, i]));
  for (let p = 0; p < n; p++) {
    const kids = tree.children[p]!;
    if (kids.length === 0) continue;
    const pid = tree.ids[p]!;
    const g = byParent.get(pid);
    const fromGroup = g ? groupWeights(g, opts, ahp) : null;
    let w: number[];
    if (fromGroup && g) {
      const pos = new Map(g.ids.map((id, i) => [id, i]));
      w = kids.map((k) => fromGroup[pos.get(tree.ids[k]!)!]!);
    } else {
      const direct = kids.map((k) => byId.get(tree.ids[k]!)!.weight);
      const given = direct.filter((x) => x !== undefined).length;
      if (given > 0 && given < kids.length) {
        const missing = kids.filter((_, i) => direct[i] === undefined).map((k) => tree.ids[k]);
        throw new IipError(
          'IIP_ERR_EVAL_WEIGHTS_INVALID',
          `group ${pid}: some children have a weight and ${missing.join(', ')} do not; give all or none`,
          { group: pid, missing },
        );
      }
      w = given === 0 ? kids.map(() => 1 / kids.length) : normaliseToOne(direct as number[], pid);
    }
    for (let i = 0; i < kids.length; i++) local[kids[i]!] = w[i]!;
  }
  // Parents precede children in framework order only if the file says so; walk top-down by level instead.
  global[0] = 1;
  for (let lv = 1; lv <= 3; lv++) {
    for (let i = 1; i < n; i++) if (tree.level[i] === lv) global[i] = global[tree.parent[i]!]! * local[i]!;
  }
  return { local, global, ahp };
}
