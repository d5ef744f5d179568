/**
 * GET /metrics: the platform's load in the Prometheus text exposition format (load-metrics.ts; every family is
 * in docs/reference/monitoring.md). It sits beside /api/v1, where scrapers look for it, and asks what
 * GET /api/v1/status asks: a signed-in user's bearer token or an API token (Prometheus sends one with
 * `authorization: {credentials_file: …}`), of any tenant whose sign-in is let in.
 */
import type { FastifyInstance } from 'fastify';
import { METRICS_CONTENT_TYPE, type PlatformLoad } from '../load-metrics.js';
import { errorResponses } from '../schemas.js';
import { type PrincipalResolver, bearer, requireEnrolled } from './auth.js';

export async function metricsRoutes(app: FastifyInstance, opts: { load: PlatformLoad; resolve: PrincipalResolver }): Promise<void> {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['system'],
        summary: 'The platform’s load as Prometheus metrics',
        description:
          'Prometheus text exposition format 0.0.4: event-loop delay and utilisation, PUBACK latency (a histogram since start, and quantiles over the last 60 s), queue depths (historian, MQTT in and out, live stream), memory, MQTT and ingest counters, all named `iip_*` with their unit, plus prom-client’s default `process_*` and `nodejs_*` metrics. Needs a bearer token like GET /api/v1/status: a signed-in user’s, or an API token of a service account (docs/reference/monitoring.md shows a Prometheus scrape configuration).',
        response: {
          200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          401: errorResponses[401],
        },
      },
    },
    async (req, reply) => {
      // Not under /api/v1, so the app's authentication hook does not run here: the same resolution, by hand.
      req.principal = await opts.resolve(bearer(req), undefined, req.ip);
      requireEnrolled(req.principal, req.routeOptions.url);
      const text = await opts.load.metrics();
      return reply.type(METRICS_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
    },
  );
}
