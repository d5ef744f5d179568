/**
 * Tenants, for the platform administrator (tenants:manage): /api/v1/tenants… Creating a tenant can create its
 * first administrator (a tenant-admin grant on the whole tenant). Suspending needs a reason and deletes nothing.
 */
import { IipError, type TenantId } from '@iip/core';
import type { UserService } from '@iip/security';
import type { Tenant } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import type { AccessAdmin } from '../access-admin.js';
import type { RegistryService } from '../registry-service.js';
import { errorResponses } from '../schemas.js';
import { authorize } from './access.js';

const tenantSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string', enum: ['active', 'suspended'] },
    suspendedReason: { type: ['string', 'null'] },
    createdAt: { type: 'integer' },
  },
} as const;

const publicTenant = (t: Tenant) => ({ id: t.id, name: t.name, status: t.status ?? 'active', suspendedReason: t.suspendedReason ?? null, createdAt: t.createdAt });

export async function tenantRoutes(
  app: FastifyInstance,
  opts: { registry: RegistryService; users: UserService; admin: AccessAdmin; deleteTenant: (tenant: string) => Promise<{ devices: number }> },
): Promise<void> {
  const { registry, users, admin } = opts;
  app.get('/api/v1/tenants', { schema: { tags: ['tenants'], response: { 200: { type: 'object', properties: { items: { type: 'array', items: tenantSchema } } } } } }, async (req) => {
    await authorize(req, 'tenants:manage', null, 'list tenants');
    return { items: (await registry.listTenants()).map(publicTenant) };
  });
  app.post<{ Body: { id: string; name?: string; admin?: { username: string; password: string } } }>(
    '/api/v1/tenants',
    {
      schema: {
        tags: ['tenants'],
        description: 'Creates a tenant (and, with `admin`, its first tenant administrator).',
        body: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            admin: { type: 'object', properties: { username: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 1024 } }, required: ['username', 'password'] },
          },
          required: ['id'],
        },
        response: { 201: tenantSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'tenants:manage', null, 'create a tenant');
      const first = req.body.admin;
      // The first administrator is checked before the tenant is made, so a refused one leaves no tenant behind.
      if (first) {
        users.checkNewUser(first);
        if ((await users.tenantOf(first.username)) !== undefined) {
          throw new IipError('IIP_ERR_CONFLICT', `user "${first.username}" already exists; choose another name for the first administrator`, { field: 'admin.username', username: first.username });
        }
      }
      const t = await registry.createTenant(req.body);
      if (first) {
        try {
          const u = await users.createUser({ username: first.username, password: first.password, tenant: t.id as TenantId });
          await admin.addGrant(t.id as TenantId, { userId: u.id, role: 'tenant-admin', asset: null }, p.subject.platformAdmin);
        } catch (e) {
          // Lost a race for the name (or the store failed): the new, empty tenant goes again.
          await registry.deleteTenantRows(t.id).catch(() => undefined);
          throw e;
        }
      }
      return reply.status(201).send(publicTenant(t));
    },
  );
  app.patch<{ Params: { id: string }; Body: { name?: string; status?: 'active' | 'suspended'; suspendedReason?: string | null } }>(
    '/api/v1/tenants/:id',
    {
      schema: {
        tags: ['tenants'],
        description: 'Renames, suspends (status "suspended" with a suspendedReason) or re-activates a tenant. Nothing is deleted.',
        body: { type: 'object', properties: { name: { type: 'string' }, status: { type: 'string', enum: ['active', 'suspended'] }, suspendedReason: { type: ['string', 'null'], maxLength: 500 } } },
        response: { 200: tenantSchema, ...errorResponses },
      },
    },
    async (req) => {
      await authorize(req, 'tenants:manage', null, 'change a tenant');
      return publicTenant(await registry.updateTenant(req.params.id, req.body));
    },
  );
  app.delete<{ Params: { id: string } }>(
    '/api/v1/tenants/:id',
    {
      schema: {
        tags: ['tenants'],
        description:
          "Deletes a suspended tenant with no device connected: its telemetry, devices, products, assets, roles, users and policy. The audit log stays. 409 IIP_ERR_TENANT_ACTIVE when not suspended, IIP_ERR_TENANT_DEVICES_ONLINE while devices are connected.",
      },
    },
    async (req) => {
      await authorize(req, 'tenants:manage', null, 'delete a tenant');
      return { id: req.params.id, deleted: true, ...(await opts.deleteTenant(req.params.id)) };
    },
  );
}
