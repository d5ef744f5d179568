/**
 * The HTTP face of the platform: REST under /api/v1 (OpenAPI at /docs), HTTP ingest for devices, the live
 * WebSocket stream, and the console's static files. Every /api/v1 route except health, login and ingest
 * requires a signed-in user, and every query is scoped by that user's tenant.
 */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import { type DeviceId, IipError, type PointValue, TelemetryValidator, type ThingModel } from '@iip/core';
import type { GatewayManager, HttpIngest } from '@iip/device-access';
import type { Historian } from '@iip/historian';
import type { Principal, UserService } from '@iip/security';
import type { AuditStore } from '@iip/storage';
import { registerHandleRoutes, secretKeyAuth } from '@iip/identifiers';
import type { PlatformIdentifiers } from './platform-identifiers.js';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { evaluationRoutes } from './evaluation-routes.js';
import { principal, requireRole } from './routes/access.js';
import { tenantPolicyRoutes } from './routes/tenant-policy.js';
import type { TenantPolicyApi } from './tenant-governance.js';
import { errorHandler } from './http-errors.js';
import type { LiveStream } from './live-stream.js';
import type { ModelFormats } from './model-formats.js';
import { publicDevice, type RegistryService } from './registry-service.js';
import { deviceSchema, errorResponses, issuedDeviceSchema, productSchema, thingModelSchema } from './schemas.js';

export interface AppServices {
  readonly users: UserService;
  readonly registry: RegistryService;
  readonly historian: Historian;
  readonly gateways: GatewayManager;
  readonly audit: AuditStore;
  readonly identifiers?: PlatformIdentifiers;
  readonly ingest: HttpIngest;
  readonly live: LiveStream;
  readonly formats: ModelFormats;
  readonly maxPayloadBytes: number;
  readonly consoleDir?: string;
  readonly status: () => Record<string, unknown>;
  /** Retention and quotas per tenant (routes/tenant-policy.ts); without it those routes are absent. */
  readonly tenants?: TenantPolicyApi;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    public?: boolean;
  }
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  return undefined;
}

function timeRange(q: { from?: number; to?: number }, defaultSpanMs: number): { from: number; to: number } {
  const to = q.to ?? Date.now() + 1;
  const from = q.from ?? to - defaultSpanMs;
  if (from >= to) throw new IipError('IIP_ERR_VALIDATION', `from (${from}) must be before to (${to})`, { field: 'from' });
  return { from, to };
}

export async function buildApp(s: AppServices, opts: { logger: boolean }): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ? { level: 'warn' } : false,
    bodyLimit: Math.max(s.maxPayloadBytes * 2, 16 * 1024 * 1024),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allowUnionTypes: true } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/') || !s.consoleDir) {
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

  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/api/v1/') || req.routeOptions.config?.public) return;
    req.principal = await s.users.authenticate(bearer(req) ?? (req.query as { token?: string } | undefined)?.token);
  });

  app.get('/api/v1/health', { config: { public: true }, schema: { tags: ['system'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  app.get('/api/v1/status', { schema: { tags: ['system'] } }, async () => s.status());

  // --- auth ---
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
    async (req) => s.users.login(req.body.username, req.body.password),
  );
  app.post('/api/v1/auth/logout', { schema: { tags: ['auth'] } }, async (req, reply) => {
    const t = bearer(req);
    if (t) await s.users.logout(t);
    return reply.status(204).send();
  });
  app.get('/api/v1/auth/me', { schema: { tags: ['auth'] } }, async (req) => {
    const p = principal(req);
    return { id: p.userId, username: p.username, role: p.role, tenant: p.tenant };
  });

  // --- products ---
  const productBody = {
    type: 'object',
    properties: { id: { type: 'string' }, name: { type: 'string' }, category: { type: 'string' }, model: thingModelSchema },
    required: ['id', 'model'],
  } as const;
  app.get('/api/v1/products', { schema: { tags: ['products'], response: { 200: { type: 'object', properties: { items: { type: 'array', items: productSchema } } } } } }, async (req) => ({
    items: await s.registry.listProducts(principal(req).tenant),
  }));
  app.post<{ Body: { id: string; name?: string; category?: string; model: ThingModel } }>(
    '/api/v1/products',
    { schema: { tags: ['products'], body: productBody, response: { 201: productSchema, ...errorResponses } } },
    async (req, reply) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      return reply.status(201).send(await s.registry.createProduct(p.tenant, req.body));
    },
  );
  app.post<{ Querystring: { format: 'tsl' | 'wot' }; Body: { id: string; name?: string; category?: string; document: unknown } }>(
    '/api/v1/products/import',
    {
      schema: {
        tags: ['products'],
        description: 'Create a product from a JetLinks-style TSL document or a W3C WoT Thing Description 1.1.',
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['tsl', 'wot'] } }, required: ['format'] },
        body: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, category: { type: 'string' }, document: { type: 'object', additionalProperties: true } }, required: ['id', 'document'] },
      },
    },
    async (req, reply) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      const model = s.formats.importModel(req.query.format, req.body.document);
      return reply.status(201).send(await s.registry.createProduct(p.tenant, { ...req.body, model }));
    },
  );
  app.get<{ Params: { id: string } }>('/api/v1/products/:id', { schema: { tags: ['products'], response: { 200: productSchema, 404: errorResponses[404] } } }, async (req) =>
    s.registry.getProduct(principal(req).tenant, req.params.id),
  );
  app.get<{ Params: { id: string }; Querystring: { format: 'tsl' | 'wot' | 'iip' } }>(
    '/api/v1/products/:id/model',
    { schema: { tags: ['products'], querystring: { type: 'object', properties: { format: { type: 'string', enum: ['iip', 'tsl', 'wot'], default: 'iip' } } } } },
    async (req) => {
      const product = await s.registry.getProduct(principal(req).tenant, req.params.id);
      return s.formats.exportModel(req.query.format, product);
    },
  );
  app.put<{ Params: { id: string }; Body: { name?: string; category?: string; model: ThingModel } }>(
    '/api/v1/products/:id',
    { schema: { tags: ['products'], body: { ...productBody, required: ['model'] }, response: { 200: productSchema, ...errorResponses } } },
    async (req) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      return s.registry.updateProduct(p.tenant, { ...req.body, id: req.params.id });
    },
  );
  app.delete<{ Params: { id: string } }>('/api/v1/products/:id', { schema: { tags: ['products'] } }, async (req, reply) => {
    const p = principal(req);
    requireRole(p, ['admin', 'operator']);
    await s.registry.deleteProduct(p.tenant, req.params.id);
    return reply.status(204).send();
  });

  // --- devices ---
  app.get<{ Querystring: { product?: string; limit: number; offset: number } }>(
    '/api/v1/devices',
    {
      schema: {
        tags: ['devices'],
        querystring: {
          type: 'object',
          properties: { product: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } },
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: deviceSchema }, total: { type: 'integer' } } } },
      },
    },
    async (req) => {
      const r = await s.registry.listDevices(principal(req).tenant, { product: req.query.product }, { limit: req.query.limit, offset: req.query.offset });
      return { items: r.items.map(publicDevice), total: r.total };
    },
  );
  app.post<{ Body: { id?: string; name?: string; product: string; attributes?: Record<string, string> } }>(
    '/api/v1/devices',
    {
      schema: {
        tags: ['devices'],
        description: 'Creates a device and issues its secret. The secret is in this response only.',
        body: {
          type: 'object',
          properties: { id: { type: 'string' }, name: { type: 'string' }, product: { type: 'string' }, attributes: { type: 'object', additionalProperties: { type: 'string' } } },
          required: ['product'],
        },
        response: { 201: issuedDeviceSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      return reply.status(201).send(await s.registry.createDevice(p.tenant, req.body));
    },
  );
  app.post<{ Body: string }>(
    '/api/v1/devices/import',
    {
      schema: {
        tags: ['devices'],
        description: 'Bulk import from CSV (Content-Type: text/csv) with header `id,name,product[,attribute…]`. All rows or none.',
        response: { 201: { type: 'object', properties: { created: { type: 'integer' }, devices: { type: 'array', items: issuedDeviceSchema } } } },
      },
    },
    async (req, reply) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      if (typeof req.body !== 'string') throw new IipError('IIP_ERR_VALIDATION', 'send the CSV with Content-Type: text/csv', { field: 'content-type' });
      const devices = await s.registry.importDevicesCsv(p.tenant, req.body);
      return reply.status(201).send({ created: devices.length, devices });
    },
  );
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id', { schema: { tags: ['devices'], response: { 200: deviceSchema, 404: errorResponses[404] } } }, async (req) =>
    publicDevice(await s.registry.getDevice(principal(req).tenant, req.params.id)),
  );
  app.delete<{ Params: { id: string } }>('/api/v1/devices/:id', { schema: { tags: ['devices'] } }, async (req, reply) => {
    const p = principal(req);
    requireRole(p, ['admin', 'operator']);
    await s.registry.deleteDevice(p.tenant, req.params.id);
    await s.historian.deleteDevice(p.tenant, req.params.id as DeviceId);
    return reply.status(204).send();
  });

  // --- telemetry queries ---
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id/latest', { schema: { tags: ['telemetry'], description: "The twin's reported state: newest value of every property." } }, async (req) => {
    const p = principal(req);
    const d = await s.registry.getDevice(p.tenant, req.params.id);
    return { device: d.id, values: await s.historian.latest(p.tenant, d.id) };
  });
  const rangeQuery = {
    type: 'object',
    properties: {
      from: { type: 'integer', description: 'epoch ms, inclusive' },
      to: { type: 'integer', description: 'epoch ms, exclusive' },
      limit: { type: 'integer', minimum: 1, maximum: 100000, default: 10000 },
      buckets: { type: 'integer', minimum: 1, maximum: 10000, default: 120 },
    },
  } as const;
  app.get<{ Params: { id: string; prop: string }; Querystring: { from?: number; to?: number; limit: number } }>(
    '/api/v1/devices/:id/properties/:prop/history',
    {
      schema: {
        tags: ['telemetry'],
        description:
          'Raw points, ascending by time (default: the last hour), at most `limit`. When the range holds more, `truncated` is true and `nextFrom` is the `from` of the next page.',
        querystring: rangeQuery,
      },
    },
    async (req) => {
      const p = principal(req);
      const d = await s.registry.getDevice(p.tenant, req.params.id);
      const { from, to } = timeRange(req.query, 3600_000);
      const page = await s.historian.historyPage(p.tenant, d.id, req.params.prop, { from, to, limit: req.query.limit });
      return { device: d.id, property: req.params.prop, points: page.points, truncated: page.truncated, ...(page.nextFrom !== undefined && { nextFrom: page.nextFrom }) };
    },
  );
  app.get<{ Params: { id: string; prop: string }; Querystring: { from?: number; to?: number; buckets: number } }>(
    '/api/v1/devices/:id/properties/:prop/trend',
    { schema: { tags: ['telemetry'], description: 'Downsampled trend: `buckets` equal buckets with min/max/avg/count, served from rollups kept at write time.', querystring: rangeQuery } },
    async (req) => {
      const p = principal(req);
      const d = await s.registry.getDevice(p.tenant, req.params.id);
      const { from, to } = timeRange(req.query, 3600_000);
      return { device: d.id, property: req.params.prop, buckets: await s.historian.trend(p.tenant, d.id, req.params.prop, { from, to, buckets: req.query.buckets }) };
    },
  );

  // --- writes, gateways, audit ---
  /** How long a command may wait for the gateway: also its expiry, after which the gateway refuses it. */
  const COMMAND_TIMEOUT_SCHEMA = { type: 'integer', minimum: 100, maximum: 600_000, description: 'ms until the command expires (capped at the platform command timeout)' } as const;
  app.post<{ Params: { id: string; prop: string }; Body: { value: PointValue; timeoutMs?: number } }>(
    '/api/v1/devices/:id/properties/:prop/write',
    {
      schema: {
        tags: ['devices'],
        description:
          'Writes a writable (rw) property through the edge gateway that owns the device; validated against the thing model and audited. The command expires after timeoutMs (default and maximum: the platform\'s command timeout): 200 outcome "done"; 502 IIP_ERR_COMMAND_FAILED (the device refused); 504 IIP_ERR_COMMAND_EXPIRED (not carried out); 504 IIP_ERR_COMMAND_TIMEOUT (outcome unknown).',
        body: {
          type: 'object',
          properties: { value: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] }, timeoutMs: COMMAND_TIMEOUT_SCHEMA },
          required: ['value'],
        },
      },
    },
    async (req) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      const d = await s.registry.getDevice(p.tenant, req.params.id);
      const product = await s.registry.getProduct(p.tenant, d.product);
      const spec = product.model.properties.find((x) => x.id === req.params.prop);
      if (!spec) throw new IipError('IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', `property "${req.params.prop}" is not in the thing model`, { property: req.params.prop });
      if (spec.access !== 'rw') throw new IipError('IIP_ERR_PROPERTY_READ_ONLY', `property "${spec.id}" is read-only`, { property: spec.id });
      // The same rules as telemetry: type, range, enum, length.
      const [checked] = new TelemetryValidator(product.model).validate({ values: { [spec.id]: req.body.value } }, Date.now());
      const oldValue = (await s.historian.latest(p.tenant, d.id))[spec.id]?.value ?? null;
      const r = await s.gateways.write({ tenant: p.tenant, device: d.id, property: spec.id, value: (checked as { value: PointValue }).value, oldValue, actor: p.username, timeoutMs: req.body.timeoutMs });
      return { ok: true, outcome: r.outcome, requestId: r.requestId, device: d.id, property: spec.id, oldValue, newValue: (checked as { value: PointValue }).value };
    },
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/devices/:id/services',
    { schema: { tags: ['devices'], description: "The device's thing-model services and whether each can be invoked: behind which gateway, bound by its configuration or not." } },
    async (req) => {
      const p = principal(req);
      const d = await s.registry.getDevice(p.tenant, req.params.id);
      const model = (await s.registry.getProduct(p.tenant, d.product)).model;
      const { gateway, bound } = await s.gateways.serviceBindings(p.tenant, d.id);
      return {
        device: d.id,
        gateway,
        items: model.services.map((sv) => ({ id: sv.id, name: sv.name ?? null, state: gateway === null ? 'no-gateway' : bound.includes(sv.id) ? 'bound' : 'not-bound' })),
      };
    },
  );
  app.post<{ Params: { id: string; service: string }; Body: { inputs?: Record<string, unknown>; timeoutMs?: number } | undefined }>(
    '/api/v1/devices/:id/services/:service',
    {
      schema: {
        tags: ['devices'],
        description:
          "Invokes a thing-model service of a device behind an edge gateway: inputs are checked against the service, the gateway configuration's binding turns them into point writes, and the gateway carries them out in order. Audited. Outcomes as for a property write (the command expires after timeoutMs).",
        body: { type: 'object', properties: { inputs: { type: 'object', additionalProperties: true }, timeoutMs: COMMAND_TIMEOUT_SCHEMA } },
      },
    },
    async (req) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      const d = await s.registry.getDevice(p.tenant, req.params.id);
      const product = await s.registry.getProduct(p.tenant, d.product);
      const r = await s.gateways.invokeService({
        tenant: p.tenant,
        device: d.id,
        service: req.params.service,
        inputs: req.body?.inputs,
        model: product.model,
        actor: p.username,
        timeoutMs: req.body?.timeoutMs,
      });
      return { ok: true, outcome: r.outcome, requestId: r.requestId, device: d.id, service: req.params.service, writes: r.writes };
    },
  );
  app.get('/api/v1/gateways', { schema: { tags: ['gateways'] } }, async (req) => ({ items: await s.gateways.list(principal(req).tenant) }));
  app.get<{ Params: { id: string } }>('/api/v1/gateways/:id', { schema: { tags: ['gateways'], description: 'Desired config, reported state (applied version, buffer, per-channel state and per-device poll health) and whether they agree: inSync is false while the desired version is not applied (sync "pending") or a channel of it failed to start (sync "applied-with-failures", failedChannels).' } }, async (req) =>
    s.gateways.status(principal(req).tenant, req.params.id as DeviceId),
  );
  app.put<{ Params: { id: string }; Body: unknown }>(
    '/api/v1/gateways/:id/config',
    { schema: { tags: ['gateways'], description: 'Stores a new version of the gateway configuration and pushes it to the gateway.', body: { type: 'object', additionalProperties: true } } },
    async (req) => {
      const p = principal(req);
      requireRole(p, ['admin', 'operator']);
      const gw = await s.registry.getDevice(p.tenant, req.params.id);
      // Only "not found" means absent; any other failure (storage down) fails the request.
      const exists = async (id: string) => (await s.registry.findDevice(p.tenant, id)) !== undefined;
      const modelOf = async (id: string) => {
        const d = await s.registry.findDevice(p.tenant, id);
        return d && (await s.registry.findProduct(p.tenant, d.product))?.model;
      };
      const rec = await s.gateways.setConfig(p.tenant, gw.id, req.body, p.username, exists, modelOf);
      return { gateway: rec.gateway, version: rec.version, createdAt: rec.createdAt };
    },
  );
  app.get<{ Querystring: { device?: string; limit: number } }>(
    '/api/v1/audit',
    { schema: { tags: ['audit'], querystring: { type: 'object', properties: { device: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } } } },
    async (req) => ({ items: await s.audit.list(principal(req).tenant, { device: req.query.device, limit: req.query.limit }) }),
  );

  // --- identifiers (标识解析) tied to products and devices ---
  const ids = s.identifiers;
  if (ids) {
    registerHandleRoutes(app, ids.service, { auth: secretKeyAuth(ids.service) });
    const baseUrl = (req: FastifyRequest) => `${req.protocol}://${req.headers.host ?? 'localhost'}`;
    app.post<{ Params: { id: string } }>(
      '/api/v1/devices/:id/identifier',
      { schema: { tags: ['identifiers'], description: 'Gives the device the handle <prefix>/<id>; resolving it returns static metadata and a link to its live state.' } },
      async (req, reply) => {
        const p = principal(req);
        requireRole(p, ['admin', 'operator']);
        const d = await s.registry.getDevice(p.tenant, req.params.id);
        const r = await ids.bindDevice(p.tenant, d, await s.registry.getProduct(p.tenant, d.product), baseUrl(req));
        return reply.status(201).send({ handle: r.handle, resolve: `${baseUrl(req)}/api/handles/${r.handle}` });
      },
    );
    app.post<{ Params: { id: string } }>(
      '/api/v1/products/:id/identifier',
      { schema: { tags: ['identifiers'], description: 'Gives the product the handle <prefix>/product.<id>.' } },
      async (req, reply) => {
        const p = principal(req);
        requireRole(p, ['admin', 'operator']);
        const r = await ids.bindProduct(p.tenant, await s.registry.getProduct(p.tenant, req.params.id), baseUrl(req));
        return reply.status(201).send({ handle: r.handle, resolve: `${baseUrl(req)}/api/handles/${r.handle}` });
      },
    );
  }

  // --- device ingest over HTTP ---
  // Its own scope with a raw-body parser: the admission gate sees the exact bytes, so size limits and JSON
  // errors are the same IIP_ERR_* codes as over MQTT, whatever Content-Type the device sends.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post(
      '/api/v1/ingest',
      {
        config: { public: true },
        schema: {
          tags: ['ingest'],
          description: 'Telemetry from a device, authenticated with HTTP Basic `{tenant}/{device}:{secret}`. Same payloads as MQTT; atomic.',
          security: [{ device: [] }],
          response: {
            202: {
              type: 'object',
              description: '`accepted` points were stored; `duplicates` repeated a stored (property, ts) and were not stored again (the first 100 named in `duplicatePoints`).',
              properties: {
                accepted: { type: 'integer' },
                duplicates: { type: 'integer' },
                duplicatePoints: { type: 'array', items: { type: 'object', properties: { property: { type: 'string' }, ts: { type: 'integer' } } } },
                device: { type: 'string' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const r = await s.ingest.handle(req.headers.authorization, body);
        return reply.status(r.status as 202).send(r.body);
      },
    );
  });

  // --- live stream ---
  app.get('/api/v1/stream', { websocket: true, schema: { tags: ['telemetry'], description: 'WebSocket: `?token=`; frames {type:"telemetry", device, points}.' } }, (socket, req) => {
    const p = principal(req);
    const handle = s.live.add(socket, p.tenant);
    socket.on('message', (data: Buffer) => {
      try {
        const msg = JSON.parse(data.toString()) as { type?: string; devices?: unknown };
        if (msg.type === 'subscribe') handle.setDevices(Array.isArray(msg.devices) ? msg.devices.map(String) : null);
      } catch {
        socket.send(JSON.stringify({ type: 'error', code: 'IIP_ERR_PAYLOAD_NOT_JSON', message: 'stream control messages are JSON' }));
      }
    });
    socket.on('close', () => handle.remove());
    // Hello once batches flow, so a client that waits for it misses nothing stored after it.
    handle.ready.then(
      () => socket.send(JSON.stringify({ type: 'hello', tenant: p.tenant })),
      (e: unknown) => {
        socket.send(JSON.stringify({ type: 'error', code: 'IIP_ERR_BUS_UNAVAILABLE', message: `the live stream cannot subscribe to the bus: ${(e as Error).message}` }));
        socket.close(1011);
      },
    );
  });

  await app.register(evaluationRoutes);
  if (s.tenants) await app.register(tenantPolicyRoutes, { tenants: s.tenants });

  if (s.consoleDir && existsSync(s.consoleDir)) {
    await app.register(fastifyStatic, { root: s.consoleDir, prefix: '/', wildcard: false });
  }
  return app;
}
