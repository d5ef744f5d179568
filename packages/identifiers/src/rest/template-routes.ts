/**
 * Data templates (标识数据模板) over REST and batch registration against one: `GET/POST /api/templates`,
 * `GET /api/templates/{id}`, `POST /api/handles/batch`. A batch is not all-or-nothing: each item is validated
 * against the template and created on its own, and the answer lists every item's outcome, so one bad
 * identifier in a thousand does not send the other 999 back.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import type { HandleService } from '../model/handle-service.js';
import type { HandleValue, Identity } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import type { RestAuth } from './handle-routes.js';
import { toHandleError } from './rest-errors.js';
import { type SiteCodec, valueFromJson } from './value-json.js';

/** What the REST layer needs from a template registry (the service's templates satisfy it). */
export interface TemplateApi {
  list(): readonly unknown[];
  get(id: string): unknown | undefined;
  /** Validates and stores a template; throws HandleError naming the bad field. */
  define(template: unknown, who: Identity): unknown;
  /** Throws HandleError (IIP_ERR_HANDLE_TEMPLATE_VIOLATION) naming the item that breaks the template. */
  validate(templateId: string, values: readonly HandleValue[]): void;
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
}

export function registerTemplateRoutes(app: FastifyInstance, service: HandleService, opts: TemplateRoutesOptions): void {
  const maxBatch = opts.maxBatch ?? 10_000;

  app.get('/api/templates', async () => ({ responseCode: ResponseCode.SUCCESS, templates: opts.templates.list() }));

  app.get('/api/templates/:id', async (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id;
    const t = opts.templates.get(id);
    if (t === undefined) throw new HandleError(ResponseCode.HANDLE_NOT_FOUND, `No template ${id}.`, { template: id }, 'IIP_ERR_HANDLE_NOT_FOUND');
    return { responseCode: ResponseCode.SUCCESS, template: t };
  });

  app.post('/api/templates', async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await opts.auth(req.headers.authorization);
    if (who === null) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'Defining a template needs an authenticated administrator.');
    const t = opts.templates.define(req.body, who);
    return reply.status(201).send({ responseCode: ResponseCode.SUCCESS, template: t });
  });

  app.post('/api/handles/batch', async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await opts.auth(req.headers.authorization);
    if (who === null) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'Batch registration needs an authenticated administrator.');
    const body = req.body as { template?: unknown; items?: unknown; overwrite?: unknown } | null;
    const templateId = body?.template;
    if (typeof templateId !== 'string' || opts.templates.get(templateId) === undefined) {
      throw new HandleError(ResponseCode.INVALID_VALUE, `"template" must name an existing template (got ${JSON.stringify(templateId)}).`, { field: 'template' });
    }
    const items = body?.items;
    if (!Array.isArray(items) || items.length === 0 || items.length > maxBatch) {
      throw new HandleError(ResponseCode.INVALID_VALUE, `"items" must be a list of 1 to ${maxBatch} {handle, values}.`, { field: 'items' });
    }
    const overwrite = body?.overwrite === true;
    const now = Math.floor(Date.now() / 1000);
    const results: BatchItemResult[] = items.map((item) => {
      const handle = typeof (item as { handle?: unknown })?.handle === 'string' ? (item as { handle: string }).handle : '';
      try {
        const raw = (item as { values?: unknown }).values;
        if (!handle) throw new HandleError(ResponseCode.INVALID_HANDLE, 'Each item needs a "handle".');
        if (!Array.isArray(raw)) throw new HandleError(ResponseCode.INVALID_VALUE, 'Each item needs "values": [...].');
        const values = raw.map((j) => valueFromJson(j, now, opts.siteCodec));
        opts.templates.validate(templateId, values);
        const created = service.create(handle, values, who, { overwrite });
        return { handle: created, responseCode: ResponseCode.SUCCESS };
      } catch (e) {
        const he = toHandleError(e);
        return { handle, responseCode: he.responseCode, code: he.code, message: he.message };
      }
    });
    const created = results.filter((r) => r.responseCode === ResponseCode.SUCCESS).length;
    return reply.status(200).send({ responseCode: ResponseCode.SUCCESS, template: templateId, created, failed: results.length - created, results });
  });
}
