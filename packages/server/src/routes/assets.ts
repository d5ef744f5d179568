/**
 * The tenant's asset tree (ISA-95 levels): /api/v1/assets… and device placement, PUT /api/v1/devices/:id/asset.
 * Reading needs assets:read (on the tenant: the whole tree; on assets: those subtrees); creating under a parent,
 * renaming, moving and deleting need assets:write on the asset (a move also on the new parent; a root, on the
 * tenant); placing a device needs assets:write where it goes and devices:write where it is.
 */
import { ASSET_LEVELS, type Asset } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import type { AccessAdmin } from '../access-admin.js';
import type { RegistryService } from '../registry-service.js';
import { errorResponses } from '../schemas.js';
import { authorize, permitted, principal } from './access.js';
import { deviceTarget } from './targets.js';

const assetSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    parent: { type: ['string', 'null'] },
    level: { type: 'string', enum: [...ASSET_LEVELS] },
    name: { type: 'string' },
    nameZh: { type: ['string', 'null'] },
    createdAt: { type: 'integer' },
  },
} as const;

function publicAsset(a: Asset): Omit<Asset, 'tenant'> {
  const { tenant: _t, ...rest } = a;
  return rest;
}

export async function assetRoutes(app: FastifyInstance, opts: { admin: AccessAdmin; registry: RegistryService }): Promise<void> {
  const { admin, registry } = opts;

  app.get(
    '/api/v1/assets',
    { schema: { tags: ['assets'], description: 'The asset tree as a flat list (parent ids), the parts the principal may read.', response: { 200: { type: 'object', properties: { items: { type: 'array', items: assetSchema } } } } } },
    async (req) => {
      const p = principal(req);
      const all = await req.server.accessControl.store.listAssets(p.tenant);
      if (await permitted(req, 'assets:read')) return { items: all.map(publicAsset) };
      const tree = await req.server.accessControl.tree(p.tenant);
      const visible = new Set(tree.subtrees(p.subject.assetsWith('assets:read')));
      return { items: all.filter((a) => visible.has(a.id)).map(publicAsset) };
    },
  );
  app.post<{ Body: { id: string; parent?: string | null; level: string; name: string; nameZh?: string | null } }>(
    '/api/v1/assets',
    {
      schema: {
        tags: ['assets'],
        body: {
          type: 'object',
          properties: { id: { type: 'string' }, parent: { type: ['string', 'null'] }, level: { type: 'string' }, name: { type: 'string' }, nameZh: { type: ['string', 'null'] } },
          required: ['id', 'level', 'name'],
        },
        response: { 201: assetSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'assets:write', req.body.parent ?? null, 'create an asset');
      return reply.status(201).send(publicAsset(await admin.createAsset(p.tenant, req.body)));
    },
  );
  app.patch<{ Params: { id: string }; Body: { name?: string; nameZh?: string | null; parent?: string | null } }>(
    '/api/v1/assets/:id',
    {
      schema: {
        tags: ['assets'],
        description: 'Renames and/or moves an asset (with its subtree, devices and grants) under another parent (null: a root).',
        body: { type: 'object', properties: { name: { type: 'string' }, nameZh: { type: ['string', 'null'] }, parent: { type: ['string', 'null'] } } },
        response: { 200: assetSchema, ...errorResponses },
      },
    },
    async (req) => {
      const p = await authorize(req, 'assets:write', req.params.id, 'change an asset');
      if (req.body.parent !== undefined) await authorize(req, 'assets:write', req.body.parent, 'move an asset there');
      return publicAsset(await admin.updateAsset(p.tenant, req.params.id, req.body));
    },
  );
  app.delete<{ Params: { id: string } }>('/api/v1/assets/:id', { schema: { tags: ['assets'], description: 'Deletes an empty asset (no children, devices or grants).' } }, async (req, reply) => {
    const p = await authorize(req, 'assets:write', req.params.id, 'delete an asset');
    await admin.deleteAsset(p.tenant, req.params.id);
    return reply.status(204).send();
  });
  app.put<{ Params: { id: string }; Body: { asset: string | null } }>(
    '/api/v1/devices/:id/asset',
    {
      schema: {
        tags: ['assets'],
        description: 'Places a device (or gateway) on an asset, or takes it off the tree (asset: null).',
        body: { type: 'object', properties: { asset: { type: ['string', 'null'] } }, required: ['asset'] },
      },
    },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id, 'devices:write', 'move a device');
      await authorize(req, 'assets:write', req.body.asset, 'place a device there');
      await admin.placeDevice(p.tenant, d.id, req.body.asset);
      return { device: d.id, asset: req.body.asset };
    },
  );
}
