/**
 * The tenant's users and their grants: /api/v1/users… Reading needs users:read; creating users and granting or
 * revoking roles users:manage. A new user gets the grants named at creation (none: it can sign in and see
 * nothing until granted — deny by default).
 */
import { IipError, type TenantId, type UserId } from '@iip/core';
import { isPermission, MAX_API_TOKEN_DAYS, type UserService } from '@iip/security';
import type { FastifyInstance } from 'fastify';
import type { AccessAdmin } from '../access-admin.js';
import { errorResponses } from '../schemas.js';
import { authorize, principal } from './access.js';

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
  app.post<{ Body: { username: string; password?: string; kind?: 'person' | 'service'; grants?: Array<{ role: string; asset?: string | null }> } }>(
    '/api/v1/users',
    {
      schema: {
        tags: ['access'],
        description:
          'Creates a user of the acting tenant with the grants named: a person with an initial password, or a service account (`kind: "service"`, no password) that acts through API tokens.',
        body: {
          type: 'object',
          properties: {
            username: { type: 'string', maxLength: 64 },
            password: { type: 'string', maxLength: 1024 },
            kind: { type: 'string', enum: ['person', 'service'], default: 'person' },
            grants: { type: 'array', maxItems: 50, items: grantBody },
          },
          required: ['username'],
        },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'users:manage', null, 'create a user');
      const tenant = p.tenant as TenantId;
      // Every grant is checked before the user is made, so a bad one leaves no half-made user behind.
      for (const g of req.body.grants ?? []) await admin.checkGrant(tenant, g, p.subject.platformAdmin);
      const u = await users.createUser({ username: req.body.username, ...(req.body.password !== undefined && { password: req.body.password }), tenant, kind: req.body.kind ?? 'person' });
      const grants = [];
      for (const g of req.body.grants ?? []) grants.push(publicGrant(await admin.addGrant(tenant, { userId: u.id, role: g.role, asset: g.asset ?? null }, p.subject.platformAdmin)));
      return reply.status(201).send({ id: u.id, username: u.username, tenant: u.tenant, kind: u.kind ?? 'person', createdAt: u.createdAt, grants });
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
  app.post<{ Params: { id: string } }>(
    '/api/v1/users/:id/totp/reset',
    { schema: { tags: ['access'], description: "Removes a user's second factor (a lost phone); the user sets it up again at the next sign-in." } },
    async (req) => {
      const { user } = await targetUser(req, req.params.id, 'reset the second factor');
      await users.resetTotp(user.id as UserId);
      return { id: user.id, totpEnabled: false };
    },
  );

  // API tokens: for a service account (or any user), scoped to permissions the user holds, always expiring.
  // An administrator (users:manage) manages anyone's of the tenant; a user its own. Never with an API token.
  async function tokenOwner(req: Parameters<typeof authorize>[0], id: string, what: string) {
    const p = principal(req);
    if (p.apiToken) throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `an API token cannot ${what}; sign in as a user`, { field: 'Authorization' });
    if (id === p.userId && p.tenant === p.homeTenant) return { p, user: { id: p.userId as string, tenant: p.homeTenant as string } };
    return targetUser(req, id, what);
  }
  const tokenInfo = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      userId: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'array', items: { type: 'string' } },
      expiresAt: { type: 'integer' },
      createdAt: { type: 'integer' },
      lastUsedAt: { type: ['integer', 'null'] },
    },
  } as const;
  app.get<{ Params: { id: string } }>(
    '/api/v1/users/:id/api-tokens',
    { schema: { tags: ['access'], description: "The user's API tokens (never their text).", response: { 200: { type: 'object', properties: { items: { type: 'array', items: tokenInfo } } }, ...errorResponses } } },
    async (req) => {
      const { user } = await tokenOwner(req, req.params.id, 'list API tokens');
      return { items: await users.listApiTokens(user.id as UserId) };
    },
  );
  app.post<{ Params: { id: string }; Body: { name: string; scopes: string[]; expiresInDays: number } }>(
    '/api/v1/users/:id/api-tokens',
    {
      schema: {
        tags: ['access'],
        description:
          'Creates an API token for the user: send it as `Authorization: Bearer <token>`. The text is in this reply only (it is stored hashed). Scopes: permissions the user holds, or "*" for all of them.',
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', maxLength: 64 },
            scopes: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', maxLength: 64 } },
            expiresInDays: { type: 'integer', minimum: 1, maximum: MAX_API_TOKEN_DAYS },
          },
          required: ['name', 'scopes', 'expiresInDays'],
        },
        response: { 201: { ...tokenInfo, properties: { ...tokenInfo.properties, token: { type: 'string', description: 'Shown once' } } }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { user } = await tokenOwner(req, req.params.id, 'create an API token');
      const owner = await req.server.accessControl.subject({ id: user.id as UserId, tenant: user.tenant as TenantId });
      for (const s of req.body.scopes) {
        if (s === '*' || !isPermission(s)) continue; // the service names an unknown one
        if (!owner.anywhere(s, user.tenant)) {
          throw new IipError('IIP_ERR_AUTH_TOKEN_SCOPE', `scopes: the user does not hold "${s}" (grant it a role with it first)`, { field: 'scopes', permission: s });
        }
      }
      const t = await users.createApiToken(user.id as UserId, req.body);
      return reply.status(201).send(t);
    },
  );
  app.delete<{ Params: { id: string; token: string } }>(
    '/api/v1/users/:id/api-tokens/:token',
    { schema: { tags: ['access'], description: 'Revokes an API token at once.', response: errorResponses } },
    async (req, reply) => {
      const { user } = await tokenOwner(req, req.params.id, 'revoke an API token');
      await users.revokeApiToken(user.id as UserId, req.params.token);
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: { id: string; grant: string } }>('/api/v1/users/:id/grants/:grant', { schema: { tags: ['access'] } }, async (req, reply) => {
    const p = await authorize(req, 'users:manage', null, 'revoke a role');
    await admin.removeGrant(p.tenant as TenantId, req.params.id, req.params.grant, p.subject.platformAdmin);
    return reply.status(204).send();
  });
}
