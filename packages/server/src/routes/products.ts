/** Products and their thing models: /api/v1/products… (products:read, products:write). */
import type { ThingModel } from '@iip/core';
import type { FastifyInstance } from 'fastify';
import type { ModelFormats } from '../model-formats.js';
import type { RegistryService } from '../registry-service.js';
import { errorResponses, productSchema, thingModelSchema } from '../schemas.js';
import { authorize } from './access.js';

export async function productRoutes(app: FastifyInstance, opts: { registry: RegistryService; formats: ModelFormats }): Promise<void> {
  const { registry, formats } = opts;
  const productBody = {
    type: 'object',
    properties: { id: { type: 'string' }, name: { type: 'string' }, category: { type: 'string' }, model: thingModelSchema },
    required: ['id', 'model'],
  } as const;

  app.get('/api/v1/products', { schema: { tags: ['products'], response: { 200: { type: 'object', properties: { items: { type: 'array', items: productSchema } } } } } }, async (req) => {
    const p = await authorize(req, 'products:read');
    return { items: await registry.listProducts(p.tenant) };
  });
  app.post<{ Body: { id: string; name?: string; category?: string; model: ThingModel } }>(
    '/api/v1/products',
    { schema: { tags: ['products'], body: productBody, response: { 201: productSchema, ...errorResponses } } },
    async (req, reply) => {
      const p = await authorize(req, 'products:write', null, 'create a product');
      return reply.status(201).send(await registry.createProduct(p.tenant, req.body));
    },
  );
  app.post<{ Querystring: { format: 'tsl' | 'wot' }; Body: { id: string; name?: string; category?: string; document: unknown } }>(
    '/api/v1/products/import',
    {
      schema: {
        tags: ['products'],
        description: 'Create a product from a JetLinks-style TSL document or a W3C WoT Thing Description 1.1.',
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['tsl', 'wot'] } }, required: ['format'] },
        body: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, category: { type: 'string' }, document: { type: 'object', additionalProperties: true } }, required: ['id', 'document'] },
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'products:write', null, 'import a product');
      const model = formats.importModel(req.query.format, req.body.document);
      return reply.status(201).send(await registry.createProduct(p.tenant, { ...req.body, model }));
    },
  );
  app.get<{ Params: { id: string } }>('/api/v1/products/:id', { schema: { tags: ['products'], response: { 200: productSchema, 404: errorResponses[404] } } }, async (req) => {
    const p = await authorize(req, 'products:read');
    return registry.getProduct(p.tenant, req.params.id);
  });
  app.get<{ Params: { id: string }; Querystring: { format: 'tsl' | 'wot' | 'iip' } }>(
    '/api/v1/products/:id/model',
    { schema: { tags: ['products'], querystring: { type: 'object', properties: { format: { type: 'string', enum: ['iip', 'tsl', 'wot'], default: 'iip' } } } } },
    async (req) => {
      const p = await authorize(req, 'products:read');
      return formats.exportModel(req.query.format, await registry.getProduct(p.tenant, req.params.id));
    },
  );
  app.put<{ Params: { id: string }; Body: { name?: string; category?: string; model: ThingModel } }>(
    '/api/v1/products/:id',
    { schema: { tags: ['products'], body: { ...productBody, required: ['model'] }, response: { 200: productSchema, ...errorResponses } } },
    async (req) => {
      const p = await authorize(req, 'products:write', null, 'change a product');
      return registry.updateProduct(p.tenant, { ...req.body, id: req.params.id });
    },
  );
  app.delete<{ Params: { id: string } }>('/api/v1/products/:id', { schema: { tags: ['products'] } }, async (req, reply) => {
    const p = await authorize(req, 'products:write', null, 'delete a product');
    await registry.deleteProduct(p.tenant, req.params.id);
    return reply.status(204).send();
  });
}
