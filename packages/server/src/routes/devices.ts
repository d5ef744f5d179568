/**
 * Devices, their telemetry and their commands: /api/v1/devices… Reads need devices:read on the device's asset
 * (a device not on the tree: on the whole tenant), writes devices:write, property writes devices:write-property,
 * service calls devices:invoke. A list shows only the devices the principal may read.
 */
import { type DeviceId, IipError, type PointValue, TelemetryValidator, type TenantId } from '@iip/core';
import type { GatewayManager } from '@iip/device-access/platform';
import type { Historian } from '@iip/historian';
import type { DeviceEventStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import { publicDevice, type RegistryService } from '../registry-service.js';
import { deviceSchema, errorResponses, issuedDeviceSchema, pointValueSchema } from '../schemas.js';
import { authorize, permitted, principal } from './access.js';
import { deviceTarget } from './targets.js';

function timeRange(q: { from?: number; to?: number }, defaultSpanMs: number): { from: number; to: number } {
  const to = q.to ?? Date.now() + 1;
  const from = q.from ?? to - defaultSpanMs;
  if (from >= to) throw new IipError('IIP_ERR_VALIDATION', `from (${from}) must be before to (${to})`, { field: 'from' });
  return { from, to };
}

/** How long a command may wait for the gateway: also its expiry, after which the gateway refuses it. */
const COMMAND_TIMEOUT_SCHEMA = { type: 'integer', minimum: 100, maximum: 600_000, description: 'ms until the command expires (capped at the platform command timeout)' } as const;

export async function deviceRoutes(
  app: FastifyInstance,
  opts: { registry: RegistryService; historian: Historian; gateways: GatewayManager; deviceEvents?: Pick<DeviceEventStore, 'deleteDevice'> },
): Promise<void> {
  const { registry, historian, gateways } = opts;

  app.get<{ Querystring: { product?: string; limit: number; offset: number } }>(
    '/api/v1/devices',
    {
      schema: {
        tags: ['devices'],
        description: 'The devices the principal may read (devices:read on the whole tenant, or on the assets holding them).',
        querystring: {
          type: 'object',
          properties: { product: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } },
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: deviceSchema }, total: { type: 'integer' } } } },
      },
    },
    async (req) => {
      const p = principal(req);
      const page = { limit: req.query.limit, offset: req.query.offset };
      if (await permitted(req, 'devices:read')) {
        const r = await registry.listDevices(p.tenant, { product: req.query.product }, page);
        return { items: r.items.map(publicDevice), total: r.total };
      }
      // Only below the tenant level: the devices on the granted assets and their subtrees.
      const granted = p.subject.assetsWith('devices:read');
      if (granted.length === 0) return { items: [], total: 0 };
      const tree = await req.server.accessControl.tree(p.tenant);
      const assets = tree.subtrees(granted);
      const r = await registry.listDevices(p.tenant, { product: req.query.product, assets }, page);
      return { items: r.items.map(publicDevice), total: r.total };
    },
  );
  app.post<{ Body: { id?: string; name?: string; product: string; attributes?: Record<string, string>; asset?: string | null } }>(
    '/api/v1/devices',
    {
      schema: {
        tags: ['devices'],
        description: 'Creates a device (on `asset` of the tree, if given) and issues its secret. The secret is in this response only.',
        body: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            product: { type: 'string' },
            attributes: { type: 'object', additionalProperties: { type: 'string' } },
            asset: { type: ['string', 'null'], description: 'The asset to place it on' },
          },
          required: ['product'],
        },
        response: { 201: issuedDeviceSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'devices:write', req.body.asset ?? null, 'create a device');
      return reply.status(201).send(await registry.createDevice(p.tenant, req.body));
    },
  );
  app.post<{ Body: string }>(
    '/api/v1/devices/import',
    {
      schema: {
        tags: ['devices'],
        description: 'Bulk import from CSV (Content-Type: text/csv) with header `id,name,product[,attribute…]`. All rows or none. Needs devices:write on the whole tenant.',
        response: { 201: { type: 'object', properties: { created: { type: 'integer' }, devices: { type: 'array', items: issuedDeviceSchema } } } },
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'devices:write', null, 'import devices');
      if (typeof req.body !== 'string') throw new IipError('IIP_ERR_VALIDATION', 'send the CSV with Content-Type: text/csv', { field: 'content-type' });
      const devices = await registry.importDevicesCsv(p.tenant, req.body);
      return reply.status(201).send({ created: devices.length, devices });
    },
  );
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id', { schema: { tags: ['devices'], response: { 200: deviceSchema, 404: errorResponses[404] } } }, async (req) =>
    publicDevice((await deviceTarget(req, registry, req.params.id)).d),
  );
  app.delete<{ Params: { id: string } }>('/api/v1/devices/:id', { schema: { tags: ['devices'] } }, async (req, reply) => {
    const { p } = await deviceTarget(req, registry, req.params.id, 'devices:write', 'delete a device');
    await registry.deleteDevice(p.tenant, req.params.id);
    await historian.deleteDevice(p.tenant, req.params.id as DeviceId);
    await opts.deviceEvents?.deleteDevice(p.tenant as TenantId, req.params.id as DeviceId);
    return reply.status(204).send();
  });

  // --- telemetry queries ---
  app.get<{ Params: { id: string } }>('/api/v1/devices/:id/latest', { schema: { tags: ['telemetry'], description: "The twin's reported state: newest value of every property." } }, async (req) => {
    const { p, d } = await deviceTarget(req, registry, req.params.id);
    return { device: d.id, values: await historian.latest(p.tenant, d.id) };
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
      const { p, d } = await deviceTarget(req, registry, req.params.id);
      const { from, to } = timeRange(req.query, 3600_000);
      const page = await historian.historyPage(p.tenant, d.id, req.params.prop, { from, to, limit: req.query.limit });
      return { device: d.id, property: req.params.prop, points: page.points, truncated: page.truncated, ...(page.nextFrom !== undefined && { nextFrom: page.nextFrom }) };
    },
  );
  app.get<{ Params: { id: string; prop: string }; Querystring: { from?: number; to?: number; buckets: number } }>(
    '/api/v1/devices/:id/properties/:prop/trend',
    { schema: { tags: ['telemetry'], description: 'Downsampled trend: `buckets` equal buckets with min/max/avg/count, served from rollups kept at write time.', querystring: rangeQuery } },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id);
      const { from, to } = timeRange(req.query, 3600_000);
      return { device: d.id, property: req.params.prop, buckets: await historian.trend(p.tenant, d.id, req.params.prop, { from, to, buckets: req.query.buckets }) };
    },
  );

  // --- commands ---
  app.post<{ Params: { id: string; prop: string }; Body: { value: PointValue; timeoutMs?: number } }>(
    '/api/v1/devices/:id/properties/:prop/write',
    {
      schema: {
        tags: ['devices'],
        description:
          'Writes a writable (rw) property through the edge gateway that owns the device; validated against the thing model and audited. Needs devices:write-property on the device\'s asset. The command expires after timeoutMs (default and maximum: the platform\'s command timeout): 200 outcome "done"; 502 IIP_ERR_COMMAND_FAILED (the device refused); 504 IIP_ERR_COMMAND_EXPIRED (not carried out); 504 IIP_ERR_COMMAND_TIMEOUT (outcome unknown).',
        body: {
          type: 'object',
          properties: { value: pointValueSchema, timeoutMs: COMMAND_TIMEOUT_SCHEMA },
          required: ['value'],
        },
      },
    },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id, 'devices:write-property', 'write a property');
      const product = await registry.getProduct(p.tenant, d.product);
      const spec = product.model.properties.find((x) => x.id === req.params.prop);
      if (!spec) throw new IipError('IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY', `property "${req.params.prop}" is not in the thing model`, { property: req.params.prop });
      if (spec.access !== 'rw') throw new IipError('IIP_ERR_PROPERTY_READ_ONLY', `property "${spec.id}" is read-only`, { property: spec.id });
      // The same rules as telemetry: type, range, enum, length.
      const [checked] = new TelemetryValidator(product.model).validate({ values: { [spec.id]: req.body.value } }, Date.now());
      const oldValue = (await historian.latest(p.tenant, d.id))[spec.id]?.value ?? null;
      const value = (checked as { value: PointValue }).value;
      const r = await gateways.write({ tenant: p.tenant, device: d.id, property: spec.id, value, oldValue, actor: p.username, timeoutMs: req.body.timeoutMs });
      return { ok: true, outcome: r.outcome, requestId: r.requestId, device: d.id, property: spec.id, oldValue, newValue: value };
    },
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/devices/:id/services',
    { schema: { tags: ['devices'], description: "The device's thing-model services and whether each can be invoked: behind which gateway, bound by its configuration or not." } },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id);
      const model = (await registry.getProduct(p.tenant, d.product)).model;
      const { gateway, bound } = await gateways.serviceBindings(p.tenant, d.id);
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
          "Invokes a thing-model service of a device behind an edge gateway (devices:invoke on the device's asset): inputs are checked against the service, the gateway configuration's binding turns them into point writes, and the gateway carries them out in order. Audited. Outcomes as for a property write (the command expires after timeoutMs).",
        body: { type: 'object', properties: { inputs: { type: 'object', additionalProperties: true }, timeoutMs: COMMAND_TIMEOUT_SCHEMA } },
      },
    },
    async (req) => {
      const { p, d } = await deviceTarget(req, registry, req.params.id, 'devices:invoke', 'invoke a service');
      const product = await registry.getProduct(p.tenant, d.product);
      const r = await gateways.invokeService({
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
}
