/**
 * The tenant's users and their grants: /api/v1/users… Reading needs users:read; creating users and granting or
 * revoking roles users:manage. A new user gets the grants named at creation (none: it can sign in and see
 * nothing until granted — deny by default).
 */
import { IipError, type TenantId, type UserId } from '@iip/core';
import type { UserService } from '@iip/security';
import type { FastifyInstance } from 'fastify';
import type { AccessAdmin } from '../access-admin.js';
import { errorResponses } from '../schemas.js';
import { authorize } from './access.js';

const grantSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, userId: { type: 'string' }, role: { type: 'string' }, asset: { type: ['string', 'null'] }, createdAt: { type: 'integer' } },
} as const;
const grantBody = { type: 'object', properties: { role: { type: 'string' }, asset: { type: ['string', 'null'] } }, required: ['role'] } as const;

export async function userRoutes(app: FastifyInstance, opts: { admin: AccessAdmin; users: UserService }): Promise<void> {
  const { admin, users } = opts;
  const publicGrant = (g: { id: string; userId: string; role: string; asset: string | null; createdAt: number }) => ({ id: g.id, userId: g.userId, role: g.role, asset: g.asset, createdAt: g.createdAt });

  app.get('/api/v1/users', { schema: { tags: ['access'], description: "The tenant's users with their grants." } }, async (req) => {
    const p = await authorize(req, 'users:read', null, 'list users');
    const items = await admin.listUsers(p.tenant);
    return { items: items.map((u) => ({ ...u, grants: u.grants.map(publicGrant) })) };
  });
  app.post<{ Body: { username: string; password: string; grants?: Array<{ role: string; asset?: string | null }> } }>(
    '/api/v1/users',
    {
      schema: {
        tags: ['access'],
        description: 'Creates a user of the acting tenant with an initial password and the grants named.',
        body: {
          type: 'object',
          properties: { username: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 1024 }, grants: { type: 'array', maxItems: 50, items: grantBody } },
          required: ['username', 'password'],
        },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'users:manage', null, 'create a user');
      const tenant = p.tenant as TenantId;
      // Every grant is checked before the user is made, so a bad one leaves no half-made user behind.
      for (const g of req.body.grants ?? []) await admin.checkGrant(tenant, g, p.subject.platformAdmin);
      const u = await users.createUser({ username: req.body.username, password: req.body.password, tenant });
      const grants = [];
      for (const g of req.body.grants ?? []) grants.push(publicGrant(await admin.addGrant(tenant, { userId: u.id, role: g.role, asset: g.asset ?? null }, p.subject.platformAdmin)));
      return reply.status(201).send({ id: u.id, username: u.username, tenant: u.tenant, createdAt: u.createdAt, grants });
    },
  );
  app.post<{ Params: { id: string }; Body: { role: string; asset?: string | null } }>(
    '/api/v1/users/:id/grants',
    { schema: { tags: ['access'], body: grantBody, response: { 201: grantSchema, ...errorResponses } } },
    async (req, reply) => {
      const p = await authorize(req, 'users:manage', null, 'grant a role');
      const g = await admin.addGrant(p.tenant as TenantId, { userId: req.params.id, role: req.body.role, asset: req.body.asset ?? null }, p.subject.platformAdmin);
      return reply.status(201).send(publicGrant(g));
    },
  );
  /** The target user of the acting tenant; a platform administrator only by a platform administrator. */
  async function targetUser(req: Parameters<typeof authorize>[0], id: string, what: string) {
    const p = await authorize(req, 'users:manage', null, what);
    const listed = (await admin.listUsers(p.tenant as TenantId)).find((u) => u.id === id);
    if (!listed) throw new IipError('IIP_ERR_NOT_FOUND', `user "${id}" not found`, { resource: 'user', id });
    if (!p.subject.platformAdmin && (await admin.isPlatformAdmin(p.tenant as TenantId, id))) {
      throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `only a platform administrator may ${what} of a platform administrator`, { permission: 'tenants:manage', tenant: p.tenant });
    }
    return { p, user: listed };
  }

  app.post<{ Params: { id: string } }>('/api/v1/users/:id/disable', { schema: { tags: ['access'], description: 'Disables a user: it cannot sign in, and its sessions end.' } }, async (req) => {
    const { p, user } = await targetUser(req, req.params.id, 'disable a user');
    if (user.id === p.userId) throw new IipError('IIP_ERR_VALIDATION', 'you cannot disable yourself', { field: 'id' });
    await users.setDisabled(user.id as UserId, true);
    return { id: user.id, disabled: true };
  });
  app.post<{ Params: { id: string } }>('/api/v1/users/:id/enable', { schema: { tags: ['access'] } }, async (req) => {
    const { user } = await targetUser(req, req.params.id, 'enable a user');
    await users.setDisabled(user.id as UserId, false);
    return { id: user.id, disabled: false };
  });
  app.post<{ Params: { id: string }; Body: { password?: string } | undefined }>(
    '/api/v1/users/:id/password',
    {
      schema: {
        tags: ['access'],
        description: 'Sets a new password for a user (generated and returned once when none is given); its sessions end and a lock is lifted.',
        body: { type: 'object', properties: { password: { type: 'string', maxLength: 1024 } } },
      },
    },
    async (req) => {
      const { user } = await targetUser(req, req.params.id, 'reset the password');
      const r = await users.resetPassword(user.id as UserId, req.body?.password);
      return { id: user.id, ...(r.generatedPassword !== undefined && { password: r.generatedPassword }) };
    },
  );
  app.delete<{ Params: { id: string; grant: string } }>('/api/v1/users/:id/grants/:grant', { schema: { tags: ['access'] } }, async (req, reply) => {
    const p = await authorize(req, 'users:manage', null, 'revoke a role');
    await admin.removeGrant(p.tenant as TenantId, req.params.id, req.params.grant, p.subject.platformAdmin);
    return reply.status(204).send();
  });
}
