/**
 * Who is asking, for every route plugin, and the one way to ask whether they may (ADR 0009): the signed-in
 * principal (set by the app's authentication hook) and `authorize`, which asks the policy decision point for a
 * permission on the principal's acting tenant or one of its assets.
 *
 * A platform administrator acts on the tenant named in the `X-IIP-Tenant` header (the console's tenant
 * switcher); everyone else acts on their own tenant, and naming another is refused.
 */
import { IipError, type TenantId, type UserId } from '@iip/core';
import type { AccessSubject, Permission } from '@iip/security';
import type { FastifyRequest } from 'fastify';
import type { AccessControl } from '../access-control.js';

export interface RequestPrincipal {
  readonly userId: UserId;
  readonly username: string;
  /** The user's own tenant. */
  readonly homeTenant: TenantId;
  /** The tenant this request acts on: the own one, or for a platform administrator the one it switched to. */
  readonly tenant: TenantId;
  /** The compiled permissions; for an API token, limited to its scopes. */
  readonly subject: AccessSubject;
  /** Whether the user has a second factor on, and whether its tenant requires one of it (an administrator). */
  readonly totpEnabled: boolean;
  readonly totpRequired: boolean;
  /**
   * The tenant requires a second factor of administrators and this one has none yet: the session may only set
   * it up (routes/auth.ts lists what it may call).
   */
  readonly enrollOnly: boolean;
  /** Set when the request came with an API token rather than a session. */
  readonly apiToken?: { readonly id: string; readonly scopes: readonly string[] };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: RequestPrincipal;
  }
  interface FastifyInstance {
    accessControl: AccessControl;
  }
}

/** The signed-in principal, or IIP_ERR_AUTH_REQUIRED (401). */
export function principal(req: FastifyRequest): RequestPrincipal {
  if (!req.principal) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'sign in first', {});
  return req.principal;
}

/**
 * The principal, once the decision point allows `permission` on its acting tenant (or on `asset` of it); otherwise
 * IIP_ERR_AUTH_FORBIDDEN (403) naming the permission. `what` describes the attempt for the message.
 */
export async function authorize(req: FastifyRequest, permission: Permission, asset?: string | null, what?: string): Promise<RequestPrincipal> {
  const p = principal(req);
  await req.server.accessControl.require(p.subject, permission, { tenant: p.tenant, asset: asset ?? null }, what);
  return p;
}

/** Whether the principal may do `permission` on its acting tenant (or on `asset` of it). */
export async function permitted(req: FastifyRequest, permission: Permission, asset?: string | null): Promise<boolean> {
  const p = principal(req);
  return req.server.accessControl.allows(p.subject, permission, { tenant: p.tenant, asset: asset ?? null });
}
