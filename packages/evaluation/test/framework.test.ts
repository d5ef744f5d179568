/**
 * Frameworks as data: the built-in CAICT 2024 structure (5 first-level and 19 second-level indicators as the
 * issue lists them), and each validation error — duplicate id, unknown parent, cycle, bad matrix size, bad
 * direction, mismatched expert scores — named clearly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throwsIipError } from '@iip/testkit';
import { BUILTIN_FRAMEWORKS, builtinFramework, compileTree, parseFramework, resolveWeights } from '@iip/evaluation';

test('the built-in CAICT 2024 framework has the report\'s 5 + 19 indicators and 2–4 third-level ones each', () => {
  assert.deepEqual(BUILTIN_FRAMEWORKS, ['caict-2024']);
  const fw = builtinFramework('caict-2024');
  const l1 = fw.indicators.filter((i) => i.level === 1).map((i) => i.nameZh);
  assert.deepEqual(l1, ['基础能力', '技术创新', '产业发展', '应用推广', '发展环境']);
  const l2 = fw.indicators.filter((i) => i.level === 2).map((i) => i.nameZh);
  assert.deepEqual(l2, [
    '网络建设', '平台培育', '安全感知', '数据管理', '标识建设',
    '研发投入', '创新成果', '创新载体',
    '产业规模', '产业结构', '产业质量', '产业活跃度',
    '标杆打造', '推广普及', '应用水平',
    '政策规划', '资金支持', '人才培养', '生态建设',
  ]);
  for (const p of fw.indicators.filter((i) => i.level === 2)) {
    const n = fw.indicators.filter((i) => i.parent === p.id).length;
    assert.ok(n >= 2 && n <= 4, `${p.id} has ${n} third-level indicators`);
  }
  assert.ok(fw.indicators.some((i) => i.direction === -1), 'some lower-is-better indicators');
  const w = resolveWeights(fw, compileTree(fw));
  assert.ok(w.ahp.every((a) => a.accepted), 'the shipped matrices are consistent');
  // A copy each time: callers may edit it.
  fw.indicators.pop();
  assert.equal(builtinFramework().indicators.length, fw.indicators.length + 1);
});

test('an unknown built-in framework is IIP_ERR_EVAL_FRAMEWORK_UNKNOWN', () => {
  throwsIipError(() => builtinFramework('nope'), 'IIP_ERR_EVAL_FRAMEWORK_UNKNOWN', /caict-2024/);
});

const BASE = `
id: t
indicators:
  - { id: a, parent: null }
  - { id: a1, parent: a }
  - { id: a2, parent: a, direction: "-" }
  - { id: b, parent: null, weight: 2 }
`;

test('JSON works as well as YAML, levels are derived, + and − directions parse', () => {
  const fw = parseFramework(
    JSON.stringify({ id: 'j', indicators: [{ id: 'x', parent: null }, { id: 'y', parent: 'x', direction: '-' }] }),
  );
  assert.equal(fw.indicators[1]!.level, 2);
  assert.equal(fw.indicators[1]!.direction, -1);
  const y = parseFramework(BASE);
  assert.equal(y.indicators[2]!.direction, -1);
  assert.equal(y.indicators[0]!.direction, 1);
});

test('duplicate ids are refused naming both positions', () => {
  const e = throwsIipError(
    () => parseFramework(`id: t\nindicators:\n  - { id: a, parent: null }\n  - { id: a, parent: null }\n`, 'fw.yaml'),
    'IIP_ERR_EVAL_FRAMEWORK_DUPLICATE_ID',
    /fw\.yaml.*"a".*indicators\[0\].*indicators\[1\]/,
  );
  assert.equal(e.details.id, 'a');
});

test('an unknown parent is refused naming the indicator and the parent', () => {
  throwsIipError(
    () => parseFramework(`id: t\nindicators:\n  - { id: a, parent: null }\n  - { id: b, parent: zz }\n`),
    'IIP_ERR_EVAL_FRAMEWORK_UNKNOWN_PARENT',
    /"b" names parent "zz"/,
  );
  throwsIipError(
    () => parseFramework(`${BASE}groups:\n  - { parent: nope, matrix: [[1]] }\n`),
    'IIP_ERR_EVAL_FRAMEWORK_UNKNOWN_PARENT',
    /"nope"/,
  );
});

test('a cycle of parents is refused and listed', () => {
  const e = throwsIipError(
    () => parseFramework(`id: t\nindicators:\n  - { id: a, parent: c }\n  - { id: b, parent: a }\n  - { id: c, parent: b }\n`),
    'IIP_ERR_EVAL_FRAMEWORK_CYCLE',
    /cycle/,
  );
  assert.equal((e.details.cycle as string[]).length, 3);
});

test('more than three levels, a wrong stated level, or a bad direction is IIP_ERR_EVAL_FRAMEWORK_INVALID', () => {
  throwsIipError(
    () => parseFramework(`id: t\nindicators:\n  - { id: a }\n  - { id: b, parent: a }\n  - { id: c, parent: b }\n  - { id: d, parent: c }\n`),
    'IIP_ERR_EVAL_FRAMEWORK_INVALID',
    /at most 3 levels/,
  );
  throwsIipError(() => parseFramework(`id: t\nindicators:\n  - { id: a, level: 2 }\n`), 'IIP_ERR_EVAL_FRAMEWORK_INVALID', /level/);
  throwsIipError(() => parseFramework(`id: t\nindicators:\n  - { id: a, direction: up }\n`), 'IIP_ERR_EVAL_FRAMEWORK_INVALID', /direction/);
  throwsIipError(() => parseFramework(`id: t\nindicators: []\n`), 'IIP_ERR_EVAL_FRAMEWORK_INVALID');
  throwsIipError(() => parseFramework(`: : :\n  - [`), 'IIP_ERR_EVAL_FRAMEWORK_INVALID');
});

test('a judgment matrix of the wrong size is refused naming the matrix and the siblings', () => {
  throwsIipError(
    () => parseFramework(`${BASE}groups:\n  - parent: a\n    matrix: [[1, 2, 3], [1/2, 1, 2], [1/3, 1/2, 1]]\n`),
    'IIP_ERR_EVAL_MATRIX_SIZE',
    /matrix ahp:a is 3 × 3, but "a" has 2 children/,
  );
  throwsIipError(
    () => parseFramework(`${BASE}groups:\n  - parent: a\n    matrix: [[1, 2], [1/2]]\n`),
    'IIP_ERR_EVAL_MATRIX_SIZE',
    /row 2 has 1 cells/,
  );
  throwsIipError(
    () => parseFramework(`${BASE}groups:\n  - parent: a\n    matrix: [[1, x], [1/2, 1]]\n`),
    'IIP_ERR_EVAL_MATRIX_SCALE',
    /cell \(1, 2\)/,
  );
});

test('fractions in matrices parse; weights come from the matrix, then blend with expert scores', () => {
  const noWeight = BASE.replace(', weight: 2', '');
  const fw = parseFramework(`${noWeight}groups:\n  - parent: a\n    matrix: [[1, 3], ["1/3", 1]]\n    expertScores: [1, 1]\n    alpha: 0.5\n`);
  const tree = compileTree(fw);
  const w = resolveWeights(fw, tree);
  assert.equal(w.local[tree.index.get('a1')!], 0.5 * 0.75 + 0.5 * 0.5);
  // b has a weight and a does not: mixed direct weights are refused.
  const e = throwsIipError(() => resolveWeights(parseFramework(BASE), compileTree(parseFramework(BASE))), 'IIP_ERR_EVAL_WEIGHTS_INVALID', /give all or none/);
  assert.deepEqual(e.details.missing, ['a']);
});

test('expert scores of the wrong length and negative weights are refused', () => {
  throwsIipError(() => parseFramework(`${BASE}groups:\n  - parent: a\n    expertScores: [1, 2, 3]\n`), 'IIP_ERR_EVAL_WEIGHTS_INVALID', /3 expert scores for 2/);
  throwsIipError(() => parseFramework(`id: t\nindicators:\n  - { id: a, weight: -1 }\n`), 'IIP_ERR_EVAL_WEIGHTS_INVALID', /negative/);
});
