/**
 * Edge gateways: /api/v1/gateways… (gateways:read, gateways:write on the gateway's asset: configuration, trusting a
 * channel's server certificate) and the device audit trail of writes, config pushes and certificate trusts:
 * /api/v1/audit (devices:read on the device named, or audit:read for all).
 */
import type { DeviceId } from '@iip/core';
import type { GatewayManager } from '@iip/device-access/platform';
import type { AuditStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import type { RegistryService } from '../registry-service.js';
import { authorize, permitted, principal } from './access.js';
import { deviceTarget } from './targets.js';

export async function gatewayRoutes(
  app: FastifyInstance,
  opts: { registry: RegistryService; gateways: GatewayManager; audit: AuditStore; /** A configuration was stored (its devices may have changed: edge rules are pushed again). */ onConfig?: (tenant: string) => void },
): Promise<void> {
  const { registry, gateways, audit } = opts;

  app.get('/api/v1/gateways', { schema: { tags: ['gateways'], description: 'The gateways the principal may see (gateways:read on the tenant or on their assets).' } }, async (req) => {
    const p = principal(req);
    const all = await gateways.list(p.tenant);
    if (await permitted(req, 'gateways:read')) return { items: all };
    const items = [];
    for (const g of all) {
      const d = await registry.findDevice(p.tenant, g.gateway);
      if (d && (await permitted(req, 'gateways:read', d.asset))) items.push(g);
    }
    return { items };
  });
  app.get<{ Params: { id: string } }>(
    '/api/v1/gateways/:id',
    {
      schema: {
        tags: ['gateways'],
        description:
          'Desired config, reported state (applied version, buffer, per-channel state, error, outage history and certificate-trust problem, per-device poll health) and whether they agree: inSync is false while the desired version is not applied (sync "pending") or a channel of it failed to start (sync "applied-with-failures", failedChannels). Passwords are never shown: a username identity carries passwordSet: true instead.',
      },
    },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id, 'gateways:read', 'see a gateway');
      return gateways.status(p.tenant, d.id as DeviceId);
    },
  );
  app.put<{ Params: { id: string }; Body: unknown }>(
    '/api/v1/gateways/:id/config',
    {
      schema: {
        tags: ['gateways'],
        description:
          'Stores a new version of the gateway configuration and pushes it to the gateway (gateways:write). An OPC UA username identity without "password" keeps the password of the same channel in the previous version (none → 400 IIP_ERR_GATEWAY_CONFIG_INVALID naming channels[i].identity.password); "passwordSet" is ignored.',
        body: { type: 'object', additionalProperties: true },
      },
    },
    async (req) => {
      const { p, d: gw } = await deviceTarget(req, registry, req.params.id, 'gateways:write', 'configure a gateway');
      // Only "not found" means absent; any other failure (storage down) fails the request.
      const exists = async (id: string) => (await registry.findDevice(p.tenant, id)) !== undefined;
      const modelOf = async (id: string) => {
        const d = await registry.findDevice(p.tenant, id);
        return d && (await registry.findProduct(p.tenant, d.product))?.model;
      };
      const rec = await gateways.setConfig(p.tenant, gw.id, req.body, p.username, exists, modelOf);
      opts.onConfig?.(p.tenant);
      return { gateway: rec.gateway, version: rec.version, createdAt: rec.createdAt };
    },
  );
  app.post<{ Params: { id: string; channel: string }; Body: { thumbprint: string; timeoutMs?: number } }>(
    '/api/v1/gateways/:id/channels/:channel/trust-server-certificate',
    {
      schema: {
        tags: ['gateways'],
        description:
          "Has the gateway trust the server certificate a channel rejected (GET /api/v1/gateways/{id}: reported.state.channels[].trust, kind \"server-untrusted\"), named by its SHA-1 thumbprint — the gateway refuses any other certificate (502 IIP_ERR_COMMAND_FAILED with details.error.code IIP_ERR_OPCUA_TRUST_MISMATCH). The channel then connects again at once. Needs gateways:write on the gateway's asset; audited as gateway.trust-certificate. 200 outcome \"done\" with the certificate trusted; 404 IIP_ERR_NOT_FOUND for a channel the gateway has not; other outcomes as for a property write (504 IIP_ERR_COMMAND_EXPIRED / IIP_ERR_COMMAND_TIMEOUT).",
        params: { type: 'object', properties: { id: { type: 'string' }, channel: { type: 'string' } }, required: ['id', 'channel'] },
        body: {
          type: 'object',
          properties: {
            thumbprint: { type: 'string', minLength: 1, maxLength: 200, description: "SHA-1 of the certificate's DER: 40 hex digits, any case; ':' and spaces are ignored" },
            timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, description: 'ms until the command expires (capped at the platform command timeout)' },
          },
          required: ['thumbprint'],
        },
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              outcome: { type: 'string', enum: ['done'] },
              requestId: { type: 'string' },
              gateway: { type: 'string' },
              channel: { type: 'string' },
              certificate: {
                type: ['object', 'null'],
                properties: {
                  thumbprint: { type: 'string' },
                  subject: { type: 'string' },
                  issuer: { type: 'string' },
                  notBefore: { type: 'string' },
                  notAfter: { type: 'string' },
                  applicationUri: { type: ['string', 'null'] },
                  pem: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const { p, d: gw } = await deviceTarget(req, registry, req.params.id, 'gateways:write', 'trust a server certificate on a gateway');
      const r = await gateways.trustServerCertificate({
        tenant: p.tenant,
        gateway: gw.id as DeviceId,
        channel: req.params.channel,
        thumbprint: req.body.thumbprint,
        actor: p.username,
        ...(req.body.timeoutMs !== undefined && { timeoutMs: req.body.timeoutMs }),
      });
      return { ok: true, outcome: r.outcome, requestId: r.requestId, gateway: gw.id, channel: req.params.channel, certificate: r.certificate };
    },
  );
  app.get<{ Querystring: { device?: string; limit: number } }>(
    '/api/v1/audit',
    {
      schema: {
        tags: ['audit'],
        description: 'Writes and configuration pushes, newest first: of one device (devices:read on it) or of the whole tenant (audit:read).',
        querystring: { type: 'object', properties: { device: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
      },
    },
    async (req) => {
      const p = req.query.device ? (await deviceTarget(req, registry, req.query.device)).p : await authorize(req, 'audit:read', null, 'read the audit trail');
      return { items: await audit.list(p.tenant, { device: req.query.device, limit: req.query.limit }) };
    },
  );
}
