/**
 * Indicator frameworks as data: the tree of indicators (id, names, level, parent, direction, unit, source,
 * direct weight, goalposts) and the weighting of each sibling group (AHP judgment matrix, several experts'
 * matrices, expert scores). `parseFramework` accepts YAML or JSON text and returns a validated framework or
 * throws an `IipError` naming the offending element, so a bad file fails before any number is computed.
 */
import { IipError } from '@iip/core';
import { parse as parseYaml } from 'yaml';
import type { IndicatorNode } from './result.js';

/** The id used for the root of the tree (the overall index) in weighting groups and results. */
export const OVERALL = 'overall';

export interface FrameworkIndicator {
  id: string;
  nameZh: string;
  nameEn: string;
  level: 1 | 2 | 3;
  parent: string | null;
  /** 1: higher is better; -1: lower is better. */
  direction: 1 | -1;
  unit?: string;
  source?: string;
  /** Direct weight among siblings (any positive scale; normalised to 100 per sibling group). */
  weight?: number;
  /** For the `target` normalisation: the value that scores full marks. */
  target?: number;
  /** For the `goalposts` normalisation: [worst, best] raw values (clipped outside). */
  goalposts?: [number, number];
  /** How regional values add up to a national one when the data holds no national row (default mean). */
  nationalAggregate?: 'sum' | 'mean';
}

/** How one sibling group (the children of `parent`) is weighted. */
export interface WeightingGroup {
  /** Parent indicator id, or 'overall' for the first-level indicators. */
  parent: string;
  /** Matrix id used in results and errors (default `ahp:<parent>`). */
  id: string;
  /** Row/column order of the matrices and expert scores (default: the children in framework order). */
  ids: string[];
  /** One judgment matrix (Saaty 1–9 scale). */
  matrix?: number[][];
  /** Several experts' judgment matrices (group AHP). */
  experts?: number[][][];
  /** Group AHP: `geometric` = geometric mean of judgments (AIJ), `arithmetic` = mean of priorities (AIP). */
  combine?: 'geometric' | 'arithmetic';
  /** Expert scores (any positive scale), blended with the AHP weights. */
  expertScores?: number[];
  /** Blend: w = alpha·w_ahp + (1 − alpha)·w_expert (default 0.5 when both are given). */
  alpha?: number;
  allowInconsistent?: boolean;
}

export interface Framework {
  id: string;
  nameZh: string;
  nameEn: string;
  description?: string;
  indicators: FrameworkIndicator[];
  groups: WeightingGroup[];
}

type Raw = Record<string, unknown>;

function invalid(path: string, message: string, extra: Record<string, unknown> = {}): IipError {
  return new IipError('IIP_ERR_EVAL_FRAMEWORK_INVALID', `framework ${path}: ${message}`, { path, ...extra });
}

function isObj(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Raw, key: string, path: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid(`${path}.${key}`, `"${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`${path}.${key}`, `"${key}" must be a string`);
  return String(v);
}

function num(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw invalid(path, `expected a finite number, got ${JSON.stringify(v)}`);
}

/** A judgment is a number or a fraction written as text ("1/3"), as analysts type them. */
export function parseJudgment(v: unknown, matrixId: string, row: number, col: number): number {
  let x: number = Number.NaN;
  if (typeof v === 'number') x = v;
  else if (typeof v === 'string') {
    const m = /^\s*([0-9.]+)\s*(?:\/\s*([0-9.]+)\s*)?$/.exec(v);
    if (m) x = m[2] === undefined ? Number(m[1]) : Number(m[1]) / Number(m[2]);
  }
  if (!Number.isFinite(x) || x <= 0) {
    throw new IipError(
      'IIP_ERR_EVAL_MATRIX_SCALE',
      `matrix ${matrixId}, cell (${row + 1}, ${col + 1}): ${JSON.stringify(v)} is not a positive number`,
      { matrix: matrixId, row: row + 1, column: col + 1, value: v },
    );
  }
  return x;
}

function parseMatrix(v: unknown, matrixId: string, path: string): number[][] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new IipError('IIP_ERR_EVAL_MATRIX_SIZE', `matrix ${matrixId}: expected a non-empty list of rows`, {
      matrix: matrixId,
      path,
    });
  }
  const n = v.length;
  return v.map((row, i) => {
    if (!Array.isArray(row) || row.length !== n) {
      throw new IipError(
        'IIP_ERR_EVAL_MATRIX_SIZE',
        `matrix ${matrixId}: row ${i + 1} has ${Array.isArray(row) ? row.length : 0} cells, the matrix has ${n} rows (it must be square)`,
        { matrix: matrixId, row: i + 1, expected: n, path },
      );
    }
    return row.map((cell, j) => parseJudgment(cell, matrixId, i, j));
  });
}

function parseDirection(v: unknown, path: string): 1 | -1 {
  if (v === undefined || v === null || v === 1 || v === '+' || v === '1' || v === 'positive') return 1;
  if (v === -1 || v === '-' || v === '−' || v === '-1' || v === 'negative') return -1;
  throw invalid(path, `direction must be + or − (1 or -1), got ${JSON.stringify(v)}`);
}

/** Parses YAML or JSON text (JSON is YAML) into a validated framework. */
export function parseFramework(text: string, source = '<framework>'): Framework {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw invalid(source, `not valid YAML/JSON: ${(e as Error).message}`);
  }
  return validateFramework(doc, source);
}

/** Validates a framework given as plain data (e.g. parsed JSON from the API). */
export function validateFramework(doc: unknown, source = '<framework>'): Framework {
  if (!isObj(doc)) throw invalid(source, 'expected an object with id, nameZh, nameEn and indicators');
  const id = str(doc, 'id', source, true)!;
  const nameZh = str(doc, 'nameZh', source, false) ?? id;
  const nameEn = str(doc, 'nameEn', source, false) ?? id;
  const description = str(doc, 'description', source, false);
  if (!Array.isArray(doc.indicators) || doc.indicators.length === 0) {
    throw invalid(`${source}.indicators`, 'expected a non-empty list of indicators');
  }

  const seen = new Map<string, number>();
  const raws: Array<{ raw: Raw; path: string; id: string; parent: string | null }> = [];
  doc.indicators.forEach((r: unknown, i: number) => {
    const path = `${source}.indicators[${i}]`;
    if (!isObj(r)) throw invalid(path, 'expected an object');
    const iid = str(r, 'id', path, true)!;
    if (iid === OVERALL) throw invalid(`${path}.id`, `"${OVERALL}" is reserved for the overall index`);
    const prev = seen.get(iid);
    if (prev !== undefined) {
      throw new IipError(
        'IIP_ERR_EVAL_FRAMEWORK_DUPLICATE_ID',
        `framework ${source}: indicator id "${iid}" is used by indicators[${prev}] and indicators[${i}]`,
        { id: iid, first: prev, second: i },
      );
    }
    seen.set(iid, i);
    const parent = r.parent === undefined || r.parent === null || r.parent === '' ? null : String(r.parent);
    raws.push({ raw: r, path, id: iid, parent });
  });

  for (const r of raws) {
    if (r.parent !== null && !seen.has(r.parent)) {
      throw new IipError(
        'IIP_ERR_EVAL_FRAMEWORK_UNKNOWN_PARENT',
        `framework ${source}: indicator "${r.id}" names parent "${r.parent}", which is not in the framework`,
        { id: r.id, parent: r.parent, path: r.path },
      );
    }
  }
  // Follow every parent chain; one that revisits an id is a cycle.
  const parentOf = new Map(raws.map((r) => [r.id, r.parent]));
  const depth = new Map<string, number>();
  for (const r of raws) {
    const chain: string[] = [];
    let cur: string | null = r.id;
    while (cur !== null && !depth.has(cur)) {
      if (chain.includes(cur)) {
        const cycle = chain.slice(chain.indexOf(cur));
        throw new IipError(
          'IIP_ERR_EVAL_FRAMEWORK_CYCLE',
          `framework ${source}: the parents of "${cur}" form a cycle (${[...cycle, cur].join(' → ')})`,
          { cycle },
        );
      }
      chain.push(cur);
      cur = parentOf.get(cur) ?? null;
    }
    let d = cur === null ? 0 : depth.get(cur)!;
    for (let k = chain.length - 1; k >= 0; k--) depth.set(chain[k]!, ++d);
  }

  const indicators: FrameworkIndicator[] = raws.map(({ raw, path, id: iid, parent }) => {
    const level = depth.get(iid)!;
    if (level > 3) throw invalid(path, `indicator "${iid}" is at depth ${level}; frameworks have at most 3 levels`);
    if (raw.level !== undefined && Number(raw.level) !== level) {
      throw invalid(`${path}.level`, `indicator "${iid}" says level ${String(raw.level)} but its parent chain puts it at level ${level}`);
    }
    const ind: FrameworkIndicator = {
      id: iid,
      nameZh: str(raw, 'nameZh', path, false) ?? iid,
      nameEn: str(raw, 'nameEn', path, false) ?? iid,
      level: level as 1 | 2 | 3,
      parent,
      direction: parseDirection(raw.direction, `${path}.direction`),
    };
    const unit = str(raw, 'unit', path, false);
    if (unit !== undefined) ind.unit = unit;
    const src = str(raw, 'source', path, false);
    if (src !== undefined) ind.source = src;
    if (raw.weight !== undefined) {
      const w = num(raw.weight, `${path}.weight`);
      if (w < 0) {
        throw new IipError('IIP_ERR_EVAL_WEIGHTS_INVALID', `framework ${source}: indicator "${iid}" has a negative weight`, {
          id: iid,
          weight: w,
        });
      }
      ind.weight = w;
    }
    if (raw.target !== undefined) ind.target = num(raw.target, `${path}.target`);
    if (raw.goalposts !== undefined) {
      const g = raw.goalposts;
      if (!Array.isArray(g) || g.length !== 2) throw invalid(`${path}.goalposts`, 'expected [worst, best]');
      const lo = num(g[0], `${path}.goalposts[0]`);
      const hi = num(g[1], `${path}.goalposts[1]`);
      if (lo === hi) throw invalid(`${path}.goalposts`, 'the two goalposts must differ');
      ind.goalposts = [lo, hi];
    }
    if (raw.nationalAggregate !== undefined) {
      if (raw.nationalAggregate !== 'sum' && raw.nationalAggregate !== 'mean') {
        throw invalid(`${path}.nationalAggregate`, 'expected "sum" or "mean"');
      }
      ind.nationalAggregate = raw.nationalAggregate;
    }
    return ind;
  });

  const childrenOf = new Map<string, string[]>([[OVERALL, []]]);
  for (const ind of indicators) childrenOf.set(ind.id, []);
  for (const ind of indicators) childrenOf.get(ind.parent ?? OVERALL)!.push(ind.id);

  const groups: WeightingGroup[] = [];
  const rawGroups = doc.groups ?? [];
  if (!Array.isArray(rawGroups)) throw invalid(`${source}.groups`, 'expected a list of weighting groups');
  const groupParents = new Set<string>();
  rawGroups.forEach((g: unknown, i: number) => {
    const path = `${source}.groups[${i}]`;
    if (!isObj(g)) throw invalid(path, 'expected an object');
    const parent = str(g, 'parent', path, false) ?? OVERALL;
    const children = childrenOf.get(parent);
    if (!children) {
      throw new IipError(
        'IIP_ERR_EVAL_FRAMEWORK_UNKNOWN_PARENT',
        `framework ${source}: weighting group ${path} names parent "${parent}", which is not in the framework`,
        { parent, path },
      );
    }
    if (groupParents.has(parent)) throw invalid(path, `a second weighting group for "${parent}"`);
    groupParents.add(parent);
    const gid = str(g, 'id', path, false) ?? `ahp:${parent}`;
    let ids = children;
    if (g.ids !== undefined) {
      if (!Array.isArray(g.ids)) throw invalid(`${path}.ids`, 'expected a list of indicator ids');
      ids = g.ids.map(String);
      const want = [...children].sort().join(',');
      if ([...ids].sort().join(',') !== want) {
        throw invalid(`${path}.ids`, `must list exactly the children of "${parent}": ${children.join(', ')}`, {
          children,
        });
      }
    }
    const n = ids.length;
    const group: WeightingGroup = { parent, id: gid, ids };
    const checkSize = (m: number[][], mid: string): void => {
      if (m.length !== n) {
        throw new IipError(
          'IIP_ERR_EVAL_MATRIX_SIZE',
          `matrix ${mid} is ${m.length} × ${m.length}, but "${parent}" has ${n} children (${ids.join(', ')})`,
          { matrix: mid, size: m.length, expected: n, ids },
        );
      }
    };
    if (g.matrix !== undefined) {
      group.matrix = parseMatrix(g.matrix, gid, `${path}.matrix`);
      checkSize(group.matrix, gid);
    }
    if (g.experts !== undefined) {
      if (!Array.isArray(g.experts) || g.experts.length === 0) throw invalid(`${path}.experts`, 'expected a list of matrices');
      group.experts = g.experts.map((m: unknown, k: number) => {
        const mid = `${gid}#${k + 1}`;
        const parsed = parseMatrix(m, mid, `${path}.experts[${k}]`);
        checkSize(parsed, mid);
        return parsed;
      });
    }
    if (group.matrix && group.experts) throw invalid(path, 'give either matrix or experts, not both');
    if (g.combine !== undefined) {
      if (g.combine !== 'geometric' && g.combine !== 'arithmetic') {
        throw invalid(`${path}.combine`, 'expected "geometric" (of judgments) or "arithmetic" (of priorities)');
      }
      group.combine = g.combine;
    }
    if (g.expertScores !== undefined) {
      const s = g.expertScores;
      if (!Array.isArray(s) || s.length !== n) {
        throw new IipError(
          'IIP_ERR_EVAL_WEIGHTS_INVALID',
          `framework ${source}: group ${gid} has ${Array.isArray(s) ? s.length : 0} expert scores for ${n} indicators`,
          { group: gid, expected: n },
        );
      }
      group.expertScores = s.map((x: unknown, k: number) => num(x, `${path}.expertScores[${k}]`));
    }
    if (g.alpha !== undefined) {
      const a = num(g.alpha, `${path}.alpha`);
      if (a < 0 || a > 1) throw invalid(`${path}.alpha`, 'alpha must lie in [0, 1]');
      group.alpha = a;
    }
    if (g.allowInconsistent !== undefined) group.allowInconsistent = g.allowInconsistent === true;
    groups.push(group);
  });

  const fw: Framework = { id, nameZh, nameEn, indicators, groups };
  if (description !== undefined) fw.description = description;
  return fw;
}

/** The flattened nodes of the result contract (children listed by id, framework order). */
export function indicatorNodes(fw: Framework): IndicatorNode[] {
  const children = new Map<string, string[]>();
  for (const ind of fw.indicators) children.set(ind.id, []);
  for (const ind of fw.indicators) if (ind.parent !== null) children.get(ind.parent)!.push(ind.id);
  return fw.indicators.map((ind) => {
    const node: IndicatorNode = {
      id: ind.id,
      nameZh: ind.nameZh,
      nameEn: ind.nameEn,
      level: ind.level,
      parent: ind.parent,
      direction: ind.direction,
      children: children.get(ind.id)!,
    };
    if (ind.unit !== undefined) node.unit = ind.unit;
    if (ind.source !== undefined) node.source = ind.source;
    return node;
  });
}
