/**
 * `iip eval run`: the development-effectiveness evaluation (发展成效评价) from the command line — loads a
 * framework (a file or a built-in id) and a data file (or the shipped synthetic example), runs the engine
 * with progress on the long steps, writes the report folder, and prints a summary: the top regions, the
 * tiers and the CR of every judgment matrix. Failures carry their IIP_ERR code and name file, row, column.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { IipError } from '@iip/core';
import {
  BUILTIN_FRAMEWORKS,
  type Dataset,
  type EvaluationOptions,
  type EvaluationResult,
  type Framework,
  type TierOptions,
  builtinFramework,
  exampleData,
  loadFrameworkFile,
  readDataFile,
  runEvaluation,
  writeReport,
} from '@iip/evaluation';
import { UsageError, intOption, parse } from '../args.js';

export const evalHelp = `iip eval — development-effectiveness evaluation / 发展成效评价

  iip eval run <framework> <data> --out <dir>    framework: a YAML/JSON file or a built-in id (e.g. caict-2024)
                                                 data: CSV or XLSX, long (region,indicator,year,value) or wide form
  iip eval run --example --out <dir>             the built-in framework with its synthetic 31-province data
  iip eval frameworks                            list the built-in frameworks

Options of run:
  --out <dir>                 report folder: index.html, result.json, tables/*.csv (required)
  --normalisation <m>         minmax | zscore | rank | goalposts | target (regional scores; default minmax)
  --aggregation <m>           arithmetic | geometric (default arithmetic)
  --missing <m>               omit (leave out and re-weight) | mean | median | groupMean (default omit)
  --tiers <m>                 ckmeans[:k] | quantiles[:k] | thresholds:80,60,40 | counts:6,11,10,4 (default ckmeans:4)
  --runs <n>                  Monte Carlo runs for rank uncertainty (default 1000; 0 = none)
  --seed <n>                  random seed of the Monte Carlo runs (default 1)
  --lang <l>                  zh | en | both (report language; default both, with a switch)
  --allow-inconsistent        accept judgment matrices with CR ≥ 0.1 (they are marked in the report)
  --json                      print the summary as JSON`;

const LANGS = ['zh', 'en', 'both'] as const;
type Lang = (typeof LANGS)[number];

/** A one-line progress counter: rewritten in place on a terminal, a few plain lines otherwise (logs, tests). */
export function progressPrinter(out: (s: string) => void, tty = Boolean(process.stderr.isTTY)): (step: string, done?: number, total?: number) => void {
  let lastStep = '';
  let lastTenth = -1;
  return (step, done, total) => {
    if (done === undefined || total === undefined || total <= 0) {
      if (tty && lastStep) process.stderr.write('\n');
      lastStep = '';
      out(`… ${step}`);
      return;
    }
    if (tty) {
      process.stderr.write(`\r… ${step} ${done}/${total}`);
      lastStep = step;
      if (done >= total) {
        process.stderr.write('\n');
        lastStep = '';
      }
      return;
    }
    const tenth = Math.floor((10 * done) / total);
    if (step !== lastStep) lastTenth = -1;
    lastStep = step;
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      out(`… ${step} ${done}/${total}`);
    }
  };
}

/** The error's own message plus where it happened, when the engine put that in details but not the text. */
export function describeError(e: IipError): string {
  const d = e.details as { file?: unknown; row?: unknown; column?: unknown; matrix?: unknown };
  const where: string[] = [];
  const has = (v: unknown) => v !== undefined && v !== null && !e.message.includes(String(v));
  if (has(d.file)) where.push(`file ${String(d.file)}`);
  if (d.row !== undefined && !/\brow\b/i.test(e.message)) where.push(`row ${String(d.row)}`);
  if (d.column !== undefined && !/\bcolumn\b/i.test(e.message)) where.push(`column ${String(d.column)}`);
  if (has(d.matrix)) where.push(`matrix ${String(d.matrix)}`);
  return where.length ? `${e.message} (${where.join(', ')})` : e.message;
}

function pad(s: string, n: number): string {
  // CJK characters take two terminal columns.
  const width = [...s].reduce((w, c) => w + (/[\u1100-\uffdc]/.test(c) ? 2 : 1), 0);
  return s + ' '.repeat(Math.max(0, n - width));
}

export function summary(result: EvaluationResult, outDir: string): string {
  const lines: string[] = [];
  const latest = result.regional.at(-1);
  const overall = result.national.index.find((s) => s.id === 'overall');
  lines.push(`Framework / 指标体系: ${result.framework.nameZh} (${result.framework.id}); ${result.regions.length} regions, ${result.years[0]}–${result.years.at(-1)}`);
  if (overall) {
    lines.push(`National index / 全国指数 (${result.national.baseYear} = 100): ${result.years.map((y, i) => `${y} ${overall.values[i]?.toFixed(1) ?? '—'}`).join(', ')}`);
  }
  if (latest) {
    const top = [...latest.scores].sort((a, b) => a.rank - b.rank).slice(0, 5);
    lines.push(`Top regions ${latest.year} / 排名前五: ${top.map((s) => `${s.rank}. ${s.region} ${s.overall.toFixed(3)}`).join('  ')}`);
  }
  lines.push(`Tiers / 梯队 (${result.tiers.method}):`);
  result.tiers.names.forEach((name, i) => {
    const members = result.tiers.assignments.filter((a) => a.tier === i).map((a) => a.region);
    lines.push(`  ${pad(name, 8)} ${String(members.length).padStart(2)}  ${members.join(' ')}`);
  });
  if (result.tiers.agreement) lines.push(`  agreement with reference / 与参考一致: exact ${result.tiers.agreement.exact}, ARI ${result.tiers.agreement.ari.toFixed(3)}`);
  if (result.ahp.length) {
    lines.push('AHP consistency / 判断矩阵一致性:');
    for (const m of result.ahp) lines.push(`  ${pad(m.matrixId, 28)} n=${m.ids.length}  λmax=${m.lambdaMax.toFixed(4)}  CR=${m.cr.toFixed(4)}  ${m.accepted ? 'ok' : 'CR ≥ 0.1 (allowed)'}`);
  }
  if (result.uncertainty) lines.push(`Monte Carlo / 蒙特卡洛: ${result.uncertainty.runs} runs; widest 5–95 % rank interval ${widest(result.uncertainty.ranks)}`);
  if (result.imputed.length) lines.push(`Imputed cells / 插补单元: ${result.imputed.length}`);
  lines.push(`Report / 报告: ${resolve(outDir, 'index.html')}`);
  return lines.join('\n');
}

function widest(ranks: NonNullable<EvaluationResult['uncertainty']>['ranks']): string {
  const w = [...ranks].sort((a, b) => b.p95 - b.p5 - (a.p95 - a.p5))[0];
  return w ? `${w.region} ${w.p5}–${w.p95}` : '—';
}

/** A framework argument is a file when one exists at that path, else a built-in id. */
async function loadFramework(arg: string): Promise<Framework> {
  if (existsSync(arg)) return loadFrameworkFile(arg);
  if (BUILTIN_FRAMEWORKS.includes(arg)) return builtinFramework(arg);
  throw new UsageError(`framework "${arg}" is neither a file nor a built-in framework (${BUILTIN_FRAMEWORKS.join(', ')})`);
}

/** `ckmeans`, `ckmeans:5`, `quantiles:4`, `thresholds:80,60,40`, `counts:6,11,10,4`. */
export function tierOption(spec: string): TierOptions {
  const [method = '', arg] = spec.split(':', 2);
  const list = (s: string | undefined) => {
    const xs = (s ?? '').split(',').map((x) => Number(x.trim()));
    if (!s || xs.some((x) => !Number.isFinite(x))) throw new UsageError(`--tiers ${spec}: "${method}:" needs a comma-separated list of numbers`);
    return xs;
  };
  switch (method) {
    case 'ckmeans':
    case 'quantiles':
      return arg === undefined ? { method } : { method, k: intOption(arg, '--tiers', 4, 1) };
    case 'thresholds':
      return { method, thresholds: list(arg) };
    case 'counts':
      return { method, counts: list(arg) };
    default:
      throw new UsageError(`--tiers: "${method}" is not one of ckmeans, quantiles, thresholds, counts`);
  }
}

function choice<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: "${value}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

export async function evaluation(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    out: { type: 'string', short: 'o' },
    example: { type: 'boolean' },
    normalisation: { type: 'string' },
    normalization: { type: 'string' },
    aggregation: { type: 'string' },
    missing: { type: 'string' },
    tiers: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    lang: { type: 'string' },
    'allow-inconsistent': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help || !sub) return out(evalHelp);
  switch (sub) {
    case 'frameworks': {
      for (const id of BUILTIN_FRAMEWORKS) {
        const f = builtinFramework(id);
        out(`${pad(id, 16)} ${f.nameZh} / ${f.nameEn} (${f.indicators.length} indicators)`);
      }
      return;
    }
    case 'run': {
      if (!values.out) throw new UsageError('iip eval run needs --out <dir>');
      const [framework, data] = positionals;
      if (!values.example && (!framework || !data)) throw new UsageError('iip eval run needs <framework> <data>, or --example');
      if (values.example && data) throw new UsageError('--example brings its own data; give no <data> file');
      if (data && !existsSync(data)) throw new UsageError(`data file "${data}" does not exist`);
      const lang: Lang = choice(values.lang, LANGS, '--lang') ?? 'both';
      const runs = intOption(values.runs, '--runs', 1000, 0);
      const progress = progressPrinter(out);
      const options: EvaluationOptions = {
        ...(values.normalisation ?? values.normalization ? { normalisation: { method: (values.normalisation ?? values.normalization) as never } } : {}),
        ...(values.aggregation ? { aggregation: values.aggregation as never } : {}),
        ...(values.missing ? { missing: values.missing as never } : {}),
        ...(values.tiers ? { tiers: tierOption(values.tiers) } : {}),
        ...(values['allow-inconsistent'] ? { allowInconsistent: true } : {}),
        monteCarlo:
          runs === 0
            ? false
            : { runs, seed: intOption(values.seed, '--seed', 1, 0), onProgress: (done, total) => progress('Monte Carlo / 蒙特卡洛', done, total) },
      };
      const started = Date.now();
      try {
        progress('loading the framework / 读取指标体系');
        const fw = await loadFramework(framework ?? 'caict-2024');
        progress(values.example ? 'generating the synthetic example data / 生成合成示例数据' : `reading ${data} / 读取数据`);
        const dataset: Dataset = values.example ? exampleData(fw) : await readDataFile(data!, fw);
        const present = dataset.observations.filter((o) => o.value !== null).length;
        out(`  ${dataset.observations.length} observations (${present} with a value) / 条观测值`);
        progress(runs > 0 ? `evaluating with ${runs} Monte Carlo runs / 计算中（蒙特卡洛 ${runs} 次）` : 'evaluating / 计算中');
        const result = runEvaluation(fw, dataset, options);
        result.options.dataSource = dataset.source;
        if (values.example) result.options.synthetic = true;
        progress(`writing the report to ${values.out} / 写出报告`);
        const { files } = await writeReport(result, values.out, { lang });
        if (values.json) {
          out(JSON.stringify({ outDir: resolve(values.out), files: files.length, tiers: result.tiers, ahp: result.ahp.map((m) => ({ matrixId: m.matrixId, cr: m.cr, accepted: m.accepted })) }, null, 2));
          return;
        }
        out(summary(result, values.out));
        out(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s; ${files.length} files / 完成，共 ${files.length} 个文件`);
      } catch (e) {
        if (e instanceof IipError) throw new IipError(e.code, describeError(e), { ...e.details });
        throw e;
      }
      return;
    }
    default:
      throw new UsageError(`unknown subcommand "iip eval ${sub}"; use run or frameworks`);
  }
}
