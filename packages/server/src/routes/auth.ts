/**
 * Sign-in and who-am-I: /api/v1/auth… Resolves a bearer token to the request's principal (the user, the tenant
 * it acts on and its compiled permissions) for the app's authentication hook and the live stream.
 */
import { IipError, type TenantId, type UserId } from '@iip/core';
import { type AccessSubject, PERMISSIONS, type Permission, type UserService } from '@iip/security';
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
    const own = await access.subject({ id: u.userId, tenant: u.tenant });
    const subject = u.apiToken ? own.restrict(u.apiToken.scopes) : own;
    // People signing in with a password here; one signing in through OIDC is held to the provider's MFA rules.
    const totpRequired = u.kind === 'person' && !u.federated && isAdministrator(own, u.tenant) && (await access.totpRequired(u.tenant));
    // API tokens are not sign-ins: the second-factor rule is about people signing in.
    const enrollOnly = totpRequired && !u.totpEnabled && !u.apiToken;
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
    return {
      userId: u.userId as UserId,
      username: u.username,
      homeTenant: u.tenant,
      tenant: acting,
      subject,
      totpEnabled: u.totpEnabled,
      totpRequired,
      enrollOnly,
      ...(u.apiToken && { apiToken: u.apiToken }),
    };
  };
}

/** An administrator in the sense of the second-factor rule: may manage users (of its tenant) or tenants. */
function isAdministrator(s: AccessSubject, tenant: string): boolean {
  return s.platformAdmin || s.allows('users:manage', { tenant }) || s.allows('tenants:manage', { tenant });
}

/** What a session still waiting for its second factor may call (the enrollment, who-am-I, password, sign-out). */
const ENROLL_ONLY_ROUTES = new Set([
  '/api/v1/auth/me',
  '/api/v1/auth/logout',
  '/api/v1/auth/logout-all',
  '/api/v1/auth/password',
  '/api/v1/auth/totp/setup',
  '/api/v1/auth/totp/enable',
]);

/** Refuses a request of a session that must set up its second factor first (IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED). */
export function requireEnrolled(p: RequestPrincipal, route: string | undefined): void {
  if (!p.enrollOnly || (route !== undefined && ENROLL_ONLY_ROUTES.has(route))) return;
  throw new IipError('IIP_ERR_AUTH_TOTP_ENROLL_REQUIRED', "the tenant requires administrators to sign in with a second factor: set it up first (POST /api/v1/auth/totp/setup, then /enable)", {
    tenant: p.homeTenant,
  });
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
  app.post<{ Body: { username: string; password: string; totp?: string } }>(
    '/api/v1/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        security: [],
        description:
          'Signs in. With a second factor on, the first try without `totp` answers 401 IIP_ERR_AUTH_TOTP_REQUIRED; send it again with the current code. `security.totpRequired && !security.totpEnabled` in the reply: the session may only set up the second factor.',
        body: {
          type: 'object',
          properties: {
            username: { type: 'string', maxLength: 64 },
            password: { type: 'string', maxLength: 1024 },
            totp: { type: 'string', maxLength: 16, description: 'The 6-digit code of the authenticator app (second factor), when the account has one' },
          },
          required: ['username', 'password'],
        },
        response: { 401: errorResponses[401] },
      },
    },
    async (req) => {
      const attempt = { actor: req.body.username, source: req.ip, action: 'auth.login', target: '' };
      try {
        const r = await users.login(req.body.username, req.body.password, req.ip, req.body.totp);
        try {
          const p = await opts.resolve(r.token, undefined, req.ip);
          await opts.audit.record({ ...attempt, tenant: r.user.tenant, result: 'ok', details: { status: 200, totp: p.totpEnabled } });
          return { ...r, access: accessSummary(p), security: securityOf(p) };
        } catch (e) {
          // Signed in but not let in (a suspended tenant): the token is not handed out, so it goes.
          await users.logout(r.token);
          throw e;
        }
      } catch (e) {
        const err = e instanceof IipError ? e : undefined;
        const event = {
          ...attempt,
          tenant: await users.tenantOf(req.body.username).catch(() => undefined),
          details: { status: err?.status ?? 500, code: err?.code ?? 'IIP_ERR_INTERNAL' },
        };
        const result = resultOf(err?.status ?? 500);
        // Refused sign-ins are throttled per caller like every refusal (a guessing run is one summary, not a flood).
        if (result === 'denied') await opts.audit.refusal(event);
        else await opts.audit.record({ ...event, result });
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
      const p = sessionPrincipal(req);
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
    return { id: p.userId, username: p.username, tenant: p.tenant, homeTenant: p.homeTenant, access: accessSummary(p), security: securityOf(p) };
  });

  // The second factor (TOTP, RFC 6238) of the signed-in user: set up, confirm, turn off. Not with an API token.
  const totpBody = (prop: string, description: string) =>
    ({ type: 'object', properties: { [prop]: { type: 'string', maxLength: 1024, description } }, required: [prop] }) as const;
  app.post(
    '/api/v1/auth/totp/setup',
    {
      schema: {
        tags: ['auth'],
        description:
          'Starts setting up a second factor: a new secret (base32) and its otpauth:// URI for an authenticator app. Nothing changes at sign-in until it is confirmed with /enable.',
        response: { 200: { type: 'object', properties: { secret: { type: 'string' }, otpauthUrl: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (req) => {
      // Audited like every state-changing request (audit-trail.ts); the secret is in the reply only.
      return users.setupTotp(sessionPrincipal(req).userId);
    },
  );
  app.post<{ Body: { code: string } }>(
    '/api/v1/auth/totp/enable',
    { schema: { tags: ['auth'], description: 'Confirms the secret from /setup with a current code; from now on sign-in asks for a code.', body: totpBody('code', 'The 6-digit code the app shows'), response: errorResponses } },
    async (req, reply) => {
      const p = sessionPrincipal(req);
      // Each request reads the user's factor afresh: a session waiting to set it up is let through from now on.
      await users.enableTotp(p.userId, req.body.code);
      return reply.status(204).send();
    },
  );
  app.post<{ Body: { password: string } }>(
    '/api/v1/auth/totp/disable',
    {
      schema: {
        tags: ['auth'],
        description: "Turns one's own second factor off (the password is asked again); refused while the tenant requires it of the user's role.",
        body: totpBody('password', 'The current password'),
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const p = sessionPrincipal(req);
      await users.disableTotp(p.userId, req.body.password, p.totpRequired);
      return reply.status(204).send();
    },
  );
}

/** The principal of a signed-in session: changing one's sign-in (password, second factor) is not for API tokens. */
function sessionPrincipal(req: FastifyRequest): RequestPrincipal {
  const p = principal(req);
  if (p.apiToken) throw new IipError('IIP_ERR_AUTH_FORBIDDEN', 'an API token cannot change how its user signs in; sign in as the user', { field: 'Authorization' });
  return p;
}

/** The second-factor state the console needs after sign-in. */
function securityOf(p: RequestPrincipal): { totpEnabled: boolean; totpRequired: boolean } {
  return { totpEnabled: p.totpEnabled, totpRequired: p.totpRequired };
}
