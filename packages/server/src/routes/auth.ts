/**
 * Sign-in and who-am-I: /api/v1/auth… Resolves a bearer token to the request's principal (the user, the tenant
 * it acts on and its compiled permissions) for the app's authentication hook and the live stream.
 */
import { IipError, type TenantId, type UserId } from '@iip/core';
import { PERMISSIONS, type Permission, type UserService } from '@iip/security';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessControl } from '../access-control.js';
import { type AuditTrail, resultOf } from '../audit-trail.js';
import { errorResponses } from '../schemas.js';
import { principal, type RequestPrincipal } from './access.js';

export type PrincipalResolver = (token: string | undefined, tenant: string | undefined, ip: string) => Promise<RequestPrincipal>;

/**
 * The principal of a bearer token. `tenant` (the X-IIP-Tenant header, or the stream's auth frame) switches a
 * platform administrator to another existing tenant; anyone else naming a tenant other than their own is refused.
 */
export function principalResolver(users: UserService, access: AccessControl, tenantExists: (tenant: string) => Promise<boolean>): PrincipalResolver {
  return async (token, tenant) => {
    const u = await users.authenticate(token);
    const subject = await access.subject({ id: u.userId, tenant: u.tenant });
    const suspended = subject.platformAdmin ? undefined : await access.suspension(u.tenant);
    if (suspended !== undefined) throw new IipError('IIP_ERR_TENANT_SUSPENDED', `tenant "${u.tenant}" is suspended (${suspended})`, { tenant: u.tenant, reason: suspended });
    let acting: TenantId = u.tenant;
    if (tenant !== undefined && tenant !== u.tenant) {
      if (!subject.platformAdmin) {
        throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `only a platform administrator may act on another tenant than its own ("${u.tenant}")`, { tenant, field: 'X-IIP-Tenant' });
      }
      if (!(await tenantExists(tenant))) throw new IipError('IIP_ERR_NOT_FOUND', `tenant "${tenant}" not found`, { resource: 'tenant', id: tenant });
      acting = tenant as TenantId;
    }
    return { userId: u.userId as UserId, username: u.username, homeTenant: u.tenant, tenant: acting, subject };
  };
}

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  return undefined;
}

/** What the console needs to show menus and buttons: the permissions on the whole tenant and per asset. */
export function accessSummary(p: RequestPrincipal): { tenant: string; homeTenant: string; platformAdmin: boolean; tenantWide: Permission[]; assets: Record<string, Permission[]> } {
  const s = p.subject.summary();
  // A platform administrator acting on another tenant holds every permission there.
  const tenantWide = s.platformAdmin ? (Object.keys(PERMISSIONS) as Permission[]) : s.tenantWide;
  return { tenant: p.tenant, homeTenant: p.homeTenant, platformAdmin: s.platformAdmin, tenantWide, assets: s.platformAdmin ? {} : s.assets };
}

export async function authRoutes(app: FastifyInstance, opts: { users: UserService; resolve: PrincipalResolver; audit: AuditTrail }): Promise<void> {
  const { users } = opts;
  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        security: [],
        body: { type: 'object', properties: { username: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 1024 } }, required: ['username', 'password'] },
        response: { 401: errorResponses[401] },
      },
    },
    async (req) => {
      const attempt = { actor: req.body.username, source: req.ip, action: 'auth.login', target: '' };
      try {
        const r = await users.login(req.body.username, req.body.password, req.ip);
        try {
          const p = await opts.resolve(r.token, undefined, req.ip);
          await opts.audit.record({ ...attempt, tenant: r.user.tenant, result: 'ok', details: { status: 200 } });
          return { ...r, access: accessSummary(p) };
        } catch (e) {
          // Signed in but not let in (a suspended tenant): the token is not handed out, so it goes.
          await users.logout(r.token);
          throw e;
        }
      } catch (e) {
        const err = e instanceof IipError ? e : undefined;
        await opts.audit.record({
          ...attempt,
          tenant: await users.tenantOf(req.body.username).catch(() => undefined),
          result: resultOf(err?.status ?? 500),
          details: { status: err?.status ?? 500, code: err?.code ?? 'IIP_ERR_INTERNAL' },
        });
        throw e;
      }
    },
  );
  app.post('/api/v1/auth/logout', { schema: { tags: ['auth'] } }, async (req, reply) => {
    const t = bearer(req);
    if (t) await users.logout(t);
    return reply.status(204).send();
  });
  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/api/v1/auth/password',
    {
      schema: {
        tags: ['auth'],
        description: "Changes the signed-in user's own password (the current one is asked again); its other sessions end, this one stays.",
        body: { type: 'object', properties: { currentPassword: { type: 'string', maxLength: 1024 }, newPassword: { type: 'string', maxLength: 1024 } }, required: ['currentPassword', 'newPassword'] },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const p = principal(req);
      await users.changePassword(p.userId, req.body.currentPassword, req.body.newPassword, bearer(req));
      return reply.status(204).send();
    },
  );
  app.post('/api/v1/auth/logout-all', { schema: { tags: ['auth'], description: 'Signs the user out everywhere (every session, this one included).' } }, async (req) => {
    const p = principal(req);
    return { ended: await users.endSessions(p.userId) };
  });
  app.get('/api/v1/auth/me', { schema: { tags: ['auth'], description: 'The signed-in user, the tenant the request acts on, and the permissions there.' } }, async (req) => {
    const p = principal(req);
    return { id: p.userId, username: p.username, tenant: p.tenant, homeTenant: p.homeTenant, access: accessSummary(p) };
  });
}
