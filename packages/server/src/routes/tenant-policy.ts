/**
 * Retention and quotas of the acting tenant: GET/PUT /api/v1/tenant/policy and GET /api/v1/tenant/usage.
 * Reading needs tenant-policy:read; changing retention tenant-policy:write; changing quotas tenants:manage (a
 * platform administrator sets a tenant's quotas, its own administrators only see them). A bad policy is
 * refused with IIP_ERR_VALIDATION naming the field; nothing of it is stored.
 */
import type { TenantId } from '@iip/core';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../schemas.js';
import type { TenantPolicyApi } from '../tenant-governance.js';
import { authorize } from './access.js';

const days = { type: ['number', 'null'], exclusiveMinimum: 0, description: 'Days; null = keep for ever' } as const;
const limit = { type: ['integer', 'null'], minimum: 0, description: 'null = unlimited' } as const;

export const tenantPolicySchema = {
  type: 'object',
  description: 'Retention (days; null = for ever) and quotas (null = unlimited) of the tenant. The default keeps everything and limits nothing.',
  properties: {
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rawDays: days,
        rollups: {
          type: 'object',
          description: 'Per rollup level, keyed by the bucket width in ms ("60000", "3600000", "86400000"); a level not named is kept for ever.',
          additionalProperties: days,
        },
        auditDays: { type: ['number', 'null'], minimum: 30, description: 'Audit events older than this many days are deleted (at least 30); null = kept for ever' },
        eventDays: { ...days, description: 'Device events with a timestamp older than this many days are deleted; null = kept for ever' },
      },
    },
    security: {
      type: 'object',
      additionalProperties: false,
      properties: {
        totpRequiredForAdmins: {
          type: 'boolean',
          description: 'Administrators (users holding users:manage or tenants:manage) must sign in with a second factor (TOTP); without one they can only set it up.',
        },
      },
    },
    quotas: {
      type: 'object',
      additionalProperties: false,
      properties: {
        devices: { ...limit, description: 'Devices in the tenant; null = unlimited' },
        pointsPerDay: { ...limit, description: 'Points stored per UTC day; null = unlimited' },
        storedBytes: { ...limit, description: 'Estimated stored telemetry bytes; null = unlimited' },
      },
    },
  },
  additionalProperties: false,
} as const;

const usageSchema = {
  type: 'object',
  properties: {
    tenant: { type: 'string' },
    devices: { type: 'integer' },
    pointsToday: { type: 'integer', description: 'Points counted against pointsPerDay in the current UTC day' },
    day: { type: 'string', description: 'The UTC day of pointsToday (YYYY-MM-DD)' },
    series: { type: 'integer' },
    rawPoints: { type: 'integer' },
    rollupRows: { type: 'integer' },
    storedBytes: { type: 'integer', description: 'Estimate: fixed bytes per stored row plus the bytes of string values' },
    measuredAt: { type: 'integer' },
  },
} as const;

const lastRunSchema = {
  type: ['object', 'null'],
  description: "The retention service's last run, for this tenant",
  properties: {
    startedAt: { type: 'integer' },
    finishedAt: { type: 'integer' },
    rawCutoff: { type: ['integer', 'null'] },
    rawDeleted: { type: 'integer' },
    rollupsDeleted: { type: 'object', additionalProperties: { type: 'integer' } },
    auditDeleted: { type: 'integer' },
    deviceEventsDeleted: { type: 'integer' },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;


export async function tenantPolicyRoutes(app: FastifyInstance, opts: { tenants: TenantPolicyApi }): Promise<void> {
  const t = opts.tenants;

  app.get(
    '/api/v1/tenant/policy',
    { schema: { tags: ['tenant'], description: "The tenant's retention and quota policy, every field present (null = for ever / unlimited).", response: { 200: tenantPolicySchema, ...errorResponses } } },
    async (req) => t.getPolicy((await authorize(req, 'tenant-policy:read')).tenant as TenantId),
  );

  app.put<{ Body: unknown }>(
    '/api/v1/tenant/policy',
    {
      schema: {
        tags: ['tenant'],
        description:
          'Replaces the policy (tenant-policy:write; a change of quotas also tenants:manage). Absent fields mean for ever / unlimited, except `security` and `retention.auditDays`, which keep their current value when absent. Quotas apply from the next message or device; retention at the next run.',
        body: tenantPolicySchema,
        response: { 200: tenantPolicySchema, ...errorResponses },
      },
    },
    async (req) => {
      const p = await authorize(req, 'tenant-policy:write', null, 'change the retention policy');
      const current = await t.getPolicy(p.tenant as TenantId);
      const wanted = (req.body as { quotas?: Record<string, unknown> } | null)?.quotas ?? {};
      const quotaChanged = (['devices', 'pointsPerDay', 'storedBytes'] as const).some((k) => (wanted[k] ?? null) !== (current.quotas[k] ?? null));
      if (quotaChanged) await authorize(req, 'tenants:manage', null, "change the tenant's quotas");
      // The sign-in rules and the audit and event retention came later than the rest: a client that does not send them
      // (an older console or CLI replacing retention and quotas) leaves them as they are.
      const body = (req.body ?? {}) as { retention?: Record<string, unknown>; security?: unknown };
      const retention = body.retention ?? {};
      const merged = {
        ...body,
        retention: {
          ...retention,
          auditDays: 'auditDays' in retention ? retention.auditDays : current.retention.auditDays,
          eventDays: 'eventDays' in retention ? retention.eventDays : current.retention.eventDays,
        },
        security: body.security ?? current.security,
      };
      const policy = await t.setPolicy(p.tenant as TenantId, merged);
      // Sign-in rules are read through the decision point's cache: drop it (and tell the other processes).
      req.server.accessControl.changed(p.tenant);
      return policy;
    },
  );

  app.get(
    '/api/v1/tenant/usage',
    {
      schema: {
        tags: ['tenant'],
        description: 'Usage against the quotas, the policy, the rollup levels and the last retention run for this tenant.',
        response: {
          200: {
            type: 'object',
            properties: {
              usage: usageSchema,
              policy: tenantPolicySchema,
              rollupLevels: { type: 'array', items: { type: 'integer' } },
              retention: { type: 'object', properties: { intervalMs: { type: 'integer' }, running: { type: 'boolean' }, lastRun: lastRunSchema } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const tenant = (await authorize(req, 'tenant-policy:read')).tenant as TenantId;
      const [usage, policy] = await Promise.all([t.usage(tenant), t.getPolicy(tenant)]);
      const st = t.retentionStatus();
      const mine = st.lastRun?.tenants.find((x) => x.tenant === tenant);
      const lastRun = st.lastRun && mine ? { startedAt: st.lastRun.startedAt, finishedAt: st.lastRun.finishedAt, ...mine, error: mine.error ?? null } : null;
      return { usage, policy, rollupLevels: [...t.rollupLevels], retention: { intervalMs: st.intervalMs, running: st.running, lastRun } };
    },
  );
}
