/**
 * Edge gateways: /api/v1/gateways… (gateways:read, gateways:write on the gateway's asset) and the device audit
 * trail of writes and config pushes: /api/v1/audit (devices:read on the device named, or audit:read for all).
 */
import type { DeviceId } from '@iip/core';
import type { GatewayManager } from '@iip/device-access';
import type { AuditStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import type { RegistryService } from '../registry-service.js';
import { authorize, permitted, principal } from './access.js';
import { deviceTarget } from './targets.js';

export async function gatewayRoutes(app: FastifyInstance, opts: { registry: RegistryService; gateways: GatewayManager; audit: AuditStore }): Promise<void> {
  const { registry, gateways, audit } = opts;

  app.get('/api/v1/gateways', { schema: { tags: ['gateways'], description: 'The gateways the principal may see (gateways:read on the tenant or on their assets).' } }, async (req) => {
    const p = principal(req);
    const all = await gateways.list(p.tenant);
    if (await permitted(req, 'gateways:read')) return { items: all };
    const items = [];
    for (const g of all) {
      const d = await registry.findDevice(p.tenant, g.gateway);
      if (d && (await permitted(req, 'gateways:read', d.asset))) items.push(g);
    }
    return { items };
  });
  app.get<{ Params: { id: string } }>(
    '/api/v1/gateways/:id',
    {
      schema: {
        tags: ['gateways'],
        description:
          'Desired config, reported state (applied version, buffer, per-channel state and per-device poll health) and whether they agree: inSync is false while the desired version is not applied (sync "pending") or a channel of it failed to start (sync "applied-with-failures", failedChannels).',
      },
    },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id, 'gateways:read', 'see a gateway');
      return gateways.status(p.tenant, d.id as DeviceId);
    },
  );
  app.put<{ Params: { id: string }; Body: unknown }>(
    '/api/v1/gateways/:id/config',
    { schema: { tags: ['gateways'], description: 'Stores a new version of the gateway configuration and pushes it to the gateway (gateways:write).', body: { type: 'object', additionalProperties: true } } },
    async (req) => {
      const { p, d: gw } = await deviceTarget(req, registry, req.params.id, 'gateways:write', 'configure a gateway');
      // Only "not found" means absent; any other failure (storage down) fails the request.
      const exists = async (id: string) => (await registry.findDevice(p.tenant, id)) !== undefined;
      const modelOf = async (id: string) => {
        const d = await registry.findDevice(p.tenant, id);
        return d && (await registry.findProduct(p.tenant, d.product))?.model;
      };
      const rec = await gateways.setConfig(p.tenant, gw.id, req.body, p.username, exists, modelOf);
      return { gateway: rec.gateway, version: rec.version, createdAt: rec.createdAt };
    },
  );
  app.get<{ Querystring: { device?: string; limit: number } }>(
    '/api/v1/audit',
    {
      schema: {
        tags: ['audit'],
        description: 'Writes and configuration pushes, newest first: of one device (devices:read on it) or of the whole tenant (audit:read).',
        querystring: { type: 'object', properties: { device: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
      },
    },
    async (req) => {
      const p = req.query.device ? (await deviceTarget(req, registry, req.query.device)).p : await authorize(req, 'audit:read', null, 'read the audit trail');
      return { items: await audit.list(p.tenant, { device: req.query.device, limit: req.query.limit }) };
    },
  );
}
