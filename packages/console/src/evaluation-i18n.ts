/**
 * The evaluation page's strings in English and 简体中文, kept beside the page (the console's main dictionary
 * holds the shared shell strings). Same shape for both languages, enforced by the type. Pure.
 */
import type { Lang } from './i18n-dictionary';

const en = {
  'nav.evaluation': 'Evaluation',
  title: 'Development-effectiveness evaluation',
  intro: 'Compute the national and regional industrial-internet indices with AHP weights, tiers and rank uncertainty.',
  framework: 'Framework',
  data: 'Data',
  useExample: 'Synthetic example (31 provinces, 2020–2023)',
  uploadCsv: 'Upload CSV (long: region,indicator,year,value — or wide)',
  fileChosen: '{name} ({size} KB)',
  weights: 'Judgment matrix',
  group: 'Sibling group',
  groupOverall: 'Overall index (first-level indicators)',
  noGroups: 'This framework has no judgment matrices; it uses direct or equal weights.',
  matrixHint: 'Edit the upper triangle on Saaty’s 1–9 scale; the lower triangle holds the reciprocals.',
  cr: 'CR = {cr}',
  crOk: 'consistent (CR < 0.1)',
  crBad: 'inconsistent (CR ≥ 0.1): revise the judgments',
  crPending: 'checking…',
  lambdaMax: 'λmax = {v}',
  weight: 'weight',
  resetMatrix: 'Reset',
  options: 'Options',
  normalisation: 'Normalisation',
  aggregation: 'Aggregation',
  missing: 'Missing values',
  tiers: 'Tiers',
  runs: 'Monte Carlo runs',
  allowInconsistent: 'Allow CR ≥ 0.1',
  run: 'Run evaluation',
  running: 'Running…',
  report: 'Report',
  openReport: 'Open in a new tab',
  top: 'Top regions {year}',
  loading: 'Loading…',
  noCsv: 'Choose a CSV file first, or use the example.',
} as const;

export type EvalKey = keyof typeof en;

const zh: Record<EvalKey, string> = {
  'nav.evaluation': '成效评价',
  title: '发展成效评价',
  intro: '用层次分析法权重计算全国和地区工业互联网发展指数，划分梯队并分析排名不确定性。',
  framework: '指标体系',
  data: '数据',
  useExample: '合成示例数据（31 个省份，2020–2023）',
  uploadCsv: '上传 CSV（长表：region,indicator,year,value，或宽表）',
  fileChosen: '{name}（{size} KB）',
  weights: '判断矩阵',
  group: '同级指标组',
  groupOverall: '总指数（一级指标）',
  noGroups: '该指标体系没有判断矩阵，使用直接权重或等权重。',
  matrixHint: '按 Saaty 1–9 标度编辑上三角，下三角自动取倒数。',
  cr: 'CR = {cr}',
  crOk: '通过一致性检验（CR < 0.1）',
  crBad: '未通过一致性检验（CR ≥ 0.1），请修改判断',
  crPending: '正在检验…',
  lambdaMax: 'λmax = {v}',
  weight: '权重',
  resetMatrix: '还原',
  options: '参数',
  normalisation: '无量纲化方法',
  aggregation: '合成方法',
  missing: '缺失值处理',
  tiers: '梯队划分',
  runs: '蒙特卡洛次数',
  allowInconsistent: '允许 CR ≥ 0.1',
  run: '开始评价',
  running: '计算中…',
  report: '评价报告',
  openReport: '在新标签页打开',
  top: '{year} 年排名前列',
  loading: '加载中…',
  noCsv: '请先选择 CSV 文件，或使用示例数据。',
};

const DICT: Record<Lang, Record<EvalKey, string>> = { en, zh };

export function evalText(lang: Lang, key: EvalKey, params?: Readonly<Record<string, string | number>>): string {
  const s = DICT[lang][key];
  return params ? s.replace(/\{(\w+)\}/g, (w, k: string) => (params[k] === undefined ? w : String(params[k]))) : s;
}
