/**
 * A node's standalone HTTP front door: a Fastify app with the Handle.Net-shaped handle routes, and, when the
 * node has them, the data-template routes and the replication change feed a mirror pulls. The platform
 * server mounts the same route registrars under its own Fastify instance instead.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { HandleService } from '../model/handle-service.js';
import { type RestAuth, registerHandleRoutes } from './handle-routes.js';
import { type ReplicationRoutesOptions, registerReplicationRoutes } from './replication-routes.js';
import { restErrorHandler } from './rest-errors.js';
import { type TemplateApi, registerTemplateRoutes } from './template-routes.js';
import type { SiteCodec } from './value-json.js';

export interface HandleRestAppOptions {
  readonly auth: RestAuth;
  readonly templates?: TemplateApi;
  readonly replicationSource?: ReplicationRoutesOptions['source'];
  /** Who may read the change feed; default: any identity that authenticated against this node. */
  readonly replicationReaders?: ReplicationRoutesOptions['mayRead'];
  readonly siteCodec?: SiteCodec;
  readonly logger?: boolean;
  /** Request body limit in bytes (default 4 MiB: a batch of a few thousand identifiers). */
  readonly bodyLimit?: number;
  /** Answer plain anonymous resolutions from pre-rendered answers when the service keeps them (default true). */
  readonly publicAnswers?: boolean;
}

export async function buildHandleRestApp(service: HandleService, opts: HandleRestAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024 });
  app.setErrorHandler(restErrorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ responseCode: 2, message: `No route ${req.method} ${req.url}; see docs/reference/identifiers.md.`, code: 'IIP_ERR_NOT_FOUND' });
  });
  registerHandleRoutes(app, service, { auth: opts.auth, publicAnswers: opts.publicAnswers !== false, ...(opts.siteCodec ? { siteCodec: opts.siteCodec } : {}) });
  if (opts.templates) registerTemplateRoutes(app, { auth: opts.auth, templates: opts.templates, ...(opts.siteCodec ? { siteCodec: opts.siteCodec } : {}) });
  if (opts.replicationSource) {
    registerReplicationRoutes(app, {
      auth: opts.auth,
      source: opts.replicationSource,
      mayRead: opts.replicationReaders ?? ((who) => who !== null),
    });
  }
  return app;
}
