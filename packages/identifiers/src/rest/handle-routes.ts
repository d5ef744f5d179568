/**
 * The Handle.Net v9 JSON API over the `HandleService` port: `GET|PUT|DELETE /api/handles/{handle}`, the
 * paged `GET /api/handles?prefix=` and `GET /api/site`. Every route authenticates through the injected `auth` and leaves
 * authorisation to the service, so REST and the binary protocol refuse exactly the same things.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import type { HandleService } from '../model/handle-service.js';
import type { HandleValue, Identity } from '../model/handle-value.js';
import { ResponseCode, httpStatusFor } from '../model/response-codes.js';
import { isPublicAnswerSource } from '../service/public-answers.js';
import { registerSiteRoutes } from './site-routes.js';
import { type HandleValueJson, type SiteCodec, valueFromJson, valueToJson } from './value-json.js';

export type RestAuth = (authorizationHeader: string | undefined) => Identity | Promise<Identity>;

export interface HandleRoutesOptions {
  readonly auth: RestAuth;
  readonly siteCodec?: SiteCodec;
  /** Largest page of `GET /api/handles?prefix=` (default 10,000). */
  readonly maxPageSize?: number;
  /**
   * Answer anonymous `GET /api/handles/{handle}` without filters from the service's pre-rendered public
   * answers when it keeps them (default true); the bodies are those of the full path (tested).
   */
  readonly publicAnswers?: boolean;
}

export interface HandleRecordJson {
  responseCode: number;
  handle: string;
  values: HandleValueJson[];
}

type Query = Record<string, string | string[] | undefined>;

function list(q: string | string[] | undefined): string[] {
  if (q === undefined) return [];
  return (Array.isArray(q) ? q : [q]).flatMap((s) => s.split(',')).filter((s) => s.length > 0);
}

function flag(q: string | string[] | undefined, dflt: boolean): boolean {
  const v = Array.isArray(q) ? q[q.length - 1] : q;
  if (v === undefined) return dflt;
  return v === '' || v.toLowerCase() === 'true';
}

function indexes(q: string | string[] | undefined): number[] {
  return list(q).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new HandleError(ResponseCode.INVALID_VALUE, `index=${s} is not an integer > 0.`, { field: 'index' });
    return n;
  });
}

function handleOf(req: FastifyRequest): string {
  const h = (req.params as { '*': string })['*'];
  if (!h) throw new HandleError(ResponseCode.INVALID_HANDLE, 'No handle in the path; use /api/handles/{prefix}/{suffix}.');
  return h;
}

/** Handle.Net's PUT takes a list of values, `{values: [...]}` (other keys ignored), or one value object. */
function rawValues(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null) {
    if ('values' in body) {
      const values = (body as { values: unknown }).values;
      if (Array.isArray(values)) return values;
    } else if ('index' in body || 'type' in body) {
      return [body];
    }
  }
  throw new HandleError(ResponseCode.INVALID_VALUE, 'The body must be {"values": [...]}, a list of values, or one value {index, type, data}.', { field: 'values' });
}

function bodyValues(body: unknown, site: SiteCodec | undefined): HandleValue[] {
  const raw = rawValues(body);
  // Only a placeholder: the service stamps what it stores with the node's clock.
  const now = Math.floor(Date.now() / 1000);
  const values = raw.map((j) => valueFromJson(j, now, site));
  const seen = new Set<number>();
  for (const v of values) {
    if (seen.has(v.index)) throw new HandleError(ResponseCode.INVALID_VALUE, `value index ${v.index} appears twice in the body.`, { index: v.index });
    seen.add(v.index);
  }
  return values;
}

/** Indexes the handle has now, or undefined when the handle does not exist. */
async function existingIndexes(service: HandleService, handle: string, who: Identity): Promise<Set<number> | undefined> {
  try {
    return new Set((await service.resolve(handle, {}, who)).map((v) => v.index));
  } catch (e) {
    if (e instanceof HandleError && e.responseCode === ResponseCode.HANDLE_NOT_FOUND) return undefined;
    if (e instanceof HandleError && e.responseCode === ResponseCode.VALUES_NOT_FOUND) return new Set();
    throw e;
  }
}

export function registerHandleRoutes(app: FastifyInstance, service: HandleService, opts: HandleRoutesOptions): void {
  const site = opts.siteCodec;
  const maxPageSize = opts.maxPageSize ?? 10_000;
  const who = (req: FastifyRequest) => opts.auth(req.headers.authorization);
  /** The `values` of a resolution answer, for the full path and for the pre-rendered answers alike. */
  const valuesJson = (values: readonly HandleValue[]) => values.map((v) => valueToJson(v, site));
  const answers =
    opts.publicAnswers !== false && isPublicAnswerSource(service) ? service.publicAnswers((values) => JSON.stringify(valuesJson(values))) : undefined;
  if (answers) app.addHook('onClose', async () => answers.dispose());
  registerSiteRoutes(app, service);

  // Exactly the bytes Fastify's serializer makes of the object built in fullResolve() for the same answer.
  const sendRendered = (reply: FastifyReply, handle: string, rendered: string): FastifyReply =>
    reply.type('application/json; charset=utf-8').send(`{"responseCode":1,"handle":${JSON.stringify(handle)},"values":${rendered}}`);

  /**
   * Resolution once the caller is known: the pre-rendered answer when it applies (a kept one is sent without
   * a promise), else the full path.
   */
  const resolveInto = (reply: FastifyReply, handle: string, q: Query, identity: Identity): FastifyReply | Promise<FastifyReply> => {
    if (answers && identity === null && q.type === undefined && q.index === undefined) {
      const rendered = answers.get(handle);
      if (typeof rendered === 'string') return sendRendered(reply, handle, rendered);
      if (rendered !== undefined) return rendered.then((r) => (r !== undefined ? sendRendered(reply, handle, r) : fullResolve(reply, handle, q, identity)));
    }
    return fullResolve(reply, handle, q, identity);
  };

  const fullResolve = async (reply: FastifyReply, handle: string, q: Query, identity: Identity): Promise<FastifyReply> => {
    const types = list(q.type);
    const idx = indexes(q.index);
    let values: HandleValue[];
    try {
      values = await service.resolve(handle, { types, indexes: idx }, identity);
    } catch (e) {
      // Handle.Net answers a resolution whose filters match nothing with 200 and responseCode 200.
      if (e instanceof HandleError && e.responseCode === ResponseCode.VALUES_NOT_FOUND) values = [];
      else throw e;
    }
    const rc = values.length === 0 && (types.length > 0 || idx.length > 0) ? ResponseCode.VALUES_NOT_FOUND : ResponseCode.SUCCESS;
    const body: HandleRecordJson = { responseCode: rc, handle, values: valuesJson(values) };
    return reply.status(httpStatusFor(rc, 'resolution')).send(body);
  };

  // Not an async function: anonymous resolution (the hot path) then costs no promise and no microtask.
  // Fastify catches what a synchronous handler throws and awaits what it returns.
  app.get('/api/handles/*', (req: FastifyRequest, reply: FastifyReply) => {
    const handle = handleOf(req);
    const pending = who(req);
    if (pending instanceof Promise) return pending.then((identity) => resolveInto(reply, handle, req.query as Query, identity));
    const sent = resolveInto(reply, handle, req.query as Query, pending);
    return sent instanceof Promise ? sent : undefined;
  });

  app.put('/api/handles/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const handle = handleOf(req);
    const q = req.query as Query;
    const identity = await who(req);
    const values = bodyValues(req.body, site);
    const overwrite = flag(q.overwrite, true);
    if (flag(q.mintNewSuffix, false)) {
      const minted = await service.create(handle, values, identity, { mintNewSuffix: true });
      return reply.status(201).send({ responseCode: ResponseCode.SUCCESS, handle: minted });
    }
    const indexParam = list(q.index);
    const existing = await existingIndexes(service, handle, identity);
    if (indexParam.length > 0) {
      // `index=` (or `index=various`): add or replace only the named values, leaving the others alone.
      const wanted = indexParam.includes('various') ? undefined : new Set(indexes(indexParam));
      const chosen = wanted ? values.filter((v) => wanted.has(v.index)) : values;
      if (chosen.length === 0) throw new HandleError(ResponseCode.INVALID_VALUE, 'None of the index= values is in the body.');
      if (!existing) {
        await service.create(handle, chosen, identity, { overwrite: false });
        return reply.status(201).send({ responseCode: ResponseCode.SUCCESS, handle });
      }
      const replace = chosen.filter((v) => existing.has(v.index));
      const add = chosen.filter((v) => !existing.has(v.index));
      if (!overwrite && replace.length > 0) {
        throw new HandleError(ResponseCode.VALUE_ALREADY_EXISTS, `Value ${replace[0]?.index} already exists and overwrite=false.`, { index: replace[0]?.index });
      }
      if (replace.length > 0) await service.modifyValues(handle, replace, identity);
      if (add.length > 0) await service.addValues(handle, add, identity);
      return reply.status(add.length > 0 ? 201 : 200).send({ responseCode: ResponseCode.SUCCESS, handle });
    }
    if (existing && !overwrite) throw new HandleError(ResponseCode.HANDLE_ALREADY_EXISTS, `${handle} already exists and overwrite=false.`);
    const created = await service.create(handle, values, identity, { overwrite: true });
    return reply.status(existing ? 200 : 201).send({ responseCode: ResponseCode.SUCCESS, handle: created });
  });

  app.delete('/api/handles/*', async (req: FastifyRequest, reply: FastifyReply) => {
    const handle = handleOf(req);
    const identity = await who(req);
    const idx = indexes((req.query as Query).index);
    if (idx.length > 0) await service.removeValues(handle, idx, identity);
    else await service.delete(handle, identity);
    return reply.status(200).send({ responseCode: ResponseCode.SUCCESS, handle });
  });

  app.get('/api/handles', async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.query as Query;
    const prefix = list(q.prefix)[0];
    if (!prefix) throw new HandleError(ResponseCode.INVALID_HANDLE, 'GET /api/handles needs ?prefix=<prefix>.');
    const identity = await who(req);
    const page = q.page === undefined ? 0 : Number(q.page);
    const pageSize = q.pageSize === undefined ? 100 : Number(q.pageSize);
    if (!Number.isInteger(page) || page < 0) throw new HandleError(ResponseCode.INVALID_VALUE, 'page must be an integer ≥ 0 (pages count from 0).');
    if (!Number.isInteger(pageSize) || pageSize <= 0 || pageSize > maxPageSize) {
      throw new HandleError(ResponseCode.INVALID_VALUE, `pageSize must be an integer from 1 to ${maxPageSize}.`);
    }
    const r = await service.listHandles(prefix, identity, { offset: page * pageSize, limit: pageSize });
    return reply.send({ responseCode: ResponseCode.SUCCESS, prefix, totalCount: r.total, page, pageSize, handles: r.handles });
  });
}
