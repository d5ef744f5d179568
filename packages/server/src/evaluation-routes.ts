/**
 * REST API of the development-effectiveness evaluation (发展成效评价) under /api/v1/evaluation: the built-in
 * frameworks, AHP for live consistency feedback while an analyst edits a judgment matrix, runs of the
 * engine on uploaded data, and the HTML report of a run. Runs are kept in memory per tenant (the newest
 * few only): the engine is deterministic, so a lost run is re-created by posting it again.
 */
import { randomUUID } from 'node:crypto';
import { IipError } from '@iip/core';
import {
  BUILTIN_FRAMEWORKS,
  type Dataset,
  type EvaluationOptions,
  type EvaluationResult,
  type Framework,
  ahpWeights,
  builtinFramework,
  datasetFromObservations,
  exampleData,
  parseDataCsv,
  parseJudgment,
  renderReport,
  runEvaluation,
  validateFramework,
} from '@iip/evaluation';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize } from './routes/access.js';

/** Bounds that keep one request from holding the (single-threaded) platform for long. */
export const EVALUATION_LIMITS = {
  /** Request body of POST /runs (CSV text or JSON rows of a few hundred indicators × 31 regions × years). */
  bodyBytes: 8 * 1024 * 1024,
  /** Monte Carlo runs per request (the engine does ~10,000 in about a second on 100 indicators). */
  maxRuns: 5000,
  defaultRuns: 1000,
  /** Results kept in memory per tenant, newest first. */
  keptRuns: 20,
  /** Rows of JSON data per request. */
  maxRows: 200_000,
} as const;

interface RunBody {
  framework?: string | Record<string, unknown>;
  example?: boolean;
  data?: { csv?: string; rows?: Array<{ region: string; indicator: string; year: number; value: number | null }>; name?: string };
  options?: {
    normalisation?: string;
    scale?: number;
    aggregation?: string;
    missing?: string;
    tiers?: { method?: string; k?: number; thresholds?: number[]; counts?: number[]; reference?: Record<string, number | string> };
    runs?: number;
    seed?: number;
    allowInconsistent?: boolean;
    baseYear?: number;
    year?: number;
  };
}

interface StoredRun {
  id: string;
  tenant: string;
  createdAt: number;
  createdBy: string;
  result: EvaluationResult;
}

/** The acting tenant and user, once the decision point allows `permission` (evaluation:read or evaluation:run). */
async function tenantOf(req: FastifyRequest, permission: 'evaluation:read' | 'evaluation:run' = 'evaluation:read'): Promise<{ tenant: string; username: string }> {
  const p = await authorize(req, permission);
  return { tenant: p.tenant, username: p.username };
}

/** Newest-last map per tenant; the oldest run goes when a tenant holds more than `keep`. */
class RunStore {
  private readonly runs = new Map<string, StoredRun>();
  constructor(private readonly keep: number) {}
  add(run: StoredRun): void {
    this.runs.set(`${run.tenant}/${run.id}`, run);
    const mine = [...this.runs.values()].filter((r) => r.tenant === run.tenant);
    for (const old of mine.slice(0, Math.max(0, mine.length - this.keep))) this.runs.delete(`${old.tenant}/${old.id}`);
  }
  get(tenant: string, id: string): StoredRun {
    const r = this.runs.get(`${tenant}/${id}`);
    if (!r) throw new IipError('IIP_ERR_NOT_FOUND', `no evaluation run "${id}" (only the newest ${this.keep} runs are kept; post the run again)`, { run: id });
    return r;
  }
  list(tenant: string): StoredRun[] {
    return [...this.runs.values()].filter((r) => r.tenant === tenant).reverse();
  }
}

function frameworkOf(body: RunBody): Framework {
  const f = body.framework;
  if (f === undefined) {
    if (body.example) return builtinFramework('caict-2024');
    throw new IipError('IIP_ERR_VALIDATION', 'body/framework is required: a built-in framework id or a framework document', { field: 'body/framework' });
  }
  return typeof f === 'string' ? builtinFramework(f) : validateFramework(f, 'body/framework');
}

function optionsOf(o: RunBody['options'] = {}): EvaluationOptions {
  const runs = o.runs ?? EVALUATION_LIMITS.defaultRuns;
  const opts: EvaluationOptions = {};
  if (o.normalisation !== undefined || o.scale !== undefined) opts.normalisation = { method: o.normalisation as never, scale: o.scale };
  if (o.aggregation !== undefined) opts.aggregation = o.aggregation as never;
  if (o.missing !== undefined) opts.missing = o.missing as never;
  if (o.tiers !== undefined) opts.tiers = o.tiers as never;
  if (o.allowInconsistent) opts.allowInconsistent = true;
  if (o.baseYear !== undefined) opts.baseYear = o.baseYear;
  if (o.year !== undefined) opts.year = o.year;
  opts.monteCarlo = runs === 0 ? false : { runs, seed: o.seed ?? 1 };
  return opts;
}

const matrixSchema = {
  type: 'array',
  minItems: 1,
  maxItems: 15,
  items: { type: 'array', minItems: 1, maxItems: 15, items: { anyOf: [{ type: 'number' }, { type: 'string', maxLength: 16 }] } },
} as const;

export async function evaluationRoutes(app: FastifyInstance): Promise<void> {
  const store = new RunStore(EVALUATION_LIMITS.keptRuns);

  app.get('/api/v1/evaluation/frameworks', { schema: { tags: ['evaluation'], description: 'The built-in indicator frameworks (e.g. caict-2024).' } }, async (req) => {
    await tenantOf(req);
    return {
      items: BUILTIN_FRAMEWORKS.map((id) => builtinFramework(id)).map((f) => ({ id: f.id, nameZh: f.nameZh, nameEn: f.nameEn, indicators: f.indicators.length, groups: f.groups.length })),
    };
  });

  app.get<{ Params: { id: string } }>(
    '/api/v1/evaluation/frameworks/:id',
    { schema: { tags: ['evaluation'], description: 'A built-in framework as a document: indicators (id, names, level, parent, direction, unit, source, weight) and weighting groups (judgment matrices).' } },
    async (req) => {
      await tenantOf(req);
      return builtinFramework(req.params.id);
    },
  );

  app.post<{ Body: { matrix: Array<Array<number | string>>; ids?: string[]; id?: string } }>(
    '/api/v1/evaluation/ahp',
    {
      schema: {
        tags: ['evaluation'],
        description:
          'AHP of one judgment matrix (Saaty 1–9 scale; "1/3" or 0.3333): principal-eigenvector weights, λmax, CI, CR and whether CR < 0.1. An inconsistent matrix is answered, not refused, so an editor can show its CR live.',
        body: {
          type: 'object',
          properties: { matrix: matrixSchema, ids: { type: 'array', maxItems: 15, items: { type: 'string', maxLength: 200 } }, id: { type: 'string', maxLength: 200 } },
          required: ['matrix'],
        },
      },
    },
    async (req) => {
      await tenantOf(req);
      const id = req.body.id ?? 'matrix';
      const a = req.body.matrix.map((row, i) => row.map((v, j) => parseJudgment(v, id, i + 1, j + 1)));
      return ahpWeights(a, req.body.ids, { id, allowInconsistent: true });
    },
  );

  app.post<{ Body: RunBody }>(
    '/api/v1/evaluation/runs',
    {
      bodyLimit: EVALUATION_LIMITS.bodyBytes,
      schema: {
        tags: ['evaluation'],
        description: `Runs the evaluation: a framework (built-in id or document) and data (CSV text in long or wide form, or JSON rows {region, indicator, year, value}), or example: true for the synthetic example. Body ≤ ${EVALUATION_LIMITS.bodyBytes / 1024 / 1024} MB; Monte Carlo runs ≤ ${EVALUATION_LIMITS.maxRuns}. Answers 201 with {id, result}.`,
        body: {
          type: 'object',
          properties: {
            framework: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'object', additionalProperties: true }] },
            example: { type: 'boolean' },
            data: {
              type: 'object',
              properties: {
                csv: { type: 'string' },
                name: { type: 'string', maxLength: 200 },
                rows: {
                  type: 'array',
                  maxItems: EVALUATION_LIMITS.maxRows,
                  items: {
                    type: 'object',
                    properties: { region: { type: 'string' }, indicator: { type: 'string' }, year: { type: 'integer' }, value: { type: ['number', 'null'] } },
                    required: ['region', 'indicator', 'year'],
                  },
                },
              },
            },
            options: {
              type: 'object',
              additionalProperties: false,
              properties: {
                normalisation: { type: 'string' },
                scale: { type: 'number', exclusiveMinimum: 0 },
                aggregation: { type: 'string' },
                missing: { type: 'string' },
                tiers: { type: 'object', additionalProperties: false, properties: { method: { type: 'string' }, k: { type: 'integer' }, thresholds: { type: 'array', items: { type: 'number' } }, counts: { type: 'array', items: { type: 'integer' } }, reference: { type: 'object', additionalProperties: { type: ['integer', 'string'] } } } },
                runs: { type: 'integer', minimum: 0, maximum: EVALUATION_LIMITS.maxRuns },
                seed: { type: 'integer', minimum: 0 },
                allowInconsistent: { type: 'boolean' },
                baseYear: { type: 'integer' },
                year: { type: 'integer' },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const who = await tenantOf(req, 'evaluation:run');
      const body = req.body ?? {};
      const fw = frameworkOf(body);
      let data: Dataset;
      if (body.data?.csv !== undefined) data = parseDataCsv(body.data.csv, fw, { name: body.data.name ?? 'upload.csv' });
      else if (body.data?.rows !== undefined) data = datasetFromObservations(fw, body.data.rows, { source: body.data.name ?? 'body/data/rows' });
      else if (body.example) data = exampleData(fw);
      else throw new IipError('IIP_ERR_VALIDATION', 'body/data is required: {csv: "<CSV text>"} or {rows: [...]}, or example: true', { field: 'body/data' });
      const result = runEvaluation(fw, data, optionsOf(body.options));
      result.options.dataSource = data.source;
      if (body.example && body.data === undefined) result.options.synthetic = true;
      const run: StoredRun = { id: randomUUID(), tenant: who.tenant, createdAt: Date.now(), createdBy: who.username, result };
      store.add(run);
      return reply.status(201).send({ id: run.id, createdAt: run.createdAt, result });
    },
  );

  app.get('/api/v1/evaluation/runs', { schema: { tags: ['evaluation'], description: 'The runs kept for this tenant, newest first.' } }, async (req) => {
    const { tenant } = await tenantOf(req);
    return {
      items: store.list(tenant).map((r) => ({ id: r.id, createdAt: r.createdAt, createdBy: r.createdBy, framework: r.result.framework.id, years: r.result.years, regions: r.result.regions.length })),
    };
  });

  app.get<{ Params: { id: string } }>('/api/v1/evaluation/runs/:id', { schema: { tags: ['evaluation'], description: 'The EvaluationResult of a run.' } }, async (req) => {
    const run = store.get((await tenantOf(req)).tenant, req.params.id);
    return { id: run.id, createdAt: run.createdAt, result: run.result };
  });

  app.get<{ Params: { id: string }; Querystring: { lang?: 'zh' | 'en' | 'both'; initial?: 'zh' | 'en' } }>(
    '/api/v1/evaluation/runs/:id/report',
    {
      schema: {
        tags: ['evaluation'],
        description: 'The self-contained HTML report of a run (ECharts inlined; 中文/English).',
        querystring: {
          type: 'object',
          properties: {
            lang: { type: 'string', enum: ['zh', 'en', 'both'] },
            initial: { type: 'string', enum: ['zh', 'en'], description: "With lang=both: the language shown first (default zh), e.g. the console's own." },
          },
        },
      },
    },
    async (req, reply) => {
      const run = store.get((await tenantOf(req)).tenant, req.params.id);
      // Rendered per request rather than cached: it is cheap, and 1 MB of inlined ECharts per kept run is not.
      const html = await renderReport(run.result, { lang: req.query.lang ?? 'both', ...(req.query.initial ? { initial: req.query.initial } : {}) });
      // The page needs its own inline script and style and nothing else: no request leaves it.
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:")
        .header('x-content-type-options', 'nosniff')
        .send(html);
    },
  );
}
