/**
 * The HTTP face of the platform: REST under /api/v1 (OpenAPI at /docs), HTTP ingest for devices, the live
 * WebSocket stream, and the console's static files. This file only composes: each resource is its own plugin
 * under routes/, and every one of them asks the policy decision point (routes/access.ts, ADR 0009). Every
 * /api/v1 route except health, login, ingest and the stream (which authenticates in its first frame) requires a
 * signed-in user, and acts on that user's tenant (a platform administrator's: the one in X-IIP-Tenant).
 * GET /metrics (Prometheus, outside /api/v1 where scrapers look) asks for the same token as GET /api/v1/status.
 */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import { IipError } from '@iip/core';
import type { GatewayManager, HttpIngest } from '@iip/device-access/platform';
import type { Historian } from '@iip/historian';
import type { UserService } from '@iip/security';
import type { AlarmService, RuleEngine } from '@iip/rules';
import type { AccessStore, ActionOutbox, AlarmStore, AuditStore, DeviceEventStore, EventLogStore, RuleStore } from '@iip/storage';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AccessAdmin } from './access-admin.js';
import type { AccessControl } from './access-control.js';
import type { AuditTrail } from './audit-trail.js';
import { evaluationRoutes } from './evaluation-routes.js';
import { errorHandler } from './http-errors.js';
import type { LiveStream } from './live-stream.js';
import type { PlatformLoad } from './load-metrics.js';
import type { ModelFormats } from './model-formats.js';
import type { OidcSignIn } from './oidc-sign-in.js';
import type { PlatformIdentifiers } from './platform-identifiers.js';
import type { RegistryService } from './registry-service.js';
import { assetRoutes } from './routes/assets.js';
import { auditEventRoutes } from './routes/audit-events.js';
import { authRoutes, bearer, principalResolver, requireEnrolled } from './routes/auth.js';
import { alarmRoutes } from './routes/alarms.js';
import { deviceEventRoutes } from './routes/device-events.js';
import { ruleActionRoutes } from './routes/rule-actions.js';
import { ruleRoutes } from './routes/rules.js';
import { deviceRoutes } from './routes/devices.js';
import { gatewayRoutes } from './routes/gateways.js';
import { identifierRoutes } from './routes/identifiers.js';
import { ingestRoutes } from './routes/ingest.js';
import { metricsRoutes } from './routes/metrics.js';
import { oidcRoutes } from './routes/oidc.js';
import { productRoutes } from './routes/products.js';
import { roleRoutes } from './routes/roles.js';
import { streamRoutes } from './routes/stream.js';
import { tenantPolicyRoutes } from './routes/tenant-policy.js';
import { tenantRoutes } from './routes/tenants.js';
import { userRoutes } from './routes/users.js';
import type { TenantPolicyApi } from './tenant-governance.js';

export interface AppServices {
  readonly users: UserService;
  readonly registry: RegistryService;
  readonly historian: Historian;
  readonly gateways: GatewayManager;
  readonly audit: AuditStore;
  readonly access: AccessStore;
  readonly accessControl: AccessControl;
  readonly accessAdmin: AccessAdmin;
  readonly events: EventLogStore;
  readonly auditTrail: AuditTrail;
  /** Deletes a suspended tenant with no device online (platform.ts); see routes/tenants.ts. */
  readonly deleteTenant: (tenant: string) => Promise<{ devices: number }>;
  readonly identifiers?: PlatformIdentifiers;
  readonly ingest: HttpIngest;
  readonly deviceEvents: DeviceEventStore;
  /** Rules (routes/rules.ts): the store, this process's engine if it runs one, and how other processes hear of a change. */
  readonly rules: {
    readonly store: RuleStore;
    /** The outbox of rule actions (deliveries, dead letters, the webhook signing secret). */
    readonly actions: ActionOutbox;
    /** Whether an SMTP server is configured (rules with e-mail actions are refused without one). */
    readonly emailConfigured: boolean;
    readonly engine?: RuleEngine;
    readonly onChange?: (tenant: string) => void;
    /** A tenant's edge rules, or its gateways' devices, may have changed: push the gateways their rules. */
    readonly edgeChanged?: (tenant: string) => void;
  };
  readonly alarms: { readonly service: AlarmService; readonly store: AlarmStore };
  readonly live: LiveStream;
  readonly formats: ModelFormats;
  readonly maxPayloadBytes: number;
  readonly consoleDir?: string;
  readonly status: () => Record<string, unknown>;
  /** The platform's own load: GET /metrics (routes/metrics.ts); `load` of the status comes from it too. */
  readonly load: PlatformLoad;
  /** Retention and quotas per tenant (routes/tenant-policy.ts); without it those routes are absent. */
  readonly tenants?: TenantPolicyApi;
  /** Sign-in through an OpenID Connect provider (routes/oidc.ts); without it /auth/oidc/config says it is off. */
  readonly oidc?: OidcSignIn;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean;
  }
}

export async function buildApp(s: AppServices, opts: { logger: boolean }): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ? { level: 'warn' } : false,
    bodyLimit: Math.max(s.maxPayloadBytes * 2, 16 * 1024 * 1024),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allowUnionTypes: true } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    // Without a built console (tests, API-only installs) `/` is a plain 404, not a failed sendFile.
    if (req.url.startsWith('/api/') || !s.consoleDir || !existsSync(s.consoleDir)) {
      void reply.status(404).send(new IipError('IIP_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`, {}).toJSON());
      return;
    }
    void reply.sendFile('index.html');
  });
  app.addContentTypeParser(['text/csv', 'text/plain', 'application/octet-stream'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'iip platform API', version: '0.1.0', description: 'Industrial Internet platform (工业互联网平台) REST API. Errors are {code, message, details} with stable IIP_ERR_* codes.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          device: { type: 'http', scheme: 'basic', description: 'Device credential: `{tenant}/{device}` : secret' },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });

  app.decorate('accessControl', s.accessControl);
  s.auditTrail.install(app);
  const resolve = principalResolver(s.users, s.accessControl, async (t) => (await s.registry.findTenant(t)) !== undefined);
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/api/v1/') || req.routeOptions.config?.public) return;
    const tenant = req.headers['x-iip-tenant'];
    req.principal = await resolve(bearer(req), typeof tenant === 'string' && tenant !== '' ? tenant : undefined, req.ip);
    requireEnrolled(req.principal, req.routeOptions.url);
  });

  app.get('/api/v1/health', { config: { public: true }, schema: { tags: ['system'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get('/api/v1/status', { schema: { tags: ['system'] } }, async () => s.status());

  await app.register(authRoutes, { users: s.users, resolve, audit: s.auditTrail });
  await app.register(oidcRoutes, { ...(s.oidc ? { oidc: s.oidc } : {}), users: s.users, resolve, audit: s.auditTrail });
  await app.register(auditEventRoutes, { events: s.events });
  await app.register(productRoutes, { registry: s.registry, formats: s.formats });
  await app.register(deviceRoutes, { registry: s.registry, historian: s.historian, gateways: s.gateways, deviceEvents: s.deviceEvents });
  await app.register(deviceEventRoutes, { registry: s.registry, events: s.deviceEvents });
  await app.register(ruleRoutes, {
    rules: s.rules.store,
    registry: s.registry,
    historian: s.historian,
    emailConfigured: s.rules.emailConfigured,
    ...(s.rules.engine && { engine: s.rules.engine }),
    ...((s.rules.onChange || s.rules.edgeChanged) && {
      onChange: (tenant: string) => {
        s.rules.onChange?.(tenant);
        s.rules.edgeChanged?.(tenant);
      },
    }),
  });
  await app.register(ruleActionRoutes, { outbox: s.rules.actions });
  await app.register(alarmRoutes, { alarms: s.alarms.service, store: s.alarms.store, registry: s.registry, rules: s.rules.store, users: s.users });
  await app.register(gatewayRoutes, { registry: s.registry, gateways: s.gateways, audit: s.audit, ...(s.rules.edgeChanged && { onConfig: s.rules.edgeChanged }) });
  if (s.identifiers) await app.register(identifierRoutes, { registry: s.registry, identifiers: s.identifiers });
  await app.register(ingestRoutes, { ingest: s.ingest });
  await app.register(metricsRoutes, { load: s.load, resolve });
  await app.register(streamRoutes, { live: s.live, access: s.access, resolve });
  await app.register(assetRoutes, { admin: s.accessAdmin, registry: s.registry });
  await app.register(roleRoutes, { admin: s.accessAdmin });
  await app.register(userRoutes, { admin: s.accessAdmin, users: s.users });
  await app.register(tenantRoutes, { registry: s.registry, users: s.users, admin: s.accessAdmin, deleteTenant: s.deleteTenant });

  await app.register(evaluationRoutes);
  if (s.tenants) await app.register(tenantPolicyRoutes, { tenants: s.tenants });

  if (s.consoleDir && existsSync(s.consoleDir)) {
    await app.register(fastifyStatic, { root: s.consoleDir, prefix: '/', wildcard: false });
  }
  return app;
}
