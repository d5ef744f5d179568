/**
 * Data templates (标识数据模板) over REST and batch registration against one: `GET/POST /api/templates`,
 * `GET /api/templates/{id}`, `POST /api/handles/batch`. A batch is not all-or-nothing: each item is validated
 * against the template and created on its own, and the answer lists every item's outcome, so one bad
 * identifier in a thousand does not send the other 999 back (unless the caller asks for `atomic: true`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import type { HandleValue, Identity } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import type { RestAuth } from './handle-routes.js';
import { toHandleError } from './rest-errors.js';
import { type SiteCodec, valueFromJson } from './value-json.js';

/** One batch outcome, as the service reports it. */
export type BatchOutcome =
  | { readonly handle: string; readonly ok: true }
  | { readonly handle: string; readonly ok: false; readonly error: { readonly code: string; readonly responseCode: number; readonly message: string } }
  | { readonly handle: string; readonly ok: false; readonly aborted: true; readonly abortedBy: number };

/** What the REST layer needs from a node's template registry; `LocalHandleService` provides it. */
export interface TemplateApi {
  listTemplates(): Promise<readonly unknown[]>;
  getTemplate(id: string): Promise<unknown | undefined>;
  /** Validates and stores a template; rejects with a HandleError naming the bad field. */
  createTemplate(input: unknown, who: Identity): Promise<unknown>;
  /** Per item unless atomic; an item with a templateId is validated against that template. */
  batchRegister(
    items: ReadonlyArray<{ handle: string; values: readonly HandleValue[]; templateId?: string }>,
    who: Identity,
    opts?: { atomic?: boolean },
  ): Promise<readonly BatchOutcome[]>;
}

export interface TemplateRoutesOptions {
  readonly auth: RestAuth;
  readonly templates: TemplateApi;
  readonly siteCodec?: SiteCodec;
  /** Most items in one batch (default 10,000). */
  readonly maxBatch?: number;
}

export interface BatchItemResult {
  handle: string;
  responseCode: number;
  code?: string;
  message?: string;
  /** Atomic batches: this item was fine but rolled back because item `abortedBy` failed. */
  abortedBy?: number;
}

export function registerTemplateRoutes(app: FastifyInstance, opts: TemplateRoutesOptions): void {
  const maxBatch = opts.maxBatch ?? 10_000;
  const t = opts.templates;

  app.get('/api/templates', async () => ({ responseCode: ResponseCode.SUCCESS, templates: await t.listTemplates() }));

  app.get('/api/templates/:id', async (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id;
    const found = await t.getTemplate(id);
    if (found === undefined) throw new HandleError(ResponseCode.HANDLE_NOT_FOUND, `No template ${id}.`, { template: id }, 'IIP_ERR_HANDLE_NOT_FOUND');
    return { responseCode: ResponseCode.SUCCESS, template: found };
  });

  app.post('/api/templates', async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await opts.auth(req.headers.authorization);
    const created = await t.createTemplate(req.body, who);
    return reply.status(201).send({ responseCode: ResponseCode.SUCCESS, template: created });
  });

  // Body: {template?, atomic?, items: [{handle, values, template?}]}; an item's template overrides the batch's.
  app.post('/api/handles/batch', async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await opts.auth(req.headers.authorization);
    const body = req.body as { template?: unknown; items?: unknown; atomic?: unknown } | null;
    const batchTemplate = body?.template;
    if (batchTemplate !== undefined && (typeof batchTemplate !== 'string' || (await t.getTemplate(batchTemplate)) === undefined)) {
      throw new HandleError(ResponseCode.INVALID_VALUE, `"template" must name an existing template (got ${JSON.stringify(batchTemplate)}).`, { field: 'template' });
    }
    const items = body?.items;
    if (!Array.isArray(items) || items.length === 0 || items.length > maxBatch) {
      throw new HandleError(ResponseCode.INVALID_VALUE, `"items" must be a list of 1 to ${maxBatch} {handle, values}.`, { field: 'items' });
    }
    const now = Math.floor(Date.now() / 1000);
    // Items that cannot even be parsed get their error here; the rest go to the service in one call.
    const results: Array<BatchItemResult | undefined> = [];
    const parsed: Array<{ handle: string; values: HandleValue[]; templateId?: string }> = [];
    const at: number[] = [];
    items.forEach((item, i) => {
      const it = (item ?? {}) as { handle?: unknown; values?: unknown; template?: unknown };
      const handle = typeof it.handle === 'string' ? it.handle : '';
      try {
        if (!handle) throw new HandleError(ResponseCode.INVALID_HANDLE, 'Each item needs a "handle".');
        if (!Array.isArray(it.values)) throw new HandleError(ResponseCode.INVALID_VALUE, 'Each item needs "values": [...].');
        const values = it.values.map((j) => valueFromJson(j, now, opts.siteCodec));
        const templateId = typeof it.template === 'string' ? it.template : (batchTemplate as string | undefined);
        parsed.push({ handle, values, ...(templateId === undefined ? {} : { templateId }) });
        at.push(i);
        results.push(undefined);
      } catch (e) {
        const he = toHandleError(e);
        results.push({ handle, responseCode: he.responseCode, code: he.code, message: he.message });
      }
    });
    const atomic = body?.atomic === true;
    if (atomic && results.some((r) => r !== undefined)) {
      const bad = results.findIndex((r) => r !== undefined);
      return reply.status(400).send({ responseCode: ResponseCode.INVALID_VALUE, created: 0, failed: items.length, results: results.map((r, i) => r ?? { handle: parsed[at.indexOf(i)]?.handle ?? '', responseCode: ResponseCode.ERROR, abortedBy: bad }) });
    }
    const outcomes = parsed.length > 0 ? await t.batchRegister(parsed, who, { atomic }) : [];
    outcomes.forEach((o, k) => {
      const i = at[k] as number;
      if (o.ok) results[i] = { handle: o.handle, responseCode: ResponseCode.SUCCESS };
      else if ('aborted' in o) results[i] = { handle: o.handle, responseCode: ResponseCode.ERROR, abortedBy: at[o.abortedBy] ?? o.abortedBy };
      else results[i] = { handle: o.handle, responseCode: o.error.responseCode, code: o.error.code, message: o.error.message };
    });
    const done = results as BatchItemResult[];
    const created = done.filter((r) => r.responseCode === ResponseCode.SUCCESS).length;
    return reply.status(200).send({ responseCode: ResponseCode.SUCCESS, created, failed: done.length - created, results: done });
  });
}
