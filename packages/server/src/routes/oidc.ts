/**
 * Sign-in through an OpenID Connect provider: /api/v1/auth/oidc/… (all public; oidc-sign-in.ts does the work).
 * `start` sends the browser to the provider, `callback` takes it back, signs the user in and sends the browser to
 * the console with a one-time code (`/?oidc=<code>`, or `/?oidc_error=<IIP_ERR_…>` when refused), and the console
 * trades the code for the same body as POST /auth/login through `exchange`. Each callback is an `auth.oidc` event
 * of the audit trail, refused or not.
 *
 * A cookie (HttpOnly, SameSite=Lax, path /api/v1/auth/oidc) binds the flow to the browser that started it: a
 * callback or a code carried into another browser is refused, so nobody can sign a victim in as themselves.
 */
import { IipError } from '@iip/core';
import type { UserService } from '@iip/security';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type AuditTrail, resultOf } from '../audit-trail.js';
import { type OidcAttempt, OidcSignIn } from '../oidc-sign-in.js';
import { errorResponses } from '../schemas.js';
import { accessSummary, type PrincipalResolver } from './auth.js';

const COOKIE = 'iip_oidc';
const COOKIE_PATH = '/api/v1/auth/oidc';
const BINDING = /^[A-Za-z0-9_-]{43}$/;

function bindingOf(req: FastifyRequest): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === COOKIE && value !== undefined && BINDING.test(value)) return value;
  }
  return undefined;
}

function setBinding(reply: FastifyReply, binding: string, secure: boolean): void {
  void reply.header('set-cookie', `${COOKIE}=${binding}; Path=${COOKIE_PATH}; Max-Age=600; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`);
}

/** Where the console picks up the result (relative: the console is served by this same origin). */
function toConsole(reply: FastifyReply, param: 'oidc' | 'oidc_error', value: string): FastifyReply {
  return reply.header('cache-control', 'no-store').redirect(`/?${param}=${encodeURIComponent(value)}`, 302);
}

export async function oidcRoutes(app: FastifyInstance, opts: { oidc?: OidcSignIn; users: UserService; resolve: PrincipalResolver; audit: AuditTrail }): Promise<void> {
  const { oidc } = opts;
  const tags = ['auth'];

  app.get(
    '/api/v1/auth/oidc/config',
    {
      config: { public: true },
      schema: {
        tags,
        security: [],
        description: 'Whether sign-in through an OpenID Connect provider is on, and the label of its button.',
        response: { 200: { type: 'object', properties: { enabled: { type: 'boolean' }, label: { type: 'string' } }, required: ['enabled'] } },
      },
    },
    async () => ({ enabled: oidc !== undefined, ...(oidc?.label ? { label: oidc.label } : {}) }),
  );

  app.get(
    '/api/v1/auth/oidc/start',
    { config: { public: true }, schema: { tags, security: [], description: "Sends the browser to the provider's authorization endpoint (code flow, PKCE S256, state, nonce)." } },
    async (req, reply) => {
      if (!oidc) return toConsole(reply, 'oidc_error', 'IIP_ERR_AUTH_OIDC_DISABLED');
      const binding = bindingOf(req) ?? OidcSignIn.newBinding();
      try {
        const url = await oidc.start(binding);
        setBinding(reply, binding, oidc.secure);
        return reply.header('cache-control', 'no-store').redirect(url.href, 302);
      } catch (e) {
        const err = e instanceof IipError ? e : new IipError('IIP_ERR_INTERNAL', 'internal error', {});
        if (err.code === 'IIP_ERR_INTERNAL') req.log.error(e);
        await opts.audit.record({ actor: '-', source: req.ip, action: 'auth.oidc', target: 'start', result: resultOf(err.status), details: { status: err.status, code: err.code } });
        return toConsole(reply, 'oidc_error', err.code);
      }
    },
  );

  app.get(
    '/api/v1/auth/oidc/callback',
    { config: { public: true }, schema: { tags, security: [], description: 'Where the provider sends the browser back; redirects to the console with a one-time code, or with the error code.' } },
    async (req, reply) => {
      if (!oidc) return toConsole(reply, 'oidc_error', 'IIP_ERR_AUTH_OIDC_DISABLED');
      const attempt: OidcAttempt = { actor: '-' };
      const binding = bindingOf(req);
      const query = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
      try {
        const { identity, user, session } = await oidc.finish(query, binding, attempt);
        await opts.audit.record({
          actor: user.username,
          tenant: user.tenant,
          source: req.ip,
          action: 'auth.oidc',
          target: '',
          result: 'ok',
          details: { status: 302, subject: identity.subject, roles: [...identity.roles] },
        });
        return toConsole(reply, 'oidc', oidc.issueCode(session, binding as string));
      } catch (e) {
        const err = e instanceof IipError ? e : new IipError('IIP_ERR_INTERNAL', 'internal error', {});
        if (err.code === 'IIP_ERR_INTERNAL') req.log.error(e);
        await opts.audit.record({
          actor: attempt.actor,
          ...(attempt.tenant !== undefined && { tenant: attempt.tenant }),
          source: req.ip,
          action: 'auth.oidc',
          target: '',
          result: resultOf(err.status),
          details: { status: err.status, code: err.code, message: err.message },
        });
        return toConsole(reply, 'oidc_error', err.code);
      }
    },
  );

  app.post<{ Body: { code: string } }>(
    '/api/v1/auth/oidc/exchange',
    {
      config: { public: true },
      schema: {
        tags,
        security: [],
        description: 'Trades the one-time code of a finished OIDC sign-in (60 s, once, same browser) for the body POST /auth/login answers with.',
        body: { type: 'object', properties: { code: { type: 'string', maxLength: 200 } }, required: ['code'] },
        response: { 401: errorResponses[401], 404: errorResponses[404] },
      },
    },
    async (req) => {
      if (!oidc) throw new IipError('IIP_ERR_AUTH_OIDC_DISABLED', 'sign-in through an OpenID Connect provider is not configured', {});
      const r = oidc.redeem(req.body.code, bindingOf(req));
      try {
        const p = await opts.resolve(r.token, undefined, req.ip);
        // The exchange's own audit event then names the user.
        req.principal = p;
        return { ...r, access: accessSummary(p) };
      } catch (e) {
        // Signed in but not let in (the tenant was suspended meanwhile): the token is not handed out, so it goes.
        await opts.users.logout(r.token);
        throw e;
      }
    },
  );
}
