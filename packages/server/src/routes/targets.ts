/**
 * Resolving a route's target and deciding on it in one step: a device is looked up in the acting tenant, and a
 * principal that may not even read it gets the same 404 as for a device that does not exist (its existence is
 * not disclosed); one that may read it but not do `permission` gets 403.
 */
import { IipError } from '@iip/core';
import type { Permission } from '@iip/security';
import type { Device } from '@iip/storage';
import type { FastifyRequest } from 'fastify';
import type { RegistryService } from '../registry-service.js';
import { authorize, permitted, type RequestPrincipal } from './access.js';

export async function deviceTarget(req: FastifyRequest, registry: RegistryService, id: string, permission: Permission = 'devices:read', what?: string): Promise<{ p: RequestPrincipal; d: Device }> {
  const p = req.principal;
  if (!p) throw new IipError('IIP_ERR_AUTH_REQUIRED', 'sign in first', {});
  const d = await registry.getDevice(p.tenant, id);
  if (!(await permitted(req, 'devices:read', d.asset))) throw new IipError('IIP_ERR_NOT_FOUND', `device "${id}" not found`, { resource: 'device', id });
  if (permission !== 'devices:read') await authorize(req, permission, d.asset, what);
  return { p, d };
}
