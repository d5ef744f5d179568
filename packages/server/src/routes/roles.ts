/**
 * The permission catalogue and roles: GET /api/v1/permissions (any signed-in user), /api/v1/roles… (reading:
 * users:read or roles:manage; changing custom roles: roles:manage). Built-in roles are listed and cannot change.
 */
import { ALL_PERMISSIONS, BUILT_IN_ROLES, PERMISSIONS } from '@iip/security';
import type { FastifyInstance } from 'fastify';
import type { AccessAdmin } from '../access-admin.js';
import { errorResponses } from '../schemas.js';
import { authorize, permitted, principal } from './access.js';

const roleSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    nameZh: { type: ['string', 'null'] },
    builtIn: { type: 'boolean' },
    permissions: { type: 'array', items: { type: 'string' } },
  },
} as const;

const roleBody = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, permissions: { type: 'array', items: { type: 'string' }, maxItems: 100 } },
  required: ['name', 'permissions'],
} as const;

export async function roleRoutes(app: FastifyInstance, opts: { admin: AccessAdmin }): Promise<void> {
  const { admin } = opts;
  app.get('/api/v1/permissions', { schema: { tags: ['access'], description: 'Every permission, its scope (asset, tenant, platform) and its label in English and 中文.' } }, async (req) => {
    principal(req);
    return { items: ALL_PERMISSIONS.map((id) => ({ id, ...PERMISSIONS[id] })) };
  });
  app.get('/api/v1/roles', { schema: { tags: ['access'], response: { 200: { type: 'object', properties: { items: { type: 'array', items: roleSchema } } } } } }, async (req) => {
    const p = principal(req);
    if (!(await permitted(req, 'users:read'))) await authorize(req, 'roles:manage', null, 'list roles');
    const custom = await req.server.accessControl.store.listRoles(p.tenant);
    return {
      items: [
        ...BUILT_IN_ROLES.map((r) => ({ id: r.id, name: r.en, nameZh: r.zh, builtIn: true, permissions: [...r.permissions] })),
        ...custom.map((r) => ({ id: r.id, name: r.name, nameZh: null, builtIn: false, permissions: [...r.permissions] })),
      ],
    };
  });
  app.post<{ Body: { id: string; name: string; permissions: string[] } }>(
    '/api/v1/roles',
    { schema: { tags: ['access'], body: { ...roleBody, required: ['id', 'name', 'permissions'] }, response: { 201: roleSchema, ...errorResponses } } },
    async (req, reply) => {
      const p = await authorize(req, 'roles:manage', null, 'create a role');
      const r = await admin.createRole(p.tenant, req.body);
      return reply.status(201).send({ id: r.id, name: r.name, nameZh: null, builtIn: false, permissions: r.permissions });
    },
  );
  app.put<{ Params: { id: string }; Body: { name: string; permissions: string[] } }>(
    '/api/v1/roles/:id',
    { schema: { tags: ['access'], body: roleBody, response: { 200: roleSchema, ...errorResponses } } },
    async (req) => {
      const p = await authorize(req, 'roles:manage', null, 'change a role');
      const r = await admin.updateRole(p.tenant, req.params.id, req.body);
      return { id: r.id, name: r.name, nameZh: null, builtIn: false, permissions: r.permissions };
    },
  );
  app.delete<{ Params: { id: string } }>('/api/v1/roles/:id', { schema: { tags: ['access'], description: 'Deletes a custom role no grant uses.' } }, async (req, reply) => {
    const p = await authorize(req, 'roles:manage', null, 'delete a role');
    await admin.deleteRole(p.tenant, req.params.id);
    return reply.status(204).send();
  });
}
