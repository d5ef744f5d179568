/**
 * A device's events (issue 13, point 1): GET /api/v1/devices/{id}/events, oldest first, filtered by time, event
 * and level, paged by sequence number. Reading needs devices:read on the device (an unreadable device is a 404,
 * as everywhere).
 */
import type { DeviceId, TenantId } from '@iip/core';
import type { DeviceEventLevel, DeviceEventStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import type { RegistryService } from '../registry-service.js';
import { errorResponses } from '../schemas.js';
import { deviceTarget } from './targets.js';

const eventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    event: { type: 'string' },
    ts: { type: 'integer' },
    receivedAt: { type: 'integer' },
    level: { type: 'string', enum: ['info', 'warn', 'alert'] },
    data: { type: 'object', additionalProperties: true },
  },
} as const;

export async function deviceEventRoutes(app: FastifyInstance, opts: { registry: RegistryService; events: DeviceEventStore }): Promise<void> {
  app.get<{ Params: { id: string }; Querystring: { from?: number; to?: number; event?: string; level?: DeviceEventLevel; after?: string; afterSeq?: number; limit: number } }>(
    '/api/v1/devices/:id/events',
    {
      schema: {
        tags: ['telemetry'],
        description:
          'The events the device announced, oldest first (by time, then sequence number): `from` ≤ ts < `to` (ms), one `event` id or `level`. When `limit` is reached, `next` continues: pass it as `after` (an event that arrived late with an older time is not skipped).',
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'integer' },
            to: { type: 'integer' },
            event: { type: 'string', maxLength: 64 },
            level: { type: 'string', enum: ['info', 'warn', 'alert'] },
            after: { type: 'string', pattern: '^-?[0-9]{1,16}:[0-9]{1,16}$', description: 'The `next` of the previous page (`<ts>:<seq>`)' },
            afterSeq: { type: 'integer', minimum: 0, description: 'Only events stored after this sequence number (new since a previous read: sequence numbers follow commit order)' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: { 200: { type: 'object', properties: { device: { type: 'string' }, items: { type: 'array', items: eventSchema }, next: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (req) => {
      const { p, d } = await deviceTarget(req, opts.registry, req.params.id);
      const q = req.query;
      const items = await opts.events.listByDevice(p.tenant as TenantId, d.id as DeviceId, {
        limit: q.limit,
        ...(q.from !== undefined && { from: q.from }),
        ...(q.to !== undefined && { to: q.to }),
        ...(q.event !== undefined && { event: q.event }),
        ...(q.level !== undefined && { level: q.level }),
        ...(q.afterSeq !== undefined && { afterSeq: q.afterSeq }),
        ...(q.after !== undefined && { after: { ts: Number(q.after.split(':')[0]), seq: Number(q.after.split(':')[1]) } }),
      });
      const last = items[items.length - 1];
      return {
        device: d.id,
        items: items.map((e) => ({ seq: e.seq, event: e.event, ts: e.ts, receivedAt: e.receivedAt, level: e.level, data: e.data })),
        ...(items.length === q.limit && last && { next: `${last.ts}:${last.seq}` }),
      };
    },
  );
}
