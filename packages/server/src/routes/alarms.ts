/**
 * Alarms (issue 13; docs/reference/alarms.md): /api/v1/alarms… Reading needs alarms:read and acting (acknowledge,
 * shelve, unshelve, remove from / return to service) alarms:ack — both on the alarm's device (its asset). An alarm
 * of a device the principal may not read is a 404, like the device.
 */
import { IipError, type TenantId } from '@iip/core';
import { type Activation, type AlarmService, type AlarmState, alarmKpis, isaState, type OpenAlarm, type OperatorEvent } from '@iip/rules';
import type { Alarm, AlarmStore, RuleStore, StoredRule } from '@iip/storage';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RegistryService } from '../registry-service.js';
import { errorResponses } from '../schemas.js';
import { authorize, permitted, principal } from './access.js';

const alarmOut = { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, isaState: { type: 'string' } } } as const;

const nameOf = (r: StoredRule): string => String((r.doc as { name?: unknown }).name ?? r.id);

/** An alarm as the API answers it; `ruleName` is the rule's name now (null when the rule is gone). */
export function publicAlarm(a: Alarm, ruleName: string | null = null): Record<string, unknown> {
  const s = a.state as AlarmState;
  return {
    id: a.id,
    rule: a.rule,
    ruleName,
    device: a.device,
    // 'asset': a rule over the devices of an asset raised it, and `device` is that asset's id.
    source: a.source,
    severity: a.severity,
    message: a.message,
    open: a.open,
    isaState: isaState(s),
    active: s.active,
    acked: s.acked,
    latched: s.latched,
    shelving: s.shelving,
    suppressed: s.suppressed,
    outOfService: s.outOfService,
    activeSince: s.activeSince,
    activations: s.activations,
    lastAction: s.lastAction,
    assignee: s.assignee ?? null,
    raisedAt: a.raisedAt,
    updatedAt: a.updatedAt,
    version: a.version,
  };
}

export async function alarmRoutes(
  app: FastifyInstance,
  opts: { alarms: AlarmService; store: AlarmStore; registry: RegistryService; rules: Pick<RuleStore, 'listRules' | 'getRule'>; users: { tenantOf(username: string): Promise<string | undefined> } },
): Promise<void> {
  const { store, registry } = opts;

  /** The tenant's rule names by id (one read per answer, however many alarms it holds). */
  async function ruleNames(tenant: TenantId): Promise<Map<string, string>> {
    return new Map((await opts.rules.listRules(tenant)).map((r) => [r.id, nameOf(r)]));
  }

  /** One alarm's rule name (one rule read, not the tenant's list). */
  async function ruleName(tenant: TenantId, rule: string): Promise<string | null> {
    const r = await opts.rules.getRule(tenant, rule);
    return r ? nameOf(r) : null;
  }

  /**
   * The asset an alarm is on: its device's asset, or undefined when the device is gone (its alarms stay readable to
   * tenant-wide readers); an alarm of a rule over an asset's devices is on that asset.
   */
  async function assetOf(tenant: TenantId, a: Pick<Alarm, 'device' | 'source'>): Promise<string | null | undefined> {
    if (a.source === 'asset') return a.device;
    const device = a.device;
    try {
      return (await registry.getDevice(tenant, device)).asset ?? null;
    } catch (e) {
      if (e instanceof IipError && e.code === 'IIP_ERR_NOT_FOUND') return undefined;
      throw e;
    }
  }

  async function target(req: FastifyRequest, id: string, permission: 'alarms:read' | 'alarms:ack', what: string): Promise<Alarm> {
    const p = principal(req);
    const a = await store.getAlarm(p.tenant, id);
    const asset = a ? await assetOf(p.tenant, a) : null;
    if (!a || !(await permitted(req, 'alarms:read', asset ?? null))) throw new IipError('IIP_ERR_NOT_FOUND', `alarm "${id}" not found`, { resource: 'alarm', id });
    if (permission === 'alarms:ack') await authorize(req, 'alarms:ack', asset ?? null, what);
    return a;
  }

  app.get<{ Querystring: { open?: boolean; severity?: string; device?: string; rule?: string; from?: number; to?: number; before?: string; limit: number } }>(
    '/api/v1/alarms',
    {
      schema: {
        tags: ['alarms'],
        description: 'Alarms newest first, filtered; `next` (for `before=`) when a page is full. Only alarms of devices the principal may read alarms of.',
        querystring: {
          type: 'object',
          properties: {
            open: { type: 'boolean' },
            severity: { type: 'string', enum: ['critical', 'high', 'medium', 'low'] },
            device: { type: 'string' },
            rule: { type: 'string' },
            from: { type: 'integer' },
            to: { type: 'integer' },
            before: { type: 'string', pattern: '^[0-9]{1,16}:[A-Za-z0-9-]{1,64}$' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
          },
        },
      },
    },
    async (req) => {
      const p = principal(req);
      const q = req.query;
      const wide = await permitted(req, 'alarms:read');
      if (!wide && !p.subject.anywhere('alarms:read', p.tenant)) throw new IipError('IIP_ERR_AUTH_FORBIDDEN', 'not permitted to read alarms: needs "alarms:read"', { permission: 'alarms:read', tenant: p.tenant });
      const [beforeTs, beforeId] = q.before ? q.before.split(':') : [];
      const page = await store.listAlarms(p.tenant, {
        limit: q.limit,
        ...(q.open !== undefined && { open: q.open }),
        ...(q.severity !== undefined && { severity: q.severity }),
        ...(q.device !== undefined && { device: q.device }),
        ...(q.rule !== undefined && { rule: q.rule }),
        ...(q.from !== undefined && { from: q.from }),
        ...(q.to !== undefined && { to: q.to }),
        ...(beforeTs !== undefined && beforeId !== undefined && { before: { raisedAt: Number(beforeTs), id: beforeId } }),
      });
      const visible: Alarm[] = [];
      const seen = new Map<string, boolean>();
      for (const a of page) {
        const key = `${a.source}:${a.device}`;
        let ok = wide || seen.get(key);
        if (ok === undefined) {
          ok = await permitted(req, 'alarms:read', (await assetOf(p.tenant, a)) ?? null);
          seen.set(key, ok);
        }
        if (ok) visible.push(a);
      }
      const last = page[page.length - 1];
      const names = await ruleNames(principal(req).tenant);
      return { items: visible.map((a) => publicAlarm(a, names.get(a.rule) ?? null)), ...(page.length === q.limit && last && { next: `${last.raisedAt}:${last.id}` }) };
    },
  );

  app.get<{ Querystring: { from?: number; to?: number } }>(
    '/api/v1/alarms/kpis',
    {
      schema: {
        tags: ['alarms'],
        description:
          'Alarm-management KPIs (ISA-18.2 / EEMUA 191) of the tenant for `from` ≤ t < `to` (default: the last 24 h): alarms per 10 min and per day, flood share, top-10 bad actors, chattering and stale alarms, priorities. Needs alarms:read on the whole tenant.',
        querystring: { type: 'object', properties: { from: { type: 'integer' }, to: { type: 'integer' } } },
      },
    },
    async (req) => {
      const p = await authorize(req, 'alarms:read', null, 'read the alarm KPIs');
      const now = Date.now();
      const to = req.query.to ?? now;
      const from = req.query.from ?? to - 86_400_000;
      if (!(from < to) || to - from > 366 * 86_400_000) throw new IipError('IIP_ERR_VALIDATION', 'from/to: from before to, at most 366 days apart', { field: 'from' });
      // Activations in the range, with their alarm's source and severity (each alarm read once).
      const alarms = new Map<string, Alarm | undefined>();
      const activations: Activation[] = [];
      let afterSeq: number | undefined;
      for (let pages = 0; pages < 200; pages++) {
        const page = await store.listHistory(p.tenant, { from, to, limit: 1_000, ...(afterSeq !== undefined && { afterSeq }) });
        for (const h of page) {
          if (h.type !== 'activate') continue;
          if (!alarms.has(h.alarm)) alarms.set(h.alarm, await store.getAlarm(p.tenant, h.alarm));
          const a = alarms.get(h.alarm);
          if (a) activations.push({ ts: h.ts, rule: a.rule, device: a.device, severity: a.severity });
        }
        const last = page[page.length - 1];
        if (page.length < 1_000 || !last) break;
        afterSeq = last.seq;
      }
      const open: OpenAlarm[] = [];
      let before: { raisedAt: number; id: string } | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.listAlarms(p.tenant, { open: true, limit: 500, ...(before && { before }) });
        for (const a of page) open.push({ id: a.id, rule: a.rule, device: a.device, severity: a.severity, activeSince: (a.state as AlarmState).activeSince });
        const last = page[page.length - 1];
        if (page.length < 500 || !last) break;
        before = { raisedAt: last.raisedAt, id: last.id };
      }
      return alarmKpis(activations, open, from, to, now);
    },
  );

  app.get<{ Params: { id: string } }>('/api/v1/alarms/:id', { schema: { tags: ['alarms'], description: 'One alarm with its history (oldest first).', response: { 200: alarmOut, ...errorResponses } } }, async (req) => {
    const a = await target(req, req.params.id, 'alarms:read', 'read an alarm');
    const history = await store.history(a.tenant, a.id);
    return { ...publicAlarm(a, await ruleName(a.tenant, a.rule)), history: history.map((h) => ({ seq: h.seq, ts: h.ts, type: h.type, user: h.user, comment: h.comment, isaState: h.isaState })) };
  });

  const comment = { type: 'string', maxLength: 1000 } as const;
  const actions: Array<{ path: string; description: string; body: Record<string, unknown>; event: (b: Record<string, unknown>, user: string) => OperatorEvent }> = [
    { path: 'ack', description: 'Acknowledges the alarm (with an optional comment).', body: { comment }, event: (b, user) => ({ type: 'ack', user, ...(b.comment !== undefined && { comment: b.comment as string }) }) },
    {
      path: 'shelve',
      description: 'Shelves the alarm: `timed` for `durationMs` (at most 24 h), or `one-shot` until it returns to normal.',
      body: { kind: { type: 'string', enum: ['timed', 'one-shot'] }, durationMs: { type: 'integer', minimum: 1 }, comment },
      event: (b, user) => {
        const c = b.comment !== undefined ? { comment: b.comment as string } : {};
        if (b.kind === 'timed') {
          if (typeof b.durationMs !== 'number') throw new IipError('IIP_ERR_VALIDATION', 'durationMs: required for timed shelving', { field: 'durationMs' });
          return { type: 'shelve', kind: 'timed', durationMs: b.durationMs, user, ...c };
        }
        if (b.kind !== 'one-shot') throw new IipError('IIP_ERR_VALIDATION', 'kind: "timed" or "one-shot"', { field: 'kind' });
        return { type: 'shelve', kind: 'one-shot', user, ...c };
      },
    },
    { path: 'unshelve', description: 'Ends shelving.', body: { comment }, event: (b, user) => ({ type: 'unshelve', user, ...(b.comment !== undefined && { comment: b.comment as string }) }) },
    {
      path: 'assign',
      description: 'Assigns the alarm to a user (who is to deal with it), or to nobody with `assignee: null`; recorded in its history. The state does not change.',
      body: { assignee: { type: ['string', 'null'], minLength: 1, maxLength: 200 }, comment },
      event: (b, user) => {
        if (b.assignee === undefined) throw new IipError('IIP_ERR_VALIDATION', 'assignee: a user name, or null to unassign', { field: 'assignee' });
        return { type: 'assign', user, assignee: b.assignee as string | null, ...(b.comment !== undefined && { comment: b.comment as string }) };
      },
    },
    {
      path: 'out-of-service',
      description: 'Removes the alarm from service (maintenance): it is tracked but never annunciated.',
      body: { comment },
      event: (b, user) => ({ type: 'remove-from-service', user, ...(b.comment !== undefined && { comment: b.comment as string }) }),
    },
    {
      path: 'return-to-service',
      description: 'Returns the alarm to service.',
      body: { comment },
      event: (b, user) => ({ type: 'return-to-service', user, ...(b.comment !== undefined && { comment: b.comment as string }) }),
    },
  ];
  for (const act of actions) {
    app.post<{ Params: { id: string }; Body: Record<string, unknown> | undefined }>(
      `/api/v1/alarms/:id/${act.path}`,
      { schema: { tags: ['alarms'], description: act.description, body: { type: 'object', properties: act.body, additionalProperties: false }, response: { 200: alarmOut, ...errorResponses } } },
      async (req) => {
        const a = await target(req, req.params.id, 'alarms:ack', `${act.path} an alarm`);
        const p = principal(req);
        const assignee = (req.body as { assignee?: unknown } | undefined)?.assignee;
        if (act.path === 'assign' && typeof assignee === 'string') {
          // An alarm is assigned to a user of its own tenant, not to a name that means nobody.
          if ((await opts.users.tenantOf(assignee)) !== p.tenant) throw new IipError('IIP_ERR_VALIDATION', `assignee: no user "${assignee}" in this tenant`, { field: 'assignee', assignee });
        }
        const done = await opts.alarms.act(p.tenant, a.id, act.event(req.body ?? {}, p.username));
        return publicAlarm(done, await ruleName(p.tenant, done.rule));
      },
    );
  }
}
