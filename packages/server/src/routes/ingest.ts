/**
 * Device ingest over HTTP: POST /api/v1/ingest, authenticated with the device's own credential (not a user).
 * Its own scope with a raw-body parser: the admission gate sees the exact bytes, so size limits and JSON errors
 * are the same IIP_ERR_* codes as over MQTT, whatever Content-Type the device sends.
 */
import type { HttpIngest } from '@iip/device-access/platform';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../schemas.js';

export async function ingestRoutes(scope: FastifyInstance, opts: { ingest: HttpIngest }): Promise<void> {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  scope.post(
    '/api/v1/ingest',
    {
      config: { public: true },
      schema: {
        tags: ['ingest'],
        description: 'Telemetry from a device, authenticated with HTTP Basic `{tenant}/{device}:{secret}`. Same payloads as MQTT; atomic.',
        security: [{ device: [] }],
        response: {
          202: {
            type: 'object',
            description: '`accepted` points were stored; `duplicates` repeated a stored (property, ts) and were not stored again (the first 100 named in `duplicatePoints`).',
            properties: {
              accepted: { type: 'integer' },
              duplicates: { type: 'integer' },
              duplicatePoints: { type: 'array', items: { type: 'object', properties: { property: { type: 'string' }, ts: { type: 'integer' } } } },
              device: { type: 'string' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const r = await opts.ingest.handle(req.headers.authorization, body);
      return reply.status(r.status as 202).send(r.body);
    },
  );
  scope.post(
    '/api/v1/ingest/events',
    {
      config: { public: true },
      schema: {
        tags: ['ingest'],
        description:
          'Device events (`{"event", "ts"?, "data"?}` or an array of them), authenticated like /ingest; validated against the thing model and stored, all or nothing (docs/reference/events.md).',
        security: [{ device: [] }],
        response: {
          202: {
            type: 'object',
            description: 'The events were stored, with these sequence numbers.',
            properties: { accepted: { type: 'integer' }, device: { type: 'string' }, seqs: { type: 'array', items: { type: 'integer' } } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const r = await opts.ingest.handleEvents(req.headers.authorization, body);
      return reply.status(r.status as 202).send(r.body);
    },
  );
}
