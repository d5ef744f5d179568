/**
 * Who is asking, for every route plugin: the signed-in principal (set by the app's authentication hook) and
 * the role check. One place, so that the permission model (issue 12) replaces it once.
 */
import { IipError } from '@iip/core';
import type { Principal } from '@iip/security';
import type { FastifyRequest } from 'fastify';

/** The signed-in principal, or IIP_ERR_AUTH_REQUIRED (401). */
export function principal(req: FastifyRequest): Principal {
  if (!req.principal) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'sign in first', {});
  return req.principal;
}

/** Refuses with IIP_ERR_AUTH_FORBIDDEN (403) unless the principal has one of `roles`; `what` names the action. */
export function requireRole(p: Principal, roles: readonly Principal['role'][], what = 'do this'): void {
  if (!roles.includes(p.role)) {
    throw new IipError('IIP_ERR_AUTH_FORBIDDEN', `role "${p.role}" may not ${what} (needs ${roles.join(' or ')})`, { role: p.role });
  }
}
