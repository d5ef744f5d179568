/**
 * `GET /api/replication/changes?since=&limit=`: the primary's transaction log as a mirror pulls it over HTTP.
 * Only an authenticated administrator may read it, since it carries every value, private ones included.
 * `POST /api/replication/compact[?upTo=<seq>]`: compacts the log (newest change per handle, no record
 * copies; see HandleStore.compactLog) and answers what it removed; mirrors keep converging.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import type { Identity } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import type { RestAuth } from './handle-routes.js';

/** Anything that can page through a transaction log; its answer is sent as the JSON body unchanged. */
export interface ChangeFeed {
  changes(since: number, limit: number): unknown;
  /** Present when the log can be compacted. */
  compact?(upTo?: number): Promise<{ readonly removed: number; readonly stripped: number; readonly remaining: number }>;
}

export interface ReplicationRoutesOptions {
  readonly auth: RestAuth;
  readonly source: ChangeFeed;
  readonly mayRead: (who: Identity) => boolean;
}

export function registerReplicationRoutes(app: FastifyInstance, opts: ReplicationRoutesOptions): void {
  app.get('/api/replication/changes', async (req: FastifyRequest, reply: FastifyReply) => {
    const who = await opts.auth(req.headers.authorization);
    if (who === null) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'The change feed needs an authenticated administrator.');
    if (!opts.mayRead(who)) throw new HandleError(ResponseCode.INSUFFICIENT_PERMISSIONS, `${who.index}:${who.handle} may not read the change feed.`);
    const q = req.query as { since?: string; limit?: string };
    const since = q.since === undefined ? 0 : Number(q.since);
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(since) || since < 0) throw new HandleError(ResponseCode.INVALID_VALUE, 'since must be an integer ≥ 0.');
    if (!Number.isInteger(limit) || limit <= 0 || limit > 10_000) throw new HandleError(ResponseCode.INVALID_VALUE, 'limit must be an integer from 1 to 10000.');
    return reply.send(await opts.source.changes(since, limit));
  });

  const compact = opts.source.compact?.bind(opts.source);
  if (compact) {
    app.post('/api/replication/compact', async (req: FastifyRequest, reply: FastifyReply) => {
      const who = await opts.auth(req.headers.authorization);
      if (who === null) throw new HandleError(ResponseCode.AUTHENTICATION_NEEDED, 'Compacting the transaction log needs an authenticated administrator.');
      if (!opts.mayRead(who)) throw new HandleError(ResponseCode.INSUFFICIENT_PERMISSIONS, `${who.index}:${who.handle} may not compact the transaction log.`);
      const q = req.query as { upTo?: string };
      const upTo = q.upTo === undefined ? undefined : Number(q.upTo);
      if (upTo !== undefined && (!Number.isInteger(upTo) || upTo < 0)) throw new HandleError(ResponseCode.INVALID_VALUE, 'upTo must be an integer ≥ 0 (a change seq).');
      const t0 = Date.now();
      const r = await compact(upTo);
      return reply.send({ responseCode: ResponseCode.SUCCESS, ...r, seconds: (Date.now() - t0) / 1000 });
    });
  }
}
