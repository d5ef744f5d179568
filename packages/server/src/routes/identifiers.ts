/** Handles (标识解析) for products and devices, and the Handle protocol's own HTTP routes (identifiers:write). */
import { registerHandleRoutes, secretKeyAuth } from '@iip/identifiers';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PlatformIdentifiers } from '../platform-identifiers.js';
import type { RegistryService } from '../registry-service.js';
import { authorize } from './access.js';
import { deviceTarget } from './targets.js';

export async function identifierRoutes(app: FastifyInstance, opts: { registry: RegistryService; identifiers: PlatformIdentifiers }): Promise<void> {
  const { registry, identifiers: ids } = opts;
  registerHandleRoutes(app, ids.service, { auth: secretKeyAuth(ids.service) });
  const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.headers.host ?? 'localhost'}`;
  app.post<{ Params: { id: string } }>(
    '/api/v1/devices/:id/identifier',
    { schema: { tags: ['identifiers'], description: 'Gives the device the handle <prefix>/<id>; resolving it returns static metadata and a link to its live state.' } },
    async (req, reply) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id);
      await authorize(req, 'identifiers:write', null, 'give a device a handle');
      const r = await ids.bindDevice(p.tenant, d, await registry.getProduct(p.tenant, d.product), baseUrl(req));
      return reply.status(201).send({ handle: r.handle, resolve: `${baseUrl(req)}/api/handles/${r.handle}` });
    },
  );
  app.post<{ Params: { id: string } }>(
    '/api/v1/products/:id/identifier',
    { schema: { tags: ['identifiers'], description: 'Gives the product the handle <prefix>/product.<id>.' } },
    async (req, reply) => {
      const p = await authorize(req, 'identifiers:write', null, 'give a product a handle');
      const r = await ids.bindProduct(p.tenant, await registry.getProduct(p.tenant, req.params.id), baseUrl(req));
      return reply.status(201).send({ handle: r.handle, resolve: `${baseUrl(req)}/api/handles/${r.handle}` });
    },
  );
}
